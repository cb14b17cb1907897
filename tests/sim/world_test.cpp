// The simulator end to end, on worlds built in code: determinism, convergence of the strategies
// that must converge, and the faults doing what they say.
#include "reports/checkers.hpp"
#include "server/strategies/registry.hpp"
#include "sim/world.hpp"
#include "tests/sim/worlds.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace convlab::sim {
namespace {

using test::small_world;

RunOutput run(const WorldConfig& c, const char* strategy, std::uint64_t seed, std::ostream* out = nullptr) {
  RunOptions o;
  o.strategy = find_strategy(strategy);
  o.seed = seed;
  o.scenario = "test";
  o.variant = "v";
  o.history_out = out;
  EXPECT_NE(o.strategy, nullptr);
  EXPECT_TRUE(world_problems(c, *o.strategy).empty());
  return run_world(c, o);
}

TEST(World, SameSeedSameBytes) {
  const WorldConfig c = small_world();
  for (const char* s : {"lww", "seq", "ot", "crdt"}) {
    std::ostringstream a;
    std::ostringstream b;
    const RunOutput r1 = run(c, s, 7, &a);
    const RunOutput r2 = run(c, s, 7, &b);
    EXPECT_EQ(r1.digest, r2.digest) << s;
    EXPECT_EQ(a.str(), b.str()) << s;
    EXPECT_GT(r1.events.size(), 50u) << s;
    const RunOutput r3 = run(c, s, 8);
    EXPECT_NE(r1.digest, r3.digest) << s << ": another seed should give another history";
  }
}

// A streamed run (events fed to a Checker as written, none kept) is judged exactly as the held
// history is, and writes the same bytes.
TEST(World, StreamedHistoryIsJudgedAsTheHeldOne) {
  WorldConfig c = small_world();
  c.servers.propagation = Propagation::kPoll;  // some loss and lag, so the metrics are not all zero
  c.workload.same_paragraph_prob = 0.8;
  for (const char* s : {"lww", "crdt"}) {
    std::ostringstream held_bytes;
    const RunOutput held = run(c, s, 3, &held_bytes);
    RunOptions o;
    o.strategy = find_strategy(s);
    o.seed = 3;
    o.scenario = "test";
    o.variant = "v";
    std::ostringstream streamed_bytes;
    o.history_out = &streamed_bytes;
    o.keep_events = false;
    reports::Checker checker;
    o.on_event = [&checker](const history::Event& e) { checker.add(e); };
    const RunOutput streamed = run_world(c, o);
    EXPECT_TRUE(streamed.events.empty()) << s;
    EXPECT_EQ(streamed.history_events, held.events.size()) << s;
    EXPECT_EQ(streamed.digest, held.digest) << s;
    EXPECT_EQ(streamed_bytes.str(), held_bytes.str()) << s;
    const reports::RunMetrics a = checker.finish();
    const reports::RunMetrics b = reports::check(held.events);
    EXPECT_EQ(a.flatten(), b.flatten()) << s;
    EXPECT_EQ(a.divergent, b.divergent) << s;
    EXPECT_GT(a.edits, 20u) << s;
  }
}

// Memory per document is sampled from the server replicas: each holds at least its text.
TEST(World, MemoryPerDocumentIsMeasuredForEveryStrategy) {
  const WorldConfig c = small_world();
  for (const char* s : {"lww", "seq", "ot", "crdt"}) {
    const RunOutput r = run(c, s, 2);
    const reports::RunMetrics m = reports::check(r.events);
    std::size_t longest = 0;
    for (const history::Event& e : r.events) {
      if (e.type == history::EventType::kFinal && e.replica.rfind("server:", 0) == 0) longest = std::max(longest, e.text.size());
    }
    EXPECT_GT(m.memory_per_replica_bytes, 0.0) << s;
    EXPECT_GE(m.memory_replica_bytes_max, static_cast<double>(longest) / 2) << s;
    EXPECT_GE(m.memory_replica_bytes_max, m.memory_per_replica_bytes) << s;
    EXPECT_GE(m.memory_per_doc_bytes, m.memory_per_replica_bytes) << s;
  }
}

// The bus loses the last record of a document (a loss burst over its final edit) and no later
// record reveals the gap: without anti-entropy the other server and its client never get it;
// with it (the default), the periodic read of the log tail repairs it.
TEST(World, AntiEntropyRepairsARecordLostAtTheEndOfALossBurst) {
  WorldConfig c;
  c.duration_ms = 8000;
  c.quiesce_ms = 10000;
  c.docs = 1;
  c.initial_text = "one\ntwo\n";
  c.clients = 2;  // round robin over two servers: one client on each
  c.servers.count = 2;
  c.servers.propagation = Propagation::kBus;
  c.servers.persistence = Persistence::kChangeLog;
  c.servers.ack = Ack::kAfterCommit;
  c.script = {{.at_ms = 2000, .client = 0, .pos = 0, .del = 0, .ins = "a"},
              {.at_ms = 4000, .client = 0, .pos = 0, .del = 0, .ins = "b"}};
  FaultSpec burst;
  burst.kind = FaultKind::kFlaky;
  burst.at_ms = 3500;
  burst.for_ms = 2000;
  burst.loss = 1.0;
  c.faults = {burst};
  for (const char* s : {"lww", "crdt"}) {
    WorldConfig off = c;
    off.servers.anti_entropy_ms = 0;
    const reports::RunMetrics lost = reports::check(run(off, s, 1).events);
    EXPECT_FALSE(lost.converged) << s << ": the lost record should stay lost without anti-entropy";
    EXPECT_EQ(lost.db_queries_by_kind.count("antientropy"), 0u) << s;
    const reports::RunMetrics m = reports::check(run(c, s, 1).events);
    EXPECT_TRUE(m.converged) << s;
    for (const std::string& d : m.divergent) ADD_FAILURE() << s << ": " << d;
    EXPECT_GT(m.db_queries_by_kind.at("antientropy"), 0u) << s;
    EXPECT_EQ(m.lost_acked_chars, 0u) << s;
  }
}

TEST(World, OtAndCrdtConvergeWithNothingLostAcrossServers) {
  const WorldConfig c = small_world();
  for (const char* s : {"ot", "crdt"}) {
    for (std::uint64_t seed = 1; seed <= 5; ++seed) {
      const RunOutput r = run(c, s, seed);
      const reports::RunMetrics m = reports::check(r.events);
      EXPECT_TRUE(m.converged) << s << " seed " << seed << ": " << (m.divergent.empty() ? "" : m.divergent.front());
      EXPECT_EQ(m.lost_acked_chars, 0u) << s << " seed " << seed;
      EXPECT_GT(m.acked_edits, 10u) << s << " seed " << seed;
      EXPECT_GT(m.visibility_ms.count, 10u) << s << " seed " << seed;
    }
  }
}

TEST(World, LwwAndSeqConvergeButLoseCharactersInOneParagraph) {
  WorldConfig c = small_world();
  c.docs = 1;
  c.workload.same_paragraph_prob = 1.0;
  for (const char* s : {"lww", "seq"}) {
    std::uint64_t lost = 0;
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
      const reports::RunMetrics m = reports::check(run(c, s, seed).events);
      EXPECT_TRUE(m.converged) << s << " seed " << seed << ": " << (m.divergent.empty() ? "" : m.divergent.front());
      lost += m.lost_acked_chars;
    }
    EXPECT_GT(lost, 0u) << s << ": four users in one paragraph must lose acknowledged characters";
  }
}

