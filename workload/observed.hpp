#pragma once
// The observed client: what one editor does and sees, as history events, the same in both worlds.
// The simulator (sim/client_views.cpp) and the real load client (load/load.cpp) each own one
// `ObservedClient` per client and one `EditLog` for the run; they hand it the replica, the frames'
// effects and the time, and write out the events it gives back. No IO and no clock here: times
// are passed in (the simulator's virtual time, the load client's steady clock since its start).
//
// What it owns:
//   - local edit -> the `edit` event (ids inserted and deleted, the paragraph, `seen_ops`), the op
//     number, and the edit's entry in the run's EditLog;
//   - frame in -> `ack` events (ops numbered from 1 without gaps, each acknowledged once, in
//     order) and `seen` events (each (author, op) at most once per client);
//   - when an edit not shown yet is given up and when it is looked for again;
//   - `edit_of`: the (author, op) of the edit that inserted a character.
//
// The rules, where the two former copies differed (the simulator's rule wherever its output
// depends on it; its report.json is unchanged):
//   - Acknowledgement. An op is acknowledged once the replica says it has nothing
//     unacknowledged (`synced`): every op so far then is. A world that can also tell which message
//     an ack frame completes (the load client does, per frame, to time acks while typing goes on)
//     says so with `acked_through`. Both are true statements about the server; the simulator uses
//     only the first, which its histories have always recorded.
//   - Given up. An edit none of whose characters show is set aside only when every one of them is
//     deleted for good in the replica (ClientReplica::deleted_for_good: a tombstone nothing but a
//     new state can revive), and it is looked for again whenever the replica's state is replaced
//     (`state_replaced`, `new_replica`: a welcome, a reload, a reconnect), because a new state may
//     show it. The load client used to stop looking after 20 s instead; that loses real
//     sightings after a partition or a database restart longer than that (the checker would then
//     report an edit never seen), and in the simulator it would change the output. The price: an
//     edit that never shows and is never deleted for good (an abandoned edit; a strategy without
//     tombstones) stays in the list, one `contains` per delivery.
//   - Order. Several edits shown by one message are written in the document order of each one's
//     first visible character (what a reader meets first), as a scan of the document gives; the
//     load client used to write them in the order they were made.
//   - Duplicates. A bitmap per author (SeenSet) instead of a std::set: the same answer, less memory.
//   - Authors. A character's author is found from its agent through the agents the run has seen
//     (`EditLog::claim`, or its first edit): the load client's agents come from the servers, so
//     the author cannot be read from the agent's bits as the simulator used to.
#include "history/history.hpp"
#include "server/core/strategy.hpp"
#include "workload/overruled.hpp"
#include "workload/seen.hpp"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <unordered_map>
#include <optional>
#include <utility>
#include <vector>

namespace convlab::workload {

// One event an observed client produced, with when the edit it is about was made (an `ack`: the
// acknowledged op; a `seen`: the author's op; an `edit`: now): the load client times latencies
// with it. The caller stamps `event.t_us` when it writes the event.
struct Observed {
  history::Event event;
  std::int64_t made_us = 0;
};

// Every edit of the run that inserted characters, per document in the order made, and every
// agent's edits: shared by all the run's observed clients.
class EditLog {
 public:
  void set_docs(std::uint32_t docs) { docs_.resize(docs); }
  // Client `client` writes as `agent` from now on; returns the client that had it before, if
  // any (the servers must never hand an agent out twice).
  std::optional<std::uint32_t> claim(AgentId agent, std::uint32_t client);
  // Client `client` made edit `op` of `doc` at `made_us`, inserting `count` consecutive ids from
  // `first`. REQUIRES: count > 0.
  void add(std::uint32_t doc, std::uint32_t client, std::uint32_t op, CharId first, std::uint32_t count,
           std::int64_t made_us);
  const std::vector<DocEdit>& edits(std::uint32_t doc) const { return docs_[doc].edits; }
  std::int64_t made_us(std::uint32_t doc, std::uint32_t i) const { return docs_[doc].made_us[i]; }

  struct Found {
    std::uint32_t author = 0;
    std::uint32_t op = 0;
    std::int64_t made_us = 0;
  };
  // The edit that inserted `id`, unless it is `viewer`'s own or no client's (the setup text).
  std::optional<Found> edit_of(CharId id, std::uint32_t viewer) const;
  // Per author, the highest op that `replica` shows a character of (`viewer`'s own excluded).
  std::map<std::uint32_t, std::uint32_t> ops_shown(const ClientReplica& replica, std::uint32_t viewer) const;

