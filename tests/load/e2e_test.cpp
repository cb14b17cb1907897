// End to end: real convlab-server processes on a real PostgreSQL, driven over real sockets by
// convlab-load (a child process), then the checkers on the history it wrote. The same checkers
// judge simulated runs; here they judge the real server, faults included (kill -9 of a server,
// PostgreSQL crashed with `pg_ctl stop -m immediate`).
//
// CONVLAB_PG_URL names the PostgreSQL to use (scripts/test.sh starts one); without it the tests
// skip. The PostgreSQL-crash test starts a cluster of its own with scripts/pg.sh.
#include "history/history.hpp"
#include "reports/checkers.hpp"
#include "tests/load/process.hpp"
#include "tests/pg/pg_fixture.hpp"

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace convlab::e2e {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kSecret = "e2e-secret-e2e-secret-e2e-secret-0123456789";

std::string test_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string(info->test_suite_name()) + "_" + info->name();
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  const fs::path d = fs::path(CONVLAB_E2E_OUT) / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d.string();
}

// A loopback port that was free a moment ago: the servers of a cluster must know each other's
// ports before they start.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

// Servers of one deployment: nodes 0..n-1 on one database, one strategy, each knowing the others
// as peers (single-writer documents are forwarded to their home).
class Servers {
 public:
  Servers(std::string pg_url, std::string strategy, std::string dir, std::uint32_t n)
      : pg_url_(std::move(pg_url)), strategy_(std::move(strategy)), dir_(std::move(dir)), procs_(n), ports_(n, 0) {}

