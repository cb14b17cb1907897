// workload/observed: the observed-client recorder the simulator and the load client share. Real
// crdt replicas around one crdt server replica; frames are carried by hand, times passed in.
#include "workload/observed.hpp"

#include "server/core/strategy.hpp"
#include "server/strategies/registry.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace convlab::workload {
namespace {

using history::EventType;

// A crdt replica seen through the ClientReplica defaults: no index, so the recorder scans the
// document (the path of strategies without one).
class Unindexed : public ClientReplica {
 public:
  explicit Unindexed(std::unique_ptr<ClientReplica> r) : r_(std::move(r)) {}
  AgentId agent() const override { return r_->agent(); }
  std::vector<Bytes> local_edit(const Splice& e, std::int64_t clock_ms) override { return r_->local_edit(e, clock_ms); }
  Result<std::vector<Bytes>> receive(std::span<const std::uint8_t> msg) override { return r_->receive(msg); }
  std::u32string text() const override { return r_->text(); }
  std::size_t length() const override { return r_->length(); }
  std::vector<CharId> char_ids() const override { return r_->char_ids(); }
  bool synced() const override { return r_->synced(); }

 private:
  std::unique_ptr<ClientReplica> r_;
};

struct Person {
  std::uint32_t id = 0;
  AgentId agent = 0;
  std::unique_ptr<ClientReplica> replica;
  ObservedClient obs;
  std::size_t heard = 0;  // broadcasts delivered to it (or covered by its last welcome)
};

// One document on one crdt server replica; `scan`: the clients' replicas have no id index.
class World {
 public:
  explicit World(bool scan) : scan_(scan) {
    strategy_ = find_strategy("crdt");
    EXPECT_NE(strategy_, nullptr);
    server_ = strategy_->make_server();
    log_.set_docs(1);
  }

  Person join(std::uint32_t id) {
    Person p;
    p.id = id;
    p.agent = 100 + id;
    p.obs = ObservedClient(id, 0);
    fresh_replica(p);
    return p;
  }
  void fresh_replica(Person& p) {
    p.agent += 10;  // a new replica writes as a new agent
    p.replica = strategy_->make_client(p.agent);
    if (scan_) p.replica = std::make_unique<Unindexed>(std::move(p.replica));
  }
  ServerReplica& server() { return *server_; }
  std::unique_ptr<ServerReplica> new_server() const { return strategy_->make_server(); }
  EditLog& log() { return log_; }

  // p edits at `now_us` and the server takes it; the server's replies to p are returned
  // (undelivered), its broadcast is kept for deliver().
  std::vector<Bytes> edit(Person& p, const Splice& sp, std::int64_t now_us, ServerReplica* also = nullptr) {
    MadeEdit m = p.obs.edit(log_, *p.replica, sp, 0, now_us / 1000, 0, now_us);
    edits_.push_back(std::move(m.event));
    std::vector<Bytes> replies;
    for (const Bytes& msg : m.msgs) {
      auto out = server_->receive(p.agent, msg, 0);
      EXPECT_TRUE(out.has_value());
      if (also) {
        EXPECT_TRUE(also->receive(p.agent, msg, 0).has_value());
      }
      for (Bytes& b : out->to_sender) replies.push_back(std::move(b));
      for (Bytes& b : out->broadcast) broadcast_.push_back(std::move(b));
    }
    return replies;
  }
  // The broadcasts p has not heard reach it (one message each), then p notes what it shows.
  std::vector<Observed> deliver(Person& p) {
    for (; p.heard < broadcast_.size(); ++p.heard) EXPECT_TRUE(p.replica->receive(broadcast_[p.heard]).has_value());
    return seen(p);
  }
  // p gets a welcome from `from` (the server by default) on its current replica.
  std::vector<Observed> welcome(Person& p, const ServerReplica* from = nullptr) {
    EXPECT_TRUE(p.replica->receive((from ? *from : *server_).welcome()).has_value());
    p.heard = broadcast_.size();
    return seen(p);
  }
  std::vector<Observed> seen(Person& p) {
    std::vector<Observed> out;
    p.obs.note_seen(log_, *p.replica, 0, out);
    return out;
  }
  const std::vector<history::Event>& edit_events() const { return edits_; }

