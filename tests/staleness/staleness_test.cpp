// Two stale reads of the naive architecture on real processes (issue 15; docs/scenarios.md, "On
// real processes"): a real nginx proxy_cache in front of convlab-server's /api/documents
// (scripts/cdn.sh) serves a document older than an acknowledged edit when the server marks its
// answers cacheable (policies.api_cache: public, the naive policy), and not when it marks
// them no-store (the fix); a real PostgreSQL 15 streaming replica with recovery_min_apply_delay
// (scripts/pg.sh replica) read by the server (policies.api_read: replica, row 12) misses an
// acknowledged edit until the delay has passed, and the primary (api_read: primary) never does.
//
// Every process a test starts (nginx, PostgreSQL primary and replica, convlab-server) belongs to
// an object that stops it when the test ends, failed or not. Conditions are waited for with
// generous bounds; nothing asserts how long anything took.
#include "tests/server/server_fixture.hpp"
#include "tests/server/versions_fixture.hpp"
#include "tests/support/ci.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <optional>
#include <regex>
#include <string>
#include <thread>

namespace convlab::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kScripts = std::string(CONVLAB_SOURCE_DIR) + "/scripts/";

// Skips saying why; under CI=true the same is a failure (scripts/setup.sh installs both).
#define REQUIRE_TOOL(path, package)                                                                       \
  do {                                                                                                    \
    if (::access(path, X_OK) != 0) {                                                                      \
      if (in_ci()) FAIL() << kSkipFailsInCi << ": " << path << " is missing (Debian's " << package        \
                          << "; scripts/setup.sh installs it)";                                           \
      GTEST_SKIP() << path << " is missing (Debian's " << package << "; scripts/setup.sh installs it)"; \
    }                                                                                                     \
  } while (0)

// Runs `bash SCRIPT ARGS...`: its first line of stdout, or nullopt when it failed (its stderr,
// and stdout, are in `log`).
std::optional<std::string> run_script(const std::string& args, const std::string& log) {
  const std::string cmd = "bash " + args + " 2>>'" + log + "'";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return std::nullopt;
  std::string out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  const int status = ::pclose(p);
  if (status != 0) return std::nullopt;
  return out.substr(0, out.find('\n'));
}

