// The main of every GoogleTest binary of convlab (instead of GTest::gtest_main). Outside CI a
// skipped test stays a skip, saying why (a clone without ../shared or PostgreSQL): GoogleTest
// prints "[  SKIPPED ]", which gtest_discover_tests makes ctest report as a skip. Under CI=true
// (or CI=1) a skip fails the run (issue 16): SkipFailsInCi turns each skip into a failure that
// names the test and gives the skip's reason, so GoogleTest prints "[  FAILED  ]" (not
// "[  SKIPPED ]") and exits 1, and ctest reports a failure.
#include "ci.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

// The reason of the first skip in `result`, with where it was raised ("" when there is none).
std::string skip_reason(const testing::TestResult& result) {
  for (int i = 0; i < result.total_part_count(); ++i) {
    const testing::TestPartResult& part = result.GetTestPartResult(i);
    if (!part.skipped()) continue;
    std::string where = part.file_name() != nullptr ? std::string(part.file_name()) + ":" + std::to_string(part.line_number()) + ": " : "";
    const std::string message = part.message() != nullptr ? part.message() : "";
    if (!message.empty()) return where + message;
  }
  return "";
}

// GoogleTest's documented way to fail a test from a listener (its LeakChecker example): OnTestEnd
// runs before the default printer's (end events go in reverse order) with the test still current,
// so the failure is the test's own. A test skipped by its suite's SetUpTestSuite carries no
// message of its own: the suite's skip gives the reason.
class SkipFailsInCi : public testing::EmptyTestEventListener {
  void OnTestEnd(const testing::TestInfo& info) override {
    if (!info.result()->Skipped()) return;
    std::string reason = skip_reason(*info.result());
    if (reason.empty()) {
      const testing::UnitTest& unit = *testing::UnitTest::GetInstance();
      for (int s = 0; s < unit.total_test_suite_count() && reason.empty(); ++s) {
        const testing::TestSuite& suite = *unit.GetTestSuite(s);
        if (std::string(suite.name()) == info.test_suite_name()) reason = skip_reason(suite.ad_hoc_test_result());
      }
    }
    if (reason.empty()) reason = "(GTEST_SKIP without a reason)";
    ADD_FAILURE() << convlab::test::kSkipFailsInCi << ": " << info.test_suite_name() << "." << info.name()
                  << " skipped: " << reason;
  }
};

}  // namespace

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  if (convlab::test::in_ci()) testing::UnitTest::GetInstance()->listeners().Append(new SkipFailsInCi);
  return RUN_ALL_TESTS();
}
