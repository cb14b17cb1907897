// convlab fidelity SCENARIO... [--strategy S]... [--seeds N|A..B] [--variant V] [--out DIR]
// (also `convlab run --sim-and-real`)
//
// The simulator held against reality (issue 15, item 4): the scenarios' runs in the simulator and
// on real processes (one at a time, as `run --real`), on the same seeds and strategies; each
// world's report files in DIR/sim/ and DIR/real/, and per (scenario, variant, strategy, metric)
// the simulator's mean [95% interval] next to the real one's, their ratio and whether the
// intervals are apart (campaigns/fidelity.hpp), on stdout and in DIR/fidelity.md; the same side
// by side with charts in DIR/index.html (campaigns/fidelity_html.hpp).
#include "campaigns/fidelity.hpp"
#include "campaigns/fidelity_html.hpp"
#include "cli/common.hpp"
#include "cli/export.hpp"
#include "cli/real.hpp"

#include <filesystem>
#include <iostream>

namespace convlab::cli {

namespace fs = std::filesystem;

int run_fidelity(const std::vector<sim::Scenario>& scenarios, const campaigns::CampaignOptions& options,
                 const std::string& out_dir, const std::string& command) {
  const std::string sim_dir = (fs::path(out_dir) / "sim").string();
  const std::string real_dir = (fs::path(out_dir) / "real").string();
  // The real runs first: a world refused on real processes is refused before anything runs.
  reports::Report real;
  if (const int code = real_report(scenarios, options, real_dir, real); code != kExitOk) return code;
  std::string wrote;
  if (auto ok = write_reports(real, real_dir, "", command, wrote); !ok) return fail(ok.error().message);
  std::cerr << "convlab fidelity: the simulator, " << options.jobs << (options.jobs == 1 ? " job" : " jobs") << '\n';
  const reports::Report sim = campaigns::run_campaign(scenarios, options);
  std::error_code ec;
  fs::create_directories(sim_dir, ec);
  if (ec) return fail(sim_dir + ": cannot create the output directory: " + ec.message());
  std::string wrote_sim;
  if (auto ok = write_reports(sim, sim_dir, "", command, wrote_sim); !ok) return fail(ok.error().message);

  const std::vector<campaigns::FidelityRow> rows = campaigns::compare_worlds(sim, real);
  const std::string table = campaigns::fidelity_table(rows);
  const std::string path = (fs::path(out_dir) / "fidelity.md").string();
  if (!write_file(path, "# " + command + "\n" + table)) return fail(path + ": cannot write");
  const std::string page = (fs::path(out_dir) / "index.html").string();
  const std::string page_html =
      campaigns::fidelity_html(rows, {command, CONVLAB_VERSION}, {"sim/index.html", "real/index.html"});
  if (!write_file(page, page_html)) return fail(page + ": cannot write");
  std::cout << table;
  std::cout << "wrote " << path << ", " << page << ", " << wrote_sim << ", " << wrote << '\n';
  return kExitOk;
}

}  // namespace convlab::cli
