#include "cli/export.hpp"

#include <fstream>

namespace convlab::cli {

bool write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << bytes;
  f.flush();
  return static_cast<bool>(f);
}

void OpenMetricsSink::add(std::size_t index, const reports::RunRecord& record, const std::vector<history::Event>& events,
                          const std::string& scenario, const reports::Labels& extra) {
  reports::Labels labels{{"scenario", scenario},
                         {"variant", record.variant},
                         {"strategy", record.strategy},
                         {"seed", std::to_string(record.seed)}};
  labels.insert(labels.end(), extra.begin(), extra.end());
  reports::OpenMetricsRun run = reports::openmetrics_run(events, record.metrics, labels);
  std::lock_guard lock(mu_);
  runs_.at(index) = std::move(run);
}

}  // namespace convlab::cli
