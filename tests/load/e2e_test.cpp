// End to end: real convlab-server processes on a real PostgreSQL, driven over real sockets by
// convlab-load (a child process), then the checkers on the history it wrote. The same checkers
// judge simulated runs; here they judge the real server, faults included (kill -9 of a server,
// PostgreSQL crashed with `pg_ctl stop -m immediate`).
//
// CONVLAB_PG_URL names the PostgreSQL to use (scripts/test.sh starts one); without it the tests
// skip. The PostgreSQL-crash test starts a cluster of its own with scripts/pg.sh.
#include "tests/load/cluster.hpp"

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <chrono>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <thread>

namespace convlab::e2e {
namespace {

using namespace std::chrono_literals;

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

// ---------------------------------------------------------------- the naive design's polling

// Servers that learn of each other's commits by polling the change log (the naive design, row 1)
// send their clients nothing between polls. Typing stops at 2 s and the first poll comes near
// 5 s (the poll timers start with the servers): half a second of silence is not the end, and
// convlab-load must wait until its clients show the durable text before it judges. It used to
// stop at the first 500 ms of silence, so the clients of one server never saw the other's last
// edits and a real run of scenario 01 did not converge.
// convlab-load's MIN..MAX flags refuse what is not exactly two millisecond counts in order,
// naming the flag (no server needed: the flags are read first).
TEST(LoadFlags, RangesRefuseTrailingJunkAndReversedBoundsNamingTheFlag) {
  const std::string log = ::testing::TempDir() + "/convlab-load-flags.log";
  for (const char* flag : {"--think-ms", "--reload-ms", "--rename-ms"}) {
    for (const char* v : {"5..9x", "9..5", "0..5", "5", "x..9"}) {
      EXPECT_EQ(run_command({CONVLAB_LOAD_BIN, "--url", "ws://127.0.0.1:1", flag, v}, log, 30000), 2) << flag << " " << v;
      std::ifstream in(log);
      const std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      EXPECT_NE(out.find(std::string(flag) + ": want MIN..MAX with 1 <= MIN <= MAX ms, got '" + v + "'"), std::string::npos)
          << flag << " " << v << ": " << out;
    }
  }
}

TEST(PollPropagation, LoadWaitsForTheLastPoll) {
  CONVLAB_PG_URL_OR_SKIP(url);
  const std::string dir = test_dir();
  Servers servers(url, "crdt", dir, 2);
  servers.set_policies("  propagation: poll\n  poll_interval_ms: 5000\n");
  servers.start_all();
  if (HasFatalFailure()) return;
  // One document, clients round-robin over the two servers: both servers' clients type on it.
  auto load = start_load(servers, LoadSpec{"crdt", 4, 1, 5, 2}, dir);
  const reports::RunMetrics m = expect_sound(*load, servers, dir, true);
  EXPECT_GT(m.visibility_cross_ms.count, 0u) << "edits seen across servers";
  // Across servers an edit waits for a poll: none before the first one, near 5 s in.
  EXPECT_GE(m.visibility_cross_ms.p50, 1000.0);
  const std::string out = load->log_tail(8000);
  EXPECT_NE(out.find("caught up: every client shows the durable text"), std::string::npos) << out;
}

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
