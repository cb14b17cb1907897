// The table of fault kinds (faults/kinds.hpp says what an entry holds and who reads it).
// Each kind's functions sit just above its entry; the entries are in FaultKind order.
#include "faults/kinds.hpp"

#include "server/core/assert.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <utility>

namespace convlab::faults {

namespace {

std::string client_name(std::uint32_t i) { return "client:" + std::to_string(i); }
std::string server_name(std::uint32_t i) { return "server:" + std::to_string(i); }
std::string any_client(Rng& r, const WorldShape& w) { return client_name(static_cast<std::uint32_t>(r.below(w.clients))); }
std::string any_server(Rng& r, const WorldShape& w) { return server_name(static_cast<std::uint32_t>(r.below(w.servers))); }
// A probability in hundredths: prints and parses back to the same double.
double percent(Rng& r, std::int64_t lo, std::int64_t hi) { return static_cast<double>(r.between(lo, hi)) / 100.0; }

void yaml_target(const FaultSpec& f, std::string (*)(double), std::string& out) { out += ", target: " + f.target; }
void yaml_target_value(const FaultSpec& f, std::string (*)(double), std::string& out) {
  out += ", target: " + f.target + ", value: " + std::to_string(f.value);
}

// --- partition

constexpr std::array<std::string_view, 2> kPartitionKeys{"groups", "one_way"};

void check_partition(const FaultSpec& f, const Given& given, std::vector<Problem>& out) {
  if (!given.groups) out.push_back({"groups", "required for a partition"});
  if (f.one_way && given.groups && f.groups.size() != 2) {
    out.push_back({"one_way", "a one-way partition needs exactly two groups (from, to)"});
  }
}
void scheduled_partition(Rng& r, const ScheduledDraw& d, FaultSpec& f) {
  if (r.chance(0.5)) {
    f.groups = {{d.server}, {"db"}};
  } else {
    f.groups = {{d.client}, {d.server}};
  }
}
void swarm_partition(Rng& r, const WorldShape& w, FaultSpec& f) {
  // Every node of the world, shuffled (Fisher-Yates); a prefix of them split into groups.
  std::vector<std::string> nodes;
  for (std::uint32_t i = 0; i < w.clients; ++i) nodes.push_back(client_name(i));
  for (std::uint32_t i = 0; i < w.servers; ++i) nodes.push_back(server_name(i));
  nodes.push_back("db");
  nodes.push_back("bus");
  for (std::size_t i = nodes.size() - 1; i > 0; --i) std::swap(nodes[i], nodes[r.below(i + 1)]);
  f.one_way = r.chance(0.3);
  const std::size_t groups = f.one_way ? 2 : static_cast<std::size_t>(r.between(2, 3));
  const std::size_t take = static_cast<std::size_t>(
      r.between(static_cast<std::int64_t>(std::min(groups, nodes.size())), static_cast<std::int64_t>(nodes.size())));
  f.groups.assign(groups, {});
  for (std::size_t i = 0; i < take; ++i) {
    // The first `groups` nodes seed one group each, so none is empty.
    const std::size_t g = i < groups ? i : static_cast<std::size_t>(r.below(groups));
    f.groups[g].push_back(nodes[i]);
  }
}
void yaml_partition(const FaultSpec& f, std::string (*)(double), std::string& out) {
  out += ", groups: [";
  for (std::size_t g = 0; g < f.groups.size(); ++g) {
    out += g ? ", [" : "[";
    for (std::size_t i = 0; i < f.groups[g].size(); ++i) out += (i ? ", " : "") + f.groups[g][i];
    out += "]";
  }
  out += std::string("], one_way: ") + (f.one_way ? "true" : "false");
}

// --- crash

constexpr std::array<std::string_view, 1> kTargetKeys{"target"};

void scheduled_crash(Rng&, const ScheduledDraw& d, FaultSpec& f) { f.target = d.server; }
void swarm_crash(Rng& r, const WorldShape& w, FaultSpec& f) { f.target = r.chance(0.3) ? "db" : any_server(r, w); }

// --- clock_offset, clock_drift

constexpr std::array<std::string_view, 2> kClockKeys{"target", "value"};

void scheduled_clock_offset(Rng& r, const ScheduledDraw& d, FaultSpec& f) {
  f.target = d.client;
  f.value = r.between(-d.clock_offset_max_ms, d.clock_offset_max_ms);
}
void swarm_clock_offset(Rng& r, const WorldShape& w, FaultSpec& f) {
  f.target = r.chance(0.7) ? any_client(r, w) : any_server(r, w);
  f.value = r.chance(0.2) ? r.between(-600000, 600000) : r.between(-10000, 10000);
}
void detail_clock_offset(const FaultSpec& f, std::string& out) { out += " offset_ms=" + std::to_string(f.value); }

void scheduled_clock_drift(Rng& r, const ScheduledDraw& d, FaultSpec& f) {
  f.target = d.client;
  f.value = r.between(-500, 500);
}
void swarm_clock_drift(Rng& r, const WorldShape& w, FaultSpec& f) {
  f.target = r.chance(0.7) ? any_client(r, w) : any_server(r, w);
  f.value = r.chance(0.2) ? r.between(-1000000, 1000000) : r.between(-2000, 2000);
}
void detail_clock_drift(const FaultSpec& f, std::string& out) { out += " drift_ppm=" + std::to_string(f.value); }

// --- offline, disconnect, revoke: one client

void scheduled_client(Rng&, const ScheduledDraw& d, FaultSpec& f) { f.target = d.client; }
void swarm_client(Rng& r, const WorldShape& w, FaultSpec& f) { f.target = any_client(r, w); }

// --- flaky

constexpr std::array<std::string_view, 3> kFlakyKeys{"loss", "dup", "reorder"};

void check_flaky(const FaultSpec& f, const Given& given, std::vector<Problem>& out) {
  if (given.probabilities_parsed && f.loss <= 0 && f.dup <= 0 && f.reorder <= 0) {
    out.push_back({"", "a flaky fault needs at least one of loss, dup, reorder above 0"});
  }
}
void scheduled_flaky(Rng&, const ScheduledDraw&, FaultSpec& f) { f.loss = f.dup = f.reorder = 0.3; }
void swarm_flaky(Rng& r, const WorldShape&, FaultSpec& f) {
  f.loss = r.chance(0.7) ? percent(r, 0, 100) : 0;
  f.dup = r.chance(0.5) ? percent(r, 0, 100) : 0;
  f.reorder = r.chance(0.5) ? percent(r, 0, 100) : 0;
  if (f.loss == 0 && f.dup == 0 && f.reorder == 0) f.loss = percent(r, 1, 100);
}
void yaml_flaky(const FaultSpec& f, std::string (*num)(double), std::string& out) {
  out += ", loss: " + num(f.loss) + ", dup: " + num(f.dup) + ", reorder: " + num(f.reorder);
}
void detail_flaky(const FaultSpec& f, std::string& out) {
  auto prob = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return std::string(buf);
  };
  out += "bus loss=" + prob(f.loss) + " dup=" + prob(f.dup) + " reorder=" + prob(f.reorder);
}

// --- db_lost: the whole database; what comes back is the world's `database.backup` policy

void scheduled_none(Rng&, const ScheduledDraw&, FaultSpec&) {}
void yaml_none(const FaultSpec&, std::string (*)(double), std::string&) {}
void detail_db_lost(const FaultSpec&, std::string& out) { out += "db"; }
// --- redis_crash: no keys of its own either

void detail_redis(const FaultSpec&, std::string& out) { out += "redis"; }

using S = Simulator;
using R = RealProcesses;

const std::array<KindInfo, 10> kKinds{{
    {FaultKind::kPartition, "partition", "groups of nodes cannot reach each other (optionally one way)",
     kPartitionKeys, kNoNode, ValueUnit::kNone, check_partition, scheduled_partition, swarm_partition,
     yaml_partition, nullptr, &S::begin_partition, &S::end_partition, &R::begin_partition, &R::end_partition,
     "#f4a3a8", 0},
    {FaultKind::kCrash, "crash", "a server (memory lost) or the database (uncommitted lost); restart after",
     kTargetKeys, kServerNode | kDbNode, ValueUnit::kNone, nullptr, scheduled_crash, swarm_crash, yaml_target,
     nullptr, &S::begin_crash, &S::end_crash, &R::begin_crash, &R::end_crash, "#9ecae9", 1},
    {FaultKind::kClockOffset, "clock_offset", "shift a node's clock (it stays shifted)", kClockKeys,
     kClientNode | kServerNode, ValueUnit::kOffsetMs, nullptr, scheduled_clock_offset, swarm_clock_offset,
     yaml_target_value, detail_clock_offset, &S::begin_clock_offset, nullptr, &R::begin_clock_offset, nullptr,
     "#a8dba8", 4},
    {FaultKind::kClockDrift, "clock_drift", "change a node's drift (it stays changed)", kClockKeys,
     kClientNode | kServerNode, ValueUnit::kDriftPpm, nullptr, scheduled_clock_drift, swarm_clock_drift,
     yaml_target_value, detail_clock_drift, &S::begin_clock_drift, nullptr, &R::begin_clock_drift, nullptr,
     "#c9e6c9", 5},
    {FaultKind::kOffline, "offline", "a client goes offline, keeps editing locally, comes back", kTargetKeys,
     kClientNode, ValueUnit::kNone, nullptr, scheduled_client, swarm_client, yaml_target, nullptr,
     &S::begin_offline, &S::end_offline, &R::begin_offline, &R::end_offline, "#c6b3e0", 2},
    {FaultKind::kDisconnect, "disconnect", "a client's connection drops; it reconnects at once", kTargetKeys,
     kClientNode, ValueUnit::kNone, nullptr, scheduled_client, swarm_client, yaml_target, nullptr,
     &S::begin_disconnect, nullptr, &R::begin_disconnect, nullptr, "#d9d9d9", 6},
    {FaultKind::kRevoke, "revoke", "a client's user has its tokens revoked (for good)", kTargetKeys, kClientNode,
     ValueUnit::kNone, nullptr, scheduled_client, swarm_client, yaml_target, nullptr, &S::begin_revoke, nullptr,
     &R::begin_revoke, nullptr, "#f7c6e0", 7},
    {FaultKind::kFlaky, "flaky", "bus hops lose, duplicate and reorder messages", kFlakyKeys, kNoNode,
     ValueUnit::kNone, check_flaky, scheduled_flaky, swarm_flaky, yaml_flaky, detail_flaky, &S::begin_flaky,
     &S::end_flaky, nullptr, nullptr, "#ffd08a", 3},
    // On real processes: scripts/pg.sh destroy, then restore or fresh (kinds.hpp, RealProcesses).
    {FaultKind::kDbLost, "db_lost", "the database loses everything; restored from its backups (database.backup) after",
     {}, kNoNode, ValueUnit::kNone, nullptr, scheduled_none, nullptr, yaml_none, detail_db_lost,
     &S::begin_db_lost, &S::end_db_lost, &R::begin_db_lost, &R::end_db_lost, "#8c6d31", 8, false},
    {FaultKind::kRedisCrash, "redis_crash",
     "the Redis of bus: redis crashes (subscriptions end, messages in flight lost); restart after", {}, kNoNode,
     ValueUnit::kNone, nullptr, scheduled_none, nullptr, yaml_none, detail_redis, &S::begin_redis_crash,
     &S::end_redis_crash, &R::begin_redis_crash, &R::end_redis_crash, "#e6a0c4", 8, false},
}};

// The table is in enum order, and every kind has what the simulator needs.
[[maybe_unused]] const bool kTableChecked = [] {
  for (std::size_t i = 0; i < kKinds.size(); ++i) {
    CONVLAB_ASSERT(static_cast<std::size_t>(kKinds[i].kind) == i);
    CONVLAB_ASSERT(kKinds[i].draw_scheduled != nullptr);
    CONVLAB_ASSERT(kKinds[i].write_yaml != nullptr && kKinds[i].sim_begin != nullptr);
  }
  return true;
}();

}  // namespace

