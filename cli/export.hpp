#pragma once
// What `run`, `sweep` and `merge` share for their output files: writing a file, and gathering
// each run's OpenMetrics samples while a campaign runs (--openmetrics FILE).
#include "history/history.hpp"
#include "reports/openmetrics.hpp"
#include "reports/report.hpp"

#include <mutex>
#include <string>
#include <vector>

namespace convlab::cli {

// Writes `bytes` to `path` (truncating); false when it could not.
bool write_file(const std::string& path, const std::string& bytes);

// Collects runs from several worker threads; text() joins them in run order.
class OpenMetricsSink {
 public:
  explicit OpenMetricsSink(std::size_t runs) : runs_(runs) {}
  // Labels: scenario (as given: a sweep passes the file's own name), variant, strategy, seed, then
  // `extra` (a sweep's settings).
  void add(std::size_t index, const reports::RunRecord& record, const std::vector<history::Event>& events,
           const std::string& scenario, const reports::Labels& extra);
  std::string text() const { return reports::openmetrics_text(runs_); }

 private:
  std::mutex mu_;
  std::vector<reports::OpenMetricsRun> runs_;
};

}  // namespace convlab::cli
