// The ot codec: binary and JSON round trips of every message, and bytes from outside (truncated,
// garbage, oversized) coming back as Errors.
#include "server/core/wire.hpp"
#include "server/strategies/ot/codec.hpp"
#include "server/strategies/ot/ot.hpp"

#include <boost/json.hpp>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

namespace convlab::ot {
namespace {

Op sample_op() {
  return Op{Component::skip(3), Component::insert(U"h\u00e9\U0001F600", {CharId{1, 7}, CharId{1, 8}, CharId{2, 0}}),
            Component::del(2)};
}

std::vector<Message> samples() {
  RecordMsg rec{41, 3, -5, 1234, sample_op()};
  return {
      OpMsg{7, -12, sample_op()},
      OpMsg{0, 0, Op{}},
      AckMsg{99},
      RemoteMsg{12, 4, sample_op()},
      WelcomeMsg{5, U"a\U0001D11Eb", {CharId{0, 0}, CharId{0, 1}, CharId{9, 4}}},
      rec,
      SnapshotMsg{42, U"xyz", {CharId{1, 0}, CharId{1, 1}, CharId{1, 2}}, {rec}},
  };
}

TEST(OtCodec, BinaryRoundTripsEveryMessage) {
  for (const Message& m : samples()) {
    const Bytes b = encode(m);
    auto back = decode(b);
    ASSERT_TRUE(back.has_value()) << back.error().message;
    EXPECT_EQ(*back, m) << boost::json::serialize(to_json(m));
  }
}

TEST(OtCodec, JsonRoundTripsEveryMessage) {
  for (const Message& m : samples()) {
    const boost::json::value j = to_json(m);
    auto back = from_json(boost::json::parse(boost::json::serialize(j)));
    ASSERT_TRUE(back.has_value()) << back.error().message << " in " << j;
    EXPECT_EQ(*back, m) << j;
  }
}

TEST(OtCodec, JsonWritesOpsAsThePackageDoesAndIdsAsRuns) {
  const boost::json::value j = to_json(Message{RemoteMsg{12, 4, sample_op()}});
  EXPECT_EQ(boost::json::serialize(j.at("op")), R"([3,"hé😀",{"d":2}])");
  EXPECT_EQ(boost::json::serialize(j.at("ids")), "[[1,7,2],[2,0,1]]");
  EXPECT_EQ(j.at("type"), "remote");
}

TEST(OtCodec, StrategyJsonGoesBothWays) {
  const Strategy& s = ot_strategy();
  EXPECT_EQ(s.name, "ot");
  const Bytes b = encode(Message{OpMsg{7, -12, sample_op()}});
  auto j = s.to_json(b);
  ASSERT_TRUE(j.has_value()) << j.error().message;
  auto back = s.from_json(*j);
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_EQ(*back, b);
}

TEST(OtCodec, EveryTruncationIsAnError) {
  for (const Message& m : samples()) {
    const Bytes b = encode(m);
    for (std::size_t n = 0; n < b.size(); ++n) {
      EXPECT_FALSE(decode(std::span(b.data(), n)).has_value()) << "prefix " << n << " of " << b.size();
    }
    Bytes longer = b;
    longer.push_back(0);
    EXPECT_FALSE(decode(longer).has_value());
  }
}

TEST(OtCodec, GarbageIsAnError) {
  EXPECT_FALSE(decode(Bytes{}).has_value());
  EXPECT_FALSE(decode(Bytes{0}).has_value());
  EXPECT_FALSE(decode(Bytes{77, 1, 2}).has_value());
  // An op message whose op has a trailing skip: well-formed bytes, invalid op.
  Writer w;
  w.u8(1);       // op
  w.varint(0);   // base
  w.svarint(0);  // clock
  w.varint(1);   // one component
  w.u8(0);       // skip
  w.varint(3);
  w.varint(0);   // no id runs
  auto r = decode(w.take());
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("trailing skip"), std::string::npos) << r.error().message;
}

TEST(OtCodec, OversizedCountsAreRefusedWithoutAllocating) {
  {  // an op claiming 2^60 components
    Writer w;
    w.u8(1);
    w.varint(0);
    w.svarint(0);
    w.varint(1ull << 60);
    auto r = decode(w.take());
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message.find("component count"), std::string::npos) << r.error().message;
  }
  {  // a skip longer than the limit
    Writer w;
    w.u8(1);
    w.varint(0);
    w.svarint(0);
    w.varint(2);
    w.u8(0);
    w.varint(1ull << 40);
    w.u8(1);
    w.text(U"a");
    w.varint(0);
    auto r = decode(w.take());
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message.find("skip length"), std::string::npos) << r.error().message;
  }
  {  // a welcome whose id runs claim more ids than characters
    Writer w;
    w.u8(4);
    w.varint(0);
    w.text(U"ab");
    w.varint(1);
    w.varint(0);
    w.varint(0);
    w.varint(1ull << 50);
    EXPECT_FALSE(decode(w.take()).has_value());
  }
  {  // a snapshot claiming a huge history
    Writer w;
    w.u8(6);
    w.varint(0);
    w.text(U"");
    w.varint(0);
    w.varint(1ull << 40);
    EXPECT_FALSE(decode(w.take()).has_value());
  }
}

