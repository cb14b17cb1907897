// convlab sweep SCENARIO --vary KEY=LIST... [--strategy S]... [--seeds N|A..B] [--jobs J]
//                        [--variant NAME] [--out DIR] [--shard K/N] [--openmetrics FILE]
//
// One scenario over a grid of settings, every point under each strategy and seed, in parallel
// across runs; DIR/sweep.json, sweep.csv and sweep.md (or DIR/partial.json for one shard).
#include "campaigns/campaign.hpp"
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/export.hpp"
#include "cli/partial.hpp"
#include "cli/scenarios.hpp"
#include "cli/sweep.hpp"
#include "server/strategies/registry.hpp"

#include <algorithm>
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

constexpr std::size_t kRunsMax = 1000000;

void print_sweep_help(const po::options_description& desc) {
  std::cout << "usage: convlab sweep SCENARIO --vary KEY=V1,V2,... [--vary ...] [--strategy NAME]...\n"
               "                     [--seeds N | A..B] [--jobs J] [--variant NAME] [--out DIR]\n"
               "                     [--shard K/N] [--openmetrics FILE]\n\n"
               "Runs one scenario over the grid of every --vary (the first outermost), each point under\n"
               "each strategy and variant on the same seeds, across cores, with progress on stderr. Writes\n"
               "DIR/sweep.json (every metric: mean, 95% interval, n), DIR/sweep.csv and DIR/sweep.md (the\n"
               "scaling curves: database queries/s, polls/s next to the polls/s the naive design predicts,\n"
               "bus messages/s, server work, wire bytes/s, memory, visibility p99).\n"
               "With --shard K/N (K from 0) only every N-th run from the K-th runs and DIR/partial.json\n"
               "is written; `convlab merge DIR...` joins the shards into the same files.\n\n"
               "KEY: " << varyable_keys() << "\n"
               "strategies: " << strategy_names() << "\n\n"
            << desc;
}

}  // namespace

