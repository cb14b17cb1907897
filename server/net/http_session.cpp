// HttpSession (http_session.hpp): one HTTP connection and the table of endpoints.
//
// May call: the App, the endpoints (http_endpoints.hpp), start_ws_session, start_node_session.
#include "server/net/http_session.hpp"

#include "server/net/http_endpoints.hpp"
#include "server/net/node_session.hpp"
#include "server/net/ws_session.hpp"

#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>

namespace convlab::net {

namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;

namespace {

std::string target_path(std::string_view target) {
  auto u = boost::urls::parse_origin_form(target);
  if (!u) return std::string(target);
  return std::string(u->path());
}

// The endpoints, tried in order: an exact path, or a prefix whose rest goes to the handler.
struct Endpoint {
  std::string_view path;
  bool prefix;
  http::verb method;  // any other method (but `also`): 405
  http::verb also;    // a second method, or unknown: the handler tells which paths take which
  const char* route;  // the metrics label
  void (*handle)(HttpSession& session, std::string_view rest);
};

constexpr Endpoint kEndpoints[] = {
    {"/healthz", false, http::verb::get, http::verb::unknown, "/healthz", endpoint::healthz},
    {"/metrics", false, http::verb::get, http::verb::unknown, "/metrics", endpoint::metrics},
    {"/login", false, http::verb::post, http::verb::unknown, "/login", endpoint::login},
    {"/refresh", false, http::verb::post, http::verb::unknown, "/refresh", endpoint::refresh},
    {"/logout", false, http::verb::post, http::verb::unknown, "/logout", endpoint::logout},
    // GET the document, its history, a version; POST .../restore (http_endpoints.hpp).
    {"/api/documents/", true, http::verb::get, http::verb::post, "/api/documents", endpoint::document},
};

}  // namespace

void error_json(HttpSession::Response& res, unsigned status, const std::string& message) {
  json::object o;
  o["error"] = message;
  res.result(status);
  res.body() = json::serialize(o);
}

HttpSession::HttpSession(App& app, tcp::socket socket) : app_(app), stream_(std::move(socket)) {}

void HttpSession::do_read() {
  parser_.emplace();
  parser_->body_limit(app_.cfg.limits.http_body_bytes_max);
  parser_->header_limit(kHttpHeaderBytesMax);
  stream_.expires_after(std::chrono::seconds(30));
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
}

void HttpSession::on_read(beast::error_code ec) {
  if (ec == http::error::body_limit) {
    keep_alive_ = false;
    return reply(413, R"({"error":"request body too large"})", "other");
  }
  if (ec) return shutdown();
  req_ = parser_->release();
  CONVLAB_ASSERT(req_.body().size() <= app_.cfg.limits.http_body_bytes_max);  // body_limit
  keep_alive_ = req_.keep_alive();
  path_ = target_path(std::string_view(req_.target().data(), req_.target().size()));
  if (beast::websocket::is_upgrade(req_) && path_ == "/node") {
    stream_.expires_never();
    return start_node_session(app_, stream_.release_socket(), std::move(req_));
  }
  if (beast::websocket::is_upgrade(req_)) {
    if (path_ != "/ws") return reply(404, R"({"error":"WebSocket is at /ws"})", "other");
    // Cross-site WebSocket hijacking: a page elsewhere opening /ws with the browser's cookie.
    // Only the cookie travels by itself, so only a cookie-authenticated upgrade is checked.
    if (find_token(req_, true).source == TokenSource::kCookieHeader && refuse_foreign_origin("/ws")) return;
    stream_.expires_never();
    return start_ws_session(app_, stream_.release_socket(), std::move(req_));
  }
  route();
}

void HttpSession::route() {
  for (const Endpoint& e : kEndpoints) {
    if (e.prefix ? !path_.starts_with(e.path) : path_ != e.path) continue;
    if (req_.method() != e.method && req_.method() != e.also) {
      return reply(405, R"({"error":"method not allowed"})", e.route);
    }
    // Cross-site request forgery: the POST endpoints set, use or clear the cookie, or edit.
    if (req_.method() == http::verb::post && refuse_foreign_origin(e.route)) return;
    return e.handle(*this, std::string_view(path_).substr(e.path.size()));
  }
  reply(404, R"({"error":"not found"})", "other");
}

bool HttpSession::refuse_foreign_origin(const char* route) {
  auto why = foreign_origin(req_, app_.cfg.allowed_origins);
  if (!why) return false;
  app_.metrics.token_refused("origin");
  json::object o;
  o["error"] = *why;
  o["reason"] = "origin";
  keep_alive_ = false;
  reply(403, json::serialize(o), route);
  return true;
}

bool HttpSession::authenticate(const char* route, auth::Claims& out) {
  const std::string token = request_token(req_, false);
  if (token.empty()) {
    app_.metrics.token_refused("missing");
    reply(401, R"({"error":"token missing","reason":"missing"})", route);
    return false;
  }
  auto outcome = app_.verifier.verify(token, wall_s());
  if (!outcome.ok) {
    const std::string_view why = auth::to_string(outcome.refusal.why);
    app_.metrics.token_refused(why);
    json::object o;
    o["error"] = "token " + std::string(why) + ": " + outcome.refusal.detail;
    o["reason"] = why;
    reply(401, json::serialize(o), route);
    return false;
  }
  out = outcome.claims;
  return true;
}

void HttpSession::unless_revoked(const auth::Claims& claims, const char* route, std::function<void()> then) {
  if (!app_.cfg.node.check_revocation) return then();
  auto deny = [this, route] {
    app_.metrics.token_refused("revoked");
    reply(403, R"({"error":"token revoked","reason":"revoked"})", route);
  };
  if (app_.revoked_jtis.contains(claims.jti)) return deny();
  const bool posted = app_.on_pool(
      [self = shared_from_this(), jti = claims.jti] {
        auto r = self->app_.store->is_revoked(jti);
        return r.has_value() && *r;
      },
      [self = shared_from_this(), then = std::move(then), deny](bool revoked) {
        if (revoked) return deny();
        then();
      });
  if (!posted) reply(503, R"({"error":"server busy: too many requests wait for the store"})", route);
}

void HttpSession::blocking(const char* route, std::function<void(Response&)> work) {
  const bool posted = app_.on_pool(
      [self = shared_from_this(), work = std::move(work)] {
        auto res = std::make_shared<Response>(http::status::internal_server_error, self->req_.version());
        try {
          work(*res);
        } catch (const std::exception& e) {
          error_json(*res, 500, e.what());
        }
        return res;
      },
      [self = shared_from_this(), route](std::shared_ptr<Response> res) { self->send(std::move(*res), route); });
  if (!posted) reply(503, R"({"error":"server busy: too many requests wait for the store"})", route);
}

void HttpSession::reply(unsigned status, std::string body, const char* route, const char* type) {
  Response res(static_cast<http::status>(status), req_.version());
  res.set(http::field::content_type, type);
  res.body() = std::move(body);
  send(std::move(res), route);
}

void HttpSession::send(Response res, const char* route) {
  if (res[http::field::content_type].empty()) res.set(http::field::content_type, "application/json");
  res.set(http::field::server, "convlab-server");
  if (!cache_control_.empty()) {
    res.set(http::field::cache_control, cache_control_);
  } else if (res[http::field::cache_control].empty()) {
    res.set(http::field::cache_control, "no-store");
  }
  cache_control_.clear();
  res.keep_alive(keep_alive_);
  res.prepare_payload();
  app_.metrics.http_request(route, res.result_int());
  auto out = std::make_shared<Response>(std::move(res));
  http::async_write(stream_, *out, [self = shared_from_this(), out](beast::error_code ec, std::size_t) {
    if (ec || !out->keep_alive()) return self->shutdown();
    self->do_read();
  });
}

void HttpSession::shutdown() {
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace convlab::net
