// POST /login, /refresh and /logout (http_endpoints.hpp): tokens in, tokens out. The store calls
// (user ids, agents, refresh tokens, revocations) block, so they run on the pool (blocking()).
#include "server/net/http_endpoints.hpp"
#include "server/net/http_session.hpp"

#include <boost/beast/http/field.hpp>
#include <boost/json.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace convlab::net::endpoint {
namespace {

namespace http = boost::beast::http;
namespace json = boost::json;
using Response = HttpSession::Response;

// Equal-time comparison: the digests of both strings, compared with CRYPTO_memcmp, so neither
// the length nor the first differing byte of the password shows in the time taken.
bool same_secret(std::string_view a, std::string_view b) {
  unsigned char da[EVP_MAX_MD_SIZE];
  unsigned char db[EVP_MAX_MD_SIZE];
  unsigned int la = 0;
  unsigned int lb = 0;
  EVP_Digest(a.data(), a.size(), da, &la, EVP_sha256(), nullptr);
  EVP_Digest(b.data(), b.size(), db, &lb, EVP_sha256(), nullptr);
  return la == lb && CRYPTO_memcmp(da, db, la) == 0;
}

bool password_ok(const App& app, const std::string& user, const std::string& password) {
  auto it = app.cfg.users.find(user);
  if (it != app.cfg.users.end()) return same_secret(password, it->second);
  if (!app.cfg.lab_password.empty()) return same_secret(password, app.cfg.lab_password);
  same_secret(password, password);  // the same work for an unknown name
  return false;
}

std::optional<json::object> body_object(const Request& req) {
  boost::system::error_code ec;
  json::value v = json::parse(req.body(), ec);
  if (ec || !v.is_object()) return std::nullopt;
  return v.get_object();
}

std::optional<std::string> string_field(const json::object& o, const char* name) {
  const json::value* v = o.if_contains(name);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return std::string(v->get_string());
}

// A refresh token: FAMILY.RANDOM.NAME. The family (random, kept by every rotation) lets the
// store revoke a whole chain when a rotated token comes back (Store::use_refresh); the name is
// not a secret (the random parts are; the whole string is what the store holds).
std::string refresh_token(const std::string& family, const std::string& name) {
  return family + "." + random_hex(32) + "." + auth::detail::base64url_encode(name);
}

// Issues a token for `name` (user `uid`) with a fresh agent, and a refresh token: `rotated`, the
// one /refresh already stored, or a new family's first; on the pool. Fills `res` with the answer.
void issue(App& app, const std::string& name, std::uint32_t uid, Response& res, const std::string& rotated = {}) {
  auto agent = app.store->new_agent(uid);
  if (!agent) return error_json(res, 503, "store unavailable: " + agent.error().message);
  auth::Claims c;
  c.user = uid;
  c.sub = name;
  c.agent = *agent;
  c.jti = random_hex(16);
  c.iss = app.cfg.jwt.issuer;
  c.aud = app.cfg.jwt.audience;
  c.iat = wall_s();
  c.nbf = c.iat;
  c.exp = c.iat + app.cfg.token_lifetime_s;
  const std::string jwt = auth::sign_hs256(c, app.cfg.jwt.secret);
  const std::string refresh = rotated.empty() ? refresh_token(random_hex(16), name) : rotated;
  if (rotated.empty()) {
    if (auto put = app.store->put_refresh(refresh, uid, c.iat + app.cfg.refresh_lifetime_s); !put) {
      return error_json(res, 503, "store unavailable: " + put.error().message);
    }
  }
  json::object o;
  o["token"] = jwt;
  o["refresh_token"] = refresh;
  o["user_id"] = uid;
  o["user"] = name;
  o["agent"] = c.agent;
  o["expires_in"] = app.cfg.token_lifetime_s;
  o["token_type"] = "Bearer";
  res.result(200);
  res.set(http::field::set_cookie, std::string(kCookie) + "=" + jwt + "; HttpOnly; SameSite=Strict; Path=/; Max-Age=" +
                                       std::to_string(app.cfg.token_lifetime_s));
  res.body() = json::serialize(o);
}

}  // namespace

void login(HttpSession& session, std::string_view) {
  App& app = session.app();
  auto body = body_object(session.request());
  auto user = body ? string_field(*body, "user") : std::nullopt;
  auto password = body ? string_field(*body, "password") : std::nullopt;
  if (!user || !password || user->empty() || user->size() > 200) {
    return session.reply(400, R"({"error":"expected {\"user\": string, \"password\": string}"})", "/login");
  }
  if (!password_ok(app, *user, *password)) {
    app.metrics.login("bad_credentials");
    return session.reply(401, R"({"error":"bad credentials"})", "/login");
  }
  session.blocking("/login", [&app, name = *user](Response& res) {
    auto uid = app.store->user_id(name);
    if (!uid) {
      app.metrics.login("error");
      return error_json(res, 503, "store unavailable: " + uid.error().message);
    }
    issue(app, name, *uid, res);
    app.metrics.login(res.result_int() == 200 ? "ok" : "error");
  });
}

void refresh(HttpSession& session, std::string_view) {
  App& app = session.app();
  auto body = body_object(session.request());
  auto token = body ? string_field(*body, "refresh_token") : std::nullopt;
  if (!token) return session.reply(400, R"({"error":"expected {\"refresh_token\": string}"})", "/refresh");
  session.blocking("/refresh", [&app, old = *token](Response& res) {
    // FAMILY.RANDOM.NAME (a token issued before families, RANDOM.NAME, is its own family).
    const auto first = old.find('.');
    const auto last = old.rfind('.');
    auto decoded = first == std::string::npos ? Result<std::string>(make_error("no name"))
                                              : auth::detail::base64url_decode(std::string_view(old).substr(last + 1));
    const std::string name = decoded ? *decoded : std::string();
    if (name.empty() || first == 0) {
      app.metrics.token_refused("refresh_unknown");
      return error_json(res, 401, "refresh token unknown, used or expired");
    }
    const std::string next = refresh_token(old.substr(0, first), name);
    auto use = app.store->use_refresh(old, next, wall_s() + app.cfg.refresh_lifetime_s);
    if (!use) return error_json(res, 503, "store unavailable: " + use.error().message);
    if (use->outcome == pg::RefreshUse::kReused) {
      app.metrics.token_refused("refresh_reused");
      return error_json(res, 401, "refresh token reused after its rotation: its family (" +
                                      std::to_string(use->revoked) + " token(s)) is revoked; log in again");
    }
    if (use->outcome != pg::RefreshUse::kRotated) {
      app.metrics.token_refused("refresh_unknown");
      return error_json(res, 401, "refresh token unknown, used or expired");
    }
    issue(app, name, use->user, res, next);
  });
}

void logout(HttpSession& session, std::string_view) {
  App& app = session.app();
  auth::Claims claims;
  if (!session.authenticate("/logout", claims)) return;
  app.on_revoked(claims.jti);  // here at once; the others through NOTIFY
  session.blocking("/logout", [&app, claims](Response& res) {
    auto r = app.store->revoke(claims.jti, claims.user, claims.exp);
    if (!r) return error_json(res, 503, "store unavailable: " + r.error().message);
    if (auto d = app.store->drop_refresh_of(claims.user); !d) {
      return error_json(res, 503, "store unavailable: " + d.error().message);
    }
    res.result(200);
    res.set(http::field::set_cookie, std::string(kCookie) + "=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    res.body() = R"({"ok":true})";
  });
}

}  // namespace convlab::net::endpoint
