#pragma once
// The fidelity page (issue 15, item 4): what `convlab fidelity --out DIR` writes to
// DIR/index.html — both worlds side by side. Per scenario and variant: a chart of real / simulated
// per metric (log scale, 1 = agreement, the verdict as the mark's shape), a chart per measured
// metric with each world's mean and 95% interval next to each other per strategy, and the table
// of every compared metric (simulator mean [interval], real mean [interval], ratio, verdict),
// the rows whose intervals are apart flagged. Built on reports/html.hpp: offline, deterministic.
#include "campaigns/fidelity.hpp"
#include "reports/report_html.hpp"

#include <string>
#include <vector>

namespace convlab::campaigns {

struct FidelityPageLinks {
  std::string sim;   // the simulator's report page, relative to the fidelity page ("" for none)
  std::string real;  // the real processes' report page
};

std::string fidelity_html(const std::vector<FidelityRow>& rows, const reports::HtmlContext& ctx,
                          const FidelityPageLinks& links);

// A row's verdict as the table and the charts name it: "apart", "overlap" or "n < 2".
std::string fidelity_verdict(const FidelityRow& row);

}  // namespace convlab::campaigns
