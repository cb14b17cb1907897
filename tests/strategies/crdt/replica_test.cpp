// The crdt strategy's replicas: client -> server -> other clients, acknowledgements, welcome,
// snapshot / restore, records, and convergence of concurrent edits through one server.
#include "server/strategies/crdt/crdt.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace convlab {
namespace {

struct World {
  const Strategy& s = crdt_strategy();
  std::unique_ptr<ServerReplica> server = s.make_server();
  std::vector<std::unique_ptr<ClientReplica>> clients;
  std::vector<Bytes> log;

  explicit World(int n) {
    for (int i = 0; i < n; ++i) {
      clients.push_back(s.make_client(static_cast<AgentId>(i)));
      EXPECT_TRUE(clients.back()->receive(server->welcome()));
    }
  }

  // Delivers client c's messages to the server and fans out the results at once.
  void send(std::size_t c, const std::vector<Bytes>& msgs) {
    for (const Bytes& m : msgs) {
      auto out = server->receive(clients[c]->agent(), m, 0);
      ASSERT_TRUE(out) << out.error().message;
      for (const Bytes& x : out->to_sender) ASSERT_TRUE(clients[c]->receive(x));
      for (std::size_t o = 0; o < clients.size(); ++o) {
        if (o == c) continue;
        for (const Bytes& x : out->broadcast) ASSERT_TRUE(clients[o]->receive(x));
      }
      for (const Bytes& r : out->records) log.push_back(r);
    }
  }
};

TEST(CrdtReplicas, EditsReachEveryClientAndAreAcknowledged) {
  World w(3);
  EXPECT_EQ(w.s.name, "crdt");
  EXPECT_TRUE(w.s.multi_master);
  const auto msgs = w.clients[0]->local_edit(Splice{0, 0, U"hello"}, 1);
  ASSERT_EQ(msgs.size(), 1u);  // one splice, one op
  EXPECT_FALSE(w.clients[0]->synced());
  w.send(0, msgs);
  EXPECT_TRUE(w.clients[0]->synced());
  w.send(1, w.clients[1]->local_edit(Splice{1, 3, U"ipp"}, 2));
  for (const auto& c : w.clients) {
    EXPECT_TRUE(c->text() == U"hippo");
    EXPECT_EQ(c->char_ids(), w.server->char_ids());
  }
  const std::vector<CharId> ids = w.server->char_ids();
  ASSERT_EQ(ids.size(), 5u);
  EXPECT_EQ(ids[0], (CharId{0, 0}));
  EXPECT_EQ(ids[1], (CharId{1, 0}));
  EXPECT_EQ(ids[4], (CharId{0, 4}));
  EXPECT_EQ(w.server->version(), 3u);  // insert, delete, insert
  EXPECT_EQ(w.log.size(), 3u);
}

TEST(CrdtReplicas, ConcurrentEditsThroughTheServerConverge) {
  World w(2);
  w.send(0, w.clients[0]->local_edit(Splice{0, 0, U"ac"}, 0));
  // Both edit before either hears of the other: the server relays in its own order.
  const auto m0 = w.clients[0]->local_edit(Splice{1, 0, U"X"}, 0);
  const auto m1 = w.clients[1]->local_edit(Splice{1, 0, U"Y"}, 0);
  const auto d1 = w.clients[1]->local_edit(Splice{0, 1, U""}, 0);
  w.send(1, m1);
  w.send(0, m0);
  w.send(1, d1);
  EXPECT_TRUE(w.server->text() == U"XYc");
  for (const auto& c : w.clients) {
    EXPECT_TRUE(c->text() == w.server->text());
    EXPECT_EQ(c->char_ids(), w.server->char_ids());
    EXPECT_TRUE(c->synced());
  }
}

TEST(CrdtReplicas, WelcomeSnapshotAndRecordsRebuildTheSameDocument) {
  World w(1);
  w.send(0, w.clients[0]->local_edit(Splice{0, 0, U"abcdef"}, 0));
  const Bytes snap = w.server->snapshot();
  const std::size_t log_at_snapshot = w.log.size();
  w.send(0, w.clients[0]->local_edit(Splice{2, 2, U"XY"}, 0));
  w.send(0, w.clients[0]->local_edit(Splice{0, 1, U""}, 0));

  // A fresh client from the welcome sees text, ids and tombstones.
  auto late = w.s.make_client(7);
  ASSERT_TRUE(late->receive(w.server->welcome()));
  EXPECT_TRUE(late->text() == w.server->text());
  EXPECT_EQ(late->char_ids(), w.server->char_ids());

  // Recovery: snapshot plus the log tail; replaying the whole log again is harmless.
  auto other = w.s.make_server();
  ASSERT_TRUE(other->restore(snap));
  for (std::size_t i = log_at_snapshot; i < w.log.size(); ++i) ASSERT_TRUE(other->apply_record(w.log[i]));
  for (const Bytes& r : w.log) ASSERT_TRUE(other->apply_record(r));
  EXPECT_TRUE(other->text() == w.server->text());
  EXPECT_EQ(other->char_ids(), w.server->char_ids());
  EXPECT_EQ(other->version(), w.server->version());

  // A record whose dependencies are missing is refused.
  auto empty = w.s.make_server();
  EXPECT_FALSE(empty->apply_record(w.log.back()));
  EXPECT_FALSE(empty->restore(w.log.back()));  // not a snapshot
}

TEST(CrdtReplicas, RemoteRecordsFromAnotherServerReachLocalClients) {
  World a(1);
  World b(1);
  a.send(0, a.clients[0]->local_edit(Splice{0, 0, U"hi"}, 0));
  for (const Bytes& r : a.log) {
    auto out = b.server->apply_remote_record(r);
    ASSERT_TRUE(out) << out.error().message;
    ASSERT_EQ(out->size(), 1u);
    for (const Bytes& m : *out) ASSERT_TRUE(b.clients[0]->receive(m));
    // The same record again changes nothing and sends nothing.
    auto again = b.server->apply_remote_record(r);
    ASSERT_TRUE(again);
    EXPECT_TRUE(again->empty());
  }
  EXPECT_TRUE(b.clients[0]->text() == U"hi");
  EXPECT_EQ(b.clients[0]->char_ids(), a.server->char_ids());
}

TEST(CrdtReplicas, AReconnectingClientDoesNotReuseItsIds) {
  World w(1);
  w.send(0, w.clients[0]->local_edit(Splice{0, 0, U"abc"}, 0));
  auto again = w.s.make_client(0);  // same agent, fresh process
  ASSERT_TRUE(again->receive(w.server->welcome()));
  const auto msgs = again->local_edit(Splice{3, 0, U"d"}, 0);
  for (const Bytes& m : msgs) ASSERT_TRUE(w.server->receive(0, m, 0));
  const auto ids = w.server->char_ids();
  ASSERT_EQ(ids.size(), 4u);
  EXPECT_EQ(ids[3], (CharId{0, 3}));
  EXPECT_TRUE(w.server->text() == U"abcd");
}

TEST(CrdtReplicas, MessagesThatDoNotFitAreRefused) {
  World w(2);
  // An ack with nothing in flight; a client message sent to a client; a welcome to the server.
  Bytes ack{3, 1};
  EXPECT_FALSE(w.clients[0]->receive(ack));
  EXPECT_FALSE(w.server->receive(0, ack, 0));
  EXPECT_FALSE(w.server->receive(0, w.server->welcome(), 0));
  // An op that depends on characters the server never saw.
  auto stray = w.s.make_client(5);
  stray->local_edit(Splice{0, 0, U"ab"}, 0);
  const auto msgs = stray->local_edit(Splice{1, 0, U"x"}, 0);
  EXPECT_FALSE(w.server->receive(5, msgs[0], 0));
  EXPECT_TRUE(w.server->text().empty());
  EXPECT_EQ(w.server->version(), 0u);
}

}  // namespace
}  // namespace convlab
