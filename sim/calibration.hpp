#pragma once
// A calibration fragment: the real server's costs measured on one machine (`convlab calibrate`,
// cli/calibrate_cmd.cpp), written as YAML that a scenario includes with `calibration: FILE`
// (docs/scenarios.md, "Calibration"), so the simulated resources' costs come from measured
// figures instead of guesses:
//
//   calibration:
//     measured_with: {strategy: crdt, servers: 2, clients: 200, docs: 50, rate_per_client: 5, seconds: 8}
//     server_work_us_per_frame: 41      # -> servers.work_us_per_msg (server CPU per client frame)
//     server_work_us_per_read: 150      # -> servers.work_us_per_read (server CPU per poll/catch-up)
//     commit_us: [700, 2100]            # -> database.commit_ms: one group-commit transaction
//     commit_interval_us: 8000          # -> database.commit_interval_us (group_commit.interval_ms)
//     notify_us: [300, 1200]            # -> network.server_bus: commit to NOTIFY arrival (two hops)
//     db_round_trip_us: [200, 600]      # -> network.server_db: a store read's round trip (two hops)
//     host_cpus: 1.37                   # -> servers.host_cpus: the cores the measured processes got
//     host_us_per_frame: 110            # -> servers.host_us_per_frame: the rest of that machine's
//                                       #    CPU per client frame (load client, PostgreSQL)
//
// The fragment goes under the scenario's `world`: a key the world or a variant writes itself
// (commit_ms, server_bus_ms, work_us_per_msg, ...) replaces the calibrated figure.
#include "server/core/result.hpp"
#include "sim/config.hpp"

#include <cstdint>
#include <string>

namespace convlab::sim {

struct Calibration {
  struct Measured {  // the shape of the real run the figures come from (for the reader)
    std::string strategy;
    std::uint32_t servers = 0;
    std::uint32_t clients = 0;
    std::uint32_t docs = 0;
    double rate_per_client = 0;
    double seconds = 0;
  } measured;
  std::int64_t server_work_us_per_frame = 0;
  std::int64_t server_work_us_per_read = 0;
  RangeUs commit_us;
  std::int64_t commit_interval_us = 0;
  RangeUs notify_us;
  RangeUs db_round_trip_us;
  double host_cpus = 0;  // the cores its processes got (a fraction on a loaded machine)
  std::int64_t host_us_per_frame = 0;
};

// Parses a fragment; errors are `FILE:LINE:COLUMN: calibration.key: problem`, one per line.
Result<Calibration> parse_calibration(const std::string& yaml_text, const std::string& file);
Result<Calibration> load_calibration(const std::string& path);
// The fragment's text: fixed key order and number format (the same figures give the same bytes).
std::string format_calibration(const Calibration& c);
// Sets the simulated costs of `cfg` from the measured figures.
void apply_calibration(const Calibration& c, WorldConfig& cfg);

}  // namespace convlab::sim