 private:
  bool scan_;
  const Strategy* strategy_ = nullptr;
  std::unique_ptr<ServerReplica> server_;
  EditLog log_;
  std::vector<Bytes> broadcast_;
  std::vector<history::Event> edits_;
};

// (author, op, made_us) of each `seen` in `out`, in order; fails on any other event.
std::vector<std::tuple<std::uint32_t, std::uint32_t, std::int64_t>> seen_list(const std::vector<Observed>& out,
                                                                              std::uint32_t viewer) {
  std::vector<std::tuple<std::uint32_t, std::uint32_t, std::int64_t>> v;
  for (const Observed& o : out) {
    EXPECT_EQ(o.event.type, EventType::kSeen);
    EXPECT_EQ(o.event.client, viewer);
    v.emplace_back(o.event.author, o.event.op, o.made_us);
  }
  return v;
}
using Seen = std::vector<std::tuple<std::uint32_t, std::uint32_t, std::int64_t>>;

TEST(Observed, EditEventsThenAcksInOrderOnceEach) {
  World w(false);
  Person a = w.join(3);
  EXPECT_TRUE(w.welcome(a).empty());
  std::vector<Bytes> replies = w.edit(a, Splice{0, 0, U"hi"}, 1000);
  for (Bytes& b : w.edit(a, Splice{1, 1, U"o"}, 2000)) replies.push_back(std::move(b));

  const std::vector<history::Event>& ev = w.edit_events();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].type, EventType::kEdit);
  EXPECT_EQ(ev[0].client, 3u);
  EXPECT_EQ(ev[0].op, 1u);
  EXPECT_EQ(ev[0].clock_ms, 1);
  EXPECT_EQ(ev[0].ins, U"hi");
  ASSERT_EQ(ev[0].inserted.size(), 1u);
  EXPECT_EQ(ev[0].inserted[0].count, 2u);
  EXPECT_TRUE(ev[0].deleted.empty());
  EXPECT_EQ(ev[1].op, 2u);
  EXPECT_EQ(ev[1].pos, 1u);
  EXPECT_EQ(ev[1].del, 1u);
  ASSERT_EQ(ev[1].deleted.size(), 1u);  // the "i" it replaced
  EXPECT_EQ(ev[1].deleted[0].agent, a.agent);
  EXPECT_EQ(ev[1].deleted[0].seq, ev[0].inserted[0].seq + 1);

  // Nothing is acknowledged while the replica waits for the server.
  std::vector<Observed> acks;
  EXPECT_FALSE(a.obs.synced(*a.replica, 0, acks));
  EXPECT_TRUE(acks.empty());
  EXPECT_EQ(a.obs.pending(), 2u);
  for (const Bytes& b : replies) ASSERT_TRUE(a.replica->receive(b).has_value());
  EXPECT_TRUE(a.obs.synced(*a.replica, 0, acks));
  ASSERT_EQ(acks.size(), 2u);
  for (std::uint32_t i = 0; i < 2; ++i) {
    EXPECT_EQ(acks[i].event.type, EventType::kAck);
    EXPECT_EQ(acks[i].event.client, 3u);
    EXPECT_EQ(acks[i].event.op, i + 1);
    EXPECT_EQ(acks[i].made_us, static_cast<std::int64_t>(i + 1) * 1000);
  }
  acks.clear();
  EXPECT_TRUE(a.obs.synced(*a.replica, 0, acks));  // each op once
  EXPECT_TRUE(acks.empty());
  EXPECT_EQ(a.obs.acked_upto(), 2u);

  // An ack frame the world recognised: up to that op only.
  w.edit(a, Splice{0, 0, U"x"}, 3000);
  w.edit(a, Splice{0, 0, U"y"}, 4000);
  a.obs.acked_through(3, 0, acks);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].event.op, 3u);
  EXPECT_EQ(acks[0].made_us, 3000);
  acks.clear();
  a.obs.acked_through(3, 0, acks);
  EXPECT_TRUE(acks.empty());
  // The connection drops: op 4 is abandoned, never acknowledged.
  EXPECT_EQ(a.obs.new_replica(), 1u);
  EXPECT_EQ(a.obs.pending(), 0u);
  EXPECT_EQ(a.obs.acked_upto(), 4u);
  w.fresh_replica(a);
  EXPECT_TRUE(a.obs.synced(*a.replica, 0, acks));
  EXPECT_TRUE(acks.empty());
}

