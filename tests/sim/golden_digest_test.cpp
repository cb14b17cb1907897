// Golden history digests (issue 16): for a few fixed (scenario, strategy, seed) triples from
// scenarios/naive, one per strategy, the digest of the run's history is pinned. The simulator is
// deterministic (Determinism.FiftySeedsTwiceGiveIdenticalDigests), so any change to simulated
// behaviour, to a strategy, to the workload's draws or to the history's format (docs/history.md)
// changes one of these and fails here, naming the triple. After an intended change, re-pin: each
// failure prints the `convlab replay` command that prints the new digest (the run is the one
// `replay` makes: the scenario's first variant).
#include "sim/scenario.hpp"
#include "server/strategies/registry.hpp"
#include "sim/world.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <string>

namespace convlab::campaigns {
namespace {

struct Golden {
  const char* scenario;  // under scenarios/
  const char* strategy;
  std::uint64_t seed;
  const char* digest;  // what `convlab replay scenarios/<scenario> --strategy S --seed N` prints
};

// One per strategy. Re-pin only after a change meant to alter simulated runs or the history
// format, and say so in the commit.
constexpr Golden kGolden[] = {
    {"naive/02-clock-skew.yaml", "lww", 1, "f9f0012a77fbb562"},
    {"naive/01-cross-server-visibility.yaml", "seq", 2, "a33f905b8cc16196"},
    {"naive/08-insert-delete-nearby.yaml", "ot", 3, "e9d91e72885cd147"},
    {"naive/05-snapshot-crash.yaml", "crdt", 1, "635705a13ba85e28"},
};

void PrintTo(const Golden& g, std::ostream* os) { *os << g.scenario << " " << g.strategy << " seed " << g.seed; }

std::string replay_digest(const Golden& g) {
  auto sc = sim::load_scenario(std::string(CONVLAB_SCENARIOS) + "/" + g.scenario);
  if (!sc.has_value()) {
    ADD_FAILURE() << g.scenario << ": " << sc.error().message;
    return "";
  }
  const sim::Variant& variant = sc->variants.front();  // as `convlab replay` without --variant
  sim::RunOptions ro;
  ro.strategy = find_strategy(g.strategy);
  if (ro.strategy == nullptr) {
    ADD_FAILURE() << "no strategy " << g.strategy;
    return "";
  }
  ro.seed = g.seed;
  ro.scenario = sc->name;
  ro.variant = variant.name;
  ro.keep_events = false;
  return sim::run_world(variant.config, ro).digest;
}

TEST(GoldenDigest, OnePerStrategyIsPinned) {
  for (const char* s : {"lww", "seq", "ot", "crdt"}) {
    bool pinned = false;
    for (const Golden& g : kGolden) pinned = pinned || std::string(g.strategy) == s;
    EXPECT_TRUE(pinned) << "no golden digest for strategy " << s;
  }
}

class GoldenDigest : public testing::TestWithParam<Golden> {};

TEST_P(GoldenDigest, HistoryDigestIsPinned) {
  const Golden& g = GetParam();
  const std::string command = std::string("convlab replay scenarios/") + g.scenario + " --strategy " + g.strategy +
                              " --seed " + std::to_string(g.seed);
  EXPECT_EQ(replay_digest(g), g.digest)
      << "the history digest of (" << g.scenario << ", " << g.strategy << ", seed " << g.seed << ") changed.\n"
      << "A change to simulated behaviour or to the history format shows up here. If it was intended,\n"
      << "re-pin: build, run `" << command << "` (build/<preset>/cli/convlab)\n"
      << "and put the digest it prints in kGolden (tests/sim/golden_digest_test.cpp), saying why in the\n"
      << "commit; if not, this is a regression of determinism or of the history's bytes.";
}

INSTANTIATE_TEST_SUITE_P(Pinned, GoldenDigest, testing::ValuesIn(kGolden), [](const auto& p) {
  std::string name = std::string(p.param.strategy) + "_seed" + std::to_string(p.param.seed);
  return name;
});

}  // namespace
}  // namespace convlab::campaigns
