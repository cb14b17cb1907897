#pragma once
// The fixture the CLI tests share: a fresh directory per test, and `convlab(args)`, which runs the
// built binary as a user would (popen; stdout through the pipe, stderr through a file) and
// returns its exit code and output.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace convlab::cli_test {

namespace fs = std::filesystem;

struct CliRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string quote(const std::string& s) {
  std::string q = "'";
  for (const char c : s) {
    if (c == '\'') {
      q += "'\\''";
    } else {
      q += c;
    }
  }
  return q + "'";
}

inline std::size_t count_lines(const std::string& s) {
  std::size_t n = 0;
  for (const char c : s) n += c == '\n' ? 1 : 0;
  if (!s.empty() && s.back() != '\n') ++n;
  return n;
}

// A fresh directory per test, removed at the end.
class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("convlab-cli-" + std::to_string(getpid()) + "-" + info->test_suite_name() + "-" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  static std::string read(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }

  std::string write(const std::string& name, const std::string& bytes) const {
    const std::string p = path(name);
    std::ofstream f(p, std::ios::binary);
    f << bytes;
    return p;
  }

  // Runs convlab with `args` (each quoted for the shell); stdout through the pipe, stderr
  // through a file.
  CliRun convlab(const std::vector<std::string>& args) const {
    const std::string err_path = path("stderr.txt");
    std::string cmd = quote(CONVLAB_EXE);
    for (const std::string& a : args) cmd += " " + quote(a);
    cmd += " 2>" + quote(err_path);
    CliRun r;
    FILE* p = popen(cmd.c_str(), "r");
    if (p == nullptr) {
      ADD_FAILURE() << "popen failed for " << cmd;
      return r;
    }
    std::array<char, 4096> buf{};
    std::size_t n = 0;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
    const int status = pclose(p);
    if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
    std::ifstream ef(err_path, std::ios::binary);
    std::stringstream ss;
    ss << ef.rdbuf();
    r.err = ss.str();
    return r;
  }

  // Bad input: exit 2, exactly one line on stderr that names `subject` and says `problem`.
  void expect_usage_error(const CliRun& r, const std::string& subject, const std::string& problem) const {
    EXPECT_EQ(r.exit_code, 2) << "stderr: " << r.err;
    EXPECT_EQ(count_lines(r.err), 1u) << "stderr: " << r.err;
    EXPECT_NE(r.err.find(subject), std::string::npos) << "stderr does not name " << subject << ": " << r.err;
    EXPECT_NE(r.err.find(problem), std::string::npos) << "stderr does not say " << problem << ": " << r.err;
  }

  fs::path dir_;
};

}  // namespace convlab::cli_test
