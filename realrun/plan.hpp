#pragma once
// What one run of a scenario on real processes starts and does (issue 15, `convlab run --real`):
// the world's size checked against this machine, its faults (scheduled and drawn from the seed,
// as the simulator draws them) checked for a real realisation, the links that need a fault
// proxy, the servers that need libfaketime, convlab-load's flags. No IO here: realrun/runner.*
// carries a plan out (docs/real-faults.md, "Running a scenario").
#include "faults/kinds.hpp"
#include "server/core/policies.hpp"
#include "server/core/result.hpp"
#include "server/core/strategy.hpp"
#include "sim/scenario.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace convlab::realrun {

// The largest world this machine runs honestly (2 cores: every client a WebSocket in one
// convlab-load, every server a process), and the longest editing phase a run takes: a longer
// one is shortened, every fault time scaled with it.
struct Limits {
  std::uint32_t clients_max = 200;
  std::uint32_t servers_max = 4;
  std::int64_t duration_max_ms = 60000;
  std::int64_t quiesce_max_ms = 30000;
};

// A fault proxy on one link: `client` is the side that connects ("server:1", or "load":
// convlab-load's clients), `target` the side it connects to ("db", "server:0": that server's
// /node, or its WebSocket and API port for "load"; "bus": the Redis of `bus: redis`).
struct ProxyLink {
  std::string client;
  std::string target;
  friend bool operator==(const ProxyLink&, const ProxyLink&) = default;
};

struct Plan {
  std::string file;  // the scenario's
  std::string scenario, variant, strategy;
  std::uint64_t seed = 0;
  std::uint32_t servers = 1, clients = 1, docs = 1;
  sim::WorldConfig world;  // the variant's world as written (before shortening)
  double scale = 1.0;      // every time of the run is the written one times this (<= 1)
  std::int64_t duration_ms = 0, quiesce_ms = 0;  // after shortening
  std::vector<faults::FaultSpec> faults;         // scheduled and drawn, times shortened, by at_ms
  std::vector<ProxyLink> proxies;                // links a partition cuts, and the load's (below)
  // workload.rename_ms: the world's network.client_server_ms on every load -> server link (a
  // fault proxy's `latency`, each direction): the row's renames are concurrent only within a
  // network delay, and loopback has none to speak of. {0, 0}: the load connects to the servers.
  std::int64_t client_latency_min_ms = 0, client_latency_max_ms = 0;
  std::vector<bool> faketime;                    // per server: its clock is moved by a fault
  bool replica = false;                          // servers.api_read is not primary: a streaming replica
  bool redis = false;                            // servers.bus is redis: a throwaway Redis
  // workload.reload_ms with cdn.ttl_s > 0: nginx's proxy_cache (scripts/cdn.sh) in front of the
  // servers' API for this many whole seconds (ttl_s rounded up), convlab-load's reads through it.
  std::int64_t cdn_ttl_s = 0;
  // database.partitions: this many throwaway PostgreSQL clusters, one per partition, in
  // partition order (1: the one cluster, unpartitioned). With more, every server gets the
  // world's rule (`partitions_yaml`) over them, and convlab-load reads each one's change log.
  std::uint32_t databases = 1;
  // A db_lost fault (at most one): the cluster is destroyed at it and comes back after it as the
  // world's database.backup left it. `archived` (backup: archive): started with WAL archiving,
  // a base backup before the typing starts, and an archive point (pg.sh switch) every
  // `archive_interval_ms` of the run from then on (scaled with the run); restored from them.
  // Otherwise an empty cluster on the same port.
  bool db_lost = false;
  bool archived = false;
  std::int64_t archive_interval_ms = 0;
  std::vector<std::string> load_flags;           // typing and client clocks, for convlab-load
  std::int64_t work_us_per_append = 0;  // the append work trigger on every cluster (0: none)
  std::vector<std::string> notes;                // what differs from the simulated world, and why
};

// The plan of one run, or an Error naming the knob or the fault (file:line:column) that cannot
// run on real processes.
Result<Plan> plan_run(const sim::Scenario& sc, const sim::Variant& v, const Strategy& strategy, std::uint64_t seed,
                      const Limits& limits);

// convlab-server's `partitions:` section for a plan with databases > 1: the world's rule
// (database.partition_by, workload.organizations / org_size / org_exponent, world.docs), so the
// server's PartitionMap routes each document where the simulator's puts it, over `urls` (one per
// partition, in order). "" when the plan is unpartitioned.
std::string partitions_yaml(const Plan& p, const std::vector<std::string>& urls);

// How a partition `f` cuts the proxy on `link`: "both", "up" (client to target held), "down",
// or "" (not at all). Nodes a partition does not name are cut from nothing. Under `bus: notify`
// the bus is the database connection's NOTIFY, so "bus" counts as "db"; under `bus: redis` it is
// the Redis, the target of each server's "bus" link, and "db" is PostgreSQL alone.
std::string partition_cut(const faults::FaultSpec& f, const ProxyLink& link,
                          NodePolicies::Bus bus = NodePolicies::Bus::kNotify);

}  // namespace convlab::realrun
