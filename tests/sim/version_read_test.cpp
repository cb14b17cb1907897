// API reads of a past version in the simulator (workload.version_read_share; the real server's
// GET /api/documents/{id}?version=N): the node replays the change log up to N, and what it
// serves is the durable text at version N exactly, as the store followed it commit by commit.
#include "server/strategies/registry.hpp"
#include "sim/world.hpp"
#include "tests/sim/worlds.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>

namespace convlab::sim {
namespace {

TEST(VersionRead, ServesTheDurableTextAtTheVersionAsked) {
  for (const char* s : {"lww", "seq", "ot", "crdt"}) {
    SCOPED_TRACE(s);
    WorldConfig c = test::small_world();
    c.workload.reload_ms = {300, 800};
    c.workload.version_read_share = 0.5;
    RunOptions o;
    o.strategy = find_strategy(s);
    o.seed = 1;
    o.scenario = o.variant = "version_read";
    ASSERT_TRUE(world_problems(c, *o.strategy).empty());
    const RunOutput out = run_world(c, o);
    EXPECT_EQ(out.node_errors, 0u) << out.node_error;
    ASSERT_GT(out.version_reads.size(), 20u);
    // The durable text at the end, per document: older versions must differ from it.
    std::map<std::uint32_t, std::vector<CharId>> final_ids;
    for (const history::Event& e : out.events) {
      if (e.type != history::EventType::kFinal || e.replica != "durable") continue;
      std::vector<CharId>& ids = final_ids[e.doc];
      for (const history::IdRun& r : e.ids) {
        for (std::uint32_t i = 0; i < r.count; ++i) ids.push_back(CharId{r.agent, r.seq + i});
      }
      std::sort(ids.begin(), ids.end());
    }
    std::size_t older_than_final = 0;
    for (const VersionRead& v : out.version_reads) {
      ASSERT_GE(v.version, 1u);
      EXPECT_LT(v.version, v.latest) << "an older version than the client knew";
      ASSERT_FALSE(v.durable_ids.empty()) << "doc " << v.doc << " version " << v.version;
      EXPECT_EQ(v.ids, v.durable_ids) << "doc " << v.doc << " version " << v.version;
      EXPECT_EQ(v.text.size(), v.ids.size());
      if (v.ids != final_ids[v.doc]) ++older_than_final;
    }
    EXPECT_GT(older_than_final, out.version_reads.size() / 2);
  }
}

// Without the knob no read asks for a version (and the runs keep their draws: the golden
// digests of tests/sim/golden_digest_test.cpp pin that).
TEST(VersionRead, NoneWithoutTheKnob) {
  WorldConfig c = test::small_world();
  c.workload.reload_ms = {300, 800};
  RunOptions o;
  o.strategy = find_strategy("crdt");
  o.seed = 1;
  o.scenario = o.variant = "version_read";
  EXPECT_TRUE(run_world(c, o).version_reads.empty());
}

}  // namespace
}  // namespace convlab::sim
