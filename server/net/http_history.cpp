// The audit endpoints of a document (http_endpoints.hpp, docs/protocol.md "History"): its change
// log as who, when, what and version, a page at a time, and the document as of any version,
// replayed through the strategy's server replica (recover_replica, as loading a document does).
// Both read PostgreSQL on the pool (blocking()). Under `persistence: snapshot` there is no log:
// both answer 409 and say so.
#include "server/net/http_endpoints.hpp"
#include "server/net/http_session.hpp"

#include "server/core/utf8.hpp"

#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <charconv>

namespace convlab::net::endpoint {
namespace {

namespace json = boost::json;

constexpr const char* kHistoryRoute = "/api/documents/history";
constexpr const char* kVersionRoute = "/api/documents/version";

std::optional<std::uint64_t> whole_number(std::string_view s) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

Result<std::map<std::string, std::uint64_t>> query_numbers(const HttpSession& session,
                                                          std::initializer_list<std::string_view> allowed) {
  const auto& target = session.request().target();
  auto u = boost::urls::parse_origin_form(std::string_view(target.data(), target.size()));
  if (!u) return make_error("the request target does not parse: " + u.error().message());
  std::map<std::string, std::uint64_t> out;
  for (const auto& p : u->params()) {
    const bool known = std::find(allowed.begin(), allowed.end(), p.key) != allowed.end();
    if (!known) {
      std::string names;
      for (std::string_view a : allowed) names += (names.empty() ? "" : ", ") + std::string(a);
      return make_error("unknown query parameter '" + p.key + "' (known: " + names + ")");
    }
    if (out.contains(p.key)) return make_error("query parameter '" + p.key + "' given twice");
    auto v = whole_number(p.value);
    if (!v || *v > static_cast<std::uint64_t>(INT64_MAX)) {
      return make_error("query parameter '" + p.key + "' must be a whole number in [0, 2^63), not '" + p.value + "'");
    }
    out[p.key] = *v;
  }
  return out;
}

bool refuse_without_log(HttpSession& session, const char* route) {
  if (session.app().cfg.node.persistence == NodeConfig::Persistence::kChangeLog) return false;
  session.reply(409,
                R"j({"error":"persistence: snapshot keeps no change log: this server has no history and no )j"
                R"j(past versions of a document (persistence: changelog has them)","reason":"no_change_log"})j",
                route);
  return true;
}

void history(HttpSession& session, std::uint32_t doc, const Strategy& strategy) {
  if (refuse_without_log(session, kHistoryRoute)) return;
  auto q = query_numbers(session, {"after", "limit"});
  if (!q) {
    json::object o;
    o["error"] = q.error().message;
    return session.reply(400, json::serialize(o), kHistoryRoute);
  }
  const std::uint64_t after = q->contains("after") ? q->at("after") : 0;
  const std::uint64_t limit = q->contains("limit") ? q->at("limit") : kHistoryPageDefault;
  if (limit < 1 || limit > kHistoryPageMax) {
    return session.reply(400,
                         R"({"error":"query parameter 'limit' must be in [1, )" + std::to_string(kHistoryPageMax) + R"(]"})",
                         kHistoryRoute);
  }
  App& app = session.app();
  session.blocking(kHistoryRoute, [&app, &strategy, doc, after, limit](HttpSession::Response& res) {
    auto page = app.store->read_history(doc, after, static_cast<std::uint32_t>(limit));
    if (!page) return error_json(res, 503, "store unavailable: " + page.error().message);
    json::array entries;
    for (const pg::HistoryEntry& e : page->entries) {
      json::object o;
      o["version"] = e.record.index;
      o["author"] = e.record.author;  // the agent id: one per login
      o["user_id"] = e.user;
      o["user"] = e.user_name;
      o["server_ms"] = e.record.server_ms;
      o["client_ms"] = e.record.client_ms;
      auto what = strategy.to_json(e.record.record);
      if (!what) {
        return error_json(res, 500, "doc " + std::to_string(doc) + " version " + std::to_string(e.record.index) +
                                        ": the record does not decode: " + what.error().message);
      }
      o["record"] = std::move(*what);
      entries.push_back(std::move(o));
    }
    json::object o;
    o["doc"] = doc;
    o["strategy"] = strategy.name;
    o["latest"] = page->latest;
    const std::uint64_t last = page->entries.empty() ? after : page->entries.back().record.index;
    // The next page starts after this one's last version; null when this one reached the end.
    if (last < page->latest) {
      o["next_after"] = last;
    } else {
      o["next_after"] = nullptr;
    }
    o["entries"] = std::move(entries);
    res.result(200);
    res.body() = json::serialize(o);
  });
}

Result<ReplayedVersion> replay_version(pg::Store& store, const Strategy& strategy, std::uint32_t doc,
                                       std::uint64_t version) {
  auto records = store.read_log(doc, version);
  if (!records) return make_error("store unavailable: " + records.error().message);
  if (records->size() < version) {
    return make_error("version " + std::to_string(version) + " of document " + std::to_string(doc) +
                      " does not exist: its log has " + std::to_string(records->size()) + " records");
  }
  auto replica = strategy.make_server();
  auto applied = recover_replica(*replica, false, {}, 0, *records);
  if (!applied) return make_error("the log does not replay: " + applied.error().message);
  ReplayedVersion out;
  out.version = version;
  out.text = replica->text();
  out.ids = replica->char_ids();
  return out;
}

void document_version(HttpSession& session, std::uint32_t doc, const Strategy& strategy, std::uint64_t version) {
  if (refuse_without_log(session, kVersionRoute)) return;
  App& app = session.app();
  session.blocking(kVersionRoute, [&app, &strategy, doc, version](HttpSession::Response& res) {
    auto v = replay_version(*app.store, strategy, doc, version);
    if (!v) {
      const std::string& why = v.error().message;
      return error_json(res, why.starts_with("store") ? 503 : why.starts_with("version") ? 404 : 500, why);
    }
    json::object o;
    o["doc"] = doc;
    o["strategy"] = strategy.name;
    o["version"] = v->version;
    o["text"] = utf8_encode(v->text);
    res.result(200);
    res.body() = json::serialize(o);
  });
}

}  // namespace convlab::net::endpoint
