// Presence (server/core/awareness.hpp): the node relays its clients' carets among the viewers
// of each document under `awareness: broadcast | coalesce`. Nothing here touches a document's
// replica, its log or the store: a caret is not an edit.
#include "server/core/node.hpp"

#include <algorithm>

namespace convlab {

void Node::handle_awareness(std::uint32_t doc, ConnId conn, AgentId agent, std::span<const std::uint8_t> payload) {
  auto d = docs_.find(doc);
  if (d == docs_.end() || !d->second.conns.contains(conn)) {
    return refuse(conn, doc, "awareness for a document this connection has not opened");
  }
  auto state = decode_awareness(payload);
  if (!state) return refuse(conn, doc, "bad awareness: " + state.error().message);
  if (config_.awareness == NodeConfig::Awareness::kBroadcast) {
    // Naive: this move, at once, to every other viewer; nothing kept.
    const PresenceEntry entry{agent, true, std::move(*state)};
    for (ConnId other : d->second.conns) {
      if (other != conn) send_presence(other, doc, std::span(&entry, 1));
    }
    return;
  }
  awareness_.update(doc, conn, agent, std::move(*state), io_.now_ms());
  arm_awareness_timer();
}

void Node::awareness_closed(ConnId conn) {
  if (config_.awareness != NodeConfig::Awareness::kCoalesce || awareness_.empty()) return;
  awareness_.remove_conn(conn);
  arm_awareness_timer();
}

void Node::arm_awareness_timer() {
  if (awareness_timer_ || awareness_.empty()) return;
  awareness_timer_ = true;
  io_.start_timer(config_.awareness_interval_ms, kAwarenessTimer);
}

void Node::awareness_tick() {
  static const std::set<ConnId> kNone;
  auto sends = awareness_.tick(io_.now_ms(), config_.awareness_idle_ms, [&](std::uint32_t doc) -> const std::set<ConnId>& {
    auto d = docs_.find(doc);
    return d == docs_.end() ? kNone : d->second.conns;
  });
  for (const AwarenessTable::Send& s : sends) send_presence(s.viewer, s.doc, s.entries);
  arm_awareness_timer();
}

void Node::send_presence(ConnId viewer, std::uint32_t doc, std::span<const PresenceEntry> entries) {
  auto c = conns_.find(viewer);
  if (c == conns_.end() || c->second.overloaded) return;
  for (std::size_t at = 0; at < entries.size(); at += kPresenceEntriesMax) {
    const auto part = entries.subspan(at, std::min(kPresenceEntriesMax, entries.size() - at));
    io_.send(viewer, Frame{FrameKind::kPresence, doc, encode_presence(part), {}});
  }
}

}  // namespace convlab
