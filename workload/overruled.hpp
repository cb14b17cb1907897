#pragma once
// A last-writer-wins server answers a register write it did not keep with the write it kept (a
// correction). The observed client turns each such answer into a history `overruled` event
// (docs/history.md) naming its own edit and the edit that won, so the checker reads who decided
// a lost character instead of guessing it from paragraph indexes. Shared by the simulator and
// the real load client: both run every client of the run, so both know every client's stamps.
#include "history/history.hpp"
#include "server/core/strategy.hpp"
#include "workload/durable.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

namespace convlab::workload {

// Which edit made a register write, from the write's stamp (agent, counter): a paragraph client
// stamps each of its writes with the next counter, so an edit owns the counters after the
// previous edit's last one.
class WriteStamps {
 public:
  // Client `client`, writing as `agent`, made edit `op`; its writes' counters end at `last_counter`.
  // An edit that wrote nothing (its counter did not move) owns no counter.
  void note(AgentId agent, std::uint64_t last_counter, std::uint32_t client, std::uint32_t op);
  // The (client, op) whose write carries that stamp; nullopt for a stamp no client's edit made.
  std::optional<std::pair<std::uint32_t, std::uint32_t>> find(AgentId agent, std::uint64_t counter) const;
  // The last counter noted for `agent` (0: none).
  std::uint64_t last_counter(AgentId agent) const;

 private:
  struct Owner {
    std::uint64_t last_counter = 0;
    std::uint32_t client = 0;
    std::uint32_t op = 0;
  };
  std::map<AgentId, std::vector<Owner>> by_agent_;  // ascending last_counter
};

// What a client learned from one message: the writes the server overruled. Empty for a replica
// of a strategy that does not overrule (only lww's paragraph registers do).
// REQUIRES: paragraph replicas were told keep_overruled(true) at creation.
std::vector<history::Event> take_overruled(ClientReplica& replica, const WriteStamps& stamps, std::uint32_t client,
                                           std::uint32_t doc);

// After `replica` made edit `op` of `client`: records which counters that edit's writes took.
void note_writes(const ClientReplica& replica, WriteStamps& stamps, std::uint32_t client, std::uint32_t op);

// For a new paragraph replica (no-op for others): turns on keep_overruled, and continues the
// counters of an agent that wrote before (a reconnect keeping its agent).
void keep_overruled(ClientReplica& replica, const WriteStamps& stamps);

// The history lines of one change of a document's durable text (docs/history.md): its `commit`
// (doc, index, server; t left for the caller) naming the edit the record came from — exactly,
// from its writes' stamps, where it has them (paragraph strategies), else by `authors` — and an
// `overruled` line for each write of it the durable order refused (the store kept a record whose
// register another write held by then; the server that accepted it had not seen that write).
// `author`: the record's author (nullopt: a snapshot replaced the durable text).
struct CommitLines {
  history::Event commit;
  std::vector<history::Event> overruled;
};
CommitLines commit_lines(std::uint32_t doc, std::uint64_t index, std::int32_t server, std::optional<AgentId> author,
                         const DurableChange& change, const WriteStamps& stamps, RecordAuthors& authors);

}  // namespace convlab::workload
