#pragma once
// Running scenarios: every chosen strategy on the same seeds and fault schedules (paired runs),
// in parallel across seeds (one simulation never uses threads), then checkers, aggregates and
// expectation verdicts.
#include "reports/report.hpp"
#include "server/core/strategy.hpp"
#include "sim/scenario.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace convlab::app {

struct CampaignOptions {
  std::vector<const Strategy*> strategies;  // empty: the scenario's own list
  std::vector<std::uint64_t> seeds;         // empty: 1..scenario.seeds
  std::string variant;                      // empty: every variant
  unsigned jobs = 1;
  bool progress = false;                    // a progress line on stderr
};

reports::Report run_campaign(const std::vector<sim::Scenario>& scenarios, const CampaignOptions& options);

// "N" -> 1..N, "A..B" -> A..B. An Error names the problem.
Result<std::vector<std::uint64_t>> parse_seeds(const std::string& text);

}  // namespace convlab::app
