// The real convlab-server, end to end: edits acknowledged once durable and fanned out, per
// strategy; documents' strategy claims and home nodes; a read while the database is down.
// Real sockets, real PostgreSQL (CONVLAB_PG_URL; a fresh database per test).
#include "tests/server/server_fixture.hpp"
#include "tests/server/versions_fixture.hpp"

#include "server/strategies/registry.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

namespace convlab::test {
namespace {

class PerStrategy : public ::testing::TestWithParam<std::string> {};

// login -> WebSocket -> hello/welcome -> edits acknowledged after commit -> a second client on
// the same server receives them; the acknowledged text is in PostgreSQL (GET reads the store).
// (A short name: the database is named after the test, at most 63 characters.)
TEST_P(PerStrategy, AckedDurableFannedOut) {
  CONVLAB_PG_URL_OR_SKIP(url);
  const Strategy& s = *find_strategy(GetParam());
  START_SERVER(server, yaml_for(url, GetParam()));
  auto alice = login(server.port(), "alice", "alice-pw");
  auto bob = login(server.port(), "bob", "bob-pw");
  ASSERT_TRUE(alice && bob);
  EXPECT_NE(alice->agent, bob->agent);
  EXPECT_NE(alice->set_cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(alice->set_cookie.find("SameSite=Strict"), std::string::npos);

  Editor a(server.port(), *alice, s, 7);
  Editor b(server.port(), *bob, s, 7, /*json_form=*/true);
  ASSERT_TRUE(a.open());
  ASSERT_TRUE(b.open());
  std::u32string want;
  for (int i = 0; i < 20; ++i) {
    const std::u32string word = U"w" + std::u32string(1, static_cast<char32_t>(U'a' + i));
    a.insert(a.text().size(), word);
    ASSERT_TRUE(a.sync());
    want += word;
    // Acknowledged means committed: the store's copy has it now.
    EXPECT_EQ(document_text(server.port(), alice->token, 7), utf8_encode(want));
  }
  ASSERT_TRUE(b.wait_text(want));
  // And the JSON client's edits reach the binary client.
  b.insert(0, U"B");
  ASSERT_TRUE(b.sync());
  ASSERT_TRUE(a.wait_text(U"B" + want));
  EXPECT_EQ(document_text(server.port(), bob->token, 7), utf8_encode(U"B" + want));

  const std::string m = http_request(server.port(), http::verb::get, "/metrics").body;
  EXPECT_EQ(metric(m, "convlab_edits_acknowledged_total"), metric(m, "convlab_edits_received_total"));
  EXPECT_GE(metric(m, "convlab_edits_acknowledged_total"), 21);
  EXPECT_GE(metric(m, "convlab_fanout_deliveries_total"), 1);
  // One append to the store per edit received (the server counts "append" apart, per edit).
  EXPECT_EQ(metric(m, "convlab_store_requests_total{kind=\"append\"}"), metric(m, "convlab_edits_received_total"));
  EXPECT_EQ(server.stop(), 0) << server.stderr_text();
}

INSTANTIATE_TEST_SUITE_P(Strategies, PerStrategy, ::testing::Values("lww", "seq", "ot", "crdt"));

// A document's strategy is recorded on first use; a server configured otherwise refuses it. A
// single-writer document is served by its home node only.
// Versions on the wire (docs/protocol.md, "Versions"): a client whose hello asks gets, before
// its welcome, the log index the welcome's state is as of, and before each acknowledgement the
// log index of the committed write — the same numbers GET /api/documents/{id} answers as
// `version`. A client that does not ask gets no version frame. The read takes the session's last
// acknowledged version in X-Convlab-Session-Version (a malformed one is 400).
TEST_P(PerStrategy, VersionsOnWelcomeAndAck) {
  CONVLAB_PG_URL_OR_SKIP(url);
  const Strategy& s = *find_strategy(GetParam());
  START_SERVER(server, yaml_for(url, GetParam()));
  auto alice = login(server.port(), "alice", "alice-pw");
  auto bob = login(server.port(), "bob", "bob-pw");
  ASSERT_TRUE(alice && bob);
  VersionedEditor a(server.port(), *alice, s, 9);
  ASSERT_TRUE(a.open());
  ASSERT_EQ(a.versions.size(), 1u);
  EXPECT_EQ(a.versions[0], std::make_pair(FrameKind::kWelcome, std::uint64_t{0}));
  std::uint64_t last = 0;
  for (int i = 0; i < 6; ++i) {
    a.insert(a.text().size(), U"w" + std::u32string(1, static_cast<char32_t>(U'a' + i)));
    ASSERT_TRUE(a.sync());
    ASSERT_FALSE(a.versions.empty());
    const auto [kind, v] = a.versions.back();
    EXPECT_EQ(kind, FrameKind::kDeliver) << "an ack's version comes just before the acknowledgement";
    EXPECT_GT(v, last) << "edit " << i;
    last = v;
    const HttpAnswer got = http_request(server.port(), http::verb::get, "/api/documents/9", {}, alice->token);
    ASSERT_EQ(got.status, 200) << got.body;
    EXPECT_EQ(got.json().at("version").to_number<std::uint64_t>(), v) << "edit " << i << ": the ack's index is the log's";
  }
  EXPECT_EQ(a.versions.size(), 7u) << "one per welcome and per acknowledged edit";
  // A later welcome, JSON form, says the log's length after those edits.
  VersionedEditor b(server.port(), *bob, s, 9, /*json_form=*/true);
  ASSERT_TRUE(b.open());
  ASSERT_EQ(b.versions.size(), 1u);
  EXPECT_EQ(b.versions[0], std::make_pair(FrameKind::kWelcome, last));
  // Not asked: none, in either form.
  for (const bool json_form : {false, true}) {
    VersionedEditor c(server.port(), *bob, s, 9, json_form, /*ask=*/false);
    ASSERT_TRUE(c.open());
    c.insert(0, U"c");
    ASSERT_TRUE(c.sync());
    EXPECT_TRUE(c.versions.empty()) << (json_form ? "json" : "binary");
  }
  // The session's version on a read: a number is taken, anything else refused.
  const HttpAnswer with = get_with_session_version(server.port(), alice->token, 9, std::to_string(last));
  EXPECT_EQ(with.status, 200) << with.body;
  const HttpAnswer bad = get_with_session_version(server.port(), alice->token, 9, "7x");
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_NE(bad.body.find("X-Convlab-Session-Version"), std::string::npos) << bad.body;
  EXPECT_EQ(server.stop(), 0) << server.stderr_text();
}

// A subscribe (a client showing a state it loaded over the API: an adopted reload) may ask for
// version frames as a hello does — binary: one byte 1 after the version; JSON: "versions": true.
// Here the load is older than the document, so the server welcomes the subscriber (catch-up):
// the welcome comes after a version frame with the log's length only when it asked.
TEST(ServerVersions, ASubscribeAsksForVersionFramesAsAHelloDoes) {
  CONVLAB_PG_URL_OR_SKIP(url);
  const Strategy& s = *find_strategy("crdt");
  START_SERVER(server, yaml_for(url, "crdt"));
  auto alice = login(server.port(), "alice", "alice-pw");
  ASSERT_TRUE(alice);
  Editor a(server.port(), *alice, s, 9);
  ASSERT_TRUE(a.open());
  for (int i = 0; i < 3; ++i) {
    a.insert(0, U"x");
    ASSERT_TRUE(a.sync());
  }
  {  // binary, asking: version 3, then the welcome
    Ws ws(server.port(), alice->token);
    ws.send_binary(frame_bytes(FrameKind::kSubscribe, 9, encode_subscribe(0, /*versions=*/true)));
    auto m = ws.read();
    ASSERT_TRUE(m);
    Frame f = decode_message(*m);
    ASSERT_EQ(f.kind, FrameKind::kVersion);
    auto v = decode_version(f.payload);
    ASSERT_TRUE(v);
    EXPECT_EQ(*v, 3u);
    m = ws.read();
    ASSERT_TRUE(m);
    EXPECT_EQ(decode_message(*m).kind, FrameKind::kWelcome);
  }
  {  // binary, not asking: the welcome alone
    Ws ws(server.port(), alice->token);
    ws.send_binary(frame_bytes(FrameKind::kSubscribe, 9, encode_subscribe(0)));
    auto m = ws.read();
    ASSERT_TRUE(m);
    EXPECT_EQ(decode_message(*m).kind, FrameKind::kWelcome);
  }
  {  // JSON, asking
    Ws ws(server.port(), alice->token);
    ws.send_text(R"({"type":"subscribe","doc":9,"version":0,"versions":true})");
    auto m = ws.read();
    ASSERT_TRUE(m && m->text);
    EXPECT_EQ(m->data, R"({"type":"version","doc":9,"version":3})");
    m = ws.read();
    ASSERT_TRUE(m && m->text);
    EXPECT_NE(m->data.find(R"("type":"welcome")"), std::string::npos) << m->data;
  }
  {  // a byte after the version other than 1: refused, the connection stays
    Ws ws(server.port(), alice->token);
    ws.send_binary(frame_bytes(FrameKind::kSubscribe, 9, {0, 2}));
    auto m = ws.read();
    ASSERT_TRUE(m);
    Frame f = decode_message(*m);
    EXPECT_EQ(f.kind, FrameKind::kRefused);
    EXPECT_EQ(f.text.rfind("bad subscribe: ", 0), 0u) << f.text;
  }
  {  // "versions" not a boolean: closed 4002, as on a hello
    Ws ws(server.port(), alice->token);
    ws.send_text(R"({"type":"subscribe","doc":9,"version":0,"versions":1})");
    EXPECT_EQ(ws.read_until_close(), 4002);
  }
  EXPECT_EQ(server.stop(), 0) << server.stderr_text();
}

TEST(ServerDocuments, StrategyClaimsAndHomeNodes) {
  CONVLAB_PG_URL_OR_SKIP(url);
  {
    START_SERVER(first, yaml_for(url, "crdt", "documents:\n  5: ot\n"));
    auto alice = login(first.port(), "alice", "alice-pw");
    ASSERT_TRUE(alice);
    Editor e(first.port(), *alice, *find_strategy("ot"), 5);
    ASSERT_TRUE(e.open());
    e.insert(0, U"ot here");
    ASSERT_TRUE(e.sync());
    HttpAnswer a = http_request(first.port(), http::verb::get, "/api/documents/5", {}, alice->token);
    EXPECT_EQ(a.json().at("strategy"), "ot");
  }
  START_SERVER(second, yaml_for(url, "crdt", "nodes: 2\nnode_id: 0\ndocuments:\n  11: seq\n"));
  auto alice = login(second.port(), "alice", "alice-pw");
  ASSERT_TRUE(alice);
  Ws ws(second.port(), alice->token);
  ws.send_binary(frame_bytes(FrameKind::kHello, 5));
  auto m = ws.read();
  ASSERT_TRUE(m);
  Frame f = decode_message(*m);
  EXPECT_EQ(f.kind, FrameKind::kRefused);
  EXPECT_EQ(f.text.rfind("strategy mismatch: document 5 uses ot", 0), 0u) << f.text;
  EXPECT_EQ(http_request(second.port(), http::verb::get, "/api/documents/5", {}, alice->token).status, 409);
  ws.send_binary(frame_bytes(FrameKind::kHello, 11));  // seq, home is node 1
  m = ws.read();
  ASSERT_TRUE(m);
  f = decode_message(*m);
  EXPECT_EQ(f.kind, FrameKind::kRefused);
  EXPECT_EQ(f.text, "not home: document 11 lives on node 1");
}

// A PostgreSQL cluster of the test's own (scripts/pg.sh), to crash.
class OwnPg {
 public:
  OwnPg() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "convlab-srvpg.XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
    url_ = run("start");
  }
  ~OwnPg() {
    run("stop");
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  const std::string& url() const { return url_; }
  void crash() { run("crash"); }

 private:
  std::string run(const std::string& what) {
    const std::string cmd = std::string(CONVLAB_SOURCE_DIR) + "/scripts/pg.sh " + what + " " + dir_;
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) return out;
    char buf[512];
    while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
    ::pclose(p);
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
  }
  std::string dir_;
  std::string url_;
};

// A read of a document the server has seen, while the database is down: 503 with a JSON error
// once limits.api_read_timeout_ms has passed, not an answer that never comes.
TEST(ServerDocuments, ReadWhileDatabaseDownTimesOut) {
  if (!std::filesystem::exists("/usr/lib/postgresql/15/bin/initdb")) {
    GTEST_SKIP() << "PostgreSQL 15 server binaries are not installed (/usr/lib/postgresql/15/bin)";
  }
  OwnPg pg;
  ASSERT_FALSE(pg.url().empty());
  START_SERVER(server, yaml_for(pg.url(), "ot", "limits:\n  api_read_timeout_ms: 300\n"));
  auto alice = login(server.port(), "alice", "alice-pw");
  ASSERT_TRUE(alice);
  Editor a(server.port(), *alice, *find_strategy("ot"), 9);
  ASSERT_TRUE(a.open());
  a.insert(0, U"seen");
  ASSERT_TRUE(a.sync());
  EXPECT_EQ(document_text(server.port(), alice->token, 9), "seen");
  pg.crash();
  HttpAnswer r = http_request(server.port(), http::verb::get, "/api/documents/9", {}, alice->token);
  EXPECT_EQ(r.status, 503) << r.body;
  ASSERT_TRUE(r.json().is_object()) << r.body;
  EXPECT_NE(std::string(r.json().at("error").as_string()).find("store unavailable"), std::string::npos) << r.body;
  EXPECT_EQ(http_request(server.port(), http::verb::get, "/healthz").status, 200);
  const std::string m = http_request(server.port(), http::verb::get, "/metrics").body;
  EXPECT_EQ(metric(m, "convlab_api_read_timeouts_total"), 1);
}

}  // namespace
}  // namespace convlab::test
