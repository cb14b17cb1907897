// Durable appends per second through convlab::pg::Store: group commit (batch_max 4096) against
// one transaction per append (batch_max 1), with 1 and 8 producer threads. Each producer keeps
// a window of appends in flight (as a server's clients wait for their acknowledgements) and
// submits the next one as each is answered. Needs CONVLAB_PG_URL; it creates (and drops) a
// database of its own there.
//
//   pg_store_bench [--seconds S] [--window N] [--bytes B] [--docs D] [--notify 0|1] [--pipeline 1|2]
//
// --pipeline: the store's worker connections taking turns (StoreConfig::pipeline; 2 by default).
// Per mode it also prints where a transaction's time went (StoreHooks::batch: BEGIN and row
// locks, the INSERT, COMMIT) and this process's CPU time.
#include "server/pg/store.hpp"

#include <pqxx/pqxx>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <semaphore>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>

namespace {

using namespace convlab;
using Clock = std::chrono::steady_clock;

struct Options {
  double seconds = 5;
  int window = 256;  // appends in flight per producer
  std::size_t bytes = 40;
  std::uint32_t docs = 64;
  bool notify = true;
  std::size_t pipeline = 2;
};

struct Figures {
  double appends_per_s = 0;
  double commits_per_s = 0;
  double appends_per_commit = 0;
  double commit_ms = 0;  // mean BEGIN..COMMIT
  // Means per transaction, ms: BEGIN and row locks, the INSERT, COMMIT.
  double lock_ms = 0, statement_ms = 0, flush_ms = 0;
  double cpu_s = 0;  // this process (producers and the store), over the measured window
};

double process_cpu_s() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

std::string database_url(const std::string& base, const std::string& db) {
  const auto slash = base.find('/', base.find("://") + 3);
  const auto query = base.find('?');
  return base.substr(0, slash) + "/" + db + (query == std::string::npos ? "" : base.substr(query));
}

std::string fresh_database(const std::string& base, const std::string& db) {
  pqxx::connection c(base);
  pqxx::nontransaction n(c);
  n.exec("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
  n.exec("CREATE DATABASE " + db);
  return database_url(base, db);
}

Figures run(const std::string& url, std::size_t batch_max, int producers, const Options& opt) {
  std::vector<std::unique_ptr<std::counting_semaphore<1 << 20>>> windows;
  for (int p = 0; p < producers; ++p) windows.push_back(std::make_unique<std::counting_semaphore<1 << 20>>(opt.window));
  std::atomic<std::uint64_t> answered{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::uint64_t> commits{0};
  std::atomic<std::uint64_t> committed_appends{0};
  std::atomic<std::uint64_t> commit_us{0};
  std::atomic<std::uint64_t> phase_us[3] = {0, 0, 0};
  pg::StoreHooks hooks;
  hooks.reply = [&](StoreReply r) {
    if (!r.ok) ++failed;
    ++answered;
    windows[r.id % static_cast<std::uint64_t>(producers)]->release();
  };
  hooks.committed = [&](std::size_t n, double s) {
    ++commits;
    committed_appends += n;
    commit_us += static_cast<std::uint64_t>(s * 1e6);
  };
  hooks.batch = [&](const pg::BatchTiming& b) {
    phase_us[0] += static_cast<std::uint64_t>(b.lock * 1e6);
    phase_us[1] += static_cast<std::uint64_t>(b.statement * 1e6);
    phase_us[2] += static_cast<std::uint64_t>(b.commit * 1e6);
  };
  pg::StoreConfig cfg;
  cfg.pipeline = opt.pipeline;
  cfg.url = url;
  cfg.batch_max = batch_max;
  cfg.node = 1;
  auto store = pg::Store::open(cfg, hooks);
  if (!store) {
    std::fprintf(stderr, "pg_store_bench: %s\n", store.error().message.c_str());
    std::exit(1);
  }
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  const Bytes payload(opt.bytes, 'x');
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      for (std::uint64_t n = 0; !stop; ++n) {
        windows[static_cast<std::size_t>(p)]->acquire();
        StoreRequest r;
        r.kind = StoreRequest::Kind::kAppend;
        r.id = n * static_cast<std::uint64_t>(producers) + static_cast<std::uint64_t>(p);
        r.doc = static_cast<std::uint32_t>((n * 7 + static_cast<std::uint64_t>(p)) % opt.docs);
        r.notify = opt.notify;
        r.purpose = "bench";
        r.records.push_back(LogRecord{0, static_cast<AgentId>(p), payload, 0, 0});
        (*store)->submit(std::move(r));
      }
    });
  }
  // Warm up, then measure a window of steady state.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto a0 = answered.load();
  const auto c0 = commits.load();
  const auto ca0 = committed_appends.load();
  const auto cu0 = commit_us.load();
  std::uint64_t ph0[3];
  for (int i = 0; i < 3; ++i) ph0[i] = phase_us[i].load();
  const double cpu0 = process_cpu_s();
  const auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(opt.seconds));
  const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
  const auto a1 = answered.load();
  const auto c1 = commits.load();
  const auto ca1 = committed_appends.load();
  const auto cu1 = commit_us.load();
  const double cpu1 = process_cpu_s();
  std::uint64_t ph1[3];
  for (int i = 0; i < 3; ++i) ph1[i] = phase_us[i].load();
  stop = true;
  for (auto& w : windows) w->release(producers);  // unblock producers waiting for a slot
  for (auto& t : threads) t.join();
  store->reset();  // commits what is queued
  if (failed) std::fprintf(stderr, "pg_store_bench: %llu appends failed\n", static_cast<unsigned long long>(failed.load()));
  Figures f;
  f.appends_per_s = static_cast<double>(a1 - a0) / dt;
  f.commits_per_s = static_cast<double>(c1 - c0) / dt;
  f.appends_per_commit = c1 > c0 ? static_cast<double>(ca1 - ca0) / static_cast<double>(c1 - c0) : 0;
  f.commit_ms = c1 > c0 ? static_cast<double>(cu1 - cu0) / 1e3 / static_cast<double>(c1 - c0) : 0;
  const auto per_commit = [&](int i) {
    return c1 > c0 ? static_cast<double>(ph1[i] - ph0[i]) / 1e3 / static_cast<double>(c1 - c0) : 0;
  };
  f.lock_ms = per_commit(0);
  f.statement_ms = per_commit(1);
  f.flush_ms = per_commit(2);
  f.cpu_s = cpu1 - cpu0;
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--seconds") {
      opt.seconds = std::atof(v);
    } else if (k == "--window") {
      opt.window = std::atoi(v);
    } else if (k == "--bytes") {
      opt.bytes = static_cast<std::size_t>(std::atol(v));
    } else if (k == "--docs") {
      opt.docs = static_cast<std::uint32_t>(std::atol(v));
    } else if (k == "--pipeline") {
      opt.pipeline = static_cast<std::size_t>(std::atol(v));
    } else if (k == "--notify") {
      opt.notify = std::strcmp(v, "0") != 0;
    } else {
      std::fprintf(stderr, "pg_store_bench: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (opt.seconds <= 0 || opt.window <= 0 || opt.docs == 0 || opt.pipeline < 1 || opt.pipeline > 2) {
    std::fprintf(stderr, "pg_store_bench: --seconds, --window and --docs must be positive, --pipeline 1 or 2\n");
    return 2;
  }
  const char* base = std::getenv("CONVLAB_PG_URL");
  if (base == nullptr || *base == '\0') {
    std::printf("pg_store_bench: CONVLAB_PG_URL is not set; nothing measured (scripts/pg.sh start DIR prints one)\n");
    return 0;
  }
  std::printf("appends of %zu bytes to %u documents, %d in flight per producer, notify=%d, pipeline=%zu, %.1f s per run\n",
              opt.bytes, opt.docs, opt.window, opt.notify ? 1 : 0, opt.pipeline, opt.seconds);
  std::printf("%-22s %9s %12s %10s %14s %10s %21s %7s\n", "mode", "producers", "appends/s", "commits/s",
              "appends/commit", "commit ms", "lock/stmt/flush ms", "CPU s");
  for (int producers : {1, 8}) {
    Figures by_mode[2];
    for (int m = 0; m < 2; ++m) {
      const std::size_t batch_max = m == 0 ? 4096 : 1;
      const std::string url = fresh_database(base, "convlab_bench");
      const Figures f = run(url, batch_max, producers, opt);
      by_mode[m] = f;
      std::printf("%-22s %9d %12.0f %10.0f %14.1f %10.2f %6.2f/%6.2f/%6.2f %7.2f\n",
                  m == 0 ? "group (batch_max 4096)" : "one per txn (max 1)", producers, f.appends_per_s,
                  f.commits_per_s, f.appends_per_commit, f.commit_ms, f.lock_ms, f.statement_ms, f.flush_ms,
                  f.cpu_s);
      std::fflush(stdout);
    }
    std::printf("%-22s %9d %11.1fx\n", "ratio group/one", producers,
                by_mode[1].appends_per_s > 0 ? by_mode[0].appends_per_s / by_mode[1].appends_per_s : 0.0);
  }
  pqxx::connection c(base);
  pqxx::nontransaction n(c);
  n.exec("DROP DATABASE IF EXISTS convlab_bench WITH (FORCE)");
  return 0;
}
