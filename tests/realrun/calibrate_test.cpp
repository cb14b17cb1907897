// `convlab calibrate` (realrun/calibrate.hpp): the figures read from the servers' /metrics and
// psql (IO-free), and the command end to end on real processes, short and bounded: its fragment
// is read back by a scenario that includes it.
#include "realrun/calibrate.hpp"
#include "realrun/process.hpp"
#include "sim/scenario.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

namespace convlab::realrun {
namespace {

namespace fs = std::filesystem;

const std::string kMetrics = R"(# HELP convlab_frames_received_total Client frames
# TYPE convlab_frames_received_total counter
convlab_frames_received_total{encoding="binary"} 120
convlab_frames_received_total{encoding="json"} 30
convlab_frames_received_totally 5
convlab_store_requests_total{kind="append"} 90
convlab_store_requests_total{kind="read_log"} 12
convlab_commit_seconds_bucket{le="0.001"} 10
convlab_commit_seconds_bucket{le="0.0025"} 50
convlab_commit_seconds_bucket{le="0.005"} 90
convlab_commit_seconds_bucket{le="+Inf"} 100
convlab_commit_seconds_sum 0.3
convlab_commit_seconds_count 100
)";

TEST(CalibrateFigures, PrometheusSamplesByNameAndLabel) {
  EXPECT_EQ(prometheus_sum(kMetrics, "convlab_frames_received_total"), 150.0);
  EXPECT_EQ(prometheus_sum(kMetrics, "convlab_store_requests_total", "kind=\"read_log\""), 12.0);
  EXPECT_EQ(prometheus_sum(kMetrics, "convlab_commit_seconds_count"), 100.0);
  EXPECT_FALSE(prometheus_sum(kMetrics, "convlab_nothing").has_value());
}

TEST(CalibrateFigures, QuantilesBetweenTwoScrapesOfABucketedHistogram) {
  const auto after = prometheus_buckets(kMetrics, "convlab_commit_seconds");
  ASSERT_EQ(after.size(), 4u);
  const std::vector<std::pair<double, double>> none(after.size(), {0, 0});
  EXPECT_DOUBLE_EQ(bucket_quantile(none, after, 0.1), 0.001);  // the 10th of 100 ends the first bucket
  EXPECT_DOUBLE_EQ(bucket_quantile(none, after, 0.3), 0.00175);  // halfway through 10..50
  // Only what happened between the scrapes counts: the 10 under 1 ms came before.
  std::vector<std::pair<double, double>> before = after;
  for (auto& b : before) b.second = 10;
  EXPECT_DOUBLE_EQ(bucket_quantile(before, after, 0.5), 0.0025 + 0.0025 * 5 / 40);
  // The range for the simulator's uniform draw is centred on the mean, as wide as p10..p90.
  const sim::RangeUs r = range_around_mean(0.003, 0.001, 0.005);
  EXPECT_EQ(r.min, 1000);
  EXPECT_EQ(r.max, 5000);
  EXPECT_EQ(range_around_mean(0.001, 0.0, 0.01).min, 0);
}

TEST(CalibrateFigures, PsqlTimingLines) {
  const auto t = psql_times("Timing is on.\nTime: 0.250 ms\nnoise\nTime: 1.5 ms\n");
  ASSERT_EQ(t.size(), 2u);
  EXPECT_DOUBLE_EQ(t[0], 0.00025);
  EXPECT_DOUBLE_EQ(t[1], 0.0015);
}

TEST(CalibrateFigures, MachineCpuFromProcStat) {
  // user nice system idle iowait irq softirq steal guest guest_nice, in ticks of 1/100 s.
  const auto m = parse_proc_stat("cpu  1000 50 300 4000 100 20 30 7 0 0\ncpu0 500 25 150 2000 50 10 15 3 0 0\nintr 1\n", 100);
  ASSERT_TRUE(m.has_value());
  EXPECT_DOUBLE_EQ(m->busy_s, 14.0);  // user + nice + system + irq + softirq
  EXPECT_DOUBLE_EQ(m->idle_s, 41.0);  // idle + iowait
  EXPECT_DOUBLE_EQ(m->steal_s, 0.07);
  EXPECT_FALSE(parse_proc_stat("intr 1\n", 100).has_value());
  EXPECT_FALSE(parse_proc_stat("cpu  1 2\n", 100).has_value());
}

TEST(CalibrateFigures, AvailableCpusAreTheProcessesCpuAndTheIdleTime) {
  const MachineCpu before{100, 50, 0};
  // 10 s on 2 cores: the measured processes used 6 s, 4 s stayed idle, other tenants took 10 s:
  // the processes had 1 core.
  EXPECT_DOUBLE_EQ(available_cpus(before, MachineCpu{116, 54, 0}, 6, 10, 2), 1.0);
  // An idle machine otherwise: all of it.
  EXPECT_DOUBLE_EQ(available_cpus(before, MachineCpu{106, 64, 0}, 6, 10, 2), 2.0);
  // A crowded one: what they got, in hundredths; never below 0.05 nor above the cores.
  EXPECT_DOUBLE_EQ(available_cpus(before, MachineCpu{119, 50.3, 0}, 3.4, 10, 2), 0.37);
  EXPECT_DOUBLE_EQ(available_cpus(before, MachineCpu{120, 50, 0}, 0.01, 10, 2), 0.05);
  EXPECT_DOUBLE_EQ(available_cpus(before, MachineCpu{100, 80, 0}, 5, 10, 2), 2.0);
}

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Calibrate, MeasuresRealProcessesIntoAFragmentAScenarioIncludes) {
  if (!fs::exists("/usr/lib/postgresql/15/bin/initdb")) {
    GTEST_SKIP() << "PostgreSQL 15 is not installed (scripts/setup.sh installs it)";
  }
  const fs::path dir = fs::path(CONVLAB_REALRUN_OUT) / "Calibrate";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string frag = (dir / "this-machine.yaml").string();
  // A loaded machine: a busy loop per core, beside the measured processes for the whole run, so
  // they get a share of it and the fragment's host_cpus says which.
  const double cores = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::unique_ptr<Process>> burners;
  for (unsigned i = 0; i < static_cast<unsigned>(cores); ++i) {
    burners.push_back(std::make_unique<Process>(std::vector<std::string>{"/bin/sh", "-c", "while :; do :; done"},
                                                (dir / ("burner" + std::to_string(i) + ".log")).string(), false));
  }
  const int code = run_command({CONVLAB_EXE, "calibrate", "--servers", "2", "--clients", "20", "--docs", "4", "--rate",
                                "4", "--seconds", "2", "--poll-seconds", "1", "--out", frag},
                               (dir / "calibrate.log").string(), 180000);
  burners.clear();  // killed and reaped
  const std::string log = read((dir / "calibrate.log").string());
  ASSERT_EQ(code, 0) << log;
  // Progress through every phase on the terminal.
  for (const char* phase : {"[1/4] PostgreSQL", "[2/4] frames", "[3/4] polls", "[4/4] reads", "wrote "}) {
    EXPECT_NE(log.find(phase), std::string::npos) << phase << "\n" << log;
  }
  auto c = sim::load_calibration(frag);
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->measured.servers, 2u);
  EXPECT_GT(c->server_work_us_per_frame, 0);  // a real server spends CPU on a frame
  EXPECT_GT(c->commit_us.max, 0);             // and PostgreSQL time on a commit (fsync on)
  EXPECT_GT(c->notify_us.max, 0);
  EXPECT_GT(c->db_round_trip_us.max, 0);
  EXPECT_EQ(c->commit_interval_us, 8000);  // the servers' group_commit.interval_ms
  // The cores the processes had, not the machine's: the busy loops took their share.
  EXPECT_GE(c->host_cpus, 0.05);
  EXPECT_LT(c->host_cpus, 0.75 * cores) << log;
  EXPECT_NE(log.find("CPU these processes had: "), std::string::npos) << log;
  std::printf("calibrate beside %g busy loops: host_cpus %g of %g cores\n", cores, c->host_cpus, cores);
  // A scenario includes it.
  std::ofstream(dir / "scenario.yaml") << "name: calibrated\ncalibration: this-machine.yaml\nworld: {clients: 2}\n"
                                          "variants: {naive: {}}\n";
  auto sc = sim::load_scenario((dir / "scenario.yaml").string());
  ASSERT_TRUE(sc.has_value()) << sc.error().message;
  EXPECT_EQ(sc->variants[0].config.servers.work_us_per_msg, c->server_work_us_per_frame);
}

}  // namespace
}  // namespace convlab::realrun
