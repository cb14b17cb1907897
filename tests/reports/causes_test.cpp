// Lost acknowledged characters and their causes (reports/causes.cpp from the durable log,
// reports/causes_clocks.cpp from clocks), causality reversals, and the indexed cause search
// against the literal definition.
#include "reports/checkers.hpp"
#include "tests/reports/history_builders.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <optional>
#include <tuple>

namespace convlab::reports {
namespace {
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
  for (const char* c : {"clock_skew", "concurrent", "stale_base", "crash", "db_lost", "unknown"}) {
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

// The cause of edit (client 0, op 1)'s lost characters and the edit blamed; "none" when it lost
// nothing.
std::tuple<std::string, std::uint32_t, std::uint32_t> cause_of_e(const RunMetrics& m) {
  const auto it = std::find_if(m.lost_edits.begin(), m.lost_edits.end(),
                               [](const auto& l) { return l.client == 0 && l.op == 1; });
  return it == m.lost_edits.end() ? std::make_tuple(std::string("none"), 0u, 0u)
                                  : std::make_tuple(it->cause, it->by_client, it->by_op);
}

// A history's first line for a paragraph strategy in server order (seq: a write can replace text
// its author had not seen), its commits indexed from 1 again.
Event overwriting_log(const std::string& persistence) {
  next_index = 1;
  Event m = log_meta(false, persistence);
  m.meta["overwrites"] = "true";
  return m;
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

// The database lost (a db_lost fault): the store restored from its backups without an
// acknowledged, committed character — a commit with no writer at the fault's instant — lost it
// to db_lost. The same commit at another instant is a snapshot that took it out of the durable
// text, which the lost database cannot explain.
TEST(CheckCausesFromLog, RestoredWithoutItIsDbLost) {
  const auto history = [](std::int64_t restore_us) {
    return std::vector<Event>{
        log_meta(false),
        edit({.t_us = 1000 * kMs, .client = 0, .op = 1, .clock_ms = 1000, .inserted = {{0, 0, 3}}}),
        commit(1010 * kMs, 0, 1, {{0, 0, 3}}),
        ack(1020 * kMs, 0, 1),
        fault(5000 * kMs, "db_lost"),
        commit(restore_us, -1, 0, {}, {{0, 0, 3}}),
        final_of(0, "durable", U"", {})};
  };
  const RunMetrics m = check(history(5000 * kMs));
  EXPECT_EQ(m.lost_acked_chars, 3u);
  EXPECT_EQ(m.lost_by_cause.at("db_lost"), 3u);
  EXPECT_EQ(m.flatten().at("lost_acked_chars.db_lost"), 3.0);
  ASSERT_EQ(m.lost_edits.size(), 1u);
  EXPECT_EQ(m.lost_edits[0].cause, "db_lost");
  const RunMetrics later = check(history(6000 * kMs));
  EXPECT_EQ(later.lost_acked_chars, 3u);
  EXPECT_EQ(later.lost_by_cause.at("db_lost"), 0u);
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

// Never durable, gone from every server's memory at the end, and no crash, no partition and no
// document started over from E on: no memory was lost, so a write took X out — here a split
// in an earlier paragraph by a client that had not seen E. With a crash after E the history
// cannot tell a write from the crash: crash.
TEST(CheckCausesFromLog, NeverDurableWithNoMemoryLostIsTheWriteThatTookItOut) {
  const auto history = [](bool crash, bool overwrites = true) {
    Event m = log_meta(false, "snapshot");
    if (overwrites) m.meta["overwrites"] = "true";
    std::vector<Event> h = {
        std::move(m),
        edit({.t_us = 1000 * kMs, .client = 0, .op = 1, .clock_ms = 1000, .inserted = {{0, 0, 2}}, .para = 2}),
        ack(1010 * kMs, 0, 1),
        edit({.t_us = 1500 * kMs, .client = 1, .op = 1, .clock_ms = 1500, .inserted = {{1, 0, 1}}, .para = 0}),
        ack(1510 * kMs, 1, 1),
        final_of(0, "durable", U"", {}),
        final_of(0, "server:0", U"\n", {{1, 0, 1}})};
    if (crash) h.push_back(fault(3000 * kMs, "crash"));
    std::stable_sort(h.begin(), h.end(), [](const Event& a, const Event& b) { return a.t_us < b.t_us; });
    return h;
  };
  // Client 1's own character is lost too: never durable, held by the server to the end (crash).
  RunMetrics m = check(history(false));
  EXPECT_EQ(m.lost_acked_chars, 3u);
  EXPECT_EQ(m.lost_by_cause.at("concurrent"), 2u);
  EXPECT_EQ(m.lost_by_cause.at("crash"), 1u);
  ASSERT_EQ(m.lost_edits.size(), 2u);
  EXPECT_EQ(m.lost_edits[0].client, 0u);
  EXPECT_EQ(m.lost_edits[0].cause, "concurrent");
  EXPECT_EQ(m.lost_edits[0].by_client, 1u);
  m = check(history(true));
  EXPECT_EQ(m.lost_by_cause.at("crash"), 3u);
  EXPECT_EQ(m.lost_by_cause.at("concurrent"), 0u);
  // A strategy that never overwrites (ot, crdt) takes a character out only by deleting it: what
  // was never durable went with memory, whatever the others wrote.
  m = check(history(false, false));
  EXPECT_EQ(m.lost_by_cause.at("crash"), 3u);
  EXPECT_EQ(m.lost_by_cause.at("concurrent"), 0u);
}

// A lease moved the document's home: the old home dropped it (its clients are closed with "the
// document's home moved to node N"), and its memory with it. Never durable, taken out by no
// write before that: the history cannot name a write, so the lost memory it is.
TEST(CheckCausesFromLog, AHomeThatMovedLostItsMemory) {
  const auto history = [](bool moved) {
    std::vector<Event> h = {
        overwriting_log("changelog"),
        edit({.t_us = 1000 * kMs, .client = 0, .op = 1, .clock_ms = 1000, .inserted = {{0, 0, 2}}}),
        ack(1010 * kMs, 0, 1),
        edit({.t_us = 4000 * kMs, .client = 0, .op = 2, .clock_ms = 4000, .inserted = {{0, 5, 1}}, .para = 1}),
        ack(4010 * kMs, 0, 2),
        final_of(0, "durable", U"", {})};
    if (moved) {
      Event closed = fault(3000 * kMs, "closed");
      closed.detail = "the document's home moved to node 1";
      h.push_back(std::move(closed));
    }
    std::stable_sort(h.begin(), h.end(), [](const Event& a, const Event& b) { return a.t_us < b.t_us; });
    return h;
  };
  EXPECT_EQ(std::get<0>(cause_of_e(check(history(true)))), "crash");
  // Without the move nothing lost memory: its author's later write took it out (a paragraph a
  // split or join had moved).
  EXPECT_EQ(std::get<0>(cause_of_e(check(history(false)))), "concurrent");
}

// Snapshot persistence, no snapshot, a crash: E's author reloads the page from a copy without
// E's characters and writes E's paragraph again (seq: the register is replaced in memory); later
// another client, never having seen E, writes there too. The first write to replace the register
// took X out: its author's own write on the stale reload (stale_base), not the later one.
TEST(CheckCausesFromLog, NeverDurableTakenOutFirstByItsAuthorsWriteOnAStaleReload) {
  const auto history = [](std::int64_t other_t_ms) {
    std::vector<Event> h = {
        overwriting_log("snapshot"),
        edit({.t_us = 1000 * kMs, .client = 0, .op = 1, .clock_ms = 1000, .inserted = {{0, 0, 2}}}),
        ack(1010 * kMs, 0, 1),
        load_of(2000 * kMs, 0, 0, 0),
        edit({.t_us = 3000 * kMs, .client = 0, .op = 2, .clock_ms = 3000, .inserted = {{0, 5, 1}}}),
        ack(3010 * kMs, 0, 2),
        edit({.t_us = other_t_ms * kMs, .client = 1, .op = 1, .clock_ms = other_t_ms, .inserted = {{1, 0, 1}}}),
        ack((other_t_ms + 10) * kMs, 1, 1),
        fault(6000 * kMs, "crash"),
        final_of(0, "durable", U"", {})};
    std::stable_sort(h.begin(), h.end(), [](const Event& a, const Event& b) { return a.t_us < b.t_us; });
    return h;
  };
  // The other client's write came after the author's own: the own write decided.
  EXPECT_EQ(cause_of_e(check(history(4000))), std::make_tuple(std::string("stale_base"), 0u, 2u));
  // It came before (after E, before the reload): it took X out first.
  EXPECT_EQ(cause_of_e(check(history(1500))), std::make_tuple(std::string("concurrent"), 1u, 1u));
}

// A change log, the database down: E (seq, acknowledged at once) never became durable, and the
// document started over when its commit failed ("a change did not commit"), which loses the
// server's memory. Another client's write in E's paragraph that had not seen E, applied before
// that (acknowledged), replaced X's register first: it decided, not the lost memory. Applied
// only after the document started over, it cannot have: crash.
TEST(CheckCausesFromLog, NeverDurableUnderAChangeLogTakenOutBeforeItsDocumentStartedOver) {
  const auto history = [](std::int64_t other_t_ms) {
    Event m = overwriting_log("changelog");
    Event closed = fault(5000 * kMs, "closed");
    closed.detail = "a change did not commit";
    std::vector<Event> h = {
        std::move(m),
        edit({.t_us = 1000 * kMs, .client = 0, .op = 1, .clock_ms = 1000, .inserted = {{0, 0, 2}}}),
        ack(1010 * kMs, 0, 1),
        edit({.t_us = other_t_ms * kMs, .client = 1, .op = 1, .clock_ms = other_t_ms, .inserted = {{1, 0, 1}}}),
        ack((other_t_ms + 10) * kMs, 1, 1),
        std::move(closed),
        final_of(0, "durable", U"", {})};
    std::stable_sort(h.begin(), h.end(), [](const Event& a, const Event& b) { return a.t_us < b.t_us; });
    return h;
  };
  RunMetrics m = check(history(1500));
  EXPECT_EQ(m.lost_by_cause.at("concurrent"), 2u);
  EXPECT_EQ(m.lost_by_cause.at("crash"), 1u);  // client 1's own character, lost with the memory
  const auto e = std::find_if(m.lost_edits.begin(), m.lost_edits.end(), [](const auto& l) { return l.client == 0; });
  ASSERT_NE(e, m.lost_edits.end());
  EXPECT_EQ(std::make_tuple(e->cause, e->by_client, e->by_op), std::make_tuple(std::string("concurrent"), 1u, 1u));
  m = check(history(6000));
  EXPECT_EQ(m.lost_by_cause.at("concurrent"), 0u);
  EXPECT_EQ(m.lost_by_cause.at("crash"), 3u);
}

// An edit whose acknowledgement never came (its author reloaded the page first) is still known
// applied once another client shows it: the author's own write on a stale reload, so applied,
// took X out of memory before a later write of another client's did (snapshot persistence, no
// snapshot, a crash at the end). Shown by nobody, it is not known applied: the later write.
TEST(CheckCausesFromLog, AnUnacknowledgedWriteAnotherClientShowedWasApplied) {
  const auto history = [](bool shown) {
    std::vector<Event> h = {
        overwriting_log("snapshot"),
        edit({.t_us = 1000 * kMs, .client = 0, .op = 1, .clock_ms = 1000, .inserted = {{0, 0, 2}}}),
        ack(1010 * kMs, 0, 1),
        load_of(2000 * kMs, 0, 0, 0),
        edit({.t_us = 3000 * kMs, .client = 0, .op = 2, .clock_ms = 3000, .inserted = {{0, 5, 1}}}),
        edit({.t_us = 4000 * kMs, .client = 1, .op = 1, .clock_ms = 4000, .inserted = {{1, 0, 1}}}),
        ack(4010 * kMs, 1, 1),
        fault(6000 * kMs, "crash"),
        final_of(0, "durable", U"", {})};
    if (shown) h.push_back(seen(3100 * kMs, 2, 0, 2, 0));
    std::stable_sort(h.begin(), h.end(), [](const Event& a, const Event& b) { return a.t_us < b.t_us; });
    return h;
  };
  EXPECT_EQ(cause_of_e(check(history(true))), std::make_tuple(std::string("stale_base"), 0u, 2u));
  EXPECT_EQ(cause_of_e(check(history(false))), std::make_tuple(std::string("concurrent"), 1u, 1u));
}

// E (paragraph 1) acknowledged, then its author reloads from a copy without E's characters and
// makes `own` (paragraph 0) on it; snapshot persistence, no snapshot, a crash.
std::vector<Event> stale_own_reload_then(Event own) {
  return {overwriting_log("snapshot"),
          edit({.t_us = 1000 * kMs, .client = 0, .op = 1, .clock_ms = 1000, .inserted = {{0, 0, 2}}, .para = 1}),
          ack(1010 * kMs, 0, 1),
          load_of(2000 * kMs, 0, 0, 0),
          std::move(own),
          ack(3010 * kMs, 0, 2),
          fault(6000 * kMs, "crash"),
          final_of(0, "durable", U"", {})};
}

// E's author reloads from a copy without E's characters and splits an earlier paragraph: the
// split rewrites every later paragraph's register, E's with the stale view, so that write took X
// out (stale_base). An earlier paragraph's write that neither splits nor joins does not touch
// E's register: the crash it is.
TEST(CheckCausesFromLog, AStaleOwnReloadSplittingAnEarlierParagraphWroteOverIt) {
  const auto history = [](const std::u32string& ins) {
    Event w = edit({.t_us = 3000 * kMs, .client = 0, .op = 2, .clock_ms = 3000, .inserted = {{0, 5, 1}}, .para = 0});
    w.ins = ins;
    return stale_own_reload_then(std::move(w));
  };
  EXPECT_EQ(cause_of_e(check(history(U"\n"))), std::make_tuple(std::string("stale_base"), 0u, 2u));
  EXPECT_EQ(std::get<0>(cause_of_e(check(history(U"a")))), "crash");
}

// The same with a delete in the earlier paragraph: it joins paragraphs (rewriting E's register)
// only if it deleted a newline. `del_newlines` says; a history without it (older writers) counts
// any delete as a join.
TEST(CheckCausesFromLog, AStaleOwnReloadDeletingInAnEarlierParagraphJoinsOnlyWithANewline) {
  const auto history = [](std::int64_t del_newlines) {
    Event w = edit({.t_us = 3000 * kMs, .client = 0, .op = 2, .clock_ms = 3000, .deleted = {{4, 0, 1}}, .para = 0});
    w.del = 1;
    w.del_newlines = del_newlines;
    return stale_own_reload_then(std::move(w));
  };
  EXPECT_EQ(cause_of_e(check(history(1))), std::make_tuple(std::string("stale_base"), 0u, 2u));
  EXPECT_EQ(std::get<0>(cause_of_e(check(history(0)))), "crash");
  EXPECT_EQ(cause_of_e(check(history(-1))), std::make_tuple(std::string("stale_base"), 0u, 2u));
}

// A write made before E, held (its author offline), applied after E: E's author showed it after
// E's acknowledgement on the same connection, so the server applied it after E, and it replaced
// X's register before the crash (concurrent). With a reload of E's author in between, the order
// is not known: the crash.
TEST(CheckCausesFromLog, AWriteMadeBeforeButAppliedAfterTookItOut) {
  const auto history = [](bool reloaded) {
    std::vector<Event> h = {
        overwriting_log("snapshot"),
        edit({.t_us = 900 * kMs, .client = 1, .op = 1, .clock_ms = 900, .inserted = {{1, 0, 1}}}),
        edit({.t_us = 1000 * kMs, .client = 0, .op = 1, .clock_ms = 1000, .inserted = {{0, 0, 2}}}),
        ack(1010 * kMs, 0, 1),
        ack(1490 * kMs, 1, 1),
        seen(1500 * kMs, 0, 1, 1, 0),
        fault(6000 * kMs, "crash"),
        final_of(0, "durable", U"", {})};
    if (reloaded) h.push_back(load_of(1200 * kMs, 0, 0, 0));
    std::stable_sort(h.begin(), h.end(), [](const Event& a, const Event& b) { return a.t_us < b.t_us; });
    return h;
  };
  EXPECT_EQ(cause_of_e(check(history(false))), std::make_tuple(std::string("concurrent"), 1u, 1u));
  EXPECT_EQ(std::get<0>(cause_of_e(check(history(true)))), "crash");
}

// An ack carrying the sequence number its server accepted the edit's write at.
Event ack_at(std::int64_t t_us, std::uint32_t client, std::uint32_t op, std::uint64_t seq) {
  Event e = ack(t_us, client, op);
  e.server = 0;
  e.seq = seq;
  return e;
}

// A write made before E and held (a partition), that deleted and so is shown by nobody: only
// the acks' sequence numbers tell that the home applied it after E, replacing X's register
// before the crash (concurrent). Numbered before E, it was applied first and E's write replaced
// it: the crash took X. With a crash between W's making and the acks the numbers may belong to
// two lives of the server's memory and say nothing: the crash.
TEST(CheckCausesFromLog, AckSequenceNumbersOrderAWriteMadeBeforeButAppliedAfter) {
  const auto history = [](std::uint64_t w_seq, bool crash_between) {
    std::vector<Event> h = {
        overwriting_log("snapshot"),
        edit({.t_us = 900 * kMs, .client = 1, .op = 1, .clock_ms = 900, .deleted = {{7, 0, 1}}}),
        edit({.t_us = 1000 * kMs, .client = 0, .op = 1, .clock_ms = 1000, .inserted = {{0, 0, 2}}}),
        ack_at(1010 * kMs, 0, 1, 5),
        ack_at(1490 * kMs, 1, 1, w_seq),
        fault(6000 * kMs, "crash"),
        final_of(0, "durable", U"", {})};
    if (crash_between) h.push_back(fault(950 * kMs, "crash"));
    std::stable_sort(h.begin(), h.end(), [](const Event& a, const Event& b) { return a.t_us < b.t_us; });
    return h;
  };
  EXPECT_EQ(cause_of_e(check(history(6, false))), std::make_tuple(std::string("concurrent"), 1u, 1u));
  EXPECT_EQ(std::get<0>(cause_of_e(check(history(4, false)))), "crash");
  EXPECT_EQ(std::get<0>(cause_of_e(check(history(6, true)))), "crash");
}

// E's author reloads a stale copy and writes on it (stale_base), and another client's write that
// had not seen E is made before that own write. Which replaced X's register first is the order
// the home applied them in: by their acks' sequence numbers the own write came first although it
// was made later (the other was held); without numbers, the first made decides.
TEST(CheckCausesFromLog, AckSequenceNumbersSayWhichWriteTookItOutFirst) {
  const auto history = [](bool numbered) {
    std::vector<Event> h = {
        overwriting_log("snapshot"),
        edit({.t_us = 1000 * kMs, .client = 0, .op = 1, .clock_ms = 1000, .inserted = {{0, 0, 2}}}),
        numbered ? ack_at(1010 * kMs, 0, 1, 1) : ack(1010 * kMs, 0, 1),
        edit({.t_us = 1500 * kMs, .client = 1, .op = 1, .clock_ms = 1500, .inserted = {{1, 0, 1}}}),
        load_of(2000 * kMs, 0, 0, 0),
        edit({.t_us = 3000 * kMs, .client = 0, .op = 2, .clock_ms = 3000, .inserted = {{0, 5, 1}}}),
        numbered ? ack_at(3010 * kMs, 0, 2, 2) : ack(3010 * kMs, 0, 2),
        numbered ? ack_at(3500 * kMs, 1, 1, 3) : ack(3500 * kMs, 1, 1),
        fault(6000 * kMs, "crash"),
        final_of(0, "durable", U"", {})};
    return h;
  };
  EXPECT_EQ(cause_of_e(check(history(true))), std::make_tuple(std::string("stale_base"), 0u, 2u));
  EXPECT_EQ(cause_of_e(check(history(false))), std::make_tuple(std::string("concurrent"), 1u, 1u));
}

// Where acks carry numbers, an acknowledged write without one had nothing accepted (every write
// overruled): it replaced no register, so it did not take X out (the crash did). Numbered, it
// did (concurrent).
TEST(CheckCausesFromLog, AnAcknowledgedWriteWithNoNumberReplacedNothing) {
  const auto history = [](std::uint64_t w_seq) {
    return std::vector<Event>{
        overwriting_log("snapshot"),
        edit({.t_us = 1000 * kMs, .client = 0, .op = 1, .clock_ms = 1000, .inserted = {{0, 0, 2}}}),
        ack_at(1010 * kMs, 0, 1, 1),
        edit({.t_us = 1500 * kMs, .client = 1, .op = 1, .clock_ms = 1500, .inserted = {{1, 0, 1}}}),
        ack_at(1600 * kMs, 1, 1, w_seq),
        fault(6000 * kMs, "crash"),
        final_of(0, "durable", U"", {})};
  };
  EXPECT_EQ(cause_of_e(check(history(2))), std::make_tuple(std::string("concurrent"), 1u, 1u));
  EXPECT_EQ(std::get<0>(cause_of_e(check(history(0)))), "crash");
}

// Under snapshot persistence a snapshot of E's server without X shows X left that memory before
// it. A write acknowledged only after the snapshot is still known applied before it when its
// server numbered it before another write acknowledged before the snapshot: it took X out
// (concurrent). Without that other ack in time, no write is known to have: E's author's own.
TEST(CheckCausesFromLog, NumberedBeforeAWriteAcknowledgedInTimeWasAppliedInTime) {
  const auto history = [](bool other_acked_in_time) {
    Event snap = commit(3000 * kMs, -1, 0, {});
    snap.server = 0;
    std::vector<Event> h = {
        overwriting_log("snapshot"),
        edit({.t_us = 1000 * kMs, .client = 0, .op = 1, .clock_ms = 1000, .inserted = {{0, 0, 2}}}),
        ack_at(1010 * kMs, 0, 1, 1),
        edit({.t_us = 1500 * kMs, .client = 1, .op = 1, .clock_ms = 1500, .inserted = {{1, 0, 1}}}),
        edit({.t_us = 1600 * kMs, .client = 2, .op = 1, .clock_ms = 1600, .inserted = {{2, 0, 1}}, .para = 3}),
        std::move(snap),
        ack_at(3500 * kMs, 1, 1, 2),
        ack_at((other_acked_in_time ? 2000 : 3600) * kMs, 2, 1, 3),
        fault(6000 * kMs, "crash"),
        final_of(0, "durable", U"", {})};
    std::stable_sort(h.begin(), h.end(), [](const Event& a, const Event& b) { return a.t_us < b.t_us; });
    return h;
  };
  EXPECT_EQ(cause_of_e(check(history(true))), std::make_tuple(std::string("concurrent"), 1u, 1u));
  EXPECT_EQ(cause_of_e(check(history(false))), std::make_tuple(std::string("concurrent"), 0u, 0u));
}

// Under snapshot persistence a crash of the database takes no server's memory (the servers keep
// their documents; a snapshot that fails is written later): E's author's write on a stale reload
// after it still took X out (stale_base). A crash of E's server there: the crash.
TEST(CheckCausesFromLog, ADatabaseCrashUnderSnapshotsTakesNoServersMemory) {
  const auto history = [](const std::string& target) {
    Event crash = fault(1500 * kMs, "crash");
    crash.detail = target + " for_ms=300";
    return std::vector<Event>{
        overwriting_log("snapshot"),
        edit({.t_us = 1000 * kMs, .client = 0, .op = 1, .clock_ms = 1000, .inserted = {{0, 0, 2}}}),
        ack(1010 * kMs, 0, 1),
        std::move(crash),
        load_of(2000 * kMs, 0, 0, 0),
        edit({.t_us = 3000 * kMs, .client = 0, .op = 2, .clock_ms = 3000, .inserted = {{0, 5, 1}}}),
        ack(3010 * kMs, 0, 2),
        final_of(0, "durable", U"", {})};
  };
  EXPECT_EQ(cause_of_e(check(history("db"))), std::make_tuple(std::string("stale_base"), 0u, 2u));
  EXPECT_EQ(std::get<0>(cause_of_e(check(history("server:0")))), "crash");
}

// Never durable but held by every server's memory at the end: a write that carried it and was
// overruled somewhere did not lose it; the durable text never got it (a snapshot not taken).
TEST(CheckCausesFromLog, HeldInMemoryAtTheEndIsCrashEvenWhenOverruled) {
  const std::vector<Event> h = {
      log_meta(true, "snapshot"),
      edit({.t_us = 1000 * kMs, .client = 0, .op = 1, .clock_ms = 1000, .inserted = {{0, 0, 2}}}),
      ack(1010 * kMs, 0, 1),
      edit({.t_us = 1100 * kMs, .client = 1, .op = 1, .clock_ms = 5000, .inserted = {{1, 0, 1}}}),
      overruled(1200 * kMs, 0, 1, 1, 1, {{0, 0, 2}}),
      ack(1210 * kMs, 1, 1),
      final_of(0, "durable", U"", {}),
      final_of(0, "server:0", U"xxw", {{0, 0, 2}, {1, 0, 1}})};
  // Client 1's character too: never durable, held (crash).
  const RunMetrics m = check(h);
  EXPECT_EQ(m.lost_acked_chars, 3u);
  EXPECT_EQ(m.lost_by_cause.at("crash"), 3u);
  EXPECT_EQ(m.lost_by_cause.at("concurrent"), 0u);
}

// A paragraph written again from a stale view can hold a character twice: X leaves the durable
// text with its last copy. Here client 2's write (after a load of a version without X, though
// X was durable then) takes the first copy; client 1's, on a fresh view, the second and last:
// concurrent, blamed on client 1 — not stale_base on client 2.
TEST(CheckCausesFromLog, ACharacterHeldTwiceLeavesWithItsLastCopy) {
  next_index = 1;
  const std::vector<Event> h = {
      log_meta(false),
      edit({.t_us = 1000 * kMs, .client = 0, .op = 1, .clock_ms = 1000, .inserted = {{0, 0, 1}}}),
      commit(1010 * kMs, 0, 1, {{0, 0, 1}}),  // index 1
      ack(1020 * kMs, 0, 1),
      edit({.t_us = 1500 * kMs, .client = 3, .op = 1, .clock_ms = 1500, .inserted = {{3, 0, 1}},
            .seen_ops = {{0, 1}}}),
      commit(1510 * kMs, 3, 1, {{0, 0, 1}, {3, 0, 1}}),  // index 2: a second copy of X
      ack(1520 * kMs, 3, 1),
      load_of(2000 * kMs, 2, 0, 2),
      edit({.t_us = 2500 * kMs, .client = 2, .op = 1, .clock_ms = 2500, .inserted = {{2, 0, 1}}}),
      commit(2510 * kMs, 2, 1, {{2, 0, 1}}, {{0, 0, 1}}),  // one copy goes
      ack(2520 * kMs, 2, 1),
      edit({.t_us = 3000 * kMs, .client = 1, .op = 1, .clock_ms = 3000, .inserted = {{1, 0, 1}}}),
      commit(3010 * kMs, 1, 1, {{1, 0, 1}}, {{0, 0, 1}}),  // the last copy goes
      ack(3020 * kMs, 1, 1),
      final_of(0, "durable", U"abc", {{1, 0, 1}, {2, 0, 1}, {3, 0, 1}})};
  const RunMetrics m = check(h);
  EXPECT_EQ(m.lost_acked_chars, 1u);
  EXPECT_EQ(m.lost_by_cause.at("concurrent"), 1u);
  EXPECT_EQ(m.lost_by_cause.at("stale_base"), 0u);
  ASSERT_EQ(m.lost_edits.size(), 1u);
  EXPECT_EQ(m.lost_edits[0].by_client, 1u);
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
                                               {"db_lost", 0}, {"stale_base", 0}, {"unknown", 0}};
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
