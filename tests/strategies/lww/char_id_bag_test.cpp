// CharIdBag, the id multiset behind the ot and paragraph clients' contains(): held against
// std::multiset over random inserts and erases, with ids crowded around 64-id page edges, repeated
// ids and the extreme agents and seqs.
#include "server/strategies/char_id_bag.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <set>
#include <vector>

namespace convlab {
namespace {

TEST(CharIdBag, CountsCopiesAndForgetsErasedIds) {
  CharIdBag bag;
  const CharId a{1, 63}, b{1, 64}, c{kServerAgent, 0xffffffffu};
  EXPECT_FALSE(bag.contains(a));
  bag.insert(a);
  bag.insert(a);
  bag.insert(b);
  bag.insert(c);
  EXPECT_EQ(bag.count(a), 2u);
  EXPECT_EQ(bag.count(b), 1u);
  EXPECT_EQ(bag.count(c), 1u);
  EXPECT_FALSE(bag.contains(CharId{1, 62}));
  EXPECT_FALSE(bag.contains(CharId{2, 63}));
  EXPECT_EQ(bag.size(), 4u);
  bag.erase(a);
  EXPECT_TRUE(bag.contains(a));
  bag.erase(a);
  EXPECT_FALSE(bag.contains(a));
  EXPECT_TRUE(bag.contains(b));
  bag.erase(b);
  bag.erase(c);
  EXPECT_EQ(bag.size(), 0u);
  EXPECT_FALSE(bag.contains(b));
  EXPECT_FALSE(bag.contains(c));
}

RC_GTEST_PROP(CharIdBag, AgreesWithAMultiset, ()) {
  const std::vector<AgentId> agents{0, 1, 2, kServerAgent};
  const std::vector<std::uint32_t> seqs{0, 1, 62, 63, 64, 65, 127, 128, 4095, 4096, 0xfffffffeu, 0xffffffffu};
  const auto gen_id = [&] {
    return CharId{*rc::gen::elementOf(agents), *rc::gen::elementOf(seqs)};
  };
  CharIdBag bag;
  std::multiset<CharId> want;
  const int steps = *rc::gen::inRange(0, 300);
  for (int i = 0; i < steps; ++i) {
    const CharId id = gen_id();
    if (*rc::gen::inRange(0, 3) == 0 && want.contains(id)) {
      bag.erase(id);
      want.erase(want.find(id));
    } else {
      bag.insert(id);
      want.insert(id);
    }
    RC_ASSERT(bag.size() == want.size());
    for (AgentId a : agents) {
      for (std::uint32_t s : seqs) {
        RC_ASSERT(bag.count(CharId{a, s}) == want.count(CharId{a, s}));
        RC_ASSERT(bag.contains(CharId{a, s}) == want.contains(CharId{a, s}));
      }
    }
  }
}

}  // namespace
}  // namespace convlab
