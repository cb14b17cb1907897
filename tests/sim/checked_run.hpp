#pragma once
// One simulated run of a world, judged by the checkers as it streams (no history kept): for the
// tests that hold a scenario's figures to exact counts (presence, partitions).
#include "reports/checkers.hpp"
#include "server/strategies/registry.hpp"
#include "sim/world.hpp"

#include <cstdint>
#include <string>

namespace convlab::campaigns {

struct CheckedRun {
  reports::RunMetrics metrics;
  std::string digest;
};

inline CheckedRun checked_run(const sim::WorldConfig& c, const char* strategy, std::uint64_t seed,
                              const char* scenario) {
  sim::RunOptions o;
  o.strategy = find_strategy(strategy);
  o.seed = seed;
  o.scenario = scenario;
  o.variant = "v";
  o.keep_events = false;
  reports::Checker checker;
  o.on_event = [&checker](const history::Event& e) { checker.add(e); };
  const sim::RunOutput out = sim::run_world(c, o);
  return CheckedRun{checker.finish(), out.digest};
}

}  // namespace convlab::campaigns
