#include "sim/scenario.hpp"

#include "reports/checkers.hpp"
#include "server/strategies/registry.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace convlab::sim {
namespace {

// A scenario using every key of docs/scenarios.md. Line numbers matter: tests below point at them.
const std::string kFull = R"(name: cross-server-visibility
row: 1
description: Each server broadcasts only to its own clients.
strategies: [lww, seq, ot, crdt]
seeds: 7
world:
  duration_s: 60
  quiesce_ms: 15000
  docs: 3
  initial_text: "abcdef\n"
  clients: 4
  balancer: sticky
  workload:
    think_s: [0.5, 2]
    burst_prob: 0.25
    burst_len: 6
    burst_gap_ms: 40
    same_paragraph_prob: 0.5
    insert_prob: 0.7
    insert_len_max: 4
    delete_len_max: 3
    newline_prob: 0.05
  clocks:
    offset_ms: [-3000, 3000]
    drift_ppm_max: 100
  client_overrides:
    - {client: 0, clock_offset_s: 5, drift_ppm: -20, rate_multiplier: 50}
  servers:
    count: 2
    propagation: poll
    poll_interval_ms: 2000
    persistence: snapshot
    snapshot_interval_s: 30
    snapshot_every_changes: 50
    ack: immediate
    catch_up: false
  network:
    client_server_ms: [20, 60]
    server_db_ms: [1, 4]
    server_bus_s: [0.002, 0.005]
  database:
    commit_ms: [2, 6]
  faults:
    - {at_s: 10, kind: partition, groups: [[server:0], [server:1, db]], for_s: 5, one_way: true}
    - {at_s: 20, kind: crash, target: server:0, for_s: 2}
    - {at_s: 0, kind: clock_offset, target: client:1, value: 4000}
    - {at_s: 0, kind: clock_drift, target: client:1, value: 200}
    - {at_ms: 5500, kind: offline, target: client:2, for_s: 10}
  random_faults:
    count: 3
    kinds: [partition, crash, clock_offset, offline]
    duration_ms: [1000, 10000]
    clock_offset_max_s: 5
  script:
    - {at_ms: 100, client: 0, pos: 2, del: 1, ins: "X"}
variants:
  naive: {servers: {propagation: poll}}
  fix: {servers: {propagation: bus}, workload: {burst_len: 9}}
expect:
  naive:
    "*": {visibility_cross_ms.p50: ">= 1000"}
  fix:
    "*": {visibility_cross_ms.p99: "<= 500", converged: "== 1"}
    lww: {lost_acked_chars.clock_skew: "> 0"}
)";

Scenario load_ok(const std::string& text) {
  auto r = parse_scenario(text, "t.yaml");
  if (!r) ADD_FAILURE() << r.error().message;
  return r ? *r : Scenario{};
}

std::string load_err(const std::string& text) {
  auto r = parse_scenario(text, "t.yaml");
  if (r) {
    ADD_FAILURE() << "expected an error, it loaded";
    return {};
  }
  return r.error().message;
}

// The minimal valid file with `world_body` (already indented by two) as its world.
std::string with_world(const std::string& world_body) {
  return "name: x\nworld:\n" + world_body + "variants:\n  naive: {}\n";
}

#define EXPECT_HAS(haystack, needle) \
  EXPECT_NE((haystack).find(needle), std::string::npos) << "missing [" << (needle) << "] in:\n" << (haystack)

TEST(ScenarioLoad, MetricsUsedHereExist) {
  // The valid files below name these metrics; if the checkers rename them, this says so first.
  const auto& names = reports::metric_names();
  for (const char* m : {"converged", "visibility_cross_ms.p50", "visibility_cross_ms.p99", "visibility_ms.p99",
                        "lost_acked_chars.clock_skew"}) {
    EXPECT_TRUE(std::binary_search(names.begin(), names.end(), std::string(m))) << m;
  }
}

