// The real convlab-server, end to end: the binary as a child process, real sockets, real
// PostgreSQL (CONVLAB_PG_URL; a fresh database per test), real promtool.
#include "tests/server/client.hpp"

#include "server/auth/jwt.hpp"
#include "server/core/protocol.hpp"
#include "server/core/utf8.hpp"
#include "server/net/peer_wire.hpp"
#include "server/strategies/registry.hpp"
#include "tests/pg/pg_fixture.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <map>
#include <regex>
#include <thread>

namespace convlab::test {
namespace {

constexpr const char* kSecret = "test-secret-0123456789abcdef-0123456789";

std::string yaml_for(const std::string& url, const std::string& strategy, const std::string& extra = {}) {
  return "listen: 127.0.0.1:0\n"
         "database: \"" + url + "\"\n"
         "strategy: " + strategy + "\n"
         "jwt:\n"
         "  secret: \"" + kSecret + "\"\n"
         "users:\n"
         "  alice: alice-pw\n"
         "  bob: bob-pw\n"
         "lab_password: lab-pw\n" + extra;
}

Bytes frame_bytes(FrameKind kind, std::uint32_t doc, Bytes payload = {}) {
  return encode_frame(Frame{kind, doc, std::move(payload), {}});
}

// A client replica of one document on one WebSocket, speaking binary or JSON frames.
class Editor {
 public:
  Editor(unsigned short port, const Login& l, const Strategy& s, std::uint32_t doc, bool json_form = false)
      : ws(port, l.token), strategy_(s), doc_(doc), json_(json_form), replica_(s.make_client(l.agent)) {}

  // hello, then the welcome.
  ::testing::AssertionResult open() {
    if (json_) {
      ws.send_text(R"({"type":"hello","doc":)" + std::to_string(doc_) + "}");
    } else {
      ws.send_binary(frame_bytes(FrameKind::kHello, doc_));
    }
    for (int i = 0; i < 100; ++i) {
      auto f = next();
      if (!f) return ::testing::AssertionFailure() << "no welcome; closed with " << ws.close_code();
      if (f->kind == FrameKind::kRefused) return ::testing::AssertionFailure() << "refused: " << f->text;
      if (f->kind == FrameKind::kWelcome) {
        auto back = replica_->receive(f->payload);
        if (!back) return ::testing::AssertionFailure() << "welcome does not apply: " << back.error().message;
        send_all(*back);
        return ::testing::AssertionSuccess();
      }
    }
    return ::testing::AssertionFailure() << "no welcome among 100 frames";
  }

  void insert(std::uint64_t pos, const std::u32string& text) {
    send_all(replica_->local_edit(Splice{pos, 0, text}, 1000));
  }

  // Reads and applies frames until every local edit is acknowledged (bounded).
  ::testing::AssertionResult sync() {
    for (int i = 0; i < 10000 && !replica_->synced(); ++i) {
      auto f = next();
      if (!f) return ::testing::AssertionFailure() << "connection ended (close " << ws.close_code() << " "
                                                   << ws.close_reason() << ") before the acknowledgement";
      if (auto r = apply(*f); !r) return r;
    }
    return replica_->synced() ? ::testing::AssertionSuccess() : ::testing::AssertionFailure() << "never synced";
  }

  // Reads and applies frames until the text is `want` (bounded).
  ::testing::AssertionResult wait_text(const std::u32string& want) {
    for (int i = 0; i < 10000 && replica_->text() != want; ++i) {
      auto f = next();
      if (!f) return ::testing::AssertionFailure() << "connection ended; text is '" << utf8_encode(replica_->text()) << "'";
      if (auto r = apply(*f); !r) return r;
    }
    if (replica_->text() == want) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "after 10000 frames the text is '" << utf8_encode(replica_->text())
                                         << "', not '" << utf8_encode(want) << "'";
  }

  std::u32string text() const { return replica_->text(); }
  bool synced() const { return replica_->synced(); }
  std::vector<std::string> refusals;

  std::optional<Frame> next() {
    auto m = ws.read();
    if (!m) return std::nullopt;
    if (m->text != json_) {
      ADD_FAILURE() << "answer in the other form than the client's";
    }
    if (!m->text) {
      auto f = decode_frame(std::span(reinterpret_cast<const std::uint8_t*>(m->data.data()), m->data.size()));
      EXPECT_TRUE(f.has_value()) << "server sent an undecodable frame";
      return f ? std::optional<Frame>(std::move(*f)) : std::nullopt;
    }
    json::value v = json::parse(m->data);
    Frame f;
    f.doc = static_cast<std::uint32_t>(v.at("doc").to_number<std::uint64_t>());
    const std::string type(v.at("type").as_string());
    if (type == "welcome" || type == "deliver") {
      f.kind = type == "welcome" ? FrameKind::kWelcome : FrameKind::kDeliver;
      auto b = strategy_.from_json(v.at("msg"));
      EXPECT_TRUE(b.has_value());
      if (b) f.payload = std::move(*b);
    } else if (type == "refused") {
      f.kind = FrameKind::kRefused;
      f.text = std::string(v.at("reason").as_string());
    } else {
      f.kind = FrameKind::kTitle;
    }
    return f;
  }

  Ws ws;

  ::testing::AssertionResult apply(const Frame& f) {
    if (f.kind == FrameKind::kRefused) {
      refusals.push_back(f.text);
      return ::testing::AssertionSuccess();
    }
    if (f.kind != FrameKind::kDeliver) return ::testing::AssertionSuccess();
    auto back = replica_->receive(f.payload);
    if (!back) return ::testing::AssertionFailure() << "deliver does not apply: " << back.error().message;
    send_all(*back);
    return ::testing::AssertionSuccess();
  }

