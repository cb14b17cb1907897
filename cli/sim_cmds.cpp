// convlab replay SCENARIO --strategy S --seed N [--variant V] [--history FILE] [--out DIR]
// convlab check HISTORY
// convlab validate SCENARIO... [--metrics]
//
// replay reproduces one run of `convlab run` exactly (same scenario, variant, strategy and seed:
// the same history bytes and digest); check runs the checkers on a history file, from a
// simulated or a real run; validate loads scenarios without running them.
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

namespace {

std::string line(const std::string& name, const std::string& value) {
  return name + std::string(name.size() < 22 ? 22 - name.size() : 1, ' ') + value + '\n';
}

// The one positional argument of `command`, or an error line.
bool one_positional(const std::string& command, const std::string& what, const po::variables_map& vm,
                    std::string& out, int& code) {
  if (!vm.count("positional")) {
    code = fail(command + ": missing " + what + " (see convlab " + command + " --help)");
    return false;
  }
  const auto& v = vm["positional"].as<std::vector<std::string>>();
  if (v.size() != 1) {
    code = fail(command + ": expected one " + what + ", got " + std::to_string(v.size()) + " (see convlab " +
                command + " --help)");
    return false;
  }
  out = v.front();
  return true;
}

}  // namespace

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