TEST(World, CrashWithSnapshotsLosesAcknowledgedEditsAndChangeLogDoesNot) {
  WorldConfig c = small_world();
  c.servers.count = 1;
  c.duration_ms = 20000;
  FaultSpec crash;
  crash.kind = FaultKind::kCrash;
  crash.target = "server:0";
  crash.at_ms = 15000;
  crash.for_ms = 1000;
  c.faults.push_back(crash);
  WorldConfig naive = c;
  naive.servers.persistence = Persistence::kSnapshot;
  naive.servers.snapshot_interval_ms = 10000;
  naive.servers.ack = Ack::kImmediate;
  naive.quiesce_ms = 15000;  // long enough for the restarted server's next snapshot
  for (const char* s : {"lww", "seq", "ot", "crdt"}) {
    const reports::RunMetrics bad = reports::check(run(naive, s, 3).events);
    EXPECT_GT(bad.lost_by_cause.at("crash"), 0u) << s;
    EXPECT_TRUE(bad.converged) << s << ": after the crash every replica reloads the durable state";
    const reports::RunMetrics good = reports::check(run(c, s, 3).events);
    EXPECT_TRUE(good.converged) << s;
    // lww and seq also lose characters to concurrent writes here; when a crash follows such a
    // loss the checker names the crash (docs/history.md), so only ot and crdt are exact.
    if (std::string(s) == "ot" || std::string(s) == "crdt") {
      EXPECT_EQ(bad.lost_by_cause.at("crash"), bad.lost_acked_chars) << s << ": nothing but the crash loses characters";
      EXPECT_EQ(good.lost_acked_chars, 0u) << s;
    }
  }
}

TEST(World, PollingDelaysCrossServerVisibilityByAboutTheInterval) {
  WorldConfig c = small_world();
  c.duration_ms = 20000;
  c.servers.propagation = Propagation::kPoll;
  c.servers.poll_interval_ms = 2000;
  const reports::RunMetrics poll = reports::check(run(c, "crdt", 1).events);
  c.servers.propagation = Propagation::kBus;
  const reports::RunMetrics bus = reports::check(run(c, "crdt", 1).events);
  ASSERT_GT(poll.visibility_cross_ms.count, 10u);
  ASSERT_GT(bus.visibility_cross_ms.count, 10u);
  EXPECT_GE(poll.visibility_cross_ms.p50, 700);
  EXPECT_LE(bus.visibility_cross_ms.p99, 400);
  EXPECT_GT(poll.db_queries_by_kind.at("poll"), 0u);
  EXPECT_EQ(bus.db_queries_by_kind.count("poll") ? bus.db_queries_by_kind.at("poll") : 0u, 0u);
}

}  // namespace
}  // namespace convlab::sim