 private:
  void send_all(const std::vector<Bytes>& msgs) {
    for (const Bytes& m : msgs) {
      if (json_) {
        auto j = strategy_.to_json(m);
        ASSERT_TRUE(j.has_value());
        json::object o;
        o["type"] = "edit";
        o["doc"] = doc_;
        o["msg"] = *j;
        ws.send_text(json::serialize(o));
      } else {
        ws.send_binary(frame_bytes(FrameKind::kEdit, doc_, m));
      }
    }
  }

  const Strategy& strategy_;
  std::uint32_t doc_;
  bool json_;
  std::unique_ptr<ClientReplica> replica_;
};

std::string document_text(unsigned short port, const std::string& token, std::uint32_t doc) {
  HttpAnswer a = http_request(port, http::verb::get, "/api/documents/" + std::to_string(doc), {}, token);
  EXPECT_EQ(a.status, 200) << a.body;
  if (a.status != 200) return {};
  return std::string(a.json().at("text").as_string());
}

// The value of a metric series (exact name with labels) in /metrics, or -1 when absent.
double metric(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

#define START_SERVER(var, yaml)                                                                   \
  ServerProcess var(yaml);                                                                         \
  ASSERT_TRUE(var.started()) << "first line '" << var.first_line() << "'; stderr:\n" << var.stderr_text()

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

std::string b64url(std::string_view in) { return auth::detail::base64url_encode(in); }

auth::Claims claims_now(std::int64_t exp_offset_s) {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
  auth::Claims c;
  c.user = 1;
  c.sub = "alice";
  c.agent = 999;
  c.jti = "forged-" + std::to_string(now) + std::to_string(exp_offset_s);
  c.iss = "convlab";
  c.aud = "convlab";
  c.iat = now - 100;
  c.nbf = now - 100;
  c.exp = now + exp_offset_s;
  return c;
}

int connect_close_code(unsigned short port, const std::string& token, Ws::Auth how = Ws::Auth::kBearer) {
  Ws ws(port, token, how);
  return ws.read_until_close();
}

// Every malformed input is answered with its documented code or refusal; the server keeps
// answering /healthz and loses nothing it acknowledged.
TEST(ServerInput, MalformedInputMatrix) {
  CONVLAB_PG_URL_OR_SKIP(url);
  const Strategy& s = *find_strategy("crdt");
  START_SERVER(server, yaml_for(url, "crdt",
                                "limits:\n"
                                "  max_message_bytes: 2048\n"
                                "  max_document_id: 1000\n"));
  const unsigned short port = server.port();
  auto alice = login(port, "alice", "alice-pw");
  ASSERT_TRUE(alice);
  EXPECT_EQ(http_request(port, http::verb::post, "/login", R"({"user":"alice","password":"nope"})").status, 401);
  EXPECT_EQ(http_request(port, http::verb::post, "/login", R"({"user":3})").status, 400);

  Editor a(port, *alice, s, 3);
  ASSERT_TRUE(a.open());
  a.insert(0, U"kept");
  ASSERT_TRUE(a.sync());
  auto healthy = [&] {
    HttpAnswer h = http_request(port, http::verb::get, "/healthz");
    EXPECT_EQ(h.status, 200);
    EXPECT_EQ(h.json().at("db"), "up");
  };

  auto closes_with = [&](auto send, int code, const char* what) {
    Ws ws(port, alice->token);
    send(ws);
    EXPECT_EQ(ws.read_until_close(), code) << what << ": " << ws.close_reason();
    healthy();
  };
  closes_with([](Ws& w) { w.send_text("{not json"); }, 4001, "bad JSON");
  closes_with([](Ws& w) { w.send_text(R"({"type":"hello","doc":"seven"})"); }, 4002, "doc of the wrong type");
  closes_with([](Ws& w) { w.send_text(R"({"doc":1})"); }, 4002, "no type");
  closes_with([](Ws& w) { w.send_text(R"({"type":"edit","doc":3,"msg":{"bogus":true}})"); }, 4002, "msg the strategy cannot read");
  closes_with([](Ws& w) { w.send_text(R"({"type":"explode","doc":1})"); }, 4003, "unknown JSON type");
  closes_with([](Ws& w) { w.send_binary({9, 1, 0}); }, 4000, "unknown binary kind");
  closes_with([](Ws& w) { w.send_binary({1, 0x80}); }, 4000, "truncated varint");
  closes_with([](Ws& w) { w.send_binary(frame_bytes(FrameKind::kWelcome, 1)); }, 4003, "server-only frame");
  closes_with([](Ws& w) { w.send_binary(std::vector<std::uint8_t>(4096, 2)); }, 1009, "oversized binary");
  closes_with([](Ws& w) { w.send_text(std::string(3000, ' ')); }, 1009, "oversized text");

  {  // unknown document: refused, connection stays
    Ws ws(port, alice->token);
    ws.send_binary(frame_bytes(FrameKind::kHello, 5000));
    auto m = ws.read();
    ASSERT_TRUE(m);
    auto f = decode_frame(std::span(reinterpret_cast<const std::uint8_t*>(m->data.data()), m->data.size()));
    ASSERT_TRUE(f && f->kind == FrameKind::kRefused);
    EXPECT_EQ(f->text, "unknown document 5000");
    // An edit for a document this connection never opened: refused too.
    ws.send_binary(frame_bytes(FrameKind::kEdit, 3, {1, 2, 3}));
    m = ws.read();
    ASSERT_TRUE(m);
    f = decode_frame(std::span(reinterpret_cast<const std::uint8_t*>(m->data.data()), m->data.size()));
    ASSERT_TRUE(f && f->kind == FrameKind::kRefused);
    EXPECT_EQ(f->text.rfind("edit for a document", 0), 0u) << f->text;
  }
  // Tokens.
  EXPECT_EQ(connect_close_code(port, "", Ws::Auth::kNone), 4401);
  EXPECT_EQ(connect_close_code(port, "not.a.jwt"), 4401);
  EXPECT_EQ(connect_close_code(port, auth::sign_hs256(claims_now(-60), kSecret)), 4402);
  EXPECT_EQ(connect_close_code(port, auth::sign_hs256(claims_now(600), "another-secret-0123456789abcdef0123")), 4401);
  {
    const std::string payload = b64url(R"({"uid":1,"sub":"alice","agt":5,"jti":"x","iss":"convlab","aud":"convlab","iat":1,"nbf":1,"exp":99999999999})");
    EXPECT_EQ(connect_close_code(port, b64url(R"({"alg":"none","typ":"JWT"})") + "." + payload + "."), 4401);
  }
  // The token through the cookie and the query string works as the bearer does.
  {
    Ws c(port, alice->token, Ws::Auth::kCookie);
    c.send_binary(frame_bytes(FrameKind::kHello, 3));
    auto m = c.read();
    ASSERT_TRUE(m) << c.close_code();
    EXPECT_EQ(m->data[0], static_cast<char>(FrameKind::kWelcome));
    Ws q(port, alice->token, Ws::Auth::kQuery);
    q.send_binary(frame_bytes(FrameKind::kHello, 3));
    ASSERT_TRUE(q.read()) << q.close_code();
  }
  // HTTP with bad tokens.
  EXPECT_EQ(http_request(port, http::verb::get, "/api/documents/3").status, 401);
  EXPECT_EQ(http_request(port, http::verb::get, "/api/documents/3", {}, "x.y.z").status, 401);
  EXPECT_EQ(http_request(port, http::verb::get, "/api/documents/abc", {}, alice->token).status, 400);
  EXPECT_EQ(http_request(port, http::verb::get, "/api/documents/5000", {}, alice->token).status, 404);
  HttpAnswer doc = http_request(port, http::verb::get, "/api/documents/3", {}, alice->token);
  EXPECT_EQ(doc.raw[http::field::cache_control], "no-store");

  // Revocation: a connection open with the token is closed; the token no longer connects, on
  // WebSocket or HTTP; a new login works.
  {
    auto victim = login(port, "alice", "alice-pw");
    ASSERT_TRUE(victim);
    Ws open(port, victim->token);
    open.send_binary(frame_bytes(FrameKind::kHello, 3));
    ASSERT_TRUE(open.read());
    EXPECT_EQ(http_request(port, http::verb::post, "/logout", {}, {}, "convlab_token=" + victim->token).status, 200);
    EXPECT_EQ(open.read_until_close(), 4403);
    EXPECT_EQ(connect_close_code(port, victim->token), 4403);
    EXPECT_EQ(http_request(port, http::verb::get, "/api/documents/3", {}, victim->token).status, 403);
    EXPECT_EQ(http_request(port, http::verb::post, "/refresh", R"({"refresh_token":")" + victim->refresh + "\"}").status, 401);
  }
  healthy();
  // Nothing acknowledged was lost along the way.
  EXPECT_EQ(document_text(port, alice->token, 3), "kept");

  const std::string m = http_request(port, http::verb::get, "/metrics").body;
  EXPECT_GE(metric(m, R"(convlab_tokens_refused_total{reason="missing"})"), 2);  // WS + HTTP
  EXPECT_GE(metric(m, R"(convlab_tokens_refused_total{reason="expired"})"), 1);
  EXPECT_GE(metric(m, R"(convlab_tokens_refused_total{reason="signature"})"), 1);
  EXPECT_GE(metric(m, R"(convlab_tokens_refused_total{reason="algorithm"})"), 1);
  EXPECT_GE(metric(m, R"(convlab_tokens_refused_total{reason="revoked"})"), 2);
  EXPECT_EQ(metric(m, R"(convlab_connections_closed_total{code="4001"})"), 1);
  EXPECT_EQ(metric(m, R"(convlab_connections_closed_total{code="1009"})"), 2);
  EXPECT_EQ(metric(m, R"(convlab_logins_total{result="bad_credentials"})"), 1);
  EXPECT_EQ(server.stop(), 0) << server.stderr_text();
}

// ---------------------------------------------------------------------------------------------
// convlab/2 (docs/protocol.md, "Batches"): several frames per WebSocket message.

// The frames of the next message in binary form (`max_frames` 1: convlab/1, where a message must
// be exactly one frame); empty when the connection ended or nothing came.
std::vector<Frame> read_frames(Ws& ws, std::size_t max_frames) {
  auto m = ws.read();
  if (!m) return {};
  EXPECT_FALSE(m->text) << "a text message to a binary client";
  std::vector<FrameView> views;
  const auto bytes = std::span(reinterpret_cast<const std::uint8_t*>(m->data.data()), m->data.size());
  auto ok = decode_batch(bytes, views, max_frames);
  EXPECT_TRUE(ok.has_value()) << (ok ? std::string() : ok.error().message);
  if (max_frames == 1) {
    EXPECT_TRUE(decode_frame(bytes).has_value()) << "not exactly one frame";
  }
  std::vector<Frame> out;
  for (const FrameView& v : views) out.push_back(to_frame(v));
  return out;
}

// A client replica behind a Ws in binary form, counting messages and the frames they carried.
struct BatchReader {
  BatchReader(Ws& w, const Strategy& s, std::uint32_t agent, std::size_t max_frames)
      : ws(w), replica(s.make_client(agent)), max(max_frames) {}
  // Reads messages and applies their frames until `done()` (bounded).
  ::testing::AssertionResult until(const std::function<bool()>& done) {
    for (int i = 0; i < 2000 && !done(); ++i) {
      std::vector<Frame> frames = read_frames(ws, max);
      if (frames.empty()) return ::testing::AssertionFailure() << "no message; close " << ws.close_code();
      ++messages;
      most = std::max(most, frames.size());
      for (const Frame& f : frames) {
        ++frame_count;
        if (f.kind != FrameKind::kWelcome && f.kind != FrameKind::kDeliver) continue;
        if (auto r = replica->receive(f.payload); !r) return ::testing::AssertionFailure() << r.error().message;
      }
    }
    return done() ? ::testing::AssertionSuccess() : ::testing::AssertionFailure() << "never done";
  }
  Ws& ws;
  std::unique_ptr<ClientReplica> replica;
  std::size_t max;
  std::size_t messages = 0, frame_count = 0, most = 0;
};

// One writer sends 40 edits in one convlab/2 message; the server applies them in one go and
// fans them out: a convlab/2 watcher gets them in fewer messages than frames (binary frames back
// to back, or a JSON array), a convlab/1 watcher gets exactly one frame per message; all converge
// on the writer's text, which is what PostgreSQL holds.
TEST(ServerBatch, V2BatchesV1OneFramePerMessage) {
  CONVLAB_PG_URL_OR_SKIP(url);
  const Strategy& s = *find_strategy("crdt");
  START_SERVER(server, yaml_for(url, "crdt"));
  const unsigned short port = server.port();
  auto alice = login(port, "alice", "alice-pw");
  auto bob = login(port, "bob", "bob-pw");
  auto carol = login(port, "carol", "lab-pw");
  auto dave = login(port, "dave", "lab-pw");
  ASSERT_TRUE(alice && bob && carol && dave);
  constexpr std::uint32_t kDoc = 11;

  Ws writer_ws(port, alice->token, Ws::Auth::kBearer, "/ws", "convlab/2, convlab/1");
  Ws v2_ws(port, bob->token, Ws::Auth::kBearer, "/ws", "convlab/2");
  Ws v1_ws(port, carol->token);  // offers convlab/1 only
  Ws json_ws(port, dave->token, Ws::Auth::kBearer, "/ws", "convlab/1, convlab/2");
  EXPECT_EQ(writer_ws.protocol(), "convlab/2");
  EXPECT_EQ(v2_ws.protocol(), "convlab/2");
  EXPECT_EQ(v1_ws.protocol(), "convlab/1");
  EXPECT_EQ(json_ws.protocol(), "convlab/2");

  BatchReader writer(writer_ws, s, alice->agent, kMaxBatchFrames);
  BatchReader v2(v2_ws, s, bob->agent, kMaxBatchFrames);
  BatchReader v1(v1_ws, s, carol->agent, 1);
  for (BatchReader* r : {&writer, &v2, &v1}) {
    r->ws.send_binary(frame_bytes(FrameKind::kHello, kDoc));
    ASSERT_TRUE(r->until([&] { return r->frame_count > 0; }));
  }
  auto json_replica = s.make_client(dave->agent);
  std::size_t json_messages = 0, json_arrays = 0, json_frames = 0;
  auto json_read = [&] {
    auto m = json_ws.read();
    if (!m) return false;
    EXPECT_TRUE(m->text);
    ++json_messages;
    json::value v = json::parse(m->data);
    std::vector<json::value> frames;
    if (v.is_array()) {
      ++json_arrays;
      EXPECT_GE(v.as_array().size(), 2u) << "an array of one frame";
      for (const json::value& f : v.as_array()) frames.push_back(f);
    } else {
      frames.push_back(v);
    }
    for (const json::value& f : frames) {
      ++json_frames;
      const std::string type(f.at("type").as_string());
      if (type != "welcome" && type != "deliver") continue;
      auto bytes = s.from_json(f.at("msg"));
      EXPECT_TRUE(bytes.has_value());
      if (bytes) {
        EXPECT_TRUE(json_replica->receive(*bytes).has_value());
      }
    }
    return true;
  };
  json_ws.send_text(R"({"type":"hello","doc":11})");
  ASSERT_TRUE(json_read());

  // 40 keystrokes, one message.
  std::vector<Frame> edits;
  for (int i = 0; i < 40; ++i) {
    const std::u32string c(1, static_cast<char32_t>(U'a' + i % 26));
    for (Bytes& m : writer.replica->local_edit(Splice{writer.replica->length(), 0, c}, 1000)) {
      edits.push_back(Frame{FrameKind::kEdit, kDoc, std::move(m), {}});
    }
  }
  ASSERT_EQ(edits.size(), 40u);
  writer_ws.send_binary(encode_batch(edits));
  const std::u32string want = writer.replica->text();
  ASSERT_TRUE(writer.until([&] { return writer.replica->synced(); }));
  ASSERT_TRUE(v2.until([&] { return v2.replica->text() == want; }));
  ASSERT_TRUE(v1.until([&] { return v1.replica->text() == want; }));
  for (int i = 0; i < 2000 && json_replica->text() != want; ++i) ASSERT_TRUE(json_read());
  EXPECT_EQ(json_replica->text(), want);

  // convlab/2: several frames in one message; convlab/1: one each (read_frames checked).
  EXPECT_GE(v2.most, 2u);
  EXPECT_LT(v2.messages, v2.frame_count);
  EXPECT_GE(json_arrays, 1u);
  EXPECT_LT(json_messages, json_frames);
  EXPECT_EQ(v1.most, 1u);
  EXPECT_EQ(v1.messages, v1.frame_count);
  EXPECT_GE(v1.frame_count, 41u);  // the welcome and every edit
  EXPECT_EQ(document_text(port, alice->token, kDoc), utf8_encode(want));

  const std::string m = http_request(port, http::verb::get, "/metrics").body;
  EXPECT_EQ(metric(m, "convlab_edits_acknowledged_total"), 40);
  EXPECT_LT(metric(m, R"(convlab_ws_messages_sent_total{protocol="convlab/2"})"),
            metric(m, R"(convlab_frames_sent_total{type="deliver"})"));
  EXPECT_EQ(server.stop(), 0) << server.stderr_text();
}

// A malformed convlab/2 message is refused as a whole with the single-frame codes (4000
// truncated or garbage binary, 4002 a bad JSON batch); the server stays up and keeps every
// edit it acknowledged, and none of the refused message's frames.
TEST(ServerBatch, MalformedBatchClosesNothingAckedLost) {
  CONVLAB_PG_URL_OR_SKIP(url);
  const Strategy& s = *find_strategy("crdt");
  START_SERVER(server, yaml_for(url, "crdt"));
  const unsigned short port = server.port();
  auto alice = login(port, "alice", "alice-pw");
  ASSERT_TRUE(alice);
  constexpr std::uint32_t kDoc = 12;

  auto open_writer = [&](Ws& ws, BatchReader& r) {
    ws.send_binary(frame_bytes(FrameKind::kHello, kDoc));
    return r.until([&] { return r.frame_count > 0; });
  };
  auto healthy = [&] { EXPECT_EQ(http_request(port, http::verb::get, "/healthz").status, 200); };

  Ws ws(port, alice->token, Ws::Auth::kBearer, "/ws", "convlab/2");
  BatchReader w(ws, s, alice->agent, kMaxBatchFrames);
  ASSERT_TRUE(open_writer(ws, w));
  std::vector<Frame> edits;
  for (Bytes& m : w.replica->local_edit(Splice{0, 0, U"kept"}, 1000)) edits.push_back(Frame{FrameKind::kEdit, kDoc, m, {}});
  ws.send_binary(encode_batch(edits));
  ASSERT_TRUE(w.until([&] { return w.replica->synced(); }));
  const std::u32string acked = w.replica->text();

  // A good edit, then a frame cut short: the whole message is refused with 4000.
  Bytes bad;
  for (Bytes& m : w.replica->local_edit(Splice{0, 0, U"X"}, 1000)) append_frame(bad, FrameKind::kEdit, kDoc, m);
  bad.insert(bad.end(), {static_cast<std::uint8_t>(FrameKind::kEdit), kDoc, 40, 1, 2});
  ws.send_binary(bad);
  EXPECT_EQ(ws.read_until_close(), 4000) << ws.close_reason();
  healthy();

  auto closes_with = [&](auto send, int code, const char* what, const char* offer = "convlab/2") {
    Ws c(port, alice->token, Ws::Auth::kBearer, "/ws", offer);
    send(c);
    EXPECT_EQ(c.read_until_close(), code) << what << ": " << c.close_reason();
    healthy();
  };
  closes_with([&](Ws& c) { c.send_binary(encode_batch(std::vector<Frame>(kMaxBatchFrames + 1, Frame{FrameKind::kHello, kDoc, {}, {}}))); },
              4000, "more frames than a batch may hold");
  closes_with([&](Ws& c) { c.send_binary({static_cast<std::uint8_t>(FrameKind::kHello), kDoc, 0, 0xff}); }, 4000,
              "garbage after a frame");
  closes_with([&](Ws& c) { c.send_binary(encode_batch(std::vector<Frame>{Frame{FrameKind::kHello, kDoc, {}, {}}, Frame{FrameKind::kWelcome, kDoc, {}, {}}})); },
              4003, "a server-only frame in a batch");
  closes_with([](Ws& c) { c.send_text("[]"); }, 4002, "an empty JSON batch");
  closes_with([](Ws& c) { c.send_text(R"([{"type":"hello","doc":12},{"type":"hello"}])"); }, 4002, "a JSON batch with a bad frame");
  // convlab/1 keeps one frame per message: two are trailing bytes, an array is not a frame.
  closes_with([&](Ws& c) { c.send_binary(encode_batch(std::vector<Frame>(2, Frame{FrameKind::kHello, kDoc, {}, {}}))); },
              4000, "two frames under convlab/1", "convlab/1");
  closes_with([](Ws& c) { c.send_text(R"([{"type":"hello","doc":12}])"); }, 4002, "a JSON array under convlab/1",
              "convlab/1");

  // What was acknowledged is there; nothing of the refused message is.
  EXPECT_EQ(document_text(port, alice->token, kDoc), utf8_encode(acked));
  Ws again(port, alice->token, Ws::Auth::kBearer, "/ws", "convlab/2");
  BatchReader r(again, s, alice->agent, kMaxBatchFrames);
  ASSERT_TRUE(open_writer(again, r));
  EXPECT_EQ(r.replica->text(), acked);
  const std::string m = http_request(port, http::verb::get, "/metrics").body;
  EXPECT_EQ(metric(m, R"(convlab_connections_closed_total{code="4000"})"), 4);
  EXPECT_EQ(server.stop(), 0) << server.stderr_text();
}

TEST(ServerInput, RefreshRotatesTheRefreshToken) {
  CONVLAB_PG_URL_OR_SKIP(url);
  START_SERVER(server, yaml_for(url, "lww"));
  auto l = login(server.port(), "someone", "lab-pw");  // the lab password: any name
  ASSERT_TRUE(l);
  HttpAnswer r = http_request(server.port(), http::verb::post, "/refresh", R"({"refresh_token":")" + l->refresh + "\"}");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json().at("user_id").to_number<std::uint64_t>(), l->user);
  EXPECT_NE(r.json().at("agent").to_number<std::uint64_t>(), l->agent);
  // The old one is used up.
  EXPECT_EQ(http_request(server.port(), http::verb::post, "/refresh", R"({"refresh_token":")" + l->refresh + "\"}").status, 401);
  const std::string next(r.json().at("refresh_token").as_string());
  EXPECT_EQ(http_request(server.port(), http::verb::post, "/refresh", R"({"refresh_token":")" + next + "\"}").status, 200);
}

