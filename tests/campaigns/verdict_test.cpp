// Verdicts over seeds: each quantifier on hand-made per-seed values, NaN as compare() treats it,
// and the words the terminal, report.md, report.json and JUnit use for a failed `all`.
#include "campaigns/campaign.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

namespace convlab::campaigns {
namespace {

using reports::SeedValue;
using reports::Verdict;

sim::Expectation expectation(const std::string& text) {
  const auto c = sim::parse_comparison(text);
  EXPECT_TRUE(c.has_value()) << text;
  sim::Expectation e;
  e.variant = "naive";
  e.strategy = "*";
  e.metric = "lost_acked_chars";
  e.quantifier = c->quantifier;
  e.op = c->op;
  e.value = c->value;
  e.text = text;
  e.where = "t.yaml:9:20";
  return e;
}

Verdict judged(const std::string& text, const std::vector<SeedValue>& values) { return judge(expectation(text), values); }

// Seeds 1..5 with values 0, 3, 0, 7, 2: mean 2.4, min 0 (seed 1), max 7 (seed 4).
const std::vector<SeedValue> kFive = {{1, 0}, {2, 3}, {3, 0}, {4, 7}, {5, 2}};

TEST(Verdict, MeanIsTheDefaultAndComparesTheMean) {
  const Verdict bare = judged("<= 2.4", kFive);
  EXPECT_EQ(bare.quantifier, "mean");
  EXPECT_DOUBLE_EQ(bare.actual, 2.4);
  EXPECT_TRUE(bare.held);
  EXPECT_EQ(bare.seeds, 5u);
  EXPECT_EQ(bare.seeds_held, 3u) << "seeds 2 (3) and 4 (7) are above 2.4";
  EXPECT_TRUE(bare.failed_seeds.empty()) << "the mean names no seed";
  EXPECT_FALSE(judged("mean < 2.4", kFive).held);
  EXPECT_TRUE(judged("mean > 2", kFive).held);
}

TEST(Verdict, MinAndMaxCompareTheExtremeAndNameItsSeed) {
  const Verdict min = judged("min > 0", kFive);
  EXPECT_FALSE(min.held);
  EXPECT_DOUBLE_EQ(min.actual, 0);
  EXPECT_EQ(min.at_seed, 1u) << "the first seed with the smallest value";
  EXPECT_TRUE(judged("min >= 0", kFive).held);
  const Verdict max = judged("max <= 7", kFive);
  EXPECT_TRUE(max.held);
  EXPECT_DOUBLE_EQ(max.actual, 7);
  EXPECT_EQ(max.at_seed, 4u);
  EXPECT_FALSE(judged("max < 7", kFive).held);
  EXPECT_EQ(reports::verdict_summary(max), "max 7 at seed 4");
}

TEST(Verdict, AllHoldsOnlyWhenEverySeedDoesAndNamesTheOthers) {
  EXPECT_TRUE(judged("all >= 0", kFive).held);
  EXPECT_TRUE(judged("all < 8", kFive).held);
  const Verdict v = judged("all == 0", kFive);
  EXPECT_FALSE(v.held) << "the mean of 2.4 or seeds 1 and 3 do not make it hold";
  EXPECT_EQ(v.seeds, 5u);
  EXPECT_EQ(v.seeds_held, 2u);
  ASSERT_EQ(v.failed_seeds.size(), 3u);
  EXPECT_EQ(v.failed_seeds[0].seed, 2u);
  EXPECT_DOUBLE_EQ(v.failed_seeds[0].value, 3);
  EXPECT_EQ(v.failed_seeds[1].seed, 4u);
  EXPECT_EQ(v.failed_seeds[2].seed, 5u);
  EXPECT_EQ(reports::verdict_summary(v), "3 of 5 seeds failed: seed 2 = 3, seed 4 = 7, seed 5 = 2 (mean 2.4)");
  EXPECT_EQ(reports::verdict_summary(v, 2), "3 of 5 seeds failed: seed 2 = 3, seed 4 = 7, … 1 more (mean 2.4)");
  EXPECT_EQ(reports::verdict_summary(judged("all >= 0", kFive)), "all 5 seeds");
}

TEST(Verdict, AnyHoldsWhenOneSeedDoes) {
  const Verdict v = judged("any > 6", kFive);
  EXPECT_TRUE(v.held);
  EXPECT_EQ(v.seeds_held, 1u);
  EXPECT_EQ(reports::verdict_summary(v), "1 of 5 seeds held");
  const Verdict none = judged("any > 7", kFive);
  EXPECT_FALSE(none.held);
  EXPECT_EQ(none.failed_seeds.size(), 5u);
  EXPECT_EQ(reports::verdict_summary(none, 2), "no seed of 5: seed 1 = 0, seed 2 = 3, … 3 more (mean 2.4)");
}

TEST(Verdict, NoValuesNeverHold) {
  for (const char* text : {"== 0", "min == 0", "max == 0", "all == 0", "any == 0", "all != 0"}) {
    const Verdict v = judged(text, {});
    EXPECT_FALSE(v.held) << text;
    EXPECT_EQ(v.seeds, 0u);
    EXPECT_EQ(reports::verdict_summary(v), "no run had the metric") << text;
  }
}

TEST(Verdict, NanSatisfiesOnlyNotEqualPerSeedAndPoisonsTheStatistics) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<SeedValue> xs = {{1, 1}, {2, nan}, {3, 1}};
  // all / any: seed 2 satisfies only `!=`.
  EXPECT_FALSE(judged("all >= 0", xs).held);
  EXPECT_EQ(judged("all >= 0", xs).failed_seeds.at(0).seed, 2u);
  EXPECT_TRUE(judged("all != 5", xs).held);
  EXPECT_TRUE(judged("any >= 0", xs).held);
  EXPECT_FALSE(judged("any > 1", xs).held);
  EXPECT_TRUE(judged("any != 1", xs).held) << "seed 2's NaN differs from 1";
  // mean, min, max: NaN, which satisfies only `!=`.
  for (const char* q : {"mean", "min", "max"}) {
    SCOPED_TRACE(q);
    EXPECT_FALSE(judged(std::string(q) + " >= 0", xs).held);
    EXPECT_FALSE(judged(std::string(q) + " == 1", xs).held);
    EXPECT_TRUE(judged(std::string(q) + " != 1", xs).held);
  }
  EXPECT_EQ(judged("max != 1", xs).at_seed, 2u) << "the seed that made it NaN";
}

TEST(Verdict, FailedSeedsKeptAreBoundedButCounted) {
  std::vector<SeedValue> many;
  for (std::uint64_t s = 1; s <= 100; ++s) many.push_back({s, 1});
  const Verdict v = judged("all == 0", many);
  EXPECT_FALSE(v.held);
  EXPECT_EQ(v.seeds - v.seeds_held, 100u);
  EXPECT_EQ(v.failed_seeds.size(), reports::kFailedSeedsKept);
  EXPECT_NE(reports::verdict_summary(v).find("… 95 more"), std::string::npos) << reports::verdict_summary(v);
}

// A report with one failed `all` and one held mean, through every writer.
reports::Report report_with_a_failed_all() {
  reports::Report r;
  for (const SeedValue& sv : kFive) {
    reports::RunRecord run;
    run.scenario = "tiny";
    run.variant = "naive";
    run.strategy = "lww";
    run.seed = sv.seed;
    run.metrics.lost_acked_chars = static_cast<std::uint64_t>(sv.value);
    r.runs.push_back(run);
  }
  r.groups = reports::aggregate(r.runs);
  for (const char* text : {"all == 0", "<= 3"}) {
    Verdict v = judged(text, kFive);
    v.scenario = "tiny";
    v.variant = "naive";
    v.strategy = "lww";
    r.verdicts.push_back(v);
  }
  return r;
}

TEST(Verdict, EveryWriterNamesTheSeedsOfAFailedAll) {
  const reports::Report r = report_with_a_failed_all();
  const std::string words = "3 of 5 seeds failed: seed 2 = 3, seed 4 = 7, seed 5 = 2 (mean 2.4)";
  const std::string table = reports::comparison_table(r);
  EXPECT_NE(table.find("FAIL lww: lost_acked_chars all == 0 (" + words + ")  at t.yaml:9:20"), std::string::npos) << table;
  EXPECT_NE(table.find("ok   lww: lost_acked_chars <= 3 (mean 2.4)"), std::string::npos) << table;
  const std::string md = reports::to_markdown(r);
  EXPECT_NE(md.find("**FAILED**: `lww` lost_acked_chars all == 0 (" + words + ") — t.yaml:9:20"), std::string::npos) << md;
  EXPECT_NE(md.find("2.4 ±3.58 (0–7)"), std::string::npos) << "mean, interval, then min–max: " << md;
  const std::string junit = reports::to_junit(r);
  EXPECT_NE(junit.find("message=\"expected lost_acked_chars all == 0, " + words + " (naive / lww) at t.yaml:9:20\""),
            std::string::npos)
      << junit;
  EXPECT_NE(junit.find("failures=\"1\""), std::string::npos) << junit;

  const boost::json::object j = boost::json::parse(reports::to_json(r)).as_object();
  const boost::json::object& all = j.at("expectations").as_array().at(0).as_object();
  EXPECT_EQ(all.at("quantifier").as_string(), "all");
  EXPECT_FALSE(all.at("held").as_bool());
  EXPECT_EQ(all.at("seeds").to_number<int>(), 5);
  EXPECT_EQ(all.at("seeds_held").to_number<int>(), 2);
  const boost::json::array& failed = all.at("failed_seeds").as_array();
  ASSERT_EQ(failed.size(), 3u);
  EXPECT_EQ(failed[1].at("seed").to_number<int>(), 4);
  EXPECT_EQ(failed[1].at("value").to_number<double>(), 7);
  const boost::json::object& mean = j.at("expectations").as_array().at(1).as_object();
  EXPECT_EQ(mean.at("quantifier").as_string(), "mean");
  EXPECT_FALSE(mean.contains("failed_seeds"));
  const boost::json::object& stat =
      j.at("aggregates").as_array().at(0).at("metrics").at("lost_acked_chars").as_object();
  EXPECT_EQ(stat.at("min").to_number<double>(), 0);
  EXPECT_EQ(stat.at("max").to_number<double>(), 7);
}

}  // namespace
}  // namespace convlab::campaigns
