// The calibration fragment `convlab calibrate` writes (sim/calibration.hpp) and a scenario's
// `calibration: FILE` that includes it: what each figure sets in the simulated world, what the
// world may still override, and the errors (FILE:LINE:COLUMN, in the file that has the problem).
#include "sim/calibration.hpp"
#include "sim/scenario.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

namespace convlab::sim {
namespace {

namespace fs = std::filesystem;

#define EXPECT_HAS(haystack, needle) \
  EXPECT_NE((haystack).find(needle), std::string::npos) << "missing [" << (needle) << "] in:\n" << (haystack)

// Line numbers matter: the tests below point at them.
const std::string kFragment = R"(# measured
calibration:
  measured_with: {strategy: crdt, servers: 2, clients: 100, docs: 20, rate_per_client: 5, seconds: 6}
  server_work_us_per_frame: 41
  server_work_us_per_read: 150
  commit_us: [700, 2100]
  commit_interval_us: 8000
  notify_us: [300, 1200]
  db_round_trip_us: [200, 600]
  host_cpus: 2
  host_us_per_frame: 110
)";

std::string bad(std::string text, const std::string& from, const std::string& to) {
  text.replace(text.find(from), from.size(), to);
  auto c = parse_calibration(text, "cal.yaml");
  EXPECT_FALSE(c.has_value()) << to;
  return c ? std::string() : c.error().message;
}

TEST(Calibration, ReadsEveryFigureAndSetsTheSimulatedCosts) {
  auto c = parse_calibration(kFragment, "cal.yaml");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->measured.strategy, "crdt");
  EXPECT_EQ(c->measured.clients, 100u);
  EXPECT_EQ(c->server_work_us_per_frame, 41);
  EXPECT_EQ(c->commit_us.max, 2100);
  WorldConfig w;
  apply_calibration(*c, w);
  EXPECT_EQ(w.servers.work_us_per_msg, 41);
  EXPECT_EQ(w.servers.work_us_per_read, 150);
  EXPECT_EQ(w.database.commit_range_us().min, 700);
  EXPECT_EQ(w.database.commit_range_us().max, 2100);
  EXPECT_EQ(w.database.commit_interval_us, 8000);
  // Per hop: a notification crosses two (database -> bus -> server), a read goes and comes back.
  EXPECT_EQ(w.network.bus_us().min, 150);
  EXPECT_EQ(w.network.bus_us().max, 600);
  EXPECT_EQ(w.network.db_us().min, 100);
  EXPECT_EQ(w.network.db_us().max, 300);
  EXPECT_EQ(w.servers.host_cpus, 2.0);
  EXPECT_EQ(w.servers.host_us_per_frame, 110);
}

TEST(Calibration, WrittenTextReadsBackToTheSameFigures) {
  auto c = parse_calibration(kFragment, "cal.yaml");
  ASSERT_TRUE(c.has_value());
  const std::string text = format_calibration(*c);
  auto again = parse_calibration(text, "again.yaml");
  ASSERT_TRUE(again.has_value()) << again.error().message << "\n" << text;
  EXPECT_EQ(format_calibration(*again), text);
}

TEST(Calibration, BadKeysAndValuesNameTheirPlace) {
  EXPECT_HAS(bad(kFragment, "  commit_interval_us", "  commit_intervl_us"),
             "cal.yaml:7:3: calibration.commit_intervl_us: unknown key");
  EXPECT_HAS(bad(kFragment, "frame: 41", "frame: 4.5"),
             "cal.yaml:4:29: calibration.server_work_us_per_frame: expected an integer, got \"4.5\"");
  EXPECT_HAS(bad(kFragment, "[700, 2100]", "[2100, 700]"), "cal.yaml:6:14: calibration.commit_us: range has min > max");
  EXPECT_HAS(bad(kFragment, "[300, 1200]", "[-3, 1200]"), "cal.yaml:8:15: calibration.notify_us[0]:");
  EXPECT_HAS(bad(kFragment, "[200, 600]", "250"),
             "cal.yaml:9:21: calibration.db_round_trip_us: expected a range [min, max] of microseconds, got \"250\"");
  EXPECT_HAS(bad(kFragment, "docs: 20", "documents: 20"), "cal.yaml:3:");
  EXPECT_HAS(bad(kFragment, "  server_work_us_per_read: 150\n", ""),
             "cal.yaml:2:1: calibration.server_work_us_per_read: required key is missing");
  EXPECT_HAS(bad(kFragment, "calibration:", "calibrate:"), "cal.yaml:2:1: ");
  EXPECT_HAS(bad(kFragment, "host_cpus: 2", "host_cpus: 0"), "cal.yaml:10:14: calibration.host_cpus:");
  EXPECT_HAS(bad(kFragment, "host_cpus: 2", "host_cpus: 0.01"), "cal.yaml:10:14: calibration.host_cpus:");
  EXPECT_HAS(bad(kFragment, "host_cpus: 2", "host_cpus: 5000"), "cal.yaml:10:14: calibration.host_cpus:");
  EXPECT_HAS(bad(kFragment, "host_cpus: 2", "host_cpus: two"), "cal.yaml:10:14: calibration.host_cpus: expected a number");
}

