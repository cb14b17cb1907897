// `convlab calibrate`'s measurement (realrun/calibrate.hpp).
#include "realrun/calibrate.hpp"

#include "realrun/cluster.hpp"
#include "realrun/process.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <thread>

namespace convlab::realrun {

namespace {

const std::string kSecret = "calibrate-secret-calibrate-secret-0123456789";


// User + system CPU seconds of a process so far (/proc/PID/stat fields 14 and 15).
double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream fields(stat.substr(paren + 2));
  std::string f;
  double utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::stod(f);
    if (i == 15) stime = std::stod(f);
  }
  return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// The machine's CPU time so far (/proc/stat).
std::optional<MachineCpu> machine_cpu() {
  std::ifstream in("/proc/stat");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_proc_stat(text, static_cast<double>(::sysconf(_SC_CLK_TCK)));
}

// CPU seconds of a PostgreSQL cluster: its postmaster (DATA/postmaster.pid) and its children.
double cluster_cpu_seconds(const std::string& data_dir) {
  std::ifstream pid_file(data_dir + "/postmaster.pid");
  pid_t postmaster = 0;
  if (!(pid_file >> postmaster) || postmaster <= 0) return 0;
  double s = cpu_seconds(postmaster);
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::size_t paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream fields(stat.substr(paren + 2));
    std::string state;
    pid_t ppid = 0;
    if (fields >> state >> ppid && ppid == postmaster) s += cpu_seconds(static_cast<pid_t>(std::stol(name)));
  }
  return s;
}

std::string fmt(double v, const char* spec = "%.1f") {
  char buf[64];
  std::snprintf(buf, sizeof buf, spec, v);
  return buf;
}

// A snapshot of every server: its CPU and its /metrics text.
struct Scrape {
  double cpu_s = 0;
  std::vector<std::string> metrics;
  double sum(const std::string& name, const std::string& label = "") const {
    double s = 0;
    for (const std::string& m : metrics) s += prometheus_sum(m, name, label).value_or(0);
    return s;
  }
  std::vector<std::pair<double, double>> buckets(const std::string& name) const {
    std::vector<std::pair<double, double>> out;
    for (const std::string& m : metrics) {
      const auto b = prometheus_buckets(m, name);
      if (out.empty()) {
        out = b;
      } else {
        for (std::size_t i = 0; i < out.size() && i < b.size(); ++i) out[i].second += b[i].second;
      }
    }
    return out;
  }
};

// The servers of one phase on one PostgreSQL, stopped by the destructor.
class Servers {
 public:
  Servers(const Programs& prog, std::string dir) : prog_(prog), dir_(std::move(dir)) {}
  ~Servers() {
    for (auto& s : procs_) s->signal(SIGTERM);
    for (auto& s : procs_) s->wait(10000);
  }
  Servers(const Servers&) = delete;
  Servers& operator=(const Servers&) = delete;

  Result<void> start(const CalibrateOptions& o, const std::string& pg_url, const std::string& phase,
                     const std::string& policies) {
    ports_.clear();
    for (std::uint32_t k = 0; k < o.servers; ++k) {
      const int port = free_port();
      if (port == 0) return make_error("no free loopback port for a server");
      ports_.push_back(port);
    }
    const std::string config = dir_ + "/" + phase + ".yaml";
    std::ofstream(config) << policies;
    for (std::uint32_t k = 0; k < o.servers; ++k) {
      std::vector<std::string> argv{prog_.server,  "--config",    config,
                                    "--listen",    "127.0.0.1:" + std::to_string(ports_[k]),
                                    "--node-id",   std::to_string(k),
                                    "--nodes",     std::to_string(o.servers),
                                    "--pg-url",    pg_url,
                                    "--strategy",  o.strategy,
                                    "--jwt-secret", kSecret,
                                    "--lab-password", "lab",
                                    "--commit-interval-ms", std::to_string(o.commit_interval_ms)};
      for (std::uint32_t p = 0; p < o.servers; ++p) {
        if (p == k) continue;
        argv.push_back("--peer");
        argv.push_back(std::to_string(p) + "=ws://127.0.0.1:" + std::to_string(ports_[p]));
      }
      const std::string log = dir_ + "/" + phase + "-server" + std::to_string(k) + ".log";
      procs_.push_back(std::make_unique<Process>(std::move(argv), log, true));
      const auto line = procs_.back()->first_line(30000);
      if (!line || line->rfind("listening ", 0) != 0) {
        return make_error("server " + std::to_string(k) + " did not start (" + log + "): " + procs_.back()->log_tail(800));
      }
    }
    return {};
  }

