// The sans-IO node driven alone: a ScriptedIo records what it asks of the world, the test plays
// the world's answers (store replies, bus records, timers, other nodes' messages, crashes) and
// checks the frames that come out. Real strategies build the payloads.
#include "server/core/node.hpp"
#include "server/core/protocol.hpp"
#include "server/strategies/registry.hpp"
#include "tests/core/node_rig.hpp"
#include "tests/core/scripted_io.hpp"

#include <gtest/gtest.h>

#include <climits>
#include <memory>

namespace convlab::node_test {
namespace {

NodeConfig one_node() {
  NodeConfig c;
  c.nodes = 1;
  return c;
}

// Two nodes sharing a store: node 0 and node 1 with `propagation`, the rest as in `c`.
NodeConfig node_of_two(NodeId id, NodeConfig::Propagation propagation, NodeConfig c = {}) {
  c.id = id;
  c.nodes = 2;
  c.propagation = propagation;
  return c;
}

// Two lww clients of doc 0 on one node, both welcomed.
struct TwoClients {
  FakeStore store;
  Rig r;
  Client a;
  Client b;
  explicit TwoClients(const NodeConfig& cfg)
      : r(cfg, strategy("lww")), a(strategy("lww"), 1, 10, 0), b(strategy("lww"), 2, 11, 0) {
    hello(*r.node, a);
    hello(*r.node, b);
    r.play_store(store);
    a.receive(r.io);
    b.receive(r.io);
  }
};

TEST(Node, HelloLoadsTheDocumentThenWelcomes) {
  FakeStore store;
  Rig r(one_node(), strategy("lww"));
  Client a(strategy("lww"), 1, 10, 0);
  hello(*r.node, a);
  ASSERT_EQ(r.io.requests.size(), 1u);
  EXPECT_EQ(r.io.requests.front().kind, StoreRequest::Kind::kLoad);
  EXPECT_TRUE(r.io.frames.empty()) << "nothing before the document is loaded";
  r.play_store(store);
  EXPECT_EQ(a.receive(r.io), (std::map<FrameKind, int>{{FrameKind::kWelcome, 1}}));
  EXPECT_EQ(r.node->text(0), std::u32string());
  EXPECT_TRUE(r.node->serving(0));
}

TEST(Node, AckImmediatelyGoesOutBeforeTheCommit) {
  NodeConfig cfg = one_node();
  cfg.ack = NodeConfig::Ack::kImmediate;
  TwoClients t(cfg);
  auto& [store, r, a, b] = t;
  a.type(*r.node, 0, U"hi");
  EXPECT_EQ(a.receive(r.io)[FrameKind::kDeliver], 1);
  EXPECT_TRUE(a.replica->synced());
  EXPECT_EQ(r.io.acks.size(), 1u);
  EXPECT_EQ(b.receive(r.io)[FrameKind::kDeliver], 1);
  EXPECT_EQ(b.replica->text(), U"hi");
  ASSERT_EQ(r.io.requests.size(), 1u);
  EXPECT_EQ(r.io.requests.front().kind, StoreRequest::Kind::kAppend);
  EXPECT_FALSE(r.io.requests.front().notify) << "one node: nobody to notify";
  r.play_store(store);
  EXPECT_TRUE(r.io.frames.empty()) << "the commit adds nothing: the ack went out already";
  EXPECT_EQ(store.docs[0].log.size(), 1u);
}

TEST(Node, AckAfterCommitWaitsForTheStore) {
  TwoClients t(one_node());
  auto& [store, r, a, b] = t;
  a.type(*r.node, 0, U"hi");
  EXPECT_TRUE(r.io.take_frames(a.conn).empty()) << "held until the commit";
  EXPECT_EQ(b.receive(r.io)[FrameKind::kDeliver], 1) << "others see it at once";
  EXPECT_TRUE(r.io.acks.empty());
  ASSERT_EQ(r.io.requests.size(), 1u);
  EXPECT_EQ(r.io.requests.front().purpose, std::string("commit"));
  r.play_store(store);
  EXPECT_EQ(a.receive(r.io)[FrameKind::kDeliver], 1);
  EXPECT_TRUE(a.replica->synced());
  ASSERT_EQ(r.io.acks.size(), 1u);
  EXPECT_EQ(r.io.acks[0].first, a.conn);
  EXPECT_EQ(r.node->applied(0), 1u);
}

// A broadcast's frames are built once and shared by every recipient's send(): a recipient with
// nothing queued gets them at once, each recipient with an acknowledgement held ahead of them
// gets its own copy queued behind it (the last of them the frames' own bytes). Under ot a
// payload missing, emptied or out of place would not apply.
TEST(Node, ABroadcastReachesRecipientsWithAndWithoutHeldAcksAlike) {
  FakeStore store;
  Rig r(one_node(), strategy("ot"));
  Client a(strategy("ot"), 1, 10, 0);
  Client b(strategy("ot"), 2, 11, 0);
  Client c(strategy("ot"), 3, 12, 0);
  Client d(strategy("ot"), 4, 13, 0);
  for (Client* x : {&a, &b, &c, &d}) hello(*r.node, *x);
  r.play_store(store);
  for (Client* x : {&a, &b, &c, &d}) x->receive(r.io);
  b.type(*r.node, 0, U"b");
  c.receive(r.io);  // b's edit reaches c before c types
  c.type(*r.node, 0, U"c");
  d.receive(r.io);
  d.type(*r.node, 0, U"d");  // b and c hold acknowledgements; a does not
  const std::vector<Frame> at_a = r.io.take_frames(a.conn);
  ASSERT_EQ(at_a.size(), 3u) << "a has nothing queued: every broadcast at once";
  EXPECT_TRUE(r.io.take_frames(b.conn).empty()) << "behind b's held acknowledgement";
  EXPECT_TRUE(r.io.take_frames(c.conn).empty()) << "behind c's held acknowledgement";
  for (const Frame& f : at_a) {
    auto back = a.replica->receive(f.payload);
    EXPECT_TRUE(back.has_value()) << (back ? "" : back.error().message);
  }
  r.play_store(store);
  const std::vector<Frame> at_b = r.io.take_frames(b.conn);
  const std::vector<Frame> at_c = r.io.take_frames(c.conn);
  ASSERT_EQ(at_b.size(), 3u);  // its ack, then c's and d's edits
  ASSERT_EQ(at_c.size(), 2u);  // its ack, then d's edit
  EXPECT_EQ(at_b[2].payload, at_a[2].payload) << "d's edit, as a got it";
  EXPECT_EQ(at_c[1].payload, at_a[2].payload) << "d's edit, as a got it";
  EXPECT_EQ(at_b[1].payload, at_a[1].payload) << "c's edit, as a got it";
  for (const Frame& f : at_b) {
    auto back = b.replica->receive(f.payload);
    EXPECT_TRUE(back.has_value()) << (back ? "" : back.error().message);
  }
  for (const Frame& f : at_c) {
    auto back = c.replica->receive(f.payload);
    EXPECT_TRUE(back.has_value()) << (back ? "" : back.error().message);
  }
  d.receive(r.io);
  for (Client* x : {&a, &b, &c, &d}) {
    EXPECT_TRUE(x->replica->synced());
    EXPECT_EQ(x->replica->text(), r.node->text(0));
  }
  EXPECT_EQ(r.node->text(0).value_or(U"").size(), 3u);
}

// A store whose appends all fail: a NodeIoWrapper overrides store() alone.
class FailingAppends final : public NodeIoWrapper {
 public:
  explicit FailingAppends(NodeIo& target) : NodeIoWrapper(target) {}
  void store(StoreRequest request) override {
    if (request.kind == StoreRequest::Kind::kAppend) {
      failed.push_back(request.id);
      return;
    }
    NodeIoWrapper::store(std::move(request));
  }
  std::vector<std::uint64_t> failed;
};

TEST(Node, AFailedAppendStartsTheDocumentOverWithoutAcknowledging) {
  FakeStore store;
  ScriptedIo io;
  FailingAppends failing(io);
  Node node(one_node(), strategy("lww"), failing);
  Client a(strategy("lww"), 1, 10, 0);
  hello(node, a);
  while (!io.requests.empty()) node.on_store(store.answer(io.take_request()));
  a.receive(io);
  a.type(node, 0, U"lost");
  ASSERT_EQ(failing.failed.size(), 1u);
  EXPECT_TRUE(io.requests.empty()) << "the append went to the wrapper, not the store";
  StoreReply failed;
  failed.id = failing.failed[0];
  failed.ok = false;
  node.on_store(failed);
  EXPECT_TRUE(a.receive(io).empty()) << "never acknowledged";
  ASSERT_EQ(io.closed.size(), 1u);
  EXPECT_EQ(io.closed[0], (std::pair<ConnId, std::string>{a.conn, "a change did not commit"}));
  EXPECT_EQ(node.text(0), std::nullopt) << "dropped from memory";
  EXPECT_EQ(io.changes.back(), NodeIo::ReplicaChange::kDropped);
  EXPECT_TRUE(store.docs[0].log.empty());
  // The client reconnects and loads what is durable.
  Client again(strategy("lww"), 2, 12, 0);
  hello(node, again);
  while (!io.requests.empty()) node.on_store(store.answer(io.take_request()));
  EXPECT_EQ(again.receive(io)[FrameKind::kWelcome], 1);
  EXPECT_EQ(again.replica->text(), U"");
}

TEST(Node, SnapshotPersistenceWritesOnTheTimerAndLosesWhatCameAfter) {
  FakeStore store;
  NodeConfig cfg = one_node();
  cfg.persistence = NodeConfig::Persistence::kSnapshot;
  cfg.snapshot_interval_ms = 30000;
  auto r = std::make_unique<Rig>(cfg, strategy("lww"));
  r->node->start();
  ASSERT_EQ(r->io.timers.size(), 1u);
  EXPECT_EQ(r->io.timers[0].first, 30000);
  const std::uint64_t snapshot_timer = r->io.timers[0].second;
  Client a(strategy("lww"), 1, 10, 0);
  hello(*r->node, a);
  r->play_store(store);
  a.receive(r->io);
  a.type(*r->node, 0, U"kept");
  EXPECT_EQ(a.receive(r->io)[FrameKind::kDeliver], 1) << "no log to wait for: acknowledged at once";
  EXPECT_TRUE(r->io.requests.empty()) << "no append under snapshots";
  r->node->on_timer(snapshot_timer);
  ASSERT_EQ(r->io.requests.size(), 1u);
  EXPECT_EQ(r->io.requests.front().kind, StoreRequest::Kind::kWriteSnapshot);
  EXPECT_EQ(r->io.timers.size(), 2u) << "the timer starts its next period";
  r->play_store(store);
  a.type(*r->node, 4, U" gone");
  EXPECT_EQ(a.receive(r->io)[FrameKind::kDeliver], 1);
  // A crash before the next snapshot: the new node has the snapshot only.
  r = std::make_unique<Rig>(cfg, strategy("lww"));
  Client b(strategy("lww"), 1, 11, 0);
  hello(*r->node, b);
  r->play_store(store);
  b.receive(r->io);
  EXPECT_EQ(b.replica->text(), U"kept");
}

TEST(Node, ChangeLogPersistenceAppendsEachEditAndSnapshotsEveryKChanges) {
  FakeStore store;
  NodeConfig cfg = one_node();
  cfg.snapshot_every_changes = 2;
  Rig r(cfg, strategy("lww"));
  r.node->start();
  EXPECT_TRUE(r.io.timers.empty()) << "no snapshot timer under a change log";
  Client a(strategy("lww"), 1, 10, 0);
  hello(*r.node, a);
  r.play_store(store);
  a.receive(r.io);
  a.type(*r.node, 0, U"a");
  r.play_store(store);
  a.receive(r.io);
  EXPECT_FALSE(store.docs[0].has_snapshot);
  a.type(*r.node, 1, U"b");
  ASSERT_EQ(r.io.requests.size(), 1u);
  EXPECT_EQ(r.io.requests.front().kind, StoreRequest::Kind::kAppend);
  r.node->on_store(store.answer(r.io.take_request()));
  ASSERT_EQ(r.io.requests.size(), 1u) << "the second change asks for a snapshot";
  EXPECT_EQ(r.io.requests.front().kind, StoreRequest::Kind::kWriteSnapshot);
  EXPECT_EQ(r.io.requests.front().after, 2u);
  r.play_store(store);
  EXPECT_TRUE(store.docs[0].has_snapshot);
  EXPECT_EQ(store.docs[0].log.size(), 2u);
}

// Node 0 commits an edit of doc 0; node 1 serves a client of the same document.
struct TwoNodes {
  FakeStore store;
  Rig n0;
  Rig n1;
  Client a;  // on node 0
  Client b;  // on node 1
  TwoNodes(NodeConfig::Propagation p, const char* s, std::uint32_t doc = 0, const NodeConfig& base = {})
      : n0(node_of_two(0, p, base), strategy(s)),
        n1(node_of_two(1, p, base), strategy(s)),
        a(strategy(s), 1, 10, doc),
        b(strategy(s), 2, 11, doc) {
    n0.node->start();
    n1.node->start();
    hello(*n0.node, a);
    n0.play_store(store);  // load, then the catch-up before the welcome
    a.receive(n0.io);
    hello(*n1.node, b);
    n1.play_store(store);
    b.receive(n1.io);
  }
};

TEST(Node, PollPropagationReadsTheLogOnItsTimer) {
  TwoNodes t(NodeConfig::Propagation::kPoll, "lww");
  ASSERT_EQ(t.n1.io.timers.size(), 1u);
  EXPECT_EQ(t.n1.io.timers[0].first, 2000);
  t.a.type(*t.n0.node, 0, U"x");
  EXPECT_FALSE(t.n0.io.requests.front().notify) << "polling: no bus";
  t.n0.play_store(t.store);
  EXPECT_TRUE(t.store.published.empty());
  EXPECT_TRUE(t.n1.io.frames.empty()) << "node 1 does not know yet";
  t.n1.node->on_timer(t.n1.io.timers[0].second);
  ASSERT_EQ(t.n1.io.requests.size(), 1u);
  EXPECT_EQ(t.n1.io.requests.front().kind, StoreRequest::Kind::kReadLog);
  EXPECT_EQ(t.n1.io.requests.front().purpose, std::string("poll"));
  t.n1.play_store(t.store);
  EXPECT_EQ(t.b.receive(t.n1.io)[FrameKind::kDeliver], 1);
  EXPECT_EQ(t.b.replica->text(), U"x");
}

TEST(Node, BusPropagationAppliesPublishedRecordsWithoutReading) {
  TwoNodes t(NodeConfig::Propagation::kBus, "lww");
  t.a.type(*t.n0.node, 0, U"x");
  EXPECT_TRUE(t.n0.io.requests.front().notify);
  t.n0.play_store(t.store);
  ASSERT_EQ(t.store.published.size(), 1u);
  t.n1.node->on_bus(t.store.published[0].first, t.store.published[0].second);
  EXPECT_TRUE(t.n1.io.requests.empty()) << "in order: applied without a read";
  EXPECT_EQ(t.b.receive(t.n1.io)[FrameKind::kDeliver], 1);
  EXPECT_EQ(t.b.replica->text(), U"x");
  EXPECT_EQ(t.n1.node->applied(0), 1u);
}

TEST(Node, AMissedBusRecordIsCaughtUpFromTheLog) {
  TwoNodes t(NodeConfig::Propagation::kBus, "lww");
  t.a.type(*t.n0.node, 0, U"x");
  t.n0.play_store(t.store);
  t.a.receive(t.n0.io);
  t.a.type(*t.n0.node, 1, U"y");
  t.n0.play_store(t.store);
  ASSERT_EQ(t.store.published.size(), 2u);
  // The bus loses record 1; record 2 shows the gap.
  t.n1.node->on_bus(0, t.store.published[1].second);
  EXPECT_TRUE(t.n1.io.frames.empty()) << "record 2 waits for record 1";
  ASSERT_EQ(t.n1.io.requests.size(), 1u);
  EXPECT_EQ(t.n1.io.requests.front().kind, StoreRequest::Kind::kReadLog);
  EXPECT_EQ(t.n1.io.requests.front().after, 0u);
  EXPECT_EQ(t.n1.io.requests.front().purpose, std::string("catchup"));
  t.n1.play_store(t.store);
  EXPECT_EQ(t.b.receive(t.n1.io)[FrameKind::kDeliver], 2);
  EXPECT_EQ(t.b.replica->text(), U"xy");
  EXPECT_EQ(t.n1.node->applied(0), 2u);
}

TEST(Node, AnEditOfASingleWriterDocumentIsForwardedToItsHome) {
  // ot: doc 0's home is node 0; the client is on node 1.
  TwoNodes t(NodeConfig::Propagation::kBus, "ot");
  t.b.type(*t.n1.node, 0, U"z");
  EXPECT_TRUE(t.n1.io.requests.empty()) << "node 1 does not write doc 0";
  ASSERT_EQ(t.n1.io.messages.size(), 1u);
  auto [to, forward] = t.n1.io.messages[0];
  EXPECT_EQ(to, 0u);
  EXPECT_EQ(forward.kind, NodeMessage::Kind::kForwardEdit);
  t.n0.node->on_node(forward);
  ASSERT_EQ(t.n0.io.requests.size(), 1u);
  EXPECT_EQ(t.n0.io.requests.front().expect_first_index, 1u) << "the home predicts the index";
  EXPECT_TRUE(t.n0.io.messages.empty()) << "the reply waits for the commit";
  EXPECT_EQ(t.a.receive(t.n0.io)[FrameKind::kDeliver], 1) << "the home's clients see it at once";
  t.n0.play_store(t.store);
  ASSERT_EQ(t.n0.io.messages.size(), 1u);
  const NodeMessage reply = t.n0.io.messages[0].second;
  EXPECT_EQ(reply.kind, NodeMessage::Kind::kForwardReply);
  EXPECT_EQ(reply.after_index, 1u);
  // The reply arrives before the bus record: held until node 1 has the record, which it reads.
  t.n1.node->on_node(reply);
  EXPECT_TRUE(t.n1.io.frames.empty());
  ASSERT_EQ(t.n1.io.requests.size(), 1u);
  EXPECT_EQ(t.n1.io.requests.front().purpose, std::string("catchup"));
  t.n1.play_store(t.store);
  EXPECT_EQ(t.b.receive(t.n1.io)[FrameKind::kDeliver], 1) << "the acknowledgement, in the record's place";
  EXPECT_TRUE(t.b.replica->synced());
  EXPECT_EQ(t.b.replica->text(), U"z");
  EXPECT_EQ(t.n1.io.acks.size(), 1u);
}

TEST(Node, AForwardedEditTheHomeRefusesIsRefusedAtTheForwarder) {
  // ot: doc 0's home is node 0; node 1 lets a client have one forwarded edit unanswered.
  NodeConfig base;
  base.forwards_max = 1;
  TwoNodes t(NodeConfig::Propagation::kBus, "ot", 0, base);
  const Bytes bad = frame_bytes(FrameKind::kEdit, 0, Bytes{0xff, 0xff, 0xff});
  // What the home's own client gets for this edit: a refusal.
  t.n0.node->on_frame(t.a.conn, bad);
  const auto local = t.n0.io.take_frames(t.a.conn);
  ASSERT_EQ(local.size(), 1u);
  ASSERT_EQ(local[0].kind, FrameKind::kRefused);
  // Node 1's client sends it: forwarded, and the home refuses it.
  t.n1.node->on_frame(t.b.conn, bad);
  ASSERT_EQ(t.n1.io.messages.size(), 1u);
  t.n0.node->on_node(t.n1.io.messages[0].second);
  EXPECT_TRUE(t.n0.io.requests.empty()) << "nothing applied, nothing to append";
  ASSERT_EQ(t.n0.io.messages.size(), 1u) << "the forwarding node is answered";
  const NodeMessage answer = t.n0.io.messages[0].second;
  EXPECT_EQ(answer.kind, NodeMessage::Kind::kForwardReply);
  EXPECT_TRUE(answer.replies.empty());
  t.n1.node->on_node(answer);
  const auto frames = t.n1.io.take_frames(t.b.conn);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].kind, FrameKind::kRefused);
  EXPECT_EQ(frames[0].text, local[0].text) << "the same refusal as at the home";
  EXPECT_TRUE(t.n1.io.closed.empty());
  // Nothing is owed to the client any more: its next edit is forwarded (forwards_max is 1) and
  // acknowledged.
  t.n1.io.messages.clear();
  t.b.type(*t.n1.node, 0, U"z");
  EXPECT_TRUE(t.n1.io.closed.empty()) << "not overloaded";
  ASSERT_EQ(t.n1.io.messages.size(), 1u);
  t.n0.node->on_node(t.n1.io.messages[0].second);
  t.n0.play_store(t.store);
  ASSERT_EQ(t.n0.io.messages.size(), 2u);
  t.n1.node->on_node(t.n0.io.messages[1].second);
  t.n1.play_store(t.store);
  EXPECT_EQ(t.b.receive(t.n1.io)[FrameKind::kDeliver], 1);
  EXPECT_TRUE(t.b.replica->synced());
}

