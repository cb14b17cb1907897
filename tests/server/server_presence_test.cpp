// Presence on the real convlab-server (docs/protocol.md, "Presence"): real WebSocket clients send
// awareness frames, the server relays them as presence frames under `awareness: broadcast` (every
// move to every other viewer) or `coalesce` (one frame per viewer per interval, last value wins,
// a closed client reported gone), in the binary and the JSON form, and counts them in /metrics.
#include "tests/server/server_fixture.hpp"

#include "server/core/awareness.hpp"
#include "server/strategies/registry.hpp"

#include <gtest/gtest.h>

namespace convlab::test {
namespace {

Bytes awareness(std::uint64_t caret, const std::string& name) {
  return frame_bytes(FrameKind::kAwareness, 4, encode_awareness(AwarenessState{caret, caret, name}));
}

// The next presence frame `e` receives (other frames skipped), decoded; nullopt if none comes.
std::optional<std::vector<PresenceEntry>> next_presence(Editor& e) {
  for (int i = 0; i < 1000; ++i) {
    auto f = e.next();
    if (!f) return std::nullopt;
    if (f->kind != FrameKind::kPresence) continue;
    auto p = decode_presence(f->payload);
    EXPECT_TRUE(p.has_value()) << (p ? "" : p.error().message);
    if (p) return *p;
  }
  return std::nullopt;
}

std::string metrics_text(unsigned short port) { return http_request(port, http::verb::get, "/metrics").body; }

// Three viewers of document 4: alice, bob and carol (a lab user; JSON frames when `carol_json`),
// logged in and welcomed.
struct Room {
  Login alice, bob, carol;
  std::unique_ptr<Editor> a, b, c;
};
::testing::AssertionResult open_room(unsigned short port, bool carol_json, Room& r) {
  const Strategy& s = *find_strategy("crdt");
  auto alice = login(port, "alice", "alice-pw");
  auto bob = login(port, "bob", "bob-pw");
  auto carol = login(port, "carol", "lab-pw");
  if (!alice || !bob || !carol) return ::testing::AssertionFailure() << "a login failed";
  r.alice = *alice;
  r.bob = *bob;
  r.carol = *carol;
  r.a = std::make_unique<Editor>(port, r.alice, s, 4);
  r.b = std::make_unique<Editor>(port, r.bob, s, 4);
  r.c = std::make_unique<Editor>(port, r.carol, s, 4, carol_json);
  for (Editor* e : {r.a.get(), r.b.get(), r.c.get()}) {
    if (auto opened = e->open(); !opened) return opened;
  }
  return ::testing::AssertionSuccess();
}

TEST(ServerPresence, BroadcastRelaysEveryMoveToEveryOtherViewer) {
  CONVLAB_PG_URL_OR_SKIP(url);
  START_SERVER(server, yaml_for(url, "crdt", "policies:\n  awareness: broadcast\n"));
  const unsigned short port = server.port();
  Room room;
  ASSERT_TRUE(open_room(port, false, room));
  const Login* alice = &room.alice;
  Editor &a = *room.a, &b = *room.b, &c = *room.c;
  for (std::uint64_t k = 1; k <= 10; ++k) a.ws.send_binary(awareness(k, "alice"));
  for (Editor* viewer : {&b, &c}) {
    for (std::uint64_t k = 1; k <= 10; ++k) {
      auto p = next_presence(*viewer);
      ASSERT_TRUE(p.has_value()) << "move " << k;
      ASSERT_EQ(p->size(), 1u) << "one move, one frame";
      EXPECT_EQ((*p)[0].agent, alice->agent);
      EXPECT_EQ((*p)[0].state, (AwarenessState{k, k, "alice"})) << "every move, in order";
    }
  }
  // A round trip on a's connection: everything a sent has been handled once a's edit is acked.
  a.insert(0, U"x");
  ASSERT_TRUE(a.sync());
  const std::string m = metrics_text(port);
  EXPECT_EQ(metric(m, "convlab_awareness_frames_received_total"), 10);
  EXPECT_EQ(metric(m, R"(convlab_frames_sent_total{type="presence"})"), 20) << "10 moves x 2 other viewers";
  EXPECT_GT(metric(m, "convlab_presence_bytes_sent_total"), 20 * 8);
  EXPECT_EQ(document_text(port, alice->token, 4), "x") << "presence is not an edit";
}

TEST(ServerPresence, CoalesceSendsTheLastValueOncePerIntervalAndTellsWhoLeft) {
  CONVLAB_PG_URL_OR_SKIP(url);
  // A long interval: the ten moves below, sent back to back, fall in one interval or two.
  START_SERVER(server, yaml_for(url, "crdt", "policies:\n  awareness: coalesce\n  awareness_interval_ms: 1000\n"));
  const unsigned short port = server.port();
  Room room;
  ASSERT_TRUE(open_room(port, /*carol_json=*/true, room));
  const Login* alice = &room.alice;
  std::unique_ptr<Editor>& a = room.a;
  Editor &b = *room.b, &c = *room.c;
  for (std::uint64_t k = 1; k <= 10; ++k) a->ws.send_binary(awareness(k, "alice"));

  // b: at most two frames for the ten moves, each with alice's entry alone; the last says 10.
  int frames = 0;
  std::uint64_t last = 0;
  while (last != 10) {
    auto p = next_presence(b);
    ASSERT_TRUE(p.has_value()) << "after " << frames << " frames, caret " << last;
    ++frames;
    ASSERT_EQ(p->size(), 1u);
    EXPECT_EQ((*p)[0].agent, alice->agent);
    last = (*p)[0].state.caret;
  }
  EXPECT_LE(frames, 2) << "coalesced: last value wins";

  // c speaks JSON: the same, as {"type":"presence","peers":[...]}.
  std::uint64_t json_last = 0;
  for (int i = 0; i < 100 && json_last != 10; ++i) {
    auto msg = c.ws.read();
    ASSERT_TRUE(msg.has_value());
    ASSERT_TRUE(msg->text);
    const json::value v = json::parse(msg->data);
    if (v.at("type") != "presence") continue;
    const json::array& peers = v.at("peers").as_array();
    ASSERT_EQ(peers.size(), 1u) << msg->data;
    EXPECT_EQ(peers[0].at("agent").to_number<std::uint32_t>(), alice->agent);
    EXPECT_EQ(peers[0].at("name"), "alice");
    json_last = peers[0].at("caret").to_number<std::uint64_t>();
  }
  EXPECT_EQ(json_last, 10u);

  // a leaves: b is told it is gone.
  a.reset();
  bool gone = false;
  while (!gone) {
    auto p = next_presence(b);
    ASSERT_TRUE(p.has_value()) << "never told alice left";
    for (const PresenceEntry& e : *p) gone = gone || (e.agent == alice->agent && !e.here);
  }
  const std::string m = metrics_text(port);
  EXPECT_EQ(metric(m, "convlab_awareness_frames_received_total"), 10);
  EXPECT_LE(metric(m, R"(convlab_frames_sent_total{type="presence"})"), 6) << "2 viewers x (at most 2 + gone)";
}

TEST(ServerPresence, AwarenessBeforeOpeningIsRefused) {
  CONVLAB_PG_URL_OR_SKIP(url);
  START_SERVER(server, yaml_for(url, "crdt"));
  auto alice = login(server.port(), "alice", "alice-pw");
  ASSERT_TRUE(alice);
  Ws ws(server.port(), alice->token);
  ws.send_binary(awareness(1, "alice"));
  auto m = ws.read();
  ASSERT_TRUE(m);
  const Frame f = decode_message(*m);
  EXPECT_EQ(f.kind, FrameKind::kRefused);
  EXPECT_EQ(f.text, "awareness for a document this connection has not opened");
  ws.send_text(R"({"type":"awareness","doc":4,"caret":"x"})");
  EXPECT_EQ(ws.read_until_close(), 4002) << "a caret that is not an integer";
}

}  // namespace
}  // namespace convlab::test