// Two observed clients (0 and 1, agents 100 and 101) of one paragraph strategy's server.
struct TwoWriters {
  explicit TwoWriters(const char* name) : s(find_strategy(name)) {
    server = s->make_server();
    log.set_docs(1);
    ra = s->make_client(100);
    rb = s->make_client(101);
    keep_overruled(*ra, stamps);
    keep_overruled(*rb, stamps);
  }
  // The server's answer to `msg` from `agent`, delivered to that client: its ack event.
  history::Event acked(AgentId agent, const Bytes& msg) {
    ClientReplica& r = agent == 100 ? *ra : *rb;
    ObservedClient& obs = agent == 100 ? a : b;
    auto out = server->receive(agent, msg, 5);
    EXPECT_TRUE(out.has_value() && r.receive(out->to_sender.at(0)).has_value());
    obs.note_accepted(r, stamps);
    std::vector<Observed> acks;
    EXPECT_TRUE(obs.synced(r, 0, acks));
    EXPECT_EQ(acks.size(), 1u);
    return acks.empty() ? history::Event{} : acks[0].event;
  }
  const Strategy* s;
  std::unique_ptr<ServerReplica> server;
  WriteStamps stamps;
  EditLog log;
  std::unique_ptr<ClientReplica> ra, rb;
  ObservedClient a{0, 0}, b{1, 0};
};

// Paragraph strategies number every write they accept: each `ack` carries the number its server
// gave the edit's last write, so a checker knows the order the home applied edits in where nobody
// showed them. A's edit, made first but held back, is numbered after B's. Under lww a write the
// server overruled was not accepted: its ack carries no number.
TEST(Observed, AcksOfAParagraphStrategyCarryTheServersSequenceNumber) {
  for (const char* name : {"seq", "lww"}) {
    SCOPED_TRACE(name);
    TwoWriters w(name);
    const MadeEdit ea = w.a.edit(w.log, *w.ra, Splice{0, 0, U"a"}, 0, 2000, 0, 1000, &w.stamps);
    const MadeEdit eb = w.b.edit(w.log, *w.rb, Splice{0, 0, U"b"}, 0, 1000, 0, 1100, &w.stamps);
    EXPECT_EQ(w.acked(101, eb.msgs.at(0)).seq, 1u);
    // seq: A's write replaced B's register, second. lww: A's clock (2000) beats B's (1000) too.
    const history::Event ack_a = w.acked(100, ea.msgs.at(0));
    EXPECT_EQ(ack_a.seq, 2u);
    EXPECT_NE(history::to_json_line(ack_a).find("\"seq\":2"), std::string::npos);
  }
  // lww: a write whose clock loses is overruled, not accepted: no number.
  TwoWriters w("lww");
  const MadeEdit eb = w.b.edit(w.log, *w.rb, Splice{0, 0, U"b"}, 0, 3000, 0, 1000, &w.stamps);
  const MadeEdit ea = w.a.edit(w.log, *w.ra, Splice{0, 0, U"a"}, 0, 2000, 0, 1100, &w.stamps);
  EXPECT_EQ(w.acked(101, eb.msgs.at(0)).seq, 1u);
  const history::Event ack_a = w.acked(100, ea.msgs.at(0));
  EXPECT_EQ(ack_a.seq, 0u);
  EXPECT_EQ(history::to_json_line(ack_a).find("seq"), std::string::npos);
}

