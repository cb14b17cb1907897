// The node under `home: lease` (server/core/home_lease.hpp), alone: a single-writer document's
// home is the holder of its lease in the store (the FakeStore runs the LeaseRegister on a clock
// the test moves). The first node to load a document holds it; when the holder stops renewing,
// a node serving the document claims it after the lease, drops its sessions (their clients load
// it again, now at the home), and commits under the new epoch; a deposed home's append is fenced
// and it drops the document; a forward to a node that is no longer the home starts the
// forwarder's sessions over.
#include "server/core/node.hpp"
#include "tests/core/node_rig.hpp"
#include "tests/core/scripted_io.hpp"

#include <gtest/gtest.h>

namespace convlab::node_test {
namespace {

constexpr std::int64_t kLease = 2000;

NodeConfig leased(NodeId id) {
  NodeConfig c;
  c.id = id;
  c.nodes = 2;
  c.home = NodeConfig::Home::kLease;
  c.lease_ms = kLease;
  return c;
}

// The lease timer's id, from the timers the node started (the one every lease_ms / 4).
std::uint64_t lease_timer(const ScriptedIo& io) {
  for (const auto& [delay, id] : io.timers) {
    if (delay == kLease / 4) return id;
  }
  ADD_FAILURE() << "no lease timer";
  return 0;
}

// ot on two leased nodes; `a` on node 1 loads doc 0 first (node 1 holds its lease), then `b` on
// node 0 (which forwards to node 1).
struct LeasedPair {
  FakeStore store;
  Rig n0{leased(0), strategy("ot")};
  Rig n1{leased(1), strategy("ot")};
  Client a{strategy("ot"), 1, 10, 0};  // on node 1
  Client b{strategy("ot"), 2, 11, 0};  // on node 0
  LeasedPair() {
    n0.node->start();
    n1.node->start();
    n0.play_store(store);
    n1.play_store(store);
    hello(*n1.node, a);
    n1.play_store(store);
    a.receive(n1.io);
    hello(*n0.node, b);
    n0.play_store(store);
    b.receive(n0.io);
  }
};

TEST(NodeLease, TheFirstLoaderIsTheHomeAndOthersForwardToIt) {
  LeasedPair t;
  EXPECT_TRUE(t.a.replica->synced());
  EXPECT_TRUE(t.b.replica->synced());
  EXPECT_EQ(t.n1.node->home_of(0), 1u);
  EXPECT_EQ(t.n0.node->home_of(0), 1u) << "not doc % nodes (0): the lease's holder";
  t.b.type(*t.n0.node, 0, U"z");
  ASSERT_EQ(t.n0.io.messages.size(), 1u);
  EXPECT_EQ(t.n0.io.messages[0].first, 1u);
  t.n1.node->on_node(t.n0.io.messages[0].second);
  ASSERT_EQ(t.n1.io.requests.size(), 1u);
  EXPECT_EQ(t.n1.io.requests.front().lease_epoch, 1u) << "the append names the lease it is fenced by";
  t.n1.play_store(t.store);
  EXPECT_EQ(t.store.docs[0].log.size(), 1u);
}

TEST(NodeLease, ALiveNodeTakesOverADeadHomesDocumentAfterTheLease) {
  LeasedPair t;
  t.n1.node.reset();  // killed: nothing renews its lease
  t.n0.io.requests.clear();
  const std::uint64_t timer = lease_timer(t.n0.io);
  // Before the lease ends, node 0 renews and asks, and the lease stays with node 1.
  t.store.clock_ms = kLease - 1;
  t.n0.node->on_timer(timer);
  t.n0.play_store(t.store);
  EXPECT_TRUE(t.n0.io.closed.empty());
  EXPECT_EQ(t.n0.node->home_of(0), 1u);
  // At its end the next request claims it: node 0 drops the document and its client's session.
  t.store.clock_ms = kLease;
  t.n0.node->on_timer(timer);
  t.n0.play_store(t.store);
  ASSERT_EQ(t.n0.io.closed.size(), 1u);
  EXPECT_EQ(t.n0.io.closed[0].first, t.b.conn);
  EXPECT_EQ(t.n0.io.closed[0].second, "the document's home moved to node 0");
  // The client comes back: the document loads at its new home and edits commit there.
  Client b2(strategy("ot"), 3, 12, 0);
  hello(*t.n0.node, b2);
  t.n0.play_store(t.store);
  b2.receive(t.n0.io);
  EXPECT_EQ(t.n0.node->home_of(0), 0u);
  b2.type(*t.n0.node, 0, U"y");
  EXPECT_TRUE(t.n0.io.messages.empty()) << "not forwarded: node 0 is the home";
  ASSERT_EQ(t.n0.io.requests.size(), 1u);
  EXPECT_EQ(t.n0.io.requests.front().lease_epoch, 2u);
  t.n0.play_store(t.store);
  EXPECT_EQ(t.store.docs[0].log.size(), 1u);
  EXPECT_EQ(b2.receive(t.n0.io)[FrameKind::kDeliver], 1) << "acknowledged";
  EXPECT_TRUE(b2.replica->synced());
}

TEST(NodeLease, ADeposedHomesAppendIsFencedAndItDropsTheDocument) {
  LeasedPair t;
  // Node 1 is cut off from the store for a lease; node 0 claims the document meanwhile.
  t.store.clock_ms = kLease;
  t.n0.node->on_timer(lease_timer(t.n0.io));
  t.n0.play_store(t.store);
  ASSERT_EQ(t.n0.node->home_of(0), 0u) << "node 0 holds it now";
  // Node 1 has heard nothing: it still applies its client's edit as the home, but the store
  // refuses the append of the old epoch; nothing is acknowledged and node 1 starts over.
  t.n1.io.requests.clear();
  t.a.type(*t.n1.node, 0, U"x");
  ASSERT_EQ(t.n1.io.requests.size(), 1u);
  EXPECT_EQ(t.n1.io.requests.front().lease_epoch, 1u);
  t.n1.play_store(t.store);
  EXPECT_TRUE(t.store.docs[0].log.empty()) << "two homes never both commit";
  ASSERT_EQ(t.n1.io.closed.size(), 1u);
  EXPECT_EQ(t.n1.io.closed[0].first, t.a.conn);
  EXPECT_EQ(t.a.receive(t.n1.io)[FrameKind::kDeliver], 0) << "no acknowledgement";
  // Its client comes back and is served through the new home.
  Client a2(strategy("ot"), 4, 13, 0);
  hello(*t.n1.node, a2);
  t.n1.play_store(t.store);
  EXPECT_EQ(t.n1.node->home_of(0), 0u);
}

TEST(NodeLease, AForwardToANodeThatIsNoLongerTheHomeStartsTheForwarderOver) {
  LeasedPair t;
  // Node 0 takes the document over from node 1.
  t.store.clock_ms = kLease;
  t.n0.node->on_timer(lease_timer(t.n0.io));
  t.n0.play_store(t.store);
  // Node 1 reads the leases too: the document moved, it drops it.
  t.n1.node->on_timer(lease_timer(t.n1.io));
  t.n1.play_store(t.store);
  EXPECT_FALSE(t.n1.io.closed.empty());
  t.n1.io.messages.clear();
  // A forward from a node that still believed node 1 was the home.
  Client c(strategy("ot"), 5, 14, 0);
  auto edits = c.replica->local_edit(Splice{0, 0, U"q"}, 1000);
  ASSERT_EQ(edits.size(), 1u);
  t.n1.node->on_node(forward_edit(0, 77, 14, 0, edits[0]));
  t.n1.play_store(t.store);
  ASSERT_EQ(t.n1.io.messages.size(), 1u);
  EXPECT_EQ(t.n1.io.messages[0].first, 0u);
  EXPECT_EQ(t.n1.io.messages[0].second.kind, NodeMessage::Kind::kDocReset);
  EXPECT_TRUE(t.store.docs[0].log.empty());
}

TEST(NodeLease, MultiMasterStrategiesAndOneNodeReadNoLeases) {
  for (const char* s : {"lww", "crdt"}) {
    Rig r(leased(0), strategy(s));
    r.node->start();
    EXPECT_TRUE(r.io.requests.empty()) << s;
    EXPECT_EQ(r.node->home_of(3), 0u);
  }
  NodeConfig one = leased(0);
  one.nodes = 1;
  Rig r(one, strategy("ot"));
  r.node->start();
  EXPECT_TRUE(r.io.requests.empty());
}

}  // namespace
}  // namespace convlab::node_test
