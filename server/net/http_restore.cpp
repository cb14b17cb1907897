// POST /api/documents/{id}/restore?version=N (http_endpoints.hpp, docs/protocol.md "History"):
// a new edit that makes the document's text what it was at version N. The log is never
// rewritten: the restore is one more change, by the user who asked, with its own version.
//
// It goes through the normal edit path. The server opens a connection of its own to the
// document's node (App::internal: no socket), as an editor with a fresh agent id issued to the
// requesting user: hello, the welcome, one splice from the current text to version N's (the
// common prefix and suffix kept) through the strategy's client replica, edit frames through
// Node::admit and Node::on_frame (rate limit, forwarding to the home, the change log, the
// broadcast to every connected client), and the answer once the replica is synced (under
// `ack: reserve`, once the change committed). Bounded by limits.api_read_timeout_ms (503) and
// kRestoresMax restores at once (503).
//
// May call: the HttpSession's helpers, the App, the document's node, the store (on the pool).
#include "server/net/http_endpoints.hpp"
#include "server/net/http_session.hpp"

#include "server/core/utf8.hpp"

#include <boost/json.hpp>

namespace convlab::net::endpoint {
namespace {

namespace json = boost::json;

constexpr const char* kRoute = "/api/documents/restore";

// One splice turning `from` into `to`: what lies between their common prefix and suffix.
Splice splice_between(const std::u32string& from, const std::u32string& to) {
  std::size_t p = 0;
  while (p < from.size() && p < to.size() && from[p] == to[p]) ++p;
  std::size_t s = 0;
  while (s < from.size() - p && s < to.size() - p && from[from.size() - 1 - s] == to[to.size() - 1 - s]) ++s;
  return Splice{p, from.size() - p - s, to.substr(p, to.size() - p - s)};
}

// One restore in progress: the internal connection's editor.
struct Restore : std::enable_shared_from_this<Restore> {
  std::shared_ptr<HttpSession> session;
  NodeSlot* slot = nullptr;
  std::uint32_t doc = 0;
  std::uint64_t version = 0;
  std::u32string target;
  ConnId conn = 0;
  AgentId agent = 0;
  std::unique_ptr<ClientReplica> replica;
  bool edited = false;  // the splice went out (or there was nothing to change)
  bool done = false;
  std::shared_ptr<asio::steady_timer> timer;

  App& app() { return session->app(); }

  void to_node(const Bytes& msg) {
    const Bytes frame = encode_frame(Frame{FrameKind::kEdit, doc, msg, {}});
    if (slot->node->admit(conn, frame)) slot->node->on_frame(conn, frame);
    app().after_node_call();
  }

  void finish(unsigned status, std::string body) {
    if (done) return;
    done = true;
    timer->cancel();
    App& a = app();
    a.internal.erase(conn);
    slot->node->on_disconnect(conn);
    a.after_node_call();
    session->reply(status, std::move(body), kRoute);
  }

  void fail(unsigned status, const std::string& why) {
    json::object o;
    o["error"] = why;
    finish(status, json::serialize(o));
  }

  void succeed(bool changed) {
    json::object o;
    o["doc"] = doc;
    o["restored_version"] = version;
    o["changed"] = changed;
    o["agent"] = agent;
    o["text"] = utf8_encode(replica->text());
    finish(200, json::serialize(o));
  }

  void on_frame(const Frame& f) {
    if (done) return;
    if (f.kind == FrameKind::kRefused) return fail(409, "the restore's edit was refused: " + f.text);
    if (f.kind != FrameKind::kWelcome && f.kind != FrameKind::kDeliver) return;
    if (f.kind == FrameKind::kWelcome) replica = slot->strategy.make_client(agent);
    if (!replica) return;
    auto back = replica->receive(f.payload);
    if (!back) return fail(500, "the server's own message does not apply: " + back.error().message);
    for (const Bytes& m : *back) to_node(m);
    if (done) return;
    if (!edited && replica->synced()) {
      edited = true;
      const std::u32string now = replica->text();
      if (now == target) return succeed(false);
      for (const Bytes& m : replica->local_edit(splice_between(now, target), wall_ms())) to_node(m);
      return;
    }
    if (edited && replica->synced()) succeed(true);
  }

  void start(const auth::Claims& claims) {
    App& a = app();
    conn = a.next_conn++;
    auto self = shared_from_this();
    a.internal[conn] = App::InternalConn{[self](const Frame& f) { self->on_frame(f); },
                                         [self](const std::string& why) { self->fail(503, "restore interrupted: " + why); }};
    const std::int64_t limit = a.cfg.limits.api_read_timeout_ms;
    timer = std::make_shared<asio::steady_timer>(a.ioc, std::chrono::milliseconds(limit));
    timer->async_wait([self, limit](boost::system::error_code ec) {
      if (!ec) self->fail(503, "restore not acknowledged within " + std::to_string(limit) + " ms");
    });
    slot->node->on_connect(conn, agent, Token{claims.user, claims.exp * 1000});
    const Bytes hello = encode_frame(Frame{FrameKind::kHello, doc, {}, {}});
    if (slot->node->admit(conn, hello)) slot->node->on_frame(conn, hello);
    a.after_node_call();
  }
};

struct Prepared {
  std::string error;
  unsigned status = 200;
  std::u32string target;
  AgentId agent = 0;
};

}  // namespace

void restore(HttpSession& session, std::uint32_t doc, const auth::Claims& claims, std::uint64_t version) {
  if (refuse_without_log(session, kRoute)) return;
  App& app = session.app();
  NodeSlot& slot = app.slot_for(doc);
  if (!app.reachable_home(doc, slot.strategy)) {
    return session.reply(503, R"({"error":"the document's home server is not reachable from this one"})", kRoute);
  }
  if (app.internal.size() >= kRestoresMax || app.store_busy()) {
    return session.reply(503, R"({"error":"server busy: too many restores in flight"})", kRoute);
  }
  // On the pool: version N's text, and an agent id of the requesting user's for the edit (its
  // characters must not collide with those of the user's own editors).
  const bool posted = app.on_pool(
      [&app, &slot, doc, version, user = claims.user] {
        Prepared p;
        auto v = replay_version(*app.store, slot.strategy, doc, version);
        if (!v) {
          p.error = v.error().message;
          p.status = p.error.starts_with("store") ? 503 : p.error.starts_with("version") ? 404 : 500;
          return p;
        }
        p.target = std::move(v->text);
        auto agent = app.store->new_agent(user);
        if (!agent) {
          p.error = "store unavailable: " + agent.error().message;
          p.status = 503;
          return p;
        }
        p.agent = *agent;
        return p;
      },
      [self = session.shared_from_this(), &slot, doc, version, claims](Prepared p) {
        if (!p.error.empty()) {
          json::object o;
          o["error"] = p.error;
          return self->reply(p.status, json::serialize(o), kRoute);
        }
        if (self->app().internal.size() >= kRestoresMax) {
          return self->reply(503, R"({"error":"server busy: too many restores in flight"})", kRoute);
        }
        auto r = std::make_shared<Restore>();
        r->session = self;
        r->slot = &slot;
        r->doc = doc;
        r->version = version;
        r->target = std::move(p.target);
        r->agent = p.agent;
        r->start(claims);
      });
  if (!posted) session.reply(503, R"({"error":"server busy: too many requests wait for the store"})", kRoute);
}

}  // namespace convlab::net::endpoint
