#pragma once
// The HTML reports, built on html::page (reports/html.hpp):
// - report_html: what `convlab run --out DIR` writes to DIR/index.html — a strategy x
//   scenario-variant matrix coloured by verdict, then per scenario and variant the key figures
//   with 95% intervals, the visibility-latency CDF, lost acknowledged characters by cause and
//   divergence over time with the fault windows shaded, per strategy.
// - run_html: what `convlab replay --out DIR` writes — one run's timeline (edits per client
//   lane, when each client saw each edit, fault windows, lost characters with their cause) and
//   its metrics.
// Deterministic: the same inputs give the same bytes (no dates, no wall-clock figures).
#include "history/history.hpp"
#include "reports/checkers.hpp"
#include "reports/report.hpp"
#include "reports/series.hpp"

#include <string>
#include <vector>

namespace convlab::reports {

struct HtmlContext {
  std::string command_line;  // as typed, shown on the page
  std::string version;       // convlab's
};

std::string report_html(const Report& r, const HtmlContext& ctx);

// `summary`: the run's metrics as preformatted text (what `convlab replay` prints); `digest`:
// the history's digest.
std::string run_html(const std::vector<history::Event>& events, const RunMetrics& m, const RunSeries& s,
                     const std::string& summary, const std::string& digest, const HtmlContext& ctx);

}  // namespace convlab::reports
