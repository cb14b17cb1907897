// convlab check HISTORY
// convlab validate SCENARIO... [--metrics]
//
// check runs the checkers on a history file, from a simulated or a real run; validate loads
// scenarios without running them.
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/scenarios.hpp"
#include "history/history.hpp"
#include "reports/checkers.hpp"
#include "reports/report_html.hpp"
#include "reports/series.hpp"
#include "server/strategies/registry.hpp"
#include "sim/world.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>

namespace convlab::cli {

namespace po = boost::program_options;

int check_cmd(const std::vector<std::string>& args) {
  po::options_description desc("options");
  desc.add_options()
      ("help,h", "show this help")
      ("positional", po::value<std::vector<std::string>>(), "history file");
  po::positional_options_description pos;
  pos.add("positional", -1);
  po::variables_map vm;
  int code = kExitOk;
  if (!parse_options("check", args, desc, pos, vm, code)) return code;
  if (vm.count("help")) {
    std::cout << "usage: convlab check HISTORY\n\n"
                 "Runs the checkers on a history file (JSON lines, docs/history.md) from a simulated or a\n"
                 "real run: convergence, lost acknowledged characters by cause, causality reversals,\n"
                 "visibility latency, stale loads, database queries. The digest is of the history as\n"
                 "read, so it matches `convlab replay`'s for a history that replay wrote.\n\n"
                 "Exit: 0 the replicas converged, 1 they did not, 2 a missing or malformed file.\n\n"
              << desc;
    return kExitOk;
  }
  std::string file;
  if (!one_positional("check", "HISTORY", vm, file, code)) return code;
  auto events = history::read_file(file);
  if (!events) return fail(events.error().message);
  if (events->empty()) return fail(file + ": empty history (no meta line)");

  history::Writer digest(nullptr);
  for (const history::Event& e : *events) digest.write(e);
  const reports::RunMetrics m = reports::check(*events);

  std::cout << line("history", file + " (" + std::to_string(events->size()) + " events)");
  const history::Event& first = events->front();
  if (first.type == history::EventType::kMeta) {
    for (const char* key : {"scenario", "variant", "strategy", "seed"}) {
      auto it = first.meta.find(key);
      if (it != first.meta.end()) std::cout << line(key, it->second);
    }
  }
  std::cout << '\n' << metrics_text(m) << '\n' << line("digest", digest.digest());
  return m.converged ? kExitOk : kExitMismatch;
}

int validate_cmd(const std::vector<std::string>& args) {
  po::options_description desc("options");
  desc.add_options()
      ("help,h", "show this help")
      ("metrics", "list the metric names expectations may use, one per line")
      ("positional", po::value<std::vector<std::string>>(), "scenario file or directory");
  po::positional_options_description pos;
  pos.add("positional", -1);
  po::variables_map vm;
  int code = kExitOk;
  if (!parse_options("validate", args, desc, pos, vm, code)) return code;
  if (vm.count("help")) {
    std::cout << "usage: convlab validate SCENARIO... [--metrics]\n\n"
                 "Loads each scenario (a YAML file, or a directory: every *.yaml in it) without running\n"
                 "it, and checks every variant against every strategy it names. Prints\n"
                 "`ok FILE (N variants, M expectations)` per good file and every problem of a bad one\n"
                 "as FILE:LINE:COLUMN: KEY: PROBLEM (docs/scenarios.md).\n"
                 "--metrics lists the metric names expectations may use.\n\n"
                 "Exit: 0 every file is valid, 2 some file is not (or bad flags).\n\n"
              << desc;
    return kExitOk;
  }
  const bool metrics = vm.count("metrics") > 0;
  if (metrics) {
    for (const std::string& name : reports::metric_names()) std::cout << name << '\n';
  }
  if (!vm.count("positional")) {
    if (metrics) return kExitOk;
    return fail("validate: missing SCENARIO (a file or a directory; see convlab validate --help)");
  }
  auto files = scenario_files(vm["positional"].as<std::vector<std::string>>());
  if (!files) return fail(files.error().message);
  bool all_ok = true;
  for (const std::string& f : *files) {
    Loaded loaded = load_scenarios({f});
    std::vector<std::string> problems = std::move(loaded.problems);
    if (problems.empty()) {
      const sim::Scenario& sc = loaded.scenarios.front();
      problems = world_problem_lines(sc, strategies_of(sc, {}), "");
      if (problems.empty()) {
        std::cout << "ok " << f << " (" << sc.variants.size() << (sc.variants.size() == 1 ? " variant, " : " variants, ")
                  << sc.expectations.size() << (sc.expectations.size() == 1 ? " expectation)" : " expectations)")
                  << '\n' << std::flush;
        continue;
      }
    }
    all_ok = false;
    fail_lines(problems);
  }
  return all_ok ? kExitOk : kExitUsage;
}

}  // namespace convlab::cli
