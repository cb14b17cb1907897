#pragma once
// The subcommands of `convlab`. Each takes the arguments after its own name and returns the
// process exit code (see common.hpp).
#include <string>
#include <vector>

namespace convlab::cli {

int trace_replay(const std::vector<std::string>& args);
int trace_conformance(const std::vector<std::string>& args);
int trace_compare(const std::vector<std::string>& args);

// The simulator: run scenarios and report, replay one run, check a history, validate scenarios.
int run_cmd(const std::vector<std::string>& args);
int replay_cmd(const std::vector<std::string>& args);
int check_cmd(const std::vector<std::string>& args);
int validate_cmd(const std::vector<std::string>& args);
// Capacity sweeps over a grid of settings, and merging shards of a run or a sweep.
int sweep_cmd(const std::vector<std::string>& args);
int merge_cmd(const std::vector<std::string>& args);
// The checker's causes of loss against the simulator's ground truth (campaigns/oracle.hpp).
int oracle_cmd(const std::vector<std::string>& args);
// Swarm testing: whole worlds drawn from seeds, every strategy, invariants, shrinking.
int swarm_cmd(const std::vector<std::string>& args);
// The real server's costs on this machine as a calibration fragment for scenarios.
int calibrate_cmd(const std::vector<std::string>& args);

// "automerge-paper" for ".../automerge-paper.json.gz".
std::string trace_name(const std::string& path);

}  // namespace convlab::cli
