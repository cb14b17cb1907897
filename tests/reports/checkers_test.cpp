#include "reports/checkers.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <optional>
#include <tuple>

namespace convlab::reports {
namespace {

using history::Event;
using history::EventType;
using history::IdRun;

constexpr std::int64_t kMs = 1000;  // microseconds

// ---- Small builders for hand-written histories.

Event meta(std::int64_t heal_us, std::int64_t end_us) {
  Event e;
  e.type = EventType::kMeta;
  e.meta = {{"heal_us", std::to_string(heal_us)}, {"end_us", std::to_string(end_us)}};
  return e;
}

struct EditSpec {
  std::int64_t t_us = 0;
  std::uint32_t client = 0;
  std::uint32_t op = 0;
  std::int64_t clock_ms = 0;
  std::vector<IdRun> inserted{};
  std::vector<IdRun> deleted{};
  std::map<std::uint32_t, std::uint32_t> seen_ops{};
  std::uint32_t para = 0;
  std::uint32_t doc = 0;
  std::int32_t server = 0;
  bool stale_base = false;
};

Event edit(const EditSpec& s) {
  Event e;
  e.type = EventType::kEdit;
  e.t_us = s.t_us;
  e.client = s.client;
  e.doc = s.doc;
  e.op = s.op;
  e.server = s.server;
  e.clock_ms = s.clock_ms;
  e.para = s.para;
  e.inserted = s.inserted;
  e.deleted = s.deleted;
  for (const IdRun& r : s.inserted) e.ins += std::u32string(r.count, U'x');
  e.seen_ops = s.seen_ops;
  e.stale_base = s.stale_base;
  return e;
}

Event ack(std::int64_t t_us, std::uint32_t client, std::uint32_t op, std::uint32_t doc = 0) {
  Event e;
  e.type = EventType::kAck;
  e.t_us = t_us;
  e.client = client;
  e.op = op;
  e.doc = doc;
  return e;
}

Event seen(std::int64_t t_us, std::uint32_t client, std::uint32_t author, std::uint32_t op, std::int32_t server,
           std::uint32_t doc = 0) {
  Event e;
  e.type = EventType::kSeen;
  e.t_us = t_us;
  e.client = client;
  e.author = author;
  e.op = op;
  e.server = server;
  e.doc = doc;
  return e;
}

Event final_of(std::uint32_t doc, const std::string& replica, const std::u32string& text, std::vector<IdRun> ids) {
  Event e;
  e.type = EventType::kFinal;
  e.t_us = 100000 * kMs;
  e.doc = doc;
  e.replica = replica;
  e.text = text;
  e.ids = std::move(ids);
  return e;
}

Event fault(std::int64_t t_us, const std::string& kind) {
  Event e;
  e.type = EventType::kFault;
  e.t_us = t_us;
  e.kind = kind;
  return e;
}

Event counters(std::int64_t t_us, std::map<std::string, std::uint64_t> c) {
  Event e;
  e.type = EventType::kCounters;
  e.t_us = t_us;
  e.counters = std::move(c);
  return e;
}

// ---- Convergence

TEST(CheckConvergence, AllReplicasEqualToDurableConverge) {
  const std::vector<Event> h = {meta(1000 * kMs, 2000 * kMs), final_of(0, "durable", U"ab", {{0, 0, 2}}),
                                final_of(0, "client:0", U"ab", {{0, 0, 2}}),
                                final_of(0, "server:0", U"ab", {{0, 0, 2}})};
  const RunMetrics m = check(h);
  EXPECT_TRUE(m.converged);
  EXPECT_TRUE(m.divergent.empty());
  EXPECT_EQ(m.flatten().at("converged"), 1.0);
}

TEST(CheckConvergence, AReplicaThatDiffersFromDurableIsNamed) {
  const std::vector<Event> h = {meta(1000 * kMs, 2000 * kMs), final_of(0, "durable", U"ab", {{0, 0, 2}}),
                                final_of(0, "client:1", U"ax", {{0, 0, 1}, {1, 0, 1}}),
                                final_of(0, "client:0", U"ab", {{0, 0, 2}}),
                                final_of(1, "durable", U"q", {{0, 9, 1}}),
                                final_of(1, "server:3", U"q", {{0, 9, 1}})};
  const RunMetrics m = check(h);
  EXPECT_FALSE(m.converged);
  EXPECT_EQ(m.divergent, std::vector<std::string>{"doc 0: client:1 differs from durable"});
  EXPECT_EQ(m.flatten().at("converged"), 0.0);
}

TEST(CheckConvergence, WithoutDurableReplicasAreComparedWithEachOther) {
  const std::vector<Event> same = {final_of(0, "server:0", U"ab", {}), final_of(0, "server:1", U"ab", {})};
  EXPECT_TRUE(check(same).converged);
  const std::vector<Event> differ = {final_of(0, "server:0", U"ab", {}), final_of(0, "server:1", U"ba", {})};
  const RunMetrics m = check(differ);
  EXPECT_FALSE(m.converged);
  EXPECT_EQ(m.divergent, std::vector<std::string>{"doc 0: server:1 differs from server:0"});
}

TEST(CheckConvergence, AHistoryWithoutFinalsIsNotConverged) {
  const RunMetrics m = check({meta(1000, 2000), edit({.t_us = 5, .inserted = {{0, 0, 1}}})});
  EXPECT_FALSE(m.converged);
  ASSERT_FALSE(m.divergent.empty());
  EXPECT_EQ(m.divergent.front(), "no final events in the history");
}

TEST(CheckConvergence, ConvergenceTimeRunsFromHealToLastSeenOrAckAfterIt) {
  std::vector<Event> h = {meta(1000 * kMs, 5000 * kMs),
                          edit({.t_us = 900 * kMs, .client = 0, .op = 0, .inserted = {{0, 0, 1}}}),
                          seen(950 * kMs, 1, 0, 0, 0),  // before the heal
                          ack(1100 * kMs, 0, 0),
                          seen(1250 * kMs, 2, 0, 0, 0),
                          final_of(0, "durable", U"x", {{0, 0, 1}})};
  EXPECT_DOUBLE_EQ(check(h).convergence_ms, 250.0);
  h.erase(h.begin() + 3, h.begin() + 5);  // nothing after the heal
  EXPECT_DOUBLE_EQ(check(h).convergence_ms, 0.0);
}

// ---- Lost acknowledged characters and their causes.
// Client 0 makes edit E (op 4) at t = 1000 ms with its clock reading 1000, inserting (0,0..1)
// into paragraph 0. The durable final lacks them; the history says why.

EditSpec victim() {
  return {.t_us = 1000 * kMs, .client = 0, .op = 4, .clock_ms = 1000, .inserted = {{0, 0, 2}}};
}

std::vector<Event> with_victim(std::vector<Event> others, bool acked = true) {
  std::vector<Event> h = {meta(10000 * kMs, 20000 * kMs), edit(victim())};
  if (acked) h.push_back(ack(1050 * kMs, 0, 4));
  for (Event& e : others) h.push_back(std::move(e));
  h.push_back(final_of(0, "durable", U"y", {{1, 0, 1}}));
  std::stable_sort(h.begin(), h.end(), [](const Event& a, const Event& b) { return a.t_us < b.t_us; });
  return h;
}

TEST(CheckLostChars, OverwrittenByAnEarlierClockSkewedWrite) {
  // Client 1 wrote earlier in real time, but its clock was 4 s ahead: lww keeps it.
  const RunMetrics m = check(with_victim({edit({.t_us = 500 * kMs, .client = 1, .op = 7, .clock_ms = 5000,
                                                .inserted = {{1, 0, 1}}}),
                                          // Client 2 wrote later, having seen E: not to blame.
                                          edit({.t_us = 1500 * kMs, .client = 2, .op = 0, .clock_ms = 9000,
                                                .inserted = {{2, 0, 1}}, .seen_ops = {{0, 4}}})}));
  EXPECT_EQ(m.acked_edits, 1u);
  EXPECT_EQ(m.lost_acked_chars, 2u);
  EXPECT_EQ(m.lost_by_cause.at("clock_skew"), 2u);
  EXPECT_EQ(m.lost_by_cause.at("concurrent"), 0u);
  ASSERT_EQ(m.lost.size(), 2u);
  EXPECT_EQ(m.lost[0].id, (CharId{0, 0}));
  EXPECT_EQ(m.lost[1].id, (CharId{0, 1}));
  EXPECT_EQ(m.lost[0].cause, "clock_skew");
  EXPECT_EQ(m.lost[0].author_op, 4u);
  EXPECT_EQ(m.lost[0].by_client, 1u);
  EXPECT_EQ(m.lost[0].by_op, 7u);
  EXPECT_EQ(m.flatten().at("lost_acked_chars.clock_skew"), 2.0);
}

TEST(CheckLostChars, AnEarlierWriteWithAnOlderClockIsNotClockSkew) {
  const RunMetrics m = check(with_victim(
      {edit({.t_us = 500 * kMs, .client = 1, .op = 7, .clock_ms = 400, .inserted = {{1, 0, 1}}})}));
  EXPECT_EQ(m.lost_by_cause.at("clock_skew"), 0u);
  EXPECT_EQ(m.lost_by_cause.at("concurrent"), 2u);
}

TEST(CheckLostChars, OverwrittenByAConcurrentWrite) {
  // Client 1 writes after E, not having seen it (it saw only op 3 of client 0).
  const RunMetrics m = check(with_victim({edit({.t_us = 1200 * kMs, .client = 1, .op = 2, .clock_ms = 1200,
                                                .inserted = {{1, 0, 1}}, .seen_ops = {{0, 3}}}),
                                          edit({.t_us = 1300 * kMs, .client = 1, .op = 3, .clock_ms = 1300,
                                                .inserted = {{1, 1, 1}}, .seen_ops = {{0, 3}}})}));
  EXPECT_EQ(m.lost_acked_chars, 2u);
  EXPECT_EQ(m.lost_by_cause.at("concurrent"), 2u);
  ASSERT_FALSE(m.lost.empty());
  EXPECT_EQ(m.lost[0].by_client, 1u);
  EXPECT_EQ(m.lost[0].by_op, 3u);  // the latest candidate
}

TEST(CheckLostChars, OverwrittenByAStaleBaseWrite) {
  const RunMetrics m = check(with_victim({edit({.t_us = 1200 * kMs, .client = 1, .op = 2, .clock_ms = 1200,
                                                .inserted = {{1, 0, 1}}, .stale_base = true}),
                                          edit({.t_us = 1300 * kMs, .client = 2, .op = 0, .clock_ms = 1300,
                                                .inserted = {{2, 0, 1}}})}));
  EXPECT_EQ(m.lost_by_cause.at("stale_base"), 2u);
  ASSERT_FALSE(m.lost.empty());
  EXPECT_EQ(m.lost[0].by_client, 1u);
  EXPECT_EQ(m.lost[0].by_op, 2u);
}

TEST(CheckLostChars, WritesInOtherParagraphsOrDocumentsOrThatSawTheEditAreNotBlamed) {
  const RunMetrics m = check(with_victim(
      {edit({.t_us = 1200 * kMs, .client = 1, .op = 2, .clock_ms = 1200, .inserted = {{1, 0, 1}}, .para = 1}),
       edit({.t_us = 1200 * kMs, .client = 1, .op = 3, .clock_ms = 1200, .inserted = {{1, 1, 1}}, .doc = 1}),
       edit({.t_us = 1300 * kMs, .client = 2, .op = 0, .clock_ms = 1300, .inserted = {{2, 0, 1}},
             .seen_ops = {{0, 4}}}),
       final_of(1, "durable", U"", {})}));
  EXPECT_EQ(m.lost_acked_chars, 2u);
  EXPECT_EQ(m.lost_by_cause.at("unknown"), 2u);
}

TEST(CheckLostChars, LostInACrash) {
  RunMetrics m = check(with_victim({fault(3000 * kMs, "crash")}));
  EXPECT_EQ(m.lost_by_cause.at("crash"), 2u);
  // A crash before the edit explains nothing.
  m = check(with_victim({fault(500 * kMs, "crash"), fault(3000 * kMs, "partition")}));
  EXPECT_EQ(m.lost_by_cause.at("crash"), 0u);
  EXPECT_EQ(m.lost_by_cause.at("unknown"), 2u);
}

TEST(CheckLostChars, ADeliberatelyDeletedCharIsNotLost) {
  const RunMetrics m = check(with_victim({edit({.t_us = 2000 * kMs, .client = 1, .op = 0, .clock_ms = 2000,
                                                .deleted = {{0, 0, 1}}, .seen_ops = {{0, 4}}})}));
  EXPECT_EQ(m.lost_acked_chars, 1u);  // (0,1) is lost, (0,0) was deleted on purpose
  ASSERT_EQ(m.lost.size(), 1u);
  EXPECT_EQ(m.lost[0].id, (CharId{0, 1}));
}

TEST(CheckLostChars, AnUnackedLostCharIsNotCounted) {
  const RunMetrics m = check(with_victim({fault(3000 * kMs, "crash")}, /*acked=*/false));
  EXPECT_EQ(m.acked_edits, 0u);
  EXPECT_EQ(m.lost_acked_chars, 0u);
  for (const auto& [cause, n] : m.lost_by_cause) EXPECT_EQ(n, 0u) << cause;
}

TEST(CheckLostChars, EveryCauseIsAlwaysListed) {
  const RunMetrics m = check({});
  for (const char* c : {"clock_skew", "concurrent", "stale_base", "crash", "unknown"}) {
    ASSERT_TRUE(m.lost_by_cause.count(c)) << c;
    EXPECT_EQ(m.lost_by_cause.at(c), 0u);
  }
}

TEST(CheckLostChars, WithoutDurableTheServerFinalsAreTheReference) {
  std::vector<Event> h = {edit(victim()), ack(1050 * kMs, 0, 4), final_of(0, "server:0", U"xx", {{0, 0, 2}}),
                          final_of(0, "client:1", U"", {})};
  EXPECT_EQ(check(h).lost_acked_chars, 0u);
  h[2] = final_of(0, "server:0", U"x", {{0, 0, 1}});
  EXPECT_EQ(check(h).lost_acked_chars, 1u);
}

// ---- Causality reversals: B saw A, yet A's content won over B's.

// ---- Causes from the durable log (meta `commits`): what the system decided, not time windows.

Event log_meta(bool orders_by_client_clock, const std::string& persistence = "changelog") {
  Event e = meta(60000 * kMs, 90000 * kMs);
  e.meta["commits"] = "true";
  e.meta["persistence"] = persistence;
  e.meta["orders_by_client_clock"] = orders_by_client_clock ? "true" : "false";
  return e;
}

// Commits get log indexes in the order they are built (one history at a time).
std::uint64_t next_index = 1;

Event commit(std::int64_t t_us, std::int32_t client, std::uint32_t op, std::vector<IdRun> added,
             std::vector<IdRun> removed = {}, std::uint32_t doc = 0) {
  Event e;
  e.type = EventType::kCommit;
  e.t_us = t_us;
  e.version = next_index++;
  e.doc = doc;
  e.writer = client;
  e.op = op;
  e.inserted = std::move(added);
  e.deleted = std::move(removed);
  return e;
}

Event load_of(std::int64_t t_us, std::uint32_t client, std::uint64_t version, std::uint64_t latest) {
  Event e;
  e.type = EventType::kLoad;
  e.t_us = t_us;
  e.client = client;
  e.version = version;
  e.latest = latest;
  e.source = "cdn";
  return e;
}

// The case: a character durable and then overwritten by a write that had not seen it,
// with a crash afterwards. The time-window inference blamed the crash; the log names the write.
TEST(CheckCausesFromLog, OverwrittenThenCrashIsConcurrentNotCrash) {
  const std::vector<Event> h = {
      log_meta(true),
      edit({.t_us = 1500 * kMs, .client = 0, .op = 1, .clock_ms = 1500, .inserted = {{0, 0, 3}}}),
      commit(1510 * kMs, 0, 1, {{0, 0, 3}}),
      ack(1520 * kMs, 0, 1),
      edit({.t_us = 1560 * kMs, .client = 1, .op = 1, .clock_ms = 1560, .inserted = {{1, 0, 2}}}),
      commit(1570 * kMs, 1, 1, {{1, 0, 2}}, {{0, 0, 3}}),
      ack(1580 * kMs, 1, 1),
      fault(25000 * kMs, "crash"),
      final_of(0, "durable", U"yy", {{1, 0, 2}})};
  const RunMetrics m = check(h);
  EXPECT_EQ(m.lost_acked_chars, 3u);
  EXPECT_EQ(m.lost_by_cause.at("concurrent"), 3u);
  EXPECT_EQ(m.lost_by_cause.at("crash"), 0u);
  ASSERT_EQ(m.lost_edits.size(), 1u);
  EXPECT_EQ(m.lost_edits[0].by_client, 1u);
  EXPECT_EQ(m.lost_edits[0].by_op, 1u);
}

// Acknowledged, never durable: lost with a server's memory (or a commit that failed).
TEST(CheckCausesFromLog, NeverDurableIsCrash) {
  const std::vector<Event> h = {
      log_meta(false, "snapshot"),
      edit({.t_us = 1000 * kMs, .client = 0, .op = 1, .clock_ms = 1000, .inserted = {{0, 0, 2}}}),
      ack(1010 * kMs, 0, 1),
      fault(2000 * kMs, "crash"),
      final_of(0, "durable", U"", {})};
  const RunMetrics m = check(h);
  EXPECT_EQ(m.lost_by_cause.at("crash"), 2u);
  EXPECT_EQ(m.lost_by_cause.at("unknown"), 0u);
}

// lww: a write E made after seeing W, refused by the server because W's clock read later (E never
// reached the durable text): clock_skew, and a causality reversal. The same history under a
// strategy that does not order by clocks cannot be a clock decision: seq never reverses.
TEST(CheckCausesFromLog, RefusedByALaterClockThatWasSeenIsClockSkew) {
  const auto history = [](bool lww) {
    return std::vector<Event>{
        log_meta(lww),
        edit({.t_us = 1000 * kMs, .client = 1, .op = 1, .clock_ms = 9000, .inserted = {{1, 0, 1}}}),
        commit(1010 * kMs, 1, 1, {{1, 0, 1}}),
        ack(1020 * kMs, 1, 1),
        seen(1100 * kMs, 0, 1, 1, 0),
        edit({.t_us = 2000 * kMs, .client = 0, .op = 1, .clock_ms = 2000, .inserted = {{0, 0, 2}},
              .seen_ops = {{1, 1}}}),
        ack(2010 * kMs, 0, 1),
        final_of(0, "durable", U"w", {{1, 0, 1}})};
  };
  const RunMetrics lww = check(history(true));
  EXPECT_EQ(lww.lost_by_cause.at("clock_skew"), 2u);
  EXPECT_EQ(lww.causality_reversals, 1u);
  const RunMetrics seq = check(history(false));
  EXPECT_EQ(seq.lost_by_cause.at("clock_skew"), 0u);
  EXPECT_EQ(seq.lost_by_cause.at("crash"), 2u);
  EXPECT_EQ(seq.causality_reversals, 0u);
}

// A write whose author had shown E but then loaded a state from before E's commit (though E
// was durable by then): its base went back in time.
TEST(CheckCausesFromLog, AWriteAfterAStaleLoadIsStaleBase) {
  const auto history = [](bool stale) {
    next_index = 1;  // E's record is index 1; a load of version 0 lacks it, of version 1 holds it
    return std::vector<Event>{
        log_meta(false),
        edit({.t_us = 1000 * kMs, .client = 0, .op = 1, .clock_ms = 1000, .inserted = {{0, 0, 2}}}),
        commit(1010 * kMs, 0, 1, {{0, 0, 2}}),
        ack(1020 * kMs, 0, 1),
        seen(1100 * kMs, 1, 0, 1, 0),
        load_of(3000 * kMs, 1, stale ? 0 : 1, 1),
        edit({.t_us = 4000 * kMs, .client = 1, .op = 1, .clock_ms = 4000, .inserted = {{1, 0, 1}},
              .seen_ops = {{0, 1}}}),
        commit(4010 * kMs, 1, 1, {{1, 0, 1}}, {{0, 0, 2}}),
        ack(4020 * kMs, 1, 1),
        final_of(0, "durable", U"z", {{1, 0, 1}})};
  };
  EXPECT_EQ(check(history(true)).lost_by_cause.at("stale_base"), 2u);
  // Without a stale load the writer's own view had moved on without the characters.
  EXPECT_EQ(check(history(false)).lost_by_cause.at("concurrent"), 2u);
}

Event overruled(std::int64_t t_us, std::uint32_t client, std::uint32_t op, std::int32_t by_client, std::uint32_t by_op,
               std::vector<IdRun> ids) {
  Event e;
  e.type = EventType::kOverruled;
  e.t_us = t_us;
  e.client = client;
  e.op = op;
  e.writer = by_client;
  e.by_op = by_op;
  e.ids = std::move(ids);
  return e;
}

// The edit-flood case: client 0's X is durable; its own later split moves X's paragraph into a
// register that client 2's write (a later clock, made without seeing X) holds, so the commit of
// the split takes X out and the server answers the split's write there with client 2's. The
// paragraph indexes say nothing (client 2 wrote another paragraph); the overruling names it.
TEST(CheckCausesFromLog, AWriteOverruledWhereItCarriedTheCharacterNamesTheHolder) {
  const auto history = [](bool saw_holder, std::int32_t holder) {
    next_index = 1;
    const std::map<std::uint32_t, std::uint32_t> seen =
        saw_holder ? std::map<std::uint32_t, std::uint32_t>{{2, 1}} : std::map<std::uint32_t, std::uint32_t>{};
    std::vector<Event> h = {
        log_meta(true),
        edit({.t_us = 2000 * kMs, .client = 2, .op = 1, .clock_ms = 5000, .inserted = {{2, 0, 1}}, .para = 3}),
        commit(2010 * kMs, 2, 1, {{2, 0, 1}}),
        ack(2020 * kMs, 2, 1),
        edit({.t_us = 3000 * kMs, .client = 0, .op = 1, .clock_ms = 3000, .inserted = {{0, 0, 2}}, .seen_ops = seen,
              .para = 1}),
        commit(3010 * kMs, 0, 1, {{0, 0, 2}}),
        ack(3020 * kMs, 0, 1),
        edit({.t_us = 4000 * kMs, .client = 0, .op = 2, .clock_ms = 4000, .inserted = {{0, 2, 1}}}),
        commit(4010 * kMs, 0, 2, {{0, 2, 1}}, {{0, 0, 2}}),
        overruled(4020 * kMs, 0, 2, holder, 1, {{0, 0, 2}}),
        ack(4020 * kMs, 0, 2),
        final_of(0, "durable", U"\nw", {{0, 2, 1}, {2, 0, 1}})};
    return h;
  };
  // Client 0's op 1 (X) had not seen client 2's write: concurrent, blamed on client 2 op 1.
  RunMetrics m = check(history(false, 2));
  EXPECT_EQ(m.lost_by_cause.at("concurrent"), 2u);
  ASSERT_EQ(m.lost_edits.size(), 1u);
  EXPECT_EQ(m.lost_edits[0].by_client, 2u);
  EXPECT_EQ(m.lost_edits[0].by_op, 1u);
  // Had X's edit shown client 2's write, the past overwrote the future: clock_skew.
  EXPECT_EQ(check(history(true, 2)).lost_by_cause.at("clock_skew"), 2u);
  // The initial text held that register (every client started from it): clock_skew.
  m = check(history(false, -1));
  EXPECT_EQ(m.lost_by_cause.at("clock_skew"), 2u);
  EXPECT_EQ(m.lost_by_cause.at("unknown"), 0u);
  // Without the overruled event the log alone cannot name who decided: X's own author wrote it
  // out without deleting it, so its write landed on a paragraph someone had moved — concurrent,
  // with nobody blamed.
  std::vector<Event> bare = history(false, 2);
  bare.erase(bare.begin() + 9);
  m = check(bare);
  EXPECT_EQ(m.lost_by_cause.at("concurrent"), 2u);
  ASSERT_EQ(m.lost_edits.size(), 1u);
  EXPECT_EQ(m.lost_edits[0].by_client, 0u);
  EXPECT_EQ(m.lost_edits[0].by_op, 0u);
}

// Durable at the end yet missing from the reference: the log and the reference disagree.
TEST(CheckCausesFromLog, DurableButMissingFromTheReferenceIsUnknown) {
  const std::vector<Event> h = {
      log_meta(false),
      edit({.t_us = 1000 * kMs, .client = 0, .op = 1, .clock_ms = 1000, .inserted = {{0, 0, 1}}}),
      commit(1010 * kMs, 0, 1, {{0, 0, 1}}),
      ack(1020 * kMs, 0, 1),
      final_of(0, "durable", U"", {})};
  EXPECT_EQ(check(h).lost_by_cause.at("unknown"), 1u);
}

TEST(CheckCausality, ReversalWhenTheEditThatSawTheOtherLoses) {
  // A: client 1 op 0 inserts (1,0). B: client 0 op 4 saw it, inserted (0,0..1), acked, lost.
  const RunMetrics m = check(with_victim({edit({.t_us = 500 * kMs, .client = 1, .op = 0, .clock_ms = 5000,
                                                .inserted = {{1, 0, 1}}})}));
  EXPECT_EQ(m.causality_reversals, 0u);  // B (the victim) had not seen A
  std::vector<Event> h = with_victim({edit({.t_us = 500 * kMs, .client = 1, .op = 0, .clock_ms = 5000,
                                            .inserted = {{1, 0, 1}}})});
  for (Event& e : h) {
    if (e.type == EventType::kEdit && e.client == 0) e.seen_ops = {{1, 0}};
  }
  EXPECT_EQ(check(h).causality_reversals, 1u);
  EXPECT_EQ(check(h).flatten().at("causality_reversals"), 1.0);
}

TEST(CheckCausality, ReversalWhenADeletionComesBack) {
  // B (client 0) saw A's (1,0) and deleted it on purpose, but the durable text still has it.
  std::vector<Event> h = {
      meta(10000 * kMs, 20000 * kMs),
      edit({.t_us = 500 * kMs, .client = 1, .op = 0, .clock_ms = 5000, .inserted = {{1, 0, 1}}}),
      edit({.t_us = 1000 * kMs, .client = 0, .op = 0, .clock_ms = 1000, .deleted = {{1, 0, 1}},
            .seen_ops = {{1, 0}}}),
      final_of(0, "durable", U"y", {{1, 0, 1}})};
  // Not acknowledged: the server never took the deletion, so nothing was reversed.
  EXPECT_EQ(check(h).causality_reversals, 0u);
  h.insert(h.begin() + 3, ack(1050 * kMs, 0, 0));
  EXPECT_EQ(check(h).causality_reversals, 1u);
  // Same, but A was in another paragraph: not a reversal by this definition.
  h[1].para = 1;
  EXPECT_EQ(check(h).causality_reversals, 0u);
  // And when the deletion held, nothing came back.
  h[1].para = 0;
  h[4] = final_of(0, "durable", U"", {});
  EXPECT_EQ(check(h).causality_reversals, 0u);
}

// ---- Visibility

TEST(CheckVisibility, PercentilesOverAllPairsAndTheCrossServerSubset) {
  std::vector<Event> h = {meta(10000 * kMs, 20000 * kMs),
                          edit({.t_us = 0, .client = 0, .op = 0, .inserted = {{0, 0, 1}}, .server = 0}),
                          edit({.t_us = 0, .client = 0, .op = 1, .deleted = {{0, 0, 1}}, .server = 0})};
  // Clients 1..10 see op 0 after 10 * i ms; even clients are on server 1.
  for (std::uint32_t i = 1; i <= 10; ++i) {
    h.push_back(seen(10 * i * kMs, i, 0, 0, static_cast<std::int32_t>(i % 2 == 0 ? 1 : 0)));
  }
  h.push_back(seen(7 * kMs, 0, 0, 0, 0));             // the author itself: ignored
  h.push_back(seen(500 * kMs, 3, 0, 1, 1));           // a delete-only edit: nothing to see
  h.push_back(seen(900 * kMs, 11, 0, 0, -1));         // not connected: counts, but not cross
  h.push_back(final_of(0, "durable", U"", {}));
  const RunMetrics m = check(h);
  EXPECT_EQ(m.visibility_ms.count, 11u);
  EXPECT_DOUBLE_EQ(m.visibility_ms.p50, 60.0);  // nearest rank 6 of 11: 10..100, 900
  EXPECT_DOUBLE_EQ(m.visibility_ms.p99, 900.0);
  EXPECT_DOUBLE_EQ(m.visibility_ms.max, 900.0);
  EXPECT_EQ(m.visibility_cross_ms.count, 5u);   // 20, 40, 60, 80, 100
  EXPECT_DOUBLE_EQ(m.visibility_cross_ms.p50, 60.0);
  EXPECT_DOUBLE_EQ(m.visibility_cross_ms.p99, 100.0);
  EXPECT_DOUBLE_EQ(m.visibility_cross_ms.max, 100.0);
  const auto f = m.flatten();
  EXPECT_EQ(f.at("visibility_ms.count"), 11.0);
  EXPECT_EQ(f.at("visibility_cross_ms.p50"), 60.0);
}

TEST(CheckVisibility, NearestRankOnAHundredValues) {
  std::vector<Event> h = {edit({.t_us = 0, .client = 0, .op = 0, .inserted = {{0, 0, 1}}, .server = 0})};
  for (std::uint32_t i = 1; i <= 100; ++i) h.push_back(seen(i * kMs, i, 0, 0, 1));
  const RunMetrics m = check(h);
  EXPECT_DOUBLE_EQ(m.visibility_ms.p50, 50.0);
  EXPECT_DOUBLE_EQ(m.visibility_ms.p99, 99.0);
  EXPECT_DOUBLE_EQ(m.visibility_ms.max, 100.0);
}

// ---- Loads, counters, totals

TEST(CheckLoads, StaleAndRevokedLoadsAreCounted) {
  Event load;
  load.type = EventType::kLoad;
  load.version = 5;
  load.latest = 5;
  load.source = "primary";
  std::vector<Event> h = {load, load, load, load};
  h[1].version = 4;
  h[2].source = "cdn:revoked";
  h[3].version = 1;
  h[3].source = "replica:revoked";
  const RunMetrics m = check(h);
  EXPECT_EQ(m.stale_loads, 2u);
  EXPECT_EQ(m.served_after_revocation, 2u);
}

TEST(CheckLoads, ReadYourWritesViolationsAreLoadsMissingTheirOwnWrite) {
  Event load;
  load.type = EventType::kLoad;
  load.source = "replica";
  std::vector<Event> h = {load, load, load};
  h[1].source = "replica:missing_own_write";
  h[2].source = "cdn:missing_own_write:revoked";
  const RunMetrics m = check(h);
  EXPECT_EQ(m.read_your_writes_violations, 2u);
  EXPECT_EQ(m.served_after_revocation, 1u);
  EXPECT_EQ(m.flatten().at("read_your_writes_violations"), 2.0);
}

TEST(CheckRenames, AnAckedRenameOverwrittenUnseenIsASilentLoss) {
  const auto rename = [](std::uint32_t client, std::uint32_t op, const char* kind, std::uint64_t version) {
    Event e;
    e.type = EventType::kRename;
    e.client = client;
    e.op = op;
    e.kind = kind;
    e.version = version;
    return e;
  };
  // Client 0's rename (version 1) is replaced by client 1's, made on version 0: silent. Client
  // 2's rename, made on version 2 (it had seen client 1's), loses nothing.
  const std::vector<Event> naive = {rename(0, 1, "request", 0), rename(1, 1, "request", 0), rename(0, 1, "ack", 1),
                                    rename(1, 1, "ack", 2), rename(2, 1, "request", 2), rename(2, 1, "ack", 3)};
  EXPECT_EQ(check(naive).silent_rename_losses, 1u);
  // With a notice, client 1's rename is refused and nothing acknowledged is lost.
  const std::vector<Event> fixed = {rename(0, 1, "request", 0), rename(1, 1, "request", 0), rename(0, 1, "ack", 1),
                                    rename(1, 1, "notice", 1)};
  EXPECT_EQ(check(fixed).silent_rename_losses, 0u);
}

TEST(CheckCounters, DatabaseQueriesFromTheLastSnapshotAndTheirRate) {
  const std::vector<Event> h = {
      meta(2000 * kMs, 4000 * kMs),
      edit({.t_us = 10, .client = 0, .op = 0, .inserted = {{0, 0, 1}}}),
      edit({.t_us = 20, .client = 1, .op = 0, .inserted = {{1, 0, 1}}}),
      counters(1000 * kMs, {{"db.poll", 10}, {"net.msgs", 1}}),
      counters(2000 * kMs,
               {{"db.poll", 30}, {"db.commit", 12}, {"db.load", 2}, {"net.msgs", 100}, {"net.bytes", 5000}}),
      final_of(0, "durable", U"xx", {{0, 0, 1}, {1, 0, 1}})};
  const RunMetrics m = check(h);
  EXPECT_EQ(m.db_queries, 44u);
  EXPECT_EQ(m.db_queries_by_kind, (std::map<std::string, std::uint64_t>{{"commit", 12}, {"load", 2}, {"poll", 30}}));
  EXPECT_DOUBLE_EQ(m.db_queries_per_s, 22.0);
  EXPECT_DOUBLE_EQ(m.msgs_per_edit, 50.0);
  EXPECT_DOUBLE_EQ(m.bytes_per_edit, 2500.0);
  EXPECT_EQ(m.events, 6u);
  EXPECT_DOUBLE_EQ(m.sim_seconds, 4.0);
  const auto f = m.flatten();
  EXPECT_EQ(f.at("db_queries.poll"), 30.0);
  EXPECT_EQ(f.at("db_queries.commit"), 12.0);
  EXPECT_EQ(f.at("db_queries.load"), 2.0);
  EXPECT_EQ(f.at("db_queries_per_s"), 22.0);
  EXPECT_EQ(f.at("edits"), 2.0);
}

TEST(CheckCounters, MemoryPerDocumentFromTheLastCounters) {
  const std::vector<Event> h = {
      counters(1000 * kMs, {{"mem.replica_bytes", 1}, {"mem.replica_docs", 1}, {"mem.replicas", 1}}),
      counters(2000 * kMs, {{"mem.replica_bytes", 9000},
                            {"mem.replica_bytes_max", 4000},
                            {"mem.replica_docs", 2},
                            {"mem.replicas", 3}})};
  const RunMetrics m = check(h);
  EXPECT_DOUBLE_EQ(m.memory_per_doc_bytes, 4500.0);
  EXPECT_DOUBLE_EQ(m.memory_per_replica_bytes, 3000.0);
  EXPECT_DOUBLE_EQ(m.memory_replica_bytes_max, 4000.0);
  EXPECT_EQ(m.flatten().at("memory_per_doc_bytes"), 4500.0);
  // Without a sample: zeros, not NaN.
  const RunMetrics none = check({counters(5, {{"db.poll", 3}})});
  EXPECT_EQ(none.memory_per_doc_bytes, 0.0);
  EXPECT_EQ(none.memory_per_replica_bytes, 0.0);
}

TEST(CheckCounters, NoHealNoEditsGiveZeroRatesNotNaN) {
  const RunMetrics m = check({counters(5, {{"db.poll", 3}, {"net.msgs", 9}})});
  EXPECT_EQ(m.db_queries, 3u);
  EXPECT_EQ(m.db_queries_per_s, 0.0);
  EXPECT_EQ(m.msgs_per_edit, 0.0);
}

TEST(CheckMetricNames, SortedFixedAndProducedByFlatten) {
  const auto& names = metric_names();
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  for (const char* n : {"converged", "convergence_ms", "edits", "acked_edits", "lost_acked_chars",
                        "lost_acked_chars.clock_skew", "lost_acked_chars.concurrent", "lost_acked_chars.stale_base",
                        "lost_acked_chars.crash", "lost_acked_chars.unknown", "causality_reversals",
                        "visibility_ms.p50", "visibility_ms.p99", "visibility_ms.max", "visibility_ms.count",
                        "visibility_cross_ms.p50", "visibility_cross_ms.p99", "visibility_cross_ms.max",
                        "visibility_cross_ms.count", "stale_loads", "served_after_revocation", "db_queries",
                        "db_queries_per_s", "db_queries.poll", "db_queries.commit", "msgs_per_edit",
                        "bytes_per_edit", "events", "sim_seconds", "lost_acked_edits",
                        "visibility_others_ms.p50", "visibility_others_ms.p99", "visibility_others_ms.max",
                        "visibility_others_ms.count", "read_your_writes_violations", "silent_rename_losses",
                        "db_polls_per_s", "bus_msgs_per_s", "net_msgs_per_s", "net_bytes_per_s",
                        "server_inputs_per_s", "mem_doc_bytes_max", "mem_bytes_per_doc",
                        "memory_per_doc_bytes", "memory_per_replica_bytes", "memory_replica_bytes_max"}) {
    EXPECT_TRUE(std::binary_search(names.begin(), names.end(), std::string(n))) << n;
  }
  EXPECT_EQ(names.size(), 46u);
  // Any run's flatten() has every listed name.
  RunMetrics m;
  m.db_queries_by_kind = {{"load", 1}};
  const auto f = m.flatten();
  for (const auto& n : names) EXPECT_TRUE(f.count(n)) << n;
}

// ---- The indexed cause search agrees with the definition applied literally.

std::string reference_cause(const std::vector<Event>& h, const Event& e, std::uint32_t& by_client,
                            std::uint32_t& by_op) {
  const auto not_seen = [&](const Event& w) {
    auto it = w.seen_ops.find(e.client);
    return it == w.seen_ops.end() || it->second < e.op;
  };
  const auto later = [](const Event* a, const Event* b) {
    return std::tie(a->t_us, a->client, a->op) < std::tie(b->t_us, b->client, b->op);
  };
  const Event* skew = nullptr;
  const Event* stale = nullptr;
  const Event* any = nullptr;
  bool crash = false;
  for (const Event& w : h) {
    if (w.type == EventType::kFault && w.kind == "crash" && w.t_us > e.t_us) crash = true;
    if (w.type != EventType::kEdit || w.client == e.client || w.doc != e.doc || w.para != e.para || !not_seen(w)) {
      continue;
    }
    if (any == nullptr || later(any, &w)) any = &w;
    if (w.stale_base && (stale == nullptr || later(stale, &w))) stale = &w;
    if (w.t_us < e.t_us && w.clock_ms > e.clock_ms && (skew == nullptr || later(skew, &w))) skew = &w;
  }
  if (crash) return "crash";
  const Event* blamed = nullptr;
  std::string cause = "unknown";
  if (stale != nullptr && stale->t_us >= e.t_us) {
    blamed = stale, cause = "stale_base";
  } else if (any != nullptr && any->t_us >= e.t_us) {
    blamed = any, cause = "concurrent";
  } else if (skew != nullptr) {
    blamed = skew, cause = "clock_skew";
  } else if (stale != nullptr) {
    blamed = stale, cause = "stale_base";
  } else if (any != nullptr) {
    blamed = any, cause = "concurrent";
  }
  if (blamed != nullptr) {
    by_client = blamed->client;
    by_op = blamed->op;
  }
  return cause;
}

RC_GTEST_PROP(CheckLostChars, IndexedCausesAndReversalsMatchTheLiteralDefinition, ()) {
  // Random small histories: 3 clients, 2 paragraphs, every edit inserts one char (client, op),
  // each acked; the durable text keeps a random subset.
  const auto n = *rc::gen::inRange(1, 25);
  std::vector<Event> h;
  std::vector<IdRun> kept;
  std::vector<std::uint32_t> next_op(3, 0);
  for (int i = 0; i < n; ++i) {
    const auto client = *rc::gen::inRange<std::uint32_t>(0, 3);
    const std::uint32_t op = next_op[client]++;
    EditSpec s{.t_us = *rc::gen::inRange<std::int64_t>(0, 50),
               .client = client,
               .op = op,
               .clock_ms = *rc::gen::inRange<std::int64_t>(0, 50),
               .inserted = {{client, op, 1}},
               .para = *rc::gen::inRange<std::uint32_t>(0, 2),
               .stale_base = *rc::gen::inRange(0, 4) == 0};
    for (std::uint32_t c = 0; c < 3; ++c) {
      const auto v = *rc::gen::inRange<int>(-1, 4);
      if (c != client && v >= 0) s.seen_ops[c] = static_cast<std::uint32_t>(v);
    }
    h.push_back(edit(s));
    h.push_back(ack(s.t_us + 1, client, op));
    if (*rc::gen::arbitrary<bool>()) kept.push_back({client, op, 1});
  }
  if (*rc::gen::arbitrary<bool>()) h.push_back(fault(*rc::gen::inRange<std::int64_t>(0, 60), "crash"));
  h.push_back(final_of(0, "durable", std::u32string(kept.size(), U'x'), kept));

  const RunMetrics m = check(h);
  std::map<std::string, std::uint64_t> want = {{"clock_skew", 0}, {"concurrent", 0}, {"crash", 0},
                                               {"stale_base", 0}, {"unknown", 0}};
  std::vector<LostChar> want_lost;
  for (const Event& e : h) {
    if (e.type != EventType::kEdit) continue;
    const bool present = std::any_of(kept.begin(), kept.end(), [&](const IdRun& r) {
      return r.agent == e.client && r.seq == e.op;
    });
    if (present) continue;
    LostChar lc;
    lc.id = CharId{e.client, e.op};
    lc.author_op = e.op;
    lc.cause = reference_cause(h, e, lc.by_client, lc.by_op);
    ++want[lc.cause];
    want_lost.push_back(lc);
  }
  RC_ASSERT(m.lost_by_cause == want);
  // Reversals, literally: a lost edit B that had seen a surviving edit A of the same paragraph,
  // earlier and with a later clock, and that no later edit overwrote without having seen B.
  const auto kept_edit = [&](const Event& e) {
    return std::any_of(kept.begin(), kept.end(), [&](const IdRun& r) { return r.agent == e.client && r.seq == e.op; });
  };
  std::uint64_t reversals = 0;
  for (const Event& b : h) {
    if (b.type != EventType::kEdit || kept_edit(b)) continue;
    const auto same_para_other = [&](const Event& w) {
      return w.type == EventType::kEdit && w.client != b.client && w.para == b.para && kept_edit(w);
    };
    const bool overwritten_later = std::any_of(h.begin(), h.end(), [&](const Event& w) {
      if (!same_para_other(w) || w.t_us < b.t_us) return false;
      auto it = w.seen_ops.find(b.client);
      return it == w.seen_ops.end() || it->second < b.op;
    });
    const bool reversed = std::any_of(h.begin(), h.end(), [&](const Event& a) {
      if (!same_para_other(a) || a.t_us >= b.t_us || a.clock_ms <= b.clock_ms) return false;
      auto it = b.seen_ops.find(a.client);
      return it != b.seen_ops.end() && it->second >= a.op;
    });
    if (reversed && !overwritten_later) ++reversals;
  }
  RC_ASSERT(m.causality_reversals == reversals);
  RC_ASSERT(m.lost.size() == std::min<std::size_t>(want_lost.size(), 20));
  for (std::size_t i = 0; i < m.lost.size(); ++i) {
    RC_ASSERT(m.lost[i].id == want_lost[i].id);
    RC_ASSERT(m.lost[i].cause == want_lost[i].cause);
    RC_ASSERT(m.lost[i].by_client == want_lost[i].by_client);
    RC_ASSERT(m.lost[i].by_op == want_lost[i].by_op);
  }
  // The same history gives the same metrics.
  RC_ASSERT(check(h).flatten() == m.flatten());
}

}  // namespace
}  // namespace convlab::reports
