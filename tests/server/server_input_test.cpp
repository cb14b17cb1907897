// The real convlab-server's edge against bad input: every malformed message and token earns its
// documented code or refusal; refresh tokens rotate; a token expiring mid-connection closes it.
#include "tests/server/server_fixture.hpp"

#include "server/strategies/registry.hpp"

#include <gtest/gtest.h>

namespace convlab::test {
namespace {

// Every malformed input is answered with its documented code or refusal; the server keeps
// answering /healthz and loses nothing it acknowledged.
TEST(ServerInput, MalformedInputMatrix) {
  CONVLAB_PG_URL_OR_SKIP(url);
  const Strategy& s = *find_strategy("crdt");
  START_SERVER(server, yaml_for(url, "crdt",
                                "limits:\n"
                                "  message_bytes_max: 2048\n"
                                "  document_id_max: 1000\n"));
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
  closes_with([](Ws& w) { w.send_binary({12, 1, 0}); }, 4000, "unknown binary kind");
  closes_with([](Ws& w) { w.send_binary({1, 0x80}); }, 4000, "truncated varint");
  closes_with([](Ws& w) { w.send_binary(frame_bytes(FrameKind::kWelcome, 1)); }, 4003, "server-only frame");
  closes_with([](Ws& w) { w.send_binary(frame_bytes(FrameKind::kVersion, 1, encode_version(3))); }, 4003,
              "server-only version frame");
  closes_with([](Ws& w) { w.send_text(R"({"type":"hello","doc":1,"versions":"yes"})"); }, 4002, "versions not a boolean");
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

// Rotation, and a refresh token used again after its rotation (docs/protocol.md, "Refresh
// tokens"): refused, and every refresh token of its family (this login's chain) with it, so a
// thief and the holder both have to log in again; other logins' families are untouched.
TEST(ServerInput, RefreshTokenReusedAfterRotationRevokesItsFamily) {
  CONVLAB_PG_URL_OR_SKIP(url);
  START_SERVER(server, yaml_for(url, "lww"));
  const unsigned short port = server.port();
  auto refresh = [&](const std::string& token) {
    return http_request(port, http::verb::post, "/refresh", R"({"refresh_token":")" + token + "\"}");
  };
  auto l = login(port, "someone", "lab-pw");  // the lab password: any name
  auto other = login(port, "someone", "lab-pw");  // the same user, another login: another family
  ASSERT_TRUE(l && other);
  HttpAnswer r1 = refresh(l->refresh);
  ASSERT_EQ(r1.status, 200) << r1.body;
  EXPECT_EQ(r1.json().at("user_id").to_number<std::uint64_t>(), l->user);
  EXPECT_NE(r1.json().at("agent").to_number<std::uint64_t>(), l->agent);
  EXPECT_FALSE(r1.raw[http::field::set_cookie].empty());
  const std::string t1(r1.json().at("refresh_token").as_string());
  HttpAnswer r2 = refresh(t1);
  ASSERT_EQ(r2.status, 200) << r2.body;
  const std::string t2(r2.json().at("refresh_token").as_string());
  const std::string jwt2(r2.json().at("token").as_string());

  // t1 again, after its rotation: refused, issuing nothing, and the family (t2) is revoked.
  HttpAnswer reused = refresh(t1);
  EXPECT_EQ(reused.status, 401) << reused.body;
  EXPECT_EQ(reused.json().at("error"), "refresh token reused after its rotation: its family (1 token(s)) is revoked; log in again");
  EXPECT_TRUE(reused.raw[http::field::set_cookie].empty());
  EXPECT_EQ(refresh(t2).status, 401) << "the family's live refresh token";
  EXPECT_EQ(refresh(l->refresh).status, 401);
  EXPECT_EQ(refresh(t1).status, 401);
  // The JWTs issued from the family live on until they expire (token_lifetime_s).
  EXPECT_EQ(http_request(port, http::verb::get, "/api/documents/1", {}, jwt2).status, 200);
  // The other login refreshes on.
  HttpAnswer o = refresh(other->refresh);
  EXPECT_EQ(o.status, 200) << o.body;

  const std::string m = http_request(port, http::verb::get, "/metrics").body;
  EXPECT_EQ(metric(m, R"(convlab_tokens_refused_total{reason="refresh_reused"})"), 1);
  EXPECT_EQ(metric(m, R"(convlab_tokens_refused_total{reason="refresh_unknown"})"), 3);
  EXPECT_EQ(http_request(port, http::verb::get, "/healthz").status, 200);
  EXPECT_EQ(server.stop(), 0) << server.stderr_text();
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

}  // namespace
}  // namespace convlab::test