  Result<Scrape> scrape() const {
    Scrape s;
    for (std::size_t k = 0; k < procs_.size(); ++k) {
      s.cpu_s += cpu_seconds(procs_[k]->pid());
      auto m = http_get(ports_[k], "/metrics", 5000);
      if (!m) return make_error("server " + std::to_string(k) + " did not answer GET /metrics");
      s.metrics.push_back(std::move(*m));
    }
    return s;
  }

  const std::vector<int>& ports() const { return ports_; }

 private:
  const Programs& prog_;
  std::string dir_;
  std::vector<int> ports_;
  std::vector<std::unique_ptr<Process>> procs_;
};

// convlab-load against the servers: typing for `warm_s + window_s + 1` seconds; the caller
// scrapes at warm_s and at warm_s + window_s.
std::unique_ptr<Process> start_load(const CalibrateOptions& o, const Programs& prog, const std::vector<int>& ports,
                                    double rate, double typing_s, const std::string& log) {
  std::vector<std::string> argv{prog.load,    "--clients",  std::to_string(o.clients),
                                "--docs",     std::to_string(o.docs),
                                "--rate",     fmt(rate, "%g"),
                                "--duration", fmt(typing_s, "%g"),
                                "--ramp",     std::to_string(std::max<std::uint32_t>(1, o.clients * 4)),
                                "--drain",    "5",
                                "--strategy", o.strategy,
                                "--seed",     "1",
                                "--password", "lab",
                                "--quiet"};
  for (int p : ports) {
    argv.push_back("--url");
    argv.push_back("ws://127.0.0.1:" + std::to_string(p));
  }
  return std::make_unique<Process>(std::move(argv), log, false);
}

// Sleeps up to `s` seconds in small steps; false when `stop` was set.
bool nap(double s, const std::atomic<bool>& stop) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(s);
  while (std::chrono::steady_clock::now() < until) {
    if (stop) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return !stop;
}

std::string us_text(sim::RangeUs r) { return "[" + std::to_string(r.min) + ", " + std::to_string(r.max) + "] us"; }

const Error kInterrupted{"interrupted; every process it started is stopped"};

}  // namespace

std::optional<std::string> http_get(int port, const std::string& path, int timeout_ms) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  std::string got;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      pollfd p{fd, POLLIN, 0};
      char buf[65536];
      while (::poll(&p, 1, timeout_ms) > 0) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) break;
        got.append(buf, static_cast<std::size_t>(n));
      }
    }
  }
  ::close(fd);
  const std::size_t body = got.find("\r\n\r\n");
  if (got.rfind("HTTP/1.1 200", 0) != 0 || body == std::string::npos) return std::nullopt;
  return got.substr(body + 4);
}

// --- IO-free parts ---------------------------------------------------------------------------

std::optional<double> prometheus_sum(const std::string& text, const std::string& name, const std::string& label) {
  std::istringstream in(text);
  std::string line;
  std::optional<double> sum;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line.compare(0, name.size(), name) != 0) continue;
    const char next = line.size() > name.size() ? line[name.size()] : '\0';
    if (next != ' ' && next != '{') continue;  // another metric whose name starts with this one
    const std::size_t space = line.rfind(' ');
    const std::string labels = line.substr(name.size(), space - name.size());
    if (!label.empty() && labels.find(label) == std::string::npos) continue;
    try {
      sum = sum.value_or(0) + std::stod(line.substr(space + 1));
    } catch (const std::exception&) {
      continue;
    }
  }
  return sum;
}

