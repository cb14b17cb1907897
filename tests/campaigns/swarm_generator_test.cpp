// The swarm's generator: a world is a pure function of its seed, its YAML loads back through the
// real loader to the same world, every world runs under every strategy, and every shrink step
// is a world the loader accepts too.
#include "campaigns/swarm.hpp"
#include "faults/kinds.hpp"
#include "server/strategies/registry.hpp"
#include "sim/scenario.hpp"
#include "sim/world.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace convlab {
namespace {

void expect_loads_back(const sim::WorldConfig& c, const std::string& what) {
  const std::string yaml = campaigns::world_yaml(c, "w", "a comment\non two lines");
  auto sc = sim::parse_scenario(yaml, "w.yaml");
  ASSERT_TRUE(sc.has_value()) << what << ": " << sc.error().message << "\n" << yaml;
  ASSERT_EQ(sc->variants.size(), 1u);
  EXPECT_EQ(campaigns::world_yaml(sc->variants.front().config, "w", ""), campaigns::world_yaml(c, "w", "")) << what;
  for (const Strategy* s : strategies()) {
    const auto problems = sim::world_problems(sc->variants.front().config, *s);
    EXPECT_TRUE(problems.empty()) << what << ": " << s->name << ": " << problems.front();
  }
}

TEST(SwarmGenerator, WorldsLoadBackThroughTheLoader) {
  for (std::uint64_t seed = 1; seed <= 300; ++seed) expect_loads_back(campaigns::draw_world(seed), "seed " + std::to_string(seed));
}

TEST(SwarmGenerator, SameSeedSameWorld) {
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
    EXPECT_EQ(campaigns::world_yaml(campaigns::draw_world(seed), "w", ""), campaigns::world_yaml(campaigns::draw_world(seed), "w", ""));
  }
}

TEST(SwarmGenerator, DrawsEveryFaultKindAndKnob) {
  std::set<std::string> kinds;
  std::set<std::string> seen;
  for (std::uint64_t seed = 1; seed <= 300; ++seed) {
    const sim::WorldConfig c = campaigns::draw_world(seed);
    for (const sim::FaultSpec& f : c.faults) kinds.insert(std::string(faults::name(f.kind)));
    if (c.faults.empty()) seen.insert("no faults");
    if (c.faults.size() >= 4) seen.insert("many faults");
    if (c.servers.persistence == sim::Persistence::kSnapshot) seen.insert("snapshot");
    if (c.servers.ack == sim::Ack::kAfterCommit) seen.insert("after_commit");
    if (c.servers.propagation == sim::Propagation::kPoll && c.servers.count > 1) seen.insert("poll");
    if (c.servers.api_read == sim::ApiRead::kFenced) seen.insert("fenced");
    if (c.workload.rename_ms.max > 0) seen.insert("renames");
    if (c.workload.reload_ms.max > 0) seen.insert("reloads");
    if (c.database.replica_lag_ms > 0) seen.insert("replica lag");
    if (c.cdn.ttl_ms > 0) seen.insert("cdn");
    if (c.random_faults.count > 0) seen.insert("random faults");
    if (!c.script.empty()) seen.insert("script");
    if (!c.client_overrides.empty()) seen.insert("overrides");
    if (c.servers.rate_limit_per_s > 0) seen.insert("rate limit");
    if (c.servers.home == NodePolicies::Home::kLease && c.servers.count > 1) seen.insert("home lease");
  }
  // Every kind the swarm draws, and none it does not (db_lost loses acknowledged edits whatever
  // the policies: its scenarios ask for it).
  std::set<std::string> swarm_kinds;
  for (const faults::KindInfo& k : faults::kinds()) {
    if (k.swarm) swarm_kinds.insert(std::string(k.name));
  }
  EXPECT_EQ(kinds, swarm_kinds);
  EXPECT_FALSE(swarm_kinds.contains("db_lost"));
  EXPECT_FALSE(swarm_kinds.contains("redis_crash"));
  for (const char* knob : {"no faults", "many faults", "snapshot", "after_commit", "poll", "fenced", "renames",
                           "reloads", "replica lag", "cdn", "random faults", "script", "overrides", "rate limit",
                           "home lease"}) {
    EXPECT_TRUE(seen.contains(knob)) << knob;
  }
}

TEST(SwarmGenerator, ShrinkStepsAreSmallerWorldsTheLoaderAccepts) {
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    const sim::WorldConfig c = campaigns::draw_world(seed);
    for (const sim::WorldConfig& step : campaigns::shrink_steps(c)) {
      expect_loads_back(step, "a shrink step of seed " + std::to_string(seed));
      EXPECT_NE(campaigns::world_yaml(step, "w", ""), campaigns::world_yaml(c, "w", ""));
      EXPECT_LE(step.clients, c.clients);
      EXPECT_LE(step.faults.size(), c.faults.size());
    }
  }
}

}  // namespace
}  // namespace convlab
