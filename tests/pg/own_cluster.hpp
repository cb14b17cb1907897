#pragma once
// A PostgreSQL cluster of a test's own (scripts/pg.sh start), in a directory of its own under
// the temporary directory, stopped and removed by the destructor: for tests that crash a
// cluster (crash_test.cpp) or need several (partitions: partitioned_test.cpp,
// tests/server/server_partition_test.cpp). CONVLAB_SOURCE_DIR names the checkout.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

namespace convlab::pg::test {

// Runs a command, returns its stdout (trimmed) or fails the test.
inline std::string run(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) {
    ADD_FAILURE() << "cannot run " << command;
    return out;
  }
  std::array<char, 256> buf{};
  while (std::fgets(buf.data(), static_cast<int>(buf.size()), p) != nullptr) out += buf.data();
  const int rc = ::pclose(p);
  EXPECT_EQ(rc, 0) << command << " failed: " << out;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

class OwnCluster {
 public:
  OwnCluster() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "convlab-own-pg.XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
    url_ = run(script() + " start " + dir_);
  }
  ~OwnCluster() {
    run(script() + " stop " + dir_);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  const std::string& url() const { return url_; }
  void crash() { run(script() + " crash " + dir_); }
  void restart() { run(script() + " restart " + dir_); }

 private:
  static std::string script() { return std::string(CONVLAB_SOURCE_DIR) + "/scripts/pg.sh"; }
  std::string dir_;
  std::string url_;
};

// Whether PostgreSQL 15's server binaries, which scripts/pg.sh runs, are installed.
inline bool postgres_installed() { return std::filesystem::exists("/usr/lib/postgresql/15/bin/initdb"); }

// A test suite over two clusters of its own (partitions), started once for the suite; each test
// skips, saying why, when they could not start (under CI=true a skip fails the run).
class TwoClusters : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!postgres_installed()) return;
    clusters_[0] = std::make_unique<OwnCluster>();
    clusters_[1] = std::make_unique<OwnCluster>();
  }
  static void TearDownTestSuite() {
    clusters_[0].reset();
    clusters_[1].reset();
  }
  void SetUp() override {
    if (!clusters_[0] || clusters_[0]->url().empty() || !clusters_[1] || clusters_[1]->url().empty()) {
      GTEST_SKIP() << "scripts/pg.sh could not start two PostgreSQL 15 clusters (/usr/lib/postgresql/15/bin)";
    }
  }
  inline static std::unique_ptr<OwnCluster> clusters_[2];
};

}  // namespace convlab::pg::test
