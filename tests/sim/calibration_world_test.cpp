// A calibration's measured costs drive the simulated figures, each in its direction: the same
// world and seeds with one figure raised (server CPU per frame, commit time, the gathering time
// of group commit, NOTIFY delay) shows later visibility; deterministic (same figures, same bytes).
#include "reports/checkers.hpp"
#include "server/strategies/registry.hpp"
#include "sim/calibration.hpp"
#include "sim/world.hpp"
#include "tests/sim/worlds.hpp"

#include <gtest/gtest.h>

#include <functional>

namespace convlab::sim {
namespace {

const std::string kMeasured = R"(calibration:
  server_work_us_per_frame: 40
  server_work_us_per_read: 100
  commit_us: [800, 1600]
  commit_interval_us: 0
  notify_us: [300, 900]
  db_round_trip_us: [200, 400]
  host_cpus: 4
  host_us_per_frame: 60
)";

struct Figures {
  reports::RunMetrics metrics;
  std::string digest;
};

Figures run_calibrated(const std::function<void(Calibration&)>& change) {
  auto c = parse_calibration(kMeasured, "measured.yaml");
  EXPECT_TRUE(c.has_value()) << c.error().message;
  change(*c);
  WorldConfig w = test::small_world();
  w.clients = 8;
  w.workload.think_ms = {50, 150};
  apply_calibration(*c, w);
  RunOptions o;
  o.strategy = find_strategy("crdt");
  o.seed = 11;
  o.scenario = "calibrated";
  o.variant = "v";
  EXPECT_TRUE(world_problems(w, *o.strategy).empty());
  const RunOutput out = run_world(w, o);
  reports::Checker checker;
  for (const history::Event& e : out.events) checker.add(e);
  return {checker.finish(), out.digest};
}

TEST(CalibratedWorld, SameFiguresSameHistory) {
  const auto same = [](Calibration&) {};
  EXPECT_EQ(run_calibrated(same).digest, run_calibrated(same).digest);
}

TEST(CalibratedWorld, EachRaisedCostMakesVisibilityLater) {
  const Figures base = run_calibrated([](Calibration&) {});
  ASSERT_TRUE(base.metrics.converged);
  ASSERT_GT(base.metrics.visibility_ms.p50, 0.0);
  // Server CPU per frame: 40 us -> 20 ms, so frames queue at the servers' single workers.
  const Figures cpu = run_calibrated([](Calibration& c) { c.server_work_us_per_frame = 20000; });
  EXPECT_GT(cpu.metrics.visibility_ms.p50, base.metrics.visibility_ms.p50 + 10);
  // Commit time: ack after commit and bus propagation both wait for it.
  const Figures commit = run_calibrated([](Calibration& c) { c.commit_us = {40000, 60000}; });
  EXPECT_GT(commit.metrics.visibility_cross_ms.p50, base.metrics.visibility_cross_ms.p50 + 20);
  // Group commit's gathering time: a batch starts at least 50 ms after the previous one.
  const Figures gather = run_calibrated([](Calibration& c) { c.commit_interval_us = 50000; });
  EXPECT_GT(gather.metrics.visibility_cross_ms.p50, base.metrics.visibility_cross_ms.p50 + 10);
  // A shared machine: the two servers' frames (and the rest of the machine's work per frame) on
  // one core instead of four queue behind each other.
  const Figures host = run_calibrated([](Calibration& c) {
    c.server_work_us_per_frame = 12000;
    c.host_cpus = 1;
  });
  const Figures spread = run_calibrated([](Calibration& c) { c.server_work_us_per_frame = 12000; });
  EXPECT_GT(host.metrics.visibility_ms.p50, spread.metrics.visibility_ms.p50 + 10);
  // NOTIFY delay: only what crosses servers waits for it.
  const Figures notify = run_calibrated([](Calibration& c) { c.notify_us = {60000, 80000}; });
  EXPECT_GT(notify.metrics.visibility_cross_ms.p50, base.metrics.visibility_cross_ms.p50 + 30);
}

// A calibration on a loaded machine writes the share of the cores its processes had: a fraction
// is ceil(host_cpus) cores each running at host_cpus / ceil(host_cpus) of full speed, so every
// frame takes longer than on the whole cores.
TEST(CalibratedWorld, AFractionOfTheMachineIsSlowerThanItsWholeCores) {
  const auto on = [](double cpus) {
    return run_calibrated([cpus](Calibration& c) {
      c.server_work_us_per_frame = 6000;
      c.host_cpus = cpus;
    });
  };
  const Figures half = on(0.5);
  const Figures one = on(1);
  const Figures one_and_half = on(1.5);
  const Figures two = on(2);
  EXPECT_GT(half.metrics.visibility_ms.p50, one.metrics.visibility_ms.p50 + 5);
  EXPECT_GT(one_and_half.metrics.visibility_ms.p50, two.metrics.visibility_ms.p50);
  EXPECT_EQ(on(0.5).digest, half.digest);  // deterministic
}

}  // namespace
}  // namespace convlab::sim