TEST(Node, AFailedLoadInstallsNothingAndRefusesWhoeverWaits) {
  FakeStore store;
  {
    // An earlier node committed "abc".
    Rig w(one_node(), strategy("lww"));
    Client c(strategy("lww"), 9, 9, 0);
    hello(*w.node, c);
    w.play_store(store);
    c.receive(w.io);
    c.type(*w.node, 0, U"abc");
    w.play_store(store);
  }
  ASSERT_EQ(store.docs[0].log.size(), 1u);
  Rig r(one_node(), strategy("lww"));
  Client a(strategy("lww"), 1, 10, 0);
  hello(*r.node, a);
  r.node->on_http_get(HttpGet{7, 0, Token{1, INT64_MAX}, 0});
  ASSERT_EQ(r.io.requests.size(), 2u);
  // The store fails both loads (say the query's connection broke).
  r.node->on_store(store.answer(r.io.take_request(), false));
  r.node->on_store(store.answer(r.io.take_request(), false));
  EXPECT_EQ(r.node->text(0), std::nullopt) << "the document stays unloaded";
  EXPECT_TRUE(r.node->loaded_docs().empty());
  EXPECT_TRUE(a.receive(r.io).empty()) << "no welcome of an empty document";
  ASSERT_EQ(r.io.closed.size(), 1u);
  EXPECT_EQ(r.io.closed[0].first, a.conn);
  EXPECT_NE(r.io.closed[0].second.find("cannot be loaded"), std::string::npos) << r.io.closed[0].second;
  ASSERT_EQ(r.io.responses.size(), 1u);
  EXPECT_EQ(r.io.responses[0].status, 503);
  EXPECT_TRUE(r.io.responses[0].body.empty());
  EXPECT_TRUE(r.io.responses[0].no_store);
  EXPECT_EQ(r.io.errors.size(), 2u) << "the operator hears of both";
  // The client comes back; this time the store answers.
  Client again(strategy("lww"), 2, 11, 0);
  hello(*r.node, again);
  r.play_store(store);
  EXPECT_EQ(again.receive(r.io)[FrameKind::kWelcome], 1);
  EXPECT_EQ(again.replica->text(), U"abc");
}

