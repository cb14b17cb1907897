#pragma once
// The server's policies, declared once: the knobs of the naive architecture and its fixes, with
// their defaults (the fixed architecture's) in NodePolicies and their names, allowed values and
// ranges in one table (policy_fields). NodeConfig is a NodePolicies with the node's identity
// and limits; a scenario's `servers` section (sim::ServersSpec) is one with the simulated
// servers' count and CPU; convlab-server's `policies` section fills NodeConfig's. Both files
// read the table through yamlkit/policies.hpp, so a key, a value and a range are spelled and
// checked the same in both. No IO here: the table is data.
//
// - propagation: poll the change log every poll_interval for every active document (naive), or
//   apply records the database publishes on a bus as it commits them (NOTIFY in the transaction);
// - persistence: a full snapshot of every changed document every snapshot_interval (naive: what
//   changed since is lost in a crash), or an append-only change log with a snapshot every
//   snapshot_every_changes;
// - ack: immediately on receipt (naive), or only after the change is committed.
#include <array>
#include <cstdint>
#include <span>
#include <string_view>

namespace convlab {

struct NodePolicies {
  enum class Propagation { kPoll, kBus };
  enum class Persistence { kSnapshot, kChangeLog };
  enum class Ack { kImmediate, kAfterCommit };
  // Where an API read (HTTP GET of a document) reads: a read replica (naive), the primary, the
  // primary once the session has written (read-your-writes), or a replica fenced by the version
  // of the session's last acknowledged write (the primary when the replica is behind it).
  enum class ApiRead { kReplica, kPrimary, kSessionPrimary, kFenced };
  // The Cache-Control of API responses: public (a CDN may cache them, with their auth) or
  // no-store.
  enum class ApiCache { kPublic, kNoStore };
  // The title register: last write wins and nobody is told (naive), or a rename made on an old
  // title version is refused with a notice naming the winner.
  enum class Rename { kLww, kNotice };
  // The home of a single-writer document (ot, seq): node `doc % nodes`, for good (naive: a home
  // that dies takes its documents with it until it restarts), or the holder of the document's
  // lease in the store, which a live node claims once the holder stops renewing it
  // (server/core/home_lease.hpp). Multi-master strategies have no home either way.
  enum class Home { kFixed, kLease };
  // Presence (awareness.hpp): relay every caret move to every other viewer at once (naive), or
  // coalesce per document: every awareness_interval_ms one frame per viewer with the last state
  // of each client that moved, entries idle for awareness_idle_ms dropped.
  enum class Awareness { kBroadcast, kCoalesce };
  // propagation: bus — which bus carries committed records: PostgreSQL NOTIFY inside the commit
  // (the database publishes), or Redis pub/sub (the committing server publishes after its
  // commit; at most once: a subscriber disconnected or reconnecting misses what is published
  // meanwhile, and Redis is one process that can crash).
  enum class Bus { kNotify, kRedis };
  // What a node does with the bus: apply what arrives and nothing else (naive: records treated
  // as unversioned — a record past a gap is applied at once and the gap forgotten, no catch-up,
  // no anti-entropy), or use the records' log indexes: a gap, and every resubscription after the
  // bus connection was lost, reads the log after what it applied, and while the bus is down
  // the node reads the log every poll_interval instead (Node::on_bus_state).
  enum class BusRecovery { kNone, kLog };

