#include "realrun/plan.hpp"

#include "sim/world.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

namespace convlab::realrun {

namespace {

using faults::FaultKind;
using faults::FaultSpec;

bool is_client(const std::string& node) { return node.rfind("client:", 0) == 0; }

// Which group of `f` names `node`, -1 for none. Under NOTIFY "bus" is the database connection's
// NOTIFY: it counts as "db"; under Redis it is the Redis node, a link target of its own.
int group_of(const FaultSpec& f, const std::string& node, NodePolicies::Bus bus) {
  for (std::size_t g = 0; g < f.groups.size(); ++g) {
    for (const std::string& n : f.groups[g]) {
      if (n == node || (bus == NodePolicies::Bus::kNotify && node == "db" && n == "bus")) return static_cast<int>(g);
    }
  }
  return -1;
}

bool names(const FaultSpec& f, const std::string& node) {
  for (const auto& g : f.groups) {
    if (std::find(g.begin(), g.end(), node) != g.end()) return true;
  }
  return false;
}

// "FILE:LINE:COLUMN: fault kind X" for a written fault; "FILE: random_faults (seed N): kind X"
// for a drawn one.
std::string fault_place(const Plan& p, const FaultSpec& f) {
  const std::string kind(faults::name(f.kind));
  if (!f.where.empty()) return f.where + ": fault kind " + kind;
  return p.file + ": random_faults (seed " + std::to_string(p.seed) + ") drew kind " + kind;
}

Result<void> check_fault(const Plan& p, const FaultSpec& f) {
  const faults::KindInfo& kind = faults::info(f.kind);
  if (kind.real_begin == nullptr) {
    return make_error(fault_place(p, f) + ": has no realisation on real processes (realised: " + faults::real_names() +
                      "; docs/real-faults.md says why the others have none)");
  }
  if (f.kind == FaultKind::kPartition) {
    for (const auto& g : f.groups) {
      for (const std::string& n : g) {
        if (is_client(n)) {
          return make_error(fault_place(p, f) + ": partitions " + n +
                            ", and convlab-load's clients share one process: a partition of clients has no "
                            "realisation on real processes (partition servers, db and bus)");
        }
      }
    }
    // Written apart, db and bus are one connection on real processes under NOTIFY (under Redis
    // the bus is a process of its own, behind a proxy per server).
    for (std::size_t g = 0; g < f.groups.size() && p.world.servers.bus == NodePolicies::Bus::kNotify; ++g) {
      for (const std::string& n : f.groups[g]) {
        if (n != "bus") continue;
        for (std::size_t h = 0; h < f.groups.size(); ++h) {
          if (h != g && std::find(f.groups[h].begin(), f.groups[h].end(), "db") != f.groups[h].end()) {
            return make_error(fault_place(p, f) +
                              ": puts bus and db in different groups, and the bus is PostgreSQL's NOTIFY on "
                              "the servers' database connections: they cannot be cut apart");
          }
        }
      }
    }
  }
  if (p.databases > 1 && ((f.kind == FaultKind::kCrash && f.target == "db") ||
                           (f.kind == FaultKind::kPartition &&
                            (names(f, "db") || (p.world.servers.bus == NodePolicies::Bus::kNotify && names(f, "bus")))))) {
    return make_error(fault_place(p, f) + ": names db, and with database.partitions the database is " +
                      std::to_string(p.databases) +
                      " PostgreSQL clusters: which of them it means has no spelling yet (faults on db run "
                      "unpartitioned)");
  }
  if (f.kind == FaultKind::kDbLost) {
    // The one cluster is destroyed and replaced: a replica, partitions, a proxy in front of it
    // (a partition naming db) or a second loss (the restored cluster archives nothing) would each
    // need more than that.
    const sim::WorldConfig& w = p.world;
    std::string why;
    if (p.databases > 1) why = "database.partitions: which of the clusters it loses has no spelling yet";
    if (w.servers.api_read != sim::ApiRead::kPrimary) {
      why = "servers.api_read: " + std::string(kApiReadNames[static_cast<std::size_t>(w.servers.api_read)]) +
            ": the replica would have to be rebuilt from the restored cluster";
    }
    if (w.servers.persistence == NodePolicies::Persistence::kSnapshot) {
      why = "servers.persistence: snapshot: the history follows the lost database through its change log (persistence: changelog)";
    }
    for (const FaultSpec& g : p.faults) {
      if (&g != &f && g.kind == FaultKind::kDbLost) why = "a second db_lost fault: the restored cluster has no backup of its own";
      if (g.kind == FaultKind::kPartition && (names(g, "db") || (w.servers.bus == NodePolicies::Bus::kNotify && names(g, "bus")))) {
        why = "a partition naming db: its fault proxies point at the cluster that is lost";
      }
      if (g.kind == FaultKind::kCrash && g.target == "db") why = "a crash of db: the cluster it restarts is the one that is lost";
      // The loss stops and restarts every server: a server's own crash inside it would start that
      // server a second time on its port.
      const std::int64_t g_end = g.for_ms > 0 ? g.at_ms + g.for_ms : w.duration_ms;
      const std::int64_t f_end = f.for_ms > 0 ? f.at_ms + f.for_ms : w.duration_ms;
      if (g.kind == FaultKind::kCrash && g.target.rfind("server:", 0) == 0 && g.at_ms < f_end && f.at_ms < g_end) {
        why = "a crash of " + g.target + " overlapping it: the loss stops and restarts every server";
      }
    }
    // The restore (up to minutes) must end before typing does: convlab-load reads the restored
    // change log when it ends.
    if (why.empty() && (f.for_ms <= 0 || f.at_ms + f.for_ms >= w.duration_ms)) {
      why = "a db_lost lasting to the end of the editing phase: the restore must end before typing does";
    }
    if (!why.empty()) return make_error(fault_place(p, f) + ": runs on real processes only on one plain cluster, and this world has " + why);
  }
  if (f.kind == FaultKind::kCrash && f.target.rfind("server:", 0) != 0 && f.target != "db") {
    return make_error(fault_place(p, f) + ": target " + f.target + " is neither a server nor db");
  }
  return {};
}

// convlab-load's clock flags: one start per client, so a client's clock moves at most once.
Result<void> client_clocks(Plan& p, Rng& draws) {
  struct Clock {
    std::int64_t offset_ms = 0, drift_ppm = 0, from_ms = 0;
    bool faulted = false;
  };
  std::map<std::uint32_t, Clock> clocks;
  const sim::WorldConfig& w = p.world;
  const bool drawn = w.client_clocks.offset_ms.min != 0 || w.client_clocks.offset_ms.max != 0 ||
                     w.client_clocks.drift_ppm_max > 0;
  if (drawn) {
    for (std::uint32_t c = 0; c < p.clients; ++c) {
      Clock& k = clocks[c];
      k.offset_ms = draws.between(w.client_clocks.offset_ms.min, w.client_clocks.offset_ms.max);
      if (w.client_clocks.drift_ppm_max > 0) {
        k.drift_ppm = draws.between(-w.client_clocks.drift_ppm_max, w.client_clocks.drift_ppm_max);
      }
    }
    p.notes.push_back("clocks: each client's offset and drift drawn from the seed by the runner (not the simulator's "
                      "draw: the same ranges, other values)");
  }
  for (const sim::ClientOverride& o : w.client_overrides) {
    if (o.client >= p.clients) continue;  // as the simulator: an override of no client does nothing
    if (o.rate_multiplier != 1.0) {
      // The simulator's pause divided by it (workload::next_pause_us), in convlab-load.
      char m[64];
      std::snprintf(m, sizeof m, "%.17g", o.rate_multiplier);
      p.load_flags.push_back("--client-rate=" + std::to_string(o.client) + "=" + m);
    }
    clocks[o.client].offset_ms = o.clock_offset_ms;
    clocks[o.client].drift_ppm = o.drift_ppm;
  }
  for (const FaultSpec& f : p.faults) {
    if ((f.kind != FaultKind::kClockOffset && f.kind != FaultKind::kClockDrift) || !is_client(f.target)) continue;
    const std::uint32_t c = static_cast<std::uint32_t>(std::stoul(f.target.substr(7)));
    Clock& k = clocks[c];
    if (k.faulted || k.offset_ms != 0 || k.drift_ppm != 0) {
      return make_error(fault_place(p, f) + ": moves " + f.target +
                        "'s clock a second time, and convlab-load moves a client's clock once a run");
    }
    k.faulted = true;
    k.from_ms = f.at_ms;
    (f.kind == FaultKind::kClockOffset ? k.offset_ms : k.drift_ppm) = f.value;
  }
  for (const auto& [c, k] : clocks) {
    const std::string at = k.from_ms > 0 ? "@" + std::to_string(static_cast<double>(k.from_ms) / 1000.0) : "";
    if (k.offset_ms != 0) p.load_flags.push_back("--clock-offset=" + std::to_string(c) + "=" + std::to_string(k.offset_ms) + at);
    if (k.drift_ppm != 0) p.load_flags.push_back("--clock-drift=" + std::to_string(c) + "=" + std::to_string(k.drift_ppm) + at);
  }
  return {};
}

std::int64_t scaled(std::int64_t ms, double scale) { return static_cast<std::int64_t>(std::llround(static_cast<double>(ms) * scale)); }

}  // namespace

std::string partitions_yaml(const Plan& p, const std::vector<std::string>& urls) {
  if (p.databases <= 1) return "";
  const PartitionSpec& spec = p.world.database.partitioning;
  char exponent[64];
  std::snprintf(exponent, sizeof exponent, "%.17g", spec.org_exponent);
  std::string out = "partitions:\n";
  out += "  by: " + std::string(name_of(spec.by)) + "\n";
  out += "  organizations: " + std::to_string(spec.organizations) + "\n";
  out += "  org_size: " + std::string(name_of(spec.org_size)) + "\n";
  out += "  org_exponent: " + std::string(exponent) + "\n";
  out += "  docs: " + std::to_string(p.docs) + "\n";
  out += "  databases:\n";
  for (const std::string& u : urls) out += "    - \"" + u + "\"\n";
  return out;
}

std::string partition_cut(const FaultSpec& f, const ProxyLink& link, NodePolicies::Bus bus) {
  const int from = group_of(f, link.client, bus);
  const int to = group_of(f, link.target, bus);
  if (from < 0 || to < 0 || from == to) return "";
  if (!f.one_way) return "both";
  return from == 0 ? "up" : "down";  // groups[0] -> groups[1] is cut
}

Result<Plan> plan_run(const sim::Scenario& sc, const sim::Variant& v, const Strategy& strategy, std::uint64_t seed,
                      const Limits& limits) {
  Plan p;
  p.file = sc.file;
  p.scenario = sc.name;
  p.variant = v.name;
  p.strategy = std::string(strategy.name);
  p.seed = seed;
  p.world = v.config;
  const sim::WorldConfig& w = v.config;
  p.servers = w.servers.count;
  p.clients = w.clients;
  p.docs = w.docs;
  const std::string where = sc.file + ": variant " + v.name + ": ";
  if (w.clients > limits.clients_max) {
    return make_error(where + "world.clients is " + std::to_string(w.clients) + ", more than this machine runs honestly (" +
                      std::to_string(limits.clients_max) + "): lower world.clients");
  }
  if (w.servers.count > limits.servers_max) {
    return make_error(where + "servers.count is " + std::to_string(w.servers.count) +
                      ", more than this machine runs honestly (" + std::to_string(limits.servers_max) +
                      "): lower servers.count");
  }
  const bool reloads = w.workload.reload_ms.max > 0;
  if (reloads && w.workload.version_read_share > 0) {
    return make_error(where + "workload.version_read_share: convlab-load makes no reads of past versions; remove it "
                      "to run on real processes");
  }
  // session_primary and fenced run: convlab-load sends its last acknowledged version (learnt from
  // the server's version frames) as X-Convlab-Session-Version on every API read.
  p.redis = w.servers.bus == NodePolicies::Bus::kRedis;
  p.databases = w.database.partitioning.partitions;
  if (p.databases > 1 && w.servers.home == NodePolicies::Home::kLease) {
    return make_error(where + "servers.home: lease with database.partitions: convlab-server fences a document's home "
                      "in one database and refuses partitions with it; use home: fixed to run on real processes");
  }
  if (p.databases > 1 && w.servers.api_read != sim::ApiRead::kPrimary) {
    return make_error(where + "servers.api_read: " + std::string(kApiReadNames[static_cast<std::size_t>(w.servers.api_read)]) +
                      " with database.partitions: convlab-server reads one "
                      "replica, not one per partition; remove one of them to run on real processes");
  }

  p.scale = w.duration_ms > limits.duration_max_ms
                ? static_cast<double>(limits.duration_max_ms) / static_cast<double>(w.duration_ms)
                : 1.0;
  p.duration_ms = scaled(w.duration_ms, p.scale);
  p.quiesce_ms = std::min(w.quiesce_ms, limits.quiesce_max_ms);
  if (p.scale < 1.0) {
    p.notes.push_back("shortened: duration " + std::to_string(w.duration_ms / 1000) + " s -> " +
                      std::to_string(p.duration_ms / 1000) + " s, every fault's at and for scaled by the same factor");
  }
  if (p.quiesce_ms < w.quiesce_ms) {
    p.notes.push_back("shortened: quiesce " + std::to_string(w.quiesce_ms / 1000) + " s -> " +
                      std::to_string(p.quiesce_ms / 1000) + " s (convlab-load's --drain: the longest wait for every client to show the durable text)");
  }

  p.faults = sim::fault_list(w, seed);
  for (FaultSpec& f : p.faults) {
    if (auto ok = check_fault(p, f); !ok) return make_error(ok.error().message);
    f.at_ms = scaled(f.at_ms, p.scale);
    f.for_ms = scaled(f.for_ms, p.scale);
  }
  std::stable_sort(p.faults.begin(), p.faults.end(), [](const FaultSpec& a, const FaultSpec& b) { return a.at_ms < b.at_ms; });
  p.db_lost = std::any_of(p.faults.begin(), p.faults.end(), [&](const FaultSpec& f) {
    return f.kind == FaultKind::kDbLost && f.at_ms < p.duration_ms;
  });
  if (p.db_lost) {
    p.archived = w.database.backup == sim::DatabaseSpec::Backup::kArchive;
    p.archive_interval_ms = std::max<std::int64_t>(1000, scaled(w.database.archive_interval_ms, p.scale));
    p.notes.push_back(p.archived
                          ? "db_lost: PostgreSQL with WAL archiving (scripts/pg.sh start-archived), a base backup before "
                            "the typing starts, an archive point (pg.sh switch) every " +
                                std::to_string(p.archive_interval_ms) +
                                " ms of the run; at the fault the servers are killed, the cluster destroyed, restored "
                                "from the backup and the archive and the servers started again at its end"
                          : "db_lost: no backup; at the fault the servers are killed and the cluster destroyed, at its "
                            "end an empty cluster on the same port and the servers started again");
    p.notes.push_back("db_lost: the lost cluster's change log is read before it is destroyed (for the history's commit "
                      "lines), and the new cluster issues agent ids after the last one the lost one issued (the history "
                      "names characters by agent id)");
  }

  if (w.database.work_us_per_append > 0) {
    if (p.db_lost) {
      return make_error(where + "database.work_us_per_append with db_lost: the work is a trigger the runner installs in "
                        "each cluster, and the restored or fresh cluster would not have it; remove one of them to run "
                        "on real processes");
    }
    // A server cut off from its cluster while one of its transactions holds the cluster's
    // advisory lock (the fault proxy holds bytes) would stall every server's appends there until
    // the heal, where the simulator stops only the cut-off server's: not the same world.
    for (const FaultSpec& f : p.faults) {
      if (f.kind == FaultKind::kPartition &&
          (names(f, "db") || (w.servers.bus == NodePolicies::Bus::kNotify && names(f, "bus")))) {
        return make_error(where + "database.work_us_per_append with a partition naming db: a server cut off inside a "
                          "transaction would hold its cluster's append lock (the trigger's) until the heal and stall "
                          "every other server's appends there, which the simulator does not; remove one of them to run "
                          "on real processes");
      }
    }
    p.work_us_per_append = w.database.work_us_per_append;
    p.notes.push_back("database.work_us_per_append: a trigger on each cluster's change log holds one advisory lock per "
                      "cluster to its transaction's end and sleeps " + std::to_string(p.work_us_per_append) +
                      " us per appended row, so each cluster commits at most ~" +
                      std::to_string(1000000 / p.work_us_per_append) +
                      " appends/s (docs/real-faults.md, \"A saturable partition\"); not scaled with a shortened run");
  }

  // Proxies: every server's database link, its Redis link (bus: redis) and every server-to-server
  // link some partition cuts.
  std::vector<ProxyLink> candidates;
  for (std::uint32_t s = 0; s < p.servers; ++s) candidates.push_back({"server:" + std::to_string(s), "db"});
  if (p.redis) {
    for (std::uint32_t s = 0; s < p.servers; ++s) candidates.push_back({"server:" + std::to_string(s), "bus"});
  }
  for (std::uint32_t a = 0; a < p.servers; ++a) {
    for (std::uint32_t b = 0; b < p.servers; ++b) {
      if (a != b) candidates.push_back({"server:" + std::to_string(a), "server:" + std::to_string(b)});
    }
  }
  for (const ProxyLink& l : candidates) {
    for (const FaultSpec& f : p.faults) {
      if (f.kind == FaultKind::kPartition && !partition_cut(f, l, w.servers.bus).empty()) {
        p.proxies.push_back(l);
        break;
      }
    }
  }
  p.faketime.assign(p.servers, false);
  for (const FaultSpec& f : p.faults) {
    if ((f.kind == FaultKind::kClockOffset || f.kind == FaultKind::kClockDrift) && f.target.rfind("server:", 0) == 0) {
      p.faketime.at(std::stoul(f.target.substr(7))) = true;
    }
    if (!p.redis && f.kind == FaultKind::kPartition && group_of(f, "db", w.servers.bus) >= 0 && !names(f, "bus")) {
      p.notes.push_back("a partition from db also cuts the bus: on real processes NOTIFY rides the database connection");
    }
    if (!p.redis && f.kind == FaultKind::kRedisCrash) {
      p.notes.push_back("redis_crash without bus: redis does nothing (no Redis is started), as in the simulator");
    }
  }
  if (p.redis) {
    p.notes.push_back("bus: redis: a throwaway Redis (scripts/redis.sh) for the servers' pub/sub; redis_crash is its "
                      "kill -9 and restart on the same port, a partition naming bus cuts a fault proxy between each "
                      "server it names and Redis");
  }
  // Every api_read but primary reads the replica (session_primary: a session that has written
  // nothing acknowledged; fenced: while it has reached the session's write).
  p.replica = w.servers.api_read != sim::ApiRead::kPrimary;
  if (p.databases > 1) {
    const PartitionSpec& spec = w.database.partitioning;
    p.notes.push_back("database.partitions: " + std::to_string(p.databases) +
                      " throwaway PostgreSQL clusters, every server routing by the world's rule (" +
                      describe(spec, w.docs) + "); convlab-load reads each one's change log");
  } else if (w.database.partitioned()) {
    p.notes.push_back("workload.organizations with one partition: one PostgreSQL cluster, nothing to route");
  }
  if (w.cdn.ttl_ms > 0 && reloads) {
    p.cdn_ttl_s = (w.cdn.ttl_ms + 999) / 1000;
    p.notes.push_back("cdn.ttl_s: nginx's proxy_cache (scripts/cdn.sh) in front of the servers' API for " +
                      std::to_string(p.cdn_ttl_s) + " s, convlab-load's API reads through it (a miss goes to the "
                      "servers round robin, not to the client's own)");
  } else if (w.cdn.ttl_ms > 0) {
    p.notes.push_back("cdn.ttl_s without workload.reload_ms: no nginx started, nothing reads the API");
  }
  if (reloads) {
    p.load_flags.push_back("--reload-ms=" + std::to_string(w.workload.reload_ms.min) + ".." +
                           std::to_string(w.workload.reload_ms.max));
    p.notes.push_back("workload.reload_ms: convlab-load's API reads, drawn from the seed by convlab-load (the same "
                      "range as the simulator's, other values)");
  }
  if (w.workload.rename_ms.max > 0) {
    // The simulator refuses renames with more than one server (the title lives in one server's
    // memory), so the one server of a world with renames holds every title, as in the simulator.
    p.load_flags.push_back("--rename-ms=" + std::to_string(w.workload.rename_ms.min) + ".." +
                           std::to_string(w.workload.rename_ms.max));
    p.notes.push_back("workload.rename_ms: convlab-load's renames, drawn from the seed by convlab-load (the same "
                      "range as the simulator's, other values)");
    // Two renames are concurrent when each is sent before the other's title arrives: in the
    // simulator within network.client_server_ms each way, on loopback within a fraction of a
    // millisecond (a run of the row with 3 clients saw no concurrent pair in 30 s). The load's
    // links get the world's latency, so the row's race is the simulator's.
    p.client_latency_min_ms = w.network.client_server_ms.min;
    p.client_latency_max_ms = w.network.client_server_ms.max;
    if (p.client_latency_max_ms > 0) {
      for (std::uint32_t s = 0; s < p.servers; ++s) p.proxies.push_back({"load", "server:" + std::to_string(s)});
      p.notes.push_back("workload.rename_ms: a fault proxy on each load -> server link delays every chunk by " +
                        std::to_string(p.client_latency_min_ms) + ".." + std::to_string(p.client_latency_max_ms) +
                        " ms each way (network.client_server_ms), as the simulator's network");
    }
  }
  if (w.servers.work_us_per_msg > 0) {
    p.notes.push_back("servers.work_us_per_msg: the simulated " + std::to_string(w.servers.work_us_per_msg) +
                      " us per client frame is not applied on real processes: a real server's cost per frame is its "
                      "own (convlab calibrate measures it)");
  }

  const workload::TypingConfig defaults;
  p.load_flags.push_back("--think-ms=" + std::to_string(w.workload.think_ms.min) + ".." + std::to_string(w.workload.think_ms.max));
  p.load_flags.push_back("--same-paragraph=" + std::to_string(w.workload.same_paragraph_prob));
  if (w.workload.caret_moves_per_s > 0) {
    // Presence: every client moves its caret at the world's rate while typing; the servers relay
    // with the world's `awareness` policy (written into their configuration with the others).
    p.load_flags.push_back("--caret-moves-per-s=" + std::to_string(w.workload.caret_moves_per_s));
  }
  if (w.workload.burst_prob != defaults.burst_prob || w.workload.insert_prob != defaults.insert_prob ||
      w.workload.insert_len_max != defaults.insert_len_max || w.workload.delete_len_max != defaults.delete_len_max ||
      w.workload.newline_prob != defaults.newline_prob) {
    p.notes.push_back("workload: only think_ms and same_paragraph_prob reach convlab-load; the other typing keys keep "
                      "their defaults");
  }
  if (!w.initial_text.empty()) {
    // Typed into every document by a setup user before the clients connect, stamped at clock 0
    // as the simulator's (convlab-load's --initial-text).
    p.load_flags.push_back("--initial-text=" + w.initial_text);
  }
  // Scripted edits at their times from the load's start (scaled with the run), positions as
  // written: convlab-load clamps them to the client's text as the simulator does.
  for (const sim::WorldConfig::ScriptedEdit& e : w.script) {
    if (e.client >= p.clients) continue;  // sim/world.cpp's checks refuse it before
    if (scaled(e.at_ms, p.scale) >= p.duration_ms) {
      return make_error(where + "script: the edit at " + std::to_string(e.at_ms) +
                        " ms is not before the editing phase's end (" + std::to_string(w.duration_ms) +
                        " ms): convlab-load makes scripted edits while its clients edit; move it into duration_s");
    }
    p.load_flags.push_back("--edit=" + std::to_string(scaled(e.at_ms, p.scale)) + "," + std::to_string(e.client) + "," +
                           std::to_string(e.pos) + "," + std::to_string(e.del) + "," + e.ins);
  }
  if (!w.script.empty()) {
    p.notes.push_back("script: " + std::to_string(w.script.size()) +
                      " scripted edits made by convlab-load at their times from its start (t = 0 of the history); "
                      "clients do not type the workload, as in the simulator");
  }
  // offline, disconnect and revoke: convlab-load makes them at their (scaled) times. A client goes
  // offline once at a time: a second offline overlapping the first is refused.
  std::map<std::uint32_t, std::int64_t> offline_until;
  for (const FaultSpec& f : p.faults) {
    if (f.kind != FaultKind::kOffline && f.kind != FaultKind::kDisconnect && f.kind != FaultKind::kRevoke) continue;
    if (f.at_ms >= p.duration_ms) continue;  // after typing: the runner does not apply it either
    if (!is_client(f.target)) return make_error(fault_place(p, f) + ": target " + f.target + " is not a client");
    const std::uint32_t c = static_cast<std::uint32_t>(std::stoul(f.target.substr(7)));
    if (c >= p.clients) continue;  // as the simulator: a fault of no client does nothing
    if (f.kind == FaultKind::kDisconnect || f.kind == FaultKind::kRevoke) {
      p.load_flags.push_back((f.kind == FaultKind::kRevoke ? "--revoke=" : "--disconnect=") + std::to_string(c) + "@" +
                             std::to_string(f.at_ms));
      continue;
    }
    const std::int64_t end = f.for_ms > 0 ? std::min(f.at_ms + f.for_ms, p.duration_ms) : p.duration_ms;
    if (offline_until.contains(c) && offline_until[c] > f.at_ms) {
      return make_error(fault_place(p, f) + ": takes " + f.target +
                        " offline while it is offline already, and convlab-load holds a client's link once at a time");
    }
    offline_until[c] = end;
    p.load_flags.push_back("--offline=" + std::to_string(c) + "@" + std::to_string(f.at_ms) + ".." + std::to_string(end));
  }
  if (!offline_until.empty()) {
    p.notes.push_back("offline: convlab-load holds the client's WebSocket link both ways for the fault (its frames out "
                      "queue, the frames in wait unread; it keeps typing) and lets both go at its end");
  }
  if (w.balancer == sim::Balancer::kSticky) p.load_flags.push_back("--sticky");
  Rng draws(seed);
  if (auto ok = client_clocks(p, draws); !ok) return make_error(ok.error().message);
  return p;
}

}  // namespace convlab::realrun
