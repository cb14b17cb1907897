#pragma once
// Checkers: a history in, verdicts and metrics out. They read nothing but the history, so the
// same checkers judge simulated and real runs.
#include "history/history.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace convlab::reports {

struct Percentiles {
  double p50 = 0;
  double p99 = 0;
  double max = 0;
  std::uint64_t count = 0;
};

struct LostChar {
  CharId id;
  std::uint32_t doc = 0;
  std::uint32_t author_op = 0;
  std::string cause;  // "clock_skew", "concurrent", "stale_base", "crash", "unknown"
  // The edit blamed for it, when there is one.
  std::uint32_t by_client = 0;
  std::uint32_t by_op = 0;
  // The client that typed it (its edit: author_client, author_op). Not the id's agent: a client
  // takes a new agent id per session, and on real processes agents are numbered apart.
  std::uint32_t author_client = 0;
};

// An acknowledged edit that lost characters, with the cause (as LostChar) and when it was made:
// what a run's timeline marks.
struct LostEdit {
  std::uint32_t client = 0;
  std::uint32_t op = 0;
  std::uint32_t doc = 0;
  std::int64_t t_us = 0;
  std::uint64_t chars = 0;  // its characters lost
  std::string cause;
  std::uint32_t by_client = 0;  // the edit blamed, when cause names one
  std::uint32_t by_op = 0;
};

// One database partition's load over the fault phase (partition.P.* counters; docs/scenarios.md,
// "Partitions"): group-commit transactions and appends per second, and its appends' commit
// latency (arrival at the database to commit) in milliseconds.
struct PartitionLoad {
  double commits_per_s = 0;
  double appends_per_s = 0;
  double commit_ms_p50 = 0;
  double commit_ms_p99 = 0;
};

struct RunMetrics {
  bool converged = false;
  double convergence_ms = 0;  // from the heal to the last change any replica showed
  std::vector<std::string> divergent;  // "doc 0: client:3 differs from durable", ...

  std::uint64_t edits = 0;
  std::uint64_t acked_edits = 0;
  std::uint64_t lost_acked_chars = 0;
  // Acknowledged edits whose effect is gone: some inserted character lost, or a character it
  // deleted on purpose back in the final text.
  std::uint64_t lost_acked_edits = 0;
  std::map<std::string, std::uint64_t> lost_by_cause;  // every cause listed, zeros included
  // The first 20 lost characters, each with its own cause (every one with
  // Checker::list_all_lost): for reports, and for holding the checker against the simulator's
  // ground truth (sim/oracle.hpp).
  std::vector<LostChar> lost;
  std::vector<LostEdit> lost_edits;                    // every edit that lost characters, in history order
  std::uint64_t causality_reversals = 0;

  Percentiles visibility_ms;        // edit -> seen by each other client of the document
  Percentiles visibility_cross_ms;  // same, only pairs on different servers
  // Same as visibility_ms, leaving out pairs whose author or seer is a fast (flooding) client:
  // what everyone else experiences (meta `fast_clients`).
  Percentiles visibility_others_ms;
  std::uint64_t stale_loads = 0;
  std::uint64_t served_after_revocation = 0;
  // API loads that did not hold the loading session's own acknowledged write.
  std::uint64_t read_your_writes_violations = 0;
  // Acknowledged renames overwritten by a rename made without seeing them, whose author was
  // never told (no notice).
  std::uint64_t silent_rename_losses = 0;
  std::uint64_t db_queries = 0;
  std::map<std::string, std::uint64_t> db_queries_by_kind;
  double db_queries_per_s = 0;      // over the fault phase
  double msgs_per_edit = 0;
  double bytes_per_edit = 0;
  // Rates over the fault phase: a counter of the last `counters` / (heal_us / 1e6); 0 when
  // heal_us is 0. db.poll, bus.msgs, net.msgs, net.bytes, srv.inputs (the servers' work).
  double db_polls_per_s = 0;
  double bus_msgs_per_s = 0;
  double net_msgs_per_s = 0;
  double net_bytes_per_s = 0;
  double server_inputs_per_s = 0;
  // Presence (never an edit): kPresence frames the servers sent and their bytes, per second of
  // the fault phase (awareness.msgs, awareness.bytes), in all and per viewer (awareness.viewers,
  // the clients that move carets); 0 when nobody does.
  double awareness_msgs_per_s = 0;
  double awareness_bytes_per_s = 0;
  double awareness_msgs_per_viewer_s = 0;
  double awareness_bytes_per_viewer_s = 0;
  // A partitioned database (more than one partition, or organizations): each partition's load
  // in partition order, and over them the largest appends/s over the mean (1: even; 0 when not
  // partitioned or nothing was appended), the largest appends/s and the largest p50 and p99.
  std::vector<PartitionLoad> partitions;
  double partition_imbalance = 0;
  double partition_appends_per_s_max = 0;
  double partition_commit_ms_p50_max = 0;
  double partition_commit_ms_p99_max = 0;
  // The peak of gauge mem.doc_bytes over the `counters` that carry it (snapshot bytes of every
  // document every server holds; the simulator samples it at the heal), and that sample's bytes
  // per loaded (document, server) replica (mem.docs_loaded).
  double mem_doc_bytes_max = 0;
  double mem_bytes_per_doc = 0;
  // Memory the servers hold for documents (the last counters' mem.*: every live server
  // replica's snapshot size, sampled at the heal): bytes per document held
  // anywhere (all its server replicas together), per replica, and the largest replica.
  double memory_per_doc_bytes = 0;
  double memory_per_replica_bytes = 0;
  double memory_replica_bytes_max = 0;
  std::uint64_t events = 0;
  double sim_seconds = 0;

  // Every number above by a flat name ("lost_acked_chars.clock_skew", "visibility_ms.p99",
  // "converged" as 0/1): what scenario expectations and reports address.
  std::map<std::string, double> flatten() const;
};

// The checkers fed one event at a time, in history order: a run can be judged while it writes
// its history, without holding it. Only what the checkers need is kept, in compact form (an
// edit's ids, position and vector clock; a seen or ack as a few integers; each replica's last
// final; the last counters), so memory grows with edits, not with the history's bytes.
class Checker {
 public:
  Checker();
  ~Checker();
  Checker(Checker&&) noexcept;
  Checker& operator=(Checker&&) noexcept;

  // List every lost character in RunMetrics::lost, not only the first 20 (the oracle compares
  // them all). Off by default: a normal run keeps its report small.
  void list_all_lost(bool on);
  void add(const history::Event& e);
  // The verdicts and metrics over everything added so far.
  RunMetrics finish() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// The same as adding every event to a Checker and finishing it.
RunMetrics check(const std::vector<history::Event>& events);

// Every flat metric name flatten() produces, sorted: scenario expectations are validated
// against it.
const std::vector<std::string>& metric_names();

}  // namespace convlab::reports