std::vector<std::pair<double, double>> prometheus_buckets(const std::string& text, const std::string& name) {
  std::map<double, double> by_le;
  std::istringstream in(text);
  std::string line;
  const std::string prefix = name + "_bucket{";
  const std::regex le_re(R"re(le="([^"]+)")re");
  while (std::getline(in, line)) {
    if (line.compare(0, prefix.size(), prefix) != 0) continue;
    std::smatch m;
    if (!std::regex_search(line, m, le_re)) continue;
    const std::string le = m[1].str();
    const double bound = le == "+Inf" ? std::numeric_limits<double>::infinity() : std::stod(le);
    by_le[bound] += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return {by_le.begin(), by_le.end()};
}

double bucket_quantile(const std::vector<std::pair<double, double>>& before,
                       const std::vector<std::pair<double, double>>& after, double q) {
  std::vector<std::pair<double, double>> d = after;
  for (std::size_t i = 0; i < d.size() && i < before.size(); ++i) d[i].second -= before[i].second;
  if (d.empty() || d.back().second <= 0) return 0;
  const double target = q * d.back().second;
  double lo_bound = 0, lo_count = 0;
  for (const auto& [bound, count] : d) {
    if (count >= target) {
      if (std::isinf(bound)) return lo_bound;
      const double in_bucket = count - lo_count;
      return in_bucket <= 0 ? bound : lo_bound + (bound - lo_bound) * (target - lo_count) / in_bucket;
    }
    lo_bound = bound;
    lo_count = count;
  }
  return lo_bound;
}

std::optional<MachineCpu> parse_proc_stat(const std::string& text, double ticks_per_s) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("cpu ", 0) != 0) continue;
    std::istringstream f(line.substr(4));
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    double v[8] = {};
    int n = 0;
    while (n < 8 && f >> v[n]) ++n;
    if (n < 4 || !(ticks_per_s > 0)) return std::nullopt;
    MachineCpu m;
    m.busy_s = (v[0] + v[1] + v[2] + v[5] + v[6]) / ticks_per_s;
    m.idle_s = (v[3] + v[4]) / ticks_per_s;
    m.steal_s = v[7] / ticks_per_s;
    return m;
  }
  return std::nullopt;
}

double available_cpus(const MachineCpu& before, const MachineCpu& after, double ours_cpu_s, double wall_s, double cpus) {
  if (!(wall_s > 0) || !(cpus > 0)) return cpus;
  const double idle = std::max(0.0, after.idle_s - before.idle_s);
  const double had = (std::max(0.0, ours_cpu_s) + idle) / wall_s;
  const double clamped = std::clamp(had, 0.05, cpus);
  return std::max(0.05, std::round(clamped * 100) / 100);
}

sim::RangeUs range_around_mean(double mean_s, double p10_s, double p90_s) {
  const double half = std::max(0.0, p90_s - p10_s) / 2 * 1e6;
  const double mean = std::max(0.0, mean_s) * 1e6;
  const auto lo = static_cast<std::int64_t>(std::llround(std::max(0.0, mean - half)));
  const auto hi = static_cast<std::int64_t>(std::llround(mean + half));
  return sim::RangeUs{lo, std::max(lo, hi)};
}

std::vector<double> psql_times(const std::string& log) {
  std::vector<double> out;
  const std::regex re(R"(^Time: ([0-9.]+) ms)");
  std::istringstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_search(line, m, re)) out.push_back(std::stod(m[1].str()) / 1000.0);
  }
  return out;
}

// --- the measurement -------------------------------------------------------------------------

