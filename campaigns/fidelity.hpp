#pragma once
// The simulator held against reality (issue 15, item 4): the same scenarios and seeds run in both
// worlds, compared per (scenario, variant, strategy, metric) on their aggregates — the mean over
// seeds and its 95% interval in each world, their ratio, and whether the intervals overlap.
#include "reports/report.hpp"

#include <string>
#include <vector>

namespace convlab::campaigns {

struct FidelityRow {
  std::string scenario;
  std::string variant;
  std::string strategy;
  std::string metric;  // flat metric name, as in report.json's aggregates
  reports::Stat sim;
  reports::Stat real;
  // real mean / simulated mean; NaN when the simulated mean is 0.
  double ratio = 0;
  // Both worlds have at least two seeds and their intervals do not overlap: the simulator and
  // the real processes disagree on this metric beyond the seeds' spread.
  bool apart = false;
  // Fewer than two seeds in a world: its interval is a point, overlap is not judged.
  bool too_few = false;
};

// Every metric both reports aggregate for the same (scenario, variant, strategy), in the
// simulator's group order and metric order. Metrics zero in both worlds are left out (nothing to
// compare), as are groups only one world has.
std::vector<FidelityRow> compare_worlds(const reports::Report& sim, const reports::Report& real);

// A Markdown table of the rows, one section per (scenario, variant), and a last line counting the
// metrics whose intervals are apart.
std::string fidelity_table(const std::vector<FidelityRow>& rows);

}  // namespace convlab::campaigns
