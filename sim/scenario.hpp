#pragma once
// Scenarios are data (FoundationDB's tests/*.toml spirit): a YAML file with a base world, named
// variants (the naive configuration and its fix) that override parts of it, and expectations
// per variant and strategy that `convlab run` checks. The format is in docs/scenarios.md.
//
// Loading never runs anything: every problem is reported as `file:line:column: key: problem`,
// naming the allowed values where there is a fixed set.
#include "server/core/result.hpp"
#include "sim/config.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace convlab::sim {

enum class CompareOp { kLt, kLe, kEq, kNe, kGe, kGt };

// What an expectation compares, over the seeds of one (variant, strategy): the mean (the
// default, when the comparison has no quantifier), the smallest or largest value, or each
// seed's own value — `all` holds when every seed's does, `any` when at least one seed's does.
enum class Quantifier { kMean, kMin, kMax, kAll, kAny };

struct Expectation {
  std::string variant;   // "naive", "fix", ...
  std::string strategy;  // a registered strategy name, or "*" for every strategy
  std::string metric;    // a flat metric name of reports::RunMetrics::flatten()
  Quantifier quantifier = Quantifier::kMean;
  CompareOp op = CompareOp::kEq;
  double value = 0;
  std::string where;     // "file:line:column" of the expectation, for failure messages
  std::string text;      // as written, e.g. "> 0", "all == 0"
};

struct Variant {
  std::string name;
  WorldConfig config;
};

struct Scenario {
  std::string file;
  std::string name;
  std::string description;
  std::uint32_t row = 0;              // row of the naive-architecture table, 0 if none
  std::vector<std::string> strategies;  // default: every registered strategy
  std::uint32_t seeds = 5;            // default seed count for `convlab run`
  std::vector<Variant> variants;      // at least one
  std::vector<Expectation> expectations;
};

Result<Scenario> load_scenario(const std::string& path);

// Parses YAML text as if it came from `file` (tests use this).
Result<Scenario> parse_scenario(const std::string& yaml_text, const std::string& file);

bool compare(double actual, CompareOp op, double expected);
const char* op_text(CompareOp op);
const char* quantifier_text(Quantifier q);  // "mean", "min", "max", "all", "any"

// "[QUANTIFIER] OP NUMBER" (docs/scenarios.md, Expectations): spaces around and between the
// parts are optional, the quantifier is one of quantifier_text's words and defaults to mean.
// Empty when the text is not of that form (the loader words the error).
struct Comparison {
  Quantifier quantifier = Quantifier::kMean;
  CompareOp op = CompareOp::kEq;
  double value = 0;
};
std::optional<Comparison> parse_comparison(std::string_view text);

}  // namespace convlab::sim
