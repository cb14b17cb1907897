// sort_char_ids (server/core/sort_ids.hpp) sorts exactly as std::sort does, for ids in document
// order made of runs, for runs that overlap (an id held twice), and for scattered ids.
#include "server/core/sort_ids.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <vector>

namespace convlab {
namespace {

// Runs of consecutive ids from a few agents, in any order, some repeated.
std::vector<CharId> runs_in_document_order() {
  const auto n = *rc::gen::inRange<std::size_t>(0, 40);
  std::vector<CharId> ids;
  for (std::size_t i = 0; i < n; ++i) {
    const auto agent = *rc::gen::inRange<AgentId>(1, 4);
    const auto seq = *rc::gen::inRange<std::uint32_t>(0, 200);
    const auto len = *rc::gen::inRange<std::uint32_t>(1, 60);
    for (std::uint32_t k = 0; k < len; ++k) ids.push_back(CharId{agent, seq + k});
  }
  return ids;
}

RC_GTEST_PROP(SortCharIds, SortsRunsAsStdSortDoes, ()) {
  std::vector<CharId> ids = runs_in_document_order();
  std::vector<CharId> expected = ids;
  std::sort(expected.begin(), expected.end());
  sort_char_ids(ids);
  RC_ASSERT(ids == expected);
}

RC_GTEST_PROP(SortCharIds, SortsScatteredIdsAsStdSortDoes, (std::vector<std::pair<std::uint8_t, std::uint16_t>> raw)) {
  std::vector<CharId> ids;
  for (const auto& [a, s] : raw) ids.push_back(CharId{a, s});
  std::vector<CharId> expected = ids;
  std::sort(expected.begin(), expected.end());
  sort_char_ids(ids);
  RC_ASSERT(ids == expected);
}

TEST(SortCharIds, OverlappingRunsKeepBothCopies) {
  std::vector<CharId> ids;
  for (std::uint32_t k = 0; k < 40; ++k) ids.push_back(CharId{2, k});
  for (std::uint32_t k = 10; k < 50; ++k) ids.push_back(CharId{2, k});
  for (std::uint32_t k = 0; k < 40; ++k) ids.push_back(CharId{1, k});
  std::vector<CharId> expected = ids;
  std::sort(expected.begin(), expected.end());
  sort_char_ids(ids);
  EXPECT_EQ(ids, expected);
  EXPECT_EQ(ids.size(), 120u);
}

}  // namespace
}  // namespace convlab