std::string file_text(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A directory under /tmp (Unix socket paths stay short) that the postgres and nobody users can
// enter when the test runs as root; removed at the end.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/convlab-staleness.XXXXXX";
    if (::mkdtemp(tmpl) != nullptr) path_ = tmpl;
    if (!path_.empty()) ::chmod(path_.c_str(), 0755);
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// scripts/cdn.sh: nginx with proxy_cache in front of one server; stopped with the object.
class Cdn {
 public:
  Cdn(const std::string& dir, unsigned short upstream, int ttl_s) : dir_(dir + "/cdn"), log_(dir + "/cdn.log") {
    url_ = run_script(kScripts + "cdn.sh start " + dir_ + " 127.0.0.1:" + std::to_string(upstream) + " " +
                          std::to_string(ttl_s),
                      log_);
    if (url_) port_ = static_cast<unsigned short>(std::stoi(url_->substr(url_->rfind(':') + 1)));
  }
  ~Cdn() { run_script(kScripts + "cdn.sh stop " + dir_, log_); }
  unsigned short port() const { return port_; }
  std::string log() const { return file_text(log_) + file_text(dir_ + "/error.log"); }
  std::string access_log() const { return file_text(dir_ + "/access.log"); }

 private:
  std::string dir_, log_;
  std::optional<std::string> url_;
  unsigned short port_ = 0;
};

// scripts/pg.sh: a cluster (start) or a replica of one (replica); stopped with the object.
class Cluster {
 public:
  Cluster(const std::string& dir, const std::string& name, const std::string& replica_of = {}, int lag_ms = 0)
      : dir_(dir + "/" + name), log_(dir + "/" + name + ".log") {
    url_ = replica_of.empty()
               ? run_script(kScripts + "pg.sh start " + dir_, log_)
               : run_script(kScripts + "pg.sh replica " + dir_ + " " + replica_of + " " + std::to_string(lag_ms), log_);
  }
  ~Cluster() { stop(); }
  void stop() { run_script(kScripts + "pg.sh stop " + dir_, log_); }
  const std::optional<std::string>& url() const { return url_; }
  const std::string& dir() const { return dir_; }
  std::string log() const { return file_text(log_); }

 private:
  std::string dir_, log_;
  std::optional<std::string> url_;
};

HttpAnswer get_document(unsigned short port, const std::string& token, std::uint32_t doc) {
  return http_request(port, http::verb::get, "/api/documents/" + std::to_string(doc), {}, token);
}

std::string text_of(const HttpAnswer& a) {
  if (a.status != 200) return "(status " + std::to_string(a.status) + ": " + a.body + ")";
  return std::string(a.json().at("text").as_string());
}

// ---------------------------------------------------------------------------- CDN staleness

class CdnStaleness : public ::testing::TestWithParam<const char*> {};

// An edit acknowledged after the first GET through the CDN: under the naive policy (cacheable)
// the second GET, within the TTL, is nginx's cached copy without it (X-Cache-Status: HIT) while
// the server itself has it; under the fix (no_store) every GET reaches the server and has it.
TEST_P(CdnStaleness, SecondGetWithinTheTtl) {
  REQUIRE_TOOL("/usr/sbin/nginx", "nginx");
  CONVLAB_PG_URL_OR_SKIP(url);
  const bool naive = std::string(GetParam()) == "naive";
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  START_SERVER(server, yaml_for(url, "crdt", std::string("policies:\n  api_cache: ") + (naive ? "public" : "no_store") + "\n"));
  // A TTL far longer than the test takes: the second GET is within it on any machine.
  Cdn cdn(tmp.path(), server.port(), 300);
  ASSERT_NE(cdn.port(), 0) << "scripts/cdn.sh start failed:\n" << cdn.log();
  auto alice = login(server.port(), "alice", "alice-pw");
  ASSERT_TRUE(alice);
  const Strategy& s = *find_strategy("crdt");
  Editor ed(server.port(), *alice, s, 3);
  ASSERT_TRUE(ed.open());
  ed.insert(0, U"first");
  ASSERT_TRUE(ed.sync());

  const HttpAnswer one = get_document(cdn.port(), alice->token, 3);
  ASSERT_EQ(one.status, 200) << one.body << "\n" << cdn.log();
  EXPECT_EQ(text_of(one), "first");
  EXPECT_EQ(std::string(one.raw["Cache-Control"]), naive ? "public, max-age=300" : "no-store");
  EXPECT_EQ(std::string(one.raw["X-Cache-Status"]), "MISS");

  ed.insert(5, U" second");
  ASSERT_TRUE(ed.sync());  // acknowledged after its commit: the server's copy has it
  EXPECT_EQ(text_of(get_document(server.port(), alice->token, 3)), "first second");

  const HttpAnswer two = get_document(cdn.port(), alice->token, 3);
  ASSERT_EQ(two.status, 200) << two.body;
  if (naive) {
    EXPECT_EQ(text_of(two), "first") << "nginx should have served its cached copy";
    EXPECT_EQ(std::string(two.raw["X-Cache-Status"]), "HIT") << cdn.access_log();
  } else {
    EXPECT_EQ(text_of(two), "first second") << "a no-store answer must not be cached";
    EXPECT_EQ(std::string(two.raw["X-Cache-Status"]), "MISS") << cdn.access_log();
  }
}

INSTANTIATE_TEST_SUITE_P(Policy, CdnStaleness, ::testing::Values("naive", "fix"),
                         [](const auto& p) { return std::string(p.param); });

// ------------------------------------------------------------------------------ replica lag

class ReplicaLag : public ::testing::TestWithParam<const char*> {};

// The server reads documents from a streaming replica 5 s behind (api_read: replica): a GET
// right after an acknowledged edit lacks it (source replica, version below latest), and a later
// one has it; reading the primary (api_read: primary) the first GET has it. With the replica
// stopped, a replica read is a 503 that says the store failed, not a hang.
TEST_P(ReplicaLag, GetAfterAnAcknowledgedEdit) {
  REQUIRE_TOOL("/usr/lib/postgresql/15/bin/pg_basebackup", "postgresql-15");
  const bool replica = std::string(GetParam()) == "replica";
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  Cluster primary(tmp.path(), "primary");
  ASSERT_TRUE(primary.url()) << "scripts/pg.sh start failed:\n" << primary.log();
  // Long enough that the GET right after the acknowledgement comes before it on a loaded machine.
  constexpr int kLagMs = 5000;
  Cluster standby(tmp.path(), "replica", primary.dir(), kLagMs);
  ASSERT_TRUE(standby.url()) << "scripts/pg.sh replica failed:\n" << standby.log();
  START_SERVER(server, yaml_for(*primary.url(), "crdt",
                                "database_replica: \"" + *standby.url() + "\"\npolicies:\n  api_read: " + GetParam() + "\n"));
  auto alice = login(server.port(), "alice", "alice-pw");
  ASSERT_TRUE(alice);
  // The replica shows the server's schema once the delay has passed: until then its reads fail.
  HttpAnswer ready;
  for (int i = 0; i < 600 && ready.status != 200; ++i) {
    if (i > 0) std::this_thread::sleep_for(100ms);
    ready = get_document(server.port(), alice->token, 5);
  }
  ASSERT_EQ(ready.status, 200) << ready.body << "\n" << server.stderr_text();
  EXPECT_EQ(std::string(ready.json().at("source").as_string()), GetParam());

  const Strategy& s = *find_strategy("crdt");
  Editor ed(server.port(), *alice, s, 5);
  ASSERT_TRUE(ed.open());
  ed.insert(0, U"fresh");
  ASSERT_TRUE(ed.sync());  // acknowledged after its commit on the primary

  const HttpAnswer right_after = get_document(server.port(), alice->token, 5);
  ASSERT_EQ(right_after.status, 200) << right_after.body;
  const json::value v = right_after.json();
  if (replica) {
    EXPECT_EQ(text_of(right_after), "") << "the replica applies commits " << kLagMs << " ms late";
    EXPECT_LT(v.at("version").to_number<std::uint64_t>(), v.at("latest").to_number<std::uint64_t>())
        << "latest is the primary's log length: the answer says it is behind";
    HttpAnswer later;
    for (int i = 0; i < 600 && text_of(later) != "fresh"; ++i) {
      std::this_thread::sleep_for(100ms);
      later = get_document(server.port(), alice->token, 5);
    }
    EXPECT_EQ(text_of(later), "fresh") << "the edit should reach the replica after the delay";

    standby.stop();
    const HttpAnswer down = get_document(server.port(), alice->token, 5);
    EXPECT_EQ(down.status, 503) << down.body;
    EXPECT_NE(down.body.find("the store failed to read the document"), std::string::npos) << down.body;
    for (int i = 0; i < 600 && server.stderr_text().find("read replica down") == std::string::npos; ++i) {
      std::this_thread::sleep_for(100ms);
    }
    EXPECT_NE(server.stderr_text().find("read replica down: pg replica"), std::string::npos) << server.stderr_text();
  } else {
    EXPECT_EQ(text_of(right_after), "fresh");
    EXPECT_EQ(v.at("version").to_number<std::uint64_t>(), v.at("latest").to_number<std::uint64_t>());
  }
  EXPECT_EQ(std::string(v.at("source").as_string()), GetParam());
}

// Row 12's fixes on real processes: the session's last acknowledged version (the ack's version
// frame, docs/protocol.md "Versions") on the read, X-Convlab-Session-Version. With the replica
// 5 s behind, a read right after the acknowledgement that carries it never shows a version
// below it under session_primary (the primary answers) and fenced (the replica has not reached
// it: the primary answers), while replica serves the replica's older state. Without the header
// (a session that has written nothing) both fixes read the replica.
class ReplicaSession : public ::testing::TestWithParam<const char*> {};

TEST_P(ReplicaSession, ReadCarryingTheLastAcknowledgedVersion) {
  REQUIRE_TOOL("/usr/lib/postgresql/15/bin/pg_basebackup", "postgresql-15");
  const std::string policy = GetParam();
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  Cluster primary(tmp.path(), "primary");
  ASSERT_TRUE(primary.url()) << "scripts/pg.sh start failed:\n" << primary.log();
  constexpr int kLagMs = 5000;
  Cluster standby(tmp.path(), "replica", primary.dir(), kLagMs);
  ASSERT_TRUE(standby.url()) << "scripts/pg.sh replica failed:\n" << standby.log();
  START_SERVER(server, yaml_for(*primary.url(), "crdt",
                                "database_replica: \"" + *standby.url() + "\"\npolicies:\n  api_read: " + policy + "\n"));
  auto alice = login(server.port(), "alice", "alice-pw");
  ASSERT_TRUE(alice);
  HttpAnswer ready;
  for (int i = 0; i < 600 && ready.status != 200; ++i) {
    if (i > 0) std::this_thread::sleep_for(100ms);
    ready = get_document(server.port(), alice->token, 5);
  }
  ASSERT_EQ(ready.status, 200) << ready.body << "\n" << server.stderr_text();
  const Strategy& s = *find_strategy("crdt");
  VersionedEditor ed(server.port(), *alice, s, 5);
  ASSERT_TRUE(ed.open());
  ed.insert(0, U"mine");
  ASSERT_TRUE(ed.sync());
  ASSERT_FALSE(ed.versions.empty());
  const std::uint64_t own = ed.versions.back().second;
  ASSERT_GE(own, 1u);
  const HttpAnswer with = get_with_session_version(server.port(), alice->token, 5, std::to_string(own));
  const HttpAnswer without = get_document(server.port(), alice->token, 5);
  ASSERT_EQ(with.status, 200) << with.body;
  ASSERT_EQ(without.status, 200) << without.body;
  const std::uint64_t served = with.json().at("version").to_number<std::uint64_t>();
  const std::string source(with.json().at("source").as_string());
  if (policy == "replica") {
    EXPECT_LT(served, own) << "the replica is " << kLagMs << " ms behind: the naive read misses the session's write";
    EXPECT_EQ(source, "replica");
  } else {
    EXPECT_GE(served, own) << policy << " must not serve a version below the session's last acknowledged one";
    EXPECT_EQ(text_of(with), "mine");
    EXPECT_EQ(source, "primary") << policy;
  }
  EXPECT_EQ(std::string(without.json().at("source").as_string()), "replica")
      << "a read without the session's version reads the replica under " << policy;
}

INSTANTIATE_TEST_SUITE_P(ApiRead, ReplicaSession, ::testing::Values("replica", "session_primary", "fenced"),
                         [](const auto& p) { return std::string(p.param); });

// The replica's configuration: replica reads with no replica are refused, naming the key and
// the flag.
TEST(ReplicaConfig, RefusedWithTheReason) {
  ServerProcess fenced(yaml_for("postgresql://convlab@127.0.0.1:1/none", "crdt", "policies:\n  api_read: fenced\n"));
  EXPECT_EQ(fenced.wait(), 2);
  EXPECT_NE(fenced.stderr_text().find("policies.api_read: replica reads need database_replica"), std::string::npos)
      << fenced.stderr_text();
  ServerProcess alone(yaml_for("postgresql://convlab@127.0.0.1:1/none", "crdt", "policies:\n  api_read: replica\n"));
  EXPECT_EQ(alone.wait(), 2);
  EXPECT_NE(alone.stderr_text().find("policies.api_read: replica reads need database_replica"), std::string::npos)
      << alone.stderr_text();
}

INSTANTIATE_TEST_SUITE_P(ApiRead, ReplicaLag, ::testing::Values("replica", "primary"),
                         [](const auto& p) { return std::string(p.param); });

}  // namespace
}  // namespace convlab::test
