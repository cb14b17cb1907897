#include "campaigns/swarm.hpp"

#include "faults/kinds.hpp"
#include "server/core/assert.hpp"
#include "server/core/policies.hpp"
#include "server/core/rng.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <sstream>

namespace convlab::campaigns {

namespace {

using sim::FaultKind;
using sim::FaultSpec;
using sim::RangeMs;
using sim::WorldConfig;



// A probability in hundredths: prints and parses back to the same double.
double percent(Rng& r, std::int64_t lo, std::int64_t hi) { return static_cast<double>(r.between(lo, hi)) / 100.0; }

template <typename T, std::size_t N>
T pick(Rng& r, const std::array<T, N>& options) {
  return options[r.below(N)];
}

RangeMs range(Rng& r, std::int64_t lo_min, std::int64_t lo_max, std::int64_t width_max) {
  const std::int64_t lo = r.between(lo_min, lo_max);
  return RangeMs{lo, lo + r.between(0, width_max)};
}

FaultSpec draw_fault(Rng& r, const WorldConfig& c, FaultKind kind) {
  FaultSpec f;
  f.kind = kind;
  f.at_ms = r.between(0, c.duration_ms - 1);
  // Until the heal sometimes, else a window that may or may not end before it.
  f.for_ms = r.chance(0.2) ? 0 : r.between(100, std::max<std::int64_t>(100, c.duration_ms / 2));
  // The kind's own fields: its entry in the table of fault kinds.
  faults::info(kind).draw_swarm(r, faults::WorldShape{c.clients, c.servers.count}, f);
  return f;
}

// Drops what names a node, client or time the world no longer has (after a shrink step).
void prune(WorldConfig& c) {
  const auto exists = [&](const std::string& node) {
    if (node == "db" || node == "bus") return true;
    const auto colon = node.find(':');
    const std::uint32_t n = static_cast<std::uint32_t>(std::strtoul(node.c_str() + colon + 1, nullptr, 10));
    return node.starts_with("client:") ? n < c.clients : n < c.servers.count;
  };
  std::vector<FaultSpec> kept;
  for (FaultSpec f : c.faults) {
    if (f.at_ms >= c.duration_ms) continue;
    if (f.kind == FaultKind::kPartition) {
      std::vector<std::vector<std::string>> groups;
      for (auto& g : f.groups) {
        std::erase_if(g, [&](const std::string& n) { return !exists(n); });
        if (!g.empty()) groups.push_back(std::move(g));
      }
      f.groups = std::move(groups);
      if (f.groups.size() < 2 || (f.one_way && f.groups.size() != 2)) continue;
    } else if (!f.target.empty() && !exists(f.target)) {
      continue;
    }
    kept.push_back(std::move(f));
  }
  c.faults = std::move(kept);
  std::erase_if(c.client_overrides, [&](const sim::ClientOverride& o) { return o.client >= c.clients; });
  std::erase_if(c.script, [&](const WorldConfig::ScriptedEdit& e) { return e.client >= c.clients || e.at_ms >= c.duration_ms; });
}

// --- YAML ---

// The shortest decimal that reads back as the same double.
std::string num(double v) {
  char buf[400];
  for (int decimals = 0; decimals <= 17; ++decimals) {
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (const char ch : s) {
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default: out += ch;
    }
  }
  return out + "\"";
}

std::string rng_text(RangeMs r) { return "[" + std::to_string(r.min) + ", " + std::to_string(r.max) + "]"; }
const char* yes(bool b) { return b ? "true" : "false"; }

}  // namespace

WorldConfig draw_world(std::uint64_t seed) {
  // A stream of its own, so that the world's seed can also be the run's seed without the two
  // drawing the same numbers.
  std::uint64_t sm = seed ^ 0x5357'4152'4d21'0001ull;  // "SWARM!"
  Rng r(splitmix64(sm));
  WorldConfig c;
  c.duration_ms = r.between(5, 40) * 1000 + (r.chance(0.3) ? r.between(0, 999) : 0);
  c.quiesce_ms = r.between(10, 20) * 1000;
  c.docs = static_cast<std::uint32_t>(r.between(1, 4));
  c.clients = static_cast<std::uint32_t>(r.between(1, 8));
  c.initial_text = pick(r, std::array<const char*, 6>{"", "abcdef\n", "one\ntwo\nthree\n", "x", "héllo wörld\n\n",
                                                     "a\nb\nc\nd\ne\nf\n"});
  c.balancer = r.chance(0.5) ? sim::Balancer::kRoundRobin : sim::Balancer::kSticky;

  // Workload.
  sim::Workload& w = c.workload;
  w.think_ms = r.chance(0.2) ? range(r, 20, 100, 200) : range(r, 100, 2000, 3000);
  w.burst_prob = r.chance(0.5) ? 0 : percent(r, 0, 50);
  w.burst_len = static_cast<std::uint32_t>(r.between(1, 10));
  w.burst_gap_ms = r.between(0, 200);
  w.same_paragraph_prob = percent(r, 0, 100);
  w.insert_prob = percent(r, 30, 100);
  w.insert_len_max = static_cast<std::uint32_t>(r.between(1, 10));
  w.delete_len_max = static_cast<std::uint32_t>(r.between(1, 10));
  w.newline_prob = r.chance(0.3) ? percent(r, 0, 30) : percent(r, 0, 5);
  w.reload_ms = r.chance(0.5) ? RangeMs{0, 0} : range(r, 200, 5000, 5000);

  // Clocks, per client.
  if (r.chance(0.6)) {
    const std::int64_t a = r.between(-10000, 10000);
    c.client_clocks.offset_ms = RangeMs{std::min(a, a + 0), a + r.between(0, 10000)};
  }
  c.client_clocks.drift_ppm_max = r.chance(0.5) ? 0 : (r.chance(0.1) ? r.between(0, 1000000) : r.between(0, 1000));
  for (std::uint32_t i = 0; i < c.clients; ++i) {
    if (!r.chance(0.15)) continue;
    sim::ClientOverride o;
    o.client = i;
    o.clock_offset_ms = r.between(-10000, 10000);
    o.drift_ppm = r.chance(0.5) ? 0 : r.between(-1000, 1000);
    o.rate_multiplier = pick(r, std::array<double, 6>{0.5, 1, 2, 5, 20, 50});
    c.client_overrides.push_back(o);
  }

  // Sized to run in well under a second: a flooding client (rate_multiplier 20-50) on short
  // think times over 40 s would type tens of thousands of edits, which lww and seq take tens of
  // seconds to simulate. Overrides are slowed until the world types about 8000 edits at most.
  const auto edits = [&c, &w] {
    const double pause_ms = std::max(1.0, static_cast<double>(w.think_ms.min + w.think_ms.max) / 2.0);
    double rate = c.clients;
    for (const sim::ClientOverride& o : c.client_overrides) rate += o.rate_multiplier - 1.0;
    return rate * static_cast<double>(c.duration_ms) / pause_ms;
  };
  while (edits() > 8000 && !c.client_overrides.empty()) {
    bool slowed = false;
    for (sim::ClientOverride& o : c.client_overrides) {
      if (o.rate_multiplier > 1) {
        o.rate_multiplier = std::max(1.0, o.rate_multiplier / 5);
        slowed = true;
      }
    }
    if (!slowed) break;
  }

  // Servers.
  sim::ServersSpec& s = c.servers;
  s.count = r.chance(0.4) ? 1 : static_cast<std::uint32_t>(r.between(2, 6));
  s.propagation = r.chance(0.5) ? sim::Propagation::kPoll : sim::Propagation::kBus;
  s.poll_interval_ms = r.chance(0.5) ? r.between(50, 500) : r.between(500, 3000);
  s.anti_entropy_ms = r.chance(0.3) ? 0 : r.between(1, 10) * 1000;
  // Snapshots need one server (world_problems).
  s.persistence = s.count == 1 && r.chance(0.35) ? sim::Persistence::kSnapshot : sim::Persistence::kChangeLog;
  s.snapshot_interval_ms = r.between(1, 40) * 1000;
  s.snapshot_every_changes = static_cast<std::uint32_t>(r.chance(0.3) ? r.between(1, 10) : r.between(10, 300));
  s.ack = s.persistence == sim::Persistence::kChangeLog && r.chance(0.6) ? sim::Ack::kAfterCommit : sim::Ack::kImmediate;
  s.catch_up = r.chance(0.8);
  s.api_read = pick(r, std::array{sim::ApiRead::kReplica, sim::ApiRead::kPrimary, sim::ApiRead::kSessionPrimary,
                                  sim::ApiRead::kFenced});
  s.api_cache = r.chance(0.5) ? sim::ApiCache::kPublic : sim::ApiCache::kNoStore;
  s.check_revocation = r.chance(0.6);
  s.rate_limit_per_s = r.chance(0.7) ? 0 : static_cast<double>(r.between(1, 40)) / 2.0;
  s.rate_burst = static_cast<std::uint32_t>(r.between(1, 20));
  s.work_us_per_msg = r.chance(0.7) ? 0 : r.between(1, 5000);
  s.rename = r.chance(0.5) ? sim::Rename::kLww : sim::Rename::kNotice;
  // Renames need one server (world_problems).
  w.rename_ms = s.count == 1 && r.chance(0.4) ? range(r, 100, 3000, 3000) : RangeMs{0, 0};

  c.network.client_server_ms = r.chance(0.2) ? range(r, 0, 300, 500) : range(r, 1, 60, 60);
  c.network.server_db_ms = range(r, 0, 10, 20);
  c.network.server_bus_ms = range(r, 0, 10, 20);
  c.database.commit_ms = range(r, 0, 20, 30);
  c.database.replica_lag_ms = r.chance(0.5) ? 0 : r.between(1, 10000);
  c.cdn.ttl_ms = r.chance(0.5) ? 0 : r.between(1, 20) * 500;
  c.auth.token_lifetime_ms = r.chance(0.7) ? 24LL * 3600 * 1000 : r.between(1, 60) * 1000;

  // Scheduled faults: which kinds this world has is itself drawn, then how many of them.
  std::vector<FaultKind> kinds;
  // In the table's order (faults/kinds.hpp): a new kind goes last, so older worlds keep their draws.
  // Only the kinds the swarm draws (faults::KindInfo::swarm): a kind it does not draw takes no
  // draw, so adding one keeps every world.
  std::vector<faults::KindInfo> all_kinds;
  for (const faults::KindInfo& k : faults::kinds()) {
    if (k.swarm) all_kinds.push_back(k);
  }
  for (const faults::KindInfo& k : all_kinds) {
    if (r.chance(0.35)) kinds.push_back(k.kind);
  }
  const std::int64_t n_faults = kinds.empty() ? 0 : r.between(0, 5);
  for (std::int64_t i = 0; i < n_faults; ++i) c.faults.push_back(draw_fault(r, c, kinds[r.below(kinds.size())]));

  if (r.chance(0.3)) {
    sim::RandomFaults& rf = c.random_faults;
    rf.count = static_cast<std::uint32_t>(r.between(1, 4));
    std::vector<FaultKind> drawable;
    for (const faults::KindInfo& k : all_kinds) {
      drawable.push_back(k.kind);
      if (r.chance(0.4)) rf.kinds.push_back(k.kind);
    }
    if (rf.kinds.empty()) rf.kinds.push_back(drawable[r.below(drawable.size())]);
    rf.duration_ms = range(r, 100, 5000, 5000);
    rf.clock_offset_max_ms = r.between(0, 10000);
  }

  // A few worlds are scripted: their clients make only these edits.
  if (r.chance(0.05)) {
    const std::int64_t n = r.between(1, 12);
    for (std::int64_t i = 0; i < n; ++i) {
      WorldConfig::ScriptedEdit e;
      e.at_ms = r.between(0, c.duration_ms - 1);
      e.client = static_cast<std::uint32_t>(r.below(c.clients));
      e.pos = r.below(8);
      e.del = r.chance(0.3) ? r.below(3) : 0;
      e.ins = e.del > 0 && r.chance(0.5) ? "" : pick(r, std::array<const char*, 4>{"X", "yz", "\n", "é"});
      c.script.push_back(std::move(e));
    }
    std::stable_sort(c.script.begin(), c.script.end(),
                     [](const auto& a, const auto& b) { return a.at_ms < b.at_ms; });
  }
  // Drawn last, so that older seeds keep the worlds they drew: single-writer documents' homes by
  // lease (server/core/home_lease.hpp) rather than fixed.
  if (r.chance(0.3)) {
    c.servers.home = NodePolicies::Home::kLease;
    c.servers.lease_ms = r.chance(0.5) ? r.between(4, 500) : r.between(500, 5000);
  }
  prune(c);
  return c;
}

std::string world_yaml(const WorldConfig& c, const std::string& name, const std::string& comment) {
  std::ostringstream o;
  if (!comment.empty()) {
    std::istringstream lines(comment);
    for (std::string l; std::getline(lines, l);) o << "# " << l << '\n';
  }
  const sim::Workload& w = c.workload;
  const sim::ServersSpec& s = c.servers;
  o << "name: " << name << "\n"
    << "seeds: 1\n"
    << "world:\n"
    << "  duration_ms: " << c.duration_ms << "\n"
    << "  quiesce_ms: " << c.quiesce_ms << "\n"
    << "  docs: " << c.docs << "\n"
    << "  initial_text: " << quoted(c.initial_text) << "\n"
    << "  clients: " << c.clients << "\n"
    << "  balancer: " << (c.balancer == sim::Balancer::kRoundRobin ? "round_robin" : "sticky") << "\n"
    << "  workload:\n"
    << "    think_ms: " << rng_text(w.think_ms) << "\n"
    << "    burst_prob: " << num(w.burst_prob) << "\n"
    << "    burst_len: " << w.burst_len << "\n"
    << "    burst_gap_ms: " << w.burst_gap_ms << "\n"
    << "    same_paragraph_prob: " << num(w.same_paragraph_prob) << "\n"
    << "    insert_prob: " << num(w.insert_prob) << "\n"
    << "    insert_len_max: " << w.insert_len_max << "\n"
    << "    delete_len_max: " << w.delete_len_max << "\n"
    << "    newline_prob: " << num(w.newline_prob) << "\n"
    << "    reload_ms: " << rng_text(w.reload_ms) << "\n"
    << "    rename_ms: " << rng_text(w.rename_ms) << "\n"
    << "  clocks:\n"
    << "    offset_ms: " << rng_text(c.client_clocks.offset_ms) << "\n"
    << "    drift_ppm_max: " << c.client_clocks.drift_ppm_max << "\n";
  o << "  client_overrides:" << (c.client_overrides.empty() ? " []" : "") << "\n";
  for (const sim::ClientOverride& co : c.client_overrides) {
    o << "    - {client: " << co.client << ", clock_offset_ms: " << co.clock_offset_ms << ", drift_ppm: " << co.drift_ppm
      << ", rate_multiplier: " << num(co.rate_multiplier) << "}\n";
  }
  o << "  servers:\n"
    << "    count: " << s.count << "\n";
  // The server policies through their table (server/core/policies.hpp), as the loader reads them.
  for (const PolicyField& f : policy_fields()) {
    const double v = f.get(s);
    o << "    " << f.key;
    switch (f.kind) {
      case PolicyField::Kind::kChoice:
        o << ": " << f.choices[static_cast<std::size_t>(v)];
        break;
      case PolicyField::Kind::kBool:
        o << ": " << yes(v != 0);
        break;
      case PolicyField::Kind::kTime:
        o << "_ms: " << static_cast<std::int64_t>(v);
        break;
      case PolicyField::Kind::kWhole:
        o << ": " << static_cast<std::int64_t>(v);
        break;
      case PolicyField::Kind::kNumber:
        o << ": " << num(v);
        break;
    }
    o << "\n";
  }
  o << "    work_us_per_msg: " << s.work_us_per_msg << "\n"
    << "  network:\n"
    << "    client_server_ms: " << rng_text(c.network.client_server_ms) << "\n"
    << "    server_db_ms: " << rng_text(c.network.server_db_ms) << "\n"
    << "    server_bus_ms: " << rng_text(c.network.server_bus_ms) << "\n"
    << "  database:\n"
    << "    commit_ms: " << rng_text(c.database.commit_ms) << "\n"
    << "    replica_lag_ms: " << c.database.replica_lag_ms << "\n"
    << "  cdn:\n"
    << "    ttl_ms: " << c.cdn.ttl_ms << "\n"
    << "  auth:\n"
    << "    token_lifetime_ms: " << c.auth.token_lifetime_ms << "\n";
  o << "  faults:" << (c.faults.empty() ? " []" : "") << "\n";
  for (const FaultSpec& f : c.faults) {
    std::string keys;
    faults::info(f.kind).write_yaml(f, num, keys);
    o << "    - {at_ms: " << f.at_ms << ", kind: " << faults::name(f.kind) << keys;
    o << ", for_ms: " << f.for_ms << "}\n";
  }
  const sim::RandomFaults& rf = c.random_faults;
  o << "  random_faults:\n"
    << "    count: " << rf.count << "\n"
    << "    kinds: [";
  for (std::size_t i = 0; i < rf.kinds.size(); ++i) o << (i ? ", " : "") << faults::name(rf.kinds[i]);
  o << "]\n"
    << "    duration_ms: " << rng_text(rf.duration_ms) << "\n"
    << "    clock_offset_max_ms: " << rf.clock_offset_max_ms << "\n";
  if (!c.script.empty()) {
    o << "  script:\n";
    for (const auto& e : c.script) {
      o << "    - {at_ms: " << e.at_ms << ", client: " << e.client << ", pos: " << e.pos << ", del: " << e.del
        << ", ins: " << quoted(e.ins) << "}\n";
    }
  }
  o << "variants:\n  swarm:\n";
  return o.str();
}

std::vector<WorldConfig> shrink_steps(const WorldConfig& c) {
  std::vector<WorldConfig> out;
  const auto add = [&](WorldConfig n) {
    prune(n);
    out.push_back(std::move(n));
  };
  const WorldConfig plain;  // sim/config.hpp's defaults: the plain value of each knob
  if (c.random_faults.count > 0) {
    WorldConfig n = c;
    n.random_faults.count = 0;
    n.random_faults.kinds.clear();
    add(n);
    if (c.random_faults.count > 1) {
      n = c;
      n.random_faults.count = c.random_faults.count / 2;
      add(n);
    }
  }
  if (c.faults.size() > 1) {
    WorldConfig n = c;
    n.faults.clear();
    add(n);
  }
  for (std::size_t i = 0; i < c.faults.size(); ++i) {
    WorldConfig n = c;
    n.faults.erase(n.faults.begin() + static_cast<std::ptrdiff_t>(i));
    add(n);
  }
  // A fault on server:3 or client:5 moved to server:0 or client:0, so that fewer servers or
  // clients can keep it.
  for (std::size_t i = 0; i < c.faults.size(); ++i) {
    const std::string& t = c.faults[i].target;
    for (const char* kind : {"server:", "client:"}) {
      if (t.starts_with(kind) && t != std::string(kind) + "0") {
        WorldConfig n = c;
        n.faults[i].target = std::string(kind) + "0";
        add(n);
      }
    }
  }
  if (c.duration_ms > 1000) {
    WorldConfig n = c;
    n.duration_ms = std::max<std::int64_t>(1000, c.duration_ms / 2);
    add(n);
  }
  // A count shrinks to 1, then by one.
  const auto fewer = [&](std::uint32_t WorldConfig::*count) {
    if (c.*count <= 1) return;
    WorldConfig n = c;
    n.*count = 1;
    add(n);
    if (c.*count > 2) {
      n = c;
      n.*count = c.*count - 1;
      add(n);
    }
  };
  fewer(&WorldConfig::clients);
  fewer(&WorldConfig::docs);
  if (c.servers.count > 1) {
    WorldConfig n = c;
    n.servers.count = 1;
    add(n);
    if (c.servers.count > 2) {
      n = c;
      n.servers.count = c.servers.count - 1;
      add(n);
    }
  }
  if (!c.script.empty()) {
    WorldConfig n = c;
    n.script.clear();
    add(n);
  }
  // Knobs back to their plain values, one at a time.
  const auto knob = [&](auto&& change) {
    WorldConfig n = c;
    change(n);
    if (world_yaml(n, "x", "") != world_yaml(c, "x", "")) add(n);
  };
  knob([](WorldConfig& n) { n.workload.reload_ms = {0, 0}; });
  knob([](WorldConfig& n) { n.workload.rename_ms = {0, 0}; });
  knob([](WorldConfig& n) { n.workload.burst_prob = 0; });
  knob([](WorldConfig& n) { n.workload.newline_prob = 0; });
  knob([](WorldConfig& n) { n.client_overrides.clear(); });
  knob([](WorldConfig& n) { n.client_clocks = {}; });
  knob([&](WorldConfig& n) { n.servers.rate_limit_per_s = plain.servers.rate_limit_per_s; });
  knob([&](WorldConfig& n) { n.servers.work_us_per_msg = plain.servers.work_us_per_msg; });
  knob([&](WorldConfig& n) { n.cdn = plain.cdn; });
  knob([&](WorldConfig& n) { n.database.replica_lag_ms = 0; });
  knob([&](WorldConfig& n) { n.auth = plain.auth; });
  knob([&](WorldConfig& n) { n.servers.api_read = plain.servers.api_read; });
  knob([&](WorldConfig& n) { n.servers.api_cache = plain.servers.api_cache; });
  knob([&](WorldConfig& n) { n.servers.check_revocation = plain.servers.check_revocation; });
  knob([&](WorldConfig& n) { n.servers.anti_entropy_ms = plain.servers.anti_entropy_ms; });
  knob([&](WorldConfig& n) { n.servers.catch_up = plain.servers.catch_up; });
  knob([&](WorldConfig& n) { n.servers.home = plain.servers.home; });
  knob([&](WorldConfig& n) { n.balancer = plain.balancer; });
  knob([&](WorldConfig& n) { n.network = plain.network; });
  knob([&](WorldConfig& n) { n.database.commit_ms = plain.database.commit_ms; });
  knob([&](WorldConfig& n) { n.workload.think_ms = plain.workload.think_ms; });
  return out;
}

bool convergence_promised(const WorldConfig& c) {
  // Without catch-up a client that reconnects or subscribes after a stale load misses what
  // happened meanwhile, for good (naive rows 7 and 10).
  if (!c.servers.catch_up) return false;
  // Snapshots: what is durable lags the servers by up to one interval (plus the write), so the
  // quiesce must hold a snapshot after the last edit (the timer restarts with a server).
  if (c.servers.persistence == sim::Persistence::kSnapshot && c.quiesce_ms < c.servers.snapshot_interval_ms + 1000) {
    return false;
  }
  // Servers whose client frames cost more CPU than they have (work_us_per_msg against the edit
  // rate) queue without bound: the quiesce ends before the queue does. Estimated generously:
  // two frames per edit, bursts included, clients spread evenly over the servers.
  if (c.servers.work_us_per_msg > 0) {
    const sim::Workload& w = c.workload;
    const double think_ms = static_cast<double>(w.think_ms.min + w.think_ms.max) / 2.0;
    const double in_burst = w.burst_prob * w.burst_len / (1.0 + w.burst_prob * w.burst_len);
    const double pause_ms =
        std::max(1.0, (1.0 - in_burst) * think_ms + in_burst * static_cast<double>(std::max<std::int64_t>(1, w.burst_gap_ms)));
    // A client's frames all go to one server: the busiest server carries at least the busiest
    // client, and at least an even share of all of them.
    double total_s = 0;
    double busiest_s = 0;
    for (std::uint32_t i = 0; i < c.clients; ++i) {
      double rate = 1.0;
      for (const sim::ClientOverride& o : c.client_overrides) {
        if (o.client == i) rate = o.rate_multiplier;
      }
      const double cpu_s = 2.0 * rate * 1000.0 / pause_ms * static_cast<double>(c.servers.work_us_per_msg) / 1e6;
      total_s += cpu_s;
      busiest_s = std::max(busiest_s, cpu_s);
    }
    if (std::max(busiest_s, total_s / c.servers.count) > 0.8) return false;
  }
  // A bus record lost with nothing after it is repaired only by anti-entropy.
  if (c.servers.propagation == sim::Propagation::kBus && c.servers.count > 1 && c.servers.anti_entropy_ms == 0) {
    const bool lossy = std::any_of(c.faults.begin(), c.faults.end(),
                                   [](const FaultSpec& f) { return f.kind == FaultKind::kFlaky && f.loss > 0; }) ||
                       (c.random_faults.count > 0 && std::find(c.random_faults.kinds.begin(), c.random_faults.kinds.end(),
                                                               FaultKind::kFlaky) != c.random_faults.kinds.end());
    if (lossy) return false;
  }
  return true;
}

std::vector<SwarmFailure> swarm_failures(const WorldConfig& c, const Strategy& strategy, const sim::RunOutput& out,
                                         const reports::RunMetrics& m) {
  std::vector<SwarmFailure> f;
  const std::string s(strategy.name);
  if (out.refused > 0) f.push_back({"refused", out.refusal});
  if (out.node_errors > 0) f.push_back({"node_error", out.node_error});
  if (!m.converged && convergence_promised(c)) {
    f.push_back({"converged", m.divergent.empty() ? "not converged" : m.divergent.front()});
  }
  const bool durable_acks = c.servers.persistence == sim::Persistence::kChangeLog && c.servers.ack == sim::Ack::kAfterCommit;
  if (durable_acks) {
    const auto crash = m.lost_by_cause.find("crash");
    if (crash != m.lost_by_cause.end() && crash->second > 0) {
      f.push_back({"crash_loss", std::to_string(crash->second) + " acknowledged characters lost to crash"});
    }
    if ((s == "ot" || s == "crdt") && m.lost_acked_chars > 0) {
      std::string causes;
      for (const auto& [cause, n] : m.lost_by_cause) {
        if (n > 0) causes += (causes.empty() ? "" : ", ") + cause + " " + std::to_string(n);
      }
      f.push_back({"lost_acked", std::to_string(m.lost_acked_chars) + " acknowledged characters lost (" + causes + ")"});
    }
  }
  return f;
}

}  // namespace convlab::campaigns
