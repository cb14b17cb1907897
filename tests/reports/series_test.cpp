// The chart series (reports/series.hpp): visibility CDF, divergence over time, fault windows,
// and their merge over seeds.
#include "reports/checkers.hpp"
#include "reports/series.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cmath>

namespace convlab::reports {
namespace {

using history::Event;
using history::EventType;

constexpr std::int64_t kMs = 1000;  // microseconds

Event at(EventType type, std::int64_t t_us) {
  Event e;
  e.type = type;
  e.t_us = t_us;
  return e;
}

Event run_meta(std::int64_t end_us) {
  Event e = at(EventType::kMeta, 0);
  e.meta = {{"end_us", std::to_string(end_us)}};
  return e;
}

// Client `client`'s edit number `op`, inserting one character (or nothing).
Event insert(std::int64_t t_us, std::uint32_t client, std::uint32_t op, bool inserts = true) {
  Event e = at(EventType::kEdit, t_us);
  e.client = client;
  e.op = op;
  if (inserts) {
    e.inserted = {{client, op, 1}};
    e.ins += std::u32string(1, U'x');
  }
  return e;
}

Event seen_by(std::int64_t t_us, std::uint32_t client, std::uint32_t author, std::uint32_t op) {
  Event e = at(EventType::kSeen, t_us);
  e.client = client;
  e.author = author;
  e.op = op;
  return e;
}

Event fault_event(EventType type, std::int64_t t_us, const std::string& kind, const std::string& detail) {
  Event e = at(type, t_us);
  e.kind = kind;
  e.detail = detail;
  return e;
}

TEST(SeriesVisibility, CdfIsEveryPercentileAndAgreesWithTheChecker) {
  std::vector<Event> h = {run_meta(10'000 * kMs), insert(0, 0, 0)};
  for (std::uint32_t i = 1; i <= 200; ++i) h.push_back(seen_by(static_cast<std::int64_t>(i) * 3 * kMs, i, 0, 0));
  const RunSeries s = series_of(h);
  const RunMetrics m = check(h);
  ASSERT_EQ(s.visibility_cdf_ms.size(), 100u);
  EXPECT_DOUBLE_EQ(s.visibility_cdf_ms[0], 6.0);    // p1: rank 2 of 200
  EXPECT_DOUBLE_EQ(s.visibility_cdf_ms[49], m.visibility_ms.p50);
  EXPECT_DOUBLE_EQ(s.visibility_cdf_ms[98], m.visibility_ms.p99);
  EXPECT_DOUBLE_EQ(s.visibility_cdf_ms[99], m.visibility_ms.max);
  EXPECT_TRUE(std::is_sorted(s.visibility_cdf_ms.begin(), s.visibility_cdf_ms.end()));
}

TEST(SeriesVisibility, NoPairsNoCdf) {
  const std::vector<Event> h = {run_meta(5'000 * kMs), insert(0, 0, 0, false), seen_by(kMs, 1, 0, 0)};
  EXPECT_TRUE(series_of(h).visibility_cdf_ms.empty());
}

TEST(SeriesDivergence, PendingPairsAreTimeWeightedPerBin) {
  // Edit at 0.5 s seen by client 1 at 2.5 s; edit at 1 s seen by client 1 at 1.5 s and by
  // client 2 at 3.25 s. The run ends at 3.5 s: bins [0,1) [1,2) [2,3) [3,3.5).
  const std::vector<Event> h = {run_meta(3'500 * kMs),
                                insert(500 * kMs, 0, 0),
                                insert(1'000 * kMs, 3, 0),
                                seen_by(1'500 * kMs, 1, 3, 0),
                                seen_by(2'500 * kMs, 1, 0, 0),
                                seen_by(3'250 * kMs, 2, 3, 0),
                                seen_by(3'300 * kMs, 0, 0, 0)};  // the author: not a pair
  const DivergenceSeries d = series_of(h).divergence;
  EXPECT_EQ(d.bin_us, 1'000 * kMs);
  ASSERT_EQ(d.pending_edits.size(), 4u);
  EXPECT_DOUBLE_EQ(d.pending_edits[0], 0.5);
  EXPECT_DOUBLE_EQ(d.pending_edits[1], 1.0 + 0.5 + 1.0);
  EXPECT_DOUBLE_EQ(d.pending_edits[2], 0.5 + 1.0);
  EXPECT_DOUBLE_EQ(d.pending_edits[3], 0.25 / 0.5);  // a half-long last bin
  // Client 1 lags over [0.5, 2.5), client 2 over [1, 3.25).
  EXPECT_DOUBLE_EQ(d.lagging_clients[0], 0.5);
  EXPECT_DOUBLE_EQ(d.lagging_clients[1], 2.0);
  EXPECT_DOUBLE_EQ(d.lagging_clients[2], 1.5);
  EXPECT_DOUBLE_EQ(d.lagging_clients[3], 0.5);
}

TEST(SeriesDivergence, LongRunsGetWiderBins) {
  const std::vector<Event> h = {run_meta(3'600'000 * kMs)};  // an hour
  const DivergenceSeries d = series_of(h).divergence;
  EXPECT_LE(d.pending_edits.size(), kBinsMax);
  EXPECT_EQ(d.bin_us, 8'000 * kMs);  // 1 s doubled until 3600 s fit in 512 bins
  EXPECT_EQ(d.pending_edits.size(), 450u);
}

TEST(SeriesFaults, WindowsEndAtTheirRecoverOrTheHealOrTheEnd) {
  const std::vector<Event> h = {
      run_meta(90'000 * kMs),
      fault_event(EventType::kFault, 10'000 * kMs, "crash", "server:0 for_ms=2000"),
      fault_event(EventType::kFault, 11'000 * kMs, "partition", "[client:0] | [server:0,server:1] for_ms=5000"),
      fault_event(EventType::kRecover, 12'000 * kMs, "crash", "server:0 for_ms=2000"),
      fault_event(EventType::kFault, 20'000 * kMs, "crash", "server:0 for_ms=2000"),
      fault_event(EventType::kFault, 30'000 * kMs, "clock_offset", "client:1 offset_ms=5000"),
      fault_event(EventType::kRecover, 32'000 * kMs, "crash", "server:0 for_ms=2000"),
      at(EventType::kHeal, 60'000 * kMs),
      fault_event(EventType::kFault, 70'000 * kMs, "flaky", "bus loss=0.3 dup=0 reorder=0.1 for_ms=10000"),
  };
  const std::vector<FaultWindow> w = series_of(h).fault_windows;
  ASSERT_EQ(w.size(), 5u);
  EXPECT_EQ(w[0], (FaultWindow{10'000 * kMs, 12'000 * kMs, "crash", "server:0", "server:0 for_ms=2000", "recover"}));
  EXPECT_EQ(w[1].target, "[client:0] | [server:0,server:1]");
  EXPECT_EQ(w[1].end_us, 60'000 * kMs);
  EXPECT_EQ(w[1].ended_by, "heal");
  EXPECT_EQ(w[2].start_us, 20'000 * kMs);
  EXPECT_EQ(w[2].end_us, 32'000 * kMs);  // its own recover, not the first crash's
  EXPECT_EQ(w[3].ended_by, "heal");
  EXPECT_EQ(w[3].target, "client:1");
  EXPECT_EQ(w[4].target, "bus");
  EXPECT_EQ(w[4].end_us, 90'000 * kMs);
  EXPECT_EQ(w[4].ended_by, "end");
}

TEST(SeriesMerge, NarrowBinsMergeIntoTheWidestAndCdfsAverage) {
  RunSeries a;
  a.divergence = {1'000 * kMs, 3'000 * kMs, {1, 3, 5}, {1, 1, 0}};
  a.visibility_cdf_ms = std::vector<double>(100, 10.0);
  RunSeries b;
  b.divergence = {2'000 * kMs, 4'000 * kMs, {4, 8}, {2, 2}};
  b.visibility_cdf_ms = std::vector<double>(100, 30.0);
  RunSeries c;  // no visibility pairs: left out of the CDF
  c.divergence = {1'000 * kMs, 1'000 * kMs, {6}, {0}};
  c.fault_windows = {FaultWindow{0, kMs, "crash", "server:0", "server:0", "recover"}};
  b.fault_windows = c.fault_windows;
  const SeriesAggregate m = merge_series({&a, &b, &c});
  EXPECT_EQ(m.runs, 3u);
  EXPECT_EQ(m.cdf_runs, 2u);
  EXPECT_DOUBLE_EQ(m.visibility_cdf_ms[42], 20.0);
  EXPECT_EQ(m.divergence.bin_us, 2'000 * kMs);
  ASSERT_EQ(m.divergence.pending_edits.size(), 2u);
  // Bin 0: a -> (1 + 3) / 2 = 2, b -> 4, c -> 6 (its one 1-s bin): mean 4. Bin 1: a -> 5 (one
  // second long), b -> 8: mean 6.5.
  EXPECT_DOUBLE_EQ(m.divergence.pending_edits[0], 4.0);
  EXPECT_DOUBLE_EQ(m.divergence.pending_edits[1], 6.5);
  EXPECT_DOUBLE_EQ(m.divergence.lagging_clients[0], (1.0 + 2.0 + 0.0) / 3);
  ASSERT_EQ(m.fault_windows.size(), 1u);
  EXPECT_EQ(m.fault_windows[0].runs, 2u);
}

TEST(CheckLostEdits, EveryEditThatLostCharactersIsListedWithItsCauseAndTime) {
  Event victim = insert(1'000 * kMs, 0, 4);
  victim.inserted = {{0, 10, 2}};
  victim.ins = std::u32string(2, U'a');
  Event ack = at(EventType::kAck, 1'100 * kMs);
  ack.client = 0;
  ack.op = 4;
  Event other = insert(2'000 * kMs, 1, 0);  // had not seen client 0's op 4: a concurrent loss
  Event durable = at(EventType::kFinal, 9'000 * kMs);
  durable.replica = "durable";
  durable.text = std::u32string(1, U'x');
  durable.ids = {{1, 0, 1}};
  const RunMetrics m = check({run_meta(10'000 * kMs), victim, ack, other, durable});
  ASSERT_EQ(m.lost_edits.size(), 1u);
  const LostEdit& e = m.lost_edits[0];
  EXPECT_EQ(e.client, 0u);
  EXPECT_EQ(e.op, 4u);
  EXPECT_EQ(e.t_us, 1'000 * kMs);
  EXPECT_EQ(e.chars, 2u);
  EXPECT_EQ(e.chars, m.lost_acked_chars);
  EXPECT_EQ(e.cause, "concurrent");
  EXPECT_EQ(e.by_client, 1u);
  EXPECT_EQ(e.by_op, 0u);
}

// Over random histories: the pending series integrates to the total time pairs spent pending,
// the lagging series never exceeds the pending one, and the CDF agrees with the checker.
RC_GTEST_PROP(SeriesProperties, DivergenceIntegratesPendingTimeAndCdfMatchesChecker, ()) {
  const auto n_edits = *rc::gen::inRange<std::uint32_t>(1, 20);
  const std::int64_t end_us = *rc::gen::inRange<std::int64_t>(1, 20'000) * kMs;
  std::vector<Event> h = {run_meta(end_us)};
  std::vector<std::int64_t> edit_t;
  for (std::uint32_t op = 0; op < n_edits; ++op) {
    edit_t.push_back(*rc::gen::inRange<std::int64_t>(0, end_us));
    h.push_back(insert(edit_t.back(), 0, op));
  }
  double pending_us = 0;
  for (std::uint32_t op = 0; op < n_edits; ++op) {
    for (std::uint32_t c = 1; c <= 3; ++c) {
      if (!*rc::gen::arbitrary<bool>()) continue;
      const std::int64_t t = *rc::gen::inRange<std::int64_t>(edit_t[op], end_us + 1);
      h.push_back(seen_by(t, c, 0, op));
      pending_us += static_cast<double>(t - edit_t[op]);
    }
  }
  std::stable_sort(h.begin() + 1, h.end(), [](const Event& x, const Event& y) { return x.t_us < y.t_us; });
  const RunSeries s = series_of(h);
  const DivergenceSeries& d = s.divergence;
  double integral = 0;
  for (std::size_t k = 0; k < d.pending_edits.size(); ++k) {
    const std::int64_t len = std::min(d.bin_us, end_us - static_cast<std::int64_t>(k) * d.bin_us);
    integral += d.pending_edits[k] * static_cast<double>(len);
    RC_ASSERT(d.lagging_clients[k] <= d.pending_edits[k] + 1e-9);
    RC_ASSERT(d.lagging_clients[k] <= 3.0 + 1e-9);
  }
  RC_ASSERT(std::fabs(integral - pending_us) <= 1e-6 * std::max(1.0, pending_us));
  const RunMetrics m = check(h);
  if (m.visibility_ms.count == 0) {
    RC_ASSERT(s.visibility_cdf_ms.empty());
  } else {
    RC_ASSERT(s.visibility_cdf_ms.size() == 100u);
    RC_ASSERT(s.visibility_cdf_ms[49] == m.visibility_ms.p50);
    RC_ASSERT(s.visibility_cdf_ms[98] == m.visibility_ms.p99);
    RC_ASSERT(s.visibility_cdf_ms[99] == m.visibility_ms.max);
  }
}

}  // namespace
}  // namespace convlab::reports
