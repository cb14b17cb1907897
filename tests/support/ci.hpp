// Skips and CI (issue 16, "Skips are failures in CI"). A test that cannot run here (no
// ../shared, no PostgreSQL, no tool) skips saying why; under CI=true every such skip fails the
// run instead, so that CI cannot stay green while tests do not run. Test scripts do the same with
// skip_or_fail (tests/support/skip.sh).
#pragma once

#include <cstdlib>
#include <string_view>

namespace convlab::test {

// True when the environment says this is CI: CI=true (as GitHub Actions, GitLab CI and most
// others set it) or CI=1.
inline bool in_ci() {
  const char* ci = std::getenv("CI");
  if (ci == nullptr) return false;
  const std::string_view v(ci);
  return v == "true" || v == "TRUE" || v == "True" || v == "1";
}

// How the failure of a test that skipped under CI begins.
inline constexpr std::string_view kSkipFailsInCi = "CI=true: a skip fails the run in CI";

}  // namespace convlab::test