TEST(ScenarioLoad, FullFileRoundTrips) {
  const Scenario sc = load_ok(kFull);
  EXPECT_EQ(sc.file, "t.yaml");
  EXPECT_EQ(sc.name, "cross-server-visibility");
  EXPECT_EQ(sc.row, 1u);
  EXPECT_EQ(sc.description, "Each server broadcasts only to its own clients.");
  EXPECT_EQ(sc.strategies, (std::vector<std::string>{"lww", "seq", "ot", "crdt"}));
  EXPECT_EQ(sc.seeds, 7u);
  ASSERT_EQ(sc.variants.size(), 2u);
  EXPECT_EQ(sc.variants[0].name, "naive");
  EXPECT_EQ(sc.variants[1].name, "fix");

  const WorldConfig& c = sc.variants[0].config;
  EXPECT_EQ(c.duration_ms, 60000);
  EXPECT_EQ(c.quiesce_ms, 15000);
  EXPECT_EQ(c.docs, 3u);
  EXPECT_EQ(c.initial_text, "abcdef\n");
  EXPECT_EQ(c.clients, 4u);
  EXPECT_EQ(c.balancer, Balancer::kSticky);
  EXPECT_EQ(c.workload.think_ms.min, 500);
  EXPECT_EQ(c.workload.think_ms.max, 2000);
  EXPECT_DOUBLE_EQ(c.workload.burst_prob, 0.25);
  EXPECT_EQ(c.workload.burst_len, 6u);
  EXPECT_EQ(c.workload.burst_gap_ms, 40);
  EXPECT_DOUBLE_EQ(c.workload.same_paragraph_prob, 0.5);
  EXPECT_DOUBLE_EQ(c.workload.insert_prob, 0.7);
  EXPECT_EQ(c.workload.insert_len_max, 4u);
  EXPECT_EQ(c.workload.delete_len_max, 3u);
  EXPECT_DOUBLE_EQ(c.workload.newline_prob, 0.05);
  EXPECT_EQ(c.client_clocks.offset_ms.min, -3000);
  EXPECT_EQ(c.client_clocks.offset_ms.max, 3000);
  EXPECT_EQ(c.client_clocks.drift_ppm_max, 100);
  ASSERT_EQ(c.client_overrides.size(), 1u);
  EXPECT_EQ(c.client_overrides[0].client, 0u);
  EXPECT_EQ(c.client_overrides[0].clock_offset_ms, 5000);
  EXPECT_EQ(c.client_overrides[0].drift_ppm, -20);
  EXPECT_DOUBLE_EQ(c.client_overrides[0].rate_multiplier, 50.0);
  EXPECT_EQ(c.servers.count, 2u);
  EXPECT_EQ(c.servers.propagation, Propagation::kPoll);
  EXPECT_EQ(c.servers.poll_interval_ms, 2000);
  EXPECT_EQ(c.servers.persistence, Persistence::kSnapshot);
  EXPECT_EQ(c.servers.snapshot_interval_ms, 30000);
  EXPECT_EQ(c.servers.snapshot_every_changes, 50u);
  EXPECT_EQ(c.servers.ack, Ack::kImmediate);
  EXPECT_FALSE(c.servers.catch_up);
  EXPECT_EQ(c.network.client_server_ms.min, 20);
  EXPECT_EQ(c.network.client_server_ms.max, 60);
  EXPECT_EQ(c.network.server_db_ms.max, 4);
  EXPECT_EQ(c.network.server_bus_ms.min, 2);
  EXPECT_EQ(c.network.server_bus_ms.max, 5);
  EXPECT_EQ(c.database.commit_ms.min, 2);
  EXPECT_EQ(c.database.commit_ms.max, 6);

  ASSERT_EQ(c.faults.size(), 5u);
  EXPECT_EQ(c.faults[0].kind, FaultKind::kPartition);
  EXPECT_EQ(c.faults[0].at_ms, 10000);
  EXPECT_EQ(c.faults[0].for_ms, 5000);
  EXPECT_TRUE(c.faults[0].one_way);
  EXPECT_EQ(c.faults[0].groups,
            (std::vector<std::vector<std::string>>{{"server:0"}, {"server:1", "db"}}));
  EXPECT_EQ(c.faults[1].kind, FaultKind::kCrash);
  EXPECT_EQ(c.faults[1].target, "server:0");
  EXPECT_EQ(c.faults[1].for_ms, 2000);
  EXPECT_EQ(c.faults[2].kind, FaultKind::kClockOffset);
  EXPECT_EQ(c.faults[2].value, 4000);
  EXPECT_EQ(c.faults[3].kind, FaultKind::kClockDrift);
  EXPECT_EQ(c.faults[3].value, 200);
  EXPECT_EQ(c.faults[4].kind, FaultKind::kOffline);
  EXPECT_EQ(c.faults[4].target, "client:2");
  EXPECT_EQ(c.faults[4].at_ms, 5500);
  EXPECT_EQ(c.faults[4].for_ms, 10000);

  EXPECT_EQ(c.random_faults.count, 3u);
  EXPECT_EQ(c.random_faults.kinds, (std::vector<FaultKind>{FaultKind::kPartition, FaultKind::kCrash,
                                                            FaultKind::kClockOffset, FaultKind::kOffline}));
  EXPECT_EQ(c.random_faults.duration_ms.min, 1000);
  EXPECT_EQ(c.random_faults.duration_ms.max, 10000);
  EXPECT_EQ(c.random_faults.clock_offset_max_ms, 5000);
  ASSERT_EQ(c.script.size(), 1u);
  EXPECT_EQ(c.script[0].at_ms, 100);
  EXPECT_EQ(c.script[0].client, 0u);
  EXPECT_EQ(c.script[0].pos, 2u);
  EXPECT_EQ(c.script[0].del, 1u);
  EXPECT_EQ(c.script[0].ins, "X");

  // The fix variant differs in exactly what it overrides; siblings in the nested mappings keep
  // the world's values.
  const WorldConfig& f = sc.variants[1].config;
  EXPECT_EQ(f.servers.propagation, Propagation::kBus);
  EXPECT_EQ(f.workload.burst_len, 9u);
  EXPECT_EQ(c.workload.burst_len, 6u);
  EXPECT_EQ(f.servers.count, 2u);
  EXPECT_EQ(f.servers.persistence, Persistence::kSnapshot);
  EXPECT_EQ(f.servers.poll_interval_ms, 2000);
  EXPECT_FALSE(f.servers.catch_up);
  EXPECT_DOUBLE_EQ(f.workload.burst_prob, 0.25);
  EXPECT_EQ(f.workload.think_ms.min, 500);
  EXPECT_EQ(f.faults.size(), 5u);
  EXPECT_EQ(f.clients, 4u);
}

TEST(ScenarioLoad, ExpectationsKeepFileOrderAndWhere) {
  const Scenario sc = load_ok(kFull);
  ASSERT_EQ(sc.expectations.size(), 4u);
  const Expectation& a = sc.expectations[0];
  EXPECT_EQ(a.variant, "naive");
  EXPECT_EQ(a.strategy, "*");
  EXPECT_EQ(a.metric, "visibility_cross_ms.p50");
  EXPECT_EQ(a.op, CompareOp::kGe);
  EXPECT_DOUBLE_EQ(a.value, 1000);
  EXPECT_EQ(a.where, "t.yaml:61:36");
  EXPECT_EQ(a.text, ">= 1000");
  EXPECT_EQ(sc.expectations[1].metric, "visibility_cross_ms.p99");
  EXPECT_EQ(sc.expectations[1].op, CompareOp::kLe);
  EXPECT_EQ(sc.expectations[1].where, "t.yaml:63:36");
  EXPECT_EQ(sc.expectations[2].metric, "converged");
  EXPECT_EQ(sc.expectations[2].op, CompareOp::kEq);
  EXPECT_DOUBLE_EQ(sc.expectations[2].value, 1);
  const Expectation& d = sc.expectations[3];
  EXPECT_EQ(d.variant, "fix");
  EXPECT_EQ(d.strategy, "lww");
  EXPECT_EQ(d.metric, "lost_acked_chars.clock_skew");
  EXPECT_EQ(d.op, CompareOp::kGt);
  EXPECT_DOUBLE_EQ(d.value, 0);
  EXPECT_EQ(d.text, "> 0");
  EXPECT_EQ(d.where, "t.yaml:64:40");
}

TEST(ScenarioLoad, DefaultsComeFromConfigHpp) {
  const Scenario sc = load_ok("name: tiny\nvariants:\n  naive:\n  fix: {}\n");
  const WorldConfig def;
  ASSERT_EQ(sc.variants.size(), 2u);
  for (const Variant& v : sc.variants) {
    EXPECT_EQ(v.config.duration_ms, def.duration_ms);
    EXPECT_EQ(v.config.quiesce_ms, def.quiesce_ms);
    EXPECT_EQ(v.config.clients, def.clients);
    EXPECT_EQ(v.config.servers.count, def.servers.count);
    EXPECT_EQ(v.config.servers.propagation, def.servers.propagation);
    EXPECT_EQ(v.config.workload.think_ms.max, def.workload.think_ms.max);
    EXPECT_EQ(v.config.network.client_server_ms.min, def.network.client_server_ms.min);
    EXPECT_TRUE(v.config.faults.empty());
  }
  EXPECT_EQ(sc.seeds, 5u);
  EXPECT_EQ(sc.row, 0u);
  std::vector<std::string> all;
  for (const Strategy* s : strategies()) all.emplace_back(s->name);
  EXPECT_EQ(sc.strategies, all);
  EXPECT_TRUE(sc.expectations.empty());
}

