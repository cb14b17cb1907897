// RapidCheck drives generated workloads and fault schedules through the simulator. OT and the
// CRDT must converge and lose nothing acknowledged under any schedule that heals; last-writer-
// wins on skewed clocks must not, and RapidCheck must shrink its counterexample to a tiny one.
#include "reports/checkers.hpp"
#include "server/strategies/registry.hpp"
#include "sim/world.hpp"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <sstream>

namespace convlab::sim {
namespace {

struct GenEdit {
  std::int64_t at_ms;
  std::uint32_t client;
  std::uint64_t pos;
  std::uint64_t del;
  std::string ins;
};

struct GenFault {
  int kind;  // 0 client|server partition, 1 server|db partition, 2 crash, 3 clock offset, 4 offline
  std::int64_t at_ms;
  std::int64_t for_ms;
  std::uint32_t who;
  std::int64_t offset_ms;
};

struct GenWorld {
  std::uint32_t clients;
  std::uint32_t servers;
  std::vector<std::int64_t> clock_offsets_ms;
  std::vector<GenEdit> edits;
  std::vector<GenFault> faults;
};

std::ostream& operator<<(std::ostream& os, const GenWorld& w) {
  os << w.clients << " clients, " << w.servers << " servers, clocks [";
  for (std::uint32_t c = 0; c < w.clients; ++c) os << " " << w.clock_offsets_ms[c];
  os << " ], " << w.edits.size() << " edits:";
  for (const auto& e : w.edits) {
    os << " {t=" << e.at_ms << " c" << e.client << " pos " << e.pos << " del " << e.del << " ins \"" << e.ins << "\"}";
  }
  os << ", " << w.faults.size() << " faults:";
  for (const auto& f : w.faults) os << " {kind " << f.kind << " t=" << f.at_ms << " for " << f.for_ms << " who " << f.who << "}";
  return os;
}

rc::Gen<GenEdit> gen_edit() {
  return rc::gen::exec([] {
    GenEdit e;
    // From 5.5 s on, every client clock (offset >= -5 s) reads later than the moment the
    // document was created (t = 0), so what is lost is lost to another client's edit.
    e.at_ms = *rc::gen::inRange<std::int64_t>(5500, 10000);
    e.client = *rc::gen::inRange<std::uint32_t>(0, 4);  // taken modulo the client count
    e.pos = *rc::gen::inRange<std::uint64_t>(0, 12);
    e.del = *rc::gen::inRange<std::uint64_t>(0, 3);
    e.ins = *rc::gen::container<std::string>(*rc::gen::inRange<std::size_t>(0, 4),
                                             rc::gen::inRange('a', static_cast<char>('z' + 1)));
    return e;
  });
}

rc::Gen<GenFault> gen_fault() {
  return rc::gen::exec([] {
    GenFault f;
    f.kind = *rc::gen::inRange(0, 5);
    f.at_ms = *rc::gen::inRange<std::int64_t>(0, 10000);
    f.for_ms = *rc::gen::inRange<std::int64_t>(100, 4000);
    f.who = *rc::gen::inRange<std::uint32_t>(0, 8);
    f.offset_ms = *rc::gen::inRange<std::int64_t>(-4000, 4001);
    return f;
  });
}

// Every pick is independent of the others (indexes are taken modulo the counts), so RapidCheck
// can shrink each on its own: fewer clients, fewer edits, fewer faults.
rc::Gen<GenWorld> gen_world(bool skewed_clocks, bool with_faults) {
  return rc::gen::exec([=] {
    GenWorld w;
    w.clients = *rc::gen::inRange<std::uint32_t>(2, 5);
    w.servers = *rc::gen::inRange<std::uint32_t>(1, 3);
    w.clock_offsets_ms = skewed_clocks ? *rc::gen::container<std::vector<std::int64_t>>(4, rc::gen::inRange<std::int64_t>(-5000, 5001))
                                       : std::vector<std::int64_t>(4, 0);
    w.edits = *rc::gen::nonEmpty(rc::gen::container<std::vector<GenEdit>>(gen_edit()));
    if (w.edits.size() > 12) w.edits.resize(12);
    if (with_faults) {
      w.faults = *rc::gen::container<std::vector<GenFault>>(gen_fault());
      if (w.faults.size() > 4) w.faults.resize(4);
    }
    for (auto& e : w.edits) e.client %= w.clients;
    return w;
  });
}

WorldConfig to_config(const GenWorld& g) {
  WorldConfig c;
  c.duration_ms = 11000;
  c.quiesce_ms = 10000;
  c.docs = 1;
  c.initial_text = "hello world\n";
  c.clients = g.clients;
  c.servers.count = g.servers;
  c.servers.propagation = Propagation::kBus;
  c.servers.persistence = Persistence::kChangeLog;
  c.servers.ack = Ack::kAfterCommit;
  for (std::uint32_t i = 0; i < g.clients; ++i) {
    c.client_overrides.push_back(ClientOverride{i, g.clock_offsets_ms[i], 0, 1.0});
  }
  for (const auto& e : g.edits) c.script.push_back({e.at_ms, e.client, e.pos, e.del, e.ins});
  for (const auto& f : g.faults) {
    FaultSpec s;
    s.at_ms = f.at_ms;
    s.for_ms = f.for_ms;
    const std::string client = "client:" + std::to_string(f.who % g.clients);
    const std::string server = "server:" + std::to_string(f.who % g.servers);
    switch (f.kind) {
      case 0: s.kind = FaultKind::kPartition; s.groups = {{client}, {server}}; break;
      case 1: s.kind = FaultKind::kPartition; s.groups = {{server}, {"db"}}; break;
      case 2: s.kind = FaultKind::kCrash; s.target = server; break;
      case 3: s.kind = FaultKind::kClockOffset; s.target = client; s.value = f.offset_ms; break;
      default: s.kind = FaultKind::kOffline; s.target = client; break;
    }
    c.faults.push_back(std::move(s));
  }
  return c;
}

reports::RunMetrics run(const WorldConfig& c, const char* strategy, std::uint64_t seed) {
  RunOptions o;
  o.strategy = find_strategy(strategy);
  o.seed = seed;
  RC_ASSERT(o.strategy != nullptr);
  RC_ASSERT(world_problems(c, *o.strategy).empty());
  return reports::check(run_world(c, o).events);
}

RC_GTEST_PROP(SimProperty, OtConvergesAndLosesNothingAcknowledgedUnderAnyHealingSchedule, ()) {
  const GenWorld g = *gen_world(true, true);
  const auto m = run(to_config(g), "ot", *rc::gen::inRange<std::uint64_t>(1, 1000));
  RC_ASSERT(m.converged);
  RC_ASSERT(m.lost_acked_chars == 0u);
}

RC_GTEST_PROP(SimProperty, CrdtConvergesAndLosesNothingAcknowledgedUnderAnyHealingSchedule, ()) {
  const GenWorld g = *gen_world(true, true);
  const auto m = run(to_config(g), "crdt", *rc::gen::inRange<std::uint64_t>(1, 1000));
  RC_ASSERT(m.converged);
  RC_ASSERT(m.lost_acked_chars == 0u);
}

// The same property must FAIL for last-writer-wins on skewed clocks, and the counterexample
// RapidCheck shrinks to must be tiny: two clients, two edits.
TEST(SimProperty, LwwUnderSkewFailsWithATinyCounterexample) {
  GenWorld smallest;
  bool failed_once = false;
  const bool passed = rc::check("lww loses nothing acknowledged under skewed clocks", [&] {
    const GenWorld g = *gen_world(true, false);
    const auto m = run(to_config(g), "lww", 1);
    if (std::getenv("DEBUG_PROP")) std::cout << g << " => edits " << m.edits << " acked " << m.acked_edits << " lost " << m.lost_acked_chars << "\n";
    if (m.lost_acked_chars != 0u) {
      // RapidCheck keeps shrinking while the property still fails, so the last failing case it
      // tries is the one it reports.
      smallest = g;
      failed_once = true;
    }
    RC_ASSERT(m.lost_acked_chars == 0u);
  });
  EXPECT_FALSE(passed) << "lww under skew must lose acknowledged characters";
  ASSERT_TRUE(failed_once);
  std::ostringstream os;
  os << smallest;
  std::cout << "shrunk counterexample: " << os.str() << "\n";
  // RapidCheck remembers every failed rc::check and says so when the program exits; this one
  // failed on purpose, so tell whoever reads the log.
  std::cout << "(world_tests will end with RapidCheck's \"Some of your RapidCheck properties had failures\": "
               "that is this expected failure of lww, not a failed test)\n";
  EXPECT_EQ(smallest.clients, 2u) << os.str();
  EXPECT_EQ(smallest.edits.size(), 2u) << os.str();
}

}  // namespace
}  // namespace convlab::sim
