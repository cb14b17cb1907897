// `lww`: client-clock last-writer-wins per paragraph, and the codec shared with `seq`.
#include "server/strategies/lww/lww.hpp"
#include "server/strategies/paragraphs/codec.hpp"
#include "server/strategies/paragraphs/replica.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "tests/strategies/lww/paragraph_properties.hpp"

#include <boost/json.hpp>

#include <algorithm>

namespace convlab {
namespace {

using testing::Net;
using testing::ReplayMode;

const paragraphs::ParagraphServer& pserver(Net& net) { return *paragraphs::as_paragraph_server(net.server()); }

// Client 0 types "hello" and everybody hears of it.
void seed_hello(Net& net) {
  ASSERT_EQ(net.edit(0, Splice{0, 0, U"hello"}, 100), "");
  ASSERT_EQ(net.drain(100), "");
  ASSERT_EQ(net.divergence(), "");
}

TEST(Lww, Registered) {
  EXPECT_EQ(lww_strategy().name, "lww");
  auto c = lww_strategy().make_client(3);
  EXPECT_EQ(c->agent(), 3u);
  EXPECT_NE(paragraphs::as_paragraph_client(*c), nullptr);
}

TEST(Lww, EqualClocksAreBrokenByAgentWhateverTheArrivalOrder) {
  for (bool high_first : {false, true}) {
    Net net(lww_strategy(), 3);
    seed_hello(net);
    ASSERT_EQ(net.edit(1, Splice{0, 5, U"one"}, 500), "");
    ASSERT_EQ(net.edit(2, Splice{0, 5, U"two"}, 500), "");
    if (high_first) {
      ASSERT_EQ(net.deliver_up(2, 1), "");
      ASSERT_EQ(net.deliver_up(1, 2), "");
    } else {
      ASSERT_EQ(net.deliver_up(1, 1), "");
      ASSERT_EQ(net.deliver_up(2, 2), "");
    }
    ASSERT_EQ(net.drain(3), "");
    EXPECT_TRUE(net.server().text() == U"two") << "high_first=" << high_first;
    EXPECT_EQ(pserver(net).registers()[0].stamp.agent, 2u);
    EXPECT_EQ(net.divergence(), "");
    // Only accepted writes count; the loser (when it arrived second) did not.
    EXPECT_EQ(net.server().version(), high_first ? 2u : 3u);
  }
}

TEST(Lww, OneClientsLaterWriteAtTheSameClockReadingStillWins) {
  Net net(lww_strategy(), 2);
  ASSERT_EQ(net.edit(0, Splice{0, 0, U"a"}, 7), "");
  ASSERT_EQ(net.edit(0, Splice{1, 0, U"b"}, 7), "");
  ASSERT_EQ(net.drain(1), "");
  EXPECT_TRUE(net.server().text() == U"ab");
  EXPECT_EQ(net.divergence(), "");
}

// The naive design's failure, visible: two clients edit one paragraph concurrently, both are
// acknowledged, and the converged text has none of the first client's characters.
TEST(Lww, ConcurrentEditsToOneParagraphLoseAnAcknowledgedWrite) {
  Net net(lww_strategy(), 3);
  seed_hello(net);
  ASSERT_EQ(net.edit(1, Splice{5, 0, U" world"}, 200), "");
  ASSERT_EQ(net.edit(2, Splice{0, 0, U"!"}, 201), "");
  ASSERT_EQ(net.deliver_up(1, 1), "");
  ASSERT_EQ(net.deliver_down(1), "");  // client 1's write is acknowledged: it was accepted
  EXPECT_TRUE(net.client(1).synced());
  EXPECT_TRUE(net.server().text() == U"hello world");
  ASSERT_EQ(net.drain(2), "");
  EXPECT_EQ(net.divergence(), "");
  EXPECT_TRUE(net.server().text() == U"!hello");
  const auto ids = net.server().char_ids();
  EXPECT_TRUE(std::none_of(ids.begin(), ids.end(), [](CharId id) { return id.agent == 1; }))
      << "client 1's acknowledged characters should be gone";
}

// Clock skew: a client whose clock runs behind loses even to an edit made long before.
TEST(Lww, ASlowClockLosesToAnEarlierEditAndIsCorrected) {
  Net net(lww_strategy(), 2);
  seed_hello(net);                                            // stamped 100 by client 0
  ASSERT_EQ(net.edit(1, Splice{0, 5, U"bye"}, 50), "");       // client 1's clock is behind
  EXPECT_TRUE(net.client(1).text() == U"bye");                // optimistic
  ASSERT_EQ(net.deliver_up(1, 1), "");
  ASSERT_EQ(net.deliver_down(1), "");                         // the correction
  EXPECT_TRUE(net.client(1).text() == U"hello");
  EXPECT_TRUE(net.client(1).synced());
  EXPECT_EQ(net.divergence(), "");
  EXPECT_EQ(net.server().version(), 1u);
}

TEST(Lww, PendingWriteStaysShownUntilAnswered) {
  Net net(lww_strategy(), 2);
  seed_hello(net);
  ASSERT_EQ(net.edit(0, Splice{5, 0, U"!"}, 300), "");
  ASSERT_EQ(net.edit(1, Splice{0, 0, U">"}, 200), "");
  ASSERT_EQ(net.deliver_up(0, 1), "");
  ASSERT_EQ(net.deliver_down(1), "");  // client 0's broadcast reaches client 1 first
  EXPECT_TRUE(net.client(1).text() == U">hello");  // its own write is still in flight
  ASSERT_EQ(net.drain(2), "");
  EXPECT_TRUE(net.client(1).text() == U"hello!");
  EXPECT_EQ(net.divergence(), "");
}

// ---- codec -------------------------------------------------------------------------------

std::vector<Bytes> sample_messages() {
  Net net(lww_strategy(), 2);
  std::vector<Bytes> out;
  auto take = net.client(0).local_edit(Splice{0, 0, U"h\u00e9llo\nw\U0001F600rld"}, -5);
  out.insert(out.end(), take.begin(), take.end());
  auto srv = net.server().receive(0, out[0], 10);
  EXPECT_TRUE(srv.has_value());
  out.insert(out.end(), srv->to_sender.begin(), srv->to_sender.end());
  out.insert(out.end(), srv->broadcast.begin(), srv->broadcast.end());
  out.insert(out.end(), srv->records.begin(), srv->records.end());
  // A losing write, to get a correction.
  auto late = net.client(1).local_edit(Splice{0, 0, U"x"}, -100);
  auto lost = net.server().receive(1, late[0], 11);
  EXPECT_TRUE(lost.has_value());
  out.insert(out.end(), lost->to_sender.begin(), lost->to_sender.end());
  out.push_back(net.server().welcome());
  out.push_back(net.server().snapshot());
  return out;
}

TEST(ParagraphCodec, EveryMessageKindRoundTripsThroughBinaryAndJson) {
  const auto msgs = sample_messages();
  ASSERT_EQ(msgs.size(), 7u);
  std::vector<std::string> types;
  for (const Bytes& m : msgs) {
    EXPECT_EQ(testing::round_trip_problem(lww_strategy(), m), "");
    auto j = lww_strategy().to_json(m);
    ASSERT_TRUE(j.has_value());
    types.emplace_back(j->as_object().at("type").as_string().c_str());
  }
  EXPECT_EQ(types, (std::vector<std::string>{"writes", "ack", "broadcast", "record", "ack", "welcome", "snapshot"}));
  auto correction = paragraphs::decode(msgs[4]);
  ASSERT_TRUE(correction.has_value());
  const auto& ack = std::get<paragraphs::Ack>(*correction);
  ASSERT_EQ(ack.entries.size(), 1u);
  ASSERT_TRUE(ack.entries[0].winner.has_value());
  EXPECT_EQ(ack.entries[0].winner->stamp.clock_ms, -5);
}

TEST(ParagraphCodec, JsonFormIsReadable) {
  const auto msgs = sample_messages();
  auto j = lww_strategy().to_json(msgs[2]);  // the broadcast
  ASSERT_TRUE(j.has_value());
  const auto& w = j->as_object().at("writes").as_array().at(0).as_object();
  EXPECT_EQ(w.at("index").to_number<int>(), 0);
  EXPECT_EQ(w.at("text").as_string(), "h\xc3\xa9llo");
  EXPECT_EQ(w.at("stamp").as_object().at("seq").to_number<int>(), 1);
  EXPECT_EQ(boost::json::serialize(w.at("ids")), "[[0,0,5]]");
}

TEST(ParagraphCodec, EveryTruncationIsAnError) {
  for (const Bytes& m : sample_messages()) {
    for (std::size_t n = 0; n < m.size(); ++n) {
      auto d = paragraphs::decode(std::span<const std::uint8_t>(m.data(), n));
      EXPECT_FALSE(d.has_value()) << "prefix of " << n << " bytes decoded";
    }
    Bytes longer = m;
    longer.push_back(0);
    EXPECT_FALSE(paragraphs::decode(longer).has_value()) << "trailing byte accepted";
  }
}

Bytes writes_with(const paragraphs::Write& w) { return paragraphs::encode(paragraphs::ClientWrites{{w}}); }

TEST(ParagraphCodec, InvalidFieldsAreErrors) {
  using paragraphs::Paragraph;
  using paragraphs::Write;
  const paragraphs::Stamp st{1, 0, 1, 0, 0};
  EXPECT_FALSE(paragraphs::decode(Bytes{99}).has_value());  // unknown tag
  EXPECT_FALSE(paragraphs::decode(Bytes{}).has_value());
  EXPECT_FALSE(paragraphs::decode(writes_with(Write{paragraphs::kParagraphsMax, Paragraph{true, U"a", {{0, 0}}, {}}, st})).has_value());
  EXPECT_FALSE(paragraphs::decode(writes_with(Write{0, Paragraph{true, U"a\nb", {{0, 0}, {0, 1}, {0, 2}}, {}}, st})).has_value());
  EXPECT_FALSE(paragraphs::decode(writes_with(Write{0, Paragraph{true, U"ab", {{0, 0}}, {}}, st})).has_value());
  EXPECT_FALSE(paragraphs::decode(writes_with(Write{0, Paragraph{true, U"a", {{0, 0}}, {}}, paragraphs::Stamp{}})).has_value());
  EXPECT_TRUE(paragraphs::decode(writes_with(Write{0, Paragraph{true, U"a", {{0, 0}}, {}}, st})).has_value());
  // A huge count with nothing behind it is refused before any allocation.
  EXPECT_FALSE(paragraphs::decode(Bytes{1, 0xff, 0xff, 0x3f}).has_value());
  EXPECT_FALSE(lww_strategy().from_json(boost::json::parse(R"({"type":"writes","writes":[{"index":-1}]})")).has_value());
  EXPECT_FALSE(lww_strategy().from_json(boost::json::parse(R"({"type":"nope"})")).has_value());
  EXPECT_FALSE(lww_strategy().from_json(boost::json::parse(R"([1,2])")).has_value());
  EXPECT_FALSE(lww_strategy().from_json(boost::json::parse(
      R"({"type":"writes","writes":[{"index":0,"exists":true,"text":"ab","ids":[[0,0,3]],"term":[0,0],"stamp":{"clock_ms":1,"counter":1}}]})")).has_value());
  EXPECT_TRUE(lww_strategy().from_json(boost::json::parse(
      R"({"type":"writes","writes":[{"index":0,"exists":true,"text":"ab","ids":[[0,0,2]],"term":[0,0],"stamp":{"clock_ms":1,"counter":1}}]})")).has_value());
}

TEST(ParagraphCodec, MessagesThatDoNotFitTheStateAreRefusedWithoutChange) {
  Net net(lww_strategy(), 2);
  seed_hello(net);
  const Bytes snap = net.server().snapshot();
  // A write far past the document's end.
  const Bytes far = writes_with(paragraphs::Write{5, paragraphs::Paragraph{true, U"a", {{0, 0}}, {}}, {1, 0, 1, 0, 0}});
  EXPECT_FALSE(net.server().receive(1, far, 1).has_value());
  EXPECT_EQ(net.server().snapshot(), snap);
  // An ack with nothing in flight; a server-bound message sent to a client.
  auto ack = paragraphs::encode(paragraphs::Ack{{paragraphs::AckEntry{1, 0, std::nullopt}}});
  EXPECT_FALSE(net.client(1).receive(ack).has_value());
  EXPECT_FALSE(net.client(1).receive(far).has_value());
  EXPECT_TRUE(net.client(1).text() == U"hello");
  // A snapshot is not a record, and a record is not a snapshot.
  EXPECT_FALSE(net.server().apply_record(snap).has_value());
  EXPECT_FALSE(net.server().restore(net.server().welcome()).has_value());
  EXPECT_EQ(net.server().snapshot(), snap);
}

RC_GTEST_PROP(ParagraphCodec, ArbitraryBytesNeverCrashAnyReplica, (const std::vector<std::uint8_t>& junk)) {
  testing::arbitrary_bytes_are_refused_cleanly(lww_strategy(), junk);
}

// Mutated valid messages reach far deeper into the decoder than random bytes do.
RC_GTEST_PROP(ParagraphCodec, MutatedMessagesNeverCrashAnyReplica, ()) {
  static const std::vector<Bytes> msgs = sample_messages();
  Bytes m = *rc::gen::elementOf(msgs);
  const int flips = *rc::gen::inRange(1, 4);
  for (int i = 0; i < flips; ++i) {
    m[*rc::gen::inRange<std::size_t>(0, m.size())] = *rc::gen::arbitrary<std::uint8_t>();
  }
  testing::arbitrary_bytes_are_refused_cleanly(lww_strategy(), m);
}

// ---- convergence and traces --------------------------------------------------------------

RC_GTEST_PROP(Lww, SkewedClientsConvergeUnderAnyFifoInterleaving, ()) {
  testing::random_session_converges(lww_strategy(), /*skewed=*/true);
}

RC_GTEST_PROP(Lww, ClientIndexAnswersWhatTheDefaultsDo, ()) {
  testing::random_session_index_agrees(lww_strategy(), /*skewed=*/true);
}

TEST(LwwTraces, EveryTraceFileIsReplayed) { testing::expect_every_trace_listed(); }

class LwwTrace : public ::testing::TestWithParam<std::string> {};
TEST_P(LwwTrace, Local) { testing::replay_trace_and_check(lww_strategy(), GetParam(), ReplayMode::kLocal); }
TEST_P(LwwTrace, Relayed) { testing::replay_trace_and_check(lww_strategy(), GetParam(), ReplayMode::kRelayed); }
INSTANTIATE_TEST_SUITE_P(Sequential, LwwTrace, ::testing::ValuesIn(testing::sequential_trace_names()),
                         testing::trace_test_name);

}  // namespace
}  // namespace convlab
