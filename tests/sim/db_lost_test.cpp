// A db_lost fault in the simulator (docs/scenarios.md, "db_lost"): without a backup every
// acknowledged edit is lost, to db_lost; with a base backup and the WAL archived every interval,
// no edit committed before the last archive point is lost — what goes is at most one interval of
// commits, as tests/pg/backup_restore.sh measures on real processes.
#include "reports/checkers.hpp"
#include "server/strategies/registry.hpp"
#include "sim/world.hpp"
#include "tests/sim/worlds.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>

namespace convlab::sim {
namespace {

constexpr std::int64_t kLossMs = 17000;
constexpr std::int64_t kIntervalMs = 5000;
constexpr std::int64_t kArchiveMs = 15000;  // the last archive point before the loss

struct Lost {
  RunOutput out;
  reports::RunMetrics metrics;
};

Lost run(DatabaseSpec::Backup backup, const char* strategy, std::uint64_t seed) {
  WorldConfig c = test::small_world();
  c.duration_ms = 25000;
  c.database.backup = backup;
  c.database.archive_interval_ms = kIntervalMs;
  FaultSpec f;
  f.kind = FaultKind::kDbLost;
  f.at_ms = kLossMs;
  f.for_ms = 2000;
  c.faults.push_back(f);
  RunOptions o;
  o.strategy = find_strategy(strategy);
  o.seed = seed;
  o.scenario = o.variant = "db_lost";
  EXPECT_TRUE(world_problems(c, *o.strategy).empty());
  Lost l{run_world(c, o), {}};
  EXPECT_EQ(l.out.refused, 0u) << l.out.refusal;
  EXPECT_EQ(l.out.node_errors, 0u) << l.out.node_error;
  l.metrics = reports::check(l.out.events);
  return l;
}

// When each edit (client, op) first reached the durable text.
std::map<std::pair<std::uint32_t, std::uint32_t>, std::int64_t> committed_at(const std::vector<history::Event>& events) {
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::int64_t> at;
  for (const history::Event& e : events) {
    if (e.type == history::EventType::kCommit && e.writer >= 0) {
      at.try_emplace({static_cast<std::uint32_t>(e.writer), e.op}, e.t_us);
    }
  }
  return at;
}

TEST(DbLost, WithoutABackupEveryAcknowledgedEditBeforeTheLossIsLostToIt) {
  for (const char* s : {"lww", "seq", "ot", "crdt"}) {
    SCOPED_TRACE(s);
    const Lost l = run(DatabaseSpec::Backup::kNone, s, 1);
    const reports::RunMetrics& m = l.metrics;
    EXPECT_TRUE(m.converged);
    EXPECT_GT(m.lost_by_cause.at("db_lost"), 50u);
    EXPECT_EQ(m.lost_by_cause.at("crash"), 0u);
    // ot and crdt lose nothing else (lww and seq also lose to their own overwrites, rows 2-3).
    if (std::string(s) == "ot" || std::string(s) == "crdt") {
      EXPECT_EQ(m.lost_by_cause.at("db_lost"), m.lost_acked_chars);
    }
    // What the database lost was made before the loss.
    for (const reports::LostEdit& e : m.lost_edits) {
      if (e.cause == "db_lost") {
        EXPECT_LT(e.t_us, kLossMs * 1000) << e.client << "." << e.op;
      }
    }
    // The fault, then the restore's commits (no writer) at the same instant.
    bool fault = false;
    std::size_t restores = 0;
    for (const history::Event& e : l.out.events) {
      if (e.type == history::EventType::kFault && e.kind == "db_lost") fault = e.t_us == kLossMs * 1000;
      if (e.type == history::EventType::kCommit && e.writer < 0 && e.t_us == kLossMs * 1000) ++restores;
    }
    EXPECT_TRUE(fault);
    EXPECT_EQ(restores, 2u);  // both documents
  }
}

TEST(DbLost, WithTheWalArchivedNothingCommittedBeforeTheArchivePointIsLost) {
  for (const char* s : {"lww", "seq", "ot", "crdt"}) {
    for (std::uint64_t seed = 1; seed <= 2; ++seed) {
      SCOPED_TRACE(std::string(s) + " seed " + std::to_string(seed));
      const Lost archive = run(DatabaseSpec::Backup::kArchive, s, seed);
      const Lost none = run(DatabaseSpec::Backup::kNone, s, seed);
      const reports::RunMetrics& m = archive.metrics;
      EXPECT_TRUE(m.converged);
      EXPECT_GT(m.lost_by_cause.at("db_lost"), 0u) << "the 2 s after the archive point are lost";
      EXPECT_LT(m.lost_acked_chars, none.metrics.lost_acked_chars / 2);
      EXPECT_EQ(m.lost_by_cause.at("crash"), 0u);
      const auto at = committed_at(archive.out.events);
      for (const reports::LostEdit& e : m.lost_edits) {
        if (e.cause != "db_lost") continue;  // lww and seq also lose to their own overwrites
        const auto it = at.find({e.client, e.op});
        ASSERT_NE(it, at.end()) << e.client << "." << e.op << " acknowledged after commit, yet never committed";
        EXPECT_GT(it->second, kArchiveMs * 1000) << e.client << "." << e.op << " committed before the archive point";
        EXPECT_LE(it->second, kLossMs * 1000);
      }
    }
  }
}

}  // namespace
}  // namespace convlab::sim
