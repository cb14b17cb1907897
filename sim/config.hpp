#pragma once
// The resolved configuration of one simulated world: what a scenario variant (naive or fix)
// says once its overrides are merged into the scenario's base. Every field has a unit in its
// name and a range checked by the scenario loader (sim/scenario.cpp).
#include "faults/kinds.hpp"
#include "server/core/partition.hpp"
#include "server/core/policies.hpp"
#include "workload/typing.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace convlab::sim {

// The typing workload is shared with the real load client (workload/typing.hpp).
using RangeMs = workload::RangeMs;
using Workload = workload::TypingConfig;

// A range [min, max] of microseconds: the measured costs of a calibration (sim/calibration.hpp)
// are finer than the scenario's milliseconds.
struct RangeUs {
  std::int64_t min = 0;
  std::int64_t max = 0;
};
inline RangeUs to_us(RangeMs r) { return RangeUs{r.min * 1000, r.max * 1000}; }

struct ClockSpec {
  RangeMs offset_ms{0, 0};  // drawn per client from the seed
  std::int64_t drift_ppm_max = 0;  // |drift| drawn uniformly up to this
};

struct ClientOverride {
  std::uint32_t client = 0;
  std::int64_t clock_offset_ms = 0;
  std::int64_t drift_ppm = 0;
  double rate_multiplier = 1.0;  // think time divided by this (a flooding user has 50)
};

// The server policies are declared once, in server/core/policies.hpp; these are their enums.
using Propagation = NodePolicies::Propagation;
using Persistence = NodePolicies::Persistence;
using Ack = NodePolicies::Ack;
using ApiRead = NodePolicies::ApiRead;
using ApiCache = NodePolicies::ApiCache;
using Rename = NodePolicies::Rename;
enum class Balancer { kRoundRobin, kSticky };

// The simulated servers: every server policy (the `servers` keys of a scenario that the policy
// table names), their count, and the CPU each client frame takes.
struct ServersSpec : NodePolicies {
  std::uint32_t count = 1;
  std::int64_t work_us_per_msg = 0;  // CPU per client frame, processed one at a time per server
  std::int64_t work_us_per_read = 0;  // CPU of the server per store read (a poll, a load), same worker
  // The machine the servers share (0: each server has a CPU of its own, nothing else on it):
  // host_cpus cores run every server's frames, and each client frame also costs the rest of
  // that machine (the load client, PostgreSQL, the kernel) host_us_per_frame of core time. A
  // calibration measured on one machine sets both, so a world shaped like the benchmark
  // (bench/server/sweep.sh: everything on this machine) is simulated as it runs. A fraction is
  // the share of the machine its processes actually got (`convlab calibrate` on a loaded
  // machine): ceil(host_cpus) cores, each running at host_cpus / ceil(host_cpus) of full speed.
  double host_cpus = 0;
  std::int64_t host_us_per_frame = 0;
};

struct CdnSpec {
  std::int64_t ttl_ms = 0;  // how long the CDN keeps a cacheable API response; 0: no caching
};

struct AuthSpec {
  std::int64_t token_lifetime_ms = 24LL * 3600 * 1000;  // a login's token expires after this
};

struct NetworkSpec {
  RangeMs client_server_ms{20, 60};
  RangeMs server_db_ms{1, 3};
  RangeMs server_bus_ms{1, 3};
  // Set by a calibration (finer than milliseconds); a scenario's own server_db_ms or
  // server_bus_ms written after it clears them. Read through the accessors.
  std::optional<RangeUs> server_db_us;
  std::optional<RangeUs> server_bus_us;  // one hop: database -> bus -> server is two
  RangeUs db_us() const { return server_db_us ? *server_db_us : to_us(server_db_ms); }
  RangeUs bus_us() const { return server_bus_us ? *server_bus_us : to_us(server_bus_ms); }
};

struct DatabaseSpec {
  RangeMs commit_ms{2, 6};
  std::int64_t replica_lag_ms = 0;  // a read replica shows commits this late
  std::optional<RangeUs> commit_us;  // a calibration's commit latency; commit_ms clears it
  // Group commit's gathering time, as PgStore's group_commit.interval_ms: a batch starts at
  // least this long after the previous one started (0: as soon as the previous one ends).
  std::int64_t commit_interval_us = 0;
  // What survives a db_lost fault: nothing (no backup), or a base backup taken at the start and
  // the WAL archived every archive_interval_ms (the store comes back as of the last archive point).
  enum class Backup : std::uint8_t { kNone, kArchive } backup = Backup::kNone;
  std::int64_t archive_interval_ms = 60000;
  RangeUs commit_range_us() const { return commit_us ? *commit_us : to_us(commit_ms); }
  // Partitions (server/core/partition.hpp): the documents spread over `partitioning.partitions`
  // databases, each with its own group commit and costs (`partitions`, `partition_by`; the
  // organizations are the workload's keys). One partition is the database as it always was.
  PartitionSpec partitioning;
  // CPU of a commit per append in its batch (a row's insert and WAL): a batch of n appends takes
  // its commit latency plus n times this, so a partition saturates (0: batches are free to grow).
  std::int64_t work_us_per_append = 0;
  // Per-partition load and latency are reported (partition.* counters) when the world is
  // partitioned: more than one partition or any organizations.
  bool partitioned() const { return partitioning.partitions > 1 || partitioning.organizations > 0; }
};

// Fault kinds and scheduled faults: the table of faults/kinds.hpp.
using FaultKind = faults::FaultKind;
using FaultSpec = faults::FaultSpec;

struct RandomFaults {
  std::uint32_t count = 0;  // faults drawn from the seed within the fault phase
  std::vector<FaultKind> kinds;
  RangeMs duration_ms{1000, 10000};
  std::int64_t clock_offset_max_ms = 5000;
};

struct WorldConfig {
  std::int64_t duration_ms = 60000;  // edits and faults happen in [0, duration)
  std::int64_t quiesce_ms = 30000;   // then everything heals and must converge
  std::uint32_t docs = 1;
  std::string initial_text;          // every document starts with it (lines = paragraphs)
  std::uint32_t clients = 2;
  Workload workload;
  ClockSpec client_clocks;
  std::vector<ClientOverride> client_overrides;
  Balancer balancer = Balancer::kRoundRobin;
  ServersSpec servers;
  NetworkSpec network;
  DatabaseSpec database;
  CdnSpec cdn;
  AuthSpec auth;
  std::vector<FaultSpec> faults;
  RandomFaults random_faults;
  // Scripted edits (for tiny scenarios like "abcdef"): at_ms, client, splice. When present,
  // clients make only these edits.
  struct ScriptedEdit {
    std::int64_t at_ms = 0;
    std::uint32_t client = 0;
    std::uint64_t pos = 0;
    std::uint64_t del = 0;
    std::string ins;  // UTF-8
  };
  std::vector<ScriptedEdit> script;
  std::string calibration;  // the calibration fragment the scenario included ("" if none)
};

}  // namespace convlab::sim