  // Starts node k on its port (picked once, so a restart keeps it and the peers find it).
  void start(std::uint32_t k) {
    for (int& p : ports_) {
      if (p == 0) p = free_port();
    }
    const std::string log = dir_ + "/server" + std::to_string(k) + "." + std::to_string(++starts_) + ".log";
    std::vector<std::string> argv{CONVLAB_SERVER_BIN, "--listen", "127.0.0.1:" + std::to_string(ports_[k]),
                                  "--node-id", std::to_string(k), "--nodes", std::to_string(procs_.size()),
                                  "--pg-url", pg_url_, "--strategy", strategy_, "--jwt-secret", kSecret,
                                  "--lab-password", "lab"};
    for (std::uint32_t p = 0; p < ports_.size(); ++p) {
      if (p == k) continue;
      argv.push_back("--peer");
      argv.push_back(std::to_string(p) + "=ws://127.0.0.1:" + std::to_string(ports_[p]));
    }
    procs_[k] = std::make_unique<Process>(std::move(argv), log, true);
    const auto line = procs_[k]->first_line(30000);
    ASSERT_TRUE(line.has_value()) << "server " << k << " did not say where it listens; its log:\n"
                                  << procs_[k]->log_tail();
    const std::string prefix = "listening 127.0.0.1:";
    ASSERT_EQ(line->rfind(prefix, 0), 0u) << "first line: " << *line;
    ports_[k] = std::stoi(line->substr(prefix.size()));
  }
  void start_all() {
    for (std::uint32_t k = 0; k < procs_.size(); ++k) {
      start(k);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
  bool running(std::uint32_t k) { return procs_[k] && procs_[k]->running(); }
  void kill9(std::uint32_t k) {
    procs_[k]->signal(SIGKILL);
    procs_[k]->wait(10000);
  }
  const std::string& pg_url() const { return pg_url_; }
  std::vector<std::string> url_flags() const {
    std::vector<std::string> out;
    for (int p : ports_) {
      out.push_back("--url");
      out.push_back("ws://127.0.0.1:" + std::to_string(p));
    }
    return out;
  }
  std::string logs() const {
    std::string s;
    for (std::size_t k = 0; k < procs_.size(); ++k) {
      if (procs_[k]) s += "--- server " + std::to_string(k) + " (" + procs_[k]->log_path() + "):\n" + procs_[k]->log_tail(2000) + "\n";
    }
    return s;
  }
  ~Servers() {
    for (auto& p : procs_) {
      if (p && p->running()) {
        p->signal(SIGTERM);
        if (!p->wait(15000)) p->signal(SIGKILL);
      }
    }
  }

 private:
  std::string pg_url_, strategy_, dir_;
  std::vector<std::unique_ptr<Process>> procs_;
  std::vector<int> ports_;
  int starts_ = 0;
};

struct LoadSpec {
  std::string strategy;
  std::uint32_t clients = 8;
  std::uint32_t docs = 2;
  double rate = 5;
  double duration_s = 8;
};

std::unique_ptr<Process> start_load(const Servers& servers, const LoadSpec& spec, const std::string& dir) {
  std::vector<std::string> argv{CONVLAB_LOAD_BIN,   "--clients",  std::to_string(spec.clients),
                                "--docs",           std::to_string(spec.docs), "--rate",
                                std::to_string(spec.rate), "--duration", std::to_string(spec.duration_s),
                                "--strategy",       spec.strategy, "--seed", "7", "--password", "lab",
                                "--history",        dir + "/history.jsonl", "--drain", "25", "--ramp", "100",
                                // The servers' change log goes into the history: causes of loss
                                // from what they committed.
                                "--pg",             servers.pg_url()};
  for (const std::string& u : servers.url_flags()) argv.push_back(u);
  return std::make_unique<Process>(argv, dir + "/load.log", false);
}

// What every run must show, faults or not: the load client finished without errors, replicas
// converged to the durable state, no acknowledged edit lost, and every edit whose characters
// survive was seen by every other client of its document.
reports::RunMetrics expect_sound(Process& load, const Servers& servers, const std::string& dir, bool merges) {
  const auto code = load.wait(120000);
  EXPECT_TRUE(code.has_value()) << "convlab-load did not finish";
  EXPECT_EQ(code.value_or(-1), 0) << "convlab-load's output:\n" << load.log_tail() << "\n" << servers.logs();
  auto events = history::read_file(dir + "/history.jsonl");
  EXPECT_TRUE(events.has_value()) << (events ? "" : events.error().message);
  if (!events) return {};
  const reports::RunMetrics m = reports::check(*events);
  EXPECT_TRUE(m.converged) << (m.divergent.empty() ? "" : m.divergent.front());
  // Nothing the servers lost: no acknowledged character missing for want of a later write that
  // explains it. lww and seq keep one value per paragraph, so concurrent writes to a paragraph
  // overwrite each other by design (the checker names those "concurrent"); ot and crdt merge
  // them and lose nothing at all.
  const auto cause = [&](const char* c) { return m.lost_by_cause.count(c) ? m.lost_by_cause.at(c) : 0u; };
  // The causes come from the servers' change log (convlab-load --pg), not from inference.
  EXPECT_EQ(cause("crash"), 0u);
  EXPECT_EQ(cause("unknown"), 0u);
  EXPECT_EQ(cause("stale_base"), 0u);
  if (merges) {
    EXPECT_EQ(m.lost_acked_chars, 0u);
    EXPECT_EQ(m.lost_acked_edits, 0u);
  }
  EXPECT_GT(m.acked_edits, 0u);

  // Every surviving edit reached every other client of its document.
  std::map<std::uint32_t, std::set<CharId>> durable;                 // doc -> ids
  std::map<std::uint32_t, std::set<std::uint32_t>> final_clients;    // doc -> clients with a final
  std::set<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>> seen;  // (seer, author, op)
  std::size_t finals = 0;
  std::size_t commits = 0;
  for (const auto& e : *events) {
    if (e.type == history::EventType::kCommit) ++commits;
    if (e.type == history::EventType::kFinal) {
      if (e.replica == "durable") {
        for (const CharId& id : history::expand_ids(e.ids)) durable[e.doc].insert(id);
      } else if (e.replica.rfind("client:", 0) == 0) {
        final_clients[e.doc].insert(static_cast<std::uint32_t>(std::stoul(e.replica.substr(7))));
        ++finals;
      }
    } else if (e.type == history::EventType::kSeen) {
      seen.insert({e.client, e.author, e.op});
    }
  }
  std::size_t surviving = 0, missing = 0;
  for (const auto& e : *events) {
    if (e.type != history::EventType::kEdit || e.inserted.empty()) continue;
    bool survives = false;
    for (const CharId& id : history::expand_ids(e.inserted)) survives = survives || durable[e.doc].contains(id);
    if (!survives) continue;
    ++surviving;
    for (std::uint32_t c : final_clients[e.doc]) {
      if (c != e.client && !seen.contains({c, e.client, e.op})) ++missing;
    }
  }
  EXPECT_GT(surviving, 0u);
  EXPECT_EQ(missing, 0u) << "surviving edits never seen by another client of their document";
  EXPECT_GT(finals, 0u);
  EXPECT_GT(commits, 0u) << "no commit events: the change log did not reach the history";
  return m;
}

std::size_t count_events(const std::string& path, history::EventType type, const std::string& kind = "") {
  auto events = history::read_file(path);
  if (!events) return 0;
  std::size_t n = 0;
  for (const auto& e : *events) n += (e.type == type && (kind.empty() || e.kind == kind)) ? 1 : 0;
  return n;
}

// ---------------------------------------------------------------- two servers, one database

class TwoServers : public ::testing::TestWithParam<const char*> {};

// Every edit reaches every client on both servers, replicas converge, nothing acknowledged lost.
// (Short test names: each test's database is named after it, within PostgreSQL's 63 bytes.)
TEST_P(TwoServers, Converge) {
  CONVLAB_PG_URL_OR_SKIP(url);
  const std::string dir = test_dir();
  Servers servers(url, GetParam(), dir, 2);
  servers.start_all();
  if (HasFatalFailure()) return;
  // 4 documents, clients spread round-robin, so every document has clients on both servers
  // (ot and seq ones forward to the document's home, node doc % 2).
  auto load = start_load(servers, LoadSpec{GetParam(), 8, 4, 5, 6}, dir);
  const std::string strategy = GetParam();
  const reports::RunMetrics m = expect_sound(*load, servers, dir, strategy == "ot" || strategy == "crdt");
  EXPECT_EQ(m.acked_edits, m.edits) << "without faults every edit is acknowledged";
  EXPECT_GT(m.visibility_cross_ms.count, 0u) << "edits seen across servers";
  // The summary's steady state (2 s after every client connected, to the end of typing at 6 s)
  // counts a part of the run's edits: some, not all.
  const std::string out = load->log_tail(8000);
  std::smatch steady, whole;
  ASSERT_TRUE(std::regex_search(out, steady, std::regex(R"(steady edit-to-ack ms p50 [0-9.]+ p99 [0-9.]+ max [0-9.]+ \((\d+)\))")))
      << out;
  ASSERT_TRUE(std::regex_search(out, whole, std::regex(R"(whole run edit-to-ack ms p50 [0-9.]+ p99 [0-9.]+ max [0-9.]+ \((\d+)\))")))
      << out;
  EXPECT_GT(std::stoull(steady[1]), 0u) << out;
  EXPECT_LT(std::stoull(steady[1]), std::stoull(whole[1])) << out;
  EXPECT_EQ(std::stoull(whole[1]), m.acked_edits) << out;
}

INSTANTIATE_TEST_SUITE_P(E2e, TwoServers, ::testing::Values("lww", "seq", "ot", "crdt"),
                         [](const auto& p) { return std::string(p.param); });

// ---------------------------------------------------------------- kill -9 of a server

class KillServer : public ::testing::TestWithParam<const char*> {};

// kill -9 of one server under load, restarted on its port: no acknowledged edit lost, every
// client converges after reconnecting.
TEST_P(KillServer, Recover) {
  CONVLAB_PG_URL_OR_SKIP(url);
  const std::string dir = test_dir();
  Servers servers(url, GetParam(), dir, 2);
  servers.start_all();
  if (HasFatalFailure()) return;
  auto load = start_load(servers, LoadSpec{GetParam(), 8, 2, 8, 10}, dir);
  std::this_thread::sleep_for(3s);
  servers.kill9(1);
  std::this_thread::sleep_for(2s);
  servers.start(1);  // the same port
  if (HasFatalFailure()) return;
  expect_sound(*load, servers, dir, true);
  EXPECT_GT(count_events(dir + "/history.jsonl", history::EventType::kFault, "closed"), 0u)
      << "the kill should have cut some connections";
}

INSTANTIATE_TEST_SUITE_P(E2e, KillServer, ::testing::Values("crdt", "ot"),
                         [](const auto& p) { return std::string(p.param); });

// ---------------------------------------------------------------- a corrupted row

// A row of the change log damaged behind the server's back (a bad disk, a hand edit): the server
// refuses that document with an error naming it, keeps serving the other one, and does not abort.
TEST(CorruptRow, RefusesTheDocumentServesTheOther) {
  CONVLAB_PG_URL_OR_SKIP(url);
  const std::string dir = test_dir();
  Servers servers(url, "crdt", dir, 1);
  servers.start_all();
  if (HasFatalFailure()) return;
  {
    auto load = start_load(servers, LoadSpec{"crdt", 4, 2, 5, 3}, dir);
    ASSERT_EQ(load->wait(120000).value_or(-1), 0) << load->log_tail();
  }
  servers.kill9(0);  // nothing held in memory: the next access loads from the store
  {
    pqxx::connection c(url);
    pqxx::work w(c);
    const pqxx::result r = w.exec(
        "UPDATE changes SET payload = '\\xff00ff'::bytea WHERE doc = 0 AND seq = (SELECT max(seq) FROM changes WHERE doc = 0)");
    ASSERT_EQ(r.affected_rows(), 1u);
    w.commit();
  }
  servers.start(0);
  if (HasFatalFailure()) return;
  const std::string after = dir + "/after";
  fs::create_directories(after);
  auto load = start_load(servers, LoadSpec{"crdt", 4, 2, 5, 3}, after);
  EXPECT_TRUE(load->wait(120000).has_value()) << "convlab-load did not finish";
  EXPECT_TRUE(servers.running(0)) << "the server must not abort on a document whose log does not replay\n"
                                  << servers.logs();
  EXPECT_NE(servers.logs().find("document 0 cannot be loaded: its stored log does not replay"), std::string::npos)
      << servers.logs();
  // Clients of document 1 (odd clients) are served; those of document 0 are refused, none acked.
  std::map<std::uint32_t, std::size_t> acked;
  auto events = history::read_file(after + "/history.jsonl");
  ASSERT_TRUE(events.has_value()) << events.error().message;
  for (const auto& e : *events) {
    if (e.type == history::EventType::kAck) ++acked[e.doc];
  }
  EXPECT_GT(acked[1], 0u) << "the other document must still be served";
  EXPECT_EQ(acked[0], 0u) << "no edit of the damaged document may be acknowledged";
}

// ---------------------------------------------------------------- PostgreSQL crash

// A PostgreSQL cluster of the test's own (crashing it disturbs no other test), stopped and
// removed when the test ends.
class OwnCluster {
 public:
  explicit OwnCluster(const std::string& dir) : dir_(dir), sh_(std::string(CONVLAB_SOURCE_DIR) + "/scripts/pg.sh") {
    // Under /tmp: a Unix socket path in the cluster's directory must stay under 108 bytes.
    char tmpl[] = "/tmp/convlab-e2e-pg.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return;
    root_ = tmpl;
    fs::permissions(root_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                               fs::perms::others_read | fs::perms::others_exec);  // postgres must get in
    Process starter({"/bin/bash", sh_, "start", root_ + "/c"}, dir + "/pg-start.log", true);
    url_ = starter.first_line(60000);
    if (starter.wait(30000).value_or(-1) != 0) url_.reset();
    if (!url_) start_log_ = starter.log_tail();
  }
  ~OwnCluster() {
    if (root_.empty()) return;
    run_command({"/bin/bash", sh_, "stop", root_ + "/c"}, "/dev/null", 60000);
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  const std::optional<std::string>& url() const { return url_; }
  const std::string& start_log() const { return start_log_; }
  // pg_ctl stop -m immediate (no shutdown checkpoint: a crash), then start again.
  void crash() { EXPECT_EQ(run_command({"/bin/bash", sh_, "crash", root_ + "/c"}, dir_ + "/pg-crash.log", 60000), 0); }
  void restart() {
    EXPECT_EQ(run_command({"/bin/bash", sh_, "restart", root_ + "/c"}, dir_ + "/pg-restart.log", 60000), 0);
  }

 private:
  std::string dir_, sh_, root_;
  std::optional<std::string> url_;
  std::string start_log_;
};

// PostgreSQL crashed (pg_ctl stop -m immediate) under load, then started again: the same.
TEST(PgCrash, Recover) {
  if (!pg::test::base_url()) GTEST_SKIP() << "CONVLAB_PG_URL is not set (scripts/test.sh starts a throwaway PostgreSQL)";
  const std::string dir = test_dir();
  OwnCluster pg(dir);
  ASSERT_TRUE(pg.url().has_value()) << "scripts/pg.sh start failed: " << pg.start_log();
  Servers servers(*pg.url(), "crdt", dir, 2);
  servers.start_all();
  if (HasFatalFailure()) return;
  auto load = start_load(servers, LoadSpec{"crdt", 8, 2, 8, 10}, dir);
  std::this_thread::sleep_for(3s);
  pg.crash();
  std::this_thread::sleep_for(2s);
  pg.restart();
  expect_sound(*load, servers, dir, true);
}

// ---------------------------------------------------------------- every fault, paragraph strategies

class Faults : public ::testing::TestWithParam<const char*> {};

// lww and seq under a kill -9 of each server in turn and a PostgreSQL crash, judged from the
// servers' change log (the issue's claim, on real processes): with acknowledgement after commit
// nothing acknowledged is lost to the faults (crash 0) and every loss has a named cause (unknown
// 0); what lww and seq do lose is concurrent writes to a paragraph, by design.
TEST_P(Faults, KillEachServerAndCrashTheDatabase) {
  if (!pg::test::base_url()) GTEST_SKIP() << "CONVLAB_PG_URL is not set (scripts/test.sh starts a throwaway PostgreSQL)";
  const std::string dir = test_dir();
  OwnCluster pg(dir);
  ASSERT_TRUE(pg.url().has_value()) << "scripts/pg.sh start failed: " << pg.start_log();
  Servers servers(*pg.url(), GetParam(), dir, 2);
  servers.start_all();
  if (HasFatalFailure()) return;
  auto load = start_load(servers, LoadSpec{GetParam(), 8, 2, 8, 12}, dir);
  std::this_thread::sleep_for(2s);
  servers.kill9(1);
  std::this_thread::sleep_for(1500ms);
  servers.start(1);
  if (HasFatalFailure()) return;
  std::this_thread::sleep_for(1500ms);
  servers.kill9(0);
  std::this_thread::sleep_for(1500ms);
  servers.start(0);
  if (HasFatalFailure()) return;
  std::this_thread::sleep_for(1500ms);
  pg.crash();
  std::this_thread::sleep_for(1500ms);
  pg.restart();
  expect_sound(*load, servers, dir, false);
  EXPECT_GT(count_events(dir + "/history.jsonl", history::EventType::kFault, "closed"), 0u)
      << "the kills should have cut some connections";
}

INSTANTIATE_TEST_SUITE_P(E2e, Faults, ::testing::Values("lww", "seq"),
                         [](const auto& p) { return std::string(p.param); });

}  // namespace
}  // namespace convlab::e2e
