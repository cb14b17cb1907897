// The table of fault kinds (faults/kinds.hpp) against the loader that reads it: every kind is
// found by its name, has a simulator realisation, and a fault of it drawn from a seed, written
// as YAML by its entry, loads back through the scenario loader as the same fault.
#include "faults/kinds.hpp"
#include "sim/scenario.hpp"

#include <gtest/gtest.h>

#include <string>

namespace convlab {
namespace {

std::string plain(double v) { return std::to_string(v); }

TEST(FaultKinds, EveryKindIsFoundByNameAndRealisedInTheSimulator) {
  ASSERT_FALSE(faults::kinds().empty());
  for (const faults::KindInfo& k : faults::kinds()) {
    EXPECT_EQ(faults::find(k.name), &k) << k.name;
    EXPECT_EQ(&faults::info(k.kind), &k) << k.name;
    EXPECT_NE(k.sim_begin, nullptr) << k.name;
    EXPECT_FALSE(k.colour.empty()) << k.name;
  }
  EXPECT_EQ(faults::find("no_such_kind"), nullptr);
}

TEST(FaultKinds, ADrawnFaultWrittenByItsEntryLoadsBackTheSame) {
  for (const faults::KindInfo& k : faults::kinds()) {
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
      Rng r(seed);
      faults::FaultSpec f;
      f.kind = k.kind;
      f.at_ms = 10;
      f.for_ms = 5;
      if (k.draw_swarm != nullptr) {
        k.draw_swarm(r, faults::WorldShape{3, 2}, f);
      } else {  // a kind the swarm never draws (redis_crash): as random_faults draws it
        k.draw_scheduled(r, faults::ScheduledDraw{"server:1", "client:2", 5000}, f);
      }
      std::string keys;
      k.write_yaml(f, plain, keys);
      const std::string yaml = "name: t\nworld:\n  clients: 3\n  servers: {count: 2}\n  faults:\n    - {at_ms: 10, kind: " +
                               std::string(k.name) + keys + ", for_ms: 5}\nvariants: {naive: {}}\n";
      auto sc = sim::parse_scenario(yaml, "t.yaml");
      ASSERT_TRUE(sc.has_value()) << sc.error().message << "\n" << yaml;
      const faults::FaultSpec& g = sc->variants.at(0).config.faults.at(0);
      EXPECT_EQ(g.kind, f.kind) << yaml;
      EXPECT_EQ(g.groups, f.groups) << yaml;
      EXPECT_EQ(g.one_way, f.one_way) << yaml;
      EXPECT_EQ(g.target, f.target) << yaml;
      EXPECT_EQ(g.value, f.value) << yaml;
      EXPECT_DOUBLE_EQ(g.loss, f.loss) << yaml;
      EXPECT_DOUBLE_EQ(g.dup, f.dup) << yaml;
      EXPECT_DOUBLE_EQ(g.reorder, f.reorder) << yaml;
      EXPECT_EQ(faults::describe(g), faults::describe(f));
    }
  }
}

}  // namespace
}  // namespace convlab