  Propagation propagation = Propagation::kBus;
  std::int64_t poll_interval_ms = 2000;
  // Bus propagation: every this often, read the log after what this node has applied, for each
  // document it serves clients. The bus can lose a record with nothing after it to reveal the
  // gap (the end of a loss burst); this repairs it within one period. 0: off.
  std::int64_t anti_entropy_ms = 5000;
  Persistence persistence = Persistence::kChangeLog;
  std::int64_t snapshot_interval_ms = 30000;   // persistence: snapshot
  std::uint32_t snapshot_every_changes = 100;  // persistence: changelog
  Ack ack = Ack::kAfterCommit;
  // Before welcoming a client, read the log for what this node has not applied yet, so a client
  // that reconnects here never loads an older version than it had (catch-up by version).
  bool catch_up = true;
  ApiRead api_read = ApiRead::kPrimary;
  ApiCache api_cache = ApiCache::kNoStore;
  // Check the revocation list on every API read and every client frame, and close a revoked
  // user's connections when the revocation arrives. Off (naive): a token is checked for expiry
  // only, at connect and per API read, and a revoked token stays good until it expires.
  bool check_revocation = true;
  // A token bucket per user for edit frames: `rate_limit_per_s` tokens a second, at most
  // `rate_burst` banked. 0: no limit.
  double rate_limit_per_s = 0;
  std::uint32_t rate_burst = 10;
  Rename rename = Rename::kNotice;
  Home home = Home::kFixed;
  // home: lease: how long a lease lasts unrenewed; its holder renews it every lease_ms / 4.
  std::int64_t lease_ms = 2000;
  Awareness awareness = Awareness::kCoalesce;
  std::int64_t awareness_interval_ms = 100;
  std::int64_t awareness_idle_ms = 30000;
  Bus bus = Bus::kNotify;
  BusRecovery bus_recovery = BusRecovery::kLog;
};

// The names of each choice, in its enum's order (the enum's value is the index).
inline constexpr std::array<std::string_view, 2> kPropagationNames{"poll", "bus"};
inline constexpr std::array<std::string_view, 2> kPersistenceNames{"snapshot", "changelog"};
inline constexpr std::array<std::string_view, 2> kAckNames{"immediate", "after_commit"};
inline constexpr std::array<std::string_view, 4> kApiReadNames{"replica", "primary", "session_primary", "fenced"};
inline constexpr std::array<std::string_view, 2> kApiCacheNames{"public", "no_store"};
inline constexpr std::array<std::string_view, 2> kRenameNames{"lww", "notice"};
inline constexpr std::array<std::string_view, 2> kHomeNames{"fixed", "lease"};
inline constexpr std::array<std::string_view, 2> kAwarenessNames{"broadcast", "coalesce"};
inline constexpr std::array<std::string_view, 2> kBusNames{"notify", "redis"};
inline constexpr std::array<std::string_view, 2> kBusRecoveryNames{"none", "log"};

std::string_view name_of(NodePolicies::Propagation v);
std::string_view name_of(NodePolicies::Persistence v);
std::string_view name_of(NodePolicies::Ack v);
std::string_view name_of(NodePolicies::ApiRead v);
std::string_view name_of(NodePolicies::ApiCache v);
std::string_view name_of(NodePolicies::Rename v);
std::string_view name_of(NodePolicies::Home v);
std::string_view name_of(NodePolicies::Awareness v);
std::string_view name_of(NodePolicies::Bus v);
std::string_view name_of(NodePolicies::BusRecovery v);

// The longest time a policy may be set to: 30 days.
inline constexpr std::int64_t kPolicyTimeMsMax = 30LL * 24 * 3600 * 1000;

// One field of NodePolicies as a configuration file spells it.
struct PolicyField {
  enum class Kind {
    kChoice,  // one of `choices`
    kBool,    // true or false
    kWhole,   // an integer in [min, max]
    kTime,    // a time in [min, max] ms, written KEY_ms (integer) or KEY_s (seconds)
    kNumber,  // a number in [min, max]
  };
  std::string_view key;  // kTime: the key without its unit (poll_interval: poll_interval_ms, _s)
  Kind kind = Kind::kBool;
  std::span<const std::string_view> choices;  // kChoice
  double min = 0;
  double max = 0;
  // The field's value as a number: kChoice the choice's index, kBool 0 or 1.
  double (*get)(const NodePolicies&) = nullptr;
  void (*set)(NodePolicies&, double) = nullptr;
};

// Every policy, in the order configuration files list them.
std::span<const PolicyField> policy_fields();

}  // namespace convlab