// An API read of a past version (HttpGet::as_of, the simulator's ?version=N): replayed from the
// change log up to N on the primary, never cached; past the log, a 404.
TEST(Node, AnApiReadOfAPastVersionIsTheLogReplayedUpToIt) {
  FakeStore store;
  NodeConfig cfg = one_node();
  cfg.api_read = NodeConfig::ApiRead::kReplica;  // a version is read from the primary anyway
  cfg.api_cache = NodeConfig::ApiCache::kPublic;
  Rig r(cfg, strategy("crdt"));
  Client c(strategy("crdt"), 9, 9, 0);
  hello(*r.node, c);
  r.play_store(store);
  c.receive(r.io);
  // Versions 1, 2, 3: "a", "ab", "abc".
  const std::u32string typed = U"abc";
  for (std::size_t i = 0; i < typed.size(); r.play_store(store), ++i) c.type(*r.node, i, typed.substr(i, 1));
  ASSERT_EQ(store.docs[0].log.size(), 3u);
  HttpGet past{7, 0, Token{1, INT64_MAX}, 0};
  past.as_of = 2;
  r.node->on_http_get(past);
  ASSERT_EQ(r.io.requests.size(), 1u);
  EXPECT_FALSE(r.io.requests.front().replica);
  EXPECT_EQ(r.io.requests.front().upto, 2u);
  r.play_store(store);
  ASSERT_EQ(r.io.responses.size(), 1u);
  const HttpResponse& got = r.io.responses[0];
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.version, 2u);
  EXPECT_EQ(got.latest, 3u);
  EXPECT_STREQ(got.source, "version");
  EXPECT_TRUE(got.no_store) << "a past version is never cached under the document's URL";
  auto page = strategy("crdt").make_client(20);
  ASSERT_TRUE(page->receive(got.body).has_value());
  EXPECT_EQ(page->text(), U"ab");
  HttpGet beyond{8, 0, Token{1, INT64_MAX}, 0};
  beyond.as_of = 9;
  r.node->on_http_get(beyond);
  r.play_store(store);
  ASSERT_EQ(r.io.responses.size(), 2u);
  EXPECT_EQ(r.io.responses[1].status, 404);
  EXPECT_NE(r.io.responses[1].why.find("its log has 3 records"), std::string::npos) << r.io.responses[1].why;
}

