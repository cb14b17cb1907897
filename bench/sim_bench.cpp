// sim_bench: how fast the deterministic simulator runs.
//
//   scheduler/...     the event loop alone (sim::Scheduler) with trivial events: each event
//                     bumps a counter and schedules one more, `pending` events in the queue.
//                     Counter: events/s.
//   naive/S/3600s     the naive architecture (8 servers polling the change log every 2 s, ack
//                     after commit, round robin, 200 clients, 50 documents, think time 1-5 s)
//                     for one simulated hour plus 30 s of quiescence, under strategy S. Each
//                     run streams its history as `convlab run` does: written to the digest and
//                     fed event by event to a reports::Checker (whose finish() is timed too),
//                     never held. Counters: speedup (simulated seconds per wall second),
//                     events (scheduler events per run), events/s, hist_events (history
//                     events), heap_peak_MiB (peak heap during the run), held_MiB (heap still
//                     held when the run and the check are done, before freeing), maxrss_MiB.
//   naive/S/600s      the same for ten simulated minutes (small enough for callgrind).
//   scale/crdt/C      the same world for 300 simulated seconds at C clients (C/4 documents):
//                     wall time and memory as clients grow (100 to 30,000).
//   big/crdt/...      issue 17's floors: 10,000 clients for the hour, 100,000 for 300 s; not
//                     matched by `scale` (minutes to tens of minutes, GiBs: run one alone).
//   check/...         reports::check over a held history of one run (not in the timings above).
//
// The label of each world run is its history digest: the same binary and seed must print the
// same digest, and an optimisation that keeps histories byte-identical keeps it too.
//
// Memory is counted by replacing global operator new/delete in this binary (live and peak
// bytes asked for, via malloc_usable_size); ru_maxrss of the process is reported as well.
#include "reports/checkers.hpp"
#include "server/strategies/registry.hpp"
#include "sim/huge_pages.hpp"
#include "sim/scheduler.hpp"
#include "sim/world.hpp"

#include <benchmark/benchmark.h>
#include <malloc.h>
#include <sys/resource.h>

#include <chrono>
#include <memory>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <string>

namespace {

// ------------------------------------------------------------ heap accounting (single thread)
std::size_t g_live = 0;
std::size_t g_peak = 0;

void* counted_alloc(std::size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  g_live += malloc_usable_size(p);
  if (g_live > g_peak) g_peak = g_live;
  return p;
}
void counted_free(void* p) noexcept {
  if (p == nullptr) return;
  g_live -= malloc_usable_size(p);
  std::free(p);
}

}  // namespace

void* operator new(std::size_t n) { return counted_alloc(n); }
void* operator new[](std::size_t n) { return counted_alloc(n); }
void operator delete(void* p) noexcept { counted_free(p); }
void operator delete[](void* p) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t) noexcept { counted_free(p); }

namespace {

using convlab::sim::RunOutput;
using convlab::sim::WorldConfig;

constexpr double kMiB = 1024.0 * 1024.0;

double max_rss_mib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // Linux: KiB
}

// ------------------------------------------------------------ the event loop alone

void scheduler_loop(benchmark::State& state) {
  const auto pending = static_cast<std::int64_t>(state.range(0));
  constexpr std::uint64_t kEvents = 1'000'000;
  std::uint64_t total = 0;
  for (auto _ : state) {
    convlab::sim::Scheduler s;
    std::uint64_t count = 0;
    std::uint64_t x = 88172645463325252ull;  // xorshift: spread event times over 0..1023 us
    struct Tick {
      convlab::sim::Scheduler* s;
      std::uint64_t* count;
      std::uint64_t* x;
      void operator()() const {
        ++*count;
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        s->at(s->now_us() + static_cast<std::int64_t>(*x & 1023), *this);
      }
    };
    for (std::int64_t i = 0; i < pending; ++i) s.at(i, Tick{&s, &count, &x});
    while (count < kEvents && s.run_next(INT64_MAX)) {
    }
    total += count;
    benchmark::DoNotOptimize(count);
  }
  state.counters["events/s"] = benchmark::Counter(static_cast<double>(total), benchmark::Counter::kIsRate);
}

// ------------------------------------------------------------ worlds

WorldConfig naive_world(std::uint32_t clients, std::uint32_t docs, std::int64_t duration_ms) {
  WorldConfig c;
  c.duration_ms = duration_ms;
  c.quiesce_ms = 30000;
  c.docs = docs;
  c.clients = clients;
  c.initial_text =
      "Minutes of the planning meeting\n"
      "The team agreed to move the release to the second week of the month, after the load tests.\n"
      "Open questions: who owns the migration, and whether the old API stays up for a quarter.\n"
      "Action items are listed below, one per line, with an owner and a date.\n"
      "Next meeting: same time next week.\n";
  c.workload.think_ms = {1000, 5000};
  c.balancer = convlab::sim::Balancer::kRoundRobin;
  c.servers.count = 8;
  c.servers.propagation = convlab::sim::Propagation::kPoll;
  c.servers.poll_interval_ms = 2000;
  c.servers.persistence = convlab::sim::Persistence::kChangeLog;
  c.servers.ack = convlab::sim::Ack::kAfterCommit;
  return c;
}

