// Presence frames' payloads and the coalescing table (awareness.hpp).
#include "server/core/awareness.hpp"

#include "server/core/utf8.hpp"
#include "server/core/wire.hpp"

namespace convlab {

namespace {

void write_state(Writer& w, const AwarenessState& s) {
  w.varint(s.caret);
  w.varint(s.anchor);
  w.bytes(std::span(reinterpret_cast<const std::uint8_t*>(s.name.data()), s.name.size()));
}

// The state at `r`, or r failed naming the problem.
AwarenessState read_state(Reader& r) {
  AwarenessState s;
  s.caret = r.varint_max(~std::uint64_t{0}, "caret");
  s.anchor = r.varint_max(~std::uint64_t{0}, "anchor");
  const std::span<const std::uint8_t> name = r.bytes_view();
  if (!r.ok()) return s;
  if (name.size() > kAwarenessNameBytesMax) {
    r.fail("name of " + std::to_string(name.size()) + " bytes is above the limit of " +
           std::to_string(kAwarenessNameBytesMax));
    return s;
  }
  s.name.assign(name.begin(), name.end());
  // Names go to JSON clients as they are: bytes that are not UTF-8 are refused here.
  if (auto text = utf8_decode(s.name); !text) r.fail("name is not UTF-8: " + text.error().message);
  return s;
}

}  // namespace

Bytes encode_awareness(const AwarenessState& s) {
  Writer w;
  write_state(w, s);
  return w.take();
}

Result<AwarenessState> decode_awareness(std::span<const std::uint8_t> bytes) {
  Reader r(bytes);
  AwarenessState s = read_state(r);
  if (auto done = r.finish(); !done) return done.error();
  return s;
}

Bytes encode_presence(std::span<const PresenceEntry> entries) {
  Writer w;
  w.varint(entries.size());
  for (const PresenceEntry& e : entries) {
    w.varint(e.agent);
    w.u8(e.here ? 1 : 0);
    if (e.here) write_state(w, e.state);
  }
  return w.take();
}

Result<std::vector<PresenceEntry>> decode_presence(std::span<const std::uint8_t> bytes) {
  Reader r(bytes);
  const std::uint64_t count = r.varint_max(kPresenceEntriesMax, "entry count");
  if (r.ok() && count == 0) r.fail("a presence frame with no entry");
  std::vector<PresenceEntry> out;
  for (std::uint64_t i = 0; i < count && r.ok(); ++i) {
    PresenceEntry e;
    e.agent = static_cast<AgentId>(r.varint_max(0xffffffffu, "agent"));
    const std::uint8_t here = r.u8();
    if (r.ok() && here > 1) r.fail("entry " + std::to_string(i + 1) + ": 'here' is " + std::to_string(here) + ", not 0 or 1");
    e.here = here == 1;
    if (e.here && r.ok()) e.state = read_state(r);
    out.push_back(std::move(e));
  }
  if (auto done = r.finish(); !done) return done.error();
  return out;
}

// ---------------------------------------------------------------- the table

void AwarenessTable::update(std::uint32_t doc, ConnId conn, AgentId agent, AwarenessState state, std::int64_t now_ms) {
  Doc& d = docs_[doc];
  d.entries[agent] = Entry{conn, std::move(state), now_ms};
  d.changed.insert(agent);
  d.gone.erase(agent);
}

void AwarenessTable::remove_conn(ConnId conn) {
  for (auto& [doc, d] : docs_) {
    for (auto it = d.entries.begin(); it != d.entries.end();) {
      if (it->second.conn != conn) {
        ++it;
        continue;
      }
      d.changed.erase(it->first);
      d.gone[it->first] = it->second.conn;
      it = d.entries.erase(it);
    }
    d.told.erase(conn);
  }
}

void AwarenessTable::drop_idle(std::int64_t now_ms, std::int64_t idle_ms) {
  for (auto& [doc, d] : docs_) {
    for (auto it = d.entries.begin(); it != d.entries.end();) {
      if (now_ms - it->second.last_ms < idle_ms) {
        ++it;
        continue;
      }
      d.changed.erase(it->first);
      d.gone[it->first] = it->second.conn;
      it = d.entries.erase(it);
    }
  }
}

void AwarenessTable::collect(std::uint32_t doc, Doc& d, const std::set<ConnId>& viewers, std::vector<Send>& out) {
  std::erase_if(d.told, [&](ConnId v) { return !viewers.contains(v); });
  for (ConnId v : viewers) {
    Send s{v, doc, {}};
    if (!d.told.contains(v)) {
      for (const auto& [agent, e] : d.entries) {
        if (e.conn != v) s.entries.push_back(PresenceEntry{agent, true, e.state});
      }
      d.told.insert(v);
    } else {
      for (AgentId agent : d.changed) {
        const Entry& e = d.entries.at(agent);
        if (e.conn != v) s.entries.push_back(PresenceEntry{agent, true, e.state});
      }
      for (const auto& [agent, owner] : d.gone) {
        if (owner != v) s.entries.push_back(PresenceEntry{agent, false, {}});
      }
    }
    if (!s.entries.empty()) out.push_back(std::move(s));
  }
  d.changed.clear();
  d.gone.clear();
}

void AwarenessTable::forget_empty() {
  std::erase_if(docs_, [](const auto& kv) { return kv.second.entries.empty(); });
}

std::size_t AwarenessTable::entries(std::uint32_t doc) const {
  auto it = docs_.find(doc);
  return it == docs_.end() ? 0 : it->second.entries.size();
}

}  // namespace convlab