TEST(Node, AForwardedEditWaitingForAFailedLoadIsRefused) {
  FakeStore store;
  NodeConfig cfg = node_of_two(0, NodeConfig::Propagation::kBus);  // doc 0's home
  Rig home(cfg, strategy("ot"));
  const Bytes edit = strategy("ot").make_client(11)->local_edit(Splice{0, 0, U"x"}, 1000).at(0);
  home.node->on_node(forward_edit(1, 5, 11, 0, edit));  // from node 1's connection 5
  ASSERT_EQ(home.io.requests.size(), 1u);
  EXPECT_EQ(home.io.requests.front().kind, StoreRequest::Kind::kLoad);
  home.node->on_store(store.answer(home.io.take_request(), false));
  EXPECT_EQ(home.node->text(0), std::nullopt);
  EXPECT_TRUE(home.io.requests.empty()) << "nothing applied to a document never loaded";
  ASSERT_EQ(home.io.messages.size(), 1u) << "the forwarding node is answered";
  EXPECT_EQ(home.io.messages[0].first, 1u);
  EXPECT_EQ(home.io.messages[0].second.kind, NodeMessage::Kind::kForwardReply);
  EXPECT_EQ(home.io.messages[0].second.conn, 5u);
  EXPECT_TRUE(home.io.messages[0].second.replies.empty());
}

