// The real convlab-server's limits: rate limits, the idle timeout, connection, document and
// outgoing-queue limits.
#include "tests/server/server_fixture.hpp"

#include "server/strategies/registry.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace convlab::test {
namespace {

TEST(ServerLimits, RateLimitedClientIsRefusedOthersUnaffected) {
  CONVLAB_PG_URL_OR_SKIP(url);
  const Strategy& s = *find_strategy("crdt");
  START_SERVER(server, yaml_for(url, "crdt",
                                "policies:\n"
                                "  rate_limit_per_s: 0.001\n"
                                "  rate_burst: 3\n"));
  auto alice = login(server.port(), "alice", "alice-pw");
  auto bob = login(server.port(), "bob", "bob-pw");
  ASSERT_TRUE(alice && bob);
  Editor a(server.port(), *alice, s, 1);
  Editor b(server.port(), *bob, s, 1);
  ASSERT_TRUE(a.open());
  ASSERT_TRUE(b.open());
  for (int i = 0; i < 3; ++i) {
    a.insert(0, U"a");
    ASSERT_TRUE(a.sync());
  }
  // The fourth edit is over alice's burst: refused, named as such.
  a.insert(0, U"x");
  std::optional<Frame> f;
  for (int i = 0; i < 50; ++i) {
    f = a.next();
    if (!f || f->kind == FrameKind::kRefused) break;
  }
  ASSERT_TRUE(f && f->kind == FrameKind::kRefused);
  EXPECT_EQ(f->text.rfind("rate limited", 0), 0u) << f->text;
  // Bob writes on.
  b.insert(0, U"b");
  ASSERT_TRUE(b.sync());
  const std::string m = http_request(server.port(), http::verb::get, "/metrics").body;
  EXPECT_EQ(metric(m, R"(convlab_rate_limited_total{scope="user"})"), 1);
  EXPECT_EQ(metric(m, R"(convlab_edits_rejected_total{reason="rate_limit_user"})"), 1);
}

// The idle timeout counts from the last message: a client that sends something every second
// outlives a 2 s timeout several times over, then is closed 2 s after it falls silent.
TEST(ServerLimits, ActivityPostponesTheIdleTimeout) {
  CONVLAB_PG_URL_OR_SKIP(url);
  START_SERVER(server, yaml_for(url, "crdt", "limits:\n  idle_timeout_ms: 2000\n"));
  const unsigned short port = server.port();
  auto alice = login(port, "alice", "alice-pw");
  ASSERT_TRUE(alice);
  Ws ws(port, alice->token);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 6; ++i) {
    ws.send_binary(frame_bytes(FrameKind::kHello, 1));
    ASSERT_TRUE(ws.read()) << "closed after " << i << " s: " << ws.close_code() << " " << ws.close_reason();
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::seconds(6));
  EXPECT_EQ(ws.read_until_close(std::chrono::seconds(30)), 4010);
}

