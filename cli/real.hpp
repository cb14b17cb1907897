#pragma once
// `convlab run --real` (cli/real_cmd.cpp) and the report files it shares with `convlab run`.
#include "campaigns/campaign.hpp"
#include "realrun/runner.hpp"
#include "reports/report.hpp"
#include "server/core/result.hpp"

#include <csignal>
#include <string>
#include <vector>

namespace convlab::cli {

// While it lives, SIGINT and SIGTERM call `handler` (which sets a stop flag: the real runs stop
// every process they started); the previous handlers come back with its end.
class StopSignals {
 public:
  explicit StopSignals(void (*handler)(int));
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  struct sigaction old_int_ {}, old_term_ {};
};

// The programs a real run starts: the built ones, or those the environment names
// (CONVLAB_SERVER_BIN, CONVLAB_LOAD_BIN, CONVLAB_FAULTPROXY_BIN, CONVLAB_PG_SH).
realrun::Programs real_programs();

// The scenarios' runs on real processes (realrun/), loaded and checked by run_cmd; the report
// files as run_cmd writes them. Returns the exit code.
int run_real(const std::vector<sim::Scenario>& scenarios, const campaigns::CampaignOptions& options,
             const std::string& out_dir, const std::string& junit_path, const std::string& command);

// The same runs into `report` (the runs' folders under DIR/runs); the exit code: kExitOk, or
// that of a refusal, a failure to run or an interruption (said on stderr).
int real_report(const std::vector<sim::Scenario>& scenarios, const campaigns::CampaignOptions& options,
                const std::string& out_dir, reports::Report& report);

// `convlab fidelity` (run --sim-and-real): the runs in both worlds, DIR/sim/ and DIR/real/ with
// their report files, and per metric the simulator's mean [interval] next to the real one's
// (campaigns/fidelity.hpp) on stdout and in DIR/fidelity.md.
int run_fidelity(const std::vector<sim::Scenario>& scenarios, const campaigns::CampaignOptions& options,
                 const std::string& out_dir, const std::string& command);

// DIR/report.json, report.md and index.html (and the JUnit file when named) of a report; `wrote`
// lists the paths.
Result<void> write_reports(const reports::Report& report, const std::string& out_dir, const std::string& junit_path,
                           const std::string& command, std::string& wrote);

}  // namespace convlab::cli
