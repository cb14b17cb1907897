// convlab replay SCENARIO --strategy S --seed N [--variant V] [--history FILE] [--out DIR]
//
// Reproduces one run of `convlab run` exactly (same scenario, variant, strategy and seed: the
// same history bytes and digest). (`convlab trace replay` is cli/trace_replay_cmd.cpp.)
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

int replay_cmd(const std::vector<std::string>& args) {
  po::options_description desc("options");
  desc.add_options()
      ("help,h", "show this help")
      ("strategy,s", po::value<std::string>(), "strategy (required)")
      ("seed", po::value<std::string>(), "seed (required)")
      ("variant", po::value<std::string>(), "variant (default: the scenario's first)")
      ("history", po::value<std::string>(), "write the run's history (JSON lines) to this file")
      ("out,o", po::value<std::string>(), "write DIR/index.html: the run's timeline and metrics")
      ("positional", po::value<std::vector<std::string>>(), "scenario file");
  po::positional_options_description pos;
  pos.add("positional", -1);
  po::variables_map vm;
  int code = kExitOk;
  if (!parse_options("replay", args, desc, pos, vm, code)) return code;
  if (vm.count("help")) {
    std::cout << "usage: convlab replay SCENARIO --strategy NAME --seed N [--variant V] [--history FILE]\n"
                 "                      [--out DIR]\n\n"
                 "Runs exactly one run of the scenario, as `convlab run` ran it: the same seed gives the\n"
                 "same history bytes and digest. Prints the checkers' metrics and the digest, writes\n"
                 "the history (JSON lines, docs/history.md) to FILE when given, and with --out a page\n"
                 "DIR/index.html (opens offline): a timeline of who edited what and when, when each\n"
                 "client saw each edit, the fault windows and the lost characters with their cause.\n\n"
                 "strategies: " << strategy_names() << "\n"
                 "Exit: 0 the replicas converged, 1 they did not, 2 bad input or flags.\n\n"
              << desc;
    return kExitOk;
  }
  std::string file;
  if (!one_positional("replay", "SCENARIO", vm, file, code)) return code;
  if (!vm.count("strategy")) return fail("replay: --strategy is required (known: " + strategy_names() + ")");
  if (!vm.count("seed")) return fail("replay: --seed is required");
  const Strategy* strategy = strategy_or_fail(vm["strategy"].as<std::string>(), code);
  if (strategy == nullptr) return code;
  auto seed = parse_uint("--seed", vm["seed"].as<std::string>(), 0, std::numeric_limits<std::int64_t>::max());
  if (!seed) return fail("replay: " + seed.error().message);

  Loaded loaded = load_scenarios({file});
  if (!loaded.problems.empty()) return fail_lines(loaded.problems);
  const sim::Scenario& sc = loaded.scenarios.front();
  const sim::Variant* variant = &sc.variants.front();
  if (vm.count("variant")) {
    const std::string name = vm["variant"].as<std::string>();
    auto it = std::find_if(sc.variants.begin(), sc.variants.end(), [&](const sim::Variant& v) { return v.name == name; });
    if (it == sc.variants.end()) {
      std::string names;
      for (const sim::Variant& v : sc.variants) names += (names.empty() ? "" : ", ") + v.name;
      return fail("replay: --variant " + name + ": " + file + " has no such variant (variants: " + names + ")");
    }
    variant = &*it;
  }
  const auto problems = world_problem_lines(sc, {strategy}, variant->name);
  if (!problems.empty()) return fail_lines(problems);
  const std::string out_dir = vm.count("out") ? vm["out"].as<std::string>() : "";
  if (vm.count("out") && out_dir.empty()) return fail("replay: --out: expected a directory");
  const std::string html_path = out_dir.empty() ? "" : (std::filesystem::path(out_dir) / "index.html").string();
  if (!out_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(out_dir, ec);
    if (ec || !std::filesystem::is_directory(out_dir)) {
      return fail(out_dir + ": cannot create the output directory" + (ec ? ": " + ec.message() : ""));
    }
  }

  std::ofstream history_file;
  const std::string history_path = vm.count("history") ? vm["history"].as<std::string>() : "";
  if (!history_path.empty()) {
    history_file.open(history_path, std::ios::binary | std::ios::trunc);
    if (!history_file) return fail(history_path + ": cannot write the history file");
  }
  sim::RunOptions ro;
  ro.strategy = strategy;
  ro.seed = *seed;
  ro.scenario = sc.name;
  ro.variant = variant->name;
  ro.history_out = history_path.empty() ? nullptr : &history_file;
  reports::Checker checker;
  ro.on_event = [&checker](const history::Event& e) { checker.add(e); };
  // The timeline page draws every event; without --out nothing is held.
  ro.keep_events = !html_path.empty();
  const sim::RunOutput out = sim::run_world(variant->config, ro);
  if (!history_path.empty()) {
    history_file.flush();
    if (!history_file) return fail(history_path + ": cannot write the history file");
  }
  const reports::RunMetrics m = checker.finish();
  if (!html_path.empty()) {
    const std::string page = reports::run_html(out.events, m, reports::series_of(out.events), metrics_text(m),
                                               out.digest, {command_line("replay", args), CONVLAB_VERSION});
    std::ofstream f(html_path, std::ios::binary | std::ios::trunc);
    f << page;
    f.flush();
    if (!f) return fail(html_path + ": cannot write");
  }

  std::cout << line("scenario", sc.name + " (" + sc.file + ")") << line("variant", variant->name)
            << line("strategy", std::string(strategy->name)) << line("seed", std::to_string(*seed)) << '\n'
            << metrics_text(m) << '\n'
            << line("digest", out.digest);
  if (!history_path.empty()) std::cout << line("wrote", history_path + " (" + std::to_string(out.history_events) + " events)");
  if (!html_path.empty()) std::cout << line("wrote", html_path);
  if (out.refused > 0) {
    std::cout << line("refused", std::to_string(out.refused) + " server messages a client refused (first: " +
                                     one_line(out.refusal) + ")");
  }
  return m.converged && out.refused == 0 ? kExitOk : kExitMismatch;
}

}  // namespace convlab::cli
