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

// Mean and 95% confidence interval of the mean (Student's t over the seeds).
struct Stat {
  double mean = 0;
  double lo = 0;
  double hi = 0;
  std::uint64_t n = 0;
};
Stat stat_of(const std::vector<double>& xs);
// How reports print a figure ("12", "3.5", "1234.5") and a Stat ("12 ±0.5": the half-width of
// its interval, left out for one seed), for writers outside this file.
std::string format_number(double v);
std::string format_stat(const Stat& s);

struct Group {
  std::string scenario;
  std::string variant;
  std::string strategy;
  std::map<std::string, Stat> stats;  // by flat metric name
  std::uint64_t runs = 0;
  SeriesAggregate series;  // the runs' series merged (merge_series)
};

struct Verdict {
  std::string scenario;
  std::string variant;
  std::string strategy;
  std::string metric;
  std::string text;   // "> 0"
  std::string where;  // file:line:column
  double actual = 0;  // the mean over seeds
  bool held = false;
};

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