TEST(Node, ARestartedNodeReplaysTheStoredLog) {
  FakeStore store;
  NodeConfig cfg = one_node();
  cfg.snapshot_every_changes = 2;  // a snapshot after two, then one more record after it
  {
    Rig r(cfg, strategy("crdt"));
    Client a(strategy("crdt"), 1, 10, 0);
    hello(*r.node, a);
    r.play_store(store);
    a.receive(r.io);
    for (const char32_t* s : {U"a", U"b", U"c"}) {
      a.type(*r.node, a.replica->length(), s);
      r.play_store(store);
      a.receive(r.io);
    }
    ASSERT_TRUE(store.docs[0].has_snapshot);
    EXPECT_EQ(store.docs[0].snapshot_index, 2u);
    EXPECT_EQ(store.docs[0].log.size(), 3u);
  }  // crash: the node and everything it had in memory are gone
  Rig r(cfg, strategy("crdt"));
  Client b(strategy("crdt"), 2, 11, 0);
  hello(*r.node, b);
  r.play_store(store);
  EXPECT_EQ(b.receive(r.io)[FrameKind::kWelcome], 1);
  EXPECT_EQ(b.replica->text(), U"abc");
  EXPECT_EQ(r.node->applied(0), 3u);
  EXPECT_EQ(r.io.changes.back(), NodeIo::ReplicaChange::kLoaded);
}