Result<sim::Calibration> calibrate(const CalibrateOptions& o, const Programs& prog, const std::string& dir,
                                   const std::atomic<bool>& stop, const std::function<void(const std::string&)>& progress) {
  sim::Calibration c;
  c.measured = {o.strategy, o.servers, o.clients, o.docs, o.rate, o.seconds};
  c.commit_interval_us = o.commit_interval_ms * 1000;

  progress("[1/4] PostgreSQL: scripts/pg.sh start (a throwaway cluster)");
  Cluster pg(prog.pg_sh, dir);
  auto url = pg.start("pg");
  if (!url) return url.error();
  if (stop) return kInterrupted;

  const double warm_s = 1.5;  // logins and subscriptions done (ramp: clients/4 s) before the window
  {
    progress("[2/4] frames: " + std::to_string(o.servers) + " convlab-server(s), " + std::to_string(o.clients) +
             " typing clients on " + std::to_string(o.docs) + " documents at " + fmt(o.rate, "%g") +
             " edits/s each, " + fmt(o.seconds, "%g") + " s measured");
    Servers servers(prog, dir);
    if (auto ok = servers.start(o, *url, "frames", "policies:\n  propagation: bus\n"); !ok) return ok.error();
    auto load = start_load(o, prog, servers.ports(), o.rate, warm_s + o.seconds + 1, dir + "/frames-load.log");
    if (!nap(warm_s, stop)) return kInterrupted;
    const double others_a = cpu_seconds(load->pid()) + cluster_cpu_seconds(pg.dir() + "/data");
    const auto machine_a = machine_cpu();
    const auto wall_a = std::chrono::steady_clock::now();
    auto a = servers.scrape();
    if (!a) return a.error();
    if (!nap(o.seconds, stop)) return kInterrupted;
    auto b = servers.scrape();
    if (!b) return b.error();
    const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_a).count();
    const auto machine_b = machine_cpu();
    const double others = cpu_seconds(load->pid()) + cluster_cpu_seconds(pg.dir() + "/data") - others_a;
    const double frames = b->sum("convlab_frames_received_total") - a->sum("convlab_frames_received_total");
    if (frames <= 0) return make_error("the servers received no client frames (see " + dir + "/frames-load.log)");
    const double cpu = b->cpu_s - a->cpu_s;
    c.server_work_us_per_frame = std::llround(1e6 * cpu / frames);
    progress("      " + fmt(frames, "%.0f") + " client frames, " + fmt(cpu, "%.2f") + " s server CPU: " +
             std::to_string(c.server_work_us_per_frame) + " us per frame");
    const double cores = std::max(1u, std::thread::hardware_concurrency());
    c.host_us_per_frame = std::llround(1e6 * others / frames);
    progress("      the rest of this " + fmt(cores, "%g") + "-CPU machine (convlab-load, PostgreSQL): " +
             fmt(others, "%.2f") + " s CPU, " + std::to_string(c.host_us_per_frame) + " us per frame");
    // What the machine's load left these processes: their CPU and the idle time, per second.
    if (!machine_a || !machine_b) return make_error("cannot read /proc/stat (the machine's CPU time)");
    c.host_cpus = available_cpus(*machine_a, *machine_b, cpu + others, wall_s, cores);
    const double tenants = std::max(0.0, (machine_b->busy_s - machine_a->busy_s) - (cpu + others)) +
                           (machine_b->steal_s - machine_a->steal_s);
    progress("      CPU these processes had: " + fmt(c.host_cpus, "%.2f") + " of " + fmt(cores, "%g") + " cores (" +
             fmt(cpu + others, "%.2f") + " s theirs + " + fmt(machine_b->idle_s - machine_a->idle_s, "%.2f") +
             " s idle over " + fmt(wall_s, "%.2f") + " s; other processes " + fmt(tenants, "%.2f") + " s): host_cpus " +
             fmt(c.host_cpus, "%g"));

    const double commits = b->sum("convlab_commit_seconds_count") - a->sum("convlab_commit_seconds_count");
    const double commit_sum = b->sum("convlab_commit_seconds_sum") - a->sum("convlab_commit_seconds_sum");
    const double appends = b->sum("convlab_commit_batch_appends_sum") - a->sum("convlab_commit_batch_appends_sum");
    if (commits <= 0) return make_error("the servers committed nothing (see " + dir + "/frames-server0.log)");
    const auto cb = a->buckets("convlab_commit_seconds");
    const auto ca = b->buckets("convlab_commit_seconds");
    c.commit_us = range_around_mean(commit_sum / commits, bucket_quantile(cb, ca, 0.1), bucket_quantile(cb, ca, 0.9));
    progress("      " + fmt(commits, "%.0f") + " group commits of " + fmt(appends / commits) + " appends, mean " +
             fmt(1e3 * commit_sum / commits, "%.2f") + " ms: commit " + us_text(c.commit_us));

    const double notified = b->sum("convlab_notify_lag_seconds_count") - a->sum("convlab_notify_lag_seconds_count");
    const double lag_sum = b->sum("convlab_notify_lag_seconds_sum") - a->sum("convlab_notify_lag_seconds_sum");
    if (o.servers < 2 || notified <= 0) {
      // One server hears no other's NOTIFY: its delay stays the simulator's default.
      c.notify_us = sim::RangeUs{2000, 6000};
      progress("      no NOTIFY between servers measured (one server): notify left at the default " + us_text(c.notify_us));
    } else {
      const auto nb = a->buckets("convlab_notify_lag_seconds");
      const auto na = b->buckets("convlab_notify_lag_seconds");
      c.notify_us = range_around_mean(lag_sum / notified, bucket_quantile(nb, na, 0.1), bucket_quantile(nb, na, 0.9));
      progress("      " + fmt(notified, "%.0f") + " records over NOTIFY, mean " + fmt(1e3 * lag_sum / notified, "%.2f") +
               " ms: notify " + us_text(c.notify_us));
    }
    load->wait(static_cast<int>(1000 * (o.seconds + 30)));
  }
  if (stop) return kInterrupted;
  {
    progress("[3/4] polls: the servers with propagation: poll every " + std::to_string(o.poll_interval_ms) + " ms, " +
             fmt(o.poll_seconds, "%g") + " s measured");
    Servers servers(prog, dir);
    const std::string policies =
        "policies:\n  propagation: poll\n  poll_interval_ms: " + std::to_string(o.poll_interval_ms) + "\n";
    if (auto ok = servers.start(o, *url, "polls", policies); !ok) return ok.error();
    const double light = 0.5;  // edits/s per client: the documents stay open, the CPU is the polls'
    auto load = start_load(o, prog, servers.ports(), light, warm_s + o.poll_seconds + 1, dir + "/polls-load.log");
    if (!nap(warm_s, stop)) return kInterrupted;
    auto a = servers.scrape();
    if (!a) return a.error();
    if (!nap(o.poll_seconds, stop)) return kInterrupted;
    auto b = servers.scrape();
    if (!b) return b.error();
    const std::string kind = "kind=\"read_log\"";
    const double reads = b->sum("convlab_store_requests_total", kind) - a->sum("convlab_store_requests_total", kind);
    const double frames = b->sum("convlab_frames_received_total") - a->sum("convlab_frames_received_total");
    const double cpu = b->cpu_s - a->cpu_s;
    if (reads <= 0) return make_error("the servers made no store reads while polling (see " + dir + "/polls-server0.log)");
    const double beyond = std::max(0.0, cpu - frames * static_cast<double>(c.server_work_us_per_frame) / 1e6);
    c.server_work_us_per_read = std::llround(1e6 * beyond / reads);
    progress("      " + fmt(reads, "%.0f") + " polls, " + fmt(frames, "%.0f") + " frames, " + fmt(cpu, "%.2f") +
             " s server CPU: " + std::to_string(c.server_work_us_per_read) + " us per poll beyond the frames'");
    load->wait(static_cast<int>(1000 * (o.poll_seconds + 30)));
  }
  if (stop) return kInterrupted;
  {
    progress("[4/4] reads: " + std::to_string(o.reads) + " timed log reads in one psql session");
    const std::string script = dir + "/reads.sql";
    {
      std::ofstream sql(script);
      sql << "\\timing on\n";
      for (std::uint32_t i = 0; i < o.reads; ++i) {
        sql << "SELECT seq, author, client_ms, server_ms, payload FROM changes WHERE doc = " << (i % o.docs)
            << " AND seq > (SELECT coalesce(max(seq), 0) - 2 FROM changes WHERE doc = " << (i % o.docs) << ");\n";
      }
    }
    const std::string log = dir + "/reads.log";
    // The psql of the PostgreSQL scripts/pg.sh runs (a path: the child is started with execv).
    if (run_command({"/usr/lib/postgresql/15/bin/psql", "-X", "-q", "-o", "/dev/null", "-f", script, *url}, log, 60000) != 0) {
      return make_error("psql failed (see " + log + ")");
    }
    std::ifstream in(log);
    std::vector<double> t = psql_times(std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()));
    if (t.size() < 10) return make_error("psql timed " + std::to_string(t.size()) + " reads (see " + log + ")");
    double mean = 0;
    for (double x : t) mean += x;
    mean /= static_cast<double>(t.size());
    std::sort(t.begin(), t.end());
    const auto at = [&](double q) { return t[static_cast<std::size_t>(q * static_cast<double>(t.size() - 1))]; };
    c.db_round_trip_us = range_around_mean(mean, at(0.1), at(0.9));
    progress("      mean " + fmt(1e3 * mean, "%.3f") + " ms: db round trip " + us_text(c.db_round_trip_us));
  }
  return c;
}

}  // namespace convlab::realrun