// lww: a refused write's `overruled` line names what the refusal took out of that register — the
// characters the write carried that the register the server kept lacks. B showed A's "ab" and
// added "c" with a late clock; A, not having seen "c", added "d" with an earlier one. A's write
// of the paragraph carried a, b and d; the server kept B's "abc": only d went.
TEST(Observed, OverruledNamesOnlyWhatTheKeptRegisterLacks) {
  TwoWriters w("lww");
  const MadeEdit ab = w.a.edit(w.log, *w.ra, Splice{0, 0, U"ab"}, 0, 1000, 0, 1000, &w.stamps);
  auto out = w.server->receive(100, ab.msgs.at(0), 5);
  ASSERT_TRUE(out.has_value());
  ASSERT_TRUE(w.ra->receive(out->to_sender.at(0)).has_value());
  for (const Bytes& m : out->broadcast) ASSERT_TRUE(w.rb->receive(m).has_value());
  ASSERT_EQ(w.rb->text(), U"ab");
  const MadeEdit c = w.b.edit(w.log, *w.rb, Splice{2, 0, U"c"}, 0, 5000, 0, 2000, &w.stamps);
  const MadeEdit d = w.a.edit(w.log, *w.ra, Splice{2, 0, U"d"}, 0, 2000, 0, 2100, &w.stamps);
  w.acked(101, c.msgs.at(0));
  const auto refused = w.server->receive(100, d.msgs.at(0), 5);
  ASSERT_TRUE(refused.has_value());
  ASSERT_TRUE(w.ra->receive(refused->to_sender.at(0)).has_value());
  const std::vector<history::Event> lines = take_overruled(*w.ra, w.stamps, 0, 0);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].op, 2u);
  EXPECT_EQ(lines[0].writer, 1);
  EXPECT_EQ(lines[0].by_op, 1u);
  const std::vector<CharId> ids = history::expand_ids(lines[0].ids);
  ASSERT_EQ(ids.size(), 1u);  // before: a, b and d
  EXPECT_EQ(ids[0], d.inserted.at(0));
  EXPECT_EQ(w.ra->text(), U"abc");
}

class ObservedPaths : public ::testing::TestWithParam<bool> {};

// Several edits shown by one message are written in document order, not the order made; each
// (author, op) once, also across a new replica; the next edit carries what was seen.
TEST_P(ObservedPaths, SeenInDocumentOrderOnceEach) {
  World w(GetParam());
  Person a = w.join(0), b = w.join(1), c = w.join(2);
  w.edit(b, Splice{0, 0, U"bb"}, 1000);  // b op 1
  EXPECT_EQ(seen_list(w.welcome(c), 2), (Seen{{1, 1, 1000}}));
  w.edit(c, Splice{0, 0, U"cc"}, 2000);  // c op 1, before b's text: "ccbb"

  EXPECT_EQ(seen_list(w.welcome(a), 0), (Seen{{2, 1, 2000}, {1, 1, 1000}}));
  EXPECT_TRUE(w.seen(a).empty());  // nothing new

  w.edit(b, Splice{0, 0, U"B"}, 3000);  // b op 2, reaches a as a broadcast
  EXPECT_EQ(seen_list(w.deliver(a), 0), (Seen{{1, 2, 3000}}));
  EXPECT_EQ(a.replica->text(), U"Bccbb");
  EXPECT_EQ(a.obs.seen_ops(), (std::map<std::uint32_t, std::uint32_t>{{1, 2}, {2, 1}}));

  // A reconnect: a new replica, welcomed with the same text, shows nothing new.
  a.obs.new_replica();
  w.fresh_replica(a);
  EXPECT_TRUE(w.welcome(a).empty());

  w.edit(a, Splice{0, 0, U"a"}, 4000);
  EXPECT_EQ(w.edit_events().back().seen_ops, (std::map<std::uint32_t, std::uint32_t>{{1, 2}, {2, 1}}));
  // A client never sees its own edits; b, reloaded, sees a's and c's (not its own old agent's).
  EXPECT_TRUE(w.seen(a).empty());
  b.obs.new_replica();
  w.fresh_replica(b);
  EXPECT_EQ(seen_list(w.welcome(b), 1), (Seen{{0, 1, 4000}, {2, 1, 2000}}));
}