// On a loaded machine `convlab calibrate` measures the share of the cores its processes had: a
// fraction, read, applied and written back as is.
TEST(Calibration, AFractionalMachineIsTheShareItsProcessesHad) {
  std::string text = kFragment;
  text.replace(text.find("host_cpus: 2"), 12, "host_cpus: 1.37");
  auto c = parse_calibration(text, "cal.yaml");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_DOUBLE_EQ(c->host_cpus, 1.37);
  WorldConfig w;
  apply_calibration(*c, w);
  EXPECT_DOUBLE_EQ(w.servers.host_cpus, 1.37);
  EXPECT_HAS(format_calibration(*c), "\n  host_cpus: 1.37  #");
}

class CalibrationInclude : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("convlab-calibration-test-" + std::to_string(::getpid()));
    fs::create_directories(dir_ / "cal");
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / name;
    std::ofstream(p) << text;
    return p.string();
  }
  static std::string scenario(const std::string& include, const std::string& world_extra = "") {
    return "name: calibrated\n"
           "calibration: " + include + "\n"
           "world:\n"
           "  clients: 4\n" + world_extra +
           "variants:\n"
           "  naive: {}\n"
           "  fix: {database: {commit_ms: [9, 9]}}\n";
  }
  fs::path dir_;
};

TEST_F(CalibrationInclude, ARelativePathIsTheScenariosDirectorysAndTheWorldStillOverrides) {
  write("cal/this-machine.yaml", kFragment);
  auto sc = load_scenario(write("s.yaml", scenario("cal/this-machine.yaml", "  network: {server_bus_ms: [4, 4]}\n")));
  ASSERT_TRUE(sc.has_value()) << sc.error().message;
  const WorldConfig& naive = sc->variants[0].config;
  EXPECT_EQ(naive.calibration, (dir_ / "cal/this-machine.yaml").string());
  EXPECT_EQ(naive.servers.work_us_per_msg, 41);
  EXPECT_EQ(naive.database.commit_range_us().min, 700);  // calibrated
  EXPECT_EQ(naive.network.bus_us().min, 4000);           // the world's own key replaces the figure
  const WorldConfig& fix = sc->variants[1].config;
  EXPECT_EQ(fix.database.commit_range_us().min, 9000);  // the variant's own key replaces the figure
  EXPECT_EQ(fix.servers.work_us_per_msg, 41);
}

TEST_F(CalibrationInclude, AProblemInTheFragmentIsReportedAtTheFragmentsOwnPlace) {
  std::string broken = kFragment;
  broken.replace(broken.find("8000"), 4, "soon");
  const std::string frag = write("cal/broken.yaml", broken);
  auto sc = load_scenario(write("s.yaml", scenario("cal/broken.yaml")));
  ASSERT_FALSE(sc.has_value());
  EXPECT_HAS(sc.error().message, frag + ":7:23: calibration.commit_interval_us: expected an integer, got \"soon\"");
}

TEST_F(CalibrationInclude, AMissingFragmentIsAProblemOfTheScenarioAtItsKey) {
  const std::string s = write("s.yaml", scenario("cal/nowhere.yaml"));
  auto sc = load_scenario(s);
  ASSERT_FALSE(sc.has_value());
  EXPECT_HAS(sc.error().message, s + ":2:14: calibration: no calibration fragment at");
  auto bad_kind = load_scenario(write("t.yaml", scenario("[a, b]")));
  ASSERT_FALSE(bad_kind.has_value());
  EXPECT_HAS(bad_kind.error().message, ":2:14: calibration:");
}

}  // namespace
}  // namespace convlab::sim
