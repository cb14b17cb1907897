// The simulator against reality (campaigns/fidelity.hpp) on hand-made aggregates: which metrics
// are compared, the ratio, and the flag where the two worlds' 95% intervals are apart.
#include "campaigns/fidelity.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace convlab::campaigns {
namespace {

// The interval doubles as the range over seeds (min, max): enough for these comparisons.
reports::Stat stat(double mean, double lo, double hi, std::uint64_t n) { return {mean, lo, hi, n, lo, hi}; }

reports::Group group(const std::string& strategy, std::map<std::string, reports::Stat> stats) {
  reports::Group g;
  g.scenario = "row1";
  g.variant = "naive";
  g.strategy = strategy;
  g.stats = std::move(stats);
  return g;
}

TEST(Fidelity, ComparesEveryMetricBothWorldsHave) {
  reports::Report sim, real;
  sim.groups.push_back(group("crdt", {{"visibility_ms.p50", stat(1000, 900, 1100, 3)},
                                      {"visibility_ms.p99", stat(2000, 1900, 2100, 3)},
                                      {"stale_loads", stat(0, 0, 0, 3)},
                                      {"db_queries", stat(40, 38, 42, 3)},
                                      {"lost_acked_chars", stat(0, 0, 0, 3)}}));
  sim.groups.push_back(group("lww", {{"visibility_ms.p50", stat(1000, 900, 1100, 3)}}));  // no real lww runs
  real.groups.push_back(group("crdt", {{"visibility_ms.p50", stat(1050, 950, 1150, 3)},   // overlaps
                                       {"visibility_ms.p99", stat(3000, 2800, 3200, 3)},  // apart, above
                                       {"stale_loads", stat(0, 0, 0, 3)},                 // 0 in both: left out
                                       {"db_queries", stat(10, 9, 11, 3)},                // apart, below
                                       {"lost_acked_chars", stat(3, 0, 6, 3)}}));         // sim 0: no ratio
  const auto rows = compare_worlds(sim, real);
  ASSERT_EQ(rows.size(), 4u);
  // The simulator's metric order (std::map: by name).
  EXPECT_EQ(rows[0].metric, "db_queries");
  EXPECT_TRUE(rows[0].apart);
  EXPECT_DOUBLE_EQ(rows[0].ratio, 0.25);
  EXPECT_EQ(rows[1].metric, "lost_acked_chars");
  EXPECT_TRUE(std::isnan(rows[1].ratio));
  EXPECT_FALSE(rows[1].apart);
  EXPECT_EQ(rows[2].metric, "visibility_ms.p50");
  EXPECT_FALSE(rows[2].apart);
  EXPECT_DOUBLE_EQ(rows[2].ratio, 1.05);
  EXPECT_EQ(rows[3].metric, "visibility_ms.p99");
  EXPECT_TRUE(rows[3].apart);
  EXPECT_DOUBLE_EQ(rows[3].ratio, 1.5);
  for (const auto& r : rows) EXPECT_EQ(r.strategy, "crdt");

  const std::string table = fidelity_table(rows);
  EXPECT_NE(table.find("row1 [naive]"), std::string::npos) << table;
  EXPECT_NE(table.find("| crdt | visibility_ms.p99 | "), std::string::npos) << table;
  EXPECT_NE(table.find("| 1.5 | **apart** |"), std::string::npos) << table;
  EXPECT_NE(table.find("4 metrics compared, 4 with two seeds or more in both worlds; 2 with intervals apart"),
            std::string::npos)
      << table;
}

// One seed in a world gives a point, not an interval: no flag, said so.
TEST(Fidelity, OneSeedIsNotJudged) {
  reports::Report sim, real;
  sim.groups.push_back(group("ot", {{"visibility_ms.p50", stat(100, 100, 100, 1)}}));
  real.groups.push_back(group("ot", {{"visibility_ms.p50", stat(300, 300, 300, 1)}}));
  const auto rows = compare_worlds(sim, real);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_TRUE(rows[0].too_few);
  EXPECT_FALSE(rows[0].apart);
  EXPECT_NE(fidelity_table(rows).find("| 3 | n < 2 |"), std::string::npos) << fidelity_table(rows);
}

}  // namespace
}  // namespace convlab::campaigns
