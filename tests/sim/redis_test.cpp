// The Redis bus of the simulator (sim/redis.hpp, servers.bus: redis): at-most-once pub/sub,
// Redis as a node that crashes and is partitioned, and the two subscriber policies
// (bus_recovery: none loses what a subscriber missed; log catches up from the change log).
#include "history/history.hpp"
#include "reports/checkers.hpp"
#include "server/strategies/registry.hpp"
#include "sim/world.hpp"
#include "tests/sim/worlds.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>

namespace convlab::sim {
namespace {

struct Ran {
  RunOutput out;
  reports::RunMetrics m;
  std::map<std::string, std::uint64_t> counters;  // the last counters event's
};

Ran run(const WorldConfig& c, const char* strategy, std::uint64_t seed) {
  Ran r;
  r.out = test::run_checked(c, strategy, seed);
  r.m = reports::check(r.out.events);
  for (const history::Event& e : r.out.events) {
    if (e.type == history::EventType::kCounters) r.counters = e.counters;
  }
  return r;
}

std::uint64_t counter(const Ran& r, const std::string& key) {
  auto it = r.counters.find(key);
  return it == r.counters.end() ? 0 : it->second;
}

// Two servers, one client on each (round robin), both typing into one document over Redis.
WorldConfig redis_world(NodePolicies::BusRecovery recovery) {
  WorldConfig c = test::small_world();
  c.duration_ms = 12000;
  c.quiesce_ms = 6000;
  c.docs = 1;
  c.clients = 2;
  c.servers.bus = NodePolicies::Bus::kRedis;
  c.servers.bus_recovery = recovery;
  c.servers.poll_interval_ms = 500;
  return c;
}

FaultSpec cut_from_redis(std::uint32_t server, std::int64_t at_ms, std::int64_t for_ms) {
  FaultSpec f;
  f.kind = FaultKind::kPartition;
  f.groups = {{"server:" + std::to_string(server)}, {"bus"}};
  f.at_ms = at_ms;
  f.for_ms = for_ms;
  return f;
}

FaultSpec redis_crash(std::int64_t at_ms, std::int64_t for_ms) {
  FaultSpec f;
  f.kind = FaultKind::kRedisCrash;
  f.at_ms = at_ms;
  f.for_ms = for_ms;
  return f;
}

TEST(Redis, WithoutFaultsEveryRecordArrivesAndReplicasConverge) {
  for (const char* s : {"lww", "seq", "ot", "crdt"}) {
    for (auto recovery : {NodePolicies::BusRecovery::kNone, NodePolicies::BusRecovery::kLog}) {
      const Ran r = run(redis_world(recovery), s, 1);
      EXPECT_TRUE(r.m.converged) << s;
      EXPECT_GT(counter(r, "redis.published"), 20u) << s;
      EXPECT_EQ(counter(r, "redis.missed"), 0u) << s;
      EXPECT_EQ(counter(r, "redis.unsubscribed"), 0u) << s;
      EXPECT_EQ(r.m.db_queries_by_kind.count("resubscribe"), 0u) << s;
    }
  }
}

TEST(Redis, ASubscriberCutOffMissesWhatIsPublishedAndOnlyTheFixRecovers) {
  for (const char* s : {"lww", "crdt", "ot", "seq"}) {
    WorldConfig naive = redis_world(NodePolicies::BusRecovery::kNone);
    naive.faults = {cut_from_redis(1, 3000, 3000)};
    const Ran lost = run(naive, s, 2);
    EXPECT_GT(counter(lost, "redis.missed"), 0u) << s;
    EXPECT_EQ(counter(lost, "redis.unsubscribed"), 1u) << s;
    EXPECT_EQ(counter(lost, "redis.resubscribed"), 1u) << s;
    const std::string strategy = s;
    // lww (and seq's paragraphs) can hide a missed record when a later write overwrites it.
    if (strategy == "crdt" || strategy == "ot") {
      EXPECT_FALSE(lost.m.converged) << s << ": unversioned pub/sub never learns what it missed";
    }
    EXPECT_EQ(lost.m.db_queries_by_kind.count("resubscribe"), 0u) << s;
    EXPECT_EQ(lost.m.db_queries_by_kind.count("antientropy"), 0u) << s << ": none turns anti-entropy off";

    WorldConfig fix = naive;
    fix.servers.bus_recovery = NodePolicies::BusRecovery::kLog;
    fix.servers.anti_entropy_ms = 0;  // the resubscription's catch-up alone
    const Ran kept = run(fix, s, 2);
    EXPECT_GT(counter(kept, "redis.missed"), 0u) << s;
    EXPECT_TRUE(kept.m.converged) << s;
    for (const std::string& d : kept.m.divergent) ADD_FAILURE() << s << ": " << d;
    EXPECT_EQ(kept.m.db_queries_by_kind.at("resubscribe"), 1u) << s;
    EXPECT_GT(kept.m.db_queries_by_kind.at("busfallback"), 0u) << s << ": the log read while Redis was away";
    // lww and seq lose concurrent writes by design; the others lose nothing acknowledged.
    if (strategy == "crdt" || strategy == "ot") {
      EXPECT_EQ(kept.m.lost_acked_chars, 0u) << s;
    }
    if (strategy == "ot" || strategy == "seq") {
      // server:1's forwarded edits wait for the home's records it never gets: their acks stall.
      EXPECT_LT(lost.m.acked_edits + 5, kept.m.acked_edits) << s;
    }
  }
}

TEST(Redis, ARedisCrashEndsEverySubscriptionAndTheFixReadsTheLogMeanwhile) {
  for (const char* s : {"crdt", "ot"}) {
    WorldConfig naive = redis_world(NodePolicies::BusRecovery::kNone);
    naive.faults = {redis_crash(3000, 4000)};
    const Ran lost = run(naive, s, 3);
    EXPECT_EQ(counter(lost, "redis.unsubscribed"), 2u) << s;
    EXPECT_EQ(counter(lost, "redis.resubscribed"), 2u) << s;
    EXPECT_GT(counter(lost, "redis.publish_failed"), 0u) << s << ": publishing to a dead Redis fails";
    EXPECT_FALSE(lost.m.converged) << s;

    WorldConfig fix = naive;
    fix.servers.bus_recovery = NodePolicies::BusRecovery::kLog;
    fix.servers.anti_entropy_ms = 0;
    const Ran kept = run(fix, s, 3);
    EXPECT_TRUE(kept.m.converged) << s;
    EXPECT_EQ(kept.m.db_queries_by_kind.at("resubscribe"), 2u) << s;
    // Redis down 4 s, the log read every 500 ms by each of the two servers.
    EXPECT_GE(kept.m.db_queries_by_kind.at("busfallback"), 12u) << s;
    EXPECT_EQ(kept.m.lost_acked_chars, 0u) << s;
  }
}

TEST(Redis, NotifyWorldsHaveNoRedisAndIgnoreARedisCrash) {
  WorldConfig c = redis_world(NodePolicies::BusRecovery::kLog);
  c.servers.bus = NodePolicies::Bus::kNotify;
  const Ran plain = run(c, "crdt", 4);
  c.faults = {redis_crash(3000, 4000)};
  const Ran crashed = run(c, "crdt", 4);
  for (const auto& [key, value] : crashed.counters) EXPECT_NE(key.rfind("redis.", 0), 0u) << key;
  EXPECT_TRUE(crashed.m.converged);
  EXPECT_EQ(crashed.m.db_queries_by_kind, plain.m.db_queries_by_kind);
  EXPECT_EQ(crashed.counters.at("bus.msgs"), plain.counters.at("bus.msgs"));
}

TEST(Redis, SameSeedSameHistory) {
  WorldConfig c = redis_world(NodePolicies::BusRecovery::kLog);
  c.faults = {cut_from_redis(0, 2000, 2000), redis_crash(6000, 2000)};
  for (const char* s : {"ot", "crdt"}) EXPECT_EQ(run(c, s, 5).out.digest, run(c, s, 5).out.digest) << s;
}

}  // namespace
}  // namespace convlab::sim