// A token that expires while its connection is open closes the connection with 4402.
TEST(ServerInput, TokenExpiringMidConnectionCloses4402) {
  CONVLAB_PG_URL_OR_SKIP(url);
  std::string y = yaml_for(url, "lww");
  y.replace(y.find("jwt:\n"), 5, "jwt:\n  token_lifetime_s: 2\n");
  START_SERVER(server, y);
  auto l = login(server.port(), "alice", "alice-pw");
  ASSERT_TRUE(l);
  Ws ws(server.port(), l->token);
  ws.send_binary(frame_bytes(FrameKind::kHello, 1));
  ASSERT_TRUE(ws.read());
  EXPECT_EQ(ws.read_until_close(std::chrono::seconds(30)), 4402) << ws.close_reason();
  EXPECT_EQ(connect_close_code(server.port(), l->token), 4402);
}

TEST(ServerLimits, RateLimitedClientIsRefusedOthersUnaffected) {
  CONVLAB_PG_URL_OR_SKIP(url);
  const Strategy& s = *find_strategy("crdt");
  START_SERVER(server, yaml_for(url, "crdt",
                                "policies:\n"
                                "  rate_limit: {user_per_s: 0.001, user_burst: 3}\n"));
  auto alice = login(server.port(), "alice", "alice-pw");
  auto bob = login(server.port(), "bob", "bob-pw");
  ASSERT_TRUE(alice && bob);
  Editor a(server.port(), *alice, s, 1);
  Editor b(server.port(), *bob, s, 1);
  ASSERT_TRUE(a.open());
  ASSERT_TRUE(b.open());
  for (int i = 0; i < 3; ++i) {
    a.insert(0, U"a");
    ASSERT_TRUE(a.sync());
  }
  // The fourth edit is over alice's burst: refused, named as such.
  a.insert(0, U"x");
  std::optional<Frame> f;
  for (int i = 0; i < 50; ++i) {
    f = a.next();
    if (!f || f->kind == FrameKind::kRefused) break;
  }
  ASSERT_TRUE(f && f->kind == FrameKind::kRefused);
  EXPECT_EQ(f->text.rfind("rate limited", 0), 0u) << f->text;
  // Bob writes on.
  b.insert(0, U"b");
  ASSERT_TRUE(b.sync());
  const std::string m = http_request(server.port(), http::verb::get, "/metrics").body;
  EXPECT_EQ(metric(m, R"(convlab_rate_limited_total{scope="user"})"), 1);
  EXPECT_EQ(metric(m, R"(convlab_edits_rejected_total{reason="rate_limit_user"})"), 1);
}

