// Node, what goes out to a connection: each connection's outbox per document (post, reserve and
// fill an acknowledgement's slot, flush in order), replies to forwarded edits released in the
// place of their records (anchors), and the refusals at a queue's limit (overload and the close
// that follows the current call, a forwarder told to start over). See node.hpp, Outbox.
#include "server/core/node.hpp"

#include "server/core/assert.hpp"

#include <span>

namespace convlab {

void Node::deliver_local(std::uint32_t doc, AgentId except_author, std::vector<Bytes> msgs) {
  if (msgs.empty()) return;
  const Doc& d = docs_.at(doc);
  // The broadcast's frames are built once and every recipient's send() reads the same ones
  // (NodeIo::send: the frame is only valid during the call; the real server copies it into the
  // recipient's WebSocket message, the simulator into its link): no copy of the bytes per
  // recipient here (issue 17 item 3: 9 allocations per edit at 200 connections on 20 documents).
  // A recipient with nothing queued for the document gets the frames at once. A recipient with
  // items waiting (an acknowledgement held for its commit) gets its own copy queued behind them
  // (post), after the loop: queueing sends nothing, so every send() happens in the same order as
  // if it were queued in its place.
  Frame one;  // the common case, one message: no vector
  std::vector<Frame> many;
  std::span<Frame> frames(&one, 1);
  if (msgs.size() == 1) {
    one = Frame{FrameKind::kDeliver, doc, std::move(msgs.front()), {}};
  } else {
    many.reserve(msgs.size());
    for (Bytes& m : msgs) many.push_back(Frame{FrameKind::kDeliver, doc, std::move(m), {}});
    frames = many;
  }
  std::vector<ConnId> waiting;
  for (ConnId conn : d.conns) {
    Conn& c = conns_.at(conn);
    if (c.agent == except_author || c.overloaded) continue;
    const Outbox& box = c.out[doc];
    if (box.head == box.items.size()) {
      for (const Frame& f : frames) io_.send(conn, f);
      continue;
    }
    waiting.push_back(conn);
  }
  for (std::size_t i = 0; i < waiting.size(); ++i) {
    std::vector<Bytes> copy;
    if (i + 1 < waiting.size()) {
      copy.reserve(frames.size());
      for (const Frame& f : frames) copy.push_back(f.payload);
    } else {
      for (Frame& f : frames) copy.push_back(std::move(f.payload));
    }
    post(waiting[i], doc, std::move(copy));
  }
}

void Node::post(ConnId conn, std::uint32_t doc, std::vector<Bytes> msgs, bool ack) {
  auto c = conns_.find(conn);
  if (c == conns_.end() || c->second.overloaded) return;
  if (outbox_full(c->second, doc)) return overload(conn, doc, "too many messages queued behind an acknowledgement");
  Outbox& box = c->second.out[doc];
  box.items.push_back(OutItem{std::move(msgs), true, ack});
  flush(conn, doc);
}

std::size_t Node::reserve(ConnId conn, std::uint32_t doc) {
  Outbox& box = conns_.at(conn).out[doc];
  box.items.push_back(OutItem{{}, false, true});
  // handle_edit checked outbox_full before the edit applied.
  CONVLAB_ASSERT(box.items.size() - box.head <= config_.outbox_items_max);
  return box.items.size() - 1;
}

void Node::fill(ConnId conn, std::uint32_t doc, std::size_t slot, std::vector<Bytes> msgs, std::uint64_t version) {
  auto c = conns_.find(conn);
  if (c == conns_.end() || c->second.overloaded) return;
  Outbox& box = c->second.out[doc];
  CONVLAB_ASSERT(slot < box.items.size() && !box.items[slot].ready);
  box.items[slot].msgs = std::move(msgs);
  box.items[slot].ready = true;
  box.items[slot].version = version;
  flush(conn, doc);
}

void Node::flush(ConnId conn, std::uint32_t doc) {
  Conn& c = conns_.at(conn);
  Outbox& box = c.out[doc];
  while (box.head < box.items.size() && box.items[box.head].ready) {
    OutItem& item = box.items[box.head];
    // The committed write's log index, before the acknowledgement it describes.
    if (item.ack && item.version > 0 && c.versions && !item.msgs.empty()) {
      io_.send(conn, Frame{FrameKind::kVersion, doc, encode_version(item.version), {}});
    }
    for (Bytes& m : item.msgs) io_.send(conn, Frame{FrameKind::kDeliver, doc, std::move(m), {}});
    if (item.ack) io_.acknowledged(conn, doc, item.msgs.size());
    ++box.head;
  }
  if (box.head == box.items.size()) {
    box.items.clear();
    box.head = 0;
  }
}

void Node::release_forward_replies(std::uint32_t doc) {
  if (queued_forward_replies_ == 0) return;
  const std::uint64_t applied = docs_.at(doc).applied;
  for (auto& [conn, c] : conns_) {
    auto box = c.out.find(doc);
    if (box == c.out.end()) continue;
    auto& q = box->second.forward_replies;
    while (!q.empty() && q.front().first <= applied) {
      const std::uint64_t after = q.front().first;
      std::vector<Bytes> msgs = std::move(q.front().second);
      q.pop_front();
      --queued_forward_replies_;
      deliver_forward_reply(conn, doc, after, std::move(msgs));
    }
  }
}

void Node::anchor_own_record(std::uint32_t doc, AgentId author, std::uint64_t index) {
  for (ConnId conn : docs_.at(doc).conns) {
    Conn& c = conns_.at(conn);
    if (c.agent != author || c.overloaded) continue;
    auto box = c.out.find(doc);
    if (box == c.out.end() || box->second.forwards_in_flight == 0) continue;
    if (outbox_full(c, doc)) {
      overload(conn, doc, "too many messages queued behind an acknowledgement");
      continue;
    }
    box->second.items.push_back(OutItem{{}, false, false});
    box->second.anchors[index] = box->second.items.size() - 1;
  }
}

void Node::deliver_forward_reply(ConnId conn, std::uint32_t doc, std::uint64_t after, std::vector<Bytes> msgs) {
  auto c = conns_.find(conn);
  if (c == conns_.end() || c->second.overloaded) return;
  Outbox& box = c->second.out[doc];
  // Anchors up to `after` are this edit's records (or records of the agent's other
  // connections): they hold nothing but the reply.
  // The home answers a forwarded edit after its commit only with a change log and ack after
  // commit; before it (ack immediate, snapshots) `after` is where its records will land, not
  // committed: no version frame then.
  const bool committed = config_.persistence == NodeConfig::Persistence::kChangeLog &&
                         config_.ack == NodeConfig::Ack::kAfterCommit;
  const std::uint64_t version = committed ? after : 0;
  bool placed = false;
  for (auto it = box.anchors.begin(); it != box.anchors.end() && it->first <= after;) {
    OutItem& item = box.items[it->second];
    item.ready = true;
    if (it->first == after) {
      item.msgs = std::move(msgs);
      item.ack = true;
      item.version = version;
      placed = true;
    }
    it = box.anchors.erase(it);
  }
  if (!placed) {
    if (outbox_full(c->second, doc)) return overload(conn, doc, "too many messages queued behind an acknowledgement");
    box.items.push_back(OutItem{std::move(msgs), true, true, version});
  }
  if (box.forwards_in_flight == 0) return release_anchors(conn, doc);
  flush(conn, doc);
}

void Node::release_anchors(ConnId conn, std::uint32_t doc) {
  Outbox& box = conns_.at(conn).out[doc];
  CONVLAB_ASSERT(box.forwards_in_flight == 0);
  for (const auto& [index, slot] : box.anchors) box.items[slot].ready = true;
  box.anchors.clear();
  flush(conn, doc);
}

bool Node::outbox_full(const Conn& c, std::uint32_t doc) const {
  auto box = c.out.find(doc);
  return box != c.out.end() && box->second.items.size() - box->second.head >= config_.outbox_items_max;
}

void Node::overload(ConnId conn, std::uint32_t doc, const std::string& what) {
  auto c = conns_.find(conn);
  if (c == conns_.end() || c->second.overloaded) return;
  c->second.overloaded = true;
  overloaded_.emplace_back(conn, "overloaded: " + what + " (document " + std::to_string(doc) + ")");
}

void Node::close_overloaded() {
  auto closing = std::move(overloaded_);
  overloaded_.clear();
  for (const auto& [conn, why] : closing) {
    if (!conns_.contains(conn)) continue;
    io_.log_error("connection " + std::to_string(conn) + " closed: " + why);
    on_disconnect(conn);
    io_.close(conn, why);
  }
}

void Node::reset_forwarder(NodeId node, std::uint32_t doc, const std::string& why) {
  io_.log_error("document " + std::to_string(doc) + ": an edit forwarded by node " + std::to_string(node) +
                " dropped (" + why + "); that node starts the document over");
  NodeMessage m;
  m.kind = NodeMessage::Kind::kDocReset;
  m.from = config_.id;
  m.doc = doc;
  io_.to_node(node, std::move(m));
}

}  // namespace convlab
