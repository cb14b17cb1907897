// The checker's causes of loss held against the simulator's ground truth (sim/oracle.hpp,
// campaigns/oracle.hpp): worlds where the cause is known by construction, the oracle leaving the
// history untouched, and a bounded sweep over the shipped scenarios.
#include "campaigns/oracle.hpp"
#include "reports/checkers.hpp"
#include "server/strategies/registry.hpp"
#include "sim/scenario.hpp"
#include "sim/world.hpp"
#include "tests/sim/worlds.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

namespace convlab::sim {
namespace {

// The small world narrowed to one server and one document whose clients all type into the
// same paragraph, for 20 s.
WorldConfig one_paragraph_world() {
  WorldConfig c = test::small_world();
  c.duration_ms = 20000;
  c.quiesce_ms = 8000;
  c.docs = 1;
  c.workload.same_paragraph_prob = 1.0;
  c.servers.count = 1;
  return c;
}

// server:0 down from 15 s to 16 s.
void add_crash_at_15s(WorldConfig& c) {
  FaultSpec crash;
  crash.kind = FaultKind::kCrash;
  crash.target = "server:0";
  crash.at_ms = 15000;
  crash.for_ms = 1000;
  c.faults.push_back(crash);
}

std::uint64_t count(const std::vector<TruthChar>& truth, const std::string& cause) {
  std::uint64_t n = 0;
  for (const TruthChar& t : truth) n += t.cause == cause;
  return n;
}

TEST(Oracle, LeavesTheHistoryBytesAlone) {
  const WorldConfig c = one_paragraph_world();
  for (const char* s : {"lww", "seq", "ot", "crdt"}) {
    RunOptions o;
    o.strategy = find_strategy(s);
    o.seed = 2;
    const std::string plain = run_world(c, o).digest;
    o.oracle = true;
    const RunOutput with = run_world(c, o);
    EXPECT_EQ(with.digest, plain) << s;
  }
}

// Under changelog + after_commit nothing acknowledged is lost to a crash: a character typed and
// overwritten by a write that had not seen it, then a crash, is lost to that write.
TEST(Oracle, CrashAfterAnOverwriteIsNotACrashLoss) {
  WorldConfig c = one_paragraph_world();
  add_crash_at_15s(c);
  for (const char* s : {"lww", "seq"}) {
    std::uint64_t lost = 0;
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
      const campaigns::OracleRun r = campaigns::run_with_oracle(c, *find_strategy(s), seed, "crash-after-overwrite", "v");
      lost += r.truth.size();
      EXPECT_EQ(count(r.truth, "crash"), 0u) << s << " seed " << seed;
      EXPECT_EQ(r.metrics.lost_by_cause.at("crash"), 0u) << s << " seed " << seed;
      EXPECT_EQ(r.metrics.lost_acked_chars, r.truth.size()) << s << " seed " << seed;
      EXPECT_GT(count(r.truth, "concurrent"), 0u) << s << " seed " << seed;
    }
    EXPECT_GT(lost, 0u) << s << ": four users in one paragraph lose characters";
  }
}

// seq never reads a client clock: skewed clocks cannot reverse causality.
TEST(Oracle, SkewedClocksReverseNothingUnderSeq) {
  WorldConfig c = one_paragraph_world();
  c.servers.count = 2;
  for (std::uint32_t i = 0; i < c.clients; ++i) {
    ClientOverride o;
    o.client = i;
    o.clock_offset_ms = i % 2 == 0 ? 8000 : -8000;
    c.client_overrides.push_back(o);
  }
  std::uint64_t lost = 0;
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    const campaigns::OracleRun r = campaigns::run_with_oracle(c, *find_strategy("seq"), seed, "skewed-seq", "v");
    lost += r.truth.size();
    EXPECT_EQ(r.metrics.causality_reversals, 0u) << "seed " << seed;
    EXPECT_EQ(r.metrics.lost_by_cause.at("clock_skew"), 0u) << "seed " << seed;
    EXPECT_EQ(count(r.truth, "clock_skew"), 0u) << "seed " << seed;
  }
  EXPECT_GT(lost, 0u) << "seq still loses concurrent writes to one paragraph";
}

// Snapshots every 10 s, acknowledged at once, a crash at 15 s: what was typed since the last
// snapshot is lost to the crash, and the checker says so for each character.
TEST(Oracle, SnapshotCrashLosesToTheCrash) {
  WorldConfig c = one_paragraph_world();
  c.workload.same_paragraph_prob = 0.0;
  c.servers.persistence = Persistence::kSnapshot;
  c.servers.snapshot_interval_ms = 10000;
  c.servers.ack = Ack::kImmediate;
  c.quiesce_ms = 15000;
  add_crash_at_15s(c);
  for (const char* s : {"ot", "crdt"}) {
    const campaigns::OracleRun r = campaigns::run_with_oracle(c, *find_strategy(s), 3, "snapshot-crash", "v");
    EXPECT_GT(r.truth.size(), 0u) << s;
    EXPECT_EQ(count(r.truth, "crash"), r.truth.size()) << s;
    EXPECT_TRUE(r.disagreements.empty()) << s << ": " << r.disagreements.size();
  }
}

TEST(Oracle, ComparisonNamesEachSide) {
  reports::LostChar c;
  c.id = CharId{1, 2};
  c.cause = "crash";
  TruthChar t;
  t.id = CharId{1, 2};
  t.cause = "concurrent";
  TruthChar only;
  only.id = CharId{1, 3};
  only.cause = "crash";
  const auto d = campaigns::compare_causes({c}, {t, only});
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].checker, "crash");
  EXPECT_EQ(d[0].truth, "concurrent");
  EXPECT_EQ(d[1].checker, "none");
  EXPECT_EQ(campaigns::compare_causes({c}, {only}).size(), 2u);
  EXPECT_TRUE(campaigns::compare_causes({c}, {t}).size() == 1 && campaigns::compare_causes({}, {}).empty());
}

// The bounded agreement sweep: every naive and mixed scenario, 3 seeds. ot and crdt agree on
// every character; lww and seq still disagree on some (see the closing note), so they
// are held to what they agree on today by `convlab oracle`, not here.
TEST(Oracle, AgreesOnTheShippedScenariosForOtAndCrdt) {
  std::uint64_t lost = 0;
  for (const char* dir : {"naive", "mixed"}) {
    std::vector<std::filesystem::path> files;
    for (const auto& f : std::filesystem::directory_iterator(std::string(CONVLAB_SCENARIOS) + "/" + dir)) {
      if (f.path().extension() == ".yaml") files.push_back(f.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      auto sc = load_scenario(f.string());
      ASSERT_TRUE(sc.has_value()) << f;
      for (const Variant& v : sc->variants) {
        for (const char* s : {"ot", "crdt"}) {
          for (std::uint64_t seed = 1; seed <= 3; ++seed) {
            const campaigns::OracleRun r = campaigns::run_with_oracle(v.config, *find_strategy(s), seed, sc->name, v.name);
            lost += r.truth.size();
            EXPECT_TRUE(r.disagreements.empty()) << sc->name << " " << v.name << " " << s << " seed " << seed << ": "
                                                 << r.disagreements.size() << ", first: checker "
                                                 << r.disagreements.front().checker << " truth "
                                                 << r.disagreements.front().truth;
          }
        }
      }
    }
  }
  EXPECT_GT(lost, 0u);
}

}  // namespace
}  // namespace convlab::sim
