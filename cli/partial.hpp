#pragma once
// Shard results: what `convlab run|sweep --shard K/N` writes (DIR/partial.json) and
// `convlab merge` reads. A partial holds what ran (`spec`, the same bytes in every shard of one
// grid), which shard it is, how many runs the whole grid has, and its own run records in full
// (every checker metric, doubles written exactly), so that merging shards gives the same
// report bytes as one unsharded run.
#include "campaigns/campaign.hpp"
#include "reports/report.hpp"
#include "server/core/result.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace convlab::cli {

inline constexpr const char* kPartialFile = "partial.json";

struct Partial {
  std::string kind;         // "run" or "sweep"
  std::string spec;         // a JSON object as text: what ran; equal across the shards of a grid
  std::uint32_t shard = 0;  // 0-based
  std::uint32_t shards = 1;
  std::uint64_t total = 0;  // runs in the whole grid
  std::vector<reports::RunRecord> runs;
};

// The partial of one shard: its runs, `options`' shard and shard count, the grid's size.
Partial make_partial(std::string kind, std::string spec, const campaigns::CampaignOptions& options, std::uint64_t total,
                     std::vector<reports::RunRecord> runs);
std::string partial_to_json(const Partial& p);
// `file` names the input in errors ("DIR/partial.json: runs[3].metrics: ...").
Result<Partial> partial_from_json(const std::string& text, const std::string& file);

// "K/N" with 0 <= K < N <= 100000 (K is 0-based, like Kubernetes' JOB_COMPLETION_INDEX).
Result<std::pair<std::uint32_t, std::uint32_t>> parse_shard(const std::string& text);

// Reads DIR/partial.json of every directory and checks they are the shards 0..N-1 of one grid
// (same kind, same spec, each shard once). Returns them ordered by shard.
Result<std::vector<Partial>> read_partials(const std::vector<std::string>& dirs);

// The options a shard's spec records (strategies by name; empty lists mean the defaults).
struct SpecOptions {
  std::vector<std::string> strategies;
  std::vector<std::uint64_t> seeds;
  std::string variant;
};
SpecOptions spec_options(const campaigns::CampaignOptions& o);

// `convlab run`: every scenario file with its text, so merging needs no file.
std::string run_spec(const std::vector<std::pair<std::string, std::string>>& files, const SpecOptions& o);
// `convlab sweep`: the file, its text and the --vary arguments as given.
std::string sweep_spec(const std::string& file, const std::string& yaml, const std::vector<std::string>& vary,
                       const SpecOptions& o);

}  // namespace convlab::cli