Frame decode_message(const Ws::Message& m) {
  auto f = decode_frame(std::span(reinterpret_cast<const std::uint8_t*>(m.data.data()), m.data.size()));
  EXPECT_TRUE(f.has_value());
  return f ? *f : Frame{};
}

// The idle timeout counts from the last message: a client that sends something every second
// outlives a 2 s timeout several times over, then is closed 2 s after it falls silent.
TEST(ServerLimits, ActivityPostponesTheIdleTimeout) {
  CONVLAB_PG_URL_OR_SKIP(url);
  START_SERVER(server, yaml_for(url, "crdt", "limits:\n  idle_timeout_ms: 2000\n"));
  const unsigned short port = server.port();
  auto alice = login(port, "alice", "alice-pw");
  ASSERT_TRUE(alice);
  Ws ws(port, alice->token);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 6; ++i) {
    ws.send_binary(frame_bytes(FrameKind::kHello, 1));
    ASSERT_TRUE(ws.read()) << "closed after " << i << " s: " << ws.close_code() << " " << ws.close_reason();
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::seconds(6));
  EXPECT_EQ(ws.read_until_close(std::chrono::seconds(30)), 4010);
}

TEST(ServerLimits, ConnectionDocumentIdleAndQueueLimits) {
  CONVLAB_PG_URL_OR_SKIP(url);
  const Strategy& s = *find_strategy("crdt");
  START_SERVER(server, yaml_for(url, "crdt",
                                "policies:\n"
                                "  rate_limit: {connection_per_s: 0.001, connection_burst: 40}\n"
                                "limits:\n"
                                "  max_connections: 3\n"
                                "  max_documents_per_connection: 2\n"
                                "  idle_timeout_ms: 3000\n"
                                "  max_outgoing_messages: 4\n"
                                "  max_message_bytes: 1048576\n"));
  const unsigned short port = server.port();
  auto alice = login(port, "alice", "alice-pw");
  ASSERT_TRUE(alice);
  {  // documents per connection, then the connection's own rate limit
    Ws ws(port, alice->token);
    for (std::uint32_t doc : {1u, 2u, 3u}) ws.send_binary(frame_bytes(FrameKind::kHello, doc));
    std::vector<Frame> got;
    for (int i = 0; i < 3; ++i) {
      auto m = ws.read();
      ASSERT_TRUE(m);
      got.push_back(decode_message(*m));
    }
    // Documents answer in any order between them; the third is the one refused.
    std::size_t refusals = 0;
    for (const Frame& f : got) {
      if (f.kind != FrameKind::kRefused) continue;
      ++refusals;
      EXPECT_EQ(f.doc, 3u);
      EXPECT_EQ(f.text, "too many documents on this connection (limit 2)");
    }
    EXPECT_EQ(refusals, 1u);
    for (int i = 0; i < 40; ++i) ws.send_binary(frame_bytes(FrameKind::kHello, 1));
    std::size_t limited = 0;
    for (int i = 0; i < 40; ++i) {
      auto m = ws.read();
      ASSERT_TRUE(m);
      const Frame f = decode_message(*m);
      if (f.kind == FrameKind::kRefused && f.text.rfind("rate limited (connection)", 0) == 0) ++limited;
    }
    EXPECT_EQ(limited, 3u);  // a burst of 40 frames: the 41st to 43rd are refused
    // Idle: nothing sent for 3 s.
    EXPECT_EQ(ws.read_until_close(std::chrono::seconds(30)), 4010);
  }
  {  // connections: 3 at most
    Ws a(port, alice->token);
    Ws b(port, alice->token);
    Ws c(port, alice->token);
    a.send_binary(frame_bytes(FrameKind::kHello, 1));
    b.send_binary(frame_bytes(FrameKind::kHello, 1));
    c.send_binary(frame_bytes(FrameKind::kHello, 1));
    ASSERT_TRUE(a.read() && b.read() && c.read());
    EXPECT_EQ(connect_close_code(port, alice->token), 1013);
  }
  {  // a slow consumer: a large document's welcome asked for again and again, never read
    Editor big(port, *alice, s, 9);
    ASSERT_TRUE(big.open());
    for (int i = 0; i < 4; ++i) {
      big.insert(0, std::u32string(200000, U'x'));
      ASSERT_TRUE(big.sync());
    }
    Ws slow(port, alice->token);
    // 30 welcomes of 800,000 characters: more than the kernel's socket buffers hold.
    for (int i = 0; i < 30; ++i) slow.send_binary(frame_bytes(FrameKind::kHello, 9));
    // Not reading: the socket buffers fill, the queue passes 4, the server cuts the client off.
    std::this_thread::sleep_for(std::chrono::seconds(1));
    EXPECT_EQ(slow.read_until_close(std::chrono::seconds(30)), 4008);
  }
  const std::string m = http_request(port, http::verb::get, "/metrics").body;
  EXPECT_EQ(metric(m, R"(convlab_rate_limited_total{scope="connection"})"), 3);
  EXPECT_GE(metric(m, R"(convlab_connections_closed_total{code="4010"})"), 1);
  EXPECT_EQ(metric(m, R"(convlab_connections_closed_total{code="1013"})"), 1);
  EXPECT_EQ(metric(m, R"(convlab_connections_closed_total{code="4008"})"), 1);
  EXPECT_EQ(metric(m, R"(convlab_frames_refused_total{reason="document_limit"})"), 1);
}

