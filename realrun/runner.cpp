// The runner of real processes (realrun/runner.hpp): faults::RealProcesses over real servers,
// PostgreSQL and fault proxies.
#include "realrun/runner.hpp"

#include "faults/real/clock.hpp"
#include "realrun/calibrate.hpp"
#include "realrun/cdn.hpp"
#include "realrun/cluster.hpp"
#include "realrun/process.hpp"
#include "realrun/proxy_process.hpp"
#include "realrun/redis.hpp"
#include "server/core/partition.hpp"
#include "server/core/policies.hpp"
#include "server/pg/store.hpp"
#include "workload/lost_log.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

namespace convlab::realrun {

namespace {

namespace fs = std::filesystem;
using faults::FaultKind;
using faults::FaultSpec;
using SteadyClock = std::chrono::steady_clock;

const std::string kSecret = "realrun-secret-realrun-secret-0123456789ab";

// This machine's monotonic clock, as convlab-load's meta line gives its start on it
// (start_monotonic_us): the wall clock can be stepped under a run, this one cannot.
std::int64_t monotonic_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now().time_since_epoch()).count();
}

std::uint32_t server_index(const std::string& node) { return static_cast<std::uint32_t>(std::stoul(node.substr(7))); }

// The world's server policies as convlab-server's `policies:` section, through the one policy
// table (server/core/policies.hpp), so every key is spelled as the server reads it.
std::string policies_yaml(const NodePolicies& p) {
  std::ostringstream out;
  out << "policies:\n";
  for (const PolicyField& f : policy_fields()) {
    const double v = f.get(p);
    out << "  ";
    switch (f.kind) {
      case PolicyField::Kind::kChoice:
        out << f.key << ": " << f.choices[static_cast<std::size_t>(v)];
        break;
      case PolicyField::Kind::kBool:
        out << f.key << ": " << (v != 0 ? "true" : "false");
        break;
      case PolicyField::Kind::kTime:
        out << f.key << "_ms: " << static_cast<std::int64_t>(v);
        break;
      case PolicyField::Kind::kWhole:
        out << f.key << ": " << static_cast<std::int64_t>(v);
        break;
      case PolicyField::Kind::kNumber: {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.17g", v);
        out << f.key << ": " << buf;
        break;
      }
    }
    out << '\n';
  }
  return out.str();
}

class World final : public faults::RealProcesses {
 public:
  World(const Plan& plan, const Programs& programs, std::string dir, const std::atomic<bool>& stop,
        const std::function<void(const std::string&)>& progress)
      : plan_(plan), prog_(programs), dir_(std::move(dir)), stop_(stop), progress_(progress),
        pg_(programs.pg_sh, dir_), replica_(programs.pg_sh, dir_), redis_(programs.redis_sh, dir_),
        cdn_(programs.cdn_sh, dir_) {}

  ~World() override {
    // Stopped in the reverse order of their start: the load, the servers, the proxies; Redis
    // and the clusters by their destructors. Interrupted, the servers get no grace: a server cut off by
    // a partition would wait out its shutdown grace for the database.
    load_.reset();
    for (auto& s : servers_) {
      if (s && s->running()) {
        s->signal(stop_ ? SIGKILL : SIGTERM);
        if (!s->wait(5000)) s->signal(SIGKILL);
      }
    }
    servers_.clear();
    proxies_.clear();
  }

  Result<RealOutput> run();

