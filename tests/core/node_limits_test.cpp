// Every queue of the node at its limit (NodeConfig, "Limits"): small limits, reached on purpose,
// and the refusal each one makes.
#include "server/core/node.hpp"
#include "server/core/protocol.hpp"
#include "server/strategies/registry.hpp"
#include "tests/core/scripted_io.hpp"

#include <gtest/gtest.h>

#include <climits>
#include <memory>

namespace convlab::node_test {
namespace {

const Strategy& lww() { return *find_strategy("lww"); }
const Strategy& ot() { return *find_strategy("ot"); }

void connect(Node& node, ConnId conn) { node.on_connect(conn, static_cast<AgentId>(100 + conn), Token{1, INT64_MAX}); }

bool closed_as_overloaded(const ScriptedIo& io, ConnId conn) {
  for (const auto& [c, why] : io.closed) {
    if (c == conn && why.rfind("overloaded: ", 0) == 0) return true;
  }
  return false;
}

// Answers the node's store requests, in order, until none is left.
void play(Node& node, ScriptedIo& io, FakeStore& store) {
  while (!io.requests.empty()) node.on_store(store.answer(io.take_request()));
}

// Connects `conn` to `doc` with a hello and plays the store until its welcome, which it returns.
Frame open(Node& node, ScriptedIo& io, FakeStore& store, ConnId conn, std::uint32_t doc = 0) {
  connect(node, conn);
  node.on_frame(conn, frame_bytes(FrameKind::kHello, doc));
  play(node, io, store);
  auto frames = io.take_frames(conn);
  EXPECT_EQ(frames.size(), 1u);
  return frames.empty() ? Frame{} : frames[0];
}

// A welcomed client's edit frame, made by the strategy's client replica.
Bytes edit_of(const Strategy& s, std::uint32_t doc, const Frame& welcome, AgentId agent, std::u32string text) {
  auto replica = s.make_client(agent);
  EXPECT_TRUE(replica->receive(welcome.payload).has_value());
  return frame_bytes(FrameKind::kEdit, doc, replica->local_edit(Splice{0, 0, std::move(text)}, 1000).at(0));
}

TEST(NodeLimits, FramesWaitingForALoad) {
  NodeConfig cfg;
  cfg.loading_frames_max = 2;
  ScriptedIo io;
  Node node(cfg, lww(), io);
  for (ConnId c = 1; c <= 3; ++c) {
    connect(node, c);
    node.on_frame(c, frame_bytes(FrameKind::kHello, 0));
  }
  EXPECT_FALSE(closed_as_overloaded(io, 1));
  EXPECT_FALSE(closed_as_overloaded(io, 2));
  EXPECT_TRUE(closed_as_overloaded(io, 3));
  EXPECT_EQ(io.errors.size(), 1u);
  FakeStore store;
  play(node, io, store);
  EXPECT_EQ(io.take_frames(1).size(), 1u);
  EXPECT_EQ(io.take_frames(2).size(), 1u);
  EXPECT_TRUE(io.take_frames(3).empty()) << "closed: its hello went with it";
}

TEST(NodeLimits, ForwardedEditsWaitingForALoad) {
  NodeConfig cfg;
  cfg.nodes = 2;
  cfg.loading_forwards_max = 1;
  ScriptedIo io;
  Node home(cfg, ot(), io);  // node 0: home of doc 0
  const NodeMessage m = forward_edit(1, 5, 0, 0);
  home.on_node(m);
  EXPECT_TRUE(io.messages.empty()) << "the first waits for the load";
  home.on_node(m);
  ASSERT_EQ(io.messages.size(), 1u);
  EXPECT_EQ(io.messages[0].first, 1u);
  EXPECT_EQ(io.messages[0].second.kind, NodeMessage::Kind::kDocReset);
  EXPECT_EQ(io.errors.size(), 1u);
}

TEST(NodeLimits, RecordsPastAGapAreReadAgainFromTheLog) {
  FakeStore store;
  NodeConfig writer_cfg;
  writer_cfg.nodes = 2;
  ScriptedIo wio;
  Node writer(writer_cfg, lww(), wio);
  NodeConfig cfg = writer_cfg;
  cfg.id = 1;
  cfg.pending_remote_max = 1;
  ScriptedIo io;
  Node node(cfg, lww(), io);
  // Both serve doc 0; the writer's client makes four edits, committed 1..4.
  const Frame welcome = open(writer, wio, store, 1);
  open(node, io, store, 2);
  auto replica = lww().make_client(101);
  ASSERT_TRUE(replica->receive(welcome.payload).has_value());
  for (int i = 0; i < 3; ++i) {
    for (Bytes& msg : replica->local_edit(Splice{0, 0, U"w"}, 1000)) {
      writer.on_frame(1, frame_bytes(FrameKind::kEdit, 0, std::move(msg)));
    }
    play(writer, wio, store);
  }
  ASSERT_EQ(store.published.size(), 3u);
  // Record 1 is lost; 2 shows the gap and asks for a catch-up, answered now (it reads 1..3) and
  // delivered later.
  node.on_bus(0, store.published[1].second);
  ASSERT_EQ(io.requests.size(), 1u);
  const StoreReply early = store.answer(io.take_request());
  for (Bytes& msg : replica->local_edit(Splice{0, 0, U"w"}, 1000)) {
    writer.on_frame(1, frame_bytes(FrameKind::kEdit, 0, std::move(msg)));
  }
  play(writer, wio, store);
  ASSERT_EQ(store.published.size(), 4u);
  node.on_bus(0, store.published[3].second);  // record 4: no room past the gap (2 waits there)
  EXPECT_TRUE(io.requests.empty()) << "a catch-up is in flight already";
  // The read brings 1..3 behind record 2, which waits: 1 goes in (next in line), 3 finds no
  // room either. Applied up to 2, then the log is read again for what was not kept.
  node.on_store(early);
  EXPECT_EQ(node.applied(0), 2u);
  ASSERT_EQ(io.requests.size(), 1u) << "records 3 and 4 were not kept: the log is read again";
  EXPECT_EQ(io.requests.front().after, 2u);
  play(node, io, store);
  EXPECT_EQ(node.applied(0), 4u);
  EXPECT_EQ(node.text(0), writer.text(0));
}

TEST(NodeLimits, SessionsWaitingForACatchUpAndTheirHeldEdits) {
  FakeStore store;
  NodeConfig cfg;
  cfg.nodes = 2;
  cfg.hello_waiting_max = 2;
  cfg.held_frames_max = 1;
  ScriptedIo io;
  Node node(cfg, lww(), io);
  const Frame welcome = open(node, io, store, 1);  // the document is in memory
  // Two subscribers wait for a catch-up (not answered yet); a third session is one too many.
  for (ConnId c = 2; c <= 3; ++c) {
    connect(node, c);
    node.on_frame(c, frame_bytes(FrameKind::kSubscribe, 0, encode_subscribe(0)));
  }
  connect(node, 4);
  node.on_frame(4, frame_bytes(FrameKind::kHello, 0));
  EXPECT_TRUE(closed_as_overloaded(io, 4));
  // Subscriber 2 edits at once: its first edit is held for its welcome, the second is too many.
  const Bytes edit = edit_of(lww(), 0, welcome, 102, U"s");
  node.on_frame(2, edit);
  EXPECT_FALSE(closed_as_overloaded(io, 2));
  node.on_frame(2, edit);
  EXPECT_TRUE(closed_as_overloaded(io, 2));
  play(node, io, store);
  EXPECT_EQ(io.take_frames(3).at(0).kind, FrameKind::kWelcome);
  EXPECT_TRUE(io.take_frames(2).empty());
}

TEST(NodeLimits, MessagesQueuedBehindAnUnacknowledgedEdit) {
  FakeStore store;
  NodeConfig cfg;
  cfg.outbox_items_max = 2;
  ScriptedIo io;
  Node node(cfg, lww(), io);
  const Frame welcome = open(node, io, store, 1);
  open(node, io, store, 2);
  // Client 1's edit waits for its commit (one slot); client 2's edits queue behind it.
  node.on_frame(1, edit_of(lww(), 0, welcome, 101, U"a"));
  auto two = lww().make_client(102);
  ASSERT_TRUE(two->receive(welcome.payload).has_value());
  node.on_frame(2, frame_bytes(FrameKind::kEdit, 0, two->local_edit(Splice{0, 0, U"b"}, 1000).at(0)));
  EXPECT_FALSE(closed_as_overloaded(io, 1));
  node.on_frame(2, frame_bytes(FrameKind::kEdit, 0, two->local_edit(Splice{0, 0, U"c"}, 1000).at(0)));
  EXPECT_TRUE(closed_as_overloaded(io, 1));
  EXPECT_FALSE(closed_as_overloaded(io, 2));
  play(node, io, store);
  EXPECT_TRUE(io.take_frames(1).empty()) << "nothing more goes to a closed connection";
}

TEST(NodeLimits, ForwardedEditsNotYetAcknowledged) {
  FakeStore store;
  NodeConfig cfg;
  cfg.id = 1;
  cfg.nodes = 2;
  cfg.forwards_max = 1;
  ScriptedIo io;
  Node node(cfg, ot(), io);  // doc 0's home is node 0
  const Bytes edit = edit_of(ot(), 0, open(node, io, store, 1), 101, U"f");
  node.on_frame(1, edit);
  EXPECT_EQ(io.messages.size(), 1u);
  node.on_frame(1, edit);
  EXPECT_EQ(io.messages.size(), 1u) << "not forwarded";
  EXPECT_TRUE(closed_as_overloaded(io, 1));
}

TEST(NodeLimits, AppendsWaitingForTheStore) {
  FakeStore store;
  NodeConfig cfg;
  cfg.nodes = 2;
  cfg.appends_max = 1;
  ScriptedIo io;
  Node home(cfg, ot(), io);  // node 0: home of doc 0
  const Frame welcome = open(home, io, store, 1);
  home.on_frame(1, edit_of(ot(), 0, welcome, 101, U"a"));
  ASSERT_EQ(io.requests.size(), 1u);
  // A forwarded edit finds the appends full: its node starts the document over.
  const NodeMessage m = forward_edit(1, 9, 109, 0, decode_frame(edit_of(ot(), 0, welcome, 109, U"b"))->payload);
  home.on_node(m);
  EXPECT_EQ(io.requests.size(), 1u) << "refused before it applied";
  ASSERT_EQ(io.messages.size(), 1u);
  EXPECT_EQ(io.messages[0].second.kind, NodeMessage::Kind::kDocReset);
  EXPECT_EQ(home.text(0), U"a");
  // So does a local edit: its connection is closed.
  connect(home, 2);
  home.on_frame(2, frame_bytes(FrameKind::kHello, 0));
  play(home, io, store);  // the first append commits; catch-up and welcome for 2
  const Frame welcome2 = io.take_frames(2).at(0);
  home.on_frame(1, edit_of(ot(), 0, welcome2, 111, U"c"));  // another replica: its own ids
  home.on_frame(2, edit_of(ot(), 0, welcome2, 102, U"d"));
  EXPECT_TRUE(closed_as_overloaded(io, 2));
  EXPECT_FALSE(closed_as_overloaded(io, 1));
}

TEST(NodeLimits, SnapshotWritesWaitingForTheStore) {
  FakeStore store;
  NodeConfig cfg;
  cfg.persistence = NodeConfig::Persistence::kSnapshot;
  cfg.snapshot_writes_max = 1;
  ScriptedIo io;
  Node node(cfg, lww(), io);
  node.start();
  const std::uint64_t timer = io.timers.at(0).second;
  for (std::uint32_t doc = 0; doc < 2; ++doc) {
    const ConnId conn = doc + 1;
    const Frame welcome = open(node, io, store, conn, doc);
    node.on_frame(conn, edit_of(lww(), doc, welcome, static_cast<AgentId>(100 + conn), U"x"));
  }
  node.on_timer(timer);
  ASSERT_EQ(io.requests.size(), 1u);
  EXPECT_EQ(io.requests.front().doc, 0u);
  EXPECT_EQ(io.errors.size(), 1u) << "doc 1 waits";
  play(node, io, store);
  node.on_timer(timer);
  ASSERT_EQ(io.requests.size(), 1u) << "doc 1 is still due; doc 0 is clean";
  EXPECT_EQ(io.requests.front().doc, 1u);
}

TEST(NodeLimits, ApiReadsWaitingForTheStore) {
  NodeConfig cfg;
  cfg.http_reads_max = 1;
  ScriptedIo io;
  Node node(cfg, lww(), io);
  node.on_http_get(HttpGet{1, 0, Token{1, INT64_MAX}, 0});
  EXPECT_TRUE(io.responses.empty());
  node.on_http_get(HttpGet{2, 0, Token{1, INT64_MAX}, 0});
  ASSERT_EQ(io.responses.size(), 1u);
  EXPECT_EQ(io.responses[0].id, 2u);
  EXPECT_EQ(io.responses[0].status, 503);
  FakeStore store;
  play(node, io, store);
  EXPECT_EQ(io.responses.back().status, 200);
}

}  // namespace
}  // namespace convlab::node_test