// A document's strategy is recorded on first use; a server configured otherwise refuses it. A
// single-writer document is served by its home node only.
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

TEST(ServerMetrics, PromtoolAcceptsTheExposition) {
  CONVLAB_PG_URL_OR_SKIP(url);
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  }
  const Strategy& s = *find_strategy("ot");
  START_SERVER(server, yaml_for(url, "ot"));
  auto alice = login(server.port(), "alice", "alice-pw");
  ASSERT_TRUE(alice);
  Editor a(server.port(), *alice, s, 2);
  ASSERT_TRUE(a.open());
  a.insert(0, U"hello");
  ASSERT_TRUE(a.sync());
  const std::string m = http_request(server.port(), http::verb::get, "/metrics").body;
  const auto file = temp_dir() / "metrics.txt";
  std::ofstream(file) << m;
  const std::string cmd = "promtool check metrics < " + file.string() + " > " + file.string() + ".out 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream out(file.string() + ".out");
  const std::string said((std::istreambuf_iterator<char>(out)), {});
  EXPECT_EQ(rc, 0) << said;
  EXPECT_EQ(said, "") << "promtool lint findings";
  EXPECT_EQ(metric(m, "convlab_edits_received_total"), 1);
  EXPECT_EQ(metric(m, "convlab_edits_acknowledged_total"), 1);
  EXPECT_EQ(metric(m, "convlab_edit_ack_seconds_count"), 1);
  EXPECT_GE(metric(m, "convlab_commit_seconds_count"), 1);
  EXPECT_GE(metric(m, "convlab_commit_batch_appends_count"), 1);
  EXPECT_EQ(metric(m, "convlab_connections"), 1);
  EXPECT_EQ(metric(m, "convlab_documents"), 1);
  EXPECT_EQ(metric(m, R"(convlab_logins_total{result="ok"})"), 1);
  EXPECT_EQ(metric(m, "convlab_db_up"), 1);
}

