#pragma once
// Worlds built in code for the simulator's tests (world_test, oracle_test): one base, which a
// test narrows to what it needs.
#include "server/strategies/registry.hpp"
#include "sim/config.hpp"
#include "sim/world.hpp"

#include <gtest/gtest.h>

namespace convlab::sim::test {

// Runs world `c` under `strategy` and `seed` (scenario "test", variant "v"), checking first that
// the strategy exists and the loader would accept the world.
inline RunOutput run_checked(const WorldConfig& c, const char* strategy, std::uint64_t seed) {
  RunOptions o;
  o.strategy = find_strategy(strategy);
  o.seed = seed;
  o.scenario = "test";
  o.variant = "v";
  EXPECT_NE(o.strategy, nullptr);
  EXPECT_TRUE(world_problems(c, *o.strategy).empty());
  return run_world(c, o);
}

// Two servers on a bus, four clients on two documents, change log, ack after commit: 8 s of
// typing and 5 s to settle.
inline WorldConfig small_world() {
  WorldConfig c;
  c.duration_ms = 8000;
  c.quiesce_ms = 5000;
  c.docs = 2;
  c.initial_text = "one\ntwo\nthree\n";
  c.clients = 4;
  c.workload.think_ms = {100, 600};
  c.workload.same_paragraph_prob = 0.3;
  c.servers.count = 2;
  c.servers.propagation = Propagation::kBus;
  c.servers.persistence = Persistence::kChangeLog;
  c.servers.ack = Ack::kAfterCommit;
  return c;
}

}  // namespace convlab::sim::test