TEST(Node, EditsOverTheRateLimitAreRefusedAtTheDoor) {
  FakeStore store;
  NodeConfig cfg = one_node();
  cfg.ack = NodeConfig::Ack::kImmediate;
  cfg.rate_limit_per_s = 1;
  cfg.rate_burst = 2;
  Rig r(cfg, strategy("lww"));
  Client a(strategy("lww"), 1, 10, 0);
  hello(*r.node, a);
  r.play_store(store);
  a.receive(r.io);
  const Bytes edit = frame_bytes(FrameKind::kEdit, 0, a.replica->local_edit(Splice{0, 0, U"q"}, 1000).at(0));
  EXPECT_TRUE(r.node->admit(a.conn, frame_bytes(FrameKind::kHello, 0))) << "only edits are counted";
  EXPECT_TRUE(r.node->admit(a.conn, edit));
  EXPECT_TRUE(r.node->admit(a.conn, edit));
  EXPECT_FALSE(r.node->admit(a.conn, edit)) << "the burst is spent";
  auto frames = r.io.take_frames(a.conn);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].kind, FrameKind::kRefused);
  EXPECT_EQ(frames[0].text.rfind("rate limited", 0), 0u) << frames[0].text;
  r.io.clock_ms += 1000;
  EXPECT_TRUE(r.node->admit(a.conn, edit)) << "a second refills one token";
  r.io.clock_ms -= 60000;
  EXPECT_FALSE(r.node->admit(a.conn, edit)) << "a clock that jumped back refills nothing";
}