// SIGTERM: every edit the server acknowledged is durable, the clients get 1001, the exit is 0.
TEST(ServerShutdown, SigtermFlushesAndExitsZero) {
  CONVLAB_PG_URL_OR_SKIP(url);
  const Strategy& s = *find_strategy("crdt");
  constexpr int kEdits = 200;
  std::size_t refused = 0;
  std::string token;
  {
    START_SERVER(server, yaml_for(url, "crdt"));
    auto alice = login(server.port(), "alice", "alice-pw");
    ASSERT_TRUE(alice);
    token = alice->token;
    Editor a(server.port(), *alice, s, 4);
    ASSERT_TRUE(a.open());
    // Edits in flight (not waited for) when the signal comes.
    for (int i = 0; i < kEdits; ++i) a.insert(a.text().size(), U"z");
    EXPECT_EQ(server.stop(SIGTERM), 0) << server.stderr_text();
    for (int i = 0; i < 100000; ++i) {
      auto f = a.next();
      if (!f) break;
      ASSERT_TRUE(a.apply(*f));
    }
    EXPECT_EQ(a.ws.close_code(), 1001);
    for (const std::string& r : a.refusals) {
      EXPECT_EQ(r, "server shutting down");
      ++refused;
    }
    // Every edit was either acknowledged or refused before the close.
    EXPECT_TRUE(refused > 0 || a.synced());
  }
  START_SERVER(again, yaml_for(url, "crdt"));
  // Everything not refused was acknowledged, and is durable.
  EXPECT_EQ(document_text(again.port(), token, 4), std::string(kEdits - refused, 'z'));
}

