#pragma once
// The resolved configuration of one simulated world: what a scenario variant (naive or fix)
// says once its overrides are merged into the scenario's base. Every field has a unit in its
// name and a range checked by the scenario loader (sim/scenario.cpp).
#include "faults/kinds.hpp"
#include "workload/typing.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace convlab::sim {

// The typing workload is shared with the real load client (workload/typing.hpp).
using RangeMs = workload::RangeMs;
using Workload = workload::TypingConfig;

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

enum class Propagation { kPoll, kBus };
enum class Persistence { kSnapshot, kChangeLog };
enum class Ack { kImmediate, kAfterCommit };
enum class Balancer { kRoundRobin, kSticky };
// Where a server reads a document for an API GET: a read replica (naive), the primary, the
// primary once the session has written (read-your-writes), or a replica fenced by the version
// of the session's last acknowledged write (the primary when the replica is behind it).
enum class ApiRead { kReplica, kPrimary, kSessionPrimary, kFenced };
enum class ApiCache { kPublic, kNoStore };  // the Cache-Control of API responses
enum class Rename { kLww, kNotice };  // the title register: last write wins, or seq + notice

struct ServersSpec {
  std::uint32_t count = 1;
  Propagation propagation = Propagation::kBus;
  std::int64_t poll_interval_ms = 2000;
  // propagation: bus: each server reads the log tail this often for documents with clients
  // (repairs a record the bus lost with nothing after it). 0: off.
  std::int64_t anti_entropy_ms = 5000;
  Persistence persistence = Persistence::kChangeLog;
  std::int64_t snapshot_interval_ms = 30000;  // persistence: snapshot
  std::uint32_t snapshot_every_changes = 100; // persistence: changelog
  Ack ack = Ack::kAfterCommit;
  bool catch_up = true;  // a reconnecting client gets what it missed by version
  ApiRead api_read = ApiRead::kPrimary;
  ApiCache api_cache = ApiCache::kNoStore;
  // Check the revocation list on every API read and client message (the naive server checks a
  // token's signature and expiry only, at connect and per API read).
  bool check_revocation = true;
  double rate_limit_per_s = 0;       // edits per second per user; 0: no limit
  std::uint32_t rate_burst = 10;     // token bucket size
  std::int64_t work_us_per_msg = 0;  // CPU per client frame, processed one at a time per server
  Rename rename = Rename::kNotice;
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
};

struct DatabaseSpec {
  RangeMs commit_ms{2, 6};
  std::int64_t replica_lag_ms = 0;  // a read replica shows commits this late
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
};

}  // namespace convlab::sim
