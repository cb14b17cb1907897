// The event loop's order: by virtual time, ties first-scheduled first-run, including events
// scheduled from inside callbacks; checked against a plain sorted model on random schedules.
#include "sim/scheduler.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <tuple>
#include <vector>

namespace convlab::sim {
namespace {

RC_GTEST_PROP(Scheduler, RunsByTimeThenSchedulingOrder, ()) {
  // Each event has an id; running event `id` may schedule children at now + delay.
  const auto initial = *rc::gen::container<std::vector<std::int64_t>>(rc::gen::inRange<std::int64_t>(0, 50));
  const auto delays = *rc::gen::container<std::vector<std::int64_t>>(rc::gen::inRange<std::int64_t>(0, 20));
  Scheduler s;
  std::vector<int> ran;
  // The model: (time, scheduling number, id) sorted; children are appended as they are made.
  struct Planned {
    std::int64_t t;
    std::uint64_t seq;
    int id;
  };
  std::vector<Planned> model;
  std::uint64_t seq = 0;
  int next_id = 0;
  std::size_t next_delay = 0;
  std::function<void(int)> body;
  const auto schedule = [&](std::int64_t t) {
    const int id = next_id++;
    model.push_back(Planned{t, seq++, id});
    s.at(t, [&body, id] { body(id); });
  };
  body = [&](int id) {
    ran.push_back(id);
    // Every third event schedules one more while delays last.
    if (id % 3 == 0 && next_delay < delays.size()) schedule(s.now_us() + delays[next_delay++]);
  };
  for (std::int64_t t : initial) schedule(t);
  while (s.run_next(INT64_MAX)) {
  }
  std::stable_sort(model.begin(), model.end(),
                   [](const Planned& a, const Planned& b) { return std::tie(a.t, a.seq) < std::tie(b.t, b.seq); });
  std::vector<int> expected;
  for (const Planned& p : model) expected.push_back(p.id);
  RC_ASSERT(ran == expected);
  RC_ASSERT(s.pending() == 0u);
  RC_ASSERT(s.ran() == expected.size());
}

TEST(Scheduler, RunUntilStopsAtTheEndAndKeepsLaterEvents) {
  Scheduler s;
  std::vector<int> ran;
  s.at(5, [&] { ran.push_back(5); });
  s.at(20, [&] { ran.push_back(20); });
  s.at(5, [&] { ran.push_back(6); });
  s.run_until(10);
  EXPECT_EQ(ran, (std::vector<int>{5, 6}));
  EXPECT_EQ(s.now_us(), 10);
  EXPECT_EQ(s.next_us(), 20);
  EXPECT_EQ(s.pending(), 1u);
}

}  // namespace
}  // namespace convlab::sim
