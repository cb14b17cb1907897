#pragma once
// Swarm testing of the simulator (FoundationDB / TigerBeetle VOPR style): whole worlds drawn from
// a seed, every knob of docs/scenarios.md within its limits, written as scenario YAML so that
// any world can be replayed with `convlab replay`, and simplified step by step when one fails.
//
// Determinism: a world is a pure function of its seed, drawn only with convlab::Rng; the YAML
// text is a pure function of the world.
#include "reports/checkers.hpp"
#include "server/core/strategy.hpp"
#include "sim/config.hpp"
#include "sim/world.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace convlab::campaigns {

// A whole world drawn from `seed`: sized to run in well under a second, with every knob of
// docs/scenarios.md drawn (which fault kinds occur, and how many, drawn too). The world is one
// that sim::world_problems accepts for every strategy.
sim::WorldConfig draw_world(std::uint64_t seed);

// The world as a scenario file: `name`, `seeds: 1`, the world with every key written out, one
// variant `swarm` equal to it, no expectations. `comment` lines (may be empty) go on top as
// YAML comments. Loading it back with sim::parse_scenario gives `c` again.
std::string world_yaml(const sim::WorldConfig& c, const std::string& name, const std::string& comment);

// Worlds one step simpler than `c` (a fault dropped, a client, document or server fewer, half
// the duration, a knob back to its plain value, ...), the most aggressive first. Each is a
// world sim::world_problems accepts; none equals `c`. Empty when nothing is left to simplify.
std::vector<sim::WorldConfig> shrink_steps(const sim::WorldConfig& c);

// Whether the design promises that `c` converges after the heal: catch-up on, no bus that can
// lose a record for good (flaky loss with anti-entropy off), and with snapshots a quiesce long
// enough for one more snapshot (the durable state lags by up to an interval), and servers not
// overloaded by work_us_per_msg (their queue would outlast the quiesce).
bool convergence_promised(const sim::WorldConfig& c);

// A broken invariant of one run: which, and what the run showed.
struct SwarmFailure {
  std::string invariant;  // "refused", "converged", "crash_loss", "lost_acked"
  std::string detail;
};

// The invariants every world must hold, judged on one finished run of `c` under `strategy`
// (`out` from sim::run_world, `m` from the checkers on its history):
//   refused     a client replica never refuses a message from its server
//   node_error  no server node logs an error (a stored document whose log does not replay)
//   converged   every replica equals the durable one after the heal (where promised)
//   crash_loss  persistence changelog + ack after_commit: no character lost to `crash`
//   lost_acked  the same config, ot and crdt: no acknowledged character lost at all
// and, judged by the swarm's runner (cli/swarm_cmd.cpp), which runs each world with the
// simulator's ground truth on:
//   oracle      the checker's cause of every lost acknowledged character is the truth's
// (The simulator never aborting is judged by whoever ran it.)
std::vector<SwarmFailure> swarm_failures(const sim::WorldConfig& c, const Strategy& strategy, const sim::RunOutput& out,
                                         const reports::RunMetrics& m);

}  // namespace convlab::campaigns
