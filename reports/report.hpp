#pragma once
// Reports over many runs: aggregates per (scenario, variant, strategy) with 95% intervals over
// seeds, expectation verdicts, and writers for report.json, report.md and the terminal table.
// Everything here is deterministic given its inputs except `wall_ms`, which the caller measures
// and which is kept out of every digest.
#include "reports/checkers.hpp"
#include "reports/series.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace convlab::reports {

struct RunRecord {
  std::string scenario;
  std::string variant;
  std::string strategy;
  std::uint64_t seed = 0;
  RunMetrics metrics;
  std::string digest;
  std::uint64_t sim_events = 0;
  double wall_ms = 0;
  RunSeries series;  // what the HTML charts draw (series_of)
};

// Mean and 95% confidence interval of the mean (Student's t over the seeds), and the smallest
// and largest value over the seeds (NaN when any value is NaN, as the mean then is).
struct Stat {
  double mean = 0;
  double lo = 0;
  double hi = 0;
  std::uint64_t n = 0;
  double min = 0;
  double max = 0;
};
Stat stat_of(const std::vector<double>& xs);
// How reports print a figure ("12", "3.5", "1234.5") and a Stat ("12 ±0.5": the half-width of
// its interval, left out for one seed), for writers outside this file.
std::string format_number(double v);
std::string format_stat(const Stat& s);
// "min–max" over the seeds ("3–17"), or the one value when they are equal.
std::string format_range(const Stat& s);

struct Group {
  std::string scenario;
  std::string variant;
  std::string strategy;
  std::map<std::string, Stat> stats;  // by flat metric name
  std::uint64_t runs = 0;
  SeriesAggregate series;  // the runs' series merged (merge_series)
};

// One seed's value of a metric.
struct SeedValue {
  std::uint64_t seed = 0;
  double value = 0;
};

struct Verdict {
  std::string scenario;
  std::string variant;
  std::string strategy;
  std::string metric;
  std::string text;   // as written: "> 0", "all == 0"
  std::string where;  // file:line:column
  std::string quantifier = "mean";  // mean, min, max, all, any (the bare form is mean)
  // The statistic compared: the mean, min or max over seeds; for all and any the mean (shown
  // beside the count of seeds that held).
  double actual = 0;
  std::uint64_t seeds = 0;       // seeds that had the metric
  std::uint64_t seeds_held = 0;  // seeds whose own value satisfied the comparison
  std::uint64_t at_seed = 0;     // min / max: the first seed (in run order) with that value
  // all / any: the seeds whose own value did not satisfy the comparison, in run order, at
  // most kFailedSeedsKept of them (seeds - seeds_held says how many in all).
  std::vector<SeedValue> failed_seeds;
  bool held = false;
};
inline constexpr std::size_t kFailedSeedsKept = 20;
// What a verdict saw, in words: "mean 12.5", "min 0 at seed 3 (mean 2)", "all 5 seeds (mean
// 7)", "2 of 5 seeds failed: seed 2 = 0, seed 4 = 0 (mean 3)", "no seed of 5: seed 1 = 0, ...".
// At most `listed` failing seeds are named, then "… N more"; without values, "no run had the
// metric". The terminal, report.md, JUnit and
// the HTML page all say it this way.
std::string verdict_summary(const Verdict& v, std::size_t listed = 5);

struct Report {
  std::vector<RunRecord> runs;  // in (scenario, variant, strategy, seed) order
  std::vector<Group> groups;
  std::vector<Verdict> verdicts;
  bool all_held() const;
};

// Groups runs by (scenario, variant, strategy), in first-appearance order.
std::vector<Group> aggregate(const std::vector<RunRecord>& runs);

std::string to_json(const Report& r);
std::string to_markdown(const Report& r);
// A compact strategy x metric table per scenario and variant, for a terminal.
std::string comparison_table(const Report& r);
// JUnit XML for CI: one testsuite per scenario, one testcase per verdict (scenario x variant x
// strategy x expectation) with classname = the scenario; a failed expectation is a <failure>
// naming the expectation, the mean over seeds and where it was written. No timings, so the
// same report gives the same bytes.
std::string to_junit(const Report& r);

}  // namespace convlab::reports
