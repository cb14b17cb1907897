#pragma once
// The deterministic world: virtual time, links with latency and partitions, skewed clocks, the
// store, the bus, the load balancer and clients with a typing workload — around the real server
// node (server/core/node.hpp). One run is single-threaded and a pure function of
// (binary, config, strategy, seed): the same inputs give the same history bytes.
#include "history/history.hpp"
#include "server/core/strategy.hpp"
#include "sim/config.hpp"
#include "sim/oracle.hpp"

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

namespace convlab::sim {

struct RunOptions {
  const Strategy* strategy = nullptr;
  std::uint64_t seed = 0;
  std::string scenario;
  std::string variant;
  std::ostream* history_out = nullptr;  // JSON lines, if wanted
  // Called with every history event as it is written, in order (e.g. reports::Checker::add):
  // a run can be judged without holding its history.
  std::function<void(const history::Event&)> on_event;
  // Keep the whole history in RunOutput::events. Off, the run's memory does not grow with its
  // history (about 1 KiB per event held).
  bool keep_events = true;
  // Record the ground truth of every lost acknowledged character's cause (sim/oracle.hpp) in
  // RunOutput::truth. Costly (it follows every character through every replica); it does not
  // change the history.
  bool oracle = false;
};

// An API read of a past version (workload.version_read_share): what the node served, and the
// durable text at that version as the store followed it commit by commit (sim/database.hpp).
struct VersionRead {
  std::int64_t t_us = 0;
  std::uint32_t client = 0;
  std::uint32_t doc = 0;
  std::uint64_t version = 0;  // asked for, and served
  std::uint64_t latest = 0;   // the log's length when it was read
  std::u32string text;        // what the client was served
  std::vector<CharId> ids;    // its ids, sorted
  std::vector<CharId> durable_ids;  // the durable text's ids at `version`, sorted
};

struct RunOutput {
  std::vector<history::Event> events;  // the whole history (empty unless keep_events)
  std::uint64_t history_events = 0;    // events in the history, kept or not
  std::string digest;                  // of the history's bytes
  std::uint64_t sim_events = 0;        // events the scheduler ran
  std::int64_t end_us = 0;
  std::vector<VersionRead> version_reads;  // workload.version_read_share > 0: every one answered
  std::vector<TruthChar> truth;  // RunOptions::oracle: every lost acknowledged character, (doc, id) order
  // Server messages a client replica refused (a bug in a strategy: the client dropped its
  // session and reloaded), and the first one's error.
  std::uint64_t refused = 0;
  std::string refusal;
  // Errors the server nodes logged (a document whose stored log does not replay), and the first.
  std::uint64_t node_errors = 0;
  std::string node_error;
};

// Problems a config has that the scenario loader cannot see alone (combinations of settings).
// Empty when the world can run it.
std::vector<std::string> world_problems(const WorldConfig& config, const Strategy& strategy);

// REQUIRES: world_problems(config, *options.strategy) is empty.
RunOutput run_world(const WorldConfig& config, const RunOptions& options);

// Every fault of a run of `config` with `seed`: the scheduled ones, then those random_faults
// draws (the same draws, in the same order, as run_world's). The real runner reads it.
std::vector<FaultSpec> fault_list(const WorldConfig& config, std::uint64_t seed);

}  // namespace convlab::sim