 private:
  struct Doc {
    std::vector<DocEdit> edits;
    std::vector<std::int64_t> made_us;
  };
  struct Agent {
    std::uint32_t client = 0;
    std::vector<EditRef> refs;            // its inserting edits, seq_start ascending
    std::vector<std::int64_t> made_us;    // when each was made
  };
  std::vector<Doc> docs_;
  // Looked up for every character a welcome shows and every edit made: hashed (O(1)), where a
  // std::map of every agent of the run was as deep as the world is large (issue 17, item 4).
  // Lookup only, never iterated.
  std::unordered_map<AgentId, Agent> agents_;
};

// A local edit made: what goes to the server and what the history says about it.
struct MadeEdit {
  std::uint32_t op = 0;
  std::vector<Bytes> msgs;       // for the server, from ClientReplica::local_edit
  std::vector<CharId> inserted;  // the ids it gave, in document order
  std::vector<CharId> deleted;   // the ids it deleted (only with history)
  history::Event event;          // kEdit (with history); `offline` and `stale_base` are the world's
};

class ObservedClient {
 public:
  ObservedClient() = default;
  // `history`: build events (the load client without a history file only counts).
  ObservedClient(std::uint32_t client, std::uint32_t doc, bool history = true)
      : client_(client), doc_(doc), history_(history) {}

  std::uint32_t client() const { return client_; }
  std::uint32_t last_op() const { return next_op_ - 1; }  // the op of its latest edit (0: none)
  std::uint32_t acked_upto() const { return acked_upto_; }  // every op <= this is acknowledged
  std::uint32_t pending() const { return last_op() - acked_upto_; }
  const std::map<std::uint32_t, std::uint32_t>& seen_ops() const { return seen_ops_; }  // author -> highest op shown

  // Applies `sp` to `replica` as the next op (ClientReplica::local_edit with `clock_ms`), at
  // `now_us` through `server` (-1: none); `para` is sp.pos's paragraph index. With `stamps`, notes
  // which register writes it made. REQUIRES: sp.pos + sp.del <= replica.length().
  MadeEdit edit(EditLog& log, ClientReplica& replica, const Splice& sp, std::uint32_t para, std::int64_t clock_ms,
                std::int32_t server, std::int64_t now_us, WriteStamps* stamps = nullptr);

  // If `replica` has nothing unacknowledged, acknowledges every op so far (`ack` events into
  // `out`) and returns true.
  bool synced(const ClientReplica& replica, std::int32_t server, std::vector<Observed>& out);
  // The server acknowledged every op up to `op` (an ack frame the world recognised).
  void acked_through(std::uint32_t op, std::int32_t server, std::vector<Observed>& out);
  // After a frame changed `replica`: the sequence numbers its server accepted this client's
  // writes at (paragraph strategies; `stamps` names each write's op), for the `ack` events of
  // those ops (their `seq`: the last write's). Call before synced/acked_through for that frame.
  void note_accepted(ClientReplica& replica, const WriteStamps& stamps);

  // After a frame changed `replica`: a `seen` event for each edit of others it now shows for the
  // first time, in document order of their first visible characters.
  void note_seen(const EditLog& log, const ClientReplica& replica, std::int32_t server, std::vector<Observed>& out);

  // The replica's state was replaced (a welcome): edits given up may show again.
  void state_replaced();
  // A new replica: as state_replaced, and the old replica's unacknowledged edits are abandoned
  // (never acknowledged). Returns how many were.
  std::uint32_t new_replica();
  // The unacknowledged edits are abandoned (the replica goes with its connection); returns how
  // many were.
  std::uint32_t abandon();
  // The replica took a server's welcome: every edit the welcome shows has been seen (an edit
  // seen before and shown again stays seen; one seen before and not shown again too).
  void welcomed(const EditLog& log, const ClientReplica& replica) {
    for (const auto& [author, op] : log.ops_shown(replica, client_)) {
      std::uint32_t& hi = seen_ops_[author];
      hi = std::max(hi, op);
    }
  }
  // The replica shows a loaded state: what it has seen is what that state shows.
  void adopt(const EditLog& log, const ClientReplica& replica) { seen_ops_ = log.ops_shown(replica, client_); }

 private:
  // Writes `seen` for (author, op) unless it was written before.
  void show(std::uint32_t author, std::uint32_t op, std::int64_t made_us, std::int32_t server,
            std::vector<Observed>& out);
  void seen_indexed(const EditLog& log, const ClientReplica& replica, std::int32_t server, std::vector<Observed>& out);
  void seen_scan(const EditLog& log, const ClientReplica& replica, std::int32_t server, std::vector<Observed>& out);

  std::uint32_t client_ = 0;
  std::uint32_t doc_ = 0;
  bool history_ = true;
  std::uint32_t next_op_ = 1;
  std::uint32_t acked_upto_ = 0;
  std::deque<std::int64_t> made_us_;  // when each op after acked_upto_ was made
  std::map<std::uint32_t, std::uint64_t> accepted_seq_;  // op after acked_upto_ -> its last write's seq
  std::map<std::uint32_t, std::uint32_t> seen_ops_;
  SeenSet seen_;   // (author, op) shown
  // The document's edits by others not shown yet (indexes into EditLog::edits(doc_)); no edit
  // in it is in seen_.
  Unseen unseen_;
  // Edits taken out of unseen_ because every character of theirs is deleted for good in the
  // current replica: back in at state_replaced.
  std::vector<std::uint32_t> dead_;
};

}  // namespace convlab::workload