TEST(OtCodec, JsonErrorsNameTheProblem) {
  for (const char* bad : {R"([])", R"({"type":"nope"})", R"({"type":"ack"})", R"({"type":"ack","rev":-1})",
                          R"({"type":"op","base":0,"client_clock_ms":0,"op":[1],"ids":[]})",
                          R"({"type":"op","base":0,"client_clock_ms":0,"op":["ab"],"ids":[[0,0,1]]})",
                          R"({"type":"op","base":0,"client_clock_ms":0,"op":["ab"],"ids":[[0,0,3]]})",
                          R"({"type":"welcome","rev":0,"text":"ab","ids":[[0,4294967295,2]]})",
                          R"({"type":"remote","rev":0,"author":4294967296,"op":[],"ids":[]})"}) {
    EXPECT_FALSE(from_json(boost::json::parse(bad)).has_value()) << bad;
  }
  auto ok = from_json(boost::json::parse(R"({"type":"op","base":0,"client_clock_ms":0,"op":["ab"],"ids":[[0,0,2]]})"));
  EXPECT_TRUE(ok.has_value());
}

RC_GTEST_PROP(OtCodecProps, ArbitraryBytesNeverCrashDecodeOrReplicas, (const std::vector<std::uint8_t>& raw)) {
  // Half the time start from a real message, so mutations reach deep into the decoder.
  Bytes b = raw;
  if (*rc::gen::arbitrary<bool>()) {
    const auto all = samples();
    b = encode(all[*rc::gen::inRange<std::size_t>(0, all.size())]);
    const auto flips = *rc::gen::inRange(0, 4);
    for (int i = 0; i < flips && !b.empty(); ++i) b[*rc::gen::inRange<std::size_t>(0, b.size())] ^= *rc::gen::arbitrary<std::uint8_t>();
    if (*rc::gen::arbitrary<bool>() && !b.empty()) b.resize(*rc::gen::inRange<std::size_t>(0, b.size()));
  }
  auto m = decode(b);
  if (m) {
    // What decodes survives a round trip unchanged.
    auto again = decode(encode(*m));
    RC_ASSERT(again.has_value());
    RC_ASSERT(*again == *m);
    (void)to_json(*m);
  }
  const Strategy& s = ot_strategy();
  auto server = s.make_server();
  auto client = s.make_client(1);
  const Bytes snap = server->snapshot();
  auto r = server->receive(1, b, 0);
  if (!r) RC_ASSERT(server->snapshot() == snap);
  auto c = client->receive(b);
  if (!c) RC_ASSERT(client->text().empty());
  (void)server->apply_record(b);
  (void)server->restore(b);
  (void)s.to_json(b);
}

}  // namespace
}  // namespace convlab::ot
