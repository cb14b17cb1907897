#pragma once
// The durable text of one document as the store holds it, followed change by change: what a
// history's `commit` events say (docs/history.md). Each committed record, and each snapshot that
// replaces what the store holds, is replayed through the strategy's own server replica — as a
// server loading the document would — and the change is reported as the character ids it made
// visible and those it took away. The simulator feeds it from its store; a reader of a real
// server's change log can feed it the same way.
#include "server/core/node.hpp"
#include "server/core/result.hpp"
#include "server/core/strategy.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <utility>
#include <unordered_map>
#include <vector>

namespace convlab::workload {

// A register write's stamp (paragraph strategies): its author and the author's write counter.
struct WriteStamp {
  AgentId agent = 0;
  std::uint64_t counter = 0;
  friend auto operator<=>(const WriteStamp&, const WriteStamp&) = default;
};

// A register write of a record that the durable order did not keep: the register held a write
// that beats it (lww: a later clock) when the record was applied, so the characters the write
// carried — typed, or moved along by a split or a join — that are not visible after the record
// are refused by that holder.
struct DurableRefusal {
  WriteStamp write;           // the refused write
  WriteStamp holder;          // the write the register kept
  std::vector<CharId> ids;    // sorted
};

struct DurableChange {
  std::vector<CharId> added;    // ids visible after the change and not before, sorted
  std::vector<CharId> removed;  // ids visible before the change and not after, sorted
  // Paragraph strategies (lww, seq) only, for an appended record: the stamps of its writes (one
  // edit's, so they name the edit exactly), and the writes it carried that the durable order
  // refused. Empty for the other strategies and for snapshots.
  std::vector<WriteStamp> writes;
  std::vector<DurableRefusal> refused;
};

class DurableText {
 public:
  // The document as first stored: a snapshot (none: empty).
  // REQUIRES: the snapshot restores (the caller made it with the same strategy).
  DurableText(const Strategy& strategy, bool has_snapshot, std::span<const std::uint8_t> snapshot);

  // `record` committed at the end of the log. An Error (and nothing changed) when it does not
  // apply on the durable state: a log that does not replay.
  Result<DurableChange> append(const LogRecord& record);

  // A snapshot replaced what the store holds: the durable state is now the snapshot and the
  // log's records after its index. An Error (and nothing changed) when that does not recover.
  Result<DurableChange> replace(bool has_snapshot, std::span<const std::uint8_t> snapshot, std::uint64_t snapshot_index,
                                std::span<const LogRecord> log);

  // The visible ids now, in document order.
  const std::vector<CharId>& ids() const;

 private:
  DurableChange diff_to_current();
  // Keeps visible_ (when built) in step with a change already applied to the replica.
  void note_change(const DurableChange& c);
  // Whether `id` is visible now; builds visible_ on first use.
  bool visible(const CharId& id);

  const Strategy& strategy_;
  std::unique_ptr<ServerReplica> replica_;
  // In document order. Paragraph strategies diff an appended record register by register and
  // read the whole document's ids only when asked (ids_stale_): reading them after every record
  // was a seventh of the naive seq hour (issue 17, item 4).
  mutable std::vector<CharId> ids_;
  mutable bool ids_stale_ = false;
  // How many times each id shows, built the first time a write loses (lww, rarely) and then
  // kept change by change: the refusal check sorted the whole document's ids for every record
  // in which a write lost, 70 s a run in a world that lost 8,965 characters (swarm seed 3722).
  // Lookup only, never iterated.
  struct IdHash {
    std::size_t operator()(const CharId& id) const noexcept {
      return std::hash<std::uint64_t>{}((static_cast<std::uint64_t>(id.agent) << 32) ^ id.seq);
    }
  };
  std::optional<std::unordered_map<CharId, std::uint32_t, IdHash>> visible_;
};

// Which edit a committed record came from, for the `client` and `op` of its `commit` event:
// the edits each client made, as it made them, and its records as they commit. A record is the
// edit that inserted the newest of its author's characters the record added; a record that adds
// none of them (a deletion, a paragraph written again) is the first of the author's edits since
// its previous record whose deletions it made, else the edit after that one. A client's records
// commit in the order of its edits, so this is exact unless an edit left no record (a refused
// write) and the next one adds and deletes nothing of its own.
class RecordAuthors {
 public:
  // Client `client` (writing as `agent`) made edit `op`: it inserted `inserted` (consecutive ids
  // from `first_inserted`, `inserted` of them) and deleted the ids in `deleted`.
  void note_edit(std::uint32_t client, AgentId agent, std::uint32_t op, CharId first_inserted, std::uint32_t inserted,
                 std::vector<CharId> deleted);
  // Tells which client writes as `agent` (an agent that made no edit yet).
  void note_agent(std::uint32_t client, AgentId agent) { agents_[agent] = client; }
  // The (client, op) of a record of `author` that changed the durable text by `change`; nullopt
  // for an author that is no client's, or a client with no edit yet.
  std::optional<std::pair<std::uint32_t, std::uint32_t>> record(AgentId author, const DurableChange& change);

 private:
  struct Mark {
    std::uint32_t op = 0;
    std::vector<CharId> deleted;  // sorted
  };
  struct Author {
    std::vector<Mark> marks;                           // in the order made
    std::vector<std::pair<CharId, std::uint32_t>> firsts;  // (first inserted id, op), per agent ascending
    std::size_t matched = 0;  // index in `marks` of its last record's edit (those before it are dropped)
    bool matched_any = false;
  };
  // Found on every durable record: hashed and indexed (O(1)) rather than std::maps whose depth
  // grew with the world (issue 17, item 4). Lookup only, never iterated.
  std::unordered_map<AgentId, std::uint32_t> agents_;  // agent -> client
  std::vector<Author> clients_;                        // indexed by client
  Author& client_author(std::uint32_t client) {
    if (clients_.size() <= client) clients_.resize(static_cast<std::size_t>(client) + 1);
    return clients_[client];
  }
};

}  // namespace convlab::workload
