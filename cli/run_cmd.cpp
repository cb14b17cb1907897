// convlab run SCENARIO... [--strategy S]... [--seeds N|A..B] [--jobs J] [--out DIR]
//                         [--variant NAME] [--junit FILE]
//
// Every chosen strategy on the same seeds and fault schedules (paired runs), in parallel across
// runs; the comparison table on stdout, report.json and report.md in DIR, and exit 1 when an
// expectation fails. Every scenario is loaded and checked before anything runs.
#include "campaigns/campaign.hpp"
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/export.hpp"
#include "cli/partial.hpp"
#include "cli/real.hpp"
#include "cli/scenarios.hpp"
#include "reports/report.hpp"
#include "reports/report_html.hpp"
#include "server/strategies/registry.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>

namespace convlab::cli {

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

void print_run_help(const po::options_description& desc) {
  std::cout << "usage: convlab run SCENARIO... [--strategy NAME]... [--seeds N | A..B] [--jobs J]\n"
               "                   [--out DIR] [--variant NAME] [--junit FILE] [--shard K/N]\n"
               "                   [--openmetrics FILE]\n\n"
               "Runs every scenario (a YAML file, or a directory: every *.yaml in it) under each chosen\n"
               "strategy on the same seeds and fault schedules (paired runs), in parallel across runs.\n"
               "Prints the seeds and strategies first, then a strategy x metric table per scenario and\n"
               "variant (mean over seeds, ± half-width of the 95% interval) with each expectation's\n"
               "verdict, and writes DIR/report.json, DIR/report.md and DIR/index.html (charts; opens\n"
               "offline). Every scenario is loaded and checked before anything runs. Progress goes to\n"
               "stderr.\n"
               "With --shard K/N (K from 0) only every N-th run from the K-th runs and DIR/partial.json\n"
               "is written; `convlab merge DIR...` joins the shards into report.json and report.md.\n"
               "--openmetrics FILE: the simulated counters as OpenMetrics text on a fixed epoch\n"
               "(docs/prometheus.md), for promtool tsdb create-blocks-from openmetrics.\n"
               "--real: the same runs against real processes instead of the simulator (a throwaway\n"
               "PostgreSQL, the world's convlab-servers, convlab-load, fault proxies), one at a time, with\n"
               "their histories in DIR/runs/; the same checkers, expectations and report files\n"
               "(docs/real-faults.md, \"Running a scenario\").\n"
               "--sim-and-real (or `convlab fidelity`): both worlds, DIR/sim/ and DIR/real/, and per\n"
               "metric the simulator's mean [interval] next to the real one, their ratio and a flag\n"
               "where the intervals are apart (DIR/fidelity.md; docs/real-faults.md, \"Fidelity\").\n\n"
               "strategies: " << strategy_names() << " (default: the scenario's own list, else all)\n"
               "seeds: N means 1..N; default: each scenario's `seeds`\n"
               "Exit: 0 every expectation held, 1 some failed, 2 bad input or flags.\n\n"
            << desc;
}

std::string join_names(const std::vector<const Strategy*>& ss) {
  std::string out;
  for (const Strategy* s : ss) out += (out.empty() ? "" : ", ") + std::string(s->name);
  return out;
}

}  // namespace

Result<void> write_reports(const reports::Report& report, const std::string& out_dir, const std::string& junit_path,
                           const std::string& command, std::string& wrote) {
  const std::string json_path = (fs::path(out_dir) / "report.json").string();
  const std::string md_path = (fs::path(out_dir) / "report.md").string();
  const std::string html_path = (fs::path(out_dir) / "index.html").string();
  if (!write_file(json_path, reports::to_json(report))) return make_error(json_path + ": cannot write");
  if (!write_file(md_path, reports::to_markdown(report))) return make_error(md_path + ": cannot write");
  if (!write_file(html_path, reports::report_html(report, {command, CONVLAB_VERSION}))) {
    return make_error(html_path + ": cannot write");
  }
  if (!junit_path.empty() && !write_file(junit_path, reports::to_junit(report))) {
    return make_error(junit_path + ": cannot write the JUnit file");
  }
  wrote = json_path + ", " + md_path + ", " + html_path + (junit_path.empty() ? "" : ", " + junit_path);
  return {};
}

