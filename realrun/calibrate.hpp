#pragma once
// `convlab calibrate` (cli/calibrate_cmd.cpp): the real server's costs on this machine, measured
// on real processes, as a calibration fragment (sim/calibration.hpp) for the simulator.
//
// Three short phases on one throwaway PostgreSQL (scripts/pg.sh):
//   1. frames: `servers` convlab-servers (bus propagation, change log: the defaults) under
//      convlab-load's typing clients: server CPU (/proc/PID/stat) per client frame
//      (convlab_frames_received_total), one group-commit transaction's time
//      (convlab_commit_seconds) and commit to NOTIFY arrival (convlab_notify_lag_seconds),
//      both from the servers' /metrics histograms;
//   2. polls: the same servers restarted with `propagation: poll` under a light load: server
//      CPU per store read (convlab_store_requests_total{kind="read_log"}) beyond its frames';
//   3. reads: one psql session timing the poll's query (`\timing`): a store read's round trip.
// Every process it starts is stopped when it ends, fails or is interrupted.
#include "realrun/runner.hpp"
#include "server/core/result.hpp"
#include "sim/calibration.hpp"

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace convlab::realrun {

struct CalibrateOptions {
  std::string strategy = "crdt";
  std::uint32_t servers = 2;
  std::uint32_t clients = 100;
  std::uint32_t docs = 20;
  double rate = 5;           // edits/s per client in the frames phase
  double seconds = 6;        // of typing in the frames phase
  double poll_seconds = 3;   // of the poll phase
  std::int64_t poll_interval_ms = 20;
  std::int64_t commit_interval_ms = 8;  // the servers' group_commit.interval_ms (their default)
  std::uint32_t reads = 200;            // timed queries in the reads phase
};

// One HTTP GET on loopback (the servers' /metrics, also the real runner's): the body, or nullopt.
std::optional<std::string> http_get(int port, const std::string& path, int timeout_ms);

// --- IO-free parts (tests/realrun/calibrate_test.cpp) ------------------------------------

// The sum of the samples of `name` in a Prometheus text exposition whose labels contain
// `label` (e.g. kind="read_log"; "" for all); nullopt if there is none.
std::optional<double> prometheus_sum(const std::string& text, const std::string& name, const std::string& label = "");
// A histogram's cumulative buckets (upper bound, count), +Inf last, summed over label sets.
std::vector<std::pair<double, double>> prometheus_buckets(const std::string& text, const std::string& name);
// The q-quantile (0..1) of the observations between two scrapes of cumulative buckets, by
// linear interpolation inside a bucket (the +Inf bucket reads as its lower bound).
double bucket_quantile(const std::vector<std::pair<double, double>>& before,
                       const std::vector<std::pair<double, double>>& after, double q);
// A range of microseconds for the simulator's uniform draw: as wide as the observations'
// p10..p90, centred on their mean (the mean is what a rate of work is made of), at least 0.
sim::RangeUs range_around_mean(double mean_s, double p10_s, double p90_s);
// The whole machine's CPU time so far, from /proc/stat's first line (every CPU together), in
// seconds: `busy` user, nice, system, irq and softirq; `idle` idle and iowait; `steal` what a
// hypervisor gave to others. nullopt if the text has no such line.
struct MachineCpu {
  double busy_s = 0;
  double idle_s = 0;
  double steal_s = 0;
};
std::optional<MachineCpu> parse_proc_stat(const std::string& text, double ticks_per_s);
// The cores the measured processes had over a window of `wall_s`: the CPU they used
// (`ours_cpu_s`) plus what stayed idle, per second of the window — what other tenants of the
// machine (other processes, a hypervisor's steal) took is not theirs. Between 0.05 and `cpus`
// (the machine's cores), rounded to hundredths: the fragment's `host_cpus` on a loaded machine.
double available_cpus(const MachineCpu& before, const MachineCpu& after, double ours_cpu_s, double wall_s, double cpus);

// psql's `\timing` lines ("Time: 0.312 ms") in a log: each time, in seconds.
std::vector<double> psql_times(const std::string& log);

// --- the measurement ---------------------------------------------------------------------

Result<sim::Calibration> calibrate(const CalibrateOptions& options, const Programs& programs, const std::string& dir,
                                   const std::atomic<bool>& stop, const std::function<void(const std::string&)>& progress);

}  // namespace convlab::realrun
