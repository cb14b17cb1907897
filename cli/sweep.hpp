#pragma once
// Capacity sweeps: one scenario over a grid of settings (`--vary servers=1,2,4 --vary
// clients=100,1000`), every point under each strategy and seed, aggregated into scaling curves
// (sweep.json, sweep.csv, sweep.md). `convlab sweep` and `convlab merge` (of sweep shards) share
// this: the plan is rebuilt from the same inputs, so the two give the same bytes.
#include "reports/report.hpp"
#include "server/core/result.hpp"
#include "sim/scenario.hpp"

#include <string>
#include <utility>
#include <vector>

namespace convlab::cli {

// One --vary KEY=LIST, resolved against the settings a sweep can vary.
struct Vary {
  std::string key;                  // as typed: "servers", "poll_interval_ms", "servers.count"
  std::vector<std::string> path;    // the YAML path under world/variants, leaf as typed or canonical
  std::vector<std::string> values;  // as typed, each a number
};

// Parses "KEY=V1,V2,...". An Error names the flag and the problem, and for an unknown key lists
// the settings that can be varied.
Result<Vary> parse_vary(const std::string& arg);

// Every setting --vary accepts, with its aliases, for help and errors.
std::string varyable_keys();

struct SweepPoint {
  std::vector<std::pair<std::string, std::string>> params;  // key as typed -> value as typed
  sim::Scenario scenario;  // the file with the point's values applied; name "NAME [k=v ...]"
};

struct SweepPlan {
  std::string name;  // the scenario's own name
  std::string file;
  std::vector<Vary> vary;
  std::vector<SweepPoint> points;  // the grid, the first --vary outermost
};

// Loads `yaml_text` (the contents of `file`) once per point of the grid with the point's values
// written into `world` and into every variant that sets the same key, so the values hold in
// every variant. An Error names the --vary value the scenario loader refused, and why.
Result<SweepPlan> plan_sweep(const std::string& file, const std::string& yaml_text, const std::vector<Vary>& vary);

// Checks that every point has `variant` (when not empty); an Error lists the variants there are.
Result<void> keep_variant(SweepPlan& plan, const std::string& variant);

struct SweepFiles {
  std::string json;
  std::string csv;
  std::string md;
  std::string html;  // index.html: the scaling curves as charts (reports/html.hpp)
};
// `records`: every run of the grid in campaign order (points x variants x strategies x seeds).
SweepFiles sweep_files(const SweepPlan& plan, const std::vector<reports::RunRecord>& records);

// Polls per second the naive design must make: servers x active documents / interval, where a
// document is active on a server when one of its clients is connected there. Clients connect in
// random order through a round-robin balancer, so a server holding m of the n clients has a
// document with k of them open with probability 1 - C(n-k, m)/C(n, m). 0 unless propagation is
// poll and there are at least two servers (a lone server does not poll).
double predicted_polls_per_s(const sim::WorldConfig& config);

}  // namespace convlab::cli