TEST(ScenarioLoad, VariantListsReplaceAndMakeRefsValid) {
  // The world's fault names server:3, past its 2 servers; the variant that has 4 servers is
  // fine, so only a variant keeping 2 is an error.
  const std::string mixed = with_world("  servers: {count: 2}\n  faults:\n    - {kind: crash, target: server:3}\n") +
                         "  big: {servers: {count: 4}}\n";
  const std::string base = "name: x\nworld:\n  servers: {count: 2}\n  faults:\n    - {kind: crash, target: server:3}\n"
                           "variants:\n  big: {servers: {count: 4}}\n";
  const Scenario sc = load_ok(base);
  ASSERT_EQ(sc.variants.size(), 1u);
  EXPECT_EQ(sc.variants[0].config.faults.at(0).target, "server:3");
  const std::string e = load_err(mixed);
  EXPECT_HAS(e, "t.yaml:5:29: world.faults[0].target: server:3: no such server in variant \"naive\", which has 2 "
                "server(s) (server:0..server:1)");
  // A variant's list replaces the world's list wholesale.
  const Scenario r = load_ok(with_world("  faults:\n    - {kind: crash, target: db}\n") +
                             "  nofaults: {faults: []}\n");
  EXPECT_EQ(r.variants[0].config.faults.size(), 1u);
  EXPECT_TRUE(r.variants[1].config.faults.empty());
}

TEST(ScenarioLoad, LoadsFileAndReportsMissingOne) {
  const std::string path = std::string(CONVLAB_SCENARIO_TEST_DATA) + "/cross_server.yaml";
  auto r = load_scenario(path);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->file, path);
  EXPECT_EQ(r->seeds, 3u);
  EXPECT_EQ(r->variants.at(0).config.servers.propagation, Propagation::kPoll);
  EXPECT_EQ(r->variants.at(1).config.servers.propagation, Propagation::kBus);
  EXPECT_EQ(r->variants.at(1).config.duration_ms, 20000);
  ASSERT_EQ(r->expectations.size(), 3u);
  EXPECT_EQ(r->expectations[0].where, path + ":15:36");

  auto missing = load_scenario("/nonexistent/dir/none.yaml");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message.rfind("/nonexistent/dir/none.yaml:1:1: ", 0), 0u) << missing.error().message;
  EXPECT_HAS(missing.error().message, "cannot open");
}

// --- one test per class of error: exact place, key path, and the allowed values ------------

TEST(ScenarioErrors, UnknownEnumValueListsAllowed) {
  const std::string e = load_err(with_world("  servers:\n    propagation: pol\n"));
  EXPECT_HAS(e, "t.yaml:4:18: world.servers.propagation: unknown value \"pol\" (allowed: poll, bus)");
  EXPECT_HAS(load_err(with_world("  balancer: random\n")),
             "t.yaml:3:13: world.balancer: unknown value \"random\" (allowed: round_robin, sticky)");
  EXPECT_HAS(load_err(with_world("  faults:\n    - {kind: explode}\n")),
             "t.yaml:4:14: world.faults[0].kind: unknown value \"explode\" (allowed: partition, crash, "
             "clock_offset, clock_drift, offline, disconnect, revoke, flaky, db_lost, redis_crash)");
}

TEST(ScenarioErrors, UnknownKeyListsAllowedKeysAtThatLevel) {
  const std::string e = load_err(with_world("  servers:\n    propagaton: poll\n"));
  EXPECT_HAS(e, "t.yaml:4:5: world.servers.propagaton: unknown key (allowed: count, propagation, poll_interval_ms");
  // The policies in the policy table's order, then the simulated servers' own key.
  EXPECT_HAS(e, "ack, catch_up, api_read, api_cache, check_revocation, rate_limit_per_s, rate_burst, "
                "rename, home, lease_ms, lease_s, awareness, awareness_interval_ms, awareness_interval_s, "
                "awareness_idle_ms, awareness_idle_s, bus, bus_recovery, work_us_per_msg, work_us_per_read, host_cpus, host_us_per_frame)");
  const std::string top = load_err("name: x\nvariant:\n  naive: {}\n");
  EXPECT_HAS(top, "t.yaml:2:1: variant: unknown key (allowed: name, row, description, strategies, seeds, world, "
                  "variants, expect, calibration)");
  // A key that exists but not for this fault kind.
  EXPECT_HAS(load_err(with_world("  faults:\n    - {kind: crash, target: db, groups: [[db], [bus]]}\n")),
             "t.yaml:4:33: world.faults[0].groups: does not apply to kind crash (allowed: kind, at_s, at_ms, "
             "for_s, for_ms, target)");
}

TEST(ScenarioErrors, WrongTypes) {
  EXPECT_HAS(load_err(with_world("  clients: abc\n")), "t.yaml:3:12: world.clients: expected an integer, got \"abc\"");
  EXPECT_HAS(load_err(with_world("  clients: \"4\"\n")),
             "t.yaml:3:12: world.clients: expected an integer, got the string \"4\"");
  EXPECT_HAS(load_err(with_world("  clients: 2.5\n")), "t.yaml:3:12: world.clients: expected an integer, got \"2.5\"");
  EXPECT_HAS(load_err(with_world("  servers: 3\n")), "t.yaml:3:12: world.servers: expected a mapping, got \"3\"");
  EXPECT_HAS(load_err(with_world("  workload:\n    think_ms: 500\n")),
             "t.yaml:4:15: world.workload.think_ms: expected a range [min, max] of milliseconds, got \"500\"");
  EXPECT_HAS(load_err(with_world("  servers: {catch_up: maybe}\n")),
             "t.yaml:3:23: world.servers.catch_up: expected true or false, got \"maybe\"");
  EXPECT_HAS(load_err("name: x\nvariants: [naive, fix]\n"),
             "t.yaml:2:11: variants: expected a mapping of variant name -> overrides of world, got a sequence");
  EXPECT_HAS(load_err("- just\n- a list\n"), "t.yaml:1:1: (top level): expected a scenario");
  // An empty value is reported at its key, not at the next line where yaml-cpp marks it.
  EXPECT_HAS(load_err(with_world("  clients:\n")), "t.yaml:3:3: world.clients: expected an integer, got nothing");
  EXPECT_HAS(load_err(with_world("  servers:\n")), "t.yaml:3:3: world.servers: expected a mapping, got nothing");
}

