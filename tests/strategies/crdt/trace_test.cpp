// The crdt strategy against external oracles: the Eg-walker conformance histories (concurrent
// inserts and their tie-breaks), the sequential editing traces (local and relayed), and the
// concurrent friendsforever trace.
#include "server/strategies/crdt/crdt.hpp"
#include "workload/concurrent.hpp"
#include "workload/replay.hpp"
#include "workload/trace.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

namespace convlab {
namespace {

namespace fs = std::filesystem;

TEST(CrdtConformance, AllEgwalkerHistoriesMergeToTheirEndContent) {
  const std::string path = shared_dir() + "/conformance/egwalker-conformance.json";
  if (!fs::exists(path)) GTEST_SKIP() << path << " is absent (set CONVLAB_SHARED)";
  auto histories = load_conformance(path);
  ASSERT_TRUE(histories) << histories.error().message;
  ASSERT_EQ(histories->size(), 800u);
  std::size_t passed = 0;
  std::size_t failed = 0;
  long first_failure = -1;
  std::string first_message;
  for (std::size_t i = 0; i < histories->size(); ++i) {
    auto merged = merge_conformance((*histories)[i]);
    if (merged && *merged == (*histories)[i].end_content) {
      ++passed;
    } else {
      ++failed;
      if (first_failure < 0) {
        first_failure = static_cast<long>(i);
        first_message = merged ? "wrong text" : merged.error().message;
      }
    }
  }
  std::printf("conformance: %zu passed, %zu failed, first failing index %ld (%s)\n", passed, failed,
              first_failure, first_message.c_str());
  EXPECT_EQ(passed, 800u) << "first failing history: " << first_failure << ": " << first_message;
  EXPECT_EQ(failed, 0u);
}

std::vector<std::string> sequential_traces() {
  std::vector<std::string> out;
  const fs::path dir = fs::path(shared_dir()) / "traces" / "sequential_traces";
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && name.size() > 8 && name.ends_with(".json.gz")) out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(CrdtTraces, EverySequentialTraceReplaysLocallyAndRelayed) {
  const auto files = sequential_traces();
  if (files.empty()) GTEST_SKIP() << "no traces under " << shared_dir() << "/traces/sequential_traces";
  for (const std::string& f : files) {
    SCOPED_TRACE(f);
    auto any = load_trace(f);
    ASSERT_TRUE(any) << any.error().message;
    ASSERT_FALSE(any->concurrent);
    const SequentialTrace& t = any->sequential;
    auto local = replay_local(crdt_strategy(), t);
    ASSERT_TRUE(local) << local.error().message;
    EXPECT_TRUE(local->text == t.end_content) << "local replay differs from endContent";
    EXPECT_EQ(local->patches, t.patch_count);
    auto relayed = replay_relayed(crdt_strategy(), t);
    ASSERT_TRUE(relayed) << relayed.error().message;
    EXPECT_TRUE(relayed->text == t.end_content) << "relayed replay differs from endContent";
    EXPECT_GT(relayed->messages, 0u);
  }
}

TEST(CrdtTraces, FriendsforeverMergesToItsEndContent) {
  const std::string path = shared_dir() + "/traces/concurrent_traces/friendsforever.json.gz";
  if (!fs::exists(path)) GTEST_SKIP() << path << " is absent (set CONVLAB_SHARED)";
  auto any = load_trace(path);
  ASSERT_TRUE(any) << any.error().message;
  ASSERT_TRUE(any->concurrent);
  auto merged = merge_concurrent_trace(any->concurrent_trace);
  ASSERT_TRUE(merged) << merged.error().message;
  EXPECT_EQ(merged->size(), any->concurrent_trace.end_content.size());
  EXPECT_TRUE(*merged == any->concurrent_trace.end_content);
}

}  // namespace
}  // namespace convlab
