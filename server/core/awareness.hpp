#pragma once
// Presence (awareness): who is viewing a document and where their caret is. Not an edit: it
// never reaches the store, the history's edits or the checkers; it lives in the memory of the
// node that relays it, among the viewers of a document on that node (docs/protocol.md,
// "Presence").
//
// A client sends kAwareness frames (its caret and selection anchor, and a display name); the
// node relays kPresence frames, each a list of entries, under the policy `awareness`:
//   - broadcast (naive): every move goes to every other viewer at once, one frame per move per
//     viewer: n viewers moving r times a second cost n (n - 1) r frames a second;
//   - coalesce (fix): the node keeps the last state per client (AwarenessTable below) and every
//     `awareness_interval_ms` sends each viewer one frame with what changed since the last one
//     (last value wins); an entry idle for `awareness_idle_ms`, or whose connection closed, is
//     dropped and its viewers told (`here` false). At most one frame per viewer per interval.
// This file is the codec and the table: no IO, times passed in.
#include "server/core/result.hpp"
#include "server/core/types.hpp"

#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <string>
#include <vector>

namespace convlab {

using ConnId = std::uint64_t;

// A display name is at most this many bytes of UTF-8; a presence frame at most this many entries.
inline constexpr std::size_t kAwarenessNameBytesMax = 64;
inline constexpr std::size_t kPresenceEntriesMax = 4096;

// kAwareness's payload (client -> server): varint caret, varint anchor, name (length-prefixed
// UTF-8). caret == anchor: no selection.
struct AwarenessState {
  std::uint64_t caret = 0;
  std::uint64_t anchor = 0;
  std::string name;
  bool operator==(const AwarenessState&) const = default;
};

// One entry of a kPresence payload (server -> client): the client (its agent), whether it is
// still here, and, when it is, its state.
struct PresenceEntry {
  AgentId agent = 0;
  bool here = true;
  AwarenessState state;
  bool operator==(const PresenceEntry&) const = default;
};

Bytes encode_awareness(const AwarenessState& s);
Result<AwarenessState> decode_awareness(std::span<const std::uint8_t> bytes);
// varint count (1 to kPresenceEntriesMax), then per entry: varint agent, u8 here (0 or 1), and
// when here the state as encode_awareness writes it.
Bytes encode_presence(std::span<const PresenceEntry> entries);
Result<std::vector<PresenceEntry>> decode_presence(std::span<const std::uint8_t> bytes);

// The coalescing fix's memory: per document, the last state of each client (keyed by agent),
// which changed since the last tick, and which viewers have been sent the whole table.
class AwarenessTable {
 public:
  // `conn` (client `agent`) moved on `doc`: its entry takes `state` (last value wins).
  void update(std::uint32_t doc, ConnId conn, AgentId agent, AwarenessState state, std::int64_t now_ms);
  // `conn` closed: its entries go, and their viewers are told at the next tick.
  void remove_conn(ConnId conn);

  // What one viewer is sent at a tick: `entries` for document `doc`, never the viewer's own.
  struct Send {
    ConnId viewer = 0;
    std::uint32_t doc = 0;
    std::vector<PresenceEntry> entries;
  };
  // A tick at `now_ms`: entries not updated for `idle_ms` or more are dropped (gone); then each
  // document's viewers (`viewers_of(doc)`, an ordered set) get one Send each: the whole table
  // for a viewer that has not had it yet, else what changed since the last tick (viewers with
  // nothing to be told get none). Documents in order, viewers in order.
  template <class ViewersOf>
  std::vector<Send> tick(std::int64_t now_ms, std::int64_t idle_ms, ViewersOf&& viewers_of) {
    drop_idle(now_ms, idle_ms);
    std::vector<Send> out;
    for (auto& [doc, d] : docs_) collect(doc, d, viewers_of(doc), out);
    forget_empty();
    return out;
  }

  // Nothing held: no entry, nothing to tell (the node stops its timer).
  bool empty() const { return docs_.empty(); }
  std::size_t entries(std::uint32_t doc) const;

 private:
  struct Entry {
    ConnId conn = 0;
    AwarenessState state;
    std::int64_t last_ms = 0;
  };
  struct Doc {
    std::map<AgentId, Entry> entries;
    std::set<AgentId> changed;  // updated since the last tick, still here
    std::map<AgentId, ConnId> gone;  // dropped since the last tick (and whose they were)
    std::set<ConnId> told;      // viewers sent the whole table
  };
  void drop_idle(std::int64_t now_ms, std::int64_t idle_ms);
  void collect(std::uint32_t doc, Doc& d, const std::set<ConnId>& viewers, std::vector<Send>& out);
  void forget_empty();
  std::map<std::uint32_t, Doc> docs_;
};

}  // namespace convlab
