#pragma once
// A store over several PostgreSQL databases, the partitions of one deployment (issue 18, item 2;
// docs/scenarios.md, "Partitions"): each document lives in the partition that the sans-IO rule of
// server/core/partition.hpp names, `partition_by: org` or `doc`, the same rule the simulator's
// partitioned database follows.
//
// - Every request about a document (submit, claim_strategy, read_log, read_history) goes to its
//   partition's Store: its change log, snapshots and strategy claim are there and nowhere else.
//   Each partition commits, notifies and recovers on its own (its own worker lanes and
//   listener); replies keep submission order per document because a document has one partition.
// - Everything that is not a document's (users, agent ids, refresh tokens, revocations) is
//   partition 0's: the first URL is the deployment's home database.
// - The rule is recorded in each database (table partition_layout: its index and the rule in
//   words, `describe()`): a server whose rule, partition count or URL order differs from what a
//   database already holds does not start, so every server of a deployment routes alike.
// - StoreHooks: replies and notifications pass through; `health` reports the deployment up only
//   while every partition is (naming the partition that went down or came back);
//   `partition_committed` tells which partition committed.
// - home: lease is not supported (the lease fence is per database; the caller refuses it).
#include "server/core/partition.hpp"
#include "server/pg/store.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace convlab::pg {

struct PartitionedConfig {
  // One per partition, in partition order; url and replica_url per partition, the rest alike.
  std::vector<StoreConfig> partitions;
  PartitionSpec spec;       // spec.partitions == partitions.size()
  std::uint32_t docs = 0;   // the documents the organizations own (partition_by: org)
};

// Observations of a partition, besides the deployment's StoreHooks (any store thread).
struct PartitionHooks {
  std::function<void(std::uint32_t partition, std::size_t appends, double seconds)> committed;
  // Each committed append's seconds from its arrival in the partition's store to its commit.
  std::function<void(std::uint32_t partition, const std::vector<double>& seconds)> appended;
};

// Opens every partition (connects, migrates, checks and records the layout). An Error naming
// the partition (its index and redacted URL) and what is wrong. REQUIRES: at least 2 partitions.
Result<std::unique_ptr<Store>> open_partitioned(const PartitionedConfig& config, StoreHooks hooks,
                                                PartitionHooks partition_hooks = {});

// Records `layout` (the rule in words) as partition `index` of `url`'s database, or checks it
// against what the database already holds. An Error says what differs.
Result<void> check_partition_layout(const std::string& url, std::uint32_t index, const std::string& layout);

}  // namespace convlab::pg
