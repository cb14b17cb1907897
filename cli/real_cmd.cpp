// convlab run --real SCENARIO... [--strategy S]... [--seeds N|A..B] [--variant V] [--out DIR]
//
// Every run of the scenarios (scenario, variant, strategy, seed: the campaign's order) on real
// processes, one at a time (realrun/): each run's history and logs in DIR/runs/NAME/, the same
// checkers and expectations as the simulator's runs, the same report files. Every run is planned
// before anything starts, so a world too large for this machine or a fault kind with no real
// realisation is refused up front. Ctrl-C (or SIGTERM) stops the run in progress and every
// process it started.
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/real.hpp"
#include "cli/scenarios.hpp"
#include "realrun/runner.hpp"
#include "reports/checkers.hpp"
#include "reports/series.hpp"
#include "server/strategies/registry.hpp"

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>

namespace convlab::cli {

namespace fs = std::filesystem;

namespace {

std::atomic<bool> g_stop{false};

void on_stop_signal(int) { g_stop = true; }

std::string program(const char* env, const char* built) {
  const char* v = std::getenv(env);
  return v != nullptr && *v != '\0' ? v : built;
}

struct PlannedRun {
  realrun::Plan plan;
  std::string name;  // its folder under DIR/runs
};

}  // namespace

StopSignals::StopSignals(void (*handler)(int)) {
  struct sigaction sa {};
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int_);
  sigaction(SIGTERM, &sa, &old_term_);
}

StopSignals::~StopSignals() {
  sigaction(SIGINT, &old_int_, nullptr);
  sigaction(SIGTERM, &old_term_, nullptr);
}

realrun::Programs real_programs() {
  return realrun::Programs{program("CONVLAB_SERVER_BIN", CONVLAB_SERVER_BIN), program("CONVLAB_LOAD_BIN", CONVLAB_LOAD_BIN),
                           program("CONVLAB_FAULTPROXY_BIN", CONVLAB_FAULTPROXY_BIN),
                           program("CONVLAB_PG_SH", CONVLAB_SOURCE_DIR "/scripts/pg.sh"),
                           program("CONVLAB_REDIS_SH", CONVLAB_SOURCE_DIR "/scripts/redis.sh"),
                           program("CONVLAB_CDN_SH", CONVLAB_SOURCE_DIR "/scripts/cdn.sh")};
}

int real_report(const std::vector<sim::Scenario>& scenarios, const campaigns::CampaignOptions& options,
                const std::string& out_dir, reports::Report& report) {
  // Plan every run first: refusals before any process starts.
  const realrun::Limits limits;
  std::vector<PlannedRun> runs;
  for (const campaigns::RunKey& k : campaigns::campaign_runs(scenarios, options)) {
    auto plan = realrun::plan_run(*k.scenario, *k.variant, *k.strategy, k.seed, limits);
    if (!plan) return fail("run --real: " + plan.error().message);
    const std::string name = k.scenario->name + "-" + k.variant->name + "-" + std::string(k.strategy->name) + "-seed" +
                             std::to_string(k.seed);
    runs.push_back({std::move(*plan), name});
  }
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec || !fs::is_directory(out_dir)) return fail(out_dir + ": cannot create the output directory");
  const realrun::Programs programs = real_programs();

  std::cout << "convlab run --real: " << runs.size() << (runs.size() == 1 ? " run" : " runs")
            << " on real processes, one at a time\n";
  std::string notes;
  for (const PlannedRun& r : runs) {
    for (const std::string& n : r.plan.notes) {
      const std::string line = "  " + r.plan.scenario + "/" + r.plan.variant + ": " + n + "\n";
      if (notes.find(line) == std::string::npos) notes += line;
    }
  }
  std::cout << notes << '\n' << std::flush;

  // Ctrl-C and SIGTERM end the run in progress; the runner stops every process it started.
  const StopSignals stop_signals(on_stop_signal);

  std::vector<reports::RunRecord> records;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const realrun::Plan& plan = runs[i].plan;
    const std::string prefix = "convlab real: [" + std::to_string(i + 1) + "/" + std::to_string(runs.size()) + "] " +
                               plan.scenario + "/" + plan.variant + "/" + plan.strategy + " seed " +
                               std::to_string(plan.seed) + ": ";
    const auto progress = [&](const std::string& line) { std::cerr << prefix << line << '\n' << std::flush; };
    const std::string dir = (fs::path(out_dir) / "runs" / runs[i].name).string();
    const auto started = std::chrono::steady_clock::now();
    auto out = realrun::run_plan(plan, programs, dir, g_stop, progress);
    if (!out) {
      if (g_stop) {
        std::cerr << prefix << "interrupted; every process it started is stopped\n";
        return 130;
      }
      return fail("run --real: " + plan.scenario + "/" + plan.variant + "/" + plan.strategy + " seed " +
                  std::to_string(plan.seed) + ": " + out.error().message + " (logs in " + dir + ")");
    }
    reports::Checker checker;
    reports::SeriesCollector series;
    history::Writer digest(nullptr);
    for (const history::Event& e : out->events) {
      checker.add(e);
      series.add(e);
      digest.write(e);
    }
    reports::RunRecord r;
    r.metrics = checker.finish();
    r.series = series.finish();
    r.wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    r.scenario = plan.scenario;
    r.variant = plan.variant;
    r.strategy = plan.strategy;
    r.seed = plan.seed;
    r.digest = digest.digest();
    if (out->load_exit != 0) progress("convlab-load exited " + std::to_string(out->load_exit) + " (see " + dir + "/load.log)");
    progress("history " + out->history_path);
    records.push_back(std::move(r));
  }
  report = campaigns::make_report(scenarios, options, std::move(records));
  return kExitOk;
}

int run_real(const std::vector<sim::Scenario>& scenarios, const campaigns::CampaignOptions& options,
             const std::string& out_dir, const std::string& junit_path, const std::string& command) {
  const auto t0 = std::chrono::steady_clock::now();
  reports::Report report;
  if (const int code = real_report(scenarios, options, out_dir, report); code != kExitOk) return code;
  std::string wrote;
  if (auto ok = write_reports(report, out_dir, junit_path, command, wrote); !ok) return fail(ok.error().message);
  std::size_t held = 0;
  for (const reports::Verdict& v : report.verdicts) held += v.held ? 1 : 0;
  const std::size_t failed = report.verdicts.size() - held;
  const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << reports::comparison_table(report);
  std::cout << held << (held == 1 ? " expectation" : " expectations") << " held, " << failed << " failed\n";
  std::cout << report.runs.size() << " real runs in " << fixed(wall_s, 1) << " s wall time\n";
  std::cout << "wrote " << wrote << '\n';
  return failed == 0 ? kExitOk : kExitMismatch;
}

}  // namespace convlab::cli
