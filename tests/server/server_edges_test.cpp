// The edges of the real convlab-server (docs/protocol.md, "Origins" and "Limits"): the Origin
// check on cookie-authenticated WebSocket upgrades and on the POST endpoints, the
// allowed_origins key, and limits tried exactly at and one past their boundary. The JWT matrix
// is server_jwt_test.cpp.
#include "server/net/config.hpp"
#include "tests/server/server_fixture.hpp"

namespace convlab::test {
namespace {

// A WebSocket upgrade at /ws sent by hand, so a refused one (no 101) shows its status and body.
HttpAnswer upgrade(unsigned short port, const std::string& origin, const std::string& cookie,
                   const std::string& bearer = {}) {
  std::vector<std::pair<http::field, std::string>> headers;
  if (!origin.empty()) headers.emplace_back(http::field::origin, origin);
  if (!cookie.empty()) headers.emplace_back(http::field::cookie, "convlab_token=" + cookie);
  if (!bearer.empty()) headers.emplace_back(http::field::authorization, "Bearer " + bearer);
  return upgrade_request(port, "/ws", headers);
}

std::string reason_of(const HttpAnswer& a) {
  json::value v = a.json();
  if (!v.is_object() || !v.as_object().contains("reason")) return "(no reason) " + a.body;
  return std::string(v.at("reason").as_string());
}

std::string login_body(const std::string& user, const std::string& password) {
  return R"({"user":")" + user + R"(","password":")" + password + "\"}";
}

}  // namespace

TEST(ServerEdges, OriginsOnTheCookieEndpointsAndTheUpgrade) {
  CONVLAB_PG_URL_OR_SKIP(url);
  START_SERVER(server, yaml_for(url, "crdt", "allowed_origins: [\"https://Lab.Example.org\"]\n"));
  const unsigned short port = server.port();
  const std::string own = "http://127.0.0.1";  // http_request's Host is 127.0.0.1
  const std::string listed = "https://lab.example.org";
  const std::string evil = "https://evil.example";
  auto alice = login(port, "alice", "alice-pw");
  ASSERT_TRUE(alice);
  auto a = acknowledged(port, *alice, 3, U"kept");

  // The upgrade: a cookie from another site is refused before the handshake, with the reason.
  for (const std::string& bad : {evil, std::string("null"), std::string("http://127.0.0.1:1"),
                                 std::string("https://lab.example.org.evil.example")}) {
    SCOPED_TRACE(bad);
    HttpAnswer r = upgrade(port, bad, alice->token);
    EXPECT_EQ(r.status, 403) << r.body;
    EXPECT_EQ(reason_of(r), "origin");
    EXPECT_NE(r.body.find("origin not allowed"), std::string::npos) << r.body;
  }
  // Its own origin, a listed one (compared case-insensitively) and no Origin at all upgrade.
  EXPECT_EQ(upgrade(port, own, alice->token).status, 101);
  EXPECT_EQ(upgrade(port, "HTTPS://LAB.EXAMPLE.ORG", alice->token).status, 101);
  EXPECT_EQ(upgrade(port, "", alice->token).status, 101);
  // A bearer token is not ambient: another origin holding it may connect.
  EXPECT_EQ(upgrade(port, evil, {}, alice->token).status, 101);
  // A connection through the cookie from the listed origin works end to end.
  {
    Ws c(port, alice->token, Ws::Auth::kCookie, "/ws", "convlab/1", listed);
    c.send_binary(frame_bytes(FrameKind::kHello, 3));
    auto m = c.read();
    ASSERT_TRUE(m) << c.close_code();
    EXPECT_EQ(m->data[0], static_cast<char>(FrameKind::kWelcome));
  }

  // POST /login from another site: refused (login CSRF), nothing issued; from its own origin,
  // a listed one or without Origin: 200.
  HttpAnswer l = http_request(port, http::verb::post, "/login", login_body("alice", "alice-pw"), {}, {}, evil);
  EXPECT_EQ(l.status, 403) << l.body;
  EXPECT_EQ(reason_of(l), "origin");
  EXPECT_TRUE(l.raw[http::field::set_cookie].empty());
  EXPECT_EQ(http_request(port, http::verb::post, "/login", login_body("alice", "alice-pw"), {}, {}, own).status, 200);
  EXPECT_EQ(http_request(port, http::verb::post, "/login", login_body("alice", "alice-pw"), {}, {}, listed).status, 200);
  EXPECT_EQ(http_request(port, http::verb::post, "/login", login_body("alice", "alice-pw"), {}, {}, "").status, 200);

  // POST /refresh from another site: refused, and the refresh token is not used up by it.
  auto bob = login(port, "bob", "bob-pw");
  ASSERT_TRUE(bob);
  const std::string refresh_body = R"({"refresh_token":")" + bob->refresh + "\"}";
  HttpAnswer r = http_request(port, http::verb::post, "/refresh", refresh_body, {}, {}, evil);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(reason_of(r), "origin");
  EXPECT_EQ(http_request(port, http::verb::post, "/refresh", refresh_body, {}, {}, own).status, 200);

  // POST /logout with the cookie from another site: refused, and the token still works.
  HttpAnswer o = http_request(port, http::verb::post, "/logout", {}, {}, "convlab_token=" + bob->token, evil);
  EXPECT_EQ(o.status, 403) << o.body;
  EXPECT_EQ(reason_of(o), "origin");
  EXPECT_EQ(http_request(port, http::verb::get, "/api/documents/3", {}, bob->token).status, 200);
  EXPECT_EQ(http_request(port, http::verb::post, "/logout", {}, {}, "convlab_token=" + bob->token, listed).status, 200);
  EXPECT_EQ(http_request(port, http::verb::get, "/api/documents/3", {}, bob->token).status, 403);

  EXPECT_EQ(http_request(port, http::verb::get, "/healthz").status, 200);
  EXPECT_EQ(document_text(port, alice->token, 3), "kept");
  const std::string m = http_request(port, http::verb::get, "/metrics").body;
  EXPECT_EQ(metric(m, R"(convlab_tokens_refused_total{reason="origin"})"), 7);
  EXPECT_EQ(server.stop(), 0) << server.stderr_text();
}