INSTANTIATE_TEST_SUITE_P(IndexedAndScan, ObservedPaths, ::testing::Bool(),
                         [](const auto& param_info) { return std::string(param_info.param ? "Scan" : "Indexed"); });

// An edit whose characters were all deleted before this client showed them is given up (gone
// for good: the replica holds only tombstones) and looked for again once the replica's state is
// replaced, where a state that shows it gets its `seen`. No time limit: an edit that arrives
// late is still seen.
TEST(Observed, RemovedBeforeShownGivenUpThenRevivedWhenItAppears) {
  World w(false);
  Person a = w.join(0), b = w.join(1);
  std::unique_ptr<ServerReplica> stale = w.new_server();  // a replica that missed the deletion
  w.edit(b, Splice{0, 0, U"gone"}, 1000, stale.get());  // b op 1
  w.edit(b, Splice{0, 4, U""}, 2000);                    // b op 2 deletes it (not on `stale`)

  EXPECT_TRUE(w.welcome(a).empty());  // only tombstones: given up
  EXPECT_EQ(a.replica->text(), U"");

  // A replica that shows it, not yet told the recorder: it is not looked for...
  w.fresh_replica(a);
  EXPECT_TRUE(w.welcome(a, stale.get()).empty());
  EXPECT_EQ(a.replica->text(), U"gone");
  // ...until the recorder hears the replica's state was replaced.
  a.obs.state_replaced();
  EXPECT_EQ(seen_list(w.seen(a), 0), (Seen{{1, 1, 1000}}));
  EXPECT_TRUE(w.seen(a).empty());

  // An edit not yet delivered is not given up, however late it shows.
  w.edit(b, Splice{0, 0, U"late"}, 3000);  // b op 3
  EXPECT_TRUE(w.seen(a).empty());
  EXPECT_EQ(seen_list(w.deliver(a), 0), (Seen{{1, 3, 3000}}));
  EXPECT_EQ(a.replica->text(), U"lategone");
}

TEST(Observed, EditOfNamesOthersInsertingEdits) {
  EditLog log;
  log.set_docs(2);
  EXPECT_FALSE(log.claim(7, 1).has_value());
  log.add(0, 1, 1, CharId{7, 1}, 3, 100);  // client 1's op 1: seqs 1..3
  log.add(0, 1, 3, CharId{7, 4}, 2, 300);  // op 3: seqs 4..5
  log.add(1, 2, 1, CharId{9, 1}, 1, 400);  // client 2 writes as 9 (first edit, no claim)

  const auto found = log.edit_of(CharId{7, 5}, 0);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->author, 1u);
  EXPECT_EQ(found->op, 3u);
  EXPECT_EQ(found->made_us, 300);
  EXPECT_EQ(log.edit_of(CharId{7, 2}, 0)->op, 1u);
  EXPECT_EQ(log.edit_of(CharId{9, 1}, 0)->author, 2u);
  EXPECT_FALSE(log.edit_of(CharId{7, 2}, 1).has_value());  // the viewer's own
  EXPECT_FALSE(log.edit_of(CharId{7, 0}, 0).has_value());  // before its first edit
  EXPECT_FALSE(log.edit_of(CharId{5, 1}, 0).has_value());  // no client's agent (the setup text)
  EXPECT_EQ(log.claim(7, 4).value_or(99), 1u);  // handed out twice: the caller reports it
  EXPECT_EQ(log.edits(0).size(), 2u);
  EXPECT_EQ(log.edits(1).size(), 1u);
}

}  // namespace
}  // namespace convlab::workload