  std::uint64_t begin_partition(const FaultSpec& f) override { return apply_partition(f, false); }
  bool end_partition(const FaultSpec& f, std::uint64_t) override {
    apply_partition(f, true);
    return true;
  }
  std::uint64_t begin_clock_offset(const FaultSpec& f) override { return move_clock(f); }
  std::uint64_t begin_clock_drift(const FaultSpec& f) override { return move_clock(f); }
  std::uint64_t begin_crash(const FaultSpec& f) override {
    if (f.target == "db") {
      if (!pg_.crash()) failure_ = "scripts/pg.sh crash failed (see " + dir_ + "/pg-crash.log)";
    } else {
      const std::uint32_t k = server_index(f.target);
      servers_[k]->signal(SIGKILL);
      servers_[k]->wait(10000);
    }
    return 0;
  }
  // The Redis of bus: redis, kill -9 and restarted on its port (nothing without one, as in the
  // simulator). The servers' Redis clients see their connections end and try again every
  // second (RedisBus::kRetryMs); what was published meanwhile is gone.
  std::uint64_t begin_redis_crash(const FaultSpec&) override {
    if (plan_.redis && !redis_.crash()) failure_ = "scripts/redis.sh crash failed (see " + dir_ + "/redis-crash.log)";
    return 0;
  }
  bool end_redis_crash(const FaultSpec&, std::uint64_t) override {
    if (plan_.redis && !redis_.restart()) failure_ = "scripts/redis.sh restart failed (see " + dir_ + "/redis-restart.log)";
    return true;
  }
  // The database lost (a dead disk): every server killed (their memory goes, as in the
  // simulator), the cluster's change log read for the history (the observer's privilege: the
  // system itself gets nothing back from it), the cluster destroyed (pg.sh destroy: its data
  // directory deleted; the base backup and the archive are "another disk").
  std::uint64_t begin_db_lost(const FaultSpec&) override {
    for (auto& s : servers_) {
      if (s && s->running()) s->signal(SIGKILL);
    }
    for (auto& s : servers_) {
      if (s) s->wait(10000);
    }
    std::fill(restarting_.begin(), restarting_.end(), false);
    // The loss's instant, in the history too: once no server commits any more, so every record
    // of the lost log was committed before it.
    lost_.at_monotonic_us = monotonic_us();
    fault_events_.back().first = lost_.at_monotonic_us;
    auto logs = pg::read_change_logs(pg_url_, plan_.docs);
    if (!logs) {
      failure_ = "db_lost: reading the change log before the loss: " + logs.error().message;
      return 0;
    }
    lost_.logs = std::move(*logs);
    auto agent = pg::last_agent_id(pg_url_);
    if (!agent) {
      failure_ = "db_lost: " + agent.error().message;
      return 0;
    }
    last_agent_ = *agent;
    if (auto ok = pg_.destroy(); !ok) failure_ = ok.error().message;
    progress_("database destroyed (" + std::to_string(archive_points_) + " archive points before it)");
    return 0;
  }
  // Its end: the cluster restored from the base backup and the archive (backup: archive) or
  // started empty (none), on the same port; the servers started on it again.
  bool end_db_lost(const FaultSpec&, std::uint64_t) override {
    auto url = plan_.archived ? pg_.restore() : pg_.fresh();
    if (!url) {
      failure_ = url.error().message;
      return true;
    }
    auto kept = pg::read_change_logs(pg_url_, plan_.docs);
    if (plan_.archived && !kept) {
      failure_ = "db_lost: reading the restored change log: " + kept.error().message;
      return true;
    }
    lost_.restored.assign(plan_.docs, 0);
    std::size_t kept_records = 0, lost_records = 0;
    for (std::uint32_t d = 0; d < plan_.docs && kept; ++d) {
      // Restored from the WAL, the log is a prefix of the one lost.
      const auto& back = (*kept)[d];
      const auto& had = lost_.logs[d];
      for (std::size_t i = 0; i < back.size(); ++i) {
        if (i >= had.size() || back[i].record != had[i].record) {
          failure_ = "db_lost: document " + std::to_string(d) + "'s restored log is not a prefix of the lost one (record " +
                     std::to_string(i + 1) + ")";
          return true;
        }
      }
      lost_.restored[d] = back.size();
    }
    for (std::uint32_t d = 0; d < plan_.docs; ++d) {
      kept_records += lost_.restored[d];
      lost_records += lost_.logs[d].size() - lost_.restored[d];
    }
    if (auto ok = pg::continue_agent_ids(pg_url_, last_agent_); !ok) {
      failure_ = "db_lost: " + ok.error().message;
      return true;
    }
    {
      std::ofstream out(dir_ + "/db_lost.txt", std::ios::binary | std::ios::trunc);
      out << workload::write_lost_database(lost_);
      out.close();
      if (!out) {
        failure_ = "db_lost: cannot write " + dir_ + "/db_lost.txt (what convlab-load reads for the history)";
        return true;
      }
    }
    progress_(std::string(plan_.archived ? "database restored: " : "empty database: ") + std::to_string(kept_records) +
              " change-log records back, " + std::to_string(lost_records) + " lost");
    for (std::uint32_t k = 0; k < plan_.servers; ++k) {
      if (auto ok = start_server(k, false); !ok) failure_ = ok.error().message;
    }
    return true;
  }
  // offline, disconnect and revoke: convlab-load makes them at the fault's times (the plan passed its
  // --offline and --disconnect flags); the runner writes the history's fault and recover lines.
  std::uint64_t begin_offline(const FaultSpec&) override { return 0; }
  bool end_offline(const FaultSpec&, std::uint64_t) override { return true; }
  std::uint64_t begin_disconnect(const FaultSpec&) override { return 0; }
  // revoke: convlab-load revokes the client's token through the server's POST /logout.
  std::uint64_t begin_revoke(const FaultSpec&) override { return 0; }
  bool end_crash(const FaultSpec& f, std::uint64_t) override {
    if (f.target == "db") {
      if (!pg_.restart()) failure_ = "scripts/pg.sh restart failed (see " + dir_ + "/pg-restart.log)";
    } else {
      // Not waited for: a server restarted inside a partition from the database cannot say it
      // listens until the partition heals, which the schedule must still get to.
      if (auto ok = start_server(server_index(f.target), false); !ok) failure_ = ok.error().message;
    }
    return true;
  }

