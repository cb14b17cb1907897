// Presence in the simulator (issue 18, item 1): the sweep of scenarios/sweep/presence.yaml over
// viewers per document, judged on the counts it gives (the simulator is deterministic, so they
// are exact): naive broadcast sends each viewer ~ (n - 1) x moves/s frames, linear in the
// viewers; the coalescing fix sends each at most one frame per interval, flat from 2 to 50.
// And presence is never an edit: naive and fix runs of one seed make the same edits, acks and
// sightings, whatever the presence traffic.
#include "sim/scenario.hpp"
#include "tests/sim/checked_run.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>

namespace convlab::campaigns {
namespace {

using Point = CheckedRun;

Point run_point(const sim::WorldConfig& c, std::uint64_t seed) { return checked_run(c, "crdt", seed, "presence"); }

TEST(Presence, SweepNaiveGrowsLinearlyPerViewerFixStaysFlat) {
  auto sc = sim::load_scenario(std::string(CONVLAB_SCENARIOS) + "/sweep/presence.yaml");
  ASSERT_TRUE(sc.has_value()) << sc.error().message;
  ASSERT_EQ(sc->variants.size(), 2u);
  ASSERT_EQ(sc->variants[0].name, "naive");
  ASSERT_EQ(sc->variants[1].name, "fix");
  const double moves = sc->variants[0].config.workload.caret_moves_per_s;
  ASSERT_EQ(moves, 20.0);
  std::map<std::uint32_t, double> naive, fix;
  for (std::uint32_t n : {2u, 5u, 10u, 20u, 50u}) {
    sim::WorldConfig nc = sc->variants[0].config;
    sim::WorldConfig fc = sc->variants[1].config;
    nc.clients = fc.clients = n;
    const Point a = run_point(nc, 1);
    const Point b = run_point(fc, 1);
    naive[n] = a.metrics.awareness_msgs_per_viewer_s;
    fix[n] = b.metrics.awareness_msgs_per_viewer_s;
    // The sweep's figures, for the reader of the test log.
    std::printf("presence sweep: %2u viewers: naive %7.1f frames/s %8.0f bytes/s per viewer (%9.0f frames/s in all); "
                "fix %5.2f frames/s %7.0f bytes/s per viewer (%6.0f in all)\n",
                n, naive[n], a.metrics.awareness_bytes_per_viewer_s, a.metrics.awareness_msgs_per_s, fix[n],
                b.metrics.awareness_bytes_per_viewer_s, b.metrics.awareness_msgs_per_s);
    // Naive: each viewer receives every other viewer's every move while both are connected
    // (they arrive over the first second and move from half a second after): between 70% and
    // 100% of (n - 1) x moves.
    EXPECT_LE(naive[n], (n - 1) * moves) << n << " viewers";
    EXPECT_GE(naive[n], 0.7 * (n - 1) * moves) << n << " viewers";
    // Fix: one frame per 100 ms interval at most, and nearly every interval has a move.
    EXPECT_LE(fix[n], 10.0) << n << " viewers";
    EXPECT_GE(fix[n], 7.0) << n << " viewers";
    // Per viewer the fix's bytes hold every other caret that moved: they grow, but stay below
    // naive's, which carries the same carets one frame each.
    EXPECT_LT(b.metrics.awareness_bytes_per_viewer_s, a.metrics.awareness_bytes_per_viewer_s) << n << " viewers";
    // Presence is not an edit: the same edits, acknowledgements and sightings either way.
    EXPECT_EQ(a.metrics.edits, b.metrics.edits) << n;
    EXPECT_EQ(a.metrics.acked_edits, b.metrics.acked_edits) << n;
    EXPECT_EQ(a.metrics.visibility_ms.count, b.metrics.visibility_ms.count) << n;
    EXPECT_EQ(a.metrics.visibility_ms.p99, b.metrics.visibility_ms.p99) << n;
    EXPECT_EQ(a.metrics.lost_acked_chars, 0u) << n;
    EXPECT_EQ(b.metrics.lost_acked_chars, 0u) << n;
    EXPECT_TRUE(a.metrics.converged && b.metrics.converged) << n;
  }
  // Linear growth per viewer: 50 viewers cost each of them at least 20 times what 2 do.
  EXPECT_GE(naive[50], 20 * naive[2]);
  for (auto it = std::next(naive.begin()); it != naive.end(); ++it) {
    EXPECT_GT(it->second, std::prev(it)->second) << "naive per viewer grows with the viewers: " << it->first;
  }
  // Flat: from 2 to 50 viewers the fix's frames per viewer vary by less than 20%.
  const auto [lo, hi] = std::minmax_element(fix.begin(), fix.end(), [](auto& x, auto& y) { return x.second < y.second; });
  EXPECT_LE(hi->second, 1.2 * lo->second) << "fix: " << lo->first << " viewers " << lo->second << ", " << hi->first
                                          << " viewers " << hi->second;
}

TEST(Presence, NoCaretMovesNoPresenceTraffic) {
  auto sc = sim::load_scenario(std::string(CONVLAB_SCENARIOS) + "/sweep/presence.yaml");
  ASSERT_TRUE(sc.has_value()) << sc.error().message;
  sim::WorldConfig c = sc->variants[0].config;
  c.workload.caret_moves_per_s = 0;
  const Point p = run_point(c, 1);
  EXPECT_EQ(p.metrics.awareness_msgs_per_s, 0.0);
  EXPECT_EQ(p.metrics.awareness_msgs_per_viewer_s, 0.0);
  EXPECT_GT(p.metrics.edits, 0u);
}

}  // namespace
}  // namespace convlab::campaigns
