// The crdt codec: binary and JSON round trips for every message kind, and untrusted bytes
// (truncated, garbage, arbitrary) coming back as Errors without touching replica state.
#include "server/strategies/crdt/codec.hpp"
#include "server/strategies/crdt/crdt.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <boost/json.hpp>

#include <vector>

namespace convlab::crdt {
namespace {

std::vector<Message> samples() {
  std::vector<Message> out;
  out.push_back(op_message(InsertOp{CharId{3, 70000}, CharId{1, 2}, std::nullopt, U"h\u00e9llo \U0001F600"}));
  out.push_back(op_message(InsertOp{CharId{0, 0}, std::nullopt, CharId{0xffffffffu, 5}, U"x"}));
  out.push_back(op_message(DeleteOp{{IdRange{CharId{1, 2}, 3}, IdRange{CharId{7, 0}, 1}}}));
  Message ack;
  ack.kind = Kind::kAck;
  ack.version = 123456789012ull;
  out.push_back(ack);
  Message welcome;
  welcome.kind = Kind::kWelcome;
  welcome.version = 4;
  welcome.state = {StateRun{CharId{0, 0}, std::nullopt, std::nullopt, false, U"ab"},
                   StateRun{CharId{1, 0}, CharId{0, 1}, std::nullopt, true, U"c"}};
  out.push_back(welcome);
  Message snap = welcome;
  snap.kind = Kind::kSnapshot;
  snap.state.clear();
  out.push_back(snap);
  Message rec;
  rec.kind = Kind::kRecord;
  rec.version = 9;
  rec.clock_ms = -42;
  rec.from = 5;
  rec.op = DeleteOp{{IdRange{CharId{5, 1}, 2}}};
  out.push_back(rec);
  return out;
}

TEST(CrdtCodec, EveryMessageRoundTripsThroughBytesAndJson) {
  for (const Message& m : samples()) {
    const Bytes b = encode(m);
    auto back = decode(b);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_TRUE(*back == m);
    // JSON through the Strategy's functions, and through text.
    auto j = crdt_strategy().to_json(b);
    ASSERT_TRUE(j) << j.error().message;
    const boost::json::value reparsed = boost::json::parse(boost::json::serialize(*j));
    auto b2 = crdt_strategy().from_json(reparsed);
    ASSERT_TRUE(b2) << b2.error().message;
    EXPECT_EQ(*b2, b) << boost::json::serialize(*j);
  }
}

TEST(CrdtCodec, StateEncodedFromTheDocEqualsTheRunsEncoded) {
  Doc d;
  d.local_insert(0, U"h\u00e9llo world", CharId{0, 0});
  d.local_delete(2, 3);
  d.local_insert(4, U"\U0001F600xy", CharId{7, 0});
  ASSERT_TRUE(d.apply(Op{InsertOp{CharId{9, 0}, CharId{0, 1}, CharId{0, 2}, U"zz"}}));
  for (const Kind kind : {Kind::kWelcome, Kind::kSnapshot}) {
    Message m;
    m.kind = kind;
    m.version = 300;
    m.state = d.to_runs();
    EXPECT_EQ(encode_state(kind, 300, d), encode(m));
  }
  EXPECT_EQ(encode_state(Kind::kSnapshot, 0, Doc{}), encode(Message{Kind::kSnapshot, {}, 0, 0, 0, {}}));
}

TEST(CrdtCodec, RecordOpBytesAreTheOpEncoded) {
  for (const Message& m : samples()) {
    if (m.kind != Kind::kInsert && m.kind != Kind::kDelete) continue;
    Message rec;
    rec.kind = Kind::kRecord;
    rec.version = 1u << 20;
    rec.clock_ms = -5000;
    rec.from = 77;
    rec.op = m.op;
    const Bytes bytes = encode(rec);
    auto back = decode(bytes);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(record_op_bytes(bytes, *back), encode_op(m.op));
    // A record with a longer-than-needed varint (version 1 as 0x81 0x00) decodes to the same
    // message; its op bytes still come out as encode_op writes them.
    Bytes padded = encode(Message{Kind::kRecord, m.op, 1, 0, 0, {}});
    padded.erase(padded.begin() + 1);
    padded.insert(padded.begin() + 1, {0x81, 0x00});
    auto padded_back = decode(padded);
    ASSERT_TRUE(padded_back) << padded_back.error().message;
    EXPECT_EQ(padded_back->version, 1u);
    EXPECT_EQ(record_op_bytes(padded, *padded_back), encode_op(m.op));
  }
}

TEST(CrdtCodec, JsonNamesFieldsPlainly) {
  const Bytes b = encode(op_message(InsertOp{CharId{2, 9}, CharId{1, 1}, std::nullopt, U"hi"}));
  auto j = crdt_strategy().to_json(b);
  ASSERT_TRUE(j);
  EXPECT_EQ(boost::json::serialize(*j), R"({"type":"insert","id":[2,9],"left":[1,1],"right":null,"text":"hi"})");
}

TEST(CrdtCodec, EveryTruncationIsAnError) {
  for (const Message& m : samples()) {
    const Bytes b = encode(m);
    for (std::size_t n = 0; n < b.size(); ++n) {
      const Bytes cut(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n));
      EXPECT_FALSE(decode(cut)) << "prefix of " << n << " bytes decoded";
    }
    Bytes longer = b;
    longer.push_back(0);
    EXPECT_FALSE(decode(longer)) << "trailing byte accepted";
  }
}

TEST(CrdtCodec, GarbageIsAnError) {
  EXPECT_FALSE(decode(Bytes{}));
  EXPECT_FALSE(decode(Bytes{0}));
  EXPECT_FALSE(decode(Bytes{99, 1, 2}));
  // A delete claiming 2^40 ranges must fail on the count, not allocate.
  EXPECT_FALSE(decode(Bytes{2, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 0, 0, 1}));
  // A state claiming a huge run count.
  EXPECT_FALSE(decode(Bytes{4, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}));
  // Agent above 32 bits.
  EXPECT_FALSE(decode(Bytes{1, 0x80, 0x80, 0x80, 0x80, 0x10, 0, 0, 0, 1, 'x'}));
  // Insert with empty text, delete range of length 0, deleted flag 2.
  EXPECT_FALSE(decode(Bytes{1, 0, 0, 0, 0, 0}));
  EXPECT_FALSE(decode(Bytes{2, 1, 0, 0, 0}));
  EXPECT_FALSE(decode(Bytes{4, 0, 1, 0, 0, 0, 0, 2, 1, 'a'}));
  // A record wrapping something that is not an op.
  EXPECT_FALSE(decode(Bytes{5, 1, 0, 0, 3, 1}));

  EXPECT_FALSE(crdt_strategy().from_json(boost::json::parse(R"({"type":"nope"})")));
  EXPECT_FALSE(crdt_strategy().from_json(boost::json::parse(R"({"type":"insert","id":[1],"left":null,"right":null,"text":"a"})")));
  EXPECT_FALSE(crdt_strategy().from_json(boost::json::parse(R"({"type":"insert","id":[1,-2],"left":null,"right":null,"text":"a"})")));
  EXPECT_FALSE(crdt_strategy().from_json(boost::json::parse(R"({"type":"insert","id":[1,2],"left":null,"right":null,"text":""})")));
  EXPECT_FALSE(crdt_strategy().from_json(boost::json::parse(R"({"type":"delete","ranges":[[1,2,0]]})")));
  EXPECT_FALSE(crdt_strategy().from_json(boost::json::parse(R"({"type":"ack"})")));
  EXPECT_FALSE(crdt_strategy().from_json(boost::json::parse(R"([1,2,3])")));
}

// Arbitrary bytes, and valid messages with random corruption, never crash any entry point, and
// whatever is refused leaves the replica as it was.
RC_GTEST_PROP(CrdtCodecProperty, ArbitraryBytesNeverCrashAndNeverChangeStateOnError, (const std::vector<std::uint8_t>& raw, std::uint8_t flip_at, std::uint8_t flip_to)) {
  const Strategy& s = crdt_strategy();
  auto server = s.make_server();
  auto a = s.make_client(0);
  auto b = s.make_client(1);
  for (const Bytes& m : a->local_edit(Splice{0, 0, U"hello"}, 0)) {
    auto out = server->receive(0, m, 0);
    RC_ASSERT(out.has_value());
  }
  RC_ASSERT(b->receive(server->welcome()).has_value());
  std::vector<Bytes> inputs{raw};
  for (const Message& m : samples()) {
    Bytes x = encode(m);
    x[flip_at % x.size()] = flip_to;
    inputs.push_back(std::move(x));
  }
  for (const Bytes& in : inputs) {
    const std::u32string server_text = server->text();
    const auto server_version = server->version();
    const std::u32string b_text = b->text();
    (void)s.to_json(in);
    (void)decode(in);
    auto r1 = server->receive(1, in, 0);
    if (!r1) {
      RC_ASSERT(server->text() == server_text);
      RC_ASSERT(server->version() == server_version);
    }
    auto r2 = b->receive(in);
    if (!r2) RC_ASSERT(b->text() == b_text);
    const std::u32string before_restore = server->text();
    if (!server->restore(in)) RC_ASSERT(server->text() == before_restore);
    const std::u32string before_record = server->text();
    if (!server->apply_record(in)) RC_ASSERT(server->text() == before_record);
    (void)server->apply_remote_record(in);
  }
}

}  // namespace
}  // namespace convlab::crdt
