// convlab/2's batch framing (docs/protocol.md, "Batches"): the codec in server/core/protocol.hpp
// and the edge's parse of a client's whole message (server/net/frames.hpp).
#include "server/core/protocol.hpp"
#include "server/net/frames.hpp"
#include "server/strategies/registry.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace convlab {
namespace {

std::vector<Frame> sample_frames() {
  std::vector<Frame> frames;
  frames.push_back(Frame{FrameKind::kDeliver, 7, Bytes{1, 2, 3}, {}});
  frames.push_back(Frame{FrameKind::kRefused, 300, {}, "edit refused: because"});
  frames.push_back(Frame{FrameKind::kWelcome, 0xffffffffu, Bytes(200, 9), {}});  // a two-byte length
  frames.push_back(Frame{FrameKind::kHello, 1, {}, {}});                          // an empty payload
  return frames;
}

TEST(BatchCodec, RoundTripsFramesBackToBack) {
  const std::vector<Frame> frames = sample_frames();
  const Bytes batch = encode_batch(frames);
  // The batch is exactly the frames' single encodings concatenated.
  Bytes concatenated;
  for (const Frame& f : frames) {
    const Bytes one = encode_frame(f);
    concatenated.insert(concatenated.end(), one.begin(), one.end());
  }
  EXPECT_EQ(batch, concatenated);

  std::vector<FrameView> views;
  ASSERT_TRUE(decode_batch(batch, views).has_value());
  ASSERT_EQ(views.size(), frames.size());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const Frame back = to_frame(views[i]);
    EXPECT_EQ(back.kind, frames[i].kind) << i;
    EXPECT_EQ(back.doc, frames[i].doc) << i;
    EXPECT_EQ(back.payload, frames[i].payload) << i;
    EXPECT_EQ(back.text, frames[i].text) << i;
    // Each view's raw bytes are that frame's own encoding, which decode_frame accepts.
    EXPECT_EQ(Bytes(views[i].raw.begin(), views[i].raw.end()), encode_frame(frames[i])) << i;
  }
  // A single frame is a batch of one, also with the convlab/1 limit of one frame.
  ASSERT_TRUE(decode_batch(encode_frame(frames[0]), views, 1).has_value());
  EXPECT_EQ(views.size(), 1u);
}

TEST(BatchCodec, RefusesTruncatedGarbageAndOversizedBatchesAsAWhole) {
  const Bytes batch = encode_batch(sample_frames());
  std::vector<FrameView> views;
  // Every proper prefix that cuts a frame short is refused, and nothing of it is returned.
  std::size_t refused = 0;
  for (std::size_t n = 0; n < batch.size(); ++n) {
    const auto r = decode_batch(std::span(batch.data(), n), views);
    if (!r) {
      ++refused;
      EXPECT_TRUE(views.empty()) << "prefix " << n << " left frames behind";
    }
  }
  // Only the prefixes that end exactly on a frame boundary decode (3 of them, besides none).
  EXPECT_EQ(refused, batch.size() - 3);
  auto error_of = [&](const Bytes& b, std::size_t max = kBatchFramesMax) {
    auto r = decode_batch(b, views, max);
    EXPECT_FALSE(r.has_value());
    EXPECT_TRUE(views.empty());
    return r ? std::string() : r.error().message;
  };
  // A good frame followed by a truncated one: the error names the second frame.
  Bytes bad = encode_frame(Frame{FrameKind::kEdit, 1, Bytes{1}, {}});
  bad.insert(bad.end(), {static_cast<std::uint8_t>(FrameKind::kEdit), 1, 5, 1});
  EXPECT_NE(error_of(bad).find("frame 2"), std::string::npos) << error_of(bad);
  // Garbage: a kind out of range after a good frame, and a bad varint.
  Bytes garbage = encode_frame(Frame{FrameKind::kHello, 1, {}, {}});
  garbage.push_back(0);
  EXPECT_NE(error_of(garbage).find("unknown frame kind 0"), std::string::npos);
  EXPECT_FALSE(error_of(Bytes{1, 0x80}).empty());
  EXPECT_FALSE(error_of(Bytes{12, 1, 0}).empty());  // 11 is version, the last kind
  EXPECT_FALSE(error_of(Bytes{}).empty());  // an empty message carries no frame
  // More frames than allowed: with the limit of one (convlab/1) two frames are trailing bytes.
  Bytes two = encode_batch(std::vector<Frame>(2, Frame{FrameKind::kHello, 1, {}, {}}));
  EXPECT_NE(error_of(two, 1).find("trailing"), std::string::npos);
  Bytes many = encode_batch(std::vector<Frame>(kBatchFramesMax + 1, Frame{FrameKind::kHello, 1, {}, {}}));
  EXPECT_NE(error_of(many).find("more than"), std::string::npos);
  ASSERT_TRUE(decode_batch(std::span(many.data(), many.size() - 3), views).has_value());
  EXPECT_EQ(views.size(), kBatchFramesMax);
}

