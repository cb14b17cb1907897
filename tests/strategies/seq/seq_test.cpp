// `seq`: the server's sequence orders paragraph writes; client clocks are audit only.
#include "server/strategies/paragraphs/replica.hpp"
#include "server/strategies/seq/seq.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "tests/strategies/lww/paragraph_properties.hpp"

#include <algorithm>

namespace convlab {
namespace {

using testing::Net;
using testing::ReplayMode;

void seed_hello(Net& net) {
  ASSERT_EQ(net.edit(0, Splice{0, 0, U"hello"}, 100), "");
  ASSERT_EQ(net.drain(100), "");
  ASSERT_EQ(net.divergence(), "");
}

TEST(Seq, Registered) {
  EXPECT_EQ(seq_strategy().name, "seq");
  EXPECT_NE(paragraphs::as_paragraph_server(*seq_strategy().make_server()), nullptr);
}

// The fix for skew: a client whose clock runs behind still wins when it writes later.
TEST(Seq, ASlowClockNoLongerLoses) {
  Net net(seq_strategy(), 2);
  seed_hello(net);
  ASSERT_EQ(net.edit(1, Splice{0, 5, U"bye"}, 50), "");
  ASSERT_EQ(net.drain(2), "");
  EXPECT_TRUE(net.server().text() == U"bye");
  EXPECT_EQ(net.divergence(), "");
  const auto& reg = paragraphs::as_paragraph_server(net.server())->registers()[0];
  EXPECT_EQ(reg.stamp.seq, 2u);
  EXPECT_EQ(reg.stamp.clock_ms, 50);  // kept for audit
  EXPECT_EQ(reg.stamp.server_ms, 2);
}

TEST(Seq, EveryWriteIsAcceptedAndNumbered) {
  Net net(seq_strategy(), 2);
  ASSERT_EQ(net.edit(0, Splice{0, 0, U"a\nb\nc"}, 9), "");  // three paragraph writes
  ASSERT_EQ(net.edit(1, Splice{0, 0, U"z"}, 1), "");        // one more
  ASSERT_EQ(net.drain(1), "");
  EXPECT_EQ(net.server().version(), 4u);
  EXPECT_EQ(net.divergence(), "");
  // Client 1's write to paragraph 0 arrived last, so it replaced client 0's "a".
  EXPECT_TRUE(net.server().text() == U"z\nb\nc");
}

// What seq does not fix: concurrent edits to one paragraph; the later arrival erases the other,
// though both were acknowledged.
TEST(Seq, ConcurrentEditsToOneParagraphStillLoseAnAcknowledgedWrite) {
  Net net(seq_strategy(), 3);
  seed_hello(net);
  ASSERT_EQ(net.edit(1, Splice{5, 0, U" world"}, 900), "");
  ASSERT_EQ(net.edit(2, Splice{0, 0, U"!"}, 100), "");
  ASSERT_EQ(net.deliver_up(1, 1), "");
  ASSERT_EQ(net.deliver_down(1), "");
  EXPECT_TRUE(net.client(1).synced());
  ASSERT_EQ(net.drain(2), "");
  EXPECT_EQ(net.divergence(), "");
  EXPECT_TRUE(net.server().text() == U"!hello");
  const auto ids = net.client(1).char_ids();
  EXPECT_TRUE(std::none_of(ids.begin(), ids.end(), [](CharId id) { return id.agent == 1; }));
}

TEST(Seq, LateJoinerAndRecoveryAgree) {
  Net net(seq_strategy(), 2);
  seed_hello(net);
  ASSERT_EQ(net.edit(1, Splice{5, 0, U"\nworld"}, 3), "");
  ASSERT_EQ(net.drain(4), "");
  auto restored = seq_strategy().make_server();
  ASSERT_TRUE(restored->restore(net.server().snapshot()).has_value());
  // Replaying the whole log over the snapshot changes nothing (records are idempotent).
  for (const Bytes& r : net.records) ASSERT_TRUE(restored->apply_record(r).has_value());
  EXPECT_TRUE(restored->text() == U"hello\nworld");
  EXPECT_EQ(restored->version(), net.server().version());
  auto late = seq_strategy().make_client(9);
  ASSERT_TRUE(late->receive(restored->welcome()).has_value());
  EXPECT_TRUE(late->text() == U"hello\nworld");
  EXPECT_TRUE(late->char_ids() == net.server().char_ids());
}

RC_GTEST_PROP(Seq, ClientsConvergeUnderAnyFifoInterleaving, ()) {
  testing::random_session_converges(seq_strategy(), /*skewed=*/true);
}

RC_GTEST_PROP(Seq, ClientIndexAnswersWhatTheDefaultsDo, ()) {
  testing::random_session_index_agrees(seq_strategy(), /*skewed=*/true);
}

RC_GTEST_PROP(Seq, ArbitraryBytesNeverCrashAnyReplica, (const std::vector<std::uint8_t>& junk)) {
  testing::arbitrary_bytes_are_refused_cleanly(seq_strategy(), junk);
}

TEST(SeqTraces, EveryTraceFileIsReplayed) { testing::expect_every_trace_listed(); }

class SeqTrace : public ::testing::TestWithParam<std::string> {};
TEST_P(SeqTrace, Local) { testing::replay_trace_and_check(seq_strategy(), GetParam(), ReplayMode::kLocal); }
TEST_P(SeqTrace, Relayed) { testing::replay_trace_and_check(seq_strategy(), GetParam(), ReplayMode::kRelayed); }
INSTANTIATE_TEST_SUITE_P(Sequential, SeqTrace, ::testing::ValuesIn(testing::sequential_trace_names()),
                         testing::trace_test_name);

}  // namespace
}  // namespace convlab