TEST(ScenarioErrors, OutOfRangeNumbers) {
  EXPECT_HAS(load_err(with_world("  duration_s: -1\n")), "t.yaml:3:15: world.duration_s: must be at least 0.001 s");
  EXPECT_HAS(load_err(with_world("  quiesce_ms: -5\n")),
             "t.yaml:3:15: world.quiesce_ms: must not be negative, got -5 ms");
  EXPECT_HAS(load_err(with_world("  network: {server_db_ms: [-1, 3]}\n")),
             "t.yaml:3:28: world.network.server_db_ms[0]: must not be negative, got -1 ms");
  EXPECT_HAS(load_err(with_world("  workload: {burst_prob: 1.5}\n")),
             "t.yaml:3:26: world.workload.burst_prob: probability must be between 0 and 1, got 1.5");
  EXPECT_HAS(load_err(with_world("  workload: {insert_prob: -0.1}\n")),
             "world.workload.insert_prob: probability must be between 0 and 1, got -0.1");
  EXPECT_HAS(load_err(with_world("  docs: 0\n")), "t.yaml:3:9: world.docs: must be at least 1, got 0");
  EXPECT_HAS(load_err(with_world("  servers: {count: 0}\n")),
             "t.yaml:3:20: world.servers.count: must be at least 1, got 0");
  EXPECT_HAS(load_err(with_world("  clients: 100001\n")),
             "t.yaml:3:12: world.clients: must be at most 100000, got 100001");
  EXPECT_HAS(load_err(with_world("  servers: {count: 1025}\n")),
             "t.yaml:3:20: world.servers.count: must be at most 1024, got 1025");
  EXPECT_HAS(load_err(with_world("  docs: 100001\n")), "t.yaml:3:9: world.docs: must be at most 100000, got 100001");
  EXPECT_HAS(load_err(with_world("  clients: 99999999999999999999\n")),
             "world.clients: expected an integer, got \"99999999999999999999\"");
  EXPECT_HAS(load_err("name: x\nseeds: 0\nvariants: {naive: {}}\n"), "t.yaml:2:8: seeds: must be at least 1, got 0");
}

TEST(ScenarioErrors, RangeMinAboveMax) {
  EXPECT_HAS(load_err(with_world("  network:\n    client_server_ms: [60, 20]\n")),
             "t.yaml:4:23: world.network.client_server_ms: range has min > max: [60, 20]");
  EXPECT_HAS(load_err(with_world("  clocks: {offset_ms: [1, 2, 3]}\n")),
             "t.yaml:3:23: world.clocks.offset_ms: expected a range [min, max] of milliseconds, got a sequence of 3");
}

TEST(ScenarioErrors, SecondsAndMillisecondsTogether) {
  const std::string e = load_err(with_world("  duration_s: 10\n  duration_ms: 10000\n"));
  EXPECT_HAS(e, "t.yaml:4:3: world.duration_ms: give duration_s or duration_ms, not both");
  EXPECT_HAS(load_err(with_world("  duration_s: 1.0005\n")), "t.yaml:3:15: world.duration_s: finer than a millisecond: 1.0005 s");
}

TEST(ScenarioErrors, NodeNames) {
  EXPECT_HAS(load_err(with_world("  faults:\n    - {kind: crash, target: srv:1}\n")),
             "t.yaml:4:29: world.faults[0].target: \"srv:1\" is not a node name (allowed: client:N, server:N, db, "
             "bus)");
  EXPECT_HAS(load_err(with_world("  faults:\n    - {kind: offline, target: server:0}\n")),
             "t.yaml:4:31: world.faults[0].target: \"server:0\" cannot be used here (allowed: client:N)");
  const std::string past = load_err(with_world("  servers: {count: 2}\n  faults:\n"
                                               "    - {kind: partition, groups: [[server:0], [server:5, db]]}\n"));
  EXPECT_HAS(past, "t.yaml:5:47: world.faults[0].groups[1][0]: server:5: no such server in variant \"naive\", which "
                   "has 2 server(s) (server:0..server:1)");
  EXPECT_HAS(load_err(with_world("  clients: 3\n  client_overrides:\n    - {client: 3}\n")),
             "t.yaml:5:16: world.client_overrides[0].client: 3: no such client in variant \"naive\", which has 3 "
             "client(s) (client:0..client:2)");
  EXPECT_HAS(load_err(with_world("  faults:\n    - {kind: partition, groups: [[db], [db]]}\n")),
             "t.yaml:4:41: world.faults[0].groups[1][0]: db is in more than one place in the partition");
  EXPECT_HAS(load_err(with_world("  faults:\n    - {kind: crash}\n")),
             "t.yaml:4:7: world.faults[0].target: required for kind crash (allowed: server:N, db)");
  EXPECT_HAS(load_err(with_world("  duration_s: 10\n  faults:\n    - {at_s: 10, kind: crash, target: db}\n")),
             "t.yaml:5:14: world.faults[0].at_s: at 10000 ms is not before the end of the run in variant \"naive\"");
}

TEST(ScenarioErrors, Strategies) {
  const std::string e = load_err("name: x\nstrategies: [lww, lwww]\nvariants: {naive: {}}\n");
  EXPECT_HAS(e, "t.yaml:2:19: strategies[1]: unknown strategy \"lwww\" (known: " + strategy_names() + ")");
  const std::string x = load_err("name: x\nvariants: {naive: {}}\nexpect:\n  naive:\n    ott: {converged: \"== 1\"}\n");
  EXPECT_HAS(x, "t.yaml:5:5: expect.naive.ott: unknown strategy \"ott\" (known: " + strategy_names());
  const std::string notrun = load_err(
      "name: x\nstrategies: [lww]\nvariants: {naive: {}}\nexpect:\n  naive:\n    crdt: {converged: \"== 1\"}\n");
  EXPECT_HAS(notrun, "t.yaml:6:5: expect.naive.crdt: strategy crdt is not run by this scenario (strategies: lww)");
}

TEST(ScenarioErrors, ExpectationOnMissingVariant) {
  const std::string e =
      load_err("name: x\nvariants: {naive: {}, fix: {}}\nexpect:\n  nave:\n    \"*\": {converged: \"== 1\"}\n");
  EXPECT_HAS(e, "t.yaml:4:3: expect.nave: no variant \"nave\" (variants: naive, fix)");
}

