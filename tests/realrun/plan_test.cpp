// realrun::plan_run without processes: what a scenario's run on real processes starts, cuts and
// refuses (the IO-free half of `convlab run --real`).
#include "realrun/plan.hpp"
#include "server/strategies/registry.hpp"
#include "sim/scenario.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace convlab::realrun {
namespace {

Result<Plan> plan_of(const std::string& world, const char* strategy = "crdt") {
  const std::string yaml = "name: p\nstrategies: [crdt]\nseeds: 1\nworld:\n" + world + "variants:\n  fix: {}\n";
  auto sc = sim::parse_scenario(yaml, "p.yaml");
  if (!sc) return make_error("scenario: " + sc.error().message);
  return plan_run(*sc, sc->variants.front(), *find_strategy(strategy), 1, Limits{});
}

faults::FaultSpec partition(std::vector<std::vector<std::string>> groups, bool one_way) {
  faults::FaultSpec f;
  f.groups = std::move(groups);
  f.one_way = one_way;
  return f;
}

TEST(RealPlan, APartitionCutsTheProxiesBetweenItsGroupsInItsDirection) {
  const ProxyLink s0_db{"server:0", "db"}, s1_db{"server:1", "db"}, s0_s1{"server:0", "server:1"};
  EXPECT_EQ(partition_cut(partition({{"server:0"}, {"db"}}, false), s0_db), "both");
  EXPECT_EQ(partition_cut(partition({{"server:0"}, {"db"}}, false), s1_db), "");  // not named: not cut
  EXPECT_EQ(partition_cut(partition({{"server:0"}, {"bus"}}, false), s0_db), "both");  // the bus rides it
  EXPECT_EQ(partition_cut(partition({{"server:0"}, {"db"}}, true), s0_db), "up");     // server -> db held
  EXPECT_EQ(partition_cut(partition({{"db"}, {"server:0"}}, true), s0_db), "down");   // db -> server held
  EXPECT_EQ(partition_cut(partition({{"server:0", "server:1"}, {"db"}}, false), s0_s1), "");
  EXPECT_EQ(partition_cut(partition({{"server:0"}, {"server:1"}}, true), s0_s1), "up");
}

TEST(RealPlan, ProxiesOnlyOnLinksAPartitionCutsAndFaketimeOnlyWhereAClockMoves) {
  auto p = plan_of(
      "  duration_s: 20\n  clients: 4\n  servers: {count: 2}\n  faults:\n"
      "    - {at_s: 2, kind: partition, groups: [[\"server:1\"], [\"db\"]], for_s: 3}\n"
      "    - {at_s: 5, kind: clock_offset, target: \"server:0\", value: 5000}\n"
      "    - {at_s: 6, kind: clock_drift, target: \"client:2\", value: 300}\n");
  ASSERT_TRUE(p.has_value()) << p.error().message;
  ASSERT_EQ(p->proxies.size(), 1u);
  EXPECT_EQ(p->proxies[0], (ProxyLink{"server:1", "db"}));
  EXPECT_EQ(p->faketime, (std::vector<bool>{true, false}));
  EXPECT_NE(std::find(p->load_flags.begin(), p->load_flags.end(), "--clock-drift=2=300@6.000000"), p->load_flags.end());
  EXPECT_NE(std::find(p->load_flags.begin(), p->load_flags.end(), "--think-ms=500..2000"), p->load_flags.end());
}

// bus: redis (row 18): the plan starts a Redis; a partition naming bus cuts the fault proxy
// between each server it names and Redis (not the database link, which NOTIFY would ride);
// redis_crash has a real realisation.
TEST(RealPlan, ARedisBusWorldPlansRedisAndCutsServerRedisLinksForAPartitionNamingBus) {
  auto p = plan_of(
      "  duration_s: 20\n  clients: 4\n  servers: {count: 2, propagation: bus, bus: redis}\n  faults:\n"
      "    - {at_s: 2, kind: partition, groups: [[\"server:1\"], [\"bus\"]], for_s: 3}\n"
      "    - {at_s: 8, kind: redis_crash, for_s: 4}\n");
  ASSERT_TRUE(p.has_value()) << p.error().message;
  EXPECT_TRUE(p->redis);
  ASSERT_EQ(p->proxies.size(), 1u);
  EXPECT_EQ(p->proxies[0], (ProxyLink{"server:1", "bus"}));
  ASSERT_EQ(p->faults.size(), 2u);
  EXPECT_EQ(p->faults[1].kind, faults::FaultKind::kRedisCrash);
  EXPECT_NE(faults::info(faults::FaultKind::kRedisCrash).real_begin, nullptr);
  EXPECT_NE(faults::info(faults::FaultKind::kRedisCrash).real_end, nullptr);

  using Bus = NodePolicies::Bus;
  const ProxyLink s1_bus{"server:1", "bus"}, s1_db{"server:1", "db"}, s0_bus{"server:0", "bus"};
  const auto bus_cut = partition({{"server:1"}, {"bus"}}, false);
  EXPECT_EQ(partition_cut(bus_cut, s1_bus, Bus::kRedis), "both");
  EXPECT_EQ(partition_cut(bus_cut, s1_db, Bus::kRedis), "");   // Redis is not the database
  EXPECT_EQ(partition_cut(bus_cut, s0_bus, Bus::kRedis), "");  // server:0 not named
  EXPECT_EQ(partition_cut(bus_cut, s1_db, Bus::kNotify), "both");  // under NOTIFY the bus rides the db link
  EXPECT_EQ(partition_cut(partition({{"bus"}, {"server:1"}}, true), s1_bus, Bus::kRedis), "down");  // Redis -> server held
  EXPECT_EQ(partition_cut(partition({{"server:1"}, {"db"}}, false), s1_bus, Bus::kRedis), "");

  // Both servers cut from Redis and from the database: four proxies. bus and db in different
  // groups are two processes under Redis (refused under NOTIFY, one connection there).
  auto both = plan_of("  clients: 4\n  servers: {count: 2, propagation: bus, bus: redis}\n  faults:\n"
                      "    - {at_s: 2, kind: partition, groups: [[\"server:0\", \"server:1\"], [\"bus\", \"db\"]], for_s: 3}\n"
                      "    - {at_s: 6, kind: partition, groups: [[\"server:0\", \"bus\"], [\"db\"]], for_s: 1}\n");
  ASSERT_TRUE(both.has_value()) << both.error().message;
  EXPECT_EQ(both->proxies, (std::vector<ProxyLink>{{"server:0", "db"}, {"server:1", "db"}, {"server:0", "bus"}, {"server:1", "bus"}}));
  auto notify = plan_of("  clients: 4\n  servers: {count: 2, propagation: bus}\n  faults:\n"
                        "    - {at_s: 6, kind: partition, groups: [[\"server:0\", \"bus\"], [\"db\"]], for_s: 1}\n");
  ASSERT_FALSE(notify.has_value());
  EXPECT_NE(notify.error().message.find("puts bus and db in different groups"), std::string::npos) << notify.error().message;

  // Without a Redis bus no Redis starts, and redis_crash does nothing, as in the simulator.
  auto none = plan_of("  clients: 4\n  servers: {count: 2, propagation: bus}\n  faults:\n"
                      "    - {at_s: 8, kind: redis_crash, for_s: 4}\n");
  ASSERT_TRUE(none.has_value()) << none.error().message;
  EXPECT_FALSE(none->redis);
  EXPECT_TRUE(none->proxies.empty());
  EXPECT_TRUE(std::any_of(none->notes.begin(), none->notes.end(),
                          [](const std::string& n) { return n.find("redis_crash without bus: redis does nothing") == 0; }));
}

// db_lost (row 16): realised through the fault table; backup: archive plans an archiving cluster
// with archive points every interval (scaled with the run), none plans an empty cluster. A world
// whose lost database is more than one plain cluster is refused at the fault's place.
TEST(RealPlan, ADbLostWorldPlansItsBackupPolicyAndRefusesWhatALostClusterCannotCarry) {
  EXPECT_NE(faults::info(faults::FaultKind::kDbLost).real_begin, nullptr);
  EXPECT_NE(faults::info(faults::FaultKind::kDbLost).real_end, nullptr);
  const std::string lost = "  faults:\n    - {at_s: 47, kind: db_lost, for_s: 3}\n";
  auto fix = plan_of("  duration_s: 120\n  clients: 4\n  servers: {count: 2}\n"
                     "  database: {backup: archive, archive_interval_s: 10}\n" + lost);
  ASSERT_TRUE(fix.has_value()) << fix.error().message;
  EXPECT_TRUE(fix->db_lost);
  EXPECT_TRUE(fix->archived);
  EXPECT_EQ(fix->archive_interval_ms, 5000);  // shortened to 60 s: every time halved
  ASSERT_EQ(fix->faults.size(), 1u);
  EXPECT_EQ(fix->faults[0].at_ms, 23500);
  EXPECT_EQ(fix->faults[0].for_ms, 1500);
  EXPECT_TRUE(std::any_of(fix->notes.begin(), fix->notes.end(),
                          [](const std::string& n) { return n.find("db_lost: PostgreSQL with WAL archiving") == 0; }));

  auto naive = plan_of("  duration_s: 60\n  clients: 4\n  servers: {count: 2}\n" + lost);
  ASSERT_TRUE(naive.has_value()) << naive.error().message;
  EXPECT_TRUE(naive->db_lost);
  EXPECT_FALSE(naive->archived);
  EXPECT_TRUE(std::any_of(naive->notes.begin(), naive->notes.end(),
                          [](const std::string& n) { return n.find("db_lost: no backup") == 0; }));

  const auto refused = [&](const std::string& world, const std::string& why) {
    auto p = plan_of(world.find("faults:") == std::string::npos ? world + lost : world);
    ASSERT_FALSE(p.has_value()) << world;
    EXPECT_NE(p.error().message.find("p.yaml:"), std::string::npos) << p.error().message;
    EXPECT_NE(p.error().message.find("fault kind db_lost: runs on real processes only on one plain cluster"), std::string::npos)
        << p.error().message;
    EXPECT_NE(p.error().message.find(why), std::string::npos) << p.error().message;
  };
  refused("  clients: 4\n  database: {partitions: 2, partition_by: doc}\n", "database.partitions");
  refused("  clients: 4\n  servers: {api_read: replica}\n", "servers.api_read: replica");
  refused("  clients: 4\n  servers: {persistence: snapshot}\n", "servers.persistence: snapshot");
  refused("  clients: 4\n  faults:\n    - {at_s: 2, kind: db_lost, for_s: 1}\n    - {at_s: 9, kind: db_lost}\n",
          "a second db_lost");
  refused("  clients: 4\n  faults:\n    - {at_s: 2, kind: partition, groups: [[\"server:0\"], [\"db\"]], for_s: 1}\n"
          "    - {at_s: 9, kind: db_lost}\n",
          "a partition naming db");
  refused("  clients: 4\n  servers: {count: 2}\n  faults:\n    - {at_s: 47, kind: db_lost, for_s: 3}\n"
          "    - {at_s: 46, kind: crash, target: \"server:1\", for_s: 2}\n",
          "a crash of server:1 overlapping it");
  refused("  duration_s: 60\n  clients: 4\n  faults:\n    - {at_s: 58, kind: db_lost, for_s: 5}\n",
          "a db_lost lasting to the end of the editing phase");
}

TEST(RealPlan, ALongWorldIsShortenedWithItsFaultsAndSaysSo) {
  auto p = plan_of("  duration_s: 120\n  clients: 2\n  faults:\n"
                   "    - {at_s: 60, kind: crash, target: \"server:0\", for_s: 20}\n");
  ASSERT_TRUE(p.has_value()) << p.error().message;
  EXPECT_EQ(p->duration_ms, 60000);
  EXPECT_DOUBLE_EQ(p->scale, 0.5);
  ASSERT_EQ(p->faults.size(), 1u);
  EXPECT_EQ(p->faults[0].at_ms, 30000);
  EXPECT_EQ(p->faults[0].for_ms, 10000);
  EXPECT_TRUE(std::any_of(p->notes.begin(), p->notes.end(), [](const std::string& n) { return n.find("shortened") == 0; }));
}

TEST(RealPlan, RefusesWhatHasNoFaithfulRealisationNamingIt) {
  auto clients = plan_of("  clients: 4\n  faults:\n"
                         "    - {at_s: 1, kind: partition, groups: [[\"client:1\"], [\"server:0\"]], for_s: 1}\n");
  ASSERT_FALSE(clients.has_value());
  EXPECT_NE(clients.error().message.find("p.yaml:7:7: fault kind partition: partitions client:1"), std::string::npos)
      << clients.error().message;
  auto twice = plan_of("  clients: 4\n  faults:\n"
                       "    - {at_s: 1, kind: clock_offset, target: \"client:1\", value: 10}\n"
                       "    - {at_s: 2, kind: clock_drift, target: \"client:1\", value: 10}\n");
  ASSERT_FALSE(twice.has_value());
  EXPECT_NE(twice.error().message.find("p.yaml:8:7: fault kind clock_drift: moves client:1's clock a second time"),
            std::string::npos)
      << twice.error().message;
  auto servers = plan_of("  clients: 4\n  servers: {count: 5}\n");
  ASSERT_FALSE(servers.has_value());
  EXPECT_NE(servers.error().message.find("lower servers.count"), std::string::npos) << servers.error().message;
  auto drawn = plan_of("  clients: 4\n  random_faults: {count: 3, kinds: [flaky]}\n");
  ASSERT_FALSE(drawn.has_value());
  EXPECT_NE(drawn.error().message.find("p.yaml: random_faults (seed 1) drew kind flaky: has no realisation"),
            std::string::npos)
      << drawn.error().message;
  // The simulated per-append work is realised as a trigger on every cluster: planned with a note
  // saying what it is, partitioned or not, and not scaled with a shortened run; refused with a
  // db_lost (the restored cluster would not have it).
  for (const char* world : {"  clients: 4\n  database: {work_us_per_append: 100}\n",
                            "  duration_s: 120\n  clients: 4\n  database: {partitions: 2, work_us_per_append: 16000}\n"}) {
    auto cost = plan_of(world);
    ASSERT_TRUE(cost.has_value()) << world << cost.error().message;
    EXPECT_EQ(cost->work_us_per_append, std::string(world).find("16000") != std::string::npos ? 16000 : 100) << world;
    EXPECT_TRUE(std::any_of(cost->notes.begin(), cost->notes.end(), [](const std::string& n) {
      return n.find("database.work_us_per_append: a trigger on each cluster's change log") == 0;
    })) << world;
  }
  auto lost_work = plan_of("  clients: 4\n  database: {work_us_per_append: 100}\n"
                           "  faults:\n    - {at_s: 5, kind: db_lost, for_s: 3}\n");
  ASSERT_FALSE(lost_work.has_value());
  EXPECT_NE(lost_work.error().message.find("p.yaml: variant fix: database.work_us_per_append with db_lost"),
            std::string::npos)
      << lost_work.error().message;
  // ... and with a partition naming db: a server cut off inside a transaction would hold its
  // cluster's append lock until the heal.
  auto cut_work = plan_of("  clients: 4\n  database: {work_us_per_append: 100}\n"
                          "  faults:\n    - {at_s: 5, kind: partition, groups: [[\"server:0\"], [\"db\"]], for_s: 3}\n");
  ASSERT_FALSE(cut_work.has_value());
  EXPECT_NE(cut_work.error().message.find("p.yaml: variant fix: database.work_us_per_append with a partition naming db"),
            std::string::npos)
      << cut_work.error().message;
  auto none = plan_of("  clients: 4\n  database: {partitions: 2}\n");
  ASSERT_TRUE(none.has_value()) << none.error().message;
  EXPECT_EQ(none->work_us_per_append, 0);
  // One partition and no organizations is the one database it starts.
  auto one = plan_of("  clients: 4\n  database: {partitions: 1}\n");
  ASSERT_TRUE(one.has_value()) << one.error().message;
  EXPECT_EQ(one->databases, 1u);
  EXPECT_EQ(partitions_yaml(*one, {"postgresql://a"}), "");
}

bool has_flag(const Plan& p, const std::string& flag) {
  return std::find(p.load_flags.begin(), p.load_flags.end(), flag) != p.load_flags.end();
}

// offline, disconnect and revoke (rows 9, 10, 6): convlab-load makes them at the fault's times
// (scaled with the run), the balancer's stickiness with them; a second offline of a client while
// it is offline is refused at its place.
TEST(RealPlan, ClientFaultsBecomeConvlabLoadFlagsAtTheirTimes) {
  auto has = [](const Plan& p, const std::string& flag) {
    return std::find(p.load_flags.begin(), p.load_flags.end(), flag) != p.load_flags.end();
  };
  auto p = plan_of(
      "  duration_s: 40\n  clients: 3\n  servers: {count: 2}\n  faults:\n"
      "    - {at_s: 5, kind: offline, target: \"client:0\", for_s: 20}\n"
      "    - {at_s: 9, kind: disconnect, target: \"client:1\"}\n"
      "    - {at_s: 10, kind: revoke, target: \"client:2\"}\n"
      "    - {at_s: 30, kind: offline, target: \"client:1\"}\n");
  ASSERT_TRUE(p.has_value()) << p.error().message;
  EXPECT_TRUE(has(*p, "--offline=0@5000..25000"));
  EXPECT_TRUE(has(*p, "--offline=1@30000..40000"));  // no for_s: until typing ends
  EXPECT_TRUE(has(*p, "--disconnect=1@9000"));
  EXPECT_TRUE(has(*p, "--revoke=2@10000"));
  EXPECT_FALSE(has(*p, "--sticky"));
  auto sticky = plan_of("  clients: 2\n  balancer: sticky\n  faults:\n    - {at_s: 2, kind: disconnect, target: \"client:0\"}\n");
  ASSERT_TRUE(sticky.has_value()) << sticky.error().message;
  EXPECT_TRUE(has(*sticky, "--sticky"));
  // A 120 s world runs in 60 s: the times are halved.
  auto longer =
      plan_of("  duration_s: 120\n  clients: 2\n  faults:\n    - {at_s: 20, kind: offline, target: \"client:1\", for_s: 40}\n");
  ASSERT_TRUE(longer.has_value()) << longer.error().message;
  EXPECT_TRUE(has(*longer, "--offline=1@10000..30000"));
  auto twice = plan_of("  duration_s: 40\n  clients: 2\n  faults:\n"
                       "    - {at_s: 5, kind: offline, target: \"client:0\", for_s: 20}\n"
                       "    - {at_s: 10, kind: offline, target: \"client:0\", for_s: 2}\n");
  ASSERT_FALSE(twice.has_value());
  EXPECT_NE(twice.error().message.find("p.yaml:9:7: fault kind offline: takes client:0 offline while it is offline already"),
            std::string::npos)
      << twice.error().message;
}

// Rows 8 and 11 of the naive table (issue 15): scripted edits, the initial text and per-client
// typing rates reach convlab-load as flags; the simulated per-frame work is named as not applied.
TEST(RealPlan, ScriptInitialTextAndClientRatesBecomeLoadFlags) {
  auto p = plan_of("  duration_s: 3\n  clients: 2\n  initial_text: \"abcdef\"\n"
                   "  script:\n"
                   "    - {at_ms: 2000, client: 0, pos: 2, del: 0, ins: \"X\"}\n"
                   "    - {at_ms: 2000, client: 1, pos: 2, del: 1, ins: \"\"}\n");
  ASSERT_TRUE(p.has_value()) << p.error().message;
  EXPECT_TRUE(has_flag(*p, "--initial-text=abcdef"));
  EXPECT_TRUE(has_flag(*p, "--edit=2000,0,2,0,X"));
  EXPECT_TRUE(has_flag(*p, "--edit=2000,1,2,1,"));
  EXPECT_TRUE(std::any_of(p->notes.begin(), p->notes.end(), [](const std::string& n) { return n.find("script: 2 scripted edits") == 0; }));

  auto flood = plan_of("  clients: 5\n  servers: {count: 1, work_us_per_msg: 20000}\n"
                       "  client_overrides:\n    - {client: 0, rate_multiplier: 100}\n"
                       "    - {client: 3, rate_multiplier: 0.5, clock_offset_ms: 40}\n");
  ASSERT_TRUE(flood.has_value()) << flood.error().message;
  EXPECT_TRUE(has_flag(*flood, "--client-rate=0=100"));
  EXPECT_TRUE(has_flag(*flood, "--client-rate=3=0.5"));
  EXPECT_TRUE(has_flag(*flood, "--clock-offset=3=40"));
  EXPECT_TRUE(std::any_of(flood->notes.begin(), flood->notes.end(), [](const std::string& n) {
    return n.find("servers.work_us_per_msg: the simulated 20000 us per client frame is not applied") == 0;
  }));

  // A long world's script is scaled with it (an edit after the editing phase the scenario loader refuses).
  auto longer = plan_of("  duration_s: 120\n  clients: 2\n  script:\n    - {at_ms: 100000, client: 1, pos: 0, del: 0, ins: \"a,b\"}\n");
  ASSERT_TRUE(longer.has_value()) << longer.error().message;
  EXPECT_TRUE(has_flag(*longer, "--edit=50000,1,0,0,a,b"));
}

// A partitioned world (issue 18 item 2): one PostgreSQL cluster per partition, and every server
// given the world's rule (partition_by, organizations, their sizes, the documents), so its
// PartitionMap routes each document where the simulator's does.
TEST(RealPlan, APartitionedWorldPlansAClusterPerPartitionAndTheServersRule) {
  auto p = plan_of("  clients: 8\n  docs: 8\n  servers: {count: 2}\n"
                   "  workload: {organizations: 3, org_size: zipf, org_exponent: 1.5}\n"
                   "  database: {partitions: 3, partition_by: org}\n");
  ASSERT_TRUE(p.has_value()) << p.error().message;
  EXPECT_EQ(p->databases, 3u);
  EXPECT_TRUE(p->proxies.empty());
  EXPECT_EQ(partitions_yaml(*p, {"postgresql://a/x", "postgresql://b/x", "postgresql://c/x"}),
            "partitions:\n  by: org\n  organizations: 3\n  org_size: zipf\n  org_exponent: 1.5\n  docs: 8\n"
            "  databases:\n    - \"postgresql://a/x\"\n    - \"postgresql://b/x\"\n    - \"postgresql://c/x\"\n");
  EXPECT_TRUE(std::any_of(p->notes.begin(), p->notes.end(), [](const std::string& n) {
    return n.find("database.partitions: 3 throwaway PostgreSQL clusters") == 0 &&
           n.find("3 partitions by org; 8 documents of 3 organizations, zipf 1.5") != std::string::npos;
  })) << "no note on the partitions";

  auto by_doc = plan_of("  clients: 4\n  database: {partitions: 2, partition_by: doc}\n");
  ASSERT_TRUE(by_doc.has_value()) << by_doc.error().message;
  EXPECT_EQ(by_doc->databases, 2u);
  EXPECT_NE(partitions_yaml(*by_doc, {"u0", "u1"}).find("  by: doc\n"), std::string::npos);
}

// Faults on db name one database, and a partitioned world has several: refused at the fault's
// place. So are the server policies convlab-server refuses with partitions.
TEST(RealPlan, APartitionedWorldRefusesDatabaseFaultsAndLeasesNamingThem) {
  for (const char* fault : {"    - {at_s: 2, kind: crash, target: db, for_s: 1}\n",
                            "    - {at_s: 2, kind: partition, groups: [[\"server:0\"], [\"db\"]], for_s: 1}\n",
                            "    - {at_s: 2, kind: partition, groups: [[\"server:0\"], [\"bus\"]], for_s: 1}\n"}) {
    auto p = plan_of(std::string("  clients: 4\n  database: {partitions: 2, partition_by: doc}\n  faults:\n") + fault);
    ASSERT_FALSE(p.has_value()) << fault;
    EXPECT_NE(p.error().message.find("p.yaml:8:7: fault kind "), std::string::npos) << p.error().message;
    EXPECT_NE(p.error().message.find(": names db, and with database.partitions the database is 2 PostgreSQL clusters"),
              std::string::npos)
        << p.error().message;
  }
  // A server partition leaves the clusters alone: it runs.
  EXPECT_TRUE(plan_of("  clients: 4\n  servers: {count: 2}\n  database: {partitions: 2, partition_by: doc}\n  faults:\n"
                      "    - {at_s: 2, kind: partition, groups: [[\"server:0\"], [\"server:1\"]], for_s: 1}\n")
                  .has_value());
  auto lease = plan_of("  clients: 4\n  servers: {home: lease}\n  database: {partitions: 2}\n");
  ASSERT_FALSE(lease.has_value());
  EXPECT_NE(lease.error().message.find("servers.home: lease with database.partitions"), std::string::npos)
      << lease.error().message;
}

// API reads (reloads, rows 7 and 12): convlab-load reads at the world's reload_ms, through nginx
// for the CDN's ttl (whole seconds, rounded up); what it cannot do faithfully is refused by name.
TEST(RealPlan, ReloadsReachConvlabLoadAndACdnTtlStartsNginx) {
  auto cdn = plan_of("  clients: 4\n  workload: {reload_ms: [3000, 6000]}\n  cdn: {ttl_s: 300}\n");
  ASSERT_TRUE(cdn.has_value()) << cdn.error().message;
  EXPECT_NE(std::find(cdn->load_flags.begin(), cdn->load_flags.end(), "--reload-ms=3000..6000"), cdn->load_flags.end());
  EXPECT_EQ(cdn->cdn_ttl_s, 300);
  auto fraction = plan_of("  clients: 4\n  workload: {reload_ms: [500, 1000]}\n  cdn: {ttl_s: 0.5}\n");
  ASSERT_TRUE(fraction.has_value()) << fraction.error().message;
  EXPECT_EQ(fraction->cdn_ttl_s, 1);
  // No reads, no nginx; reads without a CDN go to the servers.
  auto idle = plan_of("  clients: 4\n  cdn: {ttl_s: 300}\n");
  ASSERT_TRUE(idle.has_value()) << idle.error().message;
  EXPECT_EQ(idle->cdn_ttl_s, 0);
  auto direct = plan_of("  clients: 4\n  workload: {reload_ms: [1000, 3000]}\n"
                        "  servers: {api_read: replica}\n  database: {replica_lag_ms: 2000}\n");
  ASSERT_TRUE(direct.has_value()) << direct.error().message;
  EXPECT_EQ(direct->cdn_ttl_s, 0);
  EXPECT_TRUE(direct->replica);
  EXPECT_NE(std::find(direct->load_flags.begin(), direct->load_flags.end(), "--reload-ms=1000..3000"),
            direct->load_flags.end());
}

TEST(RealPlan, RunsReloadsUnderStrategiesThatAdoptTheLoadedState) {
  // lww and seq adopt the loaded state on a reload; convlab-load does too (Run::adopt_read).
  for (const char* name : {"lww", "seq"}) {
    auto adopting = plan_of("  clients: 4\n  workload: {reload_ms: [3000, 6000]}\n", name);
    ASSERT_TRUE(adopting.has_value()) << name << ": " << adopting.error().message;
    EXPECT_NE(std::find(adopting->load_flags.begin(), adopting->load_flags.end(), "--reload-ms=3000..6000"),
              adopting->load_flags.end())
        << name;
  }
}

TEST(RealPlan, RefusesReloadsItCannotRunFaithfullyNamingTheKey) {
  auto past = plan_of("  clients: 4\n  workload: {reload_ms: [3000, 6000], version_read_share: 0.5}\n");
  ASSERT_FALSE(past.has_value());
  EXPECT_NE(past.error().message.find("workload.version_read_share: convlab-load makes no reads of past versions"),
            std::string::npos)
      << past.error().message;
  // Row 12's fixes run (convlab-load sends its last acknowledged version on each read), on a
  // streaming replica as api_read: replica does; primary needs none.
  for (const char* read : {"replica", "session_primary", "fenced"}) {
    auto fix = plan_of("  clients: 4\n  workload: {reload_ms: [1000, 3000]}\n  servers: {api_read: " +
                       std::string(read) + "}\n  database: {replica_lag_ms: 2000}\n");
    ASSERT_TRUE(fix.has_value()) << read << ": " << fix.error().message;
    EXPECT_TRUE(fix->replica) << read;
  }
  auto primary = plan_of("  clients: 4\n  workload: {reload_ms: [1000, 3000]}\n  servers: {api_read: primary}\n");
  ASSERT_TRUE(primary.has_value()) << primary.error().message;
  EXPECT_FALSE(primary->replica);
}

TEST(RealPlan, RenamesReachConvlabLoadThroughProxiesWithTheWorldsClientLatency) {
  for (const char* strategy : {"lww", "seq", "ot", "crdt"}) {
    auto r = plan_of("  clients: 3\n  workload: {rename_ms: [300, 1500]}\n  network: {client_server_ms: [10, 30]}\n",
                     strategy);
    ASSERT_TRUE(r.has_value()) << strategy << ": " << r.error().message;
    EXPECT_NE(std::find(r->load_flags.begin(), r->load_flags.end(), "--rename-ms=300..1500"), r->load_flags.end())
        << strategy;
    // One proxy per server on the load's side, carrying network.client_server_ms each way.
    EXPECT_EQ(r->proxies, (std::vector<ProxyLink>{{"load", "server:0"}})) << strategy;
    EXPECT_EQ(r->client_latency_min_ms, 10);
    EXPECT_EQ(r->client_latency_max_ms, 30);
    // No partition names the load's links: a partition never cuts them.
    EXPECT_EQ(partition_cut(partition({{"server:0"}, {"db"}}, false), r->proxies.front()), "");
  }
  // Without renames the load connects to the servers directly, as before.
  auto plain = plan_of("  clients: 3\n  network: {client_server_ms: [10, 30]}\n");
  ASSERT_TRUE(plain.has_value()) << plain.error().message;
  EXPECT_TRUE(plain->proxies.empty());
  EXPECT_EQ(plain->client_latency_max_ms, 0);
  EXPECT_EQ(std::count_if(plain->load_flags.begin(), plain->load_flags.end(),
                          [](const std::string& f) { return f.rfind("--rename-ms", 0) == 0; }),
            0);
  // A zero latency: renames, and no proxy.
  auto loopback = plan_of("  clients: 3\n  workload: {rename_ms: [300, 1500]}\n  network: {client_server_ms: [0, 0]}\n");
  ASSERT_TRUE(loopback.has_value()) << loopback.error().message;
  EXPECT_TRUE(loopback->proxies.empty());
}

}  // namespace
}  // namespace convlab::realrun
