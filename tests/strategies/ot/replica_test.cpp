// The ot replicas: the ot.js client states, the server's transform-and-broadcast, refusals that
// leave state unchanged, welcome, snapshot/restore, apply_record, and convergence of 2-4
// clients under every delivery interleaving RapidCheck finds.
#include "server/strategies/ot/codec.hpp"
#include "server/strategies/ot/document.hpp"
#include "server/strategies/ot/ot.hpp"
#include "tests/strategies/index_check.hpp"
#include "tests/strategies/ot/ot_gen.hpp"

#include <boost/json.hpp>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <deque>
#include <set>

namespace convlab {
namespace {

const Strategy& S() { return ot_strategy(); }

Splice ins(std::uint64_t pos, std::u32string s) { return Splice{pos, 0, std::move(s)}; }
Splice del(std::uint64_t pos, std::uint64_t n) { return Splice{pos, n, {}}; }

ot::Message decoded(const Bytes& b) {
  auto m = ot::decode(b);
  if (!m) throw std::runtime_error(m.error().message);
  return *m;
}

// One server, n clients, a FIFO queue per link and direction.
struct Net {
  std::unique_ptr<ServerReplica> server = S().make_server();
  std::vector<std::unique_ptr<ClientReplica>> clients;
  std::vector<std::deque<Bytes>> up, down;
  std::vector<Bytes> records;
  std::int64_t clock_ms = 0;