std::span<const KindInfo> kinds() { return kKinds; }

const KindInfo& info(FaultKind kind) {
  const auto i = static_cast<std::size_t>(kind);
  CONVLAB_ASSERT(i < kKinds.size());
  return kKinds[i];
}

std::string_view name(FaultKind kind) { return info(kind).name; }

const KindInfo* find(std::string_view name) {
  for (const KindInfo& k : kKinds) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

std::string names_list() {
  std::string out;
  for (const KindInfo& k : kKinds) {
    if (!out.empty()) out += ", ";
    out += k.name;
  }
  return out;
}

std::string real_names() {
  std::string out;
  for (const KindInfo& k : kKinds) {
    if (k.real_begin == nullptr) continue;
    if (!out.empty()) out += ", ";
    out += k.name;
  }
  return out;
}

std::string describe(const FaultSpec& f) {
  std::string s;
  if (!f.groups.empty()) {
    for (std::size_t g = 0; g < f.groups.size(); ++g) {
      s += g ? (f.one_way ? " -/-> " : " | ") : "";
      s += "[";
      for (std::size_t i = 0; i < f.groups[g].size(); ++i) s += (i ? "," : "") + f.groups[g][i];
      s += "]";
    }
  } else {
    s = f.target;
  }
  if (const auto detail = info(f.kind).detail) detail(f, s);
  if (f.for_ms > 0) s += " for_ms=" + std::to_string(f.for_ms);
  return s;
}

}  // namespace convlab::faults