TEST(BatchCodec, EdgeRefusesBadBatchesWithTheDocumentedCodes) {
  const Strategy& s = *find_strategy("crdt");
  auto strategy_of = [&](std::uint32_t) -> const Strategy& { return s; };
  std::vector<FrameView> views;
  Bytes storage;
  // Binary: a server-only frame anywhere in the batch is 4003; a truncated one is 4000.
  std::vector<Frame> mixed{Frame{FrameKind::kHello, 1, {}, {}}, Frame{FrameKind::kDeliver, 1, {}, {}}};
  auto e = net::parse_binary_message(encode_batch(mixed), kBatchFramesMax, views);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, net::close_code::kUnknownType);
  EXPECT_TRUE(views.empty());
  Bytes truncated = encode_frame(Frame{FrameKind::kHello, 1, {}, {}});
  truncated.push_back(static_cast<std::uint8_t>(FrameKind::kHello));
  e = net::parse_binary_message(truncated, kBatchFramesMax, views);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, net::close_code::kBadBinary);
  // convlab/1: two frames in one message are trailing bytes (4000), as before batches existed.
  e = net::parse_binary_message(encode_batch(std::vector<Frame>(2, Frame{FrameKind::kHello, 1, {}, {}})), 1, views);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, net::close_code::kBadBinary);
  ASSERT_FALSE(net::parse_binary_message(encode_batch(std::vector<Frame>(2, Frame{FrameKind::kHello, 1, {}, {}})),
                                         kBatchFramesMax, views));
  EXPECT_EQ(views.size(), 2u);

  // JSON: an array of frame objects under convlab/2.
  ASSERT_FALSE(net::parse_json_message(R"([{"type":"hello","doc":4},{"type":"subscribe","doc":5,"version":2}])",
                                       kBatchFramesMax, strategy_of, storage, views));
  ASSERT_EQ(views.size(), 2u);
  EXPECT_EQ(views[0].kind, FrameKind::kHello);
  EXPECT_EQ(views[0].doc, 4u);
  EXPECT_EQ(views[1].kind, FrameKind::kSubscribe);
  EXPECT_EQ(views[1].doc, 5u);
  // A bare object is a batch of one in either version.
  ASSERT_FALSE(net::parse_json_message(R"({"type":"hello","doc":4})", 1, strategy_of, storage, views));
  EXPECT_EQ(views.size(), 1u);
  struct Case {
    const char* text;
    std::size_t max;
    std::uint16_t code;
  };
  for (const Case& c : {Case{"[]", kBatchFramesMax, net::close_code::kBadField},
                        Case{R"([{"type":"hello","doc":1},{"type":"hello"}])", kBatchFramesMax, net::close_code::kBadField},
                        Case{R"([{"type":"hello","doc":1},3])", kBatchFramesMax, net::close_code::kBadField},
                        Case{R"([{"type":"hello","doc":1},{"type":"boom","doc":1}])", kBatchFramesMax,
                             net::close_code::kUnknownType},
                        Case{R"([{"type":"hello","doc":1}])", 1, net::close_code::kBadField},  // convlab/1: no arrays
                        Case{R"([{"type":"hello","doc":1})", kBatchFramesMax, net::close_code::kBadJson}}) {
    auto err = net::parse_json_message(c.text, c.max, strategy_of, storage, views);
    ASSERT_TRUE(err) << c.text;
    EXPECT_EQ(err->code, c.code) << c.text << ": " << err->why;
    EXPECT_TRUE(views.empty()) << c.text;
  }
  std::string big = "[";
  for (std::size_t i = 0; i <= kBatchFramesMax; ++i) big += std::string(i == 0 ? "" : ",") + R"({"type":"hello","doc":1})";
  big += "]";
  auto err = net::parse_json_message(big, kBatchFramesMax, strategy_of, storage, views);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->code, net::close_code::kBadField);
}

// ClientReplica::acknowledges (how convlab-load tells acknowledgements without JSON) agrees with
// the strategies' JSON form on every message a server replica sends a client.
TEST(BatchCodec, AcknowledgesAgreesWithTheJsonForm) {
  for (const char* name : {"lww", "seq", "ot", "crdt"}) {
    const Strategy& s = *find_strategy(name);
    auto server = s.make_server();
    auto a = s.make_client(1);
    auto b = s.make_client(2);
    ASSERT_TRUE(a->receive(server->welcome()).has_value()) << name;
    ASSERT_TRUE(b->receive(server->welcome()).has_value()) << name;
    std::size_t acks = 0, others = 0;
    auto check = [&](ClientReplica& to, const Bytes& msg) {
      auto j = s.to_json(msg);
      ASSERT_TRUE(j.has_value()) << name;
      const boost::json::value* type = j->is_object() ? j->as_object().if_contains("type") : nullptr;
      const bool json_ack = type != nullptr && type->is_string() && type->as_string() == "ack";
      const auto told = to.acknowledges(msg);
      ASSERT_TRUE(told.has_value()) << name << ": no cheap answer";
      EXPECT_EQ(*told, json_ack) << name << ": " << boost::json::serialize(*j);
      (json_ack ? acks : others) += 1;
      ASSERT_TRUE(to.receive(msg).has_value()) << name;
    };
    for (int i = 0; i < 6; ++i) {
      ClientReplica& from = i % 2 == 0 ? *a : *b;
      ClientReplica& other = i % 2 == 0 ? *b : *a;
      const AgentId agent = i % 2 == 0 ? 1 : 2;
      for (const Bytes& m : from.local_edit(Splice{0, 0, U"x"}, 1000 + i)) {
        auto out = server->receive(agent, m, 2000 + i);
        ASSERT_TRUE(out.has_value()) << name << ": " << out.error().message;
        for (const Bytes& r : out->to_sender) check(from, r);
        for (const Bytes& r : out->broadcast) check(other, r);
      }
    }
    EXPECT_GT(acks, 0u) << name;
    EXPECT_GT(others, 0u) << name;
  }
}

}  // namespace
}  // namespace convlab
