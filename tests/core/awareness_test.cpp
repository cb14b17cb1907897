// Presence (server/core/awareness.hpp): the payload codecs, the coalescing table alone, and the
// node relaying carets under `awareness: broadcast` and `coalesce` with a scripted world. Every
// count here is exact: the node is driven by hand, timers fire when the test says.
#include "server/core/awareness.hpp"
#include "server/core/node.hpp"
#include "server/core/protocol.hpp"
#include "server/strategies/registry.hpp"
#include "tests/core/node_rig.hpp"
#include "tests/core/scripted_io.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace convlab::node_test {
namespace {

// ---------------------------------------------------------------- codecs

TEST(AwarenessCodec, StateAndPresenceRoundTrip) {
  const AwarenessState s{12, 3, "Zoë"};
  auto back = decode_awareness(encode_awareness(s));
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_EQ(*back, s);
  const std::vector<PresenceEntry> entries{{7, true, {1, 1, "a"}}, {9, false, {}}, {0xffffffffu, true, {5, 0, ""}}};
  auto p = decode_presence(encode_presence(entries));
  ASSERT_TRUE(p.has_value()) << p.error().message;
  EXPECT_EQ(*p, entries);
}

TEST(AwarenessCodec, BadPayloadsNameTheProblem) {
  EXPECT_FALSE(decode_awareness(Bytes{}).has_value());
  Bytes long_name = encode_awareness(AwarenessState{0, 0, std::string(kAwarenessNameBytesMax + 1, 'x')});
  auto e = decode_awareness(long_name);
  ASSERT_FALSE(e.has_value());
  EXPECT_NE(e.error().message.find("above the limit"), std::string::npos) << e.error().message;
  auto bad_utf8 = decode_awareness(Bytes{1, 1, 1, 0xff});
  ASSERT_FALSE(bad_utf8.has_value());
  EXPECT_NE(bad_utf8.error().message.find("UTF-8"), std::string::npos) << bad_utf8.error().message;
  Bytes trailing = encode_awareness(AwarenessState{1, 1, "a"});
  trailing.push_back(0);
  EXPECT_FALSE(decode_awareness(trailing).has_value());
  EXPECT_FALSE(decode_presence(Bytes{0}).has_value()) << "no entry";
  EXPECT_FALSE(decode_presence(Bytes{1, 7, 2}).has_value()) << "here must be 0 or 1";
}

// ---------------------------------------------------------------- the table alone

const std::set<ConnId> kViewers{1, 2, 3};
auto viewers(const std::set<ConnId>& v) {
  return [&v](std::uint32_t) -> const std::set<ConnId>& { return v; };
}

TEST(AwarenessTable, LastValueWinsAndOneSendPerViewerPerTick) {
  AwarenessTable t;
  for (std::uint64_t caret = 1; caret <= 5; ++caret) t.update(0, 1, 101, AwarenessState{caret, caret, "a"}, 10);
  t.update(0, 2, 102, AwarenessState{9, 9, "b"}, 10);
  auto sends = t.tick(100, 30000, viewers(kViewers));
  ASSERT_EQ(sends.size(), 3u) << "one per viewer";
  // Viewer 1 sees only b, viewer 2 only a (the last of its five moves), viewer 3 both.
  EXPECT_EQ(sends[0].viewer, 1u);
  EXPECT_EQ(sends[0].entries, (std::vector<PresenceEntry>{{102, true, {9, 9, "b"}}}));
  EXPECT_EQ(sends[1].entries, (std::vector<PresenceEntry>{{101, true, {5, 5, "a"}}}));
  EXPECT_EQ(sends[2].entries.size(), 2u);
  // Nothing moved since: nothing to tell.
  EXPECT_TRUE(t.tick(200, 30000, viewers(kViewers)).empty());
  t.update(0, 1, 101, AwarenessState{6, 6, "a"}, 250);
  sends = t.tick(300, 30000, viewers(kViewers));
  ASSERT_EQ(sends.size(), 2u) << "the mover itself is not told";
  EXPECT_EQ(sends[0].viewer, 2u);
  EXPECT_EQ(sends[1].entries, (std::vector<PresenceEntry>{{101, true, {6, 6, "a"}}}));
}

TEST(AwarenessTable, ANewViewerGetsTheWholeTable) {
  AwarenessTable t;
  t.update(0, 1, 101, AwarenessState{1, 1, "a"}, 0);
  t.update(0, 2, 102, AwarenessState{2, 2, "b"}, 0);
  t.tick(100, 30000, viewers(kViewers));
  const std::set<ConnId> more{1, 2, 3, 4};
  t.update(0, 1, 101, AwarenessState{3, 3, "a"}, 150);
  auto sends = t.tick(200, 30000, viewers(more));
  ASSERT_EQ(sends.size(), 3u) << "viewer 1 moved, nobody else did: it is told nothing";
  EXPECT_EQ(sends[2].viewer, 4u);
  EXPECT_EQ(sends[2].entries, (std::vector<PresenceEntry>{{101, true, {3, 3, "a"}}, {102, true, {2, 2, "b"}}}));
  EXPECT_EQ(sends[1].entries.size(), 1u) << "viewer 3 had the table: only what changed";
}

TEST(AwarenessTable, IdleAndClosedEntriesAreDroppedAndTold) {
  AwarenessTable t;
  t.update(0, 1, 101, AwarenessState{1, 1, "a"}, 0);
  t.update(0, 2, 102, AwarenessState{2, 2, "b"}, 0);
  t.tick(100, 1000, viewers(kViewers));
  t.update(0, 2, 102, AwarenessState{3, 3, "b"}, 900);
  auto sends = t.tick(1000, 1000, viewers(kViewers));  // a idle for 1000 ms: gone
  EXPECT_EQ(t.entries(0), 1u);
  ASSERT_EQ(sends.size(), 3u);
  EXPECT_EQ(sends[0].entries, (std::vector<PresenceEntry>{{102, true, {3, 3, "b"}}}));
  EXPECT_EQ(sends[1].entries, (std::vector<PresenceEntry>{{101, false, {}}}));
  t.remove_conn(2);
  sends = t.tick(1100, 1000, viewers(std::set<ConnId>{1, 3}));
  ASSERT_EQ(sends.size(), 2u);
  EXPECT_EQ(sends[0].entries, (std::vector<PresenceEntry>{{102, false, {}}}));
  EXPECT_TRUE(t.empty()) << "nothing held once every entry is gone and told";
}

// ---------------------------------------------------------------- the node

// n lww clients of doc 0 on one node, all welcomed; conns 1..n, agents 101..
struct Viewers {
  FakeStore store;
  Rig r;
  std::vector<Client> clients;
  Viewers(const NodeConfig& cfg, int n) : r(cfg, strategy("lww")) {
    for (int i = 0; i < n; ++i) clients.emplace_back(strategy("lww"), i + 1, 101 + i, 0);
    for (Client& c : clients) hello(*r.node, c);
    r.play_store(store);
    for (Client& c : clients) c.receive(r.io);
    r.io.requests.clear();
  }
  void move(int i, std::uint64_t caret) {
    r.node->on_frame(clients[i].conn,
                     frame_bytes(FrameKind::kAwareness, 0, encode_awareness(AwarenessState{caret, caret, "v"})));
  }
  // Presence frames sent so far (taken out), per viewer.
  std::vector<std::vector<PresenceEntry>> presence(int i) {
    std::vector<std::vector<PresenceEntry>> out;
    for (const Frame& f : r.io.take_frames(clients[i].conn)) {
      EXPECT_EQ(f.kind, FrameKind::kPresence);
      auto p = decode_presence(f.payload);
      EXPECT_TRUE(p.has_value());
      if (p) out.push_back(*p);
    }
    return out;
  }
  // Fires the awareness timer if it is set; returns whether it was.
  bool fire(std::int64_t advance_ms) {
    auto it = std::find_if(r.io.timers.begin(), r.io.timers.end(), [](const auto& t) { return t.second == 5; });
    if (it == r.io.timers.end()) return false;
    EXPECT_EQ(it->first, 100);
    r.io.timers.erase(it);
    r.io.clock_ms += advance_ms;
    r.node->on_timer(5);
    return true;
  }
};

NodeConfig with_awareness(NodeConfig::Awareness a) {
  NodeConfig c;
  c.nodes = 1;
  c.awareness = a;
  c.awareness_interval_ms = 100;
  c.awareness_idle_ms = 1000;
  return c;
}

TEST(NodeAwareness, BroadcastRelaysEveryMoveToEveryOtherViewerAtOnce) {
  Viewers v(with_awareness(NodeConfig::Awareness::kBroadcast), 4);
  for (int i = 0; i < 4; ++i) {
    for (int k = 0; k < 3; ++k) v.move(i, k);
  }
  // 4 viewers x 3 moves x 3 others: n (n - 1) per round of moves.
  for (int i = 0; i < 4; ++i) EXPECT_EQ(v.presence(i).size(), 9u) << "viewer " << i;
  EXPECT_TRUE(v.r.io.timers.empty()) << "broadcast keeps nothing and needs no timer";
  EXPECT_TRUE(v.r.io.requests.empty()) << "presence never reaches the store";
  EXPECT_EQ(v.r.node->text(0), std::u32string()) << "nor the document";
}

TEST(NodeAwareness, CoalesceSendsOneFramePerViewerPerIntervalLastValueWins) {
  Viewers v(with_awareness(NodeConfig::Awareness::kCoalesce), 4);
  for (int i = 0; i < 4; ++i) {
    for (std::uint64_t k = 1; k <= 3; ++k) v.move(i, 10 * i + k);
  }
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(v.presence(i).empty()) << "nothing before the interval";
  ASSERT_TRUE(v.fire(100));
  for (int i = 0; i < 4; ++i) {
    auto frames = v.presence(i);
    ASSERT_EQ(frames.size(), 1u) << "viewer " << i;
    ASSERT_EQ(frames[0].size(), 3u) << "the three others";
    for (const PresenceEntry& e : frames[0]) {
      EXPECT_NE(e.agent, static_cast<AgentId>(101 + i)) << "never its own caret";
      EXPECT_EQ(e.state.caret, 10 * (e.agent - 101) + 3) << "the last of three moves";
    }
  }
  EXPECT_TRUE(v.r.io.requests.empty()) << "presence never reaches the store";
  // A quiet interval sends nothing, and the timer runs on while entries are held.
  ASSERT_TRUE(v.fire(100));
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(v.presence(i).empty());
}

TEST(NodeAwareness, CoalesceDropsIdleAndDisconnectedClients) {
  Viewers v(with_awareness(NodeConfig::Awareness::kCoalesce), 3);
  v.move(0, 1);
  v.move(1, 2);
  ASSERT_TRUE(v.fire(100));
  for (int i = 0; i < 3; ++i) v.presence(i);
  v.r.node->on_disconnect(v.clients[1].conn);
  ASSERT_TRUE(v.fire(100));
  EXPECT_EQ(v.presence(2), (std::vector<std::vector<PresenceEntry>>{{{102, false, {}}}})) << "told: 102 left";
  EXPECT_EQ(v.presence(0).size(), 1u);
  // Client 0's entry goes idle after 1000 ms without a move: dropped, told, and the timer stops.
  int ticks = 0;
  while (v.fire(100)) ++ticks;
  EXPECT_LE(ticks, 10);
  EXPECT_EQ(v.presence(2), (std::vector<std::vector<PresenceEntry>>{{{101, false, {}}}}));
  EXPECT_TRUE(v.presence(0).empty());
}

TEST(NodeAwareness, AwarenessForADocumentNotOpenIsRefusedAndLoadsNothing) {
  Viewers v(with_awareness(NodeConfig::Awareness::kCoalesce), 1);
  v.r.node->on_frame(v.clients[0].conn, frame_bytes(FrameKind::kAwareness, 7, encode_awareness(AwarenessState{})));
  auto frames = v.r.io.take_frames(v.clients[0].conn);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].kind, FrameKind::kRefused);
  EXPECT_EQ(frames[0].text, "awareness for a document this connection has not opened");
  EXPECT_TRUE(v.r.io.requests.empty()) << "document 7 is not loaded for a caret";
  v.r.node->on_frame(v.clients[0].conn, frame_bytes(FrameKind::kAwareness, 0, Bytes{1}));
  frames = v.r.io.take_frames(v.clients[0].conn);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].text.rfind("bad awareness: ", 0), 0u) << frames[0].text;
}

}  // namespace
}  // namespace convlab::node_test
