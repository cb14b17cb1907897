// Partitioning by organization (issue 18, item 2) in the simulator: row 17's worlds judged on the
// counts they give (the simulator is deterministic, so they are exact for a seed). Sharding by
// organization puts the largest organization's whole load on one partition; sharding by a hash
// of the document spreads it; every partition's appends are the documents it holds.
#include "server/core/partition.hpp"
#include "sim/scenario.hpp"
#include "tests/sim/checked_run.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

namespace convlab::campaigns {
namespace {

reports::RunMetrics run_metrics(const sim::WorldConfig& c, const char* strategy, std::uint64_t seed) {
  return checked_run(c, strategy, seed, "partition").metrics;
}

const sim::Scenario& row16() {
  static const sim::Scenario sc = [] {
    auto s = sim::load_scenario(std::string(CONVLAB_SCENARIOS) + "/naive/17-partition-by-org.yaml");
    EXPECT_TRUE(s.has_value()) << s.error().message;
    return *s;
  }();
  return sc;
}

const sim::WorldConfig& variant(const std::string& name) {
  for (const sim::Variant& v : row16().variants) {
    if (v.name == name) return v.config;
  }
  ADD_FAILURE() << "no variant " << name;
  static const sim::WorldConfig none;
  return none;
}

// Each partition's share of the documents (every document has the same two typists).
std::vector<double> doc_shares(const sim::WorldConfig& c) {
  const PartitionMap map(c.database.partitioning, c.docs);
  std::vector<double> share(map.partitions(), 0);
  for (std::uint32_t d = 0; d < c.docs; ++d) share[map.partition_of(d)] += 1.0 / c.docs;
  return share;
}

void print(const char* strategy, const char* name, const reports::RunMetrics& m) {
  std::printf("%-5s %-8s imbalance %.2f;", strategy, name, m.partition_imbalance);
  for (std::size_t p = 0; p < m.partitions.size(); ++p) {
    std::printf(" p%zu %.1f appends/s %.1f commits/s p50 %.1f p99 %.1f ms;", p, m.partitions[p].appends_per_s,
                m.partitions[p].commits_per_s, m.partitions[p].commit_ms_p50, m.partitions[p].commit_ms_p99);
  }
  std::printf("\n");
}

TEST(Partition, ByOrgSaturatesTheLargestOrganizationsPartitionByDocSpreadsIt) {
  for (const char* strategy : {"crdt", "ot"}) {
    const reports::RunMetrics naive = run_metrics(variant("naive"), strategy, 1);
    const reports::RunMetrics fix = run_metrics(variant("fix"), strategy, 1);
    const reports::RunMetrics uniform = run_metrics(variant("uniform"), strategy, 1);
    print(strategy, "naive", naive);
    print(strategy, "fix", fix);
    print(strategy, "uniform", uniform);
    for (const auto* run : {&naive, &fix, &uniform}) {
      ASSERT_EQ(run->partitions.size(), 4u) << strategy;
      EXPECT_TRUE(run->converged) << strategy;
      EXPECT_EQ(run->lost_acked_chars, 0u) << strategy;
      // Every append the servers sent reached a partition (those in flight at the heal aside).
      double sum = 0;
      for (const reports::PartitionLoad& p : run->partitions) sum += p.appends_per_s;
      const double sent = static_cast<double>(run->db_queries_by_kind.at("commit")) / 20.0;
      EXPECT_LE(sum, sent + 1e-9) << strategy;
      EXPECT_GE(sum, 0.98 * sent) << strategy;
    }
    // Naive: partition 0 holds organization 0 (31 documents) and 8 more, 39 of 80; under
    // Zipf it is the busiest by far and saturated (it can commit ~60 appends a second).
    const std::vector<double> naive_share = doc_shares(variant("naive"));
    EXPECT_NEAR(naive_share[0], 39.0 / 80, 1e-9);
    double naive_total = 0;
    for (const reports::PartitionLoad& p : naive.partitions) naive_total += p.appends_per_s;
    EXPECT_GE(naive.partitions[0].appends_per_s / naive_total, naive_share[0] - 0.08) << strategy;
    EXPECT_EQ(naive.partition_appends_per_s_max, naive.partitions[0].appends_per_s) << strategy;
    EXPECT_GE(naive.partition_imbalance, 1.5) << strategy;
    EXPECT_GE(naive.partitions[0].commit_ms_p50, 800) << strategy;
    EXPECT_GE(naive.partitions[0].commit_ms_p99, 800) << strategy;
    EXPECT_EQ(naive.partition_commit_ms_p99_max, naive.partitions[0].commit_ms_p99) << strategy;
    for (std::size_t p = 1; p < 4; ++p) EXPECT_LE(naive.partitions[p].commit_ms_p99, 400) << strategy << " p" << p;
    // Fix: each partition's share of the appends is its share of the documents, within 5 points.
    const std::vector<double> fix_share = doc_shares(variant("fix"));
    double fix_total = 0;
    for (const reports::PartitionLoad& p : fix.partitions) fix_total += p.appends_per_s;
    for (std::size_t p = 0; p < 4; ++p) {
      EXPECT_NEAR(fix.partitions[p].appends_per_s / fix_total, fix_share[p], 0.05) << strategy << " p" << p;
      EXPECT_LE(fix.partitions[p].commit_ms_p99, 400) << strategy << " p" << p;
      EXPECT_LE(fix.partitions[p].commit_ms_p50, 100) << strategy << " p" << p;
    }
    EXPECT_LE(fix.partition_imbalance, 1.3) << strategy;
    // Uniform organizations: sharding by organization is even too (20 documents each).
    EXPECT_LE(uniform.partition_imbalance, 1.2) << strategy;
  }
}

TEST(Partition, AnUnpartitionedWorldReportsNoPartitions) {
  sim::WorldConfig c = variant("fix");
  c.database.partitioning = PartitionSpec{};
  c.database.work_us_per_append = 0;
  const reports::RunMetrics m = run_metrics(c, "crdt", 1);
  EXPECT_TRUE(m.partitions.empty());
  EXPECT_EQ(m.partition_imbalance, 0.0);
  EXPECT_GT(m.acked_edits, 0u);
}

TEST(Partition, OnePartitionWithOrganizationsTakesEveryAppend) {
  sim::WorldConfig c = variant("naive");
  c.database.partitioning.partitions = 1;
  c.database.work_us_per_append = 0;
  const reports::RunMetrics m = run_metrics(c, "crdt", 1);
  ASSERT_EQ(m.partitions.size(), 1u);
  EXPECT_EQ(m.partition_imbalance, 1.0);
  EXPECT_GT(m.partitions[0].appends_per_s, 100);
  // Group commit without a cost per append: batches, each within its commit latency of 2-6 ms
  // plus the one in flight before it.
  EXPECT_LT(m.partitions[0].commits_per_s, m.partitions[0].appends_per_s);
  EXPECT_LE(m.partitions[0].commit_ms_p99, 12);
}

}  // namespace
}  // namespace convlab::campaigns
