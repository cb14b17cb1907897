#pragma once
// OpenMetrics text of simulated runs, for Prometheus backfill
// (`promtool tsdb create-blocks-from openmetrics FILE DIR`; docs/prometheus.md).
//
// Time: every sample is stamped kOpenMetricsEpochS + the simulated time of the history event it
// comes from, so the same runs give the same bytes. Series: one per counter of the history's
// `counters` events (db.<kind> -> convlab_sim_db_queries_total{kind}, net.msgs ->
// convlab_sim_net_messages_total, ...; mem.* are gauges), a visibility histogram built from
// the edit/seen pairs (cumulative at each counters sample and at the run's end), and the
// checkers' verdicts as gauges at the run's end (meta end_us, else the last event) (lost acknowledged edits and characters, converged, divergent
// replicas, visibility p99). Labels: scenario, variant, strategy, seed, plus any the caller adds
// (a sweep's varied settings).
#include "history/history.hpp"
#include "reports/checkers.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace convlab::reports {

// 2026-01-01T00:00:00Z: simulated time 0 of every run.
inline constexpr std::int64_t kOpenMetricsEpochS = 1767225600;

using Labels = std::vector<std::pair<std::string, std::string>>;  // name, value; in this order

// One run's samples, by metric family; join several with openmetrics_text.
struct OpenMetricsRun {
  struct Family {
    std::string type;  // counter, gauge, histogram
    std::string help;
    std::string samples;  // sample lines, each ending in '\n'
  };
  std::map<std::string, Family> families;
};

OpenMetricsRun openmetrics_run(const std::vector<history::Event>& events, const RunMetrics& metrics,
                               const Labels& labels);

// Every family once (sorted by name), its runs' samples in the given order, then "# EOF\n".
std::string openmetrics_text(const std::vector<OpenMetricsRun>& runs);

// A label name from a setting's path: "servers.count" -> "servers_count".
std::string label_name(const std::string& key);

}  // namespace convlab::reports
