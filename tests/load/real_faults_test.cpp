// Faults on real processes (issue 15): the TCP fault proxy (convlab-faultproxy) between a
// convlab-server and PostgreSQL, and a server's clock moved through libfaketime while it runs.
// Real processes, real sockets, real PostgreSQL; waits are for conditions, with generous bounds.
#include "faults/real/clock.hpp"
#include "faults/real/proxy.hpp"
#include "realrun/proxy_process.hpp"
#include "server/strategies/paragraphs/codec.hpp"
#include "tests/load/cluster.hpp"

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <chrono>
#include <optional>
#include <regex>
#include <string>
#include <thread>

namespace convlab::e2e {
namespace {

using namespace std::chrono_literals;
namespace real = faults::real;
using Clock = std::chrono::steady_clock;

// convlab-faultproxy as a process in front of `target` ("HOST:PORT").
struct ProxyProcess : realrun::ProxyProcess {
  ProxyProcess(const std::string& target, const std::string& dir)
      : realrun::ProxyProcess(CONVLAB_FAULTPROXY_BIN, target, dir + "/faultproxy.log") {}
};

using realrun::pg_host_port;
using realrun::pg_with_port;

// The stamps of every write in the change log of a paragraph strategy (lww, seq): each record
// holds accepted writes with the author's client clock and the accepting server's clock.
// With a document, only its log.
std::vector<paragraphs::Stamp> logged_stamps(const std::string& url, std::optional<std::uint32_t> doc = std::nullopt) {
  std::vector<paragraphs::Stamp> out;
  pqxx::connection c(url);
  pqxx::work w(c);
  const std::string where = doc ? " WHERE doc = " + std::to_string(*doc) : "";
  for (const auto& row : w.exec("SELECT payload FROM changes" + where + " ORDER BY doc, seq")) {
    const pqxx::binarystring raw(row[0]);
    const Bytes bytes(raw.data(), raw.data() + raw.size());
    auto m = paragraphs::decode(bytes);
    if (!m || !std::holds_alternative<paragraphs::Record>(*m)) {
      ADD_FAILURE() << "a change that is not a paragraph record";
      continue;
    }
    for (const auto& wr : std::get<paragraphs::Record>(*m).writes) out.push_back(wr.stamp);
  }
  return out;
}

template <class F>
bool wait_until(F ok, std::chrono::seconds limit = 60s) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (ok()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

// The fixture of every test here; start_and_partition is the partition tests' common start.
class RealFaults : public ::testing::Test {
 protected:
  // Two servers on one PostgreSQL, server 1 reaching it through the proxy (its appends, its
  // reads, its LISTEN connection: the NOTIFY bus), under load; once traffic flows through the
  // proxy, `partition <cut>`, and returns when something is held (at_cut_: the stats then, when
  // any write under way as the partition began has finished).
  void start_and_partition(const std::string& url, const char* strategy, double duration_s, const char* cut) {
    dir_ = test_dir();
    const std::string target = pg_host_port(url);
    ASSERT_FALSE(target.empty()) << "cannot find host:port in " << url;
    proxy_ = std::make_unique<ProxyProcess>(target, dir_);
    ASSERT_GT(proxy_->control, 0) << "convlab-faultproxy did not start: " << proxy_->proc->log_tail();
    servers_ = std::make_unique<Servers>(url, strategy, dir_, 2);
    servers_->set_pg_url(1, pg_with_port(url, proxy_->port));
    servers_->start_all();
    if (HasFatalFailure()) return;
    load_ = start_load(*servers_, LoadSpec{strategy, 8, 2, 5, duration_s}, dir_);
    ASSERT_TRUE(wait_until([&] { return proxy_->stats().up_bytes > 10000; })) << real::format_stats(proxy_->stats());
    ASSERT_EQ(proxy_->command(std::string("partition ") + cut), "ok");
    ASSERT_TRUE(wait_until([&] { return proxy_->stats().queued_up > 0; })) << real::format_stats(proxy_->stats());
    at_cut_ = proxy_->stats();
  }
  std::string dir_;
  std::unique_ptr<ProxyProcess> proxy_;
  std::unique_ptr<Servers> servers_;
  std::unique_ptr<Process> load_;
  real::ProxyStats at_cut_;
};

// A two-way partition of server 1 from PostgreSQL under load holds its database traffic — its
// clients' edits wait, it hears none of server 0's commits — while server 0's clients keep
// editing; after the heal the held bytes go through and every replica converges with nothing
// acknowledged lost.
TEST_F(RealFaults, PartitionServerFromDatabaseThenHeal) {
  CONVLAB_PG_URL_OR_SKIP(url);
  start_and_partition(url, "crdt", 12, "both");
  if (HasFatalFailure()) return;
  std::this_thread::sleep_for(3s);  // the partition's length (no assertion rests on it)
  const real::ProxyStats held = proxy_->stats();
  EXPECT_EQ(held.up_bytes, at_cut_.up_bytes) << "bytes crossed a partition";
  EXPECT_EQ(held.down_bytes, at_cut_.down_bytes) << "bytes crossed a partition";
  EXPECT_GT(held.queued_up, 0u);
  ASSERT_EQ(proxy_->command("heal"), "ok");
  EXPECT_TRUE(wait_until([&] { return proxy_->stats().up_bytes > held.up_bytes; })) << "nothing delivered after the heal";
  expect_sound(*load_, *servers_, dir_, true);
}

// The proxy carries WebSocket too: convlab-load reaches server 1 through it, with latency, and
// a `cut` resets every connection through it mid-run. The clients see their connections close
// (RST), log in again, and everything converges with nothing acknowledged lost.
TEST_F(RealFaults, LoadThroughProxyLatencyAndCut) {
  CONVLAB_PG_URL_OR_SKIP(url);
  const std::string dir = test_dir();
  Servers servers(url, "crdt", dir, 2);
  servers.start_all();
  if (HasFatalFailure()) return;
  ProxyProcess proxy("127.0.0.1:" + std::to_string(servers.port(1)), dir);
  ASSERT_GT(proxy.control, 0) << "convlab-faultproxy did not start: " << proxy.proc->log_tail();
  servers.set_client_port(1, proxy.port);
  ASSERT_EQ(proxy.command("latency 5 40 3"), "ok");
  auto load = start_load(servers, LoadSpec{"crdt", 8, 2, 5, 10}, dir);
  // Clients typing through the proxy (deliveries coming down), then every connection reset.
  ASSERT_TRUE(wait_until([&] {
    const real::ProxyStats s = proxy.stats();
    return s.open > 0 && s.down_bytes > 5000;
  })) << real::format_stats(proxy.stats());
  const real::ProxyStats before = proxy.stats();
  EXPECT_GT(before.open, 0u);
  ASSERT_EQ(proxy.command("cut"), "ok");
  EXPECT_GE(proxy.stats().reset, before.open);  // and any opened since
  expect_sound(*load, servers, dir, true);
  EXPECT_GT(count_events(dir + "/history.jsonl", history::EventType::kFault, "closed"), 0u)
      << "the cut should have closed the clients' connections";
}

// Server to server: node 0 reaches node 1's /node through the proxy. Under ot, edits of
// document 1 made on node 0 are forwarded to their home, node 1, over that link: a two-way
// partition holds them (and node 1's replies); after the heal everything converges with nothing
// acknowledged lost.
TEST_F(RealFaults, PartitionBetweenServersThenHeal) {
  CONVLAB_PG_URL_OR_SKIP(url);
  const std::string dir = test_dir();
  Servers servers(url, "ot", dir, 2);
  servers.start(1);  // picks both ports
  if (HasFatalFailure()) return;
  ProxyProcess proxy("127.0.0.1:" + std::to_string(servers.port(1)), dir);
  ASSERT_GT(proxy.control, 0) << "convlab-faultproxy did not start: " << proxy.proc->log_tail();
  servers.set_peer_port(1, proxy.port);
  servers.start(0);
  if (HasFatalFailure()) return;
  auto load = start_load(servers, LoadSpec{"ot", 8, 2, 5, 10}, dir);
  ASSERT_TRUE(wait_until([&] { return proxy.stats().up_bytes > 5000; })) << real::format_stats(proxy.stats());
  ASSERT_EQ(proxy.command("partition both"), "ok");
  ASSERT_TRUE(wait_until([&] { return proxy.stats().queued_up > 0; })) << real::format_stats(proxy.stats());
  const real::ProxyStats at_cut = proxy.stats();
  std::this_thread::sleep_for(2s);  // the partition's length (no assertion rests on it)
  EXPECT_EQ(proxy.stats().up_bytes, at_cut.up_bytes) << "bytes crossed a partition";
  ASSERT_EQ(proxy.command("heal"), "ok");
  expect_sound(*load, servers, dir, true);
}

// The same with a one-way partition server 1 -> PostgreSQL: its queries wait, what PostgreSQL
// sends (replies, notifications) still arrives; after the heal everything converges.
TEST_F(RealFaults, OneWayPartitionThenHeal) {
  CONVLAB_PG_URL_OR_SKIP(url);
  start_and_partition(url, "ot", 10, "up");
  if (HasFatalFailure()) return;
  // Server 0's commits still NOTIFY server 1 down the open direction while its own queries wait.
  ASSERT_TRUE(wait_until([&] { return proxy_->stats().down_bytes > at_cut_.down_bytes; })) << real::format_stats(proxy_->stats());
  EXPECT_EQ(proxy_->stats().up_bytes, at_cut_.up_bytes) << "bytes crossed the cut direction";
  EXPECT_GT(proxy_->stats().queued_up, 0u);
  ASSERT_EQ(proxy_->command("heal"), "ok");
  expect_sound(*load_, *servers_, dir_, true);
}

// The server stamps every change it appends with its wall clock (changes.server_ms). Started
// under libfaketime, its clock is moved a day ahead while it runs: the changes it stamps after
// the move carry the moved clock, those before do not; moved back, the stamps follow.
TEST_F(RealFaults, ServerClockJumpThroughLibfaketime) {
  CONVLAB_PG_URL_OR_SKIP(url);
  const auto lib = real::faketime_library();
  if (!lib) GTEST_SKIP() << lib.error().message;
  const std::string dir = test_dir();
  const std::string clock_file = dir + "/server0.faketime";
  ASSERT_TRUE(real::set_clock(clock_file, 0).has_value());
  Servers servers(url, "lww", dir, 1);
  servers.set_env(0, real::faketime_env(*lib, clock_file));
  servers.start_all();
  if (HasFatalFailure()) return;
  const auto wall_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  };
  // The rows stamped later than `after`: their least and greatest server_ms, and how many.
  const auto stamps = [&](std::int64_t after) {
    pqxx::connection c(url);
    pqxx::work w(c);
    const auto r = w.exec1("SELECT coalesce(min(server_ms), 0), coalesce(max(server_ms), 0), count(*) FROM changes "
                           "WHERE server_ms > " + std::to_string(after));
    return std::tuple<std::int64_t, std::int64_t, std::int64_t>{r[0].as<std::int64_t>(), r[1].as<std::int64_t>(), r[2].as<std::int64_t>()};
  };
  const auto run_load = [&](const std::string& sub) {
    fs::create_directories(dir + "/" + sub);
    auto load = start_load(servers, LoadSpec{"lww", 4, 2, 5, 2}, dir + "/" + sub);
    EXPECT_EQ(load->wait(120000).value_or(-1), 0) << load->log_tail() << servers.logs();
  };
  constexpr std::int64_t kDay = 86'400'000;

  run_load("before");
  const auto [min0, max0, n0] = stamps(0);
  ASSERT_GT(n0, 0);
  EXPECT_LT(max0, wall_ms() + kDay / 2) << "stamped ahead before any clock fault";

  ASSERT_TRUE(real::set_clock(clock_file, kDay).has_value());
  std::this_thread::sleep_for(2s);  // libfaketime re-reads the file at most a second later
  const std::int64_t jumped_at = wall_ms();
  run_load("ahead");
  const auto [min1, max1, n1] = stamps(max0 + kDay / 2);
  EXPECT_GT(n1, 0) << "no change stamped a day ahead after the jump\n" << servers.logs();
  EXPECT_GE(min1, jumped_at + kDay - 60'000);
  // The lww writes' own stamps carry the server's clock at acceptance (audit only) too.
  std::size_t stamped_ahead = 0;
  for (const paragraphs::Stamp& st : logged_stamps(url)) stamped_ahead += st.server_ms >= jumped_at + kDay - 60'000 ? 1 : 0;
  EXPECT_GT(stamped_ahead, 0u) << "no lww write stamped by the server a day ahead";

  // Back to the real time: new stamps are behind the ones a day ahead (lww's server stamps go
  // backwards when a clock does).
  ASSERT_TRUE(real::set_clock(clock_file, 0).has_value());
  std::this_thread::sleep_for(2s);
  run_load("back");
  pqxx::connection c(url);
  pqxx::work w(c);
  // Each document's last change (written after the clock moved back).
  const auto latest = w.exec1("SELECT max(server_ms) FROM changes c WHERE seq = (SELECT max(seq) FROM changes d "
                              "WHERE d.doc = c.doc)")[0].as<std::int64_t>();
  EXPECT_LT(latest, max1 - kDay / 2) << "the clock moved back, the stamps must follow";
  EXPECT_TRUE(servers.running(0)) << "the server must survive its clock jumping\n" << servers.logs();
}

// Client clock faults in convlab-load: clients 0 and 1 a day ahead, 2 drifting, 3 a day ahead
// from 1.5 s into the run, each on a document of its own (on a shared paragraph lww would drop the on-time
// clients' writes: they lose to the stamps a day ahead and never reach the log). The lww client
// replicas stamp their writes with their clock, and the change log keeps the stamps: both kinds
// are there, a day apart.
TEST_F(RealFaults, ClientClockOffsetInTheLoadClient) {
  CONVLAB_PG_URL_OR_SKIP(url);
  const std::string dir = test_dir();
  Servers servers(url, "lww", dir, 1);
  servers.start_all();
  if (HasFatalFailure()) return;
  constexpr std::int64_t kDay = 86'400'000;
  const std::vector<std::string> clocks{"--clock-offset", "0=" + std::to_string(kDay), "--clock-offset",
                                        "1=" + std::to_string(kDay), "--clock-drift", "2=200",
                                        "--clock-offset", "3=" + std::to_string(kDay) + "@1.5"};
  const std::int64_t before = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch()).count();
  auto load = start_load(servers, LoadSpec{"lww", 4, 4, 5, 3}, dir, clocks);
  EXPECT_TRUE(load->wait(120000).has_value());
  std::size_t ahead = 0, wall = 0, other = 0;
  for (const paragraphs::Stamp& st : logged_stamps(url)) {
    if (st.clock_ms >= before + kDay - 60'000) ++ahead;
    else if (st.clock_ms >= before - 60'000 && st.clock_ms < before + kDay / 2) ++wall;
    else ++other;
  }
  EXPECT_GT(ahead, 0u) << "no write stamped by a client a day ahead";
  EXPECT_GT(wall, 0u) << "no write stamped by a client on the wall clock";
  EXPECT_EQ(other, 0u);
  // Client 3 (document 3): on the wall clock first, a day ahead from 1.5 s on, in that order.
  const std::vector<paragraphs::Stamp> three = logged_stamps(url, 3);
  ASSERT_FALSE(three.empty());
  EXPECT_LT(three.front().clock_ms, before + kDay / 2) << "client 3's clock moved before its time";
  EXPECT_GE(three.back().clock_ms, before + kDay - 60'000) << "client 3's clock did not move";
}

}  // namespace
}  // namespace convlab::e2e
