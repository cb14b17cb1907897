// Redis as the bus on real processes (docs/scenarios.md, "Redis as the bus"): two real
// convlab-servers with `policies.bus: redis`, a real Redis (scripts/redis.sh on a free loopback
// port, never the machine's instance), real WebSocket clients. An edit on one server reaches the
// other's clients through Redis; Redis crashed and restarted mid-run loses nothing acknowledged
// under bus_recovery: log (the fix), and under none (the naive design) the other server's copy
// stays without what was published while Redis was down until a new client's catch-up reads the
// log. Without redis-server the tests skip (a failure under CI=true, tests/support/ci.hpp).
#include "tests/server/server_fixture.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <regex>

namespace convlab::test {
namespace {

// A throwaway Redis under a temporary directory, through scripts/redis.sh.
class RedisProcess {
 public:
  RedisProcess() : url_(run("start")) {}
  ~RedisProcess() { run("stop"); }
  RedisProcess(const RedisProcess&) = delete;
  RedisProcess& operator=(const RedisProcess&) = delete;

  bool started() const { return url_.rfind("redis://127.0.0.1:", 0) == 0; }
  const std::string& url() const { return url_; }
  // kill -9: subscriptions and whatever is in flight are gone.
  void crash() { run("crash"); }
  // On the same port again.
  bool restart() { return run("restart") == url_; }
  std::string errors() const {
    std::ifstream in(dir_.path() / "script.err");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

 private:
  std::string run(const std::string& cmd) {
    const std::string line = std::string(CONVLAB_SOURCE_DIR) + "/scripts/redis.sh " + cmd + " " +
                             (dir_.path() / "redis").string() + " 2>>" + (dir_.path() / "script.err").string();
    FILE* p = popen(line.c_str(), "r");
    if (p == nullptr) return {};
    std::string out;
    char buf[256];
    while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
    pclose(p);
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
  }

  TempDir dir_;
  std::string url_;
};

#define REDIS_OR_SKIP(var)                                                                                  \
  if (access("/usr/bin/redis-server", X_OK) != 0) {                                                        \
    GTEST_SKIP() << "redis-server is not installed (scripts/setup.sh installs Debian's redis-server)";      \
  }                                                                                                         \
  RedisProcess var;                                                                                         \
  ASSERT_TRUE(var.started()) << "scripts/redis.sh start printed '" << var.url() << "': " << var.errors()

// Server `id` of two on one database and one Redis.
std::string redis_yaml(const std::string& pg, const std::string& redis, std::uint32_t id, const std::string& recovery) {
  return yaml_for(pg, "crdt",
                  "nodes: 2\nnode_id: " + std::to_string(id) + "\nredis: \"" + redis +
                      "\"\npolicies:\n  bus: redis\n  bus_recovery: " + recovery + "\n  poll_interval_ms: 300\n");
}

double metric_now(unsigned short port, const std::string& series) {
  return metric(http_request(port, http::verb::get, "/metrics").body, series);
}

// Polls /metrics (bounded: 30 s) until `series` reads `want`.
::testing::AssertionResult wait_metric(unsigned short port, const std::string& series, double want) {
  double last = -1;
  for (int i = 0; i < 600; ++i) {
    last = metric_now(port, series);
    if (last == want) return ::testing::AssertionSuccess();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return ::testing::AssertionFailure() << series << " on port " << port << " is " << last << " after 30 s, not " << want;
}

// Both servers' subscriptions and publishers up (1) or down (0).
::testing::AssertionResult wait_bus(unsigned short one, unsigned short two, double up) {
  for (unsigned short port : {one, two}) {
    if (auto r = wait_metric(port, "convlab_bus_up", up); !r) return r;
    if (auto r = wait_metric(port, "convlab_redis_publisher_up", up); !r) return r;
  }
  return ::testing::AssertionSuccess();
}

// Two servers on one database and one Redis with both buses up; alice's editor of `doc` on
// server one, bob's on server two, and `base` typed by alice, acknowledged and seen by bob.
struct Pair {
  std::unique_ptr<ServerProcess> one, two;
  std::optional<Login> alice, bob;
  std::unique_ptr<Editor> a, b;
};

::testing::AssertionResult start_pair(Pair& p, const std::string& pg, const std::string& redis,
                                      const std::string& recovery, std::uint32_t doc, const std::u32string& base) {
  const Strategy& s = *find_strategy("crdt");
  p.one = std::make_unique<ServerProcess>(redis_yaml(pg, redis, 0, recovery));
  p.two = std::make_unique<ServerProcess>(redis_yaml(pg, redis, 1, recovery));
  if (!p.one->started() || !p.two->started()) {
    return ::testing::AssertionFailure() << "a server did not start:\n" << p.one->stderr_text() << p.two->stderr_text();
  }
  if (auto r = wait_bus(p.one->port(), p.two->port(), 1); !r) return r;
  p.alice = login(p.one->port(), "alice", "alice-pw");
  p.bob = login(p.two->port(), "bob", "bob-pw");
  if (!p.alice || !p.bob) return ::testing::AssertionFailure() << "login failed";
  p.a = std::make_unique<Editor>(p.one->port(), *p.alice, s, doc);
  p.b = std::make_unique<Editor>(p.two->port(), *p.bob, s, doc);
  if (auto r = p.a->open(); !r) return r;
  if (auto r = p.b->open(); !r) return r;
  p.a->insert(0, base);
  if (auto r = p.a->sync(); !r) return r;
  return p.b->wait_text(base);
}

TEST(RedisConfig, RedisNeedsAUrlAndAGoodOne) {
  ServerProcess missing("listen: 127.0.0.1:0\ndatabase: x\njwt: {secret: \"" + std::string(kSecret) +
                        "\"}\nlab_password: p\npolicies: {bus: redis}\n");
  EXPECT_EQ(missing.wait(), 2);
  EXPECT_NE(missing.stderr_text().find("policies.bus: redis needs redis (a URL redis://HOST:PORT; or --redis-url)"),
            std::string::npos)
      << missing.stderr_text();
  ServerProcess bad("listen: 127.0.0.1:0\nredis: \"http://127.0.0.1:6379\"\n");
  EXPECT_EQ(bad.wait(), 2);
  EXPECT_TRUE(std::regex_search(bad.stderr_text(),
                                std::regex(R"(server\.yaml:2:8: redis: expected redis://HOST\[:PORT\] \(the scheme redis://\), got 'http://127\.0\.0\.1:6379')")))
      << bad.stderr_text();
  ServerProcess flag("listen: 127.0.0.1:0\n", {"--bus", "rabbitmq"});
  EXPECT_EQ(flag.wait(), 2);
  EXPECT_NE(flag.stderr_text().find("--bus: expected notify or redis, got 'rabbitmq'"), std::string::npos)
      << flag.stderr_text();
}

// An edit on one server reaches the other's clients through Redis, not NOTIFY.
TEST(ServerRedis, EditSeenOnTheOtherServerThroughRedis) {
  CONVLAB_PG_URL_OR_SKIP(pg);
  REDIS_OR_SKIP(redis);
  Pair p;
  ASSERT_TRUE(start_pair(p, pg, redis.url(), "log", 61, U"from one "));
  p.b->insert(9, U"and two");
  ASSERT_TRUE(p.b->sync());
  ASSERT_TRUE(p.a->wait_text(U"from one and two"));
  for (unsigned short port : {p.one->port(), p.two->port()}) {
    // The publisher counts a publish once Redis's reply is read on its own thread, which can come
    // after the subscribers got the message: wait for the count (a race seen under load).
    double published = -1;
    for (int i = 0; i < 600 && published < 1; ++i) {
      published = metric_now(port, R"(convlab_redis_publishes_total{result="ok"})");
      if (published < 1) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_GE(published, 1) << port << ": no publish counted after 30 s";
    const std::string m = http_request(port, http::verb::get, "/metrics").body;
    EXPECT_GE(metric(m, "convlab_redis_records_total"), 1) << port;
    EXPECT_EQ(metric(m, R"(convlab_redis_publishes_total{result="dropped"})"), -1) << port;
    EXPECT_EQ(metric(m, "convlab_notify_records_total"), 0) << "no NOTIFY under bus: redis";
  }
}

// Redis unreachable at start: the server serves (the log is the truth) and says the bus is down.
TEST(ServerRedis, RedisUnreachableAtStartKeepsServing) {
  CONVLAB_PG_URL_OR_SKIP(pg);
  const std::string nowhere = "redis://127.0.0.1:" + std::to_string(free_port());
  START_SERVER(one, redis_yaml(pg, nowhere, 0, "log"));
  auto alice = login(one.port(), "alice", "alice-pw");
  ASSERT_TRUE(alice);
  Editor a(one.port(), *alice, *find_strategy("crdt"), 62);
  ASSERT_TRUE(a.open());
  a.insert(0, U"still served");
  ASSERT_TRUE(a.sync());
  EXPECT_EQ(document_text(one.port(), alice->token, 62), "still served");
  EXPECT_EQ(metric_now(one.port(), "convlab_bus_up"), 0);
  EXPECT_TRUE(wait_metric(one.port(), R"(convlab_redis_publishes_total{result="dropped"})", 1));
  EXPECT_NE(one.stderr_text().find("convlab-server: bus down: redis subscriber: 127.0.0.1:"), std::string::npos)
      << one.stderr_text();
}

// The fix: the other server reads the log while Redis is down and after it is back; both
// servers' clients converge on the durable text, every acknowledged edit in it.
TEST(ServerRedis, FixRedisRestartedLosesNothingAcknowledged) {
  CONVLAB_PG_URL_OR_SKIP(pg);
  REDIS_OR_SKIP(redis);
  Pair p;
  ASSERT_TRUE(start_pair(p, pg, redis.url(), "log", 63, U"base "));

  redis.crash();
  ASSERT_TRUE(wait_bus(p.one->port(), p.two->port(), 0));
  p.a->insert(5, U"kept");
  ASSERT_TRUE(p.a->sync());  // acknowledged: committed; its publish is dropped
  ASSERT_TRUE(wait_metric(p.one->port(), R"(convlab_redis_publishes_total{result="dropped"})", 1));
  // Server two reads the log every poll_interval while its subscription is down.
  ASSERT_TRUE(p.b->wait_text(U"base kept"));

  ASSERT_TRUE(redis.restart()) << redis.errors();
  ASSERT_TRUE(wait_bus(p.one->port(), p.two->port(), 1));
  p.b->insert(0, U"after ");
  ASSERT_TRUE(p.b->sync());
  ASSERT_TRUE(p.a->wait_text(U"after base kept"));
  p.a->insert(15, U"!");
  ASSERT_TRUE(p.a->sync());
  ASSERT_TRUE(p.b->wait_text(U"after base kept!"));
  EXPECT_EQ(document_text(p.two->port(), p.bob->token, 63), "after base kept!");
  EXPECT_GE(metric_now(p.two->port(), "convlab_redis_records_total"), 2);  // before the crash and after the restart
  EXPECT_NE(p.two->stderr_text().find("convlab-server: bus up: redis subscriber: subscribed"), std::string::npos);
}

// The naive design (bus_recovery: none): what was published while Redis was down never reaches
// server two. Its clients go on with later edits (they arrive through Redis again) and stay
// without the acknowledged one, which the log holds, until something else reads the log.
TEST(ServerRedis, NaiveRedisRestartedLeavesTheOtherServerBehind) {
  CONVLAB_PG_URL_OR_SKIP(pg);
  REDIS_OR_SKIP(redis);
  Pair p;
  ASSERT_TRUE(start_pair(p, pg, redis.url(), "none", 64, U"base "));

  redis.crash();
  ASSERT_TRUE(wait_bus(p.one->port(), p.two->port(), 0));
  p.a->insert(5, U"lost");
  ASSERT_TRUE(p.a->sync());
  ASSERT_TRUE(wait_metric(p.one->port(), R"(convlab_redis_publishes_total{result="dropped"})", 1));

  ASSERT_TRUE(redis.restart()) << redis.errors();
  ASSERT_TRUE(wait_bus(p.one->port(), p.two->port(), 1));
  p.a->insert(0, U"after ");
  ASSERT_TRUE(p.a->sync());
  // The later edit arrives; the acknowledged one before it never does.
  ASSERT_TRUE(p.b->wait_text(U"after base "));
  EXPECT_EQ(p.a->text(), U"after base lost");
  // Server two's own API read (from the log) has it; its node's copy, which its clients see, does not.
  EXPECT_EQ(document_text(p.two->port(), p.bob->token, 64), "after base lost");
  // Until something else reads the log: a client that joins server two (catch_up: its hello
  // reads the log after what the node applied) gets the whole text, and b the missing edit.
  auto carol = login(p.two->port(), "carol", "lab-pw");
  ASSERT_TRUE(carol);
  Editor late(p.two->port(), *carol, *find_strategy("crdt"), 64);
  ASSERT_TRUE(late.open());
  EXPECT_EQ(late.text(), U"after base lost");
  ASSERT_TRUE(p.b->wait_text(U"after base lost"));
}

}  // namespace
}  // namespace convlab::test
