// Several real convlab-servers: a multi-master document shared through NOTIFY, and single-writer
// documents forwarded to their home over /node (docs/protocol.md, "Server to server"): both
// servers editing, the home killed, malformed node traffic, the peer wire encoding.
#include "tests/server/server_fixture.hpp"
#include "tests/server/versions_fixture.hpp"

#include "server/strategies/registry.hpp"

#include <gtest/gtest.h>

#include <regex>

namespace convlab::test {
namespace {

// Two servers on one database: a multi-master document's edits on one reach the other's clients
// through NOTIFY; the agent ids the two hand out never collide.
TEST(ServerCluster, TwoServersShareAMultiMasterDocument) {
  CONVLAB_PG_URL_OR_SKIP(url);
  const Strategy& s = *find_strategy("crdt");
  START_SERVER(one, yaml_for(url, "crdt", "nodes: 2\nnode_id: 0\n"));
  START_SERVER(two, yaml_for(url, "crdt", "nodes: 2\nnode_id: 1\n"));
  auto alice = login(one.port(), "alice", "alice-pw");
  auto bob = login(two.port(), "bob", "bob-pw");
  ASSERT_TRUE(alice && bob);
  EXPECT_NE(alice->agent, bob->agent);
  Editor a(one.port(), *alice, s, 21);
  Editor b(two.port(), *bob, s, 21);
  ASSERT_TRUE(a.open());
  ASSERT_TRUE(b.open());
  a.insert(0, U"from one ");
  ASSERT_TRUE(a.sync());
  ASSERT_TRUE(b.wait_text(U"from one "));
  b.insert(9, U"and two");
  ASSERT_TRUE(b.sync());
  ASSERT_TRUE(a.wait_text(U"from one and two"));
  // The token of one server works on the other (same secret, same revocation list).
  EXPECT_EQ(document_text(two.port(), alice->token, 21), "from one and two");
  const std::string m = http_request(two.port(), http::verb::get, "/metrics").body;
  EXPECT_GE(metric(m, "convlab_notify_records_total"), 1);
  EXPECT_GE(metric(m, "convlab_notify_lag_seconds_count"), 1);
  // A logout on one closes the token's connections on the other.
  EXPECT_EQ(http_request(one.port(), http::verb::post, "/logout", {}, bob->token).status, 200);
  EXPECT_EQ(b.ws.read_until_close(), 4403);
}

// ---------------------------------------------------------------------------------------------
// Server to server: single-writer documents forwarded to their home over /node.

TEST(FwdConfig, BadPeersNameFileLineColumn) {
  ServerProcess bad("listen: 127.0.0.1:0\n"
                    "peers:\n"
                    "  1: http://nowhere\n"
                    "  two: ws://127.0.0.1:1\n"
                    "peer_link:\n"
                    "  queue_max: 0\n");
  EXPECT_EQ(bad.wait(), 2);
  const std::string err = bad.stderr_text();
  EXPECT_TRUE(std::regex_search(err, std::regex(R"(server\.yaml:3:6: peers\.1: expected ws://HOST:PORT\[/PATH\], got 'http://nowhere')")))
      << err;
  EXPECT_TRUE(std::regex_search(err, std::regex(R"(server\.yaml:4:3: peers\.two: expected a node id \(an integer from 0 to 1023\), got "two")"))) << err;
  EXPECT_TRUE(std::regex_search(err, std::regex(R"(server\.yaml:6:14: peer_link\.queue_max: must be at least 1, got 0)"))) << err;
  // A peer with this server's own id, checked once the file and flags are read.
  ServerProcess self("listen: 127.0.0.1:0\ndatabase: x\njwt: {secret: \"" + std::string(kSecret) +
                     "\"}\nlab_password: p\nnodes: 2\npeers: {0: \"ws://127.0.0.1:9\"}\n");
  EXPECT_EQ(self.wait(), 2);
  EXPECT_NE(self.stderr_text().find("peers.0: is this server's own node id"), std::string::npos) << self.stderr_text();
}

// Server `id` of a two-server cluster on fixed ports.
std::string cluster_yaml(const std::string& url, const std::string& strategy, std::uint32_t id,
                         const std::vector<unsigned short>& ports, const std::string& extra = {}) {
  std::string y = yaml_for(url, strategy, extra);
  y.replace(y.find("listen: 127.0.0.1:0"), 19, "listen: 127.0.0.1:" + std::to_string(ports[id]));
  y += "nodes: " + std::to_string(ports.size()) + "\nnode_id: " + std::to_string(id) + "\npeers:\n";
  for (std::uint32_t p = 0; p < ports.size(); ++p) {
    if (p != id) y += "  " + std::to_string(p) + ": ws://127.0.0.1:" + std::to_string(ports[p]) + "\n";
  }
  return y;
}

// The durable text of `doc` (GET reads the store), checked on both servers.
std::string durable_text(const std::vector<unsigned short>& ports, const std::string& token, std::uint32_t doc) {
  const std::string first = document_text(ports[0], token, doc);
  EXPECT_EQ(document_text(ports[1], token, doc), first);
  return first;
}

class Fwd : public ::testing::TestWithParam<std::string> {};

// Clients on both servers edit one document concurrently (its home is server 0; server 1
// forwards): every edit is acknowledged, and only once the store has it; every client ends with
// the durable text.
TEST_P(Fwd, BothServers) {
  CONVLAB_PG_URL_OR_SKIP(url);
  const Strategy& s = *find_strategy(GetParam());
  const std::vector<unsigned short> ports{free_port(), free_port()};
  START_SERVER(home, cluster_yaml(url, GetParam(), 0, ports));
  START_SERVER(other, cluster_yaml(url, GetParam(), 1, ports));
  constexpr std::uint32_t kDoc = 30;  // 30 % 2 == 0: home is server 0
  std::vector<std::unique_ptr<Editor>> editors;
  for (int i = 0; i < 4; ++i) {
    const unsigned short port = ports[static_cast<std::size_t>(i % 2)];
    auto l = login(port, "user" + std::to_string(i), "lab-pw");
    ASSERT_TRUE(l);
    editors.push_back(std::make_unique<Editor>(port, *l, s, kDoc, /*json_form=*/i == 3));
    ASSERT_TRUE(editors.back()->open());
  }
  auto reader = login(ports[1], "reader", "lab-pw");
  ASSERT_TRUE(reader);
  // seq is last-writer-wins per paragraph (concurrent writes to one paragraph overwrite each
  // other by design): there every editor writes its own paragraph. ot merges everything:
  // there editors write at the same two places.
  const bool paragraphs = GetParam() == "seq";
  std::size_t base = 0;
  if (paragraphs) {
    editors[0]->insert(0, U"\n\n\n");
    ASSERT_TRUE(editors[0]->sync());
    for (auto& e : editors) ASSERT_TRUE(e->wait_text(U"\n\n\n"));
    base = 3;
  }
  // Where editor i writes: its paragraph's end, or the start/end of the text.
  auto place = [&](std::size_t i, const std::u32string& t) -> std::size_t {
    if (!paragraphs) return i % 2 == 0 ? 0 : t.size();
    std::size_t newlines = 0;
    for (std::size_t p = 0; p < t.size(); ++p) {
      if (t[p] == U'\n' && newlines++ == i) return p;
    }
    return t.size();
  };
  for (int round = 0; round < 8; ++round) {
    // Every editor edits before any waits: the edits cross at the home.
    std::vector<std::string> words;
    for (std::size_t i = 0; i < editors.size(); ++i) {
      const std::string w = "[" + std::to_string(i) + "." + std::to_string(round) + "]";
      words.push_back(w);
      Editor& e = *editors[i];
      e.insert(place(i, e.text()), utf8_decode(w).value());
    }
    for (std::size_t i = 0; i < editors.size(); ++i) {
      ASSERT_TRUE(editors[i]->sync()) << "editor " << i << " round " << round;
      // Acknowledged means committed: the store already has it.
      EXPECT_NE(document_text(ports[1], reader->token, kDoc).find(words[i]), std::string::npos)
          << "editor " << i << " acknowledged " << words[i] << " before it was durable";
    }
  }
  const std::string durable = durable_text(ports, reader->token, kDoc);
  EXPECT_EQ(durable.size(), base + 8u * 4u * 5u) << durable;
  for (std::size_t i = 0; i < editors.size(); ++i) {
    ASSERT_TRUE(editors[i]->wait_text(utf8_decode(durable).value())) << "editor " << i;
    EXPECT_EQ(utf8_encode(editors[i]->text()), durable) << "editor " << i;
    EXPECT_TRUE(editors[i]->refusals.empty()) << editors[i]->refusals.front();
  }
  const std::string m = http_request(ports[1], http::verb::get, "/metrics").body;
  // Every edit a client of server 1 sent went to the home, and each came back answered.
  const double forwarded = metric(m, R"(convlab_node_messages_total{direction="sent",kind="edit"})");
  EXPECT_GE(forwarded, 16);
  EXPECT_EQ(forwarded, metric(m, "convlab_edits_received_total"));
  EXPECT_EQ(metric(m, R"(convlab_node_messages_total{direction="received",kind="reply"})"), forwarded);
  EXPECT_EQ(metric(m, R"(convlab_node_link_up{peer="0"})"), 1);
  EXPECT_EQ(metric(m, R"(convlab_node_link_queued_messages{peer="0"})"), 0);
  EXPECT_EQ(metric(m, "convlab_edits_acknowledged_total"), metric(m, "convlab_edits_received_total"));
  {  // the link series lint too (promtool: scripts/setup.sh)
    const auto [rc, said] = promtool_lint(m);
    EXPECT_EQ(rc, 0) << said;
    EXPECT_EQ(said, "") << "promtool lint findings";
  }
  const std::string h = http_request(ports[0], http::verb::get, "/metrics").body;
  EXPECT_EQ(metric(h, R"(convlab_node_messages_total{direction="received",kind="edit"})"), forwarded);
}

// Versions on the wire across the forwarding link (docs/protocol.md, "Versions"): a client of
// server 1 asks for version frames on a document whose home is server 0. Its welcome says the
// log's length; each acknowledgement of its edits, committed by the home and answered through
// server 1, comes after a `version` frame with the log index of that edit's record — the number
// a read answers as `version` right after, on either server — though a client of the home writes
// between them (so the indexes skip).
TEST_P(Fwd, VersionsOnForwardedAcks) {
  CONVLAB_PG_URL_OR_SKIP(url);
  const Strategy& s = *find_strategy(GetParam());
  const std::vector<unsigned short> ports{free_port(), free_port()};
  START_SERVER(home, cluster_yaml(url, GetParam(), 0, ports));
  START_SERVER(other, cluster_yaml(url, GetParam(), 1, ports));
  constexpr std::uint32_t kDoc = 32;  // 32 % 2 == 0: home is server 0
  auto at_home = login(ports[0], "user0", "lab-pw");
  auto away = login(ports[1], "user1", "lab-pw");
  ASSERT_TRUE(at_home && away);
  Editor h(ports[0], *at_home, s, kDoc);
  ASSERT_TRUE(h.open());
  h.insert(0, U"h0\n");
  ASSERT_TRUE(h.sync());
  VersionedEditor v(ports[1], *away, s, kDoc);
  ASSERT_TRUE(v.open());
  ASSERT_EQ(v.versions.size(), 1u);
  EXPECT_EQ(v.versions[0], std::make_pair(FrameKind::kWelcome, std::uint64_t{1})) << "one record before the welcome";
  std::uint64_t last = 1;
  std::u32string hs = U"h0\n", vs;  // the text is hs + vs: h writes at the start, v at the end
  for (int i = 0; i < 5; ++i) {
    // The home's client first (its record comes between two of v's), then v's edit, forwarded.
    ASSERT_TRUE(h.wait_text(hs + vs));
    h.insert(0, U"h");
    hs = U"h" + hs;
    ASSERT_TRUE(h.sync());
    ASSERT_TRUE(v.wait_text(hs + vs));
    vs += U"v" + std::u32string(1, static_cast<char32_t>(U'a' + i));
    v.insert(v.text().size(), vs.substr(vs.size() - 2));
    ASSERT_TRUE(v.sync());
    ASSERT_FALSE(v.versions.empty());
    const auto [kind, version] = v.versions.back();
    EXPECT_EQ(kind, FrameKind::kDeliver) << "edit " << i << ": the version comes just before the acknowledgement";
    EXPECT_EQ(version, last + 2) << "edit " << i << ": the home's record, then this one";
    last = version;
    for (const unsigned short port : ports) {
      const HttpAnswer got = http_request(port, http::verb::get, "/api/documents/" + std::to_string(kDoc), {},
                                          away->token);
      ASSERT_EQ(got.status, 200) << got.body;
      EXPECT_EQ(got.json().at("version").to_number<std::uint64_t>(), version) << "edit " << i << " port " << port;
    }
  }
  EXPECT_EQ(v.versions.size(), 6u) << "one per welcome and per acknowledged edit";
  EXPECT_TRUE(v.refusals.empty()) << v.refusals.front();
}

INSTANTIATE_TEST_SUITE_P(SingleWriter, Fwd, ::testing::Values("ot", "seq"));

// The home killed (-9) while the other server forwards: what was acknowledged is durable; a
// client whose edit waits on the dead home is closed with 4012 and never acknowledged; once the
// home is back, clients on both servers converge again.
TEST(FwdCrash, HomeKilled) {
  CONVLAB_PG_URL_OR_SKIP(url);
  const Strategy& s = *find_strategy("ot");
  const std::vector<unsigned short> ports{free_port(), free_port()};
  const std::string link = "peer_link:\n  down_close_ms: 1000\n  reconnect_max_ms: 200\n";
  auto home = std::make_unique<ServerProcess>(cluster_yaml(url, "ot", 0, ports, link));
  ASSERT_TRUE(home->started()) << home->stderr_text();
  START_SERVER(other, cluster_yaml(url, "ot", 1, ports, link));
  constexpr std::uint32_t kDoc = 40;
  auto alice = login(ports[1], "alice", "alice-pw");
  auto bob = login(ports[1], "bob", "bob-pw");
  ASSERT_TRUE(alice && bob);
  Editor a(ports[1], *alice, s, kDoc);
  Editor watcher(ports[1], *bob, s, kDoc);
  ASSERT_TRUE(a.open());
  ASSERT_TRUE(watcher.open());
  std::u32string acked;
  for (int i = 0; i < 5; ++i) {
    a.insert(a.text().size(), U"ab");
    ASSERT_TRUE(a.sync());
    acked += U"ab";
  }
  ASSERT_TRUE(watcher.wait_text(acked));

  EXPECT_EQ(home->stop(SIGKILL), -1);  // killed by the signal
  home.reset();
  // An edit while the home is gone: it waits, then the connection closes; never acknowledged.
  a.insert(a.text().size(), U"lost?");
  EXPECT_EQ(a.ws.read_until_close(), 4012) << a.ws.close_reason();
  EXPECT_FALSE(a.synced());
  EXPECT_TRUE(a.refusals.empty());
  EXPECT_EQ(document_text(ports[1], alice->token, kDoc), utf8_encode(acked));

  // The home comes back on its port; the other server's link reconnects.
  START_SERVER(again, cluster_yaml(url, "ot", 0, ports, link));
  Editor a2(ports[1], *login(ports[1], "alice", "alice-pw"), s, kDoc);
  ASSERT_TRUE(a2.open());
  EXPECT_EQ(a2.text(), acked);
  a2.insert(0, U"back:");
  ASSERT_TRUE(a2.sync()) << other.stderr_text();
  auto carol = login(ports[0], "carol", "lab-pw");
  ASSERT_TRUE(carol);
  Editor c(ports[0], *carol, s, kDoc);
  ASSERT_TRUE(c.open());
  c.insert(c.text().size(), U":home");
  ASSERT_TRUE(c.sync());
  const std::u32string want = U"back:" + acked + U":home";
  EXPECT_EQ(durable_text(ports, carol->token, kDoc), utf8_encode(want));
  for (Editor* e : {&a2, &c, &watcher}) {
    ASSERT_TRUE(e->wait_text(want));
    EXPECT_EQ(e->text(), want);
  }
  const std::string m = http_request(ports[1], http::verb::get, "/metrics").body;
  EXPECT_GE(metric(m, R"(convlab_node_link_abandoned_connections_total{peer="0"})"), 1);
}

auth::Claims node_claims(std::uint32_t node) {
  auth::Claims c = claims_now(600);
  c.user = node;
  c.sub = "node:" + std::to_string(node);
  c.agent = 0;
  c.aud = "convlab/node";
  return c;
}

// /node refuses what is not a peer's well-formed traffic, each with its code; the server stays up.
TEST(FwdInput, MalformedNodeTraffic) {
  CONVLAB_PG_URL_OR_SKIP(url);
  const std::vector<unsigned short> ports{free_port(), free_port()};
  START_SERVER(server, cluster_yaml(url, "ot", 0, ports));
  const unsigned short port = server.port();
  auto alice = login(port, "alice", "alice-pw");
  ASSERT_TRUE(alice);
  auto node_close = [&](const std::string& token, Ws::Auth how, auto send) {
    Ws ws(port, token, how, "/node");
    send(ws);
    const int code = ws.read_until_close();
    EXPECT_EQ(http_request(port, http::verb::get, "/healthz").status, 200);
    return code;
  };
  auto nothing = [](Ws&) {};
  const std::string peer = auth::sign_hs256(node_claims(1), kSecret);
  EXPECT_EQ(node_close("", Ws::Auth::kNone, nothing), 4401) << "no token";
  EXPECT_EQ(node_close(alice->token, Ws::Auth::kBearer, nothing), 4401) << "a client's token";
  EXPECT_EQ(node_close(auth::sign_hs256(node_claims(1), "another-secret-0123456789abcdef0123"), Ws::Auth::kBearer, nothing),
            4401)
      << "wrong secret";
  EXPECT_EQ(node_close(auth::sign_hs256(node_claims(0), kSecret), Ws::Auth::kBearer, nothing), 4401) << "its own id";
  EXPECT_EQ(node_close(auth::sign_hs256(node_claims(7), kSecret), Ws::Auth::kBearer, nothing), 4401) << "not a node";
  EXPECT_EQ(node_close(peer, Ws::Auth::kBearer, [](Ws& w) { w.send_binary({1, 9, 0}); }), 4000) << "bad kind";
  EXPECT_EQ(node_close(peer, Ws::Auth::kBearer, [](Ws& w) { w.send_binary({1, 0, 1, 0x80}); }), 4000) << "truncated";
  EXPECT_EQ(node_close(peer, Ws::Auth::kBearer, [](Ws& w) { w.send_binary({}); }), 4000) << "empty";
  EXPECT_EQ(node_close(peer, Ws::Auth::kBearer, [](Ws& w) { w.send_binary(std::vector<std::uint8_t>(300, 0xff)); }),
            4020)
      << "unknown version";
  EXPECT_EQ(node_close(peer, Ws::Auth::kBearer, [](Ws& w) { w.send_text("hello"); }), 4000) << "text";
  // A well-formed message claiming to come from another node than the token's.
  NodeMessage forged;
  forged.from = 5;
  forged.doc = 2;
  const Bytes bytes = net::encode_peer_message(net::PeerMessage{"ot", forged});
  EXPECT_EQ(node_close(peer, Ws::Auth::kBearer, [&](Ws& w) { w.send_binary(bytes); }), 4002) << "sender";
  // A client's token on /node does not open /ws's node token either way round.
  EXPECT_EQ(connect_close_code(port, peer), 4401);
  const std::string m = http_request(port, http::verb::get, "/metrics").body;
  EXPECT_EQ(metric(m, R"(convlab_node_refused_total{reason="token"})"), 5);
  EXPECT_EQ(metric(m, R"(convlab_node_refused_total{reason="decode"})"), 4);
  EXPECT_EQ(metric(m, R"(convlab_node_refused_total{reason="version"})"), 1);
  EXPECT_EQ(server.stop(), 0) << server.stderr_text();
}

// The peer encoding round-trips, and no prefix of a message nor a flipped byte crashes it.
TEST(FwdWire, RoundTripAndTruncation) {
  NodeMessage m;
  m.kind = NodeMessage::Kind::kForwardReply;
  m.from = 3;
  m.conn = 1234567;
  m.agent = 42;
  m.doc = 0xfffffffeu;
  m.after_index = 99;
  m.replies = {{1, 2, 3}, {}, {4}};
  const Bytes b = net::encode_peer_message(net::PeerMessage{"seq", m});
  auto back = net::decode_peer_message(b, nullptr);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->strategy, "seq");
  EXPECT_EQ(back->message.kind, m.kind);
  EXPECT_EQ(back->message.conn, m.conn);
  EXPECT_EQ(back->message.doc, m.doc);
  EXPECT_EQ(back->message.after_index, 99u);
  EXPECT_EQ(back->message.replies, m.replies);
  for (std::size_t n = 0; n < b.size(); ++n) {
    EXPECT_FALSE(net::decode_peer_message(std::span(b.data(), n), nullptr)) << "prefix of " << n << " bytes";
  }
  Bytes longer = b;
  longer.push_back(0);
  EXPECT_FALSE(net::decode_peer_message(longer, nullptr));
  for (std::size_t i = 0; i < b.size(); ++i) {
    Bytes flipped = b;
    flipped[i] ^= 0xff;
    (void)net::decode_peer_message(flipped, nullptr);  // an answer either way, never a crash
  }
}

// Every kind of message between nodes round-trips, the document reset too.
TEST(FwdWire, EveryKindRoundTrips) {
  for (const auto kind : {NodeMessage::Kind::kForwardEdit, NodeMessage::Kind::kForwardReply,
                          NodeMessage::Kind::kDocReset}) {
    NodeMessage m;
    m.kind = kind;
    m.from = 1;
    m.doc = 7;
    auto back = net::decode_peer_message(net::encode_peer_message(net::PeerMessage{"ot", m}), nullptr);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->message.kind, kind);
    EXPECT_EQ(back->message.doc, 7u);
  }
  Bytes unknown = net::encode_peer_message(net::PeerMessage{"ot", NodeMessage{}});
  unknown[1] = 3;
  EXPECT_FALSE(net::decode_peer_message(unknown, nullptr));
}

}  // namespace
}  // namespace convlab::test
