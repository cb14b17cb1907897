#pragma once
// What the simulator subcommands (run, replay, check, validate) share: turning SCENARIO
// arguments into loaded scenarios (all of them loaded before anything runs), strategy flags,
// and the metrics block that replay and check print the same way.
#include "campaigns/campaign.hpp"
#include "reports/checkers.hpp"
#include "server/core/result.hpp"
#include "server/core/strategy.hpp"
#include "sim/scenario.hpp"

#include <boost/program_options/variables_map.hpp>

#include <string>
#include <vector>

namespace convlab::cli {

// SCENARIO arguments as files: a file as given, a directory as every *.yaml directly inside it,
// sorted by name. An Error names the argument (a directory without scenarios, or one that
// cannot be listed). A path that does not exist is passed on: the loader names it.
Result<std::vector<std::string>> scenario_files(const std::vector<std::string>& args);

struct Loaded {
  std::vector<sim::Scenario> scenarios;  // the files that loaded, in argument order
  std::vector<std::string> problems;     // "file:line:column: key: problem", every bad file
};
Loaded load_scenarios(const std::vector<std::string>& files);

// The strategies a scenario runs: `chosen` when not empty, else the scenario's own list (every
// registered strategy when it names none).
std::vector<const Strategy*> strategies_of(const sim::Scenario& sc, const std::vector<const Strategy*>& chosen);

// sim::world_problems for every variant (only `variant` when not empty) x strategy, as
// "file: variant V, strategy S: problem".
std::vector<std::string> world_problem_lines(const sim::Scenario& sc, const std::vector<const Strategy*>& strategies,
                                             const std::string& variant);

// Prints each line on stderr as it is (they start with the file they are about) and returns
// kExitUsage. REQUIRES: lines is not empty.
int fail_lines(const std::vector<std::string>& lines);

// --strategy values (repeated or comma-separated), validated and without duplicates. On an
// unknown name prints the error line listing the known ones and returns false.
bool parse_strategies(const std::vector<std::string>& values, std::vector<const Strategy*>& out, int& exit_code);

// An unsigned decimal integer in [lo, hi], nothing else.
Result<std::uint64_t> parse_uint(const std::string& flag, const std::string& text, std::uint64_t lo, std::uint64_t hi);

// The flags `run` and `sweep` share, into `options` (progress on): --strategy, --seeds, --jobs
// (default: the number of cores), --variant, --shard. On a bad one prints the error line naming
// `command` and the flag, and returns false with `exit_code` set.
bool campaign_flags(const std::string& command, const boost::program_options::variables_map& vm,
                    campaigns::CampaignOptions& options, int& exit_code);

// "1..5" for a contiguous run of seeds, else the list.
std::string seeds_text(const std::vector<std::uint64_t>& seeds);

// The checkers' verdict and metrics of one run, one "name   value" line each, then the
// divergent replicas and the first lost characters. `convlab replay` and `convlab check` print
// it the same way, so the two can be compared line by line.
std::string metrics_text(const reports::RunMetrics& m);

}  // namespace convlab::cli