  explicit Net(std::size_t n) : up(n), down(n) {
    for (std::size_t i = 0; i < n; ++i) clients.push_back(S().make_client(static_cast<AgentId>(i)));
  }
  void edit(std::size_t i, const Splice& e) {
    for (Bytes& m : clients[i]->local_edit(e, ++clock_ms)) up[i].push_back(std::move(m));
  }
  // Delivers the oldest message from client i to the server. Returns the error, if any.
  std::string deliver_up(std::size_t i) {
    Bytes m = std::move(up[i].front());
    up[i].pop_front();
    auto out = server->receive(static_cast<AgentId>(i), m, ++clock_ms);
    if (!out) return out.error().message;
    for (Bytes& x : out->to_sender) down[i].push_back(std::move(x));
    for (const Bytes& x : out->broadcast) {
      for (std::size_t j = 0; j < clients.size(); ++j) {
        if (j != i) down[j].push_back(x);
      }
    }
    for (Bytes& x : out->records) records.push_back(std::move(x));
    return {};
  }
  std::string deliver_down(std::size_t i) {
    Bytes m = std::move(down[i].front());
    down[i].pop_front();
    auto out = clients[i]->receive(m);
    if (!out) return out.error().message;
    for (Bytes& x : *out) up[i].push_back(std::move(x));
    return {};
  }
  // A client that joins now: it loads the server's welcome before it edits or hears anything.
  std::string add_client() {
    clients.push_back(S().make_client(static_cast<AgentId>(clients.size())));
    up.emplace_back();
    down.emplace_back();
    auto out = clients.back()->receive(server->welcome());
    if (!out) return out.error().message;
    return {};
  }
  // Delivers everything, link by link, until no message is left.
  std::string drain() {
    for (bool any = true; any;) {
      any = false;
      for (std::size_t i = 0; i < clients.size(); ++i) {
        if (!up[i].empty()) {
          any = true;
          if (auto e = deliver_up(i); !e.empty()) return e;
        }
        if (!down[i].empty()) {
          any = true;
          if (auto e = deliver_down(i); !e.empty()) return e;
        }
      }
    }
    return {};
  }
};

TEST(OtReplica, OneOpInFlightTheRestBufferedAndComposed) {
  Net net(2);
  net.edit(0, ins(0, U"ab"));
  net.edit(0, ins(2, U"c"));
  net.edit(0, del(0, 1));
  EXPECT_EQ(net.clients[0]->text(), U"bc");
  ASSERT_EQ(net.up[0].size(), 1u) << "edits after the first wait for its ack";
  EXPECT_FALSE(net.clients[0]->synced());
  ASSERT_EQ(net.deliver_up(0), "");
  ASSERT_EQ(net.deliver_down(0), "");  // the ack releases the buffer as one composed op
  ASSERT_EQ(net.up[0].size(), 1u);
  const ot::Message sent_msg = decoded(net.up[0].front());
  const auto* sent = std::get_if<ot::OpMsg>(&sent_msg);
  ASSERT_NE(sent, nullptr);
  EXPECT_EQ(sent->base, 1u);
  EXPECT_EQ(boost::json::serialize(ot::op_to_json(sent->op)), R"([{"d":1},1,"c"])");
  ASSERT_EQ(net.drain(), "");
  EXPECT_TRUE(net.clients[0]->synced());
  EXPECT_EQ(net.server->text(), U"bc");
  EXPECT_EQ(net.clients[1]->text(), U"bc");
  EXPECT_EQ(net.server->version(), 2u);
  // Ids are (author, author's running counter): 'a' was 0, 'b' 1, 'c' 2.
  EXPECT_EQ(net.server->char_ids(), (std::vector<CharId>{{0, 1}, {0, 2}}));
  EXPECT_EQ(net.clients[1]->char_ids(), net.server->char_ids());
}

TEST(OtReplica, ConcurrentInsertsAtOnePlaceConvergeLateOpFirst) {
  Net net(2);
  net.edit(0, ins(0, U"a"));
  net.edit(1, ins(0, U"b"));
  ASSERT_EQ(net.deliver_up(0), "");
  ASSERT_EQ(net.deliver_up(1), "");  // transformed over A's op as the left side: goes first
  ASSERT_EQ(net.drain(), "");
  EXPECT_EQ(net.server->text(), U"ba");
  EXPECT_EQ(net.clients[0]->text(), U"ba");
  EXPECT_EQ(net.clients[1]->text(), U"ba");
}

TEST(OtReplica, InsertInsideAConcurrentlyDeletedRangeSurvives) {
  Net net(2);
  net.edit(0, ins(0, U"hello"));
  ASSERT_EQ(net.drain(), "");
  net.edit(0, del(0, 5));
  net.edit(1, ins(2, U"X"));
  ASSERT_EQ(net.drain(), "");
  EXPECT_EQ(net.server->text(), U"X");
  EXPECT_EQ(net.clients[0]->text(), U"X");
  EXPECT_EQ(net.clients[1]->text(), U"X");
}

TEST(OtReplica, ServerRefusesOpsThatDoNotFitAndStaysUnchanged) {
  auto server = S().make_server();
  auto a = S().make_client(0);
  auto first = a->local_edit(ins(0, U"abc"), 1);
  ASSERT_TRUE(server->receive(0, first[0], 1).has_value());
  const Bytes snap = server->snapshot();
  const Bytes future = ot::encode(ot::OpMsg{5, 0, ot::Op{ot::Component::insert(U"x")}});
  const Bytes too_long = ot::encode(ot::OpMsg{1, 0, ot::Op{ot::Component::skip(4), ot::Component::insert(U"x")}});
  // Fits the current document (length 3) but not revision 0's (length 0).
  const Bytes too_long_at_base = ot::encode(ot::OpMsg{0, 0, ot::Op{ot::Component::skip(1), ot::Component::insert(U"x")}});
  const Bytes not_for_server = ot::encode(ot::AckMsg{0});
  for (const Bytes& bad : {future, too_long, too_long_at_base, not_for_server}) {
    auto r = server->receive(0, bad, 2);
    EXPECT_FALSE(r.has_value()) << boost::json::serialize(ot::to_json(decoded(bad)));
    EXPECT_EQ(server->snapshot(), snap);
  }
  auto r = server->receive(0, future, 2);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("revision 5"), std::string::npos) << r.error().message;
}

TEST(OtReplica, ClientRefusesMessagesThatDoNotFitAndStaysUnchanged) {
  auto c = S().make_client(0);
  c->local_edit(ins(0, U"xy"), 1);
  const std::vector<Bytes> bad = {
      ot::encode(ot::AckMsg{3}),                                                     // wrong revision
      ot::encode(ot::RemoteMsg{1, 2, ot::Op{ot::Component::insert(U"q")}}),           // revision gap
      ot::encode(ot::RemoteMsg{0, 2, ot::Op{ot::Component::skip(1), ot::Component::insert(U"q")}}),  // server doc is empty
      ot::encode(ot::WelcomeMsg{4, U"zz", {CharId{}, CharId{}}}),                   // pending edit
      ot::encode(ot::OpMsg{0, 0, {}}),                                               // not for clients
  };
  for (const Bytes& b : bad) {
    EXPECT_FALSE(c->receive(b).has_value()) << boost::json::serialize(ot::to_json(decoded(b)));
    EXPECT_EQ(c->text(), U"xy");
    EXPECT_FALSE(c->synced());
  }
  auto ok = c->receive(ot::encode(ot::AckMsg{0}));
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  EXPECT_TRUE(c->synced());
  EXPECT_FALSE(c->receive(ot::encode(ot::AckMsg{1})).has_value()) << "ack with nothing in flight";
}

TEST(OtReplica, FreshClientStartsFromWelcome) {
  Net net(1);
  net.edit(0, ins(0, U"h\U0001F600llo"));
  ASSERT_EQ(net.drain(), "");
  auto late = S().make_client(7);
  ASSERT_TRUE(late->receive(net.server->welcome()).has_value());
  EXPECT_EQ(late->text(), net.server->text());
  EXPECT_EQ(late->char_ids(), net.server->char_ids());
  // It edits from the welcome's revision, and the server accepts it without transforming.
  auto out = late->local_edit(ins(5, U"!"), 3);
  ASSERT_EQ(out.size(), 1u);
  auto r = net.server->receive(7, out[0], 4);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(net.server->text(), U"h\U0001F600llo!");
  EXPECT_EQ(net.server->char_ids().back(), (CharId{7, 0}));
}

TEST(OtReplica, RecordsReplayAndSnapshotsRestore) {
  Net net(3);
  net.edit(0, ins(0, U"abc"));
  net.edit(1, ins(0, U"xyz"));
  net.edit(2, ins(0, U"123"));
  ASSERT_EQ(net.drain(), "");
  net.edit(0, del(1, 2));
  net.edit(1, ins(4, U"Q"));
  ASSERT_EQ(net.drain(), "");
  ASSERT_EQ(net.records.size(), 5u);

  auto replayed = S().make_server();
  for (const Bytes& r : net.records) {
    auto ok = replayed->apply_record(r);
    ASSERT_TRUE(ok.has_value()) << ok.error().message;
  }
  EXPECT_EQ(replayed->text(), net.server->text());
  EXPECT_EQ(replayed->char_ids(), net.server->char_ids());
  EXPECT_EQ(replayed->version(), net.server->version());
  EXPECT_EQ(replayed->snapshot(), net.server->snapshot());
  // A record out of order is refused.
  EXPECT_FALSE(replayed->apply_record(net.records[0]).has_value());
  EXPECT_EQ(replayed->version(), 5u);

  auto restored = S().make_server();
  ASSERT_TRUE(restored->restore(net.server->snapshot()).has_value());
  EXPECT_EQ(restored->snapshot(), net.server->snapshot());
  EXPECT_EQ(restored->welcome(), net.server->welcome());
  // The history came along: an op made at revision 1 is transformed the same by both.
  const Bytes old = ot::encode(ot::OpMsg{1, 0, ot::Op{ot::Component::skip(2), ot::Component::insert(U"#", {CharId{9, 0}})}});
  auto a = net.server->receive(9, old, 100);
  auto b = restored->receive(9, old, 100);
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_EQ(a->broadcast, b->broadcast);
  EXPECT_EQ(restored->text(), net.server->text());
  // Snapshot bytes that do not hang together are refused, leaving the replica unchanged.
  auto s = std::get<ot::SnapshotMsg>(decoded(net.server->snapshot()));
  s.history.front().rev += 1;
  const Bytes before = restored->snapshot();
  EXPECT_FALSE(restored->restore(ot::encode(s)).has_value());
  EXPECT_EQ(restored->snapshot(), before);
}

TEST(OtReplica, ManyEditsBehindALateAckStillConverge) {
  // More edits than one composition batch wait for the first ack, while another client edits
  // the same region: the batched composition must keep the buffer's meaning.
  Net net(2);
  net.edit(1, ins(0, U"0123456789"));
  ASSERT_EQ(net.drain(), "");
  for (std::uint64_t i = 0; i < 3000; ++i) {
    const std::size_t len = net.clients[0]->length();
    if (i % 5 == 4) {
      net.edit(0, del((i * 7) % len, 1));
    } else {
      net.edit(0, ins((i * 13) % (len + 1), std::u32string(1, ot::testing::kAlphabet[i % ot::testing::kAlphabetSize])));
    }
    if (i % 500 == 0) net.edit(1, ins(i % 10, U"\U0001F600"));
  }
  ASSERT_EQ(net.up[0].size(), 1u);
  ASSERT_EQ(net.drain(), "");
  EXPECT_EQ(net.clients[0]->text(), net.server->text());
  EXPECT_EQ(net.clients[1]->text(), net.server->text());
  EXPECT_EQ(net.clients[0]->char_ids(), net.server->char_ids());
  // Client 1: its first edit, then one op in flight and one composed buffer; client 0: one op
  // in flight and one composed buffer of 2999 edits.
  EXPECT_EQ(net.server->version(), 5u);
}

TEST(OtReplica, FollowerServerRelaysHomeRecordsAndTheAuthorTakesItsOwnAsAck) {
  // A and B are connected to a follower; the home server orders ops. The follower forwards
  // A's op to the home and learns the result only from the home's record.
  auto home = S().make_server();
  auto follower = S().make_server();
  auto a = S().make_client(0);
  auto b = S().make_client(1);
  auto sent = a->local_edit(ins(0, U"hi"), 1);
  a->local_edit(ins(2, U"!"), 2);  // buffered behind the op in flight
  ASSERT_EQ(sent.size(), 1u);
  auto at_home = home->receive(0, sent[0], 10);
  ASSERT_TRUE(at_home.has_value()) << at_home.error().message;
  ASSERT_EQ(at_home->records.size(), 1u);
  auto relayed = follower->apply_remote_record(at_home->records[0]);
  ASSERT_TRUE(relayed.has_value()) << relayed.error().message;
  ASSERT_EQ(relayed->size(), 1u);
  auto to_b = b->receive((*relayed)[0]);
  ASSERT_TRUE(to_b.has_value()) << to_b.error().message;
  EXPECT_EQ(b->text(), U"hi");
  auto to_a = a->receive((*relayed)[0]);  // A's own op: its acknowledgement, releasing the buffer
  ASSERT_TRUE(to_a.has_value()) << to_a.error().message;
  ASSERT_EQ(to_a->size(), 1u);
  EXPECT_EQ(a->text(), U"hi!");
  EXPECT_EQ(follower->text(), U"hi");
  EXPECT_EQ(follower->char_ids(), home->char_ids());
  // A record the follower already has is refused and changes nothing.
  EXPECT_FALSE(follower->apply_remote_record(at_home->records[0]).has_value());
  EXPECT_EQ(follower->version(), 1u);
}

// ---- convergence under arbitrary interleavings ----

// Each action: (kind, client, a, b, c). Kind 0 is a local edit at position a, deleting b and
// inserting text drawn from c, all reduced to fit; kind 1 delivers the client's oldest message
// to the server, kind 2 the server's oldest message to the client.
RC_GTEST_PROP(OtReplicaProps, ClientsConvergeUnderAnyInterleaving, ()) {
  const auto n = *rc::gen::inRange<std::size_t>(2, 5);
  const auto actions = *rc::gen::container<std::vector<std::tuple<std::uint8_t, std::uint8_t, std::uint32_t, std::uint32_t, std::uint32_t>>>(
      rc::gen::tuple(rc::gen::inRange<std::uint8_t>(0, 3), rc::gen::inRange<std::uint8_t>(0, 4),
                     rc::gen::arbitrary<std::uint32_t>(), rc::gen::inRange<std::uint32_t>(0, 4),
                     rc::gen::arbitrary<std::uint32_t>()));
  Net net(n);
  for (const auto& [kind, who, a, b, c] : actions) {
    const std::size_t i = who % n;
    if (kind == 0) {
      const std::size_t len = net.clients[i]->length();
      const std::uint64_t pos = a % (len + 1);
      const std::uint64_t d = b % (std::min<std::uint64_t>(len - pos, 3) + 1);
      std::u32string s;
      for (std::uint32_t k = 0; k < c % 4; ++k) s.push_back(ot::testing::kAlphabet[(c / 4 + 7 * k) % ot::testing::kAlphabetSize]);
      net.edit(i, Splice{pos, d, s});
    } else if (kind == 1 && !net.up[i].empty()) {
      const std::string e = net.deliver_up(i);
      RC_ASSERT(e == "");
    } else if (kind == 2 && !net.down[i].empty()) {
      const std::string e = net.deliver_down(i);
      RC_ASSERT(e == "");
    }
  }
  const std::string e = net.drain();
  RC_ASSERT(e == "");
  const std::u32string text = net.server->text();
  const std::vector<CharId> ids = net.server->char_ids();
  for (const auto& c : net.clients) {
    RC_ASSERT(c->synced());
    RC_ASSERT(c->text() == text);
    RC_ASSERT(c->char_ids() == ids);
  }
  // Every character keeps its own identity: no id appears twice.
  RC_ASSERT(std::set<CharId>(ids.begin(), ids.end()).size() == ids.size());
  // The records alone rebuild the server.
  auto replayed = S().make_server();
  for (const Bytes& r : net.records) RC_ASSERT(replayed->apply_record(r).has_value());
  RC_ASSERT(replayed->text() == text);
  // The server's snapshot (history bodies encoded once, at commit) is what encoding the whole
  // state as one SnapshotMsg gives.
  ot::SnapshotMsg want{net.server->version(), text, ids, {}};
  for (const Bytes& r : net.records) want.history.push_back(std::get<ot::RecordMsg>(decoded(r)));
  RC_ASSERT(net.server->snapshot() == ot::encode(want));
  RC_ASSERT(replayed->snapshot() == ot::encode(want));
}

// Past kHistoryMax records the oldest leave the snapshot; a restored server snapshots the same
// bytes and goes on from there.
TEST(OtReplica, SnapshotKeepsTheLastMaxHistoryRecords) {
  auto server = S().make_server();
  std::deque<ot::RecordMsg> kept;
  std::u32string text;
  std::vector<CharId> ids;
  auto commit = [&](ServerReplica& s, std::uint32_t i) {
    // Appends one character: a skip over the document (none when it is empty), then an insert.
    ot::Op op;
    if (!text.empty()) op.push_back(ot::Component::skip(text.size()));
    op.push_back(ot::Component::insert(U"x", {CharId{i % 7, i}}));
    ot::RecordMsg rec{i, i % 7, -static_cast<std::int64_t>(i), i, std::move(op)};
    ASSERT_TRUE(s.apply_record(ot::encode(rec)).has_value());
    text.push_back(U'x');
    ids.push_back(CharId{i % 7, i});
    kept.push_back(std::move(rec));
    if (kept.size() > ot::kHistoryMax) kept.pop_front();
  };
  auto expected = [&] {
    return ot::encode(ot::SnapshotMsg{kept.back().rev + 1, text, ids, {kept.begin(), kept.end()}});
  };
  const std::uint32_t total = static_cast<std::uint32_t>(ot::kHistoryMax) + 40'000;
  for (std::uint32_t i = 0; i < total; ++i) {
    commit(*server, i);
    if (i == 10 || i + 1 == ot::kHistoryMax || i == ot::kHistoryMax + 5) {
      EXPECT_EQ(server->snapshot(), expected()) << i;
    }
  }
  EXPECT_EQ(server->snapshot(), expected());
  auto restored = S().make_server();
  ASSERT_TRUE(restored->restore(server->snapshot()).has_value());
  EXPECT_EQ(restored->snapshot(), expected());
  for (std::uint32_t i = total; i < total + 100; ++i) commit(*restored, i);
  EXPECT_EQ(restored->snapshot(), expected());
}

// ---- the client's index: what the simulator reads per edit and per delivery ----

auto rc_below = [](std::uint64_t n) { return *rc::gen::inRange<std::uint64_t>(0, n); };

// The gap buffer's id index against its own text and ids over random ops. Ids repeat (the
// source wraps every 8 ids, as ops read from JSON all carry CharId{}), so it must count copies;
// indexing may start on a document already edited, and copies keep the index.
RC_GTEST_PROP(OtDocument, IdIndexAndRangesFollowEveryOp, ()) {
  ot::testing::IdSource ids{3, 0};
  const ot::Text start = ot::testing::random_doc(20, ids, rc_below);
  ot::Document doc(start.text, start.ids);
  const auto index_at = *rc::gen::inRange(0, 5);
  const int steps = *rc::gen::inRange(0, 40);
  for (int i = 0; i < steps; ++i) {
    if (i == index_at) doc.index_ids();
    ids.next %= 8;
    const ot::Op op = ot::testing::random_op(doc.size(), ids, rc_below);
    RC_ASSERT(doc.apply(op).has_value());
    const std::u32string text = doc.text();
    const std::vector<CharId> all = doc.ids();
    for (std::size_t pos = 0; pos <= doc.size(); ++pos) {
      for (std::size_t n = 0; n <= doc.size() - pos; n += 3) {
        RC_ASSERT(doc.text_range(pos, n) == text.substr(pos, n));
        RC_ASSERT(doc.ids_range(pos, n) == std::vector<CharId>(all.begin() + static_cast<std::ptrdiff_t>(pos),
                                                               all.begin() + static_cast<std::ptrdiff_t>(pos + n)));
      }
    }
    if (!doc.indexed()) continue;
    const ot::Document copy = doc;
    for (std::uint32_t seq = 0; seq < 32; ++seq) {
      const CharId id{3, seq};
      const bool want = std::find(all.begin(), all.end(), id) != all.end();
      RC_ASSERT(doc.contains(id) == want);
      RC_ASSERT(copy.contains(id) == want);
    }
    RC_ASSERT(!doc.contains(CharId{}));
  }
}

// Clients edit, join late (welcome) and receive acks and remote ops in any interleaving; after
// every step each client's indexed reads must answer what the defaults answer.
RC_GTEST_PROP(OtReplicaProps, ClientIndexAnswersWhatTheDefaultsDo, ()) {
  const auto n = *rc::gen::inRange<std::size_t>(2, 5);
  const int steps = *rc::gen::inRange(1, 120);
  Net net(n);
  // Each edit inserts at most 3 characters: ids past these were never typed.
  const std::vector<CharId> probes = testing::id_probes(static_cast<std::uint32_t>(n + 2), 3 * static_cast<std::uint32_t>(steps) + 2);
  auto check_all = [&] {
    for (const auto& c : net.clients) {
      const std::string p = testing::index_mismatch(*c, probes);
      RC_ASSERT(p == "");
    }
  };
  for (int step = 0; step < steps; ++step) {
    const std::size_t i = *rc::gen::inRange<std::size_t>(0, net.clients.size());
    const int kind = *rc::gen::inRange(0, 8);
    if (kind <= 2) {
      const std::size_t len = net.clients[i]->length();
      const auto pos = *rc::gen::inRange<std::uint64_t>(0, len + 1);
      const auto d = *rc::gen::inRange<std::uint64_t>(0, std::min<std::uint64_t>(len - pos, 3) + 1);
      net.edit(i, Splice{pos, d, ot::testing::random_text(*rc::gen::inRange<std::uint64_t>(0, 4), rc_below)});
    } else if (kind <= 4 && !net.up[i].empty()) {
      RC_ASSERT(net.deliver_up(i) == "");
    } else if (kind <= 6 && !net.down[i].empty()) {
      RC_ASSERT(net.deliver_down(i) == "");
    } else if (kind == 7 && net.clients.size() < n + 2) {
      RC_ASSERT(net.add_client() == "");
    }
    check_all();
  }
  RC_ASSERT(net.drain() == "");
  check_all();
}

}  // namespace
}  // namespace convlab
