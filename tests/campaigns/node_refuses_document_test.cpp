// A stored document whose log does not replay (a corrupted record, or a bug that let a record
// in without its predecessor) must never stop the node: it logs the document, refuses it to
// whoever asks (WebSocket and API) and goes on serving the other documents.
#include "server/core/node.hpp"
#include "server/core/protocol.hpp"
#include "server/strategies/registry.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace convlab {
namespace {

struct RecordingIo final : NodeIo {
  std::vector<StoreRequest> stored;
  std::vector<std::pair<ConnId, Frame>> sent;
  std::vector<std::pair<ConnId, std::string>> closed;
  std::vector<HttpResponse> responses;
  std::vector<std::string> errors;
  std::int64_t now_ms() override { return 1000; }
  void send(ConnId conn, const Frame& frame) override { sent.emplace_back(conn, frame); }
  void close(ConnId conn, const std::string& reason) override { closed.emplace_back(conn, reason); }
  void store(StoreRequest request) override { stored.push_back(std::move(request)); }
  void to_node(NodeId, NodeMessage) override {}
  void start_timer(std::int64_t, std::uint64_t) override {}
  void respond(const HttpResponse& response) override { responses.push_back(response); }
  void log_error(const std::string& message) override { errors.push_back(message); }
};

constexpr Token kToken{1, 1'000'000'000};

class NodeWithCorruptDocument : public testing::TestWithParam<std::string> {};

TEST_P(NodeWithCorruptDocument, RefusesItAndServesTheOthers) {
  const Strategy* strategy = find_strategy(GetParam());
  ASSERT_NE(strategy, nullptr);
  RecordingIo io;
  Node node(NodeConfig{}, *strategy, io);
  node.start();
  const LogRecord garbage{1, 7, Bytes{0xff, 0x00, 0x13, 0x37}};

  // A client opens document 0: its stored log does not replay.
  node.on_connect(1, 7, kToken);
  node.on_frame(1, encode_frame(Frame{FrameKind::kHello, 0, {}, {}}));
  ASSERT_EQ(io.stored.size(), 1u);
  StoreReply load;
  load.id = io.stored.back().id;
  load.records = {garbage};
  node.on_store(load);
  ASSERT_EQ(io.errors.size(), 1u);
  EXPECT_NE(io.errors.front().find("document 0"), std::string::npos) << io.errors.front();
  ASSERT_EQ(io.closed.size(), 1u);
  EXPECT_EQ(io.closed.front().first, 1u);
  EXPECT_NE(io.closed.front().second.find("cannot be loaded"), std::string::npos);
  EXPECT_FALSE(node.text(0).has_value());

  // An API read of it is answered with an error, not an abort.
  node.on_http_get(HttpGet{42, 0, kToken, 0});
  StoreReply read;
  read.id = io.stored.back().id;
  read.records = {garbage};
  node.on_store(read);
  ASSERT_EQ(io.responses.size(), 1u);
  EXPECT_EQ(io.responses.front().status, 500);

  // Another client of another document is served as usual.
  node.on_connect(2, 8, kToken);
  node.on_frame(2, encode_frame(Frame{FrameKind::kHello, 1, {}, {}}));
  StoreReply fine;
  fine.id = io.stored.back().id;
  node.on_store(fine);
  ASSERT_FALSE(io.sent.empty());
  EXPECT_EQ(io.sent.back().first, 2u);
  EXPECT_EQ(io.sent.back().second.kind, FrameKind::kWelcome);
  EXPECT_TRUE(node.text(1).has_value());

  // Document 0 is tried again on the next access (the store may have been repaired).
  node.on_connect(3, 9, kToken);
  node.on_frame(3, encode_frame(Frame{FrameKind::kHello, 0, {}, {}}));
  StoreReply repaired;
  repaired.id = io.stored.back().id;
  node.on_store(repaired);
  EXPECT_EQ(io.sent.back().first, 3u);
  EXPECT_EQ(io.sent.back().second.kind, FrameKind::kWelcome);
}

INSTANTIATE_TEST_SUITE_P(Strategies, NodeWithCorruptDocument, testing::Values("lww", "seq", "ot", "crdt"));

}  // namespace
}  // namespace convlab
