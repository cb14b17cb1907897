// The checkers on hand-written histories: convergence, visibility, loads, renames, counters and
// the metric names. The causes of loss: causes_test.cpp.
#include "reports/checkers.hpp"
#include "tests/reports/history_builders.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <optional>
#include <tuple>

namespace convlab::reports {
namespace {
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
                        "lost_acked_chars.crash", "lost_acked_chars.db_lost", "lost_acked_chars.unknown",
                        "causality_reversals",
                        "visibility_ms.p50", "visibility_ms.p99", "visibility_ms.max", "visibility_ms.count",
                        "visibility_cross_ms.p50", "visibility_cross_ms.p99", "visibility_cross_ms.max",
                        "visibility_cross_ms.count", "stale_loads", "served_after_revocation", "db_queries",
                        "db_queries_per_s", "db_queries.poll", "db_queries.commit", "msgs_per_edit",
                        "bytes_per_edit", "events", "sim_seconds", "lost_acked_edits",
                        "visibility_others_ms.p50", "visibility_others_ms.p99", "visibility_others_ms.max",
                        "visibility_others_ms.count", "read_your_writes_violations", "silent_rename_losses",
                        "db_polls_per_s", "bus_msgs_per_s", "net_msgs_per_s", "net_bytes_per_s",
                        "server_inputs_per_s", "mem_doc_bytes_max", "mem_bytes_per_doc",
                        "memory_per_doc_bytes", "memory_per_replica_bytes", "memory_replica_bytes_max",
                        "awareness_msgs_per_s", "awareness_bytes_per_s", "awareness_msgs_per_viewer_s",
                        "awareness_bytes_per_viewer_s", "partition_imbalance", "partition_appends_per_s_max",
                        "partition_commit_ms_p50_max", "partition_commit_ms_p99_max"}) {
    EXPECT_TRUE(std::binary_search(names.begin(), names.end(), std::string(n))) << n;
  }
  EXPECT_EQ(names.size(), 55u);
  // Any run's flatten() has every listed name.
  RunMetrics m;
  m.db_queries_by_kind = {{"load", 1}};
  const auto f = m.flatten();
  for (const auto& n : names) EXPECT_TRUE(f.count(n)) << n;
}

}  // namespace
}  // namespace convlab::reports
