#pragma once
// Running scenarios: every chosen strategy on the same seeds and fault schedules (paired runs),
// in parallel across seeds (one simulation never uses threads), then checkers, aggregates and
// expectation verdicts.
#include "reports/report.hpp"
#include "server/core/strategy.hpp"
#include "sim/scenario.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace convlab::campaigns {

struct CampaignOptions {
  std::vector<const Strategy*> strategies;  // empty: the scenario's own list
  std::vector<std::uint64_t> seeds;         // empty: 1..scenario.seeds
  std::string variant;                      // empty: every variant
  unsigned jobs = 1;
  bool progress = false;                    // a progress line on stderr
  // Run only shard `shard` (0-based) of `shards`: the runs whose index in the campaign's order
  // (scenario, variant, strategy, seed) is shard modulo shards. Report::runs then holds those,
  // in that order; merge_shards puts shards back together.
  std::uint32_t shard = 0;
  std::uint32_t shards = 1;
  // When set, called with each run's position in Report::runs, its record and its history, from
  // the worker thread that ran it (several at once: the callee synchronises).
  std::function<void(std::size_t, const reports::RunRecord&, const std::vector<history::Event>&)> on_run;
};

reports::Report run_campaign(const std::vector<sim::Scenario>& scenarios, const CampaignOptions& options);

// One run of a campaign.
struct RunKey {
  const sim::Scenario* scenario;
  const sim::Variant* variant;
  const Strategy* strategy;
  std::uint64_t seed;
};

// Every run of a campaign in its order (scenario, variant, strategy, seed), every shard's: the
// order run_campaign runs them in and make_report expects (`convlab run --real` runs them too).
std::vector<RunKey> campaign_runs(const std::vector<sim::Scenario>& scenarios, const CampaignOptions& options);

// The report of a campaign whose runs are `records` (every run, in campaign order): aggregates
// and the scenarios' expectation verdicts. run_campaign ends with it; merging shards uses it.
reports::Report make_report(const std::vector<sim::Scenario>& scenarios, const CampaignOptions& options,
                            std::vector<reports::RunRecord> records);

// The verdict of expectation `e` on one (scenario, variant, strategy)'s values of its metric,
// one per seed in run order (docs/scenarios.md, Expectations): scenario, variant and strategy
// are left for the caller. No values (no run had the metric): not held. NaN satisfies only
// `!=`, per seed for all/any; a NaN value makes the mean, min and max NaN.
reports::Verdict judge(const sim::Expectation& e, const std::vector<reports::SeedValue>& values);

// Interleaves shard results back into campaign order: shards[k] holds the runs of shard k of
// shards.size(), each in order (as run_campaign returns them). An Error when the counts do not
// add up to `total` that way.
Result<std::vector<reports::RunRecord>> merge_shards(std::vector<std::vector<reports::RunRecord>> shards,
                                                     std::size_t total);

// Does run `index` belong to shard `shard` of `shards`?
inline bool in_shard(std::size_t index, std::uint32_t shard, std::uint32_t shards) {
  return shards <= 1 || index % shards == shard;
}

// "N" -> 1..N, "A..B" -> A..B. An Error names the problem.
Result<std::vector<std::uint64_t>> parse_seeds(const std::string& text);

}  // namespace convlab::campaigns
