// Every sequential editing trace of ../shared replays to its endContent through `ot`, on one
// client (local) and from client A through the server to client B (relayed).
#include "server/strategies/ot/ot.hpp"
#include "workload/replay.hpp"
#include "workload/trace.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>

namespace convlab {
namespace {

// The sequential traces of ../shared/traces (SOURCE.md: seph-blog1 and clownschool_flat are not
// in this copy). A trace added there fails OtTraceFolder until it joins this list.
const char* const kTraces[] = {"automerge-paper", "rustcode", "sveltecomponent", "json-crdt-patch",
                               "json-crdt-blog-post", "friendsforever_flat"};

std::filesystem::path trace_dir() { return std::filesystem::path(shared_dir()) / "traces" / "sequential_traces"; }

class OtTrace : public ::testing::TestWithParam<const char*> {
 protected:
  // Loads the trace, or says why the test cannot run.
  bool load(SequentialTrace& out, std::string& why) {
    const auto path = trace_dir() / (std::string(GetParam()) + ".json.gz");
    if (!std::filesystem::exists(path)) {
      why = path.string() + " is absent (set CONVLAB_SHARED to the shared folder)";
      return false;
    }
    auto t = load_trace(path.string());
    if (!t) {
      ADD_FAILURE() << t.error().message;
      return false;
    }
    if (t->concurrent) {
      ADD_FAILURE() << path << " is not a sequential trace";
      return false;
    }
    out = std::move(t->sequential);
    return true;
  }
};

TEST_P(OtTrace, ReplaysLocally) {
  SequentialTrace t;
  std::string why;
  if (!load(t, why)) {
    if (!why.empty()) GTEST_SKIP() << why;
    return;
  }
  auto r = replay_local(ot_strategy(), t);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->patches, t.patch_count);
  EXPECT_TRUE(r->text == t.end_content) << "text of " << r->text.size() << " code points, expected "
                                        << t.end_content.size();
}

TEST_P(OtTrace, ReplaysRelayed) {
  SequentialTrace t;
  std::string why;
  if (!load(t, why)) {
    if (!why.empty()) GTEST_SKIP() << why;
    return;
  }
  auto r = replay_relayed(ot_strategy(), t);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->patches, t.patch_count);
  EXPECT_GT(r->messages, 0u);
  EXPECT_TRUE(r->text == t.end_content) << "text of " << r->text.size() << " code points, expected "
                                        << t.end_content.size();
}

INSTANTIATE_TEST_SUITE_P(Sequential, OtTrace, ::testing::ValuesIn(kTraces),
                         [](const ::testing::TestParamInfo<const char*>& p) {
                           std::string name = p.param;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

// A trace added to the folder must not be skipped silently: it has to join kTraces.
TEST(OtTraceFolder, EveryTraceInTheFolderIsReplayed) {
  if (!std::filesystem::exists(trace_dir())) GTEST_SKIP() << trace_dir() << " is absent (set CONVLAB_SHARED)";
  const std::set<std::string> known(std::begin(kTraces), std::end(kTraces));
  std::size_t found = 0;
  for (const auto& e : std::filesystem::directory_iterator(trace_dir())) {
    const std::string file = e.path().filename().string();
    const std::string suffix = ".json.gz";
    if (!e.is_regular_file() || file.size() <= suffix.size() || file.substr(file.size() - suffix.size()) != suffix)
      continue;
    ++found;
    EXPECT_TRUE(known.count(file.substr(0, file.size() - suffix.size())) == 1) << file << " is not in kTraces";
  }
  EXPECT_GT(found, 0u);
}

}  // namespace
}  // namespace convlab