 private:
  std::string proxy_key(const ProxyLink& l) const { return l.client + ">" + l.target; }
  Result<void> start_proxies();
  // Starts server k; with `wait`, until it says where it listens; without, `restarting_` has it
  // and poll_restarts() looks for that line.
  Result<void> start_server(std::uint32_t k, bool wait = true);
  // bus: redis: waits until every server says its subscription is up (its log's "bus up").
  Result<void> wait_subscribed();
  void poll_restarts();
  Result<void> start_load();
  std::uint64_t apply_partition(const FaultSpec& f, bool heal);
  std::uint64_t move_clock(const FaultSpec& f);
  void fault_event(history::EventType type, const FaultSpec& f);
  Result<RealOutput> finish(int load_exit);
  // databases > 1: which documents have change-log rows in each partition (SQL on each
  // cluster), written to partitions.txt; a document in a partition the world's rule does not
  // name, or in two, fails the run.
  Result<void> check_partitions();
  void scrape_partitions();

  const Plan& plan_;
  const Programs& prog_;
  std::string dir_;
  const std::atomic<bool>& stop_;
  const std::function<void(const std::string&)>& progress_;
  Cluster pg_, replica_;
  // Partitions 1.. of a plan with databases > 1 (partition 0, the home database, is pg_).
  std::vector<std::unique_ptr<Cluster>> parts_;
  std::vector<std::string> part_urls_;  // every partition's URL in order, pg_url_ first
  // At the heal (databases > 1): every server's /metrics summed per partition, the scrape's
  // monotonic us (0: none), the servers that answered.
  std::map<std::string, std::uint64_t> partition_counters_;
  std::int64_t partition_scrape_us_ = 0;
  std::int64_t partition_scrape_wall_ms_ = 0;  // the same instant on the wall clock (the servers' server_ms)
  std::vector<std::vector<std::int64_t>> partition_server_ms_;  // every change-log row's server_ms, per partition
  RedisInstance redis_;
  CdnInstance cdn_;
  std::string pg_url_, replica_url_, redis_url_, cdn_url_;
  std::vector<int> ports_;
  std::map<std::string, std::unique_ptr<ProxyProcess>> proxies_;
  std::vector<std::unique_ptr<Process>> servers_;
  std::vector<int> starts_;
  std::vector<bool> restarting_;  // per server: started again, not yet listening
  std::unique_ptr<Process> load_;
  std::string faketime_lib_;
  std::vector<std::pair<std::int64_t, std::int64_t>> clocks_;  // per server: offset ms, drift ppm
  std::vector<std::pair<std::int64_t, history::Event>> fault_events_;  // monotonic us, event
  std::string failure_;  // a fault that could not be applied
  // db_lost: what the lost cluster held (written to DIR/db_lost.txt for convlab-load once the
  // restore says what came back), the last agent id it issued, and the archive points made.
  workload::LostDatabase lost_;
  std::uint64_t last_agent_ = 0;
  int archive_points_ = 0;
  std::vector<std::int64_t> archive_us_;  // monotonic us at each archive point's start
};

Result<void> World::start_proxies() {
  for (const ProxyLink& l : plan_.proxies) {
    const std::string target = l.target == "db"    ? pg_host_port(pg_url_)
                               : l.target == "bus" ? redis_.host_port()
                                                   : "127.0.0.1:" + std::to_string(ports_[server_index(l.target)]);
    // "server:1" -> "server1": the log's name.
    const auto plain = [](std::string n) {
      n.erase(std::remove(n.begin(), n.end(), ':'), n.end());
      return n;
    };
    auto p = std::make_unique<ProxyProcess>(prog_.faultproxy, target,
                                            dir_ + "/proxy-" + plain(l.client) + "-" + plain(l.target) + ".log");
    if (p->control == 0) return make_error("convlab-faultproxy did not start: " + p->log_tail());
    if (l.client == "load") {
      // The world's client <-> server latency (Plan::client_latency_*), seeded by the run's seed
      // and the server, so a rerun draws the same delays.
      const std::string answer = p->command("latency " + std::to_string(plan_.client_latency_min_ms) + " " +
                                            std::to_string(plan_.client_latency_max_ms) + " " +
                                            std::to_string(plan_.seed * 1000 + server_index(l.target)));
      if (answer.rfind("ok", 0) != 0) return make_error("proxy load -> " + l.target + ": " + answer);
    }
    progress_("proxy " + l.client + " -> " + l.target + " on 127.0.0.1:" + std::to_string(p->port) +
              (l.client == "load" ? " (latency " + std::to_string(plan_.client_latency_min_ms) + ".." +
                                        std::to_string(plan_.client_latency_max_ms) + " ms)"
                                  : ""));
    proxies_[proxy_key(l)] = std::move(p);
  }
  return {};
}

void World::poll_restarts() {
  for (std::uint32_t k = 0; k < restarting_.size(); ++k) {
    if (!restarting_[k]) continue;
    // Its one line comes in one write: a short wait reads it whole or not at all.
    const auto line = servers_[k]->first_line(1);
    if (line) {
      restarting_[k] = false;
      progress_("server:" + std::to_string(k) + " " + *line + " (restarted)");
    } else if (!servers_[k]->running()) {
      restarting_[k] = false;
      failure_ = "server:" + std::to_string(k) + " did not start again (" + servers_[k]->log_path() +
                 "): " + servers_[k]->log_tail(800);
    }
  }
}

