// Every scenario under scenarios/ runs with its expectations, on every strategy it names, and
// the simulator is deterministic: the same seed gives the same history digest.
#include "campaigns/campaign.hpp"
#include "server/strategies/registry.hpp"
#include "sim/world.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>

namespace convlab::campaigns {
namespace {

std::vector<std::string> scenario_files() {
  std::vector<std::string> out;
  for (const char* dir : {"naive", "mixed"}) {
    const std::filesystem::path p = std::filesystem::path(CONVLAB_SCENARIOS) / dir;
    for (const auto& e : std::filesystem::directory_iterator(p)) {
      if (e.path().extension() == ".yaml") out.push_back(e.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

class Scenario : public testing::TestWithParam<std::string> {};

TEST_P(Scenario, ExpectationsHold) {
  auto sc = sim::load_scenario(GetParam());
  ASSERT_TRUE(sc.has_value()) << sc.error().message;
  for (const sim::Variant& v : sc->variants) {
    for (const Strategy* s : strategies()) {
      const auto problems = sim::world_problems(v.config, *s);
      EXPECT_TRUE(problems.empty()) << v.name << "/" << s->name << ": " << (problems.empty() ? "" : problems.front());
    }
  }
  CampaignOptions o;
  o.jobs = 1;
  const reports::Report r = run_campaign({*sc}, o);
  ASSERT_FALSE(r.verdicts.empty()) << "a scenario without expectations checks nothing";
  for (const reports::Verdict& v : r.verdicts) {
    EXPECT_TRUE(v.held) << v.where << ": " << v.variant << "/" << v.strategy << ": expected " << v.metric << " " << v.text
                        << ", mean over seeds was " << v.actual;
  }
  // Floors that hold for every shipped scenario, in every run (issue 13): a strategy that does
  // not order writes by client clocks never reverses causality, and ot and crdt lose nothing to
  // anything but a crash or a lost database.
  for (const reports::RunRecord& run : r.runs) {
    const Strategy* s = find_strategy(run.strategy);
    ASSERT_NE(s, nullptr) << run.strategy;
    if (!s->orders_by_client_clock) {
      EXPECT_EQ(run.metrics.causality_reversals, 0u) << run.variant << "/" << run.strategy << " seed " << run.seed;
      EXPECT_EQ(run.metrics.lost_by_cause.at("clock_skew"), 0u) << run.variant << "/" << run.strategy << " seed " << run.seed;
    }
    if (run.strategy == "ot" || run.strategy == "crdt") {
      EXPECT_EQ(run.metrics.lost_acked_chars, run.metrics.lost_by_cause.at("crash") + run.metrics.lost_by_cause.at("db_lost"))
          << run.variant << "/" << run.strategy << " seed " << run.seed << ": a loss that is neither a crash nor a lost database";
    }
  }
  std::cout << reports::comparison_table(r);
}

INSTANTIATE_TEST_SUITE_P(All, Scenario, testing::ValuesIn(scenario_files()), [](const auto& p) {
  std::string name = std::filesystem::path(p.param).stem().string();
  std::replace_if(name.begin(), name.end(), [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); }, '_');
  return name;
});

// 50 seeds, each run twice, per strategy: identical digests (DESIGN.md, Determinism).
TEST(Determinism, FiftySeedsTwiceGiveIdenticalDigests) {
  auto sc = sim::load_scenario(std::string(CONVLAB_SCENARIOS) + "/mixed/random-faults.yaml");
  ASSERT_TRUE(sc.has_value()) << sc.error().message;
  sim::WorldConfig c = sc->variants.front().config;
  c.duration_ms = 5000;
  c.quiesce_ms = 5000;
  for (const Strategy* s : strategies()) {
    std::set<std::string> distinct;
    for (std::uint64_t seed = 1; seed <= 50; ++seed) {
      sim::RunOptions o;
      o.strategy = s;
      o.seed = seed;
      const auto a = sim::run_world(c, o);
      const auto b = sim::run_world(c, o);
      ASSERT_EQ(a.digest, b.digest) << s->name << " seed " << seed;
      distinct.insert(a.digest);
    }
    EXPECT_EQ(distinct.size(), 50u) << s->name << ": every seed should give its own history";
  }
}

}  // namespace
}  // namespace convlab::campaigns