TEST(Node, ARevokedUserIsClosedAndRefused) {
  FakeStore store;
  Rig r(one_node(), strategy("lww"));
  Client a(strategy("lww"), 1, 10, 0);
  hello(*r.node, a, 5);
  r.play_store(store);
  a.receive(r.io);
  r.node->on_revoke(5);
  ASSERT_EQ(r.io.closed.size(), 1u);
  EXPECT_EQ(r.io.closed[0], (std::pair<ConnId, std::string>{a.conn, "token revoked"}));
  EXPECT_FALSE(r.node->serving(0));
  r.node->on_connect(2, 11, Token{5, INT64_MAX});
  EXPECT_EQ(r.io.closed.back(), (std::pair<ConnId, std::string>{2, "token revoked"}));
  r.node->on_http_get(HttpGet{7, 0, Token{5, INT64_MAX}, 0});
  ASSERT_EQ(r.io.responses.size(), 1u);
  EXPECT_EQ(r.io.responses[0].status, 403);
  r.node->on_http_get(HttpGet{8, 0, Token{6, 0}, 0});
  EXPECT_EQ(r.io.responses.back().status, 401) << "expired";
}

TEST(Node, WithoutRevocationChecksARevokedTokenStaysGood) {
  FakeStore store;
  NodeConfig cfg = one_node();
  cfg.check_revocation = false;
  Rig r(cfg, strategy("lww"));
  Client a(strategy("lww"), 1, 10, 0);
  hello(*r.node, a, 5);
  r.play_store(store);
  a.receive(r.io);
  r.node->on_revoke(5);
  EXPECT_TRUE(r.io.closed.empty());
  EXPECT_TRUE(r.node->serving(0));
}

}  // namespace
}  // namespace convlab::node_test
