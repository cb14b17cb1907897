// The scenario loader's `world` section (sim/scenario_parts.hpp): the world's keys and their
// limits, applied on top of the defaults or the base world, and the per-variant checks that
// span keys.
#include "faults/kinds.hpp"
#include "sim/scenario_parts.hpp"
#include "yamlkit/policies.hpp"

#include <algorithm>
#include <array>
#include <set>
#include <span>
#include <string_view>
#include <vector>

namespace convlab::sim::loader {

// --- world ---------------------------------------------------------------------------------

constexpr std::array<EnumName<Balancer>, 2> kBalancers{
    {{"round_robin", Balancer::kRoundRobin}, {"sticky", Balancer::kSticky}}};
constexpr std::int64_t kWorkUsMax = 60LL * 1000 * 1000;  // a minute of CPU per frame
constexpr double kHostCpusMin = 0.05;  // the least share of one core (0 turns the shared machine off)
constexpr double kHostCpusMax = 4096;

constexpr std::array<std::string_view, 19> kWorldKeys{
    "duration_s", "duration_ms",      "quiesce_s", "quiesce_ms", "docs",   "initial_text",
    "clients",    "balancer",         "workload",  "clocks",     "client_overrides",
    "servers",    "network",          "database",  "cdn",        "auth",   "faults",
    "random_faults", "script"};

// An optional periodic action: [0, 0] is off; otherwise the shortest pause is at least 1 ms
// (a pause of 0 would repeat the action forever at one instant of virtual time).
void get_period(Ctx& ctx, const Entry& e, bool seconds, RangeMs& out) {
  RangeMs r;
  if (!get_range(ctx, e.value, e.at, seconds, 0, kTimeMaxMs, r)) return;
  if (r.max > 0 && r.min < 1) {
    ctx.fail(e.at, "the shortest pause must be at least 1 ms ([0, 0] turns it off)");
    return;
  }
  out = r;
}

constexpr std::array<EnumName<PartitionSpec::OrgSize>, 2> kOrgSizes{
    {{"zipf", PartitionSpec::OrgSize::kZipf}, {"uniform", PartitionSpec::OrgSize::kUniform}}};
constexpr std::array<EnumName<PartitionSpec::By>, 2> kPartitionBy{
    {{"org", PartitionSpec::By::kOrg}, {"doc", PartitionSpec::By::kDoc}}};

// The typing keys, and the organizations that own the documents (server/core/partition.hpp).
void apply_workload(Ctx& ctx, const YAML::Node& n, const Here& at, Workload& w, PartitionSpec& parts, Origins& org) {
  static constexpr std::array<std::string_view, 20> keys{
      "think_ms",    "think_s",        "burst_prob",     "burst_len",    "burst_gap_ms", "burst_gap_s",
      "same_paragraph_prob", "insert_prob", "insert_len_max", "delete_len_max", "newline_prob",
      "reload_ms",   "reload_s",       "rename_ms",      "rename_s",     "caret_moves_per_s",
      "organizations", "org_size",     "org_exponent", "version_read_share"};
  auto es = entries(ctx, n, at, keys);
  if (!es) return;
  for (const Entry& e : *es) {
    bool s = false;
    if (is_time_key(e.key, "think", s)) {
      RangeMs r;
      if (get_range(ctx, e.value, e.at, s, 0, kTimeMaxMs, r)) {
        // A think time of 0 would let a client edit forever at one instant of virtual time.
        if (r.min < 1) {
          ctx.fail(e.at, "the shortest think time must be at least 1 ms");
        } else {
          w.think_ms = r;
        }
      }
    } else if (is_time_key(e.key, "burst_gap", s)) {
      get_time(ctx, e.value, e.at, s, 0, kTimeMaxMs, w.burst_gap_ms);
    } else if (is_time_key(e.key, "reload", s)) {
      get_period(ctx, e, s, w.reload_ms);
    } else if (is_time_key(e.key, "rename", s)) {
      get_period(ctx, e, s, w.rename_ms);
    } else if (e.key == "burst_prob") {
      get_prob(ctx, e.value, e.at, w.burst_prob);
    } else if (e.key == "burst_len") {
      get_uint(ctx, e.value, e.at, 1, kBurstLenMax, w.burst_len);
    } else if (e.key == "same_paragraph_prob") {
      get_prob(ctx, e.value, e.at, w.same_paragraph_prob);
    } else if (e.key == "insert_prob") {
      get_prob(ctx, e.value, e.at, w.insert_prob);
    } else if (e.key == "insert_len_max") {
      get_uint(ctx, e.value, e.at, 1, kEditLenMax, w.insert_len_max);
    } else if (e.key == "delete_len_max") {
      get_uint(ctx, e.value, e.at, 1, kEditLenMax, w.delete_len_max);
    } else if (e.key == "newline_prob") {
      get_prob(ctx, e.value, e.at, w.newline_prob);
    } else if (e.key == "version_read_share") {
      get_prob(ctx, e.value, e.at, w.version_read_share);
    } else if (e.key == "caret_moves_per_s") {
      get_double(ctx, e.value, e.at, 0, workload::kCaretMovesPerSMax, w.caret_moves_per_s);
    } else if (e.key == "organizations") {
      if (get_uint(ctx, e.value, e.at, 0, kDocsMax, parts.organizations)) org.organizations = e.at;
    } else if (e.key == "org_size") {
      get_enum(ctx, e.value, e.at, kOrgSizes, parts.org_size);
    } else if (e.key == "org_exponent") {
      get_double(ctx, e.value, e.at, 0, kOrgExponentMax, parts.org_exponent);
    }
  }
}

void apply_clocks(Ctx& ctx, const YAML::Node& n, const Here& at, ClockSpec& c) {
  static constexpr std::array<std::string_view, 3> keys{"offset_ms", "offset_s", "drift_ppm_max"};
  auto es = entries(ctx, n, at, keys);
  if (!es) return;
  for (const Entry& e : *es) {
    bool s = false;
    if (is_time_key(e.key, "offset", s)) {
      get_range(ctx, e.value, e.at, s, -kTimeMaxMs, kTimeMaxMs, c.offset_ms);
    } else if (e.key == "drift_ppm_max") {
      get_int(ctx, e.value, e.at, 0, kDriftPpmMax, c.drift_ppm_max);
    }
  }
}

// The server policies (read through the policy table, as convlab-server's `policies` are), and
// the simulated servers' own keys.
void apply_servers(Ctx& ctx, const YAML::Node& n, const Here& at, ServersSpec& sv) {
  static const std::vector<std::string_view> keys = [] {
    std::vector<std::string_view> out{"count"};
    for (std::string_view k : policy_keys()) out.push_back(k);
    out.push_back("work_us_per_msg");
    out.push_back("work_us_per_read");
    out.push_back("host_cpus");
    out.push_back("host_us_per_frame");
    return out;
  }();
  auto es = entries(ctx, n, at, keys);
  if (!es) return;
  for (const Entry& e : *es) {
    if (e.key == "count") {
      get_uint(ctx, e.value, e.at, 1, kServersMax, sv.count);
    } else if (e.key == "work_us_per_msg") {
      get_int(ctx, e.value, e.at, 0, kWorkUsMax, sv.work_us_per_msg);
    } else if (e.key == "work_us_per_read") {
      get_int(ctx, e.value, e.at, 0, kWorkUsMax, sv.work_us_per_read);
    } else if (e.key == "host_cpus") {
      double cpus = 0;
      if (get_double(ctx, e.value, e.at, 0, kHostCpusMax, cpus)) {
        if (cpus > 0 && cpus < kHostCpusMin) {
          ctx.fail(e.at, "expected 0 (the servers have machines of their own) or from " + fmt_double(kHostCpusMin) +
                             " cores (a share of one) to " + fmt_double(kHostCpusMax) + ", got " + fmt_double(cpus));
        } else {
          sv.host_cpus = cpus;
        }
      }
    } else if (e.key == "host_us_per_frame") {
      get_int(ctx, e.value, e.at, 0, kWorkUsMax, sv.host_us_per_frame);
    } else {
      apply_policy(ctx, e, sv);
    }
  }
}

void apply_network(Ctx& ctx, const YAML::Node& n, const Here& at, NetworkSpec& net) {
  static constexpr std::array<std::string_view, 6> keys{"client_server_ms", "client_server_s", "server_db_ms",
                                                        "server_db_s",      "server_bus_ms",   "server_bus_s"};
  auto es = entries(ctx, n, at, keys);
  if (!es) return;
  for (const Entry& e : *es) {
    bool s = false;
    if (is_time_key(e.key, "client_server", s)) {
      get_range(ctx, e.value, e.at, s, 0, kTimeMaxMs, net.client_server_ms);
    } else if (is_time_key(e.key, "server_db", s)) {
      get_range(ctx, e.value, e.at, s, 0, kTimeMaxMs, net.server_db_ms);
      net.server_db_us.reset();  // written here: it replaces a calibration's figure
    } else if (is_time_key(e.key, "server_bus", s)) {
      get_range(ctx, e.value, e.at, s, 0, kTimeMaxMs, net.server_bus_ms);
      net.server_bus_us.reset();
    }
  }
}

constexpr std::array<EnumName<DatabaseSpec::Backup>, 2> kBackups{
    {{"none", DatabaseSpec::Backup::kNone}, {"archive", DatabaseSpec::Backup::kArchive}}};

void apply_database(Ctx& ctx, const YAML::Node& n, const Here& at, DatabaseSpec& db) {
  static constexpr std::array<std::string_view, 10> keys{"commit_ms",    "commit_s",           "replica_lag_ms",
                                                         "replica_lag_s", "backup",            "archive_interval_ms",
                                                         "archive_interval_s", "partitions",  "partition_by",
                                                         "work_us_per_append"};
  auto es = entries(ctx, n, at, keys);
  if (!es) return;
  for (const Entry& e : *es) {
    bool s = false;
    if (is_time_key(e.key, "commit", s)) {
      get_range(ctx, e.value, e.at, s, 0, kTimeMaxMs, db.commit_ms);
      db.commit_us.reset();  // written here: it replaces a calibration's figure
    }
    if (is_time_key(e.key, "replica_lag", s)) get_time(ctx, e.value, e.at, s, 0, kTimeMaxMs, db.replica_lag_ms);
    if (e.key == "backup") get_enum(ctx, e.value, e.at, kBackups, db.backup);
    // The WAL is switched and archived this often; at least 1 ms (0 would archive forever at one instant).
    if (is_time_key(e.key, "archive_interval", s)) get_time(ctx, e.value, e.at, s, 1, kTimeMaxMs, db.archive_interval_ms);
    if (e.key == "partitions") get_uint(ctx, e.value, e.at, 1, kPartitionsMax, db.partitioning.partitions);
    if (e.key == "partition_by") get_enum(ctx, e.value, e.at, kPartitionBy, db.partitioning.by);
    if (e.key == "work_us_per_append") get_int(ctx, e.value, e.at, 0, kWorkUsMax, db.work_us_per_append);
  }
}

void apply_cdn(Ctx& ctx, const YAML::Node& n, const Here& at, CdnSpec& cdn) {
  static constexpr std::array<std::string_view, 2> keys{"ttl_ms", "ttl_s"};
  auto es = entries(ctx, n, at, keys);
  if (!es) return;
  for (const Entry& e : *es) {
    bool s = false;
    if (is_time_key(e.key, "ttl", s)) get_time(ctx, e.value, e.at, s, 0, kTimeMaxMs, cdn.ttl_ms);
  }
}

void apply_auth(Ctx& ctx, const YAML::Node& n, const Here& at, AuthSpec& auth) {
  static constexpr std::array<std::string_view, 2> keys{"token_lifetime_ms", "token_lifetime_s"};
  auto es = entries(ctx, n, at, keys);
  if (!es) return;
  for (const Entry& e : *es) {
    bool s = false;
    if (is_time_key(e.key, "token_lifetime", s)) get_time(ctx, e.value, e.at, s, 1, kTimeMaxMs, auth.token_lifetime_ms);
  }
}

// A node name for a fault: parsed here, checked against the counts per variant (Ref).
// A list of mappings, each parsed by `item`; replaces the whole list (lists never merge).
template <class T, class F>
void apply_list(Ctx& ctx, const YAML::Node& n, const Here& at, std::vector<T>& out, std::vector<Ref>& refs, F item) {
  if (!n.IsSequence()) {
    ctx.fail(at, "expected a list, got " + kind_of(n));
    return;
  }
  std::vector<T> list;
  std::vector<Ref> list_refs;
  for (std::size_t i = 0; i < n.size(); ++i) {
    const YAML::Node node = n[i];
    const Here iat = here_of(node, at, at.path + "[" + std::to_string(i) + "]");
    T value{};
    item(node, iat, value, list_refs);
    list.push_back(std::move(value));
  }
  out = std::move(list);
  refs = std::move(list_refs);
}

void parse_override(Ctx& ctx, const YAML::Node& n, const Here& at, ClientOverride& o, std::vector<Ref>& refs) {
  static constexpr std::array<std::string_view, 5> keys{"client", "clock_offset_ms", "clock_offset_s", "drift_ppm",
                                                        "rate_multiplier"};
  auto es = entries(ctx, n, at, keys, "a mapping like {client: 0, clock_offset_ms: 5000}");
  if (!es) return;
  bool has_client = false;
  for (const Entry& e : *es) {
    bool s = false;
    if (e.key == "client") {
      has_client = true;
      std::int64_t c = 0;
      if (get_int(ctx, e.value, e.at, 0, kClientsMax - 1, c)) {
        o.client = static_cast<std::uint32_t>(c);
        refs.push_back(Ref{Ref::Kind::kClient, c, e.at, e.value.Scalar()});
      }
    } else if (is_time_key(e.key, "clock_offset", s)) {
      get_time(ctx, e.value, e.at, s, -kTimeMaxMs, kTimeMaxMs, o.clock_offset_ms);
    } else if (e.key == "drift_ppm") {
      get_int(ctx, e.value, e.at, -kDriftPpmMax, kDriftPpmMax, o.drift_ppm);
    } else if (e.key == "rate_multiplier") {
      double r = 0;
      if (get_double(ctx, e.value, e.at, 0, kRateMultiplierMax, r)) {
        if (r <= 0) {
          ctx.fail(e.at, "must be greater than 0, got " + e.value.Scalar());
        } else {
          o.rate_multiplier = r;
        }
      }
    }
  }
  if (!has_client) ctx.fail(Here{at.line, at.col, at.path + ".client"}, "required key is missing");
}

void parse_edit(Ctx& ctx, const YAML::Node& n, const Here& at, WorldConfig::ScriptedEdit& ed, std::vector<Ref>& refs) {
  static constexpr std::array<std::string_view, 6> keys{"at_ms", "at_s", "client", "pos", "del", "ins"};
  auto es = entries(ctx, n, at, keys, "a mapping like {at_ms: 100, client: 0, pos: 2, del: 0, ins: \"X\"}");
  if (!es) return;
  bool has_client = false;
  for (const Entry& e : *es) {
    bool s = false;
    if (is_time_key(e.key, "at", s)) {
      if (get_time(ctx, e.value, e.at, s, 0, kTimeMaxMs, ed.at_ms)) {
        refs.push_back(Ref{Ref::Kind::kBeforeDuration, ed.at_ms, e.at, e.value.Scalar()});
      }
    } else if (e.key == "client") {
      has_client = true;
      std::int64_t c = 0;
      if (get_int(ctx, e.value, e.at, 0, kClientsMax - 1, c)) {
        ed.client = static_cast<std::uint32_t>(c);
        refs.push_back(Ref{Ref::Kind::kClient, c, e.at, e.value.Scalar()});
      }
    } else if (e.key == "pos") {
      get_uint(ctx, e.value, e.at, 0, kScriptPosMax, ed.pos);
    } else if (e.key == "del") {
      get_uint(ctx, e.value, e.at, 0, kScriptPosMax, ed.del);
    } else if (e.key == "ins") {
      get_string(ctx, e.value, e.at, ed.ins);
    }
  }
  if (!has_client) ctx.fail(Here{at.line, at.col, at.path + ".client"}, "required key is missing");
  if (ctx.ok() && ed.del == 0 && ed.ins.empty()) ctx.fail(at, "an edit must delete or insert something");
}

// Applies a `world` mapping, or a variant's overrides, on top of `cfg`: only the keys present
// change; nested mappings merge key by key; lists (faults, client_overrides, script) replace.
void apply_world(Ctx& ctx, const YAML::Node& n, const Here& at, WorldConfig& cfg, Origins& org) {
  auto es = entries(ctx, n, at, kWorldKeys);
  if (!es) return;
  for (const Entry& e : *es) {
    bool s = false;
    if (is_time_key(e.key, "duration", s)) {
      get_time(ctx, e.value, e.at, s, 1, kTimeMaxMs, cfg.duration_ms);
    } else if (is_time_key(e.key, "quiesce", s)) {
      get_time(ctx, e.value, e.at, s, 0, kTimeMaxMs, cfg.quiesce_ms);
    } else if (e.key == "docs") {
      get_uint(ctx, e.value, e.at, 1, kDocsMax, cfg.docs);
    } else if (e.key == "initial_text") {
      get_string(ctx, e.value, e.at, cfg.initial_text);
    } else if (e.key == "clients") {
      get_uint(ctx, e.value, e.at, 1, kClientsMax, cfg.clients);
    } else if (e.key == "balancer") {
      get_enum(ctx, e.value, e.at, kBalancers, cfg.balancer);
    } else if (e.key == "workload") {
      apply_workload(ctx, e.value, e.at, cfg.workload, cfg.database.partitioning, org);
    } else if (e.key == "clocks") {
      apply_clocks(ctx, e.value, e.at, cfg.client_clocks);
    } else if (e.key == "client_overrides") {
      apply_list(ctx, e.value, e.at, cfg.client_overrides, org.overrides,
                 [&](const YAML::Node& item, const Here& iat, ClientOverride& o, std::vector<Ref>& refs) {
                   parse_override(ctx, item, iat, o, refs);
                 });
      // One override per client: two would silently shadow each other.
      std::set<std::uint32_t> seen;
      for (std::size_t i = 0; i < org.overrides.size(); ++i) {
        const Ref& r = org.overrides[i];
        if (!seen.insert(static_cast<std::uint32_t>(r.value)).second) {
          ctx.fail(r.at, "client " + r.text + " already has an override");
        }
      }
    } else if (e.key == "servers") {
      apply_servers(ctx, e.value, e.at, cfg.servers);
    } else if (e.key == "network") {
      apply_network(ctx, e.value, e.at, cfg.network);
    } else if (e.key == "database") {
      apply_database(ctx, e.value, e.at, cfg.database);
    } else if (e.key == "cdn") {
      apply_cdn(ctx, e.value, e.at, cfg.cdn);
    } else if (e.key == "auth") {
      apply_auth(ctx, e.value, e.at, cfg.auth);
    } else if (e.key == "faults") {
      apply_list(ctx, e.value, e.at, cfg.faults, org.faults,
                 [&](const YAML::Node& item, const Here& iat, FaultSpec& f, std::vector<Ref>& refs) {
                   parse_fault(ctx, item, iat, f, refs);
                 });
    } else if (e.key == "random_faults") {
      apply_random_faults(ctx, e.value, e.at, cfg.random_faults, org);
    } else if (e.key == "script") {
      apply_list(ctx, e.value, e.at, cfg.script, org.script,
                 [&](const YAML::Node& item, const Here& iat, WorldConfig::ScriptedEdit& ed, std::vector<Ref>& refs) {
                   parse_edit(ctx, item, iat, ed, refs);
                 });
    }
  }
}

// The checks that span keys, made on a fully merged variant. The error points at the value
// that is out of bounds (in `world` or in the variant, wherever it was written).
void check_variant(Ctx& ctx, const Variant& v, const Origins& org) {
  const WorldConfig& c = v.config;
  const std::string in = " in variant " + quote(v.name);
  auto check = [&](const Ref& r) {
    switch (r.kind) {
      case Ref::Kind::kClient:
        if (r.value >= c.clients) {
          ctx.fail(r.at, r.text + ": no such client" + in + ", which has " + std::to_string(c.clients) +
                             " client(s) (client:0..client:" + std::to_string(c.clients - 1) + ")");
        }
        break;
      case Ref::Kind::kServer:
        if (r.value >= c.servers.count) {
          ctx.fail(r.at, r.text + ": no such server" + in + ", which has " + std::to_string(c.servers.count) +
                             " server(s) (server:0..server:" + std::to_string(c.servers.count - 1) + ")");
        }
        break;
      case Ref::Kind::kBeforeDuration:
        if (r.value >= c.duration_ms) {
          ctx.fail(r.at, "at " + std::to_string(r.value) + " ms is not before the end of the run" + in + " (duration " +
                             std::to_string(c.duration_ms) + " ms)");
        }
        break;
    }
  };
  for (const Ref& r : org.faults) check(r);
  for (const Ref& r : org.overrides) check(r);
  for (const Ref& r : org.script) check(r);
  if (c.database.partitioning.organizations > c.docs) {
    // Every organization owns at least one document.
    ctx.fail(org.organizations.value_or(Here{}), std::to_string(c.database.partitioning.organizations) +
                                                     " organizations need at least as many documents" + in + ", which has " +
                                                     std::to_string(c.docs) + " (docs)");
  }
  if (c.random_faults.count > 0 && c.random_faults.kinds.empty()) {
    const Here at = org.random_count.value_or(Here{});
    ctx.fail(at, "random faults need `kinds`" + in + " (allowed: " + faults::names_list() + ")");
  }
}

}  // namespace convlab::sim::loader