TEST(ScenarioErrors, UnknownMetricSuggestsCloseOnes) {
  const std::string e =
      load_err("name: x\nvariants: {naive: {}}\nexpect:\n  naive:\n    \"*\": {visiblity_cross_ms.p99: \"< 5\"}\n");
  EXPECT_HAS(e, "t.yaml:5:11: expect.naive.*.visiblity_cross_ms.p99: unknown metric \"visiblity_cross_ms.p99\"");
  EXPECT_HAS(e, "visibility_cross_ms.p99");
  EXPECT_HAS(e, "`convlab validate --metrics` lists them all");
  const std::string far =
      load_err("name: x\nvariants: {naive: {}}\nexpect:\n  naive:\n    \"*\": {zzzzzzzzzzzzzzzzzzzz: \"< 5\"}\n");
  EXPECT_HAS(far, "unknown metric \"zzzzzzzzzzzzzzzzzzzz\" (`convlab validate --metrics` lists them all)");
}

TEST(ScenarioErrors, MalformedComparison) {
  for (const char* bad : {">> 3", "3", ">= ", "=> 3", "< 3 ms", "== nan"}) {
    const std::string e = load_err("name: x\nvariants: {naive: {}}\nexpect:\n  naive:\n    \"*\": {converged: \"" +
                                   std::string(bad) + "\"}\n");
    EXPECT_HAS(e, "t.yaml:5:22: expect.naive.*.converged: malformed comparison \"" + std::string(bad) +
                      "\": expected \"OP NUMBER\" like \">= 1000\" (operators: <, <=, ==, !=, >=, >)");
  }
  // Spacing is free, and the text is kept as written.
  const Scenario sc = load_ok("name: x\nvariants: {naive: {}}\nexpect:\n  naive:\n    \"*\": {converged: \"!=0.5\"}\n");
  ASSERT_EQ(sc.expectations.size(), 1u);
  EXPECT_EQ(sc.expectations[0].op, CompareOp::kNe);
  EXPECT_DOUBLE_EQ(sc.expectations[0].value, 0.5);
  EXPECT_EQ(sc.expectations[0].text, "!=0.5");
}

// --- quantifiers over seeds --------------------------------------------------------------

std::string one_expectation(const std::string& comparison) {
  return "name: x\nvariants: {naive: {}}\nexpect:\n  naive:\n    \"*\": {converged: \"" + comparison + "\"}\n";
}

TEST(ScenarioQuantifiers, EachQuantifierParsesAndTheBareFormIsMean) {
  struct Row {
    const char* text;
    Quantifier q;
    CompareOp op;
    double value;
  };
  const Row rows[] = {
      {"== 1", Quantifier::kMean, CompareOp::kEq, 1},      {"mean <= 500", Quantifier::kMean, CompareOp::kLe, 500},
      {"all >= 1", Quantifier::kAll, CompareOp::kGe, 1},   {"any > 0", Quantifier::kAny, CompareOp::kGt, 0},
      {"min > 0", Quantifier::kMin, CompareOp::kGt, 0},    {"max == 0", Quantifier::kMax, CompareOp::kEq, 0},
      {"all==0", Quantifier::kAll, CompareOp::kEq, 0},     {"  any  !=  -2.5 ", Quantifier::kAny, CompareOp::kNe, -2.5},
      {"max<3", Quantifier::kMax, CompareOp::kLt, 3},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(r.text);
    const Scenario sc = load_ok(one_expectation(r.text));
    ASSERT_EQ(sc.expectations.size(), 1u);
    EXPECT_EQ(sc.expectations[0].quantifier, r.q);
    EXPECT_EQ(sc.expectations[0].op, r.op);
    EXPECT_DOUBLE_EQ(sc.expectations[0].value, r.value);
    EXPECT_EQ(sc.expectations[0].text, r.text) << "kept as written";
    EXPECT_EQ(sc.expectations[0].where, "t.yaml:5:22");
    // The same through the public parser.
    const auto c = parse_comparison(r.text);
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(c->quantifier, r.q);
  }
  for (Quantifier q : {Quantifier::kMean, Quantifier::kMin, Quantifier::kMax, Quantifier::kAll, Quantifier::kAny}) {
    const auto c = parse_comparison(std::string(quantifier_text(q)) + " >= 2");
    ASSERT_TRUE(c.has_value()) << quantifier_text(q);
    EXPECT_EQ(c->quantifier, q);
  }
}

TEST(ScenarioQuantifiers, UnknownQuantifierNamesTheAllowedOnesAtItsPosition) {
  for (const char* bad : {"every >= 1", "All >= 1", "avg<=3", "allx == 0", "minimum > 0", "nan"}) {
    SCOPED_TRACE(bad);
    std::string word(bad);
    word = word.substr(0, word.find_first_of(" <>=!"));
    EXPECT_HAS(load_err(one_expectation(bad)),
               "t.yaml:5:22: expect.naive.*.converged: unknown quantifier \"" + word + "\" in \"" + std::string(bad) +
                   "\" (quantifiers: mean (the default), all, any, min, max; e.g. \"all == 0\")");
  }
}

TEST(ScenarioQuantifiers, MalformedAfterAQuantifierListsTheGrammar) {
  for (const char* bad : {"all", "all 3", "any >", "max >> 3", "mean == nan", "all all == 0", "min -> 2"}) {
    SCOPED_TRACE(bad);
    EXPECT_HAS(load_err(one_expectation(bad)),
               "t.yaml:5:22: expect.naive.*.converged: malformed comparison \"" + std::string(bad) +
                   "\": expected \"OP NUMBER\" like \">= 1000\" (operators: <, <=, ==, !=, >=, >), optionally after a "
                   "quantifier over seeds like \"all >= 1\" (quantifiers: mean (the default), all, any, min, max)");
  }
  // A value that is not a string says so, with the grammar.
  EXPECT_HAS(load_err("name: x\nvariants: {naive: {}}\nexpect:\n  naive:\n    \"*\": {converged: [all, 1]}\n"),
             "t.yaml:5:22: expect.naive.*.converged: expected a comparison \"[QUANTIFIER] OP NUMBER\"");
}

TEST(ScenarioErrors, MalformedYamlGivesParserPosition) {
  const std::string e = load_err("name: x\nworld:\n  clients: [1, 2\nvariants: {naive: {}}\n");
  EXPECT_EQ(e.rfind("t.yaml:", 0), 0u) << e;
  EXPECT_HAS(e, "t.yaml:4:9: yaml: ");
  const std::string dup = load_err("name: x\nname: y\nvariants: {naive: {}}\n");
  EXPECT_HAS(dup, "t.yaml:2:1: name: duplicate key (first at line 1)");
}