TEST(ServerEdges, LimitsAtAndOnePastTheirBoundary) {
  CONVLAB_PG_URL_OR_SKIP(url);
  START_SERVER(server, yaml_for(url, "crdt",
                                "limits:\n"
                                "  message_bytes_max: 2048\n"
                                "  connections_max: 2\n"));
  const unsigned short port = server.port();
  auto alice = login(port, "alice", "alice-pw");
  ASSERT_TRUE(alice);
  auto connections = [&] {
    return http_request(port, http::verb::get, "/healthz").json().at("connections").to_number<std::int64_t>();
  };
  {  // A message of exactly message_bytes_max is read and judged by what it says; one byte more is
     // refused for its size (1009).
    Ws w(port, alice->token);
    std::string hello = R"({"type":"hello","doc":3})";
    hello.resize(2048, ' ');
    w.send_text(hello);
    auto m = w.read();
    ASSERT_TRUE(m) << w.close_code() << " " << w.close_reason();
    EXPECT_EQ(json::parse(m->data).at("type"), "welcome");
    std::string over = R"({"type":"hello","doc":3})";
    over.resize(2049, ' ');
    w.send_text(over);
    EXPECT_EQ(w.read_until_close(), 1009);
  }
  {
    Ws w(port, alice->token);
    w.send_binary(std::vector<std::uint8_t>(2048, 2));  // at the limit: read, and not a frame
    EXPECT_EQ(w.read_until_close(), 4000) << w.close_reason();
  }
  {
    Ws w(port, alice->token);
    w.send_binary(std::vector<std::uint8_t>(2049, 2));
    EXPECT_EQ(w.read_until_close(), 1009) << w.close_reason();
  }
  // Closed connections leave the count (bounded wait for the server to see them go).
  for (int i = 0; i < 600 && connections() != 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_EQ(connections(), 0);
  {  // connections_max: the second connection is served, a third is refused (1013); once one
     // goes, a new one is served again.
    auto a = std::make_unique<Ws>(port, alice->token);
    Ws b(port, alice->token);
    a->send_binary(frame_bytes(FrameKind::kHello, 3));
    b.send_binary(frame_bytes(FrameKind::kHello, 3));
    ASSERT_TRUE(a->read() && b.read());
    EXPECT_EQ(connections(), 2);
    EXPECT_EQ(connect_close_code(port, alice->token), 1013);
    a.reset();
    for (int i = 0; i < 600 && connections() != 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_EQ(connections(), 1);
    Ws c(port, alice->token);
    c.send_binary(frame_bytes(FrameKind::kHello, 3));
    auto m = c.read();
    ASSERT_TRUE(m) << c.close_code();
    EXPECT_EQ(decode_message(*m).kind, FrameKind::kWelcome);
  }
  const std::string m = http_request(port, http::verb::get, "/metrics").body;
  EXPECT_EQ(metric(m, R"(convlab_connections_closed_total{code="1009"})"), 2);
  EXPECT_EQ(metric(m, R"(convlab_connections_closed_total{code="4000"})"), 1);
  EXPECT_EQ(metric(m, R"(convlab_connections_closed_total{code="1013"})"), 1);
  EXPECT_EQ(server.stop(), 0) << server.stderr_text();
}

TEST(ServerEdges, AllowedOriginsProblemsNameTheirPlace) {
  const TempDir dir;
  const std::filesystem::path file = dir.path() / "server.yaml";
  auto load = [&](const std::string& text) {
    std::ofstream(file) << text;
    net::ServerConfig c;
    auto r = net::load_config(file.string(), c);
    std::string m = r ? std::string("ok") : r.error().message;
    for (auto at = m.find(file.string()); at != std::string::npos; at = m.find(file.string())) {
      m.replace(at, file.string().size(), "server.yaml");
    }
    return std::make_pair(m, c.allowed_origins);
  };
  auto ok = load("allowed_origins: [\"https://Lab.example.org\", \"http://127.0.0.1:8080\"]\n");
  EXPECT_EQ(ok.first, "ok");
  EXPECT_EQ(ok.second, (std::vector<std::string>{"https://lab.example.org", "http://127.0.0.1:8080"}));
  EXPECT_EQ(load("allowed_origins: https://a.org\n").first,
            "server.yaml:1:18: allowed_origins: expected a list of origins like [\"https://lab.example.org\"], got "
            "\"https://a.org\"");
  EXPECT_EQ(load("allowed_origins:\n  - https://a.org/app\n").first,
            "server.yaml:2:5: allowed_origins[0]: expected an origin like \"https://lab.example.org\" or "
            "\"http://127.0.0.1:8080\" (a host and port only: no path, query or user), got 'https://a.org/app'");
  EXPECT_NE(load("allowed_origins: [\"ftp://a.org\"]\n").first.find("server.yaml:1:19: allowed_origins[0]: "),
            std::string::npos);
  EXPECT_NE(load("allowed_origins: [\"http://a.org:99999\"]\n").first.find("port a number in [1, 65535]"),
            std::string::npos);
  EXPECT_EQ(load("allowed_origins: [\"https://a.org\", \"HTTPS://A.ORG\"]\n").first,
            "server.yaml:1:36: allowed_origins[1]: duplicate origin \"https://a.org\"");
  std::error_code ec;
  std::filesystem::remove_all(file.parent_path(), ec);
}

}  // namespace convlab::test
