#pragma once
// What the report charts draw, computed from a history alone (like every checker): the
// visibility-latency distribution as a CDF, divergence over time in fixed bins of simulated
// time, and the fault windows. Kept apart from checkers.cpp (additive: RunMetrics and check()
// are untouched) and merged over seeds by merge_series. Definitions: docs/history.md,
// "Series for charts". Deterministic: the same history gives the same numbers.
#include "history/history.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace convlab::reports {

// A fault from its `fault` event to the matching `recover` (same kind and detail), else to
// the heal, else to the end of the run.
struct FaultWindow {
  std::int64_t start_us = 0;
  std::int64_t end_us = 0;
  std::string kind;    // the event's `kind`: "partition", "crash", "offline", ...
  std::string target;  // `detail` without its key=value parameters: "server:0", "[client:0] | [server:0,server:1]"
  std::string detail;  // the event's `detail`, whole
  std::string ended_by;  // "recover", "heal" or "end"
  friend bool operator==(const FaultWindow&, const FaultWindow&) = default;
};

// Time-weighted means over fixed bins [k * bin_us, (k + 1) * bin_us) of the run (the last bin
// may be shorter).
struct DivergenceSeries {
  std::int64_t bin_us = 0;
  std::int64_t end_us = 0;  // the run's end: the last bin stops here
  // Pending (edit, client) pairs: edit E inserted characters, client c is not E's author, c
  // showed E at some time (a `seen`), and the bin's instant lies in [E.t, seen.t).
  std::vector<double> pending_edits;
  // Clients with at least one pending pair.
  std::vector<double> lagging_clients;
};

struct RunSeries {
  // Nearest-rank percentiles 1..100 of visibility_ms (index i holds p(i+1); p50, p99 and max
  // equal RunMetrics::visibility_ms's). Empty when the run has no visibility pairs.
  std::vector<double> visibility_cdf_ms;
  DivergenceSeries divergence;
  std::vector<FaultWindow> fault_windows;  // in order of their `fault` events
};

// Bins are 1 s wide, doubled until the run fits in kBinsMax of them.
inline constexpr std::size_t kBinsMax = 512;
inline constexpr std::int64_t kBaseBinUs = 1'000'000;

RunSeries series_of(const std::vector<history::Event>& events);

// series_of fed one event at a time (a streamed run): keeps a slim copy of only the events the
// series read (meta, edits without their ids, seen, fault, recover, heal).
class SeriesCollector {
 public:
  void add(const history::Event& e);
  RunSeries finish() const { return series_of(events_); }

 private:
  std::vector<history::Event> events_;
};

// `detail` without its whitespace-separated key=value tokens ("server:0 for_ms=2000" ->
// "server:0", "bus loss=0.3 dup=0 for_ms=10000" -> "bus").
std::string fault_target(const std::string& detail);

// Several runs' series (the seeds of one scenario x variant x strategy) in one.
struct FaultWindowCount {
  FaultWindow window;       // detail and ended_by of the first run that had it
  std::uint64_t runs = 0;   // how many runs had a window with this start, end, kind and target
};
struct SeriesAggregate {
  // Mean over the runs with visibility pairs of each percentile (a quantile average).
  std::vector<double> visibility_cdf_ms;
  std::uint64_t cdf_runs = 0;
  // The widest bin of the runs; narrower series are merged into it first (widths are powers of
  // two of each other, so a time-weighted mean merges exactly). Each bin: the mean over the
  // runs that reach it.
  DivergenceSeries divergence;
  std::vector<FaultWindowCount> fault_windows;  // sorted by (start, end, kind, target)
  std::uint64_t runs = 0;
};
SeriesAggregate merge_series(const std::vector<const RunSeries*>& runs);

}  // namespace convlab::reports