Result<void> World::start_server(std::uint32_t k, bool wait) {
  const std::string node = "server:" + std::to_string(k);
  std::vector<std::string> argv;
  if (plan_.faketime[k]) {
    const std::string file = dir_ + "/server" + std::to_string(k) + ".faketime";
    if (!fs::exists(file)) {
      if (auto ok = faults::real::set_clock(file, 0, 0); !ok) return make_error(ok.error().message);
    }
    argv.push_back("/usr/bin/env");
    for (std::string& e : faults::real::faketime_env(faketime_lib_, file)) argv.push_back(std::move(e));
  }
  const auto db = proxies_.find(proxy_key({node, "db"}));
  const std::string pg = db == proxies_.end() ? pg_url_ : pg_with_port(pg_url_, db->second->port);
  const std::string config = dir_ + "/server" + std::to_string(k) + ".yaml";
  std::ofstream(config) << policies_yaml(plan_.world.servers) << partitions_yaml(plan_, part_urls_);
  for (std::string a : {prog_.server, std::string("--config"), config, std::string("--listen"),
                        "127.0.0.1:" + std::to_string(ports_[k]), std::string("--node-id"), std::to_string(k),
                        std::string("--nodes"), std::to_string(plan_.servers), std::string("--pg-url"), pg,
                        std::string("--strategy"), plan_.strategy, std::string("--jwt-secret"), kSecret,
                        std::string("--lab-password"), std::string("lab")}) {
    argv.push_back(std::move(a));
  }
  if (plan_.replica) {
    argv.push_back("--pg-replica-url");
    argv.push_back(replica_url_);
  }
  if (plan_.redis) {
    // The bus and its recovery are in the configuration's policies too; said again here so the
    // server's command line shows the whole bus. Through the server's proxy when a partition
    // names the bus.
    const auto bus = proxies_.find(proxy_key({node, "bus"}));
    const std::string url = bus == proxies_.end() ? redis_url_ : "redis://127.0.0.1:" + std::to_string(bus->second->port);
    for (std::string a : {std::string("--bus"), std::string("redis"), std::string("--bus-recovery"),
                          std::string(name_of(plan_.world.servers.bus_recovery)),
                          std::string("--redis-url"), url}) {
      argv.push_back(std::move(a));
    }
  }
  for (std::uint32_t p = 0; p < plan_.servers; ++p) {
    if (p == k) continue;
    const auto link = proxies_.find(proxy_key({node, "server:" + std::to_string(p)}));
    const int port = link == proxies_.end() ? ports_[p] : link->second->port;
    argv.push_back("--peer");
    argv.push_back(std::to_string(p) + "=ws://127.0.0.1:" + std::to_string(port));
  }
  const std::string log = dir_ + "/server" + std::to_string(k) + "." + std::to_string(++starts_[k]) + ".log";
  servers_[k] = std::make_unique<Process>(std::move(argv), log, true);
  if (!wait) {
    restarting_[k] = true;
    return {};
  }
  const auto line = servers_[k]->first_line(30000);
  if (!line || line->rfind("listening 127.0.0.1:", 0) != 0) {
    return make_error(node + " did not start (" + log + "): " + servers_[k]->log_tail(800));
  }
  progress_(node + " " + *line + (starts_[k] > 1 ? " (restarted)" : ""));
  return {};
}