TEST(ScenarioErrors, RequiredKeysAndEmptyVariants) {
  EXPECT_HAS(load_err("variants: {naive: {}}\n"), "t.yaml:1:1: name: required key is missing");
  EXPECT_HAS(load_err("name: x\n"), "t.yaml:1:1: variants: required key is missing");
  EXPECT_HAS(load_err("name: x\nvariants: {}\n"), "t.yaml:2:11: variants: at least one variant is needed");
  EXPECT_HAS(load_err(""), "t.yaml:1:1: (top level): expected a scenario");
}

TEST(ScenarioErrors, SeveralProblemsOneLineEach) {
  const std::string e = load_err(with_world("  clients: abc\n  docs: 0\n"));
  EXPECT_EQ(e, "t.yaml:3:12: world.clients: expected an integer, got \"abc\"\n"
               "t.yaml:4:9: world.docs: must be at least 1, got 0");
}

TEST(ScenarioErrors, ErrorsInVariantsNameTheVariantPath) {
  const std::string e = load_err("name: x\nvariants:\n  naive: {servers: {propagation: pol}}\n");
  EXPECT_HAS(e, "t.yaml:3:34: variants.naive.servers.propagation: unknown value \"pol\" (allowed: poll, bus)");
}

// --- compare ----------------------------------------------------------------------------

TEST(Compare, TruthTable) {
  struct Row {
    CompareOp op;
    bool less, equal, greater;  // compare(1, op, 2), compare(2, op, 2), compare(3, op, 2)
  };
  const Row rows[] = {
      {CompareOp::kLt, true, false, false}, {CompareOp::kLe, true, true, false},
      {CompareOp::kEq, false, true, false}, {CompareOp::kNe, true, false, true},
      {CompareOp::kGe, false, true, true},  {CompareOp::kGt, false, false, true},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(op_text(r.op));
    EXPECT_EQ(compare(1, r.op, 2), r.less);
    EXPECT_EQ(compare(2, r.op, 2), r.equal);
    EXPECT_EQ(compare(3, r.op, 2), r.greater);
  }
  // A metric that came out NaN satisfies nothing but "!=".
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_FALSE(compare(nan, CompareOp::kGe, 0));
  EXPECT_FALSE(compare(nan, CompareOp::kEq, 0));
  EXPECT_TRUE(compare(nan, CompareOp::kNe, 0));
}

TEST(Compare, OpTextRoundTripsThroughTheParser) {
  for (CompareOp op : {CompareOp::kLt, CompareOp::kLe, CompareOp::kEq, CompareOp::kNe, CompareOp::kGe, CompareOp::kGt}) {
    const std::string text = std::string(op_text(op)) + " 2.5";
    const Scenario sc =
        load_ok("name: x\nvariants: {naive: {}}\nexpect:\n  naive:\n    \"*\": {converged: \"" + text + "\"}\n");
    ASSERT_EQ(sc.expectations.size(), 1u) << text;
    EXPECT_EQ(sc.expectations[0].op, op) << text;
    EXPECT_DOUBLE_EQ(sc.expectations[0].value, 2.5);
  }
}

// --- robustness ---------------------------------------------------------------------------

// Every line of an error starts with "prop.yaml:LINE:COL: ".
bool well_formed_error(const std::string& message) {
  std::size_t start = 0;
  while (start <= message.size()) {
    const std::size_t end = std::min(message.find('\n', start), message.size());
    const std::string line = message.substr(start, end - start);
    const std::string prefix = "prop.yaml:";
    if (line.rfind(prefix, 0) != 0) return false;
    std::size_t i = prefix.size();
    if (line.rfind("... more problems", i) == i) return true;
    for (int part = 0; part < 2; ++part) {
      const std::size_t digits = i;
      while (i < line.size() && std::isdigit(static_cast<unsigned char>(line[i]))) ++i;
      if (i == digits || i >= line.size() || line[i] != ':') return false;
      ++i;
    }
    if (end == message.size()) break;
    start = end + 1;
  }
  return true;
}

RC_GTEST_PROP(ScenarioProperty, MutatedFilesLoadOrGivePlacedErrors, ()) {
  std::string text = kFull;
  const int mutations = *rc::gen::inRange(1, 4);
  for (int m = 0; m < mutations; ++m) {
    const auto kind = *rc::gen::inRange(0, 3);
    if (text.empty()) break;
    const auto pos = static_cast<std::size_t>(*rc::gen::inRange<std::size_t>(0, text.size()));
    if (kind == 0) {  // delete a character
      text.erase(pos, 1);
    } else if (kind == 1) {  // duplicate the line holding pos
      const std::size_t b = text.rfind('\n', pos == 0 ? 0 : pos - 1);
      const std::size_t from = (b == std::string::npos || pos == 0) ? 0 : b + 1;
      const std::size_t e = text.find('\n', pos);
      const std::size_t to = e == std::string::npos ? text.size() : e + 1;
      text.insert(from, text.substr(from, to - from));
    } else {  // turn the next digit into a letter
      const std::size_t d = text.find_first_of("0123456789", pos);
      if (d != std::string::npos) text[d] = static_cast<char>('a' + (text[d] - '0'));
    }
  }
  const auto r = parse_scenario(text, "prop.yaml");
  RC_CLASSIFY(r.has_value(), "loads");
  if (!r) RC_ASSERT(well_formed_error(r.error().message));
  if (r) RC_ASSERT(!r->variants.empty());
}

}  // namespace
}  // namespace convlab::sim

