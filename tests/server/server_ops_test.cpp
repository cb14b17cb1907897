// Operating the real convlab-server: its /metrics pass promtool, SIGTERM drains and exits 0,
// a bad config file is reported by file, line and column.
#include "tests/server/server_fixture.hpp"

#include "server/strategies/registry.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <regex>

namespace convlab::test {
namespace {

TEST(ServerMetrics, PromtoolAcceptsTheExposition) {
  CONVLAB_PG_URL_OR_SKIP(url);
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  }
  const Strategy& s = *find_strategy("ot");
  START_SERVER(server, yaml_for(url, "ot"));
  auto alice = login(server.port(), "alice", "alice-pw");
  ASSERT_TRUE(alice);
  Editor a(server.port(), *alice, s, 2);
  ASSERT_TRUE(a.open());
  a.insert(0, U"hello");
  ASSERT_TRUE(a.sync());
  const std::string m = http_request(server.port(), http::verb::get, "/metrics").body;
  const auto [rc, said] = promtool_lint(m);
  EXPECT_EQ(rc, 0) << said;
  EXPECT_EQ(said, "") << "promtool lint findings";
  EXPECT_EQ(metric(m, "convlab_edits_received_total"), 1);
  EXPECT_EQ(metric(m, "convlab_edits_acknowledged_total"), 1);
  EXPECT_EQ(metric(m, "convlab_edit_ack_seconds_count"), 1);
  EXPECT_GE(metric(m, "convlab_commit_seconds_count"), 1);
  EXPECT_GE(metric(m, "convlab_commit_batch_appends_count"), 1);
  EXPECT_EQ(metric(m, "convlab_connections"), 1);
  EXPECT_EQ(metric(m, "convlab_documents"), 1);
  EXPECT_EQ(metric(m, R"(convlab_logins_total{result="ok"})"), 1);
  EXPECT_EQ(metric(m, "convlab_db_up"), 1);
}

// SIGTERM: every edit the server acknowledged is durable, the clients get 1001, the exit is 0.
TEST(ServerShutdown, SigtermFlushesAndExitsZero) {
  CONVLAB_PG_URL_OR_SKIP(url);
  const Strategy& s = *find_strategy("crdt");
  constexpr int kEdits = 200;
  std::size_t refused = 0;
  std::string token;
  {
    START_SERVER(server, yaml_for(url, "crdt"));
    auto alice = login(server.port(), "alice", "alice-pw");
    ASSERT_TRUE(alice);
    token = alice->token;
    Editor a(server.port(), *alice, s, 4);
    ASSERT_TRUE(a.open());
    // Edits in flight (not waited for) when the signal comes.
    for (int i = 0; i < kEdits; ++i) a.insert(a.text().size(), U"z");
    EXPECT_EQ(server.stop(SIGTERM), 0) << server.stderr_text();
    for (int i = 0; i < 100000; ++i) {
      auto f = a.next();
      if (!f) break;
      ASSERT_TRUE(a.apply(*f));
    }
    EXPECT_EQ(a.ws.close_code(), 1001);
    for (const std::string& r : a.refusals) {
      EXPECT_EQ(r, "server shutting down");
      ++refused;
    }
    // Every edit was either acknowledged or refused before the close.
    EXPECT_TRUE(refused > 0 || a.synced());
  }
  START_SERVER(again, yaml_for(url, "crdt"));
  // Everything not refused was acknowledged, and is durable.
  EXPECT_EQ(document_text(again.port(), token, 4), std::string(kEdits - refused, 'z'));
}

TEST(ServerConfig, BadKeysAndValuesNameFileLineColumn) {
  ServerProcess bad("listen: 127.0.0.1:0\n"
                    "policies:\n"
                    "  propagation: carrier-pigeon\n"
                    "  bogus: 1\n"
                    "limits:\n"
                    "  message_bytes_max: lots\n"
                    "group_commit:\n"
                    "  pipeline: 3\n"
                    "  interval_ms: 1001\n");
  EXPECT_FALSE(bad.started());
  EXPECT_EQ(bad.wait(), 2);
  const std::string err = bad.stderr_text();
  EXPECT_TRUE(std::regex_search(err, std::regex(R"(server\.yaml:8:13: group_commit\.pipeline: must be at most 2, got 3)")))
      << err;
  EXPECT_TRUE(std::regex_search(err, std::regex(R"(server\.yaml:9:16: group_commit\.interval_ms: must be at most 1000 ms, got 1001 ms)")))
      << err;
  EXPECT_TRUE(std::regex_search(err, std::regex(R"(server\.yaml:3:16: policies\.propagation: unknown value "carrier-pigeon" \(allowed: poll, bus\))")))
      << err;
  EXPECT_TRUE(std::regex_search(err, std::regex(R"(server\.yaml:4:3: policies\.bogus: unknown key)"))) << err;
  EXPECT_TRUE(std::regex_search(err, std::regex(R"(server\.yaml:6:22: limits\.message_bytes_max: expected an integer, got "lots")")))
      << err;
  // home: lease (any node may become a document's home) needs a link to every other node: the
  // missing one is named, the configured one is not.
  ServerProcess lease("{listen: 127.0.0.1:0, nodes: 3, node_id: 0, peers: {1: \"ws://127.0.0.1:9\"}, "
                      "policies: {home: lease}}\n");
  EXPECT_FALSE(lease.started());
  EXPECT_EQ(lease.wait(), 2);
  const std::string lease_err = lease.stderr_text();
  EXPECT_NE(lease_err.find("policies.home: lease needs every other node as a peer (the lease's holder may be any of "
                           "them); peers.2 is missing"),
            std::string::npos)
      << lease_err;
  EXPECT_EQ(lease_err.find("peers.1 is missing"), std::string::npos) << lease_err;
  // The documented example configuration is a valid one.
  std::ifstream example(std::string(CONVLAB_SOURCE_DIR) + "/docs/server.yaml");
  const std::string text((std::istreambuf_iterator<char>(example)), {});
  ASSERT_FALSE(text.empty());
  if (const auto pg = pg::test::base_url()) {
    ServerProcess documented(text, {"--pg-url", *pg});
    EXPECT_TRUE(documented.started()) << documented.stderr_text();
    EXPECT_EQ(documented.stop(), 0);
  }
  ServerProcess broken("listen: [1, 2\n");
  EXPECT_EQ(broken.wait(), 2);
  EXPECT_TRUE(std::regex_search(broken.stderr_text(), std::regex(R"(server\.yaml:\d+:\d+: yaml: )"))) << broken.stderr_text();
}

}  // namespace
}  // namespace convlab::test