TEST(ServerLimits, ConnectionDocumentAndIdleLimits) {
  CONVLAB_PG_URL_OR_SKIP(url);
  START_SERVER(server, yaml_for(url, "crdt",
                                "policies:\n"
                                "  connection_rate_per_s: 0.001\n"
                                "  connection_burst: 40\n"
                                "limits:\n"
                                "  connections_max: 3\n"
                                "  documents_per_connection_max: 2\n"
                                "  idle_timeout_ms: 3000\n"
                                "  outgoing_messages_max: 4\n"
                                "  message_bytes_max: 1048576\n"));
  const unsigned short port = server.port();
  auto alice = login(port, "alice", "alice-pw");
  ASSERT_TRUE(alice);
  {  // documents per connection, then the connection's own rate limit
    Ws ws(port, alice->token);
    for (std::uint32_t doc : {1u, 2u, 3u}) ws.send_binary(frame_bytes(FrameKind::kHello, doc));
    std::vector<Frame> got;
    for (int i = 0; i < 3; ++i) {
      auto m = ws.read();
      ASSERT_TRUE(m);
      got.push_back(decode_message(*m));
    }
    // Documents answer in any order between them; the third is the one refused.
    std::size_t refusals = 0;
    for (const Frame& f : got) {
      if (f.kind != FrameKind::kRefused) continue;
      ++refusals;
      EXPECT_EQ(f.doc, 3u);
      EXPECT_EQ(f.text, "too many documents on this connection (limit 2)");
    }
    EXPECT_EQ(refusals, 1u);
    for (int i = 0; i < 40; ++i) ws.send_binary(frame_bytes(FrameKind::kHello, 1));
    std::size_t limited = 0;
    for (int i = 0; i < 40; ++i) {
      auto m = ws.read();
      ASSERT_TRUE(m);
      const Frame f = decode_message(*m);
      if (f.kind == FrameKind::kRefused && f.text.rfind("rate limited (connection)", 0) == 0) ++limited;
    }
    EXPECT_EQ(limited, 3u);  // a burst of 40 frames: the 41st to 43rd are refused
    // Idle: nothing sent for 3 s.
    EXPECT_EQ(ws.read_until_close(std::chrono::seconds(30)), 4010);
  }
  {  // connections: 3 at most
    Ws a(port, alice->token);
    Ws b(port, alice->token);
    Ws c(port, alice->token);
    a.send_binary(frame_bytes(FrameKind::kHello, 1));
    b.send_binary(frame_bytes(FrameKind::kHello, 1));
    c.send_binary(frame_bytes(FrameKind::kHello, 1));
    ASSERT_TRUE(a.read() && b.read() && c.read());
    EXPECT_EQ(connect_close_code(port, alice->token), 1013);
  }
  const std::string m = http_request(port, http::verb::get, "/metrics").body;
  EXPECT_EQ(metric(m, R"(convlab_rate_limited_total{scope="connection"})"), 3);
  EXPECT_GE(metric(m, R"(convlab_connections_closed_total{code="4010"})"), 1);
  EXPECT_EQ(metric(m, R"(convlab_connections_closed_total{code="1013"})"), 1);
  EXPECT_EQ(metric(m, R"(convlab_frames_refused_total{reason="document_limit"})"), 1);
}

// The outgoing-queue limit, on a server of its own without the 3 s idle timeout above: building
// the 200,000-character inserts takes the test's own client longer than 3 s under ThreadSanitizer
// (scripts/sanitize.sh tsan), and the idle timeout then closed the editor before its inserts.
TEST(ServerLimits, SlowConsumerIsCutOffWhenItsQueuePassesTheLimit) {
  CONVLAB_PG_URL_OR_SKIP(url);
  const Strategy& s = *find_strategy("crdt");
  START_SERVER(server, yaml_for(url, "crdt",
                                "limits:\n"
                                "  outgoing_messages_max: 4\n"
                                "  message_bytes_max: 1048576\n"));
  const unsigned short port = server.port();
  auto alice = login(port, "alice", "alice-pw");
  ASSERT_TRUE(alice);
  {  // a slow consumer: a large document's welcome asked for again and again, never read
    Editor big(port, *alice, s, 9);
    ASSERT_TRUE(big.open());
    for (int i = 0; i < 4; ++i) {
      big.insert(0, std::u32string(200000, U'x'));
      ASSERT_TRUE(big.sync());
    }
    Ws slow(port, alice->token);
    // 30 welcomes of 800,000 characters: more than the kernel's socket buffers hold.
    for (int i = 0; i < 30; ++i) slow.send_binary(frame_bytes(FrameKind::kHello, 9));
    // Not reading: the socket buffers fill, the queue passes 4, the server cuts the client off.
    std::this_thread::sleep_for(std::chrono::seconds(1));
    EXPECT_EQ(slow.read_until_close(std::chrono::seconds(30)), 4008);
  }
  const std::string m = http_request(port, http::verb::get, "/metrics").body;
  EXPECT_EQ(metric(m, R"(convlab_connections_closed_total{code="4008"})"), 1);
}

}  // namespace
}  // namespace convlab::test
