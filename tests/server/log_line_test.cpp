// convlab-server's log lines (server/net/log_line.hpp): lines written by several threads at once
// come out whole, one per line, none spliced into another (the real runner waits on them).
#include "server/net/log_line.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace convlab::net {
namespace {

constexpr int kThreads = 4;
constexpr int kLines = 2000;

TEST(LogLine, ThreadsLinesComeOutWholeOnePerLine) {
  char path[] = "/tmp/convlab-logline-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  std::fflush(stderr);
  const int saved = ::dup(STDERR_FILENO);
  ASSERT_GE(saved, 0);
  ASSERT_GE(::dup2(fd, STDERR_FILENO), 0);
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([t] {
        // Many pieces per line: each `<<` was a write of its own with std::cerr.
        for (int i = 0; i < kLines; ++i) LogLine{} << "thread " << t << " line " << i << " of " << kLines << " end";
      });
    }
  }
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  ::close(fd);
  std::ifstream in(path);
  const std::regex whole(R"(convlab-server: thread ([0-9]) line ([0-9]+) of 2000 end)");
  std::vector<int> next(kThreads, 0);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, whole)) << "line " << lines + 1 << " spliced: " << line;
    const int t = std::stoi(m[1].str());
    ASSERT_LT(t, kThreads);
    EXPECT_EQ(std::stoi(m[2].str()), next[t]) << "thread " << t << "'s lines out of order";
    ++next[t];
    ++lines;
  }
  ::unlink(path);
  EXPECT_EQ(lines, kThreads * kLines);
}

}  // namespace
}  // namespace convlab::net