Result<void> World::wait_subscribed() {
  const auto until = SteadyClock::now() + std::chrono::seconds(15);
  for (std::uint32_t k = 0; k < plan_.servers; ++k) {
    while (servers_[k]->log_tail(1 << 20).find("convlab-server: bus up:") == std::string::npos) {
      if (SteadyClock::now() > until) {
        return make_error("server:" + std::to_string(k) + " did not subscribe to Redis " + redis_url_ + " within 15 s (" +
                          servers_[k]->log_path() + "): " + servers_[k]->log_tail(800));
      }
      if (stop_) return make_error("interrupted");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  progress_("every server subscribed to Redis");
  return {};
}

Result<void> World::start_load() {
  const double s = 1000.0;
  std::vector<std::string> argv{prog_.load,
                                "--clients", std::to_string(plan_.clients),
                                "--docs", std::to_string(plan_.docs),
                                "--duration", std::to_string(static_cast<double>(plan_.duration_ms) / s),
                                "--drain", std::to_string(std::max(5.0, static_cast<double>(plan_.quiesce_ms) / s)),
                                "--strategy", plan_.strategy,
                                "--seed", std::to_string(plan_.seed),
                                "--password", "lab",
                                "--history", dir_ + "/history.jsonl",
                                "--quiet"};
  // Every partition's change log (one cluster unpartitioned).
  for (const std::string& u : part_urls_) {
    argv.push_back("--pg");
    argv.push_back(u);
  }
  if (plan_.db_lost) {
    argv.push_back("--db-lost");
    argv.push_back(dir_ + "/db_lost.txt");
  }
  for (std::uint32_t k = 0; k < plan_.servers; ++k) {
    // Through the load's fault proxy when the plan has one (Plan::client_latency_*).
    const auto link = proxies_.find(proxy_key({"load", "server:" + std::to_string(k)}));
    argv.push_back("--url");
    argv.push_back("ws://127.0.0.1:" + std::to_string(link == proxies_.end() ? ports_[k] : link->second->port));
  }
  argv.insert(argv.end(), plan_.load_flags.begin(), plan_.load_flags.end());
  if (!cdn_url_.empty()) argv.push_back("--api-url=" + cdn_url_);
  load_ = std::make_unique<Process>(std::move(argv), dir_ + "/load.log", false);
  return {};
}

std::uint64_t World::apply_partition(const FaultSpec& f, bool heal) {
  for (const ProxyLink& l : plan_.proxies) {
    const std::string cut = partition_cut(f, l, plan_.world.servers.bus);
    if (cut.empty()) continue;
    const std::string answer = proxies_.at(proxy_key(l))->command(heal ? "heal" : "partition " + cut);
    if (answer.rfind("ok", 0) != 0) failure_ = "proxy " + l.client + " -> " + l.target + ": " + answer;
  }
  return 0;
}

std::uint64_t World::move_clock(const FaultSpec& f) {
  if (f.target.rfind("server:", 0) != 0) return 0;  // a client's clock: convlab-load's flags move it
  const std::uint32_t k = server_index(f.target);
  auto& [offset, drift] = clocks_[k];
  if (f.kind == FaultKind::kClockOffset) offset += f.value;  // as the simulator: an offset adds up
  if (f.kind == FaultKind::kClockDrift) drift = f.value;
  if (auto ok = faults::real::set_clock(dir_ + "/server" + std::to_string(k) + ".faketime", offset, drift); !ok) {
    failure_ = ok.error().message;
  }
  return 0;
}

void World::fault_event(history::EventType type, const FaultSpec& f) {
  history::Event e;
  e.type = type;
  e.kind = faults::name(f.kind);
  e.detail = faults::describe(f);
  fault_events_.emplace_back(monotonic_us(), std::move(e));
}

Result<RealOutput> World::run() {
  if (std::any_of(plan_.faketime.begin(), plan_.faketime.end(), [](bool b) { return b; })) {
    auto lib = faults::real::faketime_library();
    if (!lib) return make_error("a server clock fault needs libfaketime: " + lib.error().message);
    faketime_lib_ = *lib;
  }
  auto url = pg_.start("pg", {}, plan_.archived);
  if (!url) return make_error(url.error().message);
  pg_url_ = *url;
  progress_("PostgreSQL " + pg_url_);
  part_urls_ = {pg_url_};
  // One throwaway cluster per partition, each its own directory and loopback port; the
  // destructors stop them, also when the run fails or is interrupted.
  for (std::uint32_t k = 1; k < plan_.databases; ++k) {
    if (stop_) return make_error("interrupted");
    parts_.push_back(std::make_unique<Cluster>(prog_.pg_sh, dir_));
    auto u = parts_.back()->start("pg-partition" + std::to_string(k));
    if (!u) return make_error(u.error().message);
    part_urls_.push_back(*u);
    progress_("PostgreSQL partition " + std::to_string(k) + " " + *u);
  }
  if (plan_.work_us_per_append > 0) {
    // database.work_us_per_append: every cluster's change log gets the work trigger before any
    // server starts (the schema made here; the servers find it made).
    for (std::size_t k = 0; k < part_urls_.size(); ++k) {
      if (auto ok = pg::install_append_work(part_urls_[k], plan_.work_us_per_append); !ok) {
        return make_error("partition " + std::to_string(k) + ": " + ok.error().message);
      }
    }
    progress_("append work: " + std::to_string(plan_.work_us_per_append) + " us per appended row, serial per cluster, on " +
              std::to_string(part_urls_.size()) + " cluster(s)");
  }
  if (plan_.replica) {
    auto r = replica_.start("replica", {pg_.dir(), std::to_string(plan_.world.database.replica_lag_ms)});
    if (!r) return make_error(r.error().message);
    replica_url_ = *r;
    progress_("replica " + replica_url_ + " (lag " + std::to_string(plan_.world.database.replica_lag_ms) + " ms)");
  }
  if (plan_.redis) {
    auto r = redis_.start();
    if (!r) return make_error(r.error().message);
    redis_url_ = *r;
    progress_("Redis " + redis_url_);
  }
  ports_.assign(plan_.servers, 0);
  for (int& p : ports_) p = free_port();
  servers_.resize(plan_.servers);
  starts_.assign(plan_.servers, 0);
  restarting_.assign(plan_.servers, false);
  clocks_.assign(plan_.servers, {0, 0});
  if (auto ok = start_proxies(); !ok) return make_error(ok.error().message);
  for (std::uint32_t k = 0; k < plan_.servers; ++k) {
    if (auto ok = start_server(k); !ok) return make_error(ok.error().message);
  }
  if (plan_.redis) {
    if (auto ok = wait_subscribed(); !ok) return make_error(ok.error().message);
  }
  if (plan_.cdn_ttl_s > 0) {
    // In front of every server, round robin; convlab-load sends its API reads there.
    std::string upstream;
    for (int port : ports_) upstream += (upstream.empty() ? "" : ",") + std::string("127.0.0.1:") + std::to_string(port);
    auto u = cdn_.start(upstream, plan_.cdn_ttl_s);
    if (!u) return make_error(u.error().message);
    cdn_url_ = *u;
    progress_("CDN (nginx proxy_cache, " + std::to_string(plan_.cdn_ttl_s) + " s) " + cdn_url_);
  }
  if (plan_.archived) {
    // The base backup, once the servers have made the schema: the archive's starting point.
    if (auto ok = pg_.backup(); !ok) return make_error(ok.error().message);
    progress_("base backup taken (scripts/pg.sh backup)");
  }
  if (stop_) return make_error("interrupted");
  if (auto ok = start_load(); !ok) return make_error(ok.error().message);
  auto t0 = SteadyClock::now();
  if (!plan_.world.initial_text.empty()) {
    // convlab-load types the initial text before its t = 0 and says when t = 0 was (this
    // machine's monotonic clock): the schedule counts from there, as the history does.
    const std::string marker = "t = 0 at monotonic ";
    for (;;) {
      const std::string log = load_->log_tail(16000);
      const auto at = log.find(marker);
      if (at != std::string::npos && log.find(" us", at) != std::string::npos) {
        t0 = SteadyClock::time_point(std::chrono::microseconds(std::stoll(log.substr(at + marker.size()))));
        break;
      }
      if (stop_) return make_error("interrupted");
      if (!load_->running()) break;  // its exit and log are reported below
      if (SteadyClock::now() - t0 > std::chrono::seconds(120)) {
        return make_error("convlab-load did not finish typing the initial text within 120 s (" + load_->log_path() + ")");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  progress_("convlab-load: " + std::to_string(plan_.clients) + " clients, " + std::to_string(plan_.docs) + " docs, " +
            std::to_string(plan_.duration_ms / 1000) + " s of typing");

  // The schedule: begins and ends at their times from the load's start; what lasts to the heal
  // ends there without a recover event, as in the simulator.
  struct Step {
    std::int64_t at_ms;
    bool begin;
    std::size_t fault;
    bool archive = false;  // an archive point (pg.sh switch), not a fault
  };
  std::vector<Step> steps;
  if (plan_.archived) {
    // Archive points every interval of the run while the cluster archives: up to the loss.
    std::int64_t loss_ms = plan_.duration_ms;
    for (const FaultSpec& f : plan_.faults) {
      if (f.kind == FaultKind::kDbLost) loss_ms = std::min(loss_ms, f.at_ms);
    }
    for (std::int64_t t = plan_.archive_interval_ms; t < loss_ms; t += plan_.archive_interval_ms) steps.push_back({t, true, 0, true});
  }
  for (std::size_t i = 0; i < plan_.faults.size(); ++i) {
    const FaultSpec& f = plan_.faults[i];
    if (f.at_ms >= plan_.duration_ms) continue;
    steps.push_back({f.at_ms, true, i});
    const bool ends = faults::info(f.kind).real_end != nullptr;
    if (ends) steps.push_back({f.for_ms > 0 ? std::min(f.at_ms + f.for_ms, plan_.duration_ms) : plan_.duration_ms, false, i});
  }
  std::stable_sort(steps.begin(), steps.end(), [](const Step& a, const Step& b) { return a.at_ms < b.at_ms; });
  auto elapsed_ms = [&] { return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t0).count(); };
  for (const Step& st : steps) {
    while (elapsed_ms() < st.at_ms) {
      if (stop_) return make_error("interrupted");
      if (!load_->running()) break;
      poll_restarts();
      if (!failure_.empty()) return make_error(failure_);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!load_->running()) break;
    if (st.archive) {
      const std::int64_t at = monotonic_us();
      auto lsn = pg_.switch_wal();
      if (!lsn) return make_error(lsn.error().message);
      archive_us_.push_back(at);
      ++archive_points_;
      progress_(std::to_string(elapsed_ms()) + " ms: archive point " + *lsn + " (scripts/pg.sh switch)");
      continue;
    }
    const FaultSpec& f = plan_.faults[st.fault];
    const faults::KindInfo& kind = faults::info(f.kind);
    const bool at_heal = !st.begin && (f.for_ms == 0 || f.at_ms + f.for_ms >= plan_.duration_ms);
    if (st.begin) {
      fault_event(history::EventType::kFault, f);
      (this->*kind.real_begin)(f);
      progress_(std::to_string(elapsed_ms()) + " ms: " + std::string(kind.name) + " " + faults::describe(f));
    } else {
      const bool visible = (this->*kind.real_end)(f, 0);
      if (visible && !at_heal) fault_event(history::EventType::kRecover, f);
      progress_(std::to_string(elapsed_ms()) + " ms: end of " + std::string(kind.name) + " " + faults::describe(f));
    }
    if (!failure_.empty()) return make_error(failure_);
  }
  // The heal (typing stops at duration_ms): every server's per-partition metrics, as the
  // simulator samples its partition counters at the heal.
  if (plan_.databases > 1) {
    while (load_->running() && elapsed_ms() < plan_.duration_ms) {
      if (stop_) return make_error("interrupted");
      poll_restarts();
      if (!failure_.empty()) return make_error(failure_);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    scrape_partitions();
  }
  // convlab-load types, drains and reads the durable state; then it exits.
  const std::int64_t limit_ms = plan_.duration_ms + std::max<std::int64_t>(5000, plan_.quiesce_ms) + 120000;
  while (load_->running()) {
    if (stop_) return make_error("interrupted");
    if (elapsed_ms() > limit_ms) return make_error("convlab-load did not finish within " + std::to_string(limit_ms / 1000) + " s");
    poll_restarts();
    if (!failure_.empty()) return make_error(failure_);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const int code = load_->wait(0).value_or(-1);
  progress_("convlab-load exited " + std::to_string(code) + " after " + std::to_string(elapsed_ms() / 1000) + " s");
  // When its clients showed the durable text (or that they did not within the drain): the
  // history is judged from there.
  std::istringstream log(load_->log_tail(8000));
  for (std::string line; std::getline(log, line);) {
    if (line.rfind("caught up: ", 0) == 0 || line.rfind("not caught up: ", 0) == 0) progress_("convlab-load " + line);
  }
  return finish(code);
}

Result<void> World::check_partitions() {
  if (plan_.databases <= 1) return {};
  const PartitionMap map(plan_.world.database.partitioning, plan_.docs);
  std::ofstream file(dir_ + "/partitions.txt");
  file << "# " << describe(plan_.world.database.partitioning, plan_.docs)
       << ": the documents with change-log rows in each partition's cluster\n";
  std::vector<int> holder(plan_.docs, -1);
  std::string wrong;
  for (std::uint32_t k = 0; k < part_urls_.size(); ++k) {
    auto logs = pg::read_change_logs(part_urls_[k], plan_.docs);
    if (!logs) return make_error("partition " + std::to_string(k) + " (" + part_urls_[k] + "): " + logs.error().message);
    std::size_t rows = 0, docs = 0;
    file << "partition " << k << ":";
    partition_server_ms_.emplace_back();
    for (std::uint32_t d = 0; d < plan_.docs; ++d) {
      for (const LogRecord& r : (*logs)[d]) partition_server_ms_.back().push_back(r.server_ms);
      if ((*logs)[d].empty()) continue;
      file << ' ' << d;
      rows += (*logs)[d].size();
      ++docs;
      if (holder[d] >= 0 && wrong.empty()) {
        wrong = "document " + std::to_string(d) + " has rows in partitions " + std::to_string(holder[d]) + " and " + std::to_string(k);
      }
      holder[d] = static_cast<int>(k);
      if (map.route(d) != k && wrong.empty()) {
        wrong = "document " + std::to_string(d) + " has rows in partition " + std::to_string(k) + ", the rule names " +
                std::to_string(map.route(d));
      }
    }
    file << '\n';
    progress_("partition " + std::to_string(k) + ": " + std::to_string(docs) + " documents, " + std::to_string(rows) +
              " change-log rows");
  }
  if (!wrong.empty()) return make_error("partitions: " + wrong + " (" + dir_ + "/partitions.txt)");
  return {};
}

void World::scrape_partitions() {
  partition_scrape_us_ = monotonic_us();
  partition_scrape_wall_ms_ =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  // Each server's /metrics, only the lines of partition P: summed over the servers.
  std::vector<std::string> texts;
  for (std::uint32_t k = 0; k < plan_.servers; ++k) {
    if (!servers_[k] || !servers_[k]->running()) continue;  // a crashed server's counters went with it
    auto m = http_get(ports_[k], "/metrics", 5000);
    if (m) texts.push_back(std::move(*m));
  }
  for (std::uint32_t p = 0; p < plan_.databases; ++p) {
    const std::string label = "partition=\"" + std::to_string(p) + "\"";
    std::string mine;
    for (const std::string& text : texts) {
      std::istringstream in(text);
      for (std::string line; std::getline(in, line);) {
        if (line.find(label) != std::string::npos) mine += line + "\n";
      }
    }
    const std::string prefix = "partition." + std::to_string(p) + ".";
    const auto count = [&](const char* name) {
      return static_cast<std::uint64_t>(std::llround(prometheus_sum(mine, name).value_or(0)));
    };
    partition_counters_[prefix + "commits"] = count("convlab_partition_commits_total");
    partition_counters_[prefix + "appends_committed"] = count("convlab_partition_appends_total");
    // Each append's arrival in its server's store to its commit (the simulator's definition);
    // the transaction's BEGIN..COMMIT is convlab_partition_commit_seconds, not used here.
    const auto buckets = prometheus_buckets(mine, "convlab_partition_append_commit_seconds");
    partition_counters_[prefix + "commit_us_p50"] = static_cast<std::uint64_t>(std::llround(bucket_quantile({}, buckets, 0.5) * 1e6));
    partition_counters_[prefix + "commit_us_p99"] = static_cast<std::uint64_t>(std::llround(bucket_quantile({}, buckets, 0.99) * 1e6));
    progress_("partition " + std::to_string(p) + " at the heal (" + std::to_string(texts.size()) + " servers' /metrics): " +
              std::to_string(partition_counters_[prefix + "commits"]) + " commits, " +
              std::to_string(partition_counters_[prefix + "appends_committed"]) + " appends committed, commit p50 " +
              std::to_string(partition_counters_[prefix + "commit_us_p50"] / 1000) + " ms, p99 " +
              std::to_string(partition_counters_[prefix + "commit_us_p99"] / 1000) + " ms");
  }
}

Result<RealOutput> World::finish(int load_exit) {
  if (auto ok = check_partitions(); !ok) return make_error(ok.error().message);
  RealOutput out;
  out.load_exit = load_exit;
  out.history_path = dir_ + "/history.jsonl";
  auto events = history::read_file(out.history_path);
  if (!events) return make_error("convlab-load wrote no history (exit " + std::to_string(load_exit) + "): " + events.error().message + "\n" + load_->log_tail(1500));
  if (events->empty() || events->front().type != history::EventType::kMeta ||
      !events->front().meta.contains("start_monotonic_us")) {
    return make_error(out.history_path + ": no meta line with start_monotonic_us");
  }
  history::Event& meta = events->front();
  const std::int64_t start_us = std::stoll(meta.meta.at("start_monotonic_us"));
  meta.meta["scenario"] = plan_.scenario;
  meta.meta["variant"] = plan_.variant;
  meta.meta["world"] = "real";
  if (plan_.scale < 1.0) meta.meta["time_scale"] = std::to_string(plan_.scale);
  if (!archive_us_.empty()) {
    // Where each archive point began (t of the history): every record committed before it is in
    // the archive, so the restore keeps every edit acknowledged before the last one.
    std::ofstream archives(dir_ + "/archive_points.txt");
    for (const std::int64_t at : archive_us_) archives << std::max<std::int64_t>(0, at - start_us) << '\n';
    archives.close();
    if (!archives) return make_error("cannot write " + dir_ + "/archive_points.txt");
  }
  // The fault lines go before the load's lines, so that at one time a fault comes first: a lost
  // database's restore (convlab-load's commit with no writer at the loss's instant) follows its
  // fault line, as the simulator writes it.
  std::vector<history::Event> faults;
  for (auto& [at_us, e] : fault_events_) {
    e.t_us = std::max<std::int64_t>(0, at_us - start_us);
    faults.push_back(std::move(e));
  }
  if (partition_scrape_us_ > 0) {
    // The simulator's partition counters at the heal: commits and the commit latency from the
    // servers' /metrics (scrape_partitions), and `partition.P.appends`, the appends that reached
    // partition P from t = 0 to the heal: the rows of P's change log (read after the run) whose
    // server_ms (the server's wall clock when it sent the append to its store) lies between t = 0
    // and the scrape; the initial text's rows, made before t = 0, are not counted, as the
    // simulator appends none for it (docs/real-faults.md, "A saturable partition").
    const std::int64_t at = std::max<std::int64_t>(0, partition_scrape_us_ - start_us);
    const std::int64_t t0_wall_ms = partition_scrape_wall_ms_ - at / 1000;
    history::Event c;
    c.type = history::EventType::kCounters;
    c.t_us = at;
    c.counters = partition_counters_;
    for (std::uint32_t p = 0; p < plan_.databases; ++p) {
      std::uint64_t n = 0;
      if (p < partition_server_ms_.size()) {
        for (const std::int64_t ms : partition_server_ms_[p]) n += (ms >= t0_wall_ms && ms <= partition_scrape_wall_ms_) ? 1 : 0;
      }
      c.counters["partition." + std::to_string(p) + ".appends"] = n;
    }
    // The checkers read the last counters line: the load's own last one (presence) gets these too.
    for (auto it = events->rbegin(); it != events->rend(); ++it) {
      if (it->type == history::EventType::kCounters) {
        for (const auto& [name, value] : c.counters) it->counters.emplace(name, value);
        break;
      }
    }
    faults.push_back(std::move(c));
  }
  events->insert(events->begin() + 1, std::make_move_iterator(faults.begin()), std::make_move_iterator(faults.end()));
  // Time order, the meta line first; events at one time keep their order (faults first).
  std::stable_sort(events->begin() + 1, events->end(),
                   [](const history::Event& a, const history::Event& b) { return a.t_us < b.t_us; });
  std::ofstream file(out.history_path, std::ios::binary | std::ios::trunc);
  history::Writer writer(&file);
  for (const history::Event& e : *events) writer.write(e);
  if (!file) return make_error(out.history_path + ": cannot rewrite");
  out.events = std::move(*events);
  return out;
}

}  // namespace

Result<RealOutput> run_plan(const Plan& plan, const Programs& programs, const std::string& dir,
                            const std::atomic<bool>& stop, const std::function<void(const std::string&)>& progress) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return make_error(dir + ": cannot create: " + ec.message());
  World world(plan, programs, dir, stop, progress);
  return world.run();
}

}  // namespace convlab::realrun
