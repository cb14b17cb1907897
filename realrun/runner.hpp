#pragma once
// Carries out a realrun::Plan on real processes: a throwaway PostgreSQL (and a streaming
// replica when the servers read one; a throwaway Redis under bus: redis; nginx as the CDN of API reads), a convlab-faultproxy on each link a partition cuts, the
// world's convlab-servers with its policies, convlab-load with its clients, documents and
// workload; the fault schedule applied at its wall-clock times through faults::RealProcesses;
// the fault windows written into convlab-load's history as the simulator writes them. Every
// process it starts is stopped when the run ends, fails or is interrupted.
#include "history/history.hpp"
#include "realrun/plan.hpp"
#include "server/core/result.hpp"

#include <atomic>
#include <functional>
#include <string>
#include <vector>

namespace convlab::realrun {

struct Programs {
  std::string server;      // convlab-server
  std::string load;        // convlab-load
  std::string faultproxy;  // convlab-faultproxy
  std::string pg_sh;       // scripts/pg.sh
  std::string redis_sh;    // scripts/redis.sh (bus: redis)
  std::string cdn_sh;      // scripts/cdn.sh (cdn.ttl_s with API reads)
};

struct RealOutput {
  std::vector<history::Event> events;  // the history, fault windows in place
  std::string history_path;            // DIR/history.jsonl
  int load_exit = -1;                  // convlab-load's exit code (1: errors or not converged)
};

// Runs `plan` with its logs and history in `dir`. `stop` (set by a SIGINT handler) ends it
// early, every process stopped, with an Error. `progress` gets one line per step.
Result<RealOutput> run_plan(const Plan& plan, const Programs& programs, const std::string& dir,
                            const std::atomic<bool>& stop, const std::function<void(const std::string&)>& progress);

}  // namespace convlab::realrun
