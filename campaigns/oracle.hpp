#pragma once
// The checker held against the simulator's ground truth (issue 13, "An oracle for the checker"):
// one run with RunOptions::oracle on and the checker listing every lost character, and the two
// lists of (doc, id, cause) compared. `convlab oracle` runs it over scenarios × strategies ×
// seeds; a swarm can call run_with_oracle on each world it draws.
#include "reports/checkers.hpp"
#include "server/core/strategy.hpp"
#include "sim/config.hpp"
#include "sim/world.hpp"
#include "sim/oracle.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace convlab::campaigns {

// A lost character on which the checker and the truth differ: a different cause, or lost on one
// side only ("none" on the other); or one both call "unknown" (every loss must have a cause).
struct Disagreement {
  std::uint32_t doc = 0;
  CharId id;
  std::string checker;  // the checker's cause, or "none"
  std::string truth;    // the truth's cause, or "none"
  std::string why;      // the truth's rule, and the edits blamed on each side
};

struct OracleRun {
  reports::RunMetrics metrics;  // every lost character listed
  std::vector<sim::TruthChar> truth;
  std::vector<Disagreement> disagreements;
  std::string digest;  // of the history (the same as without the oracle)
  sim::RunOutput out;  // the run's output, its `truth` moved into `truth` above
};

// Both lists in (doc, id) order or not: compared as sets keyed by (doc, id).
std::vector<Disagreement> compare_causes(const std::vector<reports::LostChar>& checker,
                                         const std::vector<sim::TruthChar>& truth);

// One run checked as it goes (the history is not kept); with `oracle`, the ground truth on and
// the checker's causes compared with it (else `truth` and `disagreements` stay empty).
// REQUIRES: sim::world_problems(config, strategy) is empty.
OracleRun run_checked(const sim::WorldConfig& config, const Strategy& strategy, std::uint64_t seed,
                      const std::string& scenario, const std::string& variant, bool oracle);

// run_checked with the oracle on.
// REQUIRES: sim::world_problems(config, strategy) is empty.
OracleRun run_with_oracle(const sim::WorldConfig& config, const Strategy& strategy, std::uint64_t seed,
                          const std::string& scenario, const std::string& variant);

}  // namespace convlab::campaigns