// keep_events: hold the whole history in RunOutput::events; otherwise events go to `checker`
// as they are written, as `convlab run` and `convlab replay` do.
RunOutput run_once(const WorldConfig& c, const char* strategy, std::uint64_t seed, bool keep_events,
                   convlab::reports::Checker* checker = nullptr) {
  convlab::sim::RunOptions o;
  o.strategy = convlab::find_strategy(strategy);
  o.seed = seed;
  o.scenario = "sim_bench";
  o.variant = "naive";
  o.keep_events = keep_events;
  if (checker != nullptr) o.on_event = [checker](const convlab::history::Event& e) { checker->add(e); };
  return convlab::sim::run_world(c, o);
}

void world(benchmark::State& state, const char* strategy, WorldConfig c) {
  const double sim_s = static_cast<double>(c.duration_ms + c.quiesce_ms) / 1000.0;
  std::uint64_t sim_events = 0;
  std::size_t hist_events = 0;
  double peak_mib = 0;
  double held_mib = 0;
  std::string digest;
  for (auto _ : state) {
    const std::size_t base = g_live;
    g_peak = g_live;
    auto checker = std::make_unique<convlab::reports::Checker>();
    RunOutput out = run_once(c, strategy, 1, false, checker.get());
    const convlab::reports::RunMetrics m = checker->finish();
    benchmark::DoNotOptimize(m.converged);
    peak_mib = static_cast<double>(g_peak - base) / kMiB;
    held_mib = static_cast<double>(g_live - base) / kMiB;
    sim_events = out.sim_events;
    hist_events = out.history_events;
    digest = out.digest;
    state.PauseTiming();
    out = RunOutput{};  // freeing is not the simulator's time
    checker.reset();
    state.ResumeTiming();
  }
  const auto iters = static_cast<double>(state.iterations());
  state.counters["speedup"] = benchmark::Counter(sim_s * iters, benchmark::Counter::kIsRate);
  state.counters["events"] = static_cast<double>(sim_events);
  state.counters["events/s"] = benchmark::Counter(static_cast<double>(sim_events) * iters, benchmark::Counter::kIsRate);
  state.counters["hist_events"] = static_cast<double>(hist_events);
  state.counters["heap_peak_MiB"] = peak_mib;
  state.counters["held_MiB"] = held_mib;
  state.counters["maxrss_MiB"] = max_rss_mib();
  state.SetLabel(digest);
}

void check_cost(benchmark::State& state, const char* strategy, WorldConfig c) {
  const RunOutput out = run_once(c, strategy, 1, true);
  for (auto _ : state) {
    const convlab::reports::RunMetrics m = convlab::reports::check(out.events);
    benchmark::DoNotOptimize(m.converged);
  }
  state.counters["hist_events"] = static_cast<double>(out.events.size());
}

}  // namespace

int main(int argc, char** argv) {
  convlab::sim::use_malloc_huge_pages(argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;

  benchmark::RegisterBenchmark("scheduler/pending", scheduler_loop)
      ->Arg(1)
      ->Arg(1000)
      ->Arg(100000)
      ->Unit(benchmark::kMillisecond);

  const WorldConfig hour = naive_world(200, 50, 3'600'000);
  for (const char* strategy : {"crdt", "ot", "seq", "lww"}) {
    benchmark::RegisterBenchmark((std::string("naive/") + strategy + "/3600s").c_str(), world, strategy, hour)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime()
        ->Iterations(1);
  }
  benchmark::RegisterBenchmark("check/naive/crdt/3600s", check_cost, "crdt", hour)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime()
      ->Iterations(1);
  // The same world for ten simulated minutes: small enough to profile under callgrind.
  for (const char* strategy : {"crdt", "ot", "seq", "lww"}) {
    benchmark::RegisterBenchmark((std::string("naive/") + strategy + "/600s").c_str(), world, strategy,
                                 naive_world(200, 50, 600'000))
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime()
        ->Iterations(1);
  }
  for (const std::uint32_t clients : {100u, 1000u, 10000u, 30000u}) {
    const WorldConfig c = naive_world(clients, clients / 4, 300'000);
    benchmark::RegisterBenchmark(("scale/crdt/" + std::to_string(clients)).c_str(), world, "crdt", c)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime()
        ->Iterations(1);
  }
  // Issue 17's capacity-planning worlds, not matched by `scale`: 10,000 clients for the naive
  // hour and 100,000 clients for 300 s. Run them alone, with a memory limit (bench/README).
  benchmark::RegisterBenchmark("big/crdt/10000/3600s", world, "crdt", naive_world(10000, 2500, 3'600'000))
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime()
      ->Iterations(1);
  benchmark::RegisterBenchmark("big/crdt/100000", world, "crdt", naive_world(100000, 25000, 300'000))
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime()
      ->Iterations(1);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
