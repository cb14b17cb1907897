// GET /api/documents/{id} (http_endpoints.hpp): the document as a client replica shows it after
// a welcome, read through the document's node (which may load it from the store); routes
// ?version=N, /history and /restore (http_history.cpp, http_restore.cpp). The read is
// bounded by limits.api_read_timeout_ms (then 503), and the reads waiting at once by
// kHttpWaitingMax (503 at once).
#include "server/net/http_endpoints.hpp"
#include "server/net/http_session.hpp"

#include "server/core/utf8.hpp"

#include <boost/json.hpp>

#include <charconv>
#include <optional>

namespace convlab::net::endpoint {
namespace {

namespace json = boost::json;

constexpr const char* kRoute = "/api/documents";

void answer(HttpSession& session, NodeSlot& slot, const HttpResponse& r) {
  json::object o;
  if (r.status != 200) {
    o["error"] = r.why;
    o["reason"] = r.status == 403 ? "revoked" : r.status == 401 ? "expired" : "unreadable";
    return session.reply(static_cast<unsigned>(r.status), json::serialize(o), kRoute);
  }
  o["doc"] = r.doc;
  o["strategy"] = slot.strategy.name;
  o["version"] = r.version;
  o["latest"] = r.latest;
  o["source"] = r.source;
  // The text as a client replica shows it after this welcome.
  auto client = slot.strategy.make_client(kServerAgent);
  if (auto ok = client->receive(r.body); ok) o["text"] = utf8_encode(client->text());
  auto msg = slot.strategy.to_json(r.body);
  if (msg) o["welcome"] = std::move(*msg);
  session.set_cache_control(r.no_store ? "no-store" : "public, max-age=300");
  session.reply(200, json::serialize(o), kRoute);
}

// The session's last acknowledged write (docs/protocol.md): header X-Convlab-Session-Version, a
// decimal log index; absent: 0 (the session has written nothing it knows of).
constexpr const char* kSessionVersionHeader = "X-Convlab-Session-Version";

std::optional<std::uint64_t> session_version(const HttpSession& session) {
  const auto it = session.request().find(kSessionVersionHeader);
  if (it == session.request().end()) return 0;
  const std::string_view text = it->value();
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

// The document's strategy is recorded: ask its node, bounded in time.
void read(const std::shared_ptr<HttpSession>& self, std::uint32_t doc, const auth::Claims& claims,
          std::uint64_t session_version) {
  App& app = self->app();
  if (app.http_waiting.size() >= kHttpWaitingMax || app.store_busy()) {
    return self->reply(503, R"({"error":"server busy: too many reads in flight"})", kRoute);
  }
  NodeSlot& slot = app.slot_for(doc);
  HttpGet get;
  get.id = app.next_http++;
  get.doc = doc;
  get.token = Token{claims.user, claims.exp * 1000};
  get.session_version = session_version;
  // The store may not answer (database down): bounded, then 503.
  const std::int64_t limit = app.cfg.limits.api_read_timeout_ms;
  auto timer = std::make_shared<asio::steady_timer>(app.ioc, std::chrono::milliseconds(limit));
  CONVLAB_ASSERT(!app.http_waiting.contains(get.id));
  app.http_waiting[get.id] = [self, &slot, timer](const HttpResponse& r) {
    timer->cancel();
    answer(*self, slot, r);
  };
  timer->async_wait([self, timer, id = get.id, limit](boost::system::error_code timer_ec) {
    App& a = self->app();
    if (timer_ec || a.http_waiting.erase(id) == 0) return;
    a.metrics.api_read_timeout();
    json::object o;
    o["error"] = "store unavailable: no answer within " + std::to_string(limit) + " ms";
    self->reply(503, json::serialize(o), kRoute);
  });
  slot.node->on_http_get(get);
  app.after_node_call();
}

}  // namespace

void document(HttpSession& session, std::string_view rest) {
  App& app = session.app();
  // {id}, {id}/history or {id}/restore.
  const std::size_t slash = rest.find('/');
  const std::string_view id_text = rest.substr(0, slash);
  const std::string_view sub = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  const bool is_post = session.request().method() == boost::beast::http::verb::post;
  if (sub != "" && sub != "history" && sub != "restore") {
    return session.reply(404, R"({"error":"not found: /api/documents/{id} has /history and /restore below it"})", kRoute);
  }
  if (is_post != (sub == "restore")) {
    return session.reply(405, is_post ? R"({"error":"method not allowed: only /restore takes a POST"})"
                                      : R"({"error":"method not allowed: /restore takes a POST"})",
                         kRoute);
  }
  std::uint64_t id = 0;
  auto [end, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
  if (id_text.empty() || ec != std::errc() || end != id_text.data() + id_text.size() || id > 0xffffffffu) {
    return session.reply(400, R"({"error":"document id must be an integer in [0, 4294967295]"})", kRoute);
  }
  const auto doc = static_cast<std::uint32_t>(id);
  if (doc > app.cfg.limits.document_id_max) return session.reply(404, R"({"error":"unknown document"})", kRoute);
  // The plain read takes `version`, restore requires it; history reads its own (after, limit).
  std::optional<std::uint64_t> version;
  if (sub != "history") {
    auto q = query_numbers(session, {"version"});
    if (!q) {
      json::object o;
      o["error"] = q.error().message;
      return session.reply(400, json::serialize(o), kRoute);
    }
    if (q->contains("version")) version = q->at("version");
    if (sub == "restore" && !version) {
      return session.reply(400, R"j({"error":"restore needs the query parameter 'version' (POST .../restore?version=N)"})j",
                           kRoute);
    }
  }
  const std::optional<std::uint64_t> own = session_version(session);
  if (!own) {
    return session.reply(400, R"({"error":"header X-Convlab-Session-Version must be a decimal integer in [0, 2^64-1]"})",
                         kRoute);
  }
  auth::Claims claims;
  if (!session.authenticate(kRoute, claims)) return;
  session.unless_revoked(claims, kRoute, [self = session.shared_from_this(), doc, claims, sub = std::string(sub), version,
                                          own = *own] {
    self->app().with_claim(doc, [self, doc, claims, sub, version, own](const std::string* error) {
      if (error != nullptr) {
        json::object o;
        o["error"] = *error;
        return self->reply(error->starts_with("strategy mismatch") ? 409 : 503, json::serialize(o), kRoute);
      }
      const Strategy& strategy = self->app().slot_for(doc).strategy;
      if (sub == "history") return history(*self, doc, strategy);
      if (sub == "restore") return restore(*self, doc, claims, *version);
      if (version) return document_version(*self, doc, strategy, *version);
      read(self, doc, claims, own);
    });
  });
}

}  // namespace convlab::net::endpoint