int sweep_cmd(const std::vector<std::string>& args) {
  po::options_description desc("options");
  desc.add_options()
      ("help,h", "show this help")
      ("vary", po::value<std::vector<std::string>>(), "KEY=V1,V2,...: a setting and its values; repeat for a grid")
      ("strategy,s", po::value<std::vector<std::string>>(), "strategy to run; repeat or comma-separate")
      ("seeds", po::value<std::string>(), "N (seeds 1..N) or A..B (default: the scenario's seeds)")
      ("jobs,j", po::value<std::string>(), "runs in parallel (default: the number of cores)")
      ("variant", po::value<std::string>(), "run only this variant")
      ("out,o", po::value<std::string>()->default_value("out/sweep"), "directory for sweep.json, .csv, .md")
      ("shard", po::value<std::string>(), "K/N: run only shard K (0-based) of N; writes DIR/partial.json")
      ("openmetrics", po::value<std::string>(), "also write every run's metrics as OpenMetrics text here")
      ("scenario", po::value<std::vector<std::string>>(), "scenario file");
  po::positional_options_description pos;
  pos.add("scenario", -1);
  po::variables_map vm;
  int code = kExitOk;
  if (!parse_options("sweep", args, desc, pos, vm, code)) return code;
  if (vm.count("help")) {
    print_sweep_help(desc);
    return kExitOk;
  }
  if (!vm.count("scenario")) return fail("sweep: missing SCENARIO (a scenario file; see convlab sweep --help)");
  const auto scenario_args = vm["scenario"].as<std::vector<std::string>>();
  if (scenario_args.size() != 1) return fail("sweep: expected one SCENARIO file, got " + std::to_string(scenario_args.size()));
  if (!vm.count("vary")) return fail("sweep: missing --vary KEY=V1,V2,... (e.g. --vary servers=1,2,4)");

  campaigns::CampaignOptions options;
  if (!campaign_flags("sweep", vm, options, code)) return code;
  const bool sharded = vm.count("shard") > 0;
  const std::string out_dir = vm["out"].as<std::string>();
  if (out_dir.empty()) return fail("sweep: --out: expected a directory");
  const std::string om_path = vm.count("openmetrics") ? vm["openmetrics"].as<std::string>() : "";
  if (vm.count("openmetrics") && om_path.empty()) return fail("sweep: --openmetrics: expected a file name");

  const std::vector<std::string> vary_args = vm["vary"].as<std::vector<std::string>>();
  std::vector<Vary> vary;
  for (const std::string& a : vary_args) {
    auto v = parse_vary(a);
    if (!v) return fail("sweep: " + v.error().message);
    vary.push_back(std::move(*v));
  }

  const std::string file = scenario_args.front();
  // The loader's own errors first, exactly as `convlab run` gives them.
  Loaded loaded = load_scenarios({file});
  if (!loaded.problems.empty()) return fail_lines(loaded.problems);
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  auto plan = plan_sweep(file, text.str(), vary);
  if (!plan) return fail("sweep: " + plan.error().message);
  if (auto kept = keep_variant(*plan, options.variant); !kept) return fail("sweep: " + kept.error().message);

  std::vector<sim::Scenario> scenarios;
  std::size_t total = 0;
  std::vector<std::string> problems;
  for (const SweepPoint& p : plan->points) {
    const auto strats = strategies_of(p.scenario, options.strategies);
    auto lines = world_problem_lines(p.scenario, strats, options.variant);
    for (std::string& l : lines) l = p.scenario.name + ": " + l;
    problems.insert(problems.end(), lines.begin(), lines.end());
    const std::size_t seeds = options.seeds.empty() ? p.scenario.seeds : options.seeds.size();
    std::size_t variants = 0;
    for (const sim::Variant& v : p.scenario.variants) variants += options.variant.empty() || v.name == options.variant;
    total += variants * strats.size() * seeds;
    scenarios.push_back(p.scenario);
  }
  if (!problems.empty()) return fail_lines(problems);
  if (total > kRunsMax) {
    return fail("sweep: the grid has " + std::to_string(total) + " runs, more than " + std::to_string(kRunsMax) +
                " (fewer values, seeds or strategies)");
  }

  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec || !fs::is_directory(out_dir)) {
    return fail(out_dir + ": cannot create the output directory" + (ec ? ": " + ec.message() : ""));
  }

  const std::size_t mine = total / options.shards + (options.shard < total % options.shards ? 1 : 0);
  std::cout << "convlab sweep: " << plan->name << " (" << file << "), " << plan->points.size() << " points, " << total
            << " runs";
  if (options.shards > 1) std::cout << "; shard " << options.shard << "/" << options.shards << ": " << mine << " runs";
  std::cout << ", " << options.jobs << (options.jobs == 1 ? " job" : " jobs") << "\n" << std::flush;

  std::unique_ptr<OpenMetricsSink> sink;
  if (!om_path.empty()) {
    sink = std::make_unique<OpenMetricsSink>(mine);
    std::map<std::string, reports::Labels> labels;
    for (const SweepPoint& p : plan->points) {
      reports::Labels& l = labels[p.scenario.name];
      for (const auto& [k, v] : p.params) l.emplace_back(reports::label_name(k), v);
    }
    options.on_run = [&sink, labels, name = plan->name](std::size_t i, const reports::RunRecord& r,
                                                          const std::vector<history::Event>& events) {
      sink->add(i, r, events, name, labels.at(r.scenario));
    };
  }
  const reports::Report report = campaigns::run_campaign(scenarios, options);

  std::vector<std::string> wrote;
  if (sink) {
    if (!write_file(om_path, sink->text())) return fail(om_path + ": cannot write");
    wrote.push_back(om_path);
  }
  if (sharded) {
    const std::string path = (fs::path(out_dir) / kPartialFile).string();
    const std::string spec = sweep_spec(file, text.str(), vary_args, spec_options(options));
    if (!write_file(path, partial_to_json(make_partial("sweep", spec, options, total, report.runs)))) {
      return fail(path + ": cannot write");
    }
    wrote.insert(wrote.begin(), path);
  } else {
    const SweepFiles files = sweep_files(*plan, report.runs);
    for (const auto& [name, bytes] : {std::pair{"sweep.json", &files.json}, std::pair{"sweep.csv", &files.csv},
                                      std::pair{"sweep.md", &files.md}, std::pair{"index.html", &files.html}}) {
      const std::string path = (fs::path(out_dir) / name).string();
      if (!write_file(path, *bytes)) return fail(path + ": cannot write");
      wrote.push_back(path);
    }
    std::cout << files.md;
  }
  std::string list;
  for (const std::string& w : wrote) list += (list.empty() ? "" : ", ") + w;
  std::cout << "wrote " << list << '\n';
  return kExitOk;
}

}  // namespace convlab::cli
