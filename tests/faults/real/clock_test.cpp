// The libfaketime helpers (faults/real/clock.hpp): the clock file's spelling, and a real process
// (/bin/date) started with faketime_env reading the clock that set_clock wrote.
#include "faults/real/clock.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

namespace convlab::faults::real {
namespace {

TEST(FakeClock, Spec) {
  EXPECT_EQ(faketime_spec(1500), "+1.500");
  EXPECT_EQ(faketime_spec(0), "+0.000");
  EXPECT_EQ(faketime_spec(-1), "-0.001");
  EXPECT_EQ(faketime_spec(-3'600'000, 100), "-3600.000 x1.000100");
  EXPECT_EQ(faketime_spec(86'400'000, -50), "+86400.000 x0.999950");
}

// The seconds since the epoch that /bin/date prints under libfaketime with the clock file set
// to `offset_ms`.
long long date_under(const std::string& lib, const std::string& file, std::int64_t offset_ms) {
  EXPECT_TRUE(set_clock(file, offset_ms).has_value());
  std::string cmd = "env";
  for (const std::string& e : faketime_env(lib, file)) cmd += " '" + e + "'";
  cmd += " LC_ALL=C /bin/date +%s";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return 0;
  long long s = 0;
  if (std::fscanf(p, "%lld", &s) != 1) s = 0;
  ::pclose(p);
  return s;
}

TEST(FakeClock, AProcessReadsTheClockFile) {
  const auto lib = faketime_library();
  if (!lib) GTEST_SKIP() << lib.error().message;
  const std::string file = (std::filesystem::temp_directory_path() / ("convlab-clock-" + std::to_string(::getpid()))).string();
  const auto now_s = [] {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  };
  constexpr long long kDay = 86'400;
  const long long ahead = date_under(*lib, file, kDay * 1000);
  EXPECT_NEAR(static_cast<double>(ahead - now_s()), static_cast<double>(kDay), 600.0);
  const long long behind = date_under(*lib, file, -kDay * 1000);
  EXPECT_NEAR(static_cast<double>(behind - now_s()), static_cast<double>(-kDay), 600.0);
  std::filesystem::remove(file);
}

}  // namespace
}  // namespace convlab::faults::real