TEST(ServerConfig, BadKeysAndValuesNameFileLineColumn) {
  ServerProcess bad("listen: 127.0.0.1:0\n"
                    "policies:\n"
                    "  propagation: carrier-pigeon\n"
                    "  bogus: 1\n"
                    "limits:\n"
                    "  max_message_bytes: lots\n"
                    "group_commit:\n"
                    "  pipeline: 3\n"
                    "  interval_ms: 1001\n");
  EXPECT_FALSE(bad.started());
  EXPECT_EQ(bad.wait(), 2);
  const std::string err = bad.stderr_text();
  EXPECT_TRUE(std::regex_search(err, std::regex(R"(server\.yaml:8:13: group_commit\.pipeline: 3 is out of range \[1, 2\])")))
      << err;
  EXPECT_TRUE(std::regex_search(err, std::regex(R"(server\.yaml:9:16: group_commit\.interval_ms: 1001 is out of range \[0, 1000\])")))
      << err;
  EXPECT_TRUE(std::regex_search(err, std::regex(R"(server\.yaml:3:16: policies\.propagation: expected bus or poll, got 'carrier-pigeon')")))
      << err;
  EXPECT_TRUE(std::regex_search(err, std::regex(R"(server\.yaml:4:3: policies\.bogus: unknown key)"))) << err;
  EXPECT_TRUE(std::regex_search(err, std::regex(R"(server\.yaml:6:22: limits\.max_message_bytes: expected a whole number)")))
      << err;
  // The documented example configuration is a valid one.
  std::ifstream example(std::string(CONVLAB_SOURCE_DIR) + "/docs/server.yaml");
  const std::string text((std::istreambuf_iterator<char>(example)), {});
  ASSERT_FALSE(text.empty());
  if (const auto pg = pg::test::base_url()) {
    ServerProcess documented(text, {"--pg-url", *pg});
    EXPECT_TRUE(documented.started()) << documented.stderr_text();
    EXPECT_EQ(documented.stop(), 0);
  }
  ServerProcess broken("listen: [1, 2\n");
  EXPECT_EQ(broken.wait(), 2);
  EXPECT_TRUE(std::regex_search(broken.stderr_text(), std::regex(R"(server\.yaml:\d+:\d+: yaml: )"))) << broken.stderr_text();
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
  EXPECT_TRUE(std::regex_search(err, std::regex(R"(server\.yaml:4:3: peers\.two: expected a whole number)"))) << err;
  EXPECT_TRUE(std::regex_search(err, std::regex(R"(server\.yaml:6:14: peer_link\.queue_max: 0 is out of range)"))) << err;
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
  if (std::system("command -v promtool >/dev/null 2>&1") == 0) {  // the link series lint too
    const auto file = temp_dir() / "metrics.txt";
    std::ofstream(file) << m;
    const std::string cmd = "promtool check metrics < " + file.string() + " > " + file.string() + ".out 2>&1";
    EXPECT_EQ(std::system(cmd.c_str()), 0);
    std::ifstream out(file.string() + ".out");
    EXPECT_EQ(std::string((std::istreambuf_iterator<char>(out)), {}), "") << "promtool lint findings";
  }
  const std::string h = http_request(ports[0], http::verb::get, "/metrics").body;
  EXPECT_EQ(metric(h, R"(convlab_node_messages_total{direction="received",kind="edit"})"), forwarded);
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