int run_cmd(const std::vector<std::string>& args) {
  po::options_description desc("options");
  desc.add_options()
      ("help,h", "show this help")
      ("strategy,s", po::value<std::vector<std::string>>(), "strategy to run; repeat or comma-separate")
      ("seeds", po::value<std::string>(), "N (seeds 1..N) or A..B")
      ("jobs,j", po::value<std::string>(), "runs in parallel (default: the number of cores)")
      ("out,o", po::value<std::string>()->default_value("out/run"), "directory for report.json, report.md and index.html")
      ("variant", po::value<std::string>(), "run only this variant of each scenario")
      ("junit", po::value<std::string>(), "also write JUnit XML here: one testcase per expectation")
      ("shard", po::value<std::string>(), "K/N: run only shard K (0-based) of N; writes DIR/partial.json")
      ("openmetrics", po::value<std::string>(), "also write every run's metrics as OpenMetrics text here")
      ("real", "run against real processes (PostgreSQL, convlab-server, convlab-load), one run at a time: docs/real-faults.md")
      ("sim-and-real", "run in the simulator and on real processes, and compare every metric (convlab fidelity)")
      ("scenario", po::value<std::vector<std::string>>(), "scenario file or directory");
  po::positional_options_description pos;
  pos.add("scenario", -1);
  po::variables_map vm;
  int code = kExitOk;
  if (!parse_options("run", args, desc, pos, vm, code)) return code;
  if (vm.count("help")) {
    print_run_help(desc);
    return kExitOk;
  }
  if (!vm.count("scenario")) return fail("run: missing SCENARIO (a file or a directory; see convlab run --help)");

  campaigns::CampaignOptions options;
  if (!campaign_flags("run", vm, options, code)) return code;
  const std::string out_dir = vm["out"].as<std::string>();
  if (out_dir.empty()) return fail("run: --out: expected a directory");
  const std::string junit_path = vm.count("junit") ? vm["junit"].as<std::string>() : "";
  if (vm.count("junit") && junit_path.empty()) return fail("run: --junit: expected a file name");
  const bool sharded = vm.count("shard") > 0;
  const std::string om_path = vm.count("openmetrics") ? vm["openmetrics"].as<std::string>() : "";
  if (vm.count("openmetrics") && om_path.empty()) return fail("run: --openmetrics: expected a file name");

  // Load and check everything before running anything.
  auto files = scenario_files(vm["scenario"].as<std::vector<std::string>>());
  if (!files) return fail(files.error().message);
  Loaded loaded = load_scenarios(*files);
  if (!loaded.problems.empty()) return fail_lines(loaded.problems);
  std::vector<sim::Scenario> scenarios;
  if (options.variant.empty()) {
    scenarios = std::move(loaded.scenarios);
  } else {
    std::vector<std::string> known;
    std::vector<std::string> skipped;
    for (sim::Scenario& sc : loaded.scenarios) {
      const bool has = std::any_of(sc.variants.begin(), sc.variants.end(),
                                   [&](const sim::Variant& v) { return v.name == options.variant; });
      for (const sim::Variant& v : sc.variants) {
        if (std::find(known.begin(), known.end(), v.name) == known.end()) known.push_back(v.name);
      }
      if (has) {
        scenarios.push_back(std::move(sc));
      } else {
        skipped.push_back(sc.file);
      }
    }
    if (scenarios.empty()) {
      std::string list;
      for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
      return fail("run: --variant " + options.variant + ": no scenario has that variant (variants: " + list + ")");
    }
    for (const std::string& f : skipped) {
      std::cerr << "convlab: note: " << f << " has no variant " << options.variant << "; skipped\n";
    }
  }
  // Reports group runs by scenario name: two files with one name would pool their seeds.
  for (std::size_t i = 0; i < scenarios.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (scenarios[i].name == scenarios[j].name) {
        return fail(scenarios[i].file + ": scenario name '" + scenarios[i].name + "' is also the name of " +
                    scenarios[j].file + " (names must differ within one run)");
      }
    }
  }
  std::vector<std::string> problems;
  for (const sim::Scenario& sc : scenarios) {
    auto p = world_problem_lines(sc, strategies_of(sc, options.strategies), options.variant);
    problems.insert(problems.end(), p.begin(), p.end());
  }
  if (!problems.empty()) return fail_lines(problems);
  if (vm.count("sim-and-real")) {
    if (vm.count("real") || sharded || !om_path.empty() || !junit_path.empty()) {
      return fail("run: --sim-and-real: takes none of --real, --shard, --openmetrics, --junit");
    }
    return run_fidelity(scenarios, options, out_dir, command_line("run", args));
  }
  if (vm.count("real")) {
    if (sharded) return fail("run: --real: --shard is for simulated runs (real runs go one at a time)");
    if (!om_path.empty()) return fail("run: --real: --openmetrics is for simulated runs");
    return run_real(scenarios, options, out_dir, junit_path, command_line("run", args));
  }

  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec || !fs::is_directory(out_dir)) {
    return fail(out_dir + ": cannot create the output directory" + (ec ? ": " + ec.message() : ""));
  }
  if (!junit_path.empty()) {
    const fs::path parent = fs::path(junit_path).parent_path();
    if (!parent.empty()) fs::create_directories(parent, ec);
    if (!write_file(junit_path, "")) return fail(junit_path + ": cannot write the JUnit file");
  }

  // Like a simulator logging its seed first: what runs, so any run can be replayed.
  std::size_t n_runs = 0;
  std::cout << "convlab run: " << scenarios.size() << (scenarios.size() == 1 ? " scenario" : " scenarios") << ", "
            << options.jobs << (options.jobs == 1 ? " job" : " jobs") << '\n';
  for (const sim::Scenario& sc : scenarios) {
    std::vector<std::uint64_t> seeds = options.seeds;
    if (seeds.empty()) {
      for (std::uint64_t s = 1; s <= sc.seeds; ++s) seeds.push_back(s);  // as run_campaign does
    }
    const auto strats = strategies_of(sc, options.strategies);
    std::string variants;
    std::size_t n_variants = 0;
    for (const sim::Variant& v : sc.variants) {
      if (!options.variant.empty() && v.name != options.variant) continue;
      variants += (variants.empty() ? "" : ", ") + v.name;
      ++n_variants;
    }
    n_runs += n_variants * strats.size() * seeds.size();
    std::cout << "  " << sc.name << " (" << sc.file << "): seeds " << seeds_text(seeds) << "; strategies "
              << join_names(strats) << "; variants " << variants << '\n';
  }
  {
    const sim::Scenario& sc = scenarios.front();
    const sim::Variant& v = options.variant.empty() ? sc.variants.front() : *std::find_if(
        sc.variants.begin(), sc.variants.end(), [&](const sim::Variant& x) { return x.name == options.variant; });
    const std::uint64_t seed = options.seeds.empty() ? 1 : options.seeds.front();
    std::cout << "  " << n_runs << (n_runs == 1 ? " run" : " runs") << "; replay one with e.g. convlab replay "
              << sc.file << " --strategy " << strategies_of(sc, options.strategies).front()->name << " --seed "
              << seed << " --variant " << v.name << "\n\n"
              << std::flush;
  }

  const std::size_t mine = n_runs / options.shards + (options.shard < n_runs % options.shards ? 1 : 0);
  if (sharded) {
    std::cout << "shard " << options.shard << "/" << options.shards << ": " << mine << " of the " << n_runs
              << " runs\n\n" << std::flush;
  }
  std::unique_ptr<OpenMetricsSink> sink;
  if (!om_path.empty()) {
    sink = std::make_unique<OpenMetricsSink>(mine);
    options.on_run = [&sink](std::size_t i, const reports::RunRecord& r, const std::vector<history::Event>& events) {
      sink->add(i, r, events, r.scenario, {});
    };
  }
  const auto t0 = std::chrono::steady_clock::now();
  const reports::Report report = campaigns::run_campaign(scenarios, options);
  if (sink && !write_file(om_path, sink->text())) return fail(om_path + ": cannot write");
  if (sharded) {
    std::vector<std::pair<std::string, std::string>> texts;
    for (const sim::Scenario& sc : scenarios) {
      std::ifstream in(sc.file, std::ios::binary);
      std::stringstream bytes;
      bytes << in.rdbuf();
      texts.emplace_back(sc.file, bytes.str());
    }
    const std::string path = (fs::path(out_dir) / kPartialFile).string();
    if (!write_file(path, partial_to_json(make_partial("run", run_spec(texts, spec_options(options)), options, n_runs,
                                                       report.runs)))) {
      return fail(path + ": cannot write");
    }
    std::cout << report.runs.size() << " runs; wrote " << path << (om_path.empty() ? "" : ", " + om_path)
              << " (join the shards with convlab merge)\n";
    return kExitOk;
  }
  const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  double sim_s = 0;
  for (const reports::RunRecord& r : report.runs) sim_s += r.metrics.sim_seconds;
  std::size_t held = 0;
  for (const reports::Verdict& v : report.verdicts) held += v.held ? 1 : 0;
  const std::size_t failed = report.verdicts.size() - held;

  std::string wrote;
  if (auto ok = write_reports(report, out_dir, junit_path, command_line("run", args), wrote); !ok) {
    return fail(ok.error().message);
  }

  std::cout << reports::comparison_table(report);
  std::cout << held << (held == 1 ? " expectation" : " expectations") << " held, " << failed << " failed\n";
  std::cout << report.runs.size() << " runs in " << fixed(wall_s, 3) << " s wall time on " << options.jobs
            << (options.jobs == 1 ? " job" : " jobs") << ", " << fixed(sim_s / std::max(wall_s, 1e-9), 1)
            << " simulated s per wall s\n";
  std::cout << "wrote " << wrote << (om_path.empty() ? "" : ", " + om_path) << '\n';
  return failed == 0 ? kExitOk : kExitMismatch;
}

}  // namespace convlab::cli
