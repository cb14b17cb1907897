#include "server/core/rng.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <array>

namespace convlab {
namespace {

// xoshiro256** against the reference implementation's published outputs from the state
// {1, 2, 3, 4} (the test vector other ports check, e.g. Rust's rand_xoshiro).
TEST(Rng, MatchesTheReferenceVector) {
  Rng r = Rng::from_state(1, 2, 3, 4);
  const std::array<std::uint64_t, 10> want = {11520ull,
                                              0ull,
                                              1509978240ull,
                                              1215971899390074240ull,
                                              1216172134540287360ull,
                                              607988272756665600ull,
                                              16172922978634559625ull,
                                              8476171486693032832ull,
                                              10595114339597558777ull,
                                              2904607092377533576ull};
  for (std::uint64_t w : want) EXPECT_EQ(r.next(), w);
}

// Pinned outputs of convlab's seeding (splitmix64 from the seed fills the state), computed with
// an independent implementation: a change to the generator or its seeding changes every
// simulated run, so it must be deliberate.
TEST(Rng, SequenceIsPinned) {
  std::uint64_t sm = 0;
  EXPECT_EQ(splitmix64(sm), 0xe220a8397b1dcdafull);
  EXPECT_EQ(splitmix64(sm), 0x6e789e6aa1b965f4ull);
  Rng r(0);
  const std::array<std::uint64_t, 5> want = {0x99ec5f36cb75f2b4ull, 0xbf6e1f784956452aull, 0x1a5f849d4933e6e0ull,
                                             0x6aa594f1262d2d2cull, 0xbba5ad4a1f842e59ull};
  for (std::uint64_t w : want) EXPECT_EQ(r.next(), w);
}

TEST(Rng, DifferentSeedsDiffer) {
  Rng a(1);
  Rng b(2);
  EXPECT_NE(a.next(), b.next());
}

TEST(Rng, BelowIsRoughlyUniform) {
  Rng r(42);
  std::array<int, 10> counts{};
  for (int i = 0; i < 100000; ++i) ++counts[r.below(10)];
  for (int c : counts) {
    EXPECT_GT(c, 9000);
    EXPECT_LT(c, 11000);
  }
}

RC_GTEST_PROP(Rng, BetweenStaysInRange, (std::uint64_t seed, std::int32_t a, std::int32_t b)) {
  const std::int64_t lo = std::min(a, b);
  const std::int64_t hi = std::max(a, b);
  Rng r(seed);
  for (int i = 0; i < 100; ++i) {
    const auto v = r.between(lo, hi);
    RC_ASSERT(v >= lo);
    RC_ASSERT(v <= hi);
  }
  const double u = r.unit();
  RC_ASSERT(u >= 0.0);
  RC_ASSERT(u < 1.0);
}

}  // namespace
}  // namespace convlab