namespace convlab::sim {
namespace {

// --- keys of the API, auth, rate-limit and title rows (6, 7, 11, 12, 13) ---------------------

TEST(ScenarioLoad, ApiAuthRateAndTitleKeys) {
  const Scenario sc = load_ok(with_world(
      "  workload: {reload_s: [1, 3], rename_ms: [300, 1500], version_read_share: 0.25}\n"
      "  servers: {api_read: fenced, api_cache: public, check_revocation: false, rate_limit_per_s: 2.5,\n"
      "            rate_burst: 7, work_us_per_msg: 20000, rename: lww}\n"
      "  database: {replica_lag_s: 2, backup: archive, archive_interval_s: 15}\n"
      "  cdn: {ttl_s: 300}\n"
      "  auth: {token_lifetime_s: 86400}\n"
      "  faults:\n    - {at_s: 10, kind: revoke, target: client:1}\n"));
  ASSERT_EQ(sc.variants.size(), 1u);
  const WorldConfig& c = sc.variants[0].config;
  EXPECT_EQ(c.workload.reload_ms.min, 1000);
  EXPECT_EQ(c.workload.reload_ms.max, 3000);
  EXPECT_EQ(c.workload.rename_ms.min, 300);
  EXPECT_EQ(c.workload.version_read_share, 0.25);
  EXPECT_EQ(c.servers.api_read, ApiRead::kFenced);
  EXPECT_EQ(c.servers.api_cache, ApiCache::kPublic);
  EXPECT_FALSE(c.servers.check_revocation);
  EXPECT_EQ(c.servers.rate_limit_per_s, 2.5);
  EXPECT_EQ(c.servers.rate_burst, 7u);
  EXPECT_EQ(c.servers.work_us_per_msg, 20000);
  EXPECT_EQ(c.servers.rename, Rename::kLww);
  EXPECT_EQ(c.database.replica_lag_ms, 2000);
  EXPECT_EQ(c.database.backup, DatabaseSpec::Backup::kArchive);
  EXPECT_EQ(c.database.archive_interval_ms, 15000);
  EXPECT_EQ(c.cdn.ttl_ms, 300000);
  EXPECT_EQ(c.auth.token_lifetime_ms, 86400000);
  ASSERT_EQ(c.faults.size(), 1u);
  EXPECT_EQ(c.faults[0].kind, FaultKind::kRevoke);
  EXPECT_EQ(c.faults[0].target, "client:1");
}

TEST(ScenarioLoad, ApiDefaultsAreTheFixes) {
  const WorldConfig c = load_ok(with_world("  clients: 2\n")).variants[0].config;
  EXPECT_EQ(c.workload.reload_ms.max, 0);  // no reloads
  EXPECT_EQ(c.servers.api_read, ApiRead::kPrimary);
  EXPECT_EQ(c.servers.api_cache, ApiCache::kNoStore);
  EXPECT_TRUE(c.servers.check_revocation);
  EXPECT_EQ(c.servers.rate_limit_per_s, 0.0);
  EXPECT_EQ(c.servers.rename, Rename::kNotice);
  EXPECT_EQ(c.cdn.ttl_ms, 0);
}

TEST(ScenarioErrors, ApiAuthRateAndTitleKeys) {
  EXPECT_HAS(load_err(with_world("  servers: {api_read: replicas}\n")),
             "t.yaml:3:23: world.servers.api_read: unknown value \"replicas\" (allowed: replica, primary, "
             "session_primary, fenced)");
  EXPECT_HAS(load_err(with_world("  servers: {api_cache: private}\n")),
             "t.yaml:3:24: world.servers.api_cache: unknown value \"private\" (allowed: public, no_store)");
  EXPECT_HAS(load_err(with_world("  servers: {rename: first}\n")),
             "t.yaml:3:21: world.servers.rename: unknown value \"first\" (allowed: lww, notice)");
  EXPECT_HAS(load_err(with_world("  servers: {check_revocation: 1}\n")),
             "t.yaml:3:31: world.servers.check_revocation: expected true or false, got \"1\"");
  EXPECT_HAS(load_err(with_world("  servers: {rate_limit_per_s: -1}\n")),
             "t.yaml:3:31: world.servers.rate_limit_per_s: must not be negative, got -1");
  EXPECT_HAS(load_err(with_world("  servers: {rate_burst: 0}\n")),
             "t.yaml:3:25: world.servers.rate_burst: must be at least 1, got 0");
  EXPECT_HAS(load_err(with_world("  servers: {work_us_per_msg: 2.5}\n")),
             "t.yaml:3:30: world.servers.work_us_per_msg: expected an integer, got \"2.5\"");
  // host_cpus: a share of a machine may be a fraction (what a loaded one left), but not a sliver.
  EXPECT_DOUBLE_EQ(load_ok(with_world("  servers: {host_cpus: 1.5}\n")).variants[0].config.servers.host_cpus, 1.5);
  EXPECT_HAS(load_err(with_world("  servers: {host_cpus: 0.01}\n")),
             "t.yaml:3:24: world.servers.host_cpus: expected 0 (the servers have machines of their own) or from 0.05 "
             "cores (a share of one) to 4096, got 0.01");
  EXPECT_HAS(load_err(with_world("  servers: {host_cpus: -1}\n")), "t.yaml:3:24: world.servers.host_cpus: ");
  EXPECT_HAS(load_err(with_world("  servers: {host_cpus: lots}\n")),
             "t.yaml:3:24: world.servers.host_cpus: expected a number, got \"lots\"");
  EXPECT_HAS(load_err(with_world("  workload: {reload_ms: [0, 100]}\n")),
             "t.yaml:3:25: world.workload.reload_ms: the shortest pause must be at least 1 ms ([0, 0] turns it off)");
  EXPECT_HAS(load_err(with_world("  workload: {rename_ms: [200, 100]}\n")),
             "t.yaml:3:25: world.workload.rename_ms: range has min > max: [200, 100]");
  EXPECT_HAS(load_err(with_world("  database: {replica_lag_ms: -1}\n")),
             "t.yaml:3:30: world.database.replica_lag_ms: must not be negative, got -1 ms");
  EXPECT_HAS(load_err(with_world("  database: {backup: tape}\n")),
             "t.yaml:3:22: world.database.backup: unknown value \"tape\" (allowed: none, archive)");
  EXPECT_HAS(load_err(with_world("  database: {archive_interval_s: 0}\n")),
             "t.yaml:3:34: world.database.archive_interval_s: must be at least 0.001 s, got 0 s");
  EXPECT_HAS(load_err(with_world("  cdn: {ttl: 5}\n")), "t.yaml:3:9: world.cdn.ttl: unknown key (allowed: ttl_ms, ttl_s)");
  EXPECT_HAS(load_err(with_world("  auth: {token_lifetime_s: 0}\n")),
             "t.yaml:3:28: world.auth.token_lifetime_s: must be at least 0.001 s, got 0 s");
  EXPECT_HAS(load_err(with_world("  faults:\n    - {kind: revoke, target: server:0}\n")),
             "t.yaml:4:30: world.faults[0].target: \"server:0\" cannot be used here (allowed: client:N)");
  EXPECT_HAS(load_err(with_world("  faults:\n    - {kind: revoke}\n")),
             "world.faults[0].target: required for kind revoke (allowed: client:N)");
  EXPECT_HAS(load_err(with_world("  clients: 2\n  faults:\n    - {kind: revoke, target: client:2}\n")),
             "world.faults[0].target: client:2: no such client in variant \"naive\"");
}

// --- partitions (docs/scenarios.md, "Partitions") ------------------------------------------

TEST(ScenarioLoad, Partitions) {
  const Scenario sc = load_ok(
      "name: x\nworld:\n  docs: 10\n"
      "  workload: {organizations: 4, org_size: uniform, org_exponent: 1.5}\n"
      "  database: {partitions: 3, partition_by: doc, work_us_per_append: 500}\n"
      "variants:\n  naive: {database: {partition_by: org}}\n  fix: {}\n  flat: {workload: {organizations: 0}}\n");
  ASSERT_EQ(sc.variants.size(), 3u);
  const WorldConfig& naive = sc.variants[0].config;
  EXPECT_EQ(naive.database.partitioning.partitions, 3u);
  EXPECT_EQ(naive.database.partitioning.by, PartitionSpec::By::kOrg);
  EXPECT_EQ(naive.database.partitioning.organizations, 4u);
  EXPECT_EQ(naive.database.partitioning.org_size, PartitionSpec::OrgSize::kUniform);
  EXPECT_EQ(naive.database.partitioning.org_exponent, 1.5);
  EXPECT_EQ(naive.database.work_us_per_append, 500);
  EXPECT_TRUE(naive.database.partitioned());
  EXPECT_EQ(sc.variants[1].config.database.partitioning.by, PartitionSpec::By::kDoc);
  EXPECT_EQ(sc.variants[2].config.database.partitioning.organizations, 0u);
  EXPECT_TRUE(sc.variants[2].config.database.partitioned());  // 3 partitions
  // The defaults: one partition, no organizations, nothing partitioned (every digest unchanged).
  const WorldConfig d = load_ok(with_world("  docs: 2\n")).variants[0].config;
  EXPECT_EQ(d.database.partitioning.partitions, 1u);
  EXPECT_EQ(d.database.partitioning.organizations, 0u);
  EXPECT_EQ(d.database.work_us_per_append, 0);
  EXPECT_FALSE(d.database.partitioned());
}

TEST(ScenarioErrors, Partitions) {
  EXPECT_HAS(load_err(with_world("  database: {partition_by: tenant}\n")),
             "t.yaml:3:28: world.database.partition_by: unknown value \"tenant\" (allowed: org, doc)");
  EXPECT_HAS(load_err(with_world("  database: {partitions: 0}\n")),
             "t.yaml:3:26: world.database.partitions: must be at least 1, got 0");
  EXPECT_HAS(load_err(with_world("  database: {partitions: 5000}\n")), "world.database.partitions: must be at most 1024");
  EXPECT_HAS(load_err(with_world("  database: {work_us_per_append: -1}\n")),
             "t.yaml:3:34: world.database.work_us_per_append: must not be negative, got -1");
  EXPECT_HAS(load_err(with_world("  workload: {org_size: pareto}\n")),
             "t.yaml:3:24: world.workload.org_size: unknown value \"pareto\" (allowed: zipf, uniform)");
  EXPECT_HAS(load_err(with_world("  workload: {org_exponent: -1}\n")), "t.yaml:3:28: world.workload.org_exponent: must not be negative, got -1");
  // Every organization owns a document: checked per variant, pointing at the count.
  const std::string e = load_err(
      "name: x\nworld:\n  docs: 8\n  workload: {organizations: 6}\nvariants:\n  naive: {}\n  few: {docs: 4}\n");
  EXPECT_HAS(e, "t.yaml:4:29: world.workload.organizations: 6 organizations need at least as many documents in "
                "variant \"few\", which has 4 (docs)");
  EXPECT_EQ(e.find("variant \"naive\""), std::string::npos) << e;
}

// --- flaky bus bursts ----------------------------------------------------------------------

TEST(ScenarioLoad, FlakyFault) {
  const WorldConfig c = load_ok(with_world(
      "  faults:\n    - {at_s: 10, for_s: 5, kind: flaky, loss: 0.3, dup: 0.2, reorder: 0.1}\n"
      "  random_faults: {count: 2, kinds: [flaky, crash]}\n")).variants[0].config;
  ASSERT_EQ(c.faults.size(), 1u);
  EXPECT_EQ(c.faults[0].kind, FaultKind::kFlaky);
  EXPECT_EQ(c.faults[0].at_ms, 10000);
  EXPECT_EQ(c.faults[0].for_ms, 5000);
  EXPECT_EQ(c.faults[0].loss, 0.3);
  EXPECT_EQ(c.faults[0].dup, 0.2);
  EXPECT_EQ(c.faults[0].reorder, 0.1);
  ASSERT_EQ(c.random_faults.kinds.size(), 2u);
  EXPECT_EQ(c.random_faults.kinds[0], FaultKind::kFlaky);
  // One probability is enough; the others stay 0.
  const WorldConfig d = load_ok(with_world("  faults:\n    - {at_s: 1, kind: flaky, dup: 1}\n")).variants[0].config;
  ASSERT_EQ(d.faults.size(), 1u);
  EXPECT_EQ(d.faults[0].loss, 0.0);
  EXPECT_EQ(d.faults[0].dup, 1.0);
}

TEST(ScenarioErrors, FlakyFault) {
  EXPECT_HAS(load_err(with_world("  faults:\n    - {at_s: 1, kind: flaky, loss: 1.5}\n")),
             "t.yaml:4:36: world.faults[0].loss: probability must be between 0 and 1, got 1.5");
  EXPECT_HAS(load_err(with_world("  faults:\n    - {at_s: 1, kind: flaky, reorder: -0.5}\n")),
             "world.faults[0].reorder: probability must be between 0 and 1, got -0.5");
  // A bad probability is one error, not also "all zero".
  const std::string bad = load_err(with_world("  faults:\n    - {at_s: 1, kind: flaky, loss: 1.5}\n"));
  EXPECT_EQ(bad.find("at least one of"), std::string::npos) << bad;
  EXPECT_HAS(load_err(with_world("  faults:\n    - {at_s: 1, kind: flaky, loss: 0, dup: 0}\n")),
             "t.yaml:4:7: world.faults[0]: a flaky fault needs at least one of loss, dup, reorder above 0");
  EXPECT_HAS(load_err(with_world("  faults:\n    - {at_s: 1, kind: flaky}\n")),
             "world.faults[0]: a flaky fault needs at least one of loss, dup, reorder above 0");
  EXPECT_HAS(load_err(with_world("  faults:\n    - {kind: flaky, loss: 0.1, target: bus}\n")),
             "t.yaml:4:32: world.faults[0].target: does not apply to kind flaky (allowed: kind, at_s, at_ms, "
             "for_s, for_ms, loss, dup, reorder)");
  EXPECT_HAS(load_err(with_world("  faults:\n    - {kind: crash, target: db, loss: 0.5}\n")),
             "world.faults[0].loss: does not apply to kind crash");
}

}  // namespace
}  // namespace convlab::sim
