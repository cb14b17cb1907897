#include "server/net/server.hpp"

#include "server/core/utf8.hpp"
#include "server/net/frames.hpp"
#include "server/net/metrics.hpp"
#include "server/net/peer_wire.hpp"
#include "server/pg/store.hpp"
#include "server/strategies/registry.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <variant>
#include <vector>

namespace convlab::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

// The WebSocket subprotocols this server speaks (docs/protocol.md): convlab/2 when offered, else
// convlab/1.
constexpr std::string_view kProtocol1 = "convlab/1";
constexpr std::string_view kProtocol2 = "convlab/2";
constexpr std::string_view kCookie = "convlab_token";

// A WebSocket read or write handler whose Beast operation state comes from the thread's
// recycling cache instead of a malloc and free per message.
template <class Handler>
auto recycled(Handler&& h) {
  return asio::bind_allocator(asio::recycling_allocator<void>(), std::forward<Handler>(h));
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
std::int64_t wall_s() { return wall_ms() / 1000; }

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) throw std::runtime_error("RAND_bytes failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : raw) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

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

// The value of cookie `name` in a Cookie header, or empty.
std::string cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const auto semi = header.find(';');
    std::string_view part = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.size() > name.size() && part.starts_with(name) && part[name.size()] == '=') {
      return std::string(part.substr(name.size() + 1));
    }
  }
  return {};
}

template <class Body>
std::string request_token(const http::request<Body>& req, bool allow_query) {
  if (auto it = req.find(http::field::authorization); it != req.end()) {
    std::string_view v(it->value().data(), it->value().size());
    if (v.starts_with("Bearer ")) return std::string(v.substr(7));
  }
  if (auto it = req.find(http::field::cookie); it != req.end()) {
    std::string c = cookie_value(std::string_view(it->value().data(), it->value().size()), kCookie);
    if (!c.empty()) return c;
  }
  if (allow_query) {
    auto u = boost::urls::parse_origin_form(std::string_view(req.target().data(), req.target().size()));
    if (u) {
      auto params = u->params();
      if (auto it = params.find("token"); it != params.end() && (*it).has_value) return std::string((*it).value);
    }
  }
  return {};
}

std::string target_path(std::string_view target) {
  auto u = boost::urls::parse_origin_form(target);
  if (!u) return std::string(target);
  return std::string(u->path());
}

const char* kind_name(StoreRequest::Kind k) {
  switch (k) {
    case StoreRequest::Kind::kAppend: return "append";
    case StoreRequest::Kind::kReadLog: return "read_log";
    case StoreRequest::Kind::kWriteSnapshot: return "write_snapshot";
    case StoreRequest::Kind::kLoad: return "load";
  }
  return "?";
}

const char* frame_type(FrameKind k) {
  switch (k) {
    case FrameKind::kWelcome: return "welcome";
    case FrameKind::kDeliver: return "deliver";
    case FrameKind::kRefused: return "refused";
    case FrameKind::kTitle: return "title";
    default: return "other";
  }
}

// A token error's close code and metric label.
std::uint16_t token_close_code(auth::TokenError e) {
  switch (e) {
    case auth::TokenError::kExpired: return close_code::kTokenExpired;
    case auth::TokenError::kRevoked: return close_code::kTokenRevoked;
    default: return close_code::kTokenInvalid;
  }
}

}  // namespace

class WsSession;
class HttpSession;
class PeerLink;
struct App;

// The audience of a server-to-server token: the clients' audience with "/node", so a client's
// token never opens /node and a node's token never opens /ws.
std::string node_audience(const auth::JwtConfig& jwt) { return jwt.audience + "/node"; }

// The metrics label of a message between nodes.
const char* node_message_label(NodeMessage::Kind kind) {
  switch (kind) {
    case NodeMessage::Kind::kForwardEdit: return "edit";
    case NodeMessage::Kind::kForwardReply: return "reply";
    case NodeMessage::Kind::kDocReset: return "reset";
  }
  return "?";
}

// One Node per strategy in use; its NodeIo forwards to the App (all on the App's thread).
struct NodeSlot final : NodeIo {
  App& app;
  const Strategy& strategy;
  std::unique_ptr<Node> node;
  NodeSlot(App& a, const Strategy& s) : app(a), strategy(s) {}
  std::int64_t now_ms() override { return wall_ms(); }
  void send(ConnId conn, const Frame& frame) override;
  void close(ConnId conn, const std::string& reason) override;
  void store(StoreRequest request) override;
  void to_node(NodeId node_id, NodeMessage message) override;
  void start_timer(std::int64_t delay_ms, std::uint64_t timer) override;
  void respond(const HttpResponse& response) override;
  void acknowledged(ConnId conn, std::uint32_t doc, std::size_t messages) override;
  void log_error(const std::string& message) override {
    std::cerr << "convlab-server: " << strategy.name << ": " << message << "\n";
  }
};

struct App {
  ServerConfig cfg;
  asio::io_context ioc{1};
  asio::thread_pool pool{2};  // blocking store calls (login, claims, revocation checks)
  tcp::acceptor acceptor{ioc};
  asio::signal_set signals{ioc, SIGTERM, SIGINT};
  Metrics metrics;
  auth::Verifier verifier;
  std::unique_ptr<pg::Store> store;
  std::map<std::string, std::unique_ptr<NodeSlot>, std::less<>> slots;  // strategy name -> node
  std::map<ConnId, std::shared_ptr<WsSession>> sessions;
  ConnId next_conn = 1;
  struct StoreCall {
    NodeSlot* slot = nullptr;
    std::uint64_t local_id = 0;
    StoreRequest::Kind kind = StoreRequest::Kind::kLoad;
  };
  std::map<std::uint64_t, StoreCall> store_calls;
  std::uint64_t next_store_id = 1;
  std::size_t appends_in_flight = 0;
  std::map<std::uint32_t, std::string> claimed;  // doc -> strategy recorded in the store
  std::map<std::uint32_t, std::vector<std::function<void(const std::string* error)>>> claiming;
  std::map<std::uint64_t, std::function<void(const HttpResponse&)>> http_waiting;
  std::uint64_t next_http = 1;
  std::set<std::string, std::less<>> revoked_jtis;
  std::size_t unclassified_delivers = 0;  // deliver frames of the current node call
  // convlab/2 sessions with frames queued and no write in flight: their writes start once the
  // current handler is done, so everything it produced for a connection goes in one message.
  std::vector<std::shared_ptr<WsSession>> to_flush;
  void schedule_flush(std::shared_ptr<WsSession> s) {
    to_flush.push_back(std::move(s));
    if (to_flush.size() == 1) asio::post(ioc, [this] { flush_sessions(); });
  }
  void flush_sessions();
  // With limits.coalesce_ms: sessions holding frames until the next tick of one shared timer.
  std::vector<std::shared_ptr<WsSession>> held;
  asio::steady_timer hold_timer{ioc};
  bool hold_armed = false;
  void hold_flush(std::shared_ptr<WsSession> s, Clock::time_point due) {
    held.push_back(std::move(s));
    if (hold_armed) return;
    hold_armed = true;
    hold_timer.expires_at(due);
    hold_timer.async_wait([this](beast::error_code) {
      hold_armed = false;
      flush_held();
    });
  }
  void flush_held();
  // The JSON form of the last frame converted: a broadcast goes to many JSON clients in a row.
  struct JsonCache {
    const Strategy* strategy = nullptr;
    FrameKind kind = FrameKind::kHello;
    std::uint32_t doc = 0;
    Bytes payload;
    std::string text;
    std::string json;
  } json_cache;
  const std::string& json_of(const Frame& f, const Strategy& strategy) {
    JsonCache& c = json_cache;
    if (c.strategy != &strategy || c.kind != f.kind || c.doc != f.doc || c.payload != f.payload || c.text != f.text) {
      c.strategy = &strategy;
      c.kind = f.kind;
      c.doc = f.doc;
      c.payload = f.payload;
      c.text = f.text;
      c.json = frame_to_json(f, strategy);
    }
    return c.json;
  }
  bool draining = false;
  std::atomic<bool> db_up{true};
  // Server to server: the outgoing link to each configured peer, the incoming links that are
  // up per peer, and per peer the connections whose forwarded edits await the peer's reply.
  auth::Verifier node_verifier;
  std::map<NodeId, std::shared_ptr<PeerLink>> links;
  std::map<NodeId, std::size_t> inbound;
  std::map<NodeId, std::map<ConnId, std::size_t>> forwarded;

  static auth::JwtConfig node_jwt(const ServerConfig& c) {
    auth::JwtConfig j = c.jwt;
    j.audience = node_audience(c.jwt);
    return j;
  }
  explicit App(const ServerConfig& c) : cfg(c), verifier(c.jwt), node_verifier(node_jwt(c)) {}

  // Whether an edit of `doc` can reach its home: this is the home, the strategy is
  // multi-master, or a link to the home is configured.
  bool reachable_home(std::uint32_t doc, const Strategy& strategy) const {
    const NodeConfig& nc = cfg.node;
    return strategy.multi_master || nc.nodes <= 1 || doc % nc.nodes == nc.id || links.contains(doc % nc.nodes);
  }
  // Closes a client connection, not from inside a node call.
  void close_conn(ConnId conn, std::uint16_t code, std::string reason);
  // The connections whose forwarded edits wait on `peer` cannot count on an answer any more
  // (the link broke, stayed down too long, or its queue overflowed): close them (4012) so their
  // clients reconnect and resend, and drop their edits still queued for the peer.
  void abandon(NodeId peer, const std::string& why);
  void on_peer_message(NodeId peer, PeerMessage pm);

  const std::string& configured_strategy(std::uint32_t doc) const {
    auto it = cfg.documents.find(doc);
    return it == cfg.documents.end() ? cfg.strategy : it->second;
  }
  NodeSlot& slot_for(std::uint32_t doc) { return *slots.at(configured_strategy(doc)); }
  // After each call into a node: deliver frames that were not acknowledgements are fan-out.
  void after_node_call() {
    if (unclassified_delivers > 0) metrics.fanout(unclassified_delivers);
    unclassified_delivers = 0;
  }
  // Runs `then` once `doc`'s strategy is recorded (first use claims it), on the App's thread.
  void with_claim(std::uint32_t doc, std::function<void(const std::string* error)> then);
  void on_store_reply(StoreReply reply);
  // What the store's threads hand over (replies, other servers' records), in arrival order. One
  // handler is posted per burst, not one per item: each post from another thread can wake the
  // App's thread, a system call and a context switch.
  struct BusRecord {
    std::uint32_t doc = 0;
    LogRecord record;
  };
  using FromStore = std::variant<StoreReply, BusRecord>;
  std::mutex inbox_mu;
  std::vector<FromStore> inbox;  // guarded by inbox_mu
  std::vector<FromStore> inbox_now;  // the App's thread's: the burst being handled
  void from_store(FromStore item) {
    bool first = false;
    {
      std::lock_guard lock(inbox_mu);
      first = inbox.empty();
      inbox.push_back(std::move(item));
    }
    if (first) asio::post(ioc, [this] { drain_inbox(); });
  }
  void drain_inbox();
  void on_bus(const BusRecord& r);
  void on_revoked(const std::string& jti);
  std::size_t documents() const {
    std::size_t n = 0;
    for (const auto& [name, s] : slots) n += s->node->loaded_docs().size();
    return n;
  }
  void disconnect(ConnId conn) {
    if (sessions.erase(conn) == 0) return;
    for (auto& [peer, conns] : forwarded) conns.erase(conn);
    for (auto& [name, s] : slots) s->node->on_disconnect(conn);
    after_node_call();
    metrics.set_connections(sessions.size());
  }
  void start_drain();
  // Every answer this server owes its peers has gone out (or the peer is unreachable).
  bool links_flushed() const;
};

// ---------------------------------------------------------------------------------------------
// WebSocket session: one connection, one Node ConnId; one read and one write in flight, a
// bounded queue of outgoing messages.
class WsSession : public std::enable_shared_from_this<WsSession> {
 public:
  struct Out {
    Bytes data;  // one WebSocket message: binary frames back to back, or JSON text
    bool text = false;
    std::size_t frames = 0;
  };
  WsSession(App& app, tcp::socket socket) : app_(app), ws_(std::move(socket)), idle_(app.ioc), expiry_(app.ioc) {}

  void start(http::request<http::string_body> req) {
    req_ = std::move(req);
    // Subprotocol: none (convlab/1), or a list that includes convlab/2 or convlab/1.
    bool offered = false;
    bool v1 = false;
    bool v2 = false;
    if (auto it = req_.find(http::field::sec_websocket_protocol); it != req_.end()) {
      offered = true;
      std::string_view list(it->value().data(), it->value().size());
      while (!list.empty()) {
        const auto comma = list.find(',');
        std::string_view item = list.substr(0, comma);
        list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        if (item == kProtocol1) v1 = true;
        if (item == kProtocol2) v2 = true;
      }
    }
    const bool ours = v1 || v2;
    version_ = v2 ? 2 : 1;
    if (offered && !ours) {
      auto res = std::make_shared<http::response<http::string_body>>(http::status::bad_request, req_.version());
      res->set(http::field::content_type, "application/json");
      res->body() = R"j({"error":"unsupported subprotocol (this server speaks convlab/2 and convlab/1)"})j";
      res->prepare_payload();
      auto self = shared_from_this();
      http::async_write(ws_.next_layer(), *res, [self, res](beast::error_code, std::size_t) {
        beast::error_code ignored;
        self->ws_.next_layer().socket().shutdown(tcp::socket::shutdown_both, ignored);
      });
      return;
    }
    ws_.set_option(websocket::stream_base::timeout{std::chrono::seconds(10), websocket::stream_base::none(), false});
    ws_.set_option(websocket::stream_base::decorator([ours, v2](websocket::response_type& res) {
      res.set(http::field::server, "convlab-server");
      if (ours) res.set(http::field::sec_websocket_protocol, v2 ? kProtocol2 : kProtocol1);
    }));
    ws_.read_message_max(app_.cfg.limits.max_message_bytes);
    ws_.auto_fragment(false);
    ws_.control_callback([this](websocket::frame_type, beast::string_view) { arm_idle(); });
    ws_.async_accept(req_, [self = shared_from_this()](beast::error_code ec) { self->on_accept(ec); });
  }

  ConnId id() const { return conn_; }
  const std::string& jti() const { return claims_.jti; }

  // A frame from a node, in this client's form. Under convlab/2 it joins the message being
  // filled for this connection (docs/protocol.md, "Batches").
  void send_frame(const Frame& frame, const Strategy& strategy) {
    if (closing_) return;
    app_.metrics.frame_sent(frame_type(frame.kind));
    Out* o = message_for(json_mode_);
    if (o == nullptr) return;
    if (json_mode_) {
      const std::string& j = app_.json_of(frame, strategy);
      if (o->frames == 1) {
        o->data.assign(j.begin(), j.end());
      } else {
        // Several frames: a JSON array of them.
        if (o->frames == 2) o->data.insert(o->data.begin(), '[');
        else o->data.pop_back();  // the closing ']'
        o->data.push_back(',');
        o->data.insert(o->data.end(), j.begin(), j.end());
        o->data.push_back(']');
      }
    } else {
      append_frame(o->data, frame);
    }
    queued();
  }

  // convlab/2: start the write the flush was scheduled for.
  void flush() {
    flush_posted_ = false;
    if (!writing_ && accepted_ && !out_.empty()) do_write();
  }

  // A refusal decided at the edge (the node never saw the frame).
  void refuse(std::uint32_t doc, const std::string& why, bool edit) {
    const std::string_view label = refusal_label(why);
    app_.metrics.frame_refused(label);
    if (edit) app_.metrics.edit_rejected(label);
    send_frame(Frame{FrameKind::kRefused, doc, {}, why}, app_.slot_for(doc).strategy);
  }

  // The node answered (or refused) the oldest edit of `doc` on this connection.
  std::optional<Clock::time_point> pop_edit(std::uint32_t doc) {
    auto it = edit_times_.find(doc);
    if (it == edit_times_.end() || it->second.empty()) return std::nullopt;
    const Clock::time_point t = it->second.front();
    it->second.pop_front();
    return t;
  }

  bool idle_out() const { return out_.empty() && !writing_; }

  // Ends the connection with `code`. What is queued is dropped (the drain waits for queues to
  // empty before closing with 1001).
  void close(std::uint16_t code, std::string reason) {
    if (closing_) return;
    closing_ = true;
    close_code_ = code;
    if (reason.size() > 120) reason.resize(120);  // a close frame's reason is at most 123 bytes
    close_reason_ = std::move(reason);
    out_.clear();
    queued_frames_ = 0;
    if (!accepted_) return;
    if (!writing_) do_close();
  }

 private:
  void on_accept(beast::error_code ec) {
    if (ec) return;  // handshake failed: nothing registered
    accepted_ = true;
    app_.metrics.connection_accepted();
    if (app_.draining) return close(close_code::kGoingAway, "server shutting down");
    if (app_.sessions.size() >= app_.cfg.limits.max_connections) {
      return close(close_code::kTryAgainLater, "too many connections");
    }
    const std::string token = request_token(req_, true);
    if (token.empty()) {
      app_.metrics.token_refused("missing");
      return close(close_code::kTokenInvalid, "token missing");
    }
    auto outcome = app_.verifier.verify(token, wall_s());
    if (!outcome.ok) {
      app_.metrics.token_refused(auth::to_string(outcome.refusal.why));
      return close(token_close_code(outcome.refusal.why),
                   "token " + std::string(auth::to_string(outcome.refusal.why)) + ": " + outcome.refusal.detail);
    }
    claims_ = outcome.claims;
    if (!app_.cfg.node.check_revocation) return begin();
    if (app_.revoked_jtis.contains(claims_.jti)) return refuse_revoked();
    // The revocation table, for a token revoked before this server heard of it.
    asio::post(app_.pool, [self = shared_from_this()] {
      auto revoked = self->app_.store->is_revoked(self->claims_.jti);
      asio::post(self->app_.ioc, [self, r = revoked.has_value() ? std::optional<bool>(*revoked) : std::nullopt] {
        if (self->closing_) return;
        if (r && *r) return self->refuse_revoked();
        self->begin();  // database down: the signature and expiry checks stand; NOTIFY covers later
      });
    });
  }

  void refuse_revoked() {
    app_.metrics.token_refused("revoked");
    close(close_code::kTokenRevoked, "token revoked");
  }

  void begin() {
    if (closing_) return;
    if (app_.sessions.size() >= app_.cfg.limits.max_connections) {
      return close(close_code::kTryAgainLater, "too many connections");
    }
    conn_ = app_.next_conn++;
    app_.sessions[conn_] = shared_from_this();
    app_.metrics.set_connections(app_.sessions.size());
    registered_ = true;
    const Token token{claims_.user, claims_.exp * 1000};
    for (auto& [name, s] : app_.slots) s->node->on_connect(conn_, claims_.agent, token);
    app_.after_node_call();
    if (closing_) return;
    bucket_ = static_cast<double>(app_.cfg.connection_burst);
    bucket_at_ = Clock::now();
    expiry_.expires_after(std::chrono::seconds(std::max<std::int64_t>(0, claims_.exp - wall_s())));
    expiry_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec) return;
      self->app_.metrics.token_refused("expired");
      self->close(close_code::kTokenExpired, "token expired");
    });
    arm_idle();
    do_read();
  }

  // Activity: the idle deadline moves to idle_timeout_ms from now. The timer is not re-armed
  // per message (a cancel, a posted completion and a new wait each time); when it fires early
  // it waits again for what is left.
  void arm_idle() {
    last_activity_ = Clock::now();
    if (idle_armed_) return;
    idle_armed_ = true;
    wait_idle(last_activity_ + std::chrono::milliseconds(app_.cfg.limits.idle_timeout_ms));
  }
  void wait_idle(Clock::time_point due) {
    idle_.expires_at(due);
    idle_.async_wait([weak = weak_from_this()](beast::error_code ec) {
      auto self = weak.lock();
      if (!self) return;
      if (ec) {
        self->idle_armed_ = false;
        return;
      }
      const auto deadline = self->last_activity_ + std::chrono::milliseconds(self->app_.cfg.limits.idle_timeout_ms);
      if (Clock::now() < deadline) return self->wait_idle(deadline);
      self->idle_armed_ = false;
      self->close(close_code::kIdle, "idle timeout");
    });
  }

  void do_read() {
    ws_.async_read(in_, recycled([self = shared_from_this()](beast::error_code ec, std::size_t n) { self->on_read(ec, n); }));
  }

  void on_read(beast::error_code ec, std::size_t n) {
    if (ec) {
      if (ec == websocket::error::message_too_big) {
        // Beast has sent the close frame with 1009 already.
        closing_ = true;
        close_code_ = close_code::kTooBig;
      }
      return teardown();
    }
    if (closing_) {
      // Closing: discard what still arrives while the close handshake completes.
      in_.consume(in_.size());
      return do_read();
    }
    app_.metrics.bytes_received(n);
    arm_idle();
    const bool text = ws_.got_text();
    const auto data = in_.cdata();
    // convlab/1: one frame per message; convlab/2: a batch, refused as a whole if any of it is bad.
    const std::size_t max_frames = version_ >= 2 ? kMaxBatchFrames : 1;
    std::optional<FrameError> bad;
    if (text) {
      std::string_view s(static_cast<const char*>(data.data()), data.size());
      bad = parse_json_message(
          s, max_frames, [this](std::uint32_t doc) -> const Strategy& { return app_.slot_for(doc).strategy; },
          json_frames_, views_);
    } else {
      bad = parse_binary_message(std::span(static_cast<const std::uint8_t*>(data.data()), data.size()), max_frames,
                                 views_);
    }
    if (bad) {
      close(bad->code, bad->why);
    } else {
      json_mode_ = text;
      app_.metrics.frame_received(text);
      for (const FrameView& v : views_) {
        if (closing_) break;
        handle(v);
      }
    }
    views_.clear();
    in_.consume(in_.size());
    // Also while closing: the read takes the peer's close frame and ends the handshake.
    do_read();
  }

  bool take_token() {
    if (app_.cfg.connection_rate_per_s <= 0) return true;
    const auto now = Clock::now();
    const double elapsed = std::chrono::duration<double>(now - bucket_at_).count();
    bucket_at_ = now;
    bucket_ = std::min(static_cast<double>(app_.cfg.connection_burst), bucket_ + elapsed * app_.cfg.connection_rate_per_s);
    if (bucket_ < 1.0) return false;
    bucket_ -= 1.0;
    return true;
  }

  void handle(const FrameView& frame) {
    const bool edit = frame.kind == FrameKind::kEdit;
    const std::uint32_t doc = frame.doc;
    if (edit) app_.metrics.edit_received();
    if (doc > app_.cfg.limits.max_document_id) return refuse(doc, "unknown document " + std::to_string(doc), edit);
    if (app_.draining) return refuse(doc, "server shutting down", edit);
    if (!take_token()) {
      app_.metrics.rate_limited("connection");
      return refuse(doc, "rate limited (connection): frame dropped", edit);
    }
    const bool opens = frame.kind == FrameKind::kHello || frame.kind == FrameKind::kSubscribe;
    if (opens && !docs_.contains(doc) && docs_.size() >= app_.cfg.limits.max_documents_per_connection) {
      return refuse(doc,
                    "too many documents on this connection (limit " +
                        std::to_string(app_.cfg.limits.max_documents_per_connection) + ")",
                    edit);
    }
    NodeSlot& slot = app_.slot_for(doc);
    const NodeConfig& nc = app_.cfg.node;
    if (!app_.reachable_home(doc, slot.strategy)) {
      return refuse(doc, "not home: document " + std::to_string(doc) + " lives on node " + std::to_string(doc % nc.nodes),
                    edit);
    }
    if (opens) docs_.insert(doc);
    if (edit) edit_times_[doc].push_back(Clock::now());
    if (auto known = app_.claimed.find(doc);
        known != app_.claimed.end() && known->second == app_.configured_strategy(doc)) {
      // The document's strategy is recorded already (the common case): straight to the node.
      if (slot.node->admit(conn_, frame.raw)) slot.node->on_frame(conn_, frame.raw);
      app_.after_node_call();
      return;
    }
    Bytes bytes(frame.raw.begin(), frame.raw.end());
    app_.with_claim(doc, [self = shared_from_this(), doc, edit, bytes = std::move(bytes)](const std::string* error) {
      if (!self->registered_ || !self->app_.sessions.contains(self->conn_)) return;
      if (error != nullptr) {
        if (edit) self->pop_edit(doc);
        return self->refuse(doc, *error, edit);
      }
      NodeSlot& s = self->app_.slot_for(doc);
      if (s.node->admit(self->conn_, bytes)) s.node->on_frame(self->conn_, bytes);
      self->app_.after_node_call();
    });
  }

  // The message the next frame goes into: under convlab/2 the last queued one while it has room
  // (the one being written is not queued any more), else a new one. nullptr: the queue is full
  // and the connection is being cut off (slow consumer).
  Out* message_for(bool text) {
    if (queued_frames_ >= app_.cfg.limits.max_outgoing_messages) {
      close(close_code::kSlowConsumer, "slow consumer: outgoing queue full");
      return nullptr;
    }
    ++queued_frames_;
    if (version_ >= 2 && !out_.empty()) {
      Out& last = out_.back();
      if (last.text == text && last.frames < kMaxBatchFrames && last.data.size() < kBatchTargetBytes) {
        ++last.frames;
        return &last;
      }
    }
    out_.push_back(Out{{}, text, 1});
    return &out_.back();
  }

  // A frame was queued: convlab/1 writes at once; convlab/2 once the current handler is done,
  // so what it produces for this connection leaves in one message.
  void queued() {
    if (writing_ || !accepted_) return;
    if (version_ < 2) return do_write();
    schedule_write();
  }

  // convlab/2: the next write starts after the current handler, or, with limits.coalesce_ms,
  // no sooner than that long after the previous write.
  void schedule_write() {
    if (flush_posted_) return;
    flush_posted_ = true;
    const auto window = std::chrono::milliseconds(app_.cfg.limits.coalesce_ms);
    if (window.count() > 0 && last_write_ && Clock::now() - *last_write_ < window) {
      return app_.hold_flush(shared_from_this(), *last_write_ + window);
    }
    app_.schedule_flush(shared_from_this());
  }

  void do_write() {
    writing_ = true;
    inflight_ = std::move(out_.front());
    out_.pop_front();
    queued_frames_ -= std::min(queued_frames_, inflight_.frames);
    ws_.text(inflight_.text);
    app_.metrics.message_sent(version_);
    if (app_.cfg.limits.coalesce_ms > 0) last_write_ = Clock::now();
    ws_.async_write(asio::buffer(inflight_.data),
                    recycled([self = shared_from_this()](beast::error_code ec, std::size_t n) { self->on_write(ec, n); }));
  }

  void on_write(beast::error_code ec, std::size_t n) {
    writing_ = false;
    if (ec) {
      out_.clear();
      queued_frames_ = 0;
      closing_ = true;
      return teardown();
    }
    app_.metrics.bytes_sent(n);
    if (closing_) return do_close();
    if (out_.empty()) return;
    if (version_ < 2) return do_write();
    schedule_write();
  }

  void do_close() {
    if (close_started_) return;
    close_started_ = true;
    // A client that does not answer the close frame is cut off after two seconds.
    ws_.set_option(websocket::stream_base::timeout{std::chrono::seconds(2), websocket::stream_base::none(), false});
    ws_.async_close(websocket::close_reason(static_cast<websocket::close_code>(close_code_), close_reason_),
                    [self = shared_from_this()](beast::error_code) { self->teardown(); });
  }

  void teardown() {
    if (torn_down_) return;
    torn_down_ = true;
    idle_.cancel();
    expiry_.cancel();
    app_.metrics.connection_closed(close_code_ == 0 ? "peer" : std::to_string(close_code_));
    if (registered_) app_.disconnect(conn_);
    beast::error_code ignored;
    ws_.next_layer().socket().close(ignored);
  }

  App& app_;
  websocket::stream<beast::tcp_stream> ws_;
  http::request<http::string_body> req_;
  beast::flat_buffer in_;
  asio::steady_timer idle_;
  Clock::time_point last_activity_{};  // the last message or control frame from the client
  bool idle_armed_ = false;            // idle_ has a wait pending
  asio::steady_timer expiry_;
  std::deque<Out> out_;       // queued, not yet being written
  Out inflight_;              // the message being written (its bytes must live until written)
  std::size_t queued_frames_ = 0;
  bool flush_posted_ = false;
  // With limits.coalesce_ms; none before the first write (a default time point is the machine's
  // boot, which may be less than a window ago).
  std::optional<Clock::time_point> last_write_;
  int version_ = 1;           // convlab/1 or convlab/2, from the handshake
  std::vector<FrameView> views_;  // the frames of the message being handled
  Bytes json_frames_;             // a text message's frames in binary form
  auth::Claims claims_;
  ConnId conn_ = 0;
  bool accepted_ = false;
  bool registered_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool close_started_ = false;
  bool torn_down_ = false;
  std::uint16_t close_code_ = 0;
  std::string close_reason_;
  bool json_mode_ = false;
  std::set<std::uint32_t> docs_;
  std::map<std::uint32_t, std::deque<Clock::time_point>> edit_times_;
  double bucket_ = 0;
  Clock::time_point bucket_at_;
};

// ---------------------------------------------------------------------------------------------
// Server to server (docs/protocol.md, "Server to server"). Each server keeps one outgoing
// WebSocket to each peer's /node and sends on it only; it receives on the links the peers open
// to it. Messages to a peer queue, in order, while its link is down.
class PeerLink : public std::enable_shared_from_this<PeerLink> {
 public:
  PeerLink(App& app, NodeId id, PeerUrl url)
      : app_(app), id_(id), label_(std::to_string(id)), url_(std::move(url)), resolver_(app.ioc), retry_(app.ioc),
        check_(app.ioc), backoff_ms_(app.cfg.cluster.reconnect_min_ms) {}

  void start() {
    unhealthy_since_ = Clock::now();
    publish();
    connect();
    arm_check();
  }

  // Queues one encoded message; `edit_conn` is the client connection of a forwarded edit (0 for
  // a reply). Past the bound, the connections waiting on this peer are abandoned.
  void send(Bytes msg, ConnId edit_conn) {
    queue_.push_back(Item{std::move(msg), edit_conn});
    if (queue_.size() > app_.cfg.cluster.queue_max) {
      app_.abandon(id_, "queue to node " + label_ + " over " + std::to_string(app_.cfg.cluster.queue_max) + " messages");
      // Replies left over are for connections the peer closes itself (its link from us is down).
      while (queue_.size() > app_.cfg.cluster.queue_max && (queue_.size() > 1 || !writing_)) {
        if (writing_) {
          queue_.erase(queue_.begin() + 1);
        } else {
          queue_.pop_front();
        }
      }
    }
    publish();
    if (up_ && !writing_) do_write();
  }

  // Drops the queued (not yet written) edits of `conns`.
  void drop_edits_of(const std::set<ConnId>& conns) {
    std::deque<Item> keep;
    for (std::size_t i = 0; i < queue_.size(); ++i) {
      if ((i == 0 && writing_) || queue_[i].conn == 0 || !conns.contains(queue_[i].conn)) keep.push_back(std::move(queue_[i]));
    }
    queue_ = std::move(keep);
    publish();
  }

  bool up() const { return up_; }
  bool flushed() const { return !up_ || (queue_.empty() && !writing_); }

 private:
  struct Item {
    Bytes bytes;
    ConnId conn = 0;
  };

  void publish() { app_.metrics.set_link(label_, up_, queue_.size()); }

  std::string token() const {
    auth::Claims c;
    c.user = app_.cfg.node.id;
    c.sub = "node:" + std::to_string(app_.cfg.node.id);
    c.jti = random_hex(16);
    c.iss = app_.cfg.jwt.issuer;
    c.aud = node_audience(app_.cfg.jwt);
    c.iat = wall_s();
    c.nbf = c.iat;
    c.exp = c.iat + 300;
    return auth::sign_hs256(c, app_.cfg.jwt.secret);
  }

  void connect() {
    const std::uint64_t gen = ++gen_;
    ws_.emplace(app_.ioc);
    resolver_.async_resolve(url_.host, url_.port,
                            [self = shared_from_this(), gen](beast::error_code ec, tcp::resolver::results_type r) {
                              if (gen != self->gen_) return;
                              if (ec) return self->fail("resolve: " + ec.message());
                              beast::get_lowest_layer(*self->ws_).expires_after(std::chrono::seconds(5));
                              beast::get_lowest_layer(*self->ws_).async_connect(
                                  r, [self, gen](beast::error_code e, const tcp::endpoint&) {
                                    if (gen != self->gen_) return;
                                    if (e) return self->fail("connect: " + e.message());
                                    self->handshake(gen);
                                  });
                            });
  }

  void handshake(std::uint64_t gen) {
    beast::get_lowest_layer(*ws_).expires_never();
    ws_->set_option(websocket::stream_base::timeout{std::chrono::seconds(5), std::chrono::seconds(10), true});
    ws_->set_option(websocket::stream_base::decorator([t = token()](websocket::request_type& req) {
      req.set(http::field::authorization, "Bearer " + t);
      req.set(http::field::user_agent, "convlab-server");
    }));
    ws_->read_message_max(16u << 20);
    ws_->binary(true);
    ws_->async_handshake(url_.host + ":" + url_.port, url_.path, [self = shared_from_this(), gen](beast::error_code ec) {
      if (gen != self->gen_) return;
      if (ec) return self->fail("handshake: " + ec.message());
      self->up_ = true;
      self->backoff_ms_ = self->app_.cfg.cluster.reconnect_min_ms;
      std::cerr << "convlab-server: link to node " << self->label_ << " up\n";
      self->publish();
      self->do_read(gen);
      if (!self->queue_.empty() && !self->writing_) self->do_write();
    });
  }

  // The peer sends nothing but control frames; the read takes them and notices a close.
  void do_read(std::uint64_t gen) {
    ws_->async_read(in_, [self = shared_from_this(), gen](beast::error_code ec, std::size_t) {
      if (gen != self->gen_) return;
      self->in_.consume(self->in_.size());
      if (ec) {
        const auto& r = self->ws_->reason();
        return self->fail("closed: " + ec.message() + (r.code != 0 ? " (" + std::to_string(r.code) + " " +
                                                                           std::string(r.reason.c_str()) + ")"
                                                                     : std::string()));
      }
      self->do_read(gen);
    });
  }

  void do_write() {
    writing_ = true;
    const std::uint64_t gen = gen_;
    ws_->async_write(asio::buffer(queue_.front().bytes), [self = shared_from_this(), gen](beast::error_code ec, std::size_t) {
      if (gen != self->gen_) return;
      self->writing_ = false;
      if (ec) return self->fail("write: " + ec.message());
      self->queue_.pop_front();
      self->publish();
      if (!self->queue_.empty()) self->do_write();
    });
  }

  void fail(const std::string& why) {
    const bool was_up = up_;
    ++gen_;  // every handler of this attempt is now stale
    if (writing_ && !queue_.empty()) queue_.pop_front();  // may or may not have arrived: not twice
    writing_ = false;
    up_ = false;
    if (ws_) {
      beast::error_code ignored;
      beast::get_lowest_layer(*ws_).socket().close(ignored);
    }
    publish();
    if (was_up) {
      std::cerr << "convlab-server: link to node " << label_ << " lost: " << why << "\n";
      // What was written may have been lost with the connection, and the answers with it.
      app_.abandon(id_, "link lost: " + why);
    } else if (!logged_down_) {
      std::cerr << "convlab-server: link to node " << label_ << " not up yet: " << why << " (retrying)\n";
    }
    logged_down_ = !was_up;
    retry_.expires_after(std::chrono::milliseconds(backoff_ms_));
    backoff_ms_ = std::min(backoff_ms_ * 2, app_.cfg.cluster.reconnect_max_ms);
    retry_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->connect();
    });
  }

  // Edits wait while the peer is unreachable (this link down, or none from the peer to carry its
  // answers), but not longer than down_close_ms.
  void arm_check() {
    check_.expires_after(std::chrono::milliseconds(std::clamp<std::int64_t>(app_.cfg.cluster.down_close_ms / 10, 10, 1000)));
    check_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec) return;
      self->check();
      self->arm_check();
    });
  }
  void check() {
    const bool healthy = up_ && app_.inbound[id_] > 0;
    const auto now = Clock::now();
    if (healthy) {
      unhealthy_since_.reset();
      return;
    }
    if (!unhealthy_since_) unhealthy_since_ = now;
    if (now - *unhealthy_since_ >= std::chrono::milliseconds(app_.cfg.cluster.down_close_ms)) {
      auto f = app_.forwarded.find(id_);
      if (f != app_.forwarded.end() && !f->second.empty()) {
        app_.abandon(id_, "node " + label_ + " unreachable for " + std::to_string(app_.cfg.cluster.down_close_ms) + " ms");
      }
      unhealthy_since_ = now;
    }
  }

  App& app_;
  NodeId id_;
  std::string label_;
  PeerUrl url_;
  tcp::resolver resolver_;
  asio::steady_timer retry_;
  asio::steady_timer check_;
  std::optional<websocket::stream<beast::tcp_stream>> ws_;
  beast::flat_buffer in_;
  std::deque<Item> queue_;
  std::uint64_t gen_ = 0;
  bool up_ = false;
  bool writing_ = false;
  bool logged_down_ = false;
  std::int64_t backoff_ms_;
  std::optional<Clock::time_point> unhealthy_since_;
};

// An incoming link from a peer at /node: authenticated by a node token, then a stream of
// binary NodeMessages. Anything else closes it with a code; the server never crashes on input.
class NodeSession : public std::enable_shared_from_this<NodeSession> {
 public:
  NodeSession(App& app, tcp::socket socket) : app_(app), ws_(std::move(socket)) {}

  void start(http::request<http::string_body> req) {
    req_ = std::move(req);
    ws_.set_option(websocket::stream_base::timeout{std::chrono::seconds(5), std::chrono::seconds(10), true});
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "convlab-server"); }));
    ws_.read_message_max(16u << 20);
    ws_.async_accept(req_, [self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->on_accept();
    });
  }

 private:
  void on_accept() {
    const std::string token = request_token(req_, false);
    if (token.empty()) return refuse("token", close_code::kTokenInvalid, "node token missing");
    auto outcome = app_.node_verifier.verify(token, wall_s());
    if (!outcome.ok) {
      return refuse("token", close_code::kTokenInvalid,
                    "node token " + std::string(auth::to_string(outcome.refusal.why)) + ": " + outcome.refusal.detail);
    }
    const auth::Claims& c = outcome.claims;
    if (c.sub != "node:" + std::to_string(c.user) || c.user >= app_.cfg.node.nodes || c.user == app_.cfg.node.id) {
      return refuse("token", close_code::kTokenInvalid, "node token names no other node of this cluster");
    }
    peer_ = c.user;
    authenticated_ = true;
    ++app_.inbound[peer_];
    std::cerr << "convlab-server: link from node " << peer_ << " up\n";
    do_read();
  }

  void refuse(const char* label, std::uint16_t code, std::string why) {
    app_.metrics.node_refused(label);
    std::cerr << "convlab-server: /node refused: " << why << "\n";
    if (why.size() > 120) why.resize(120);
    closing_ = true;
    ws_.async_close(websocket::close_reason(static_cast<websocket::close_code>(code), why),
                    [self = shared_from_this()](beast::error_code) { self->teardown(); });
  }

  void do_read() {
    ws_.async_read(in_, [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec) return teardown();
    if (closing_) {
      in_.consume(in_.size());
      return do_read();
    }
    if (ws_.got_text()) {
      in_.consume(in_.size());
      return refuse("decode", close_code::kBadBinary, "node messages are binary");
    }
    const auto data = in_.cdata();
    PeerDecodeError error;
    auto m = decode_peer_message(std::span(static_cast<const std::uint8_t*>(data.data()), data.size()), &error);
    in_.consume(in_.size());
    if (!m) {
      return refuse(error.version ? "version" : "decode", error.version ? close_code::kNodeVersion : close_code::kBadBinary,
                    error.why);
    }
    if (m->message.from != peer_) {
      return refuse("sender", close_code::kBadField,
                    "message from node " + std::to_string(m->message.from) + " on node " + std::to_string(peer_) + "'s link");
    }
    app_.on_peer_message(peer_, std::move(*m));
    do_read();
  }

  void teardown() {
    if (torn_down_) return;
    torn_down_ = true;
    beast::error_code ignored;
    ws_.next_layer().socket().close(ignored);
    if (!authenticated_) return;
    std::cerr << "convlab-server: link from node " << peer_ << " closed\n";
    if (--app_.inbound[peer_] == 0) app_.abandon(peer_, "link from node " + std::to_string(peer_) + " closed");
  }

  App& app_;
  websocket::stream<beast::tcp_stream> ws_;
  http::request<http::string_body> req_;
  beast::flat_buffer in_;
  NodeId peer_ = 0;
  bool authenticated_ = false;
  bool closing_ = false;
  bool torn_down_ = false;
};

void App::flush_held() {
  std::vector<std::shared_ptr<WsSession>> now;
  now.swap(held);
  for (auto& s : now) s->flush();
}

void App::flush_sessions() {
  std::vector<std::shared_ptr<WsSession>> now;
  now.swap(to_flush);
  for (auto& s : now) s->flush();
}

bool App::links_flushed() const {
  for (const auto& [id, link] : links) {
    if (!link->flushed()) return false;
  }
  return true;
}

void App::close_conn(ConnId conn, std::uint16_t code, std::string reason) {
  asio::post(ioc, [this, conn, code, reason = std::move(reason)] {
    if (auto it = sessions.find(conn); it != sessions.end()) it->second->close(code, reason);
  });
}

void App::abandon(NodeId peer, const std::string& why) {
  auto it = forwarded.find(peer);
  if (it == forwarded.end() || it->second.empty()) return;
  std::set<ConnId> conns;
  for (const auto& [conn, n] : it->second) conns.insert(conn);
  forwarded.erase(it);
  if (auto l = links.find(peer); l != links.end()) l->second->drop_edits_of(conns);
  metrics.link_abandoned(std::to_string(peer), conns.size());
  std::cerr << "convlab-server: closing " << conns.size() << " connection(s) whose edits wait on node " << peer << ": "
            << why << "\n";
  for (ConnId conn : conns) close_conn(conn, close_code::kHomeUnreachable, "home node " + std::to_string(peer) + " unreachable");
}

void App::on_peer_message(NodeId peer, PeerMessage pm) {
  NodeMessage& m = pm.message;
  const bool edit = m.kind == NodeMessage::Kind::kForwardEdit;
  metrics.node_message(node_message_label(m.kind), "received");
  auto s = slots.find(pm.strategy);
  if (s == slots.end() || configured_strategy(m.doc) != pm.strategy ||
      (edit && m.doc % cfg.node.nodes != cfg.node.id)) {
    // A cluster whose servers disagree on strategies or on `nodes`: never feed the wrong node.
    metrics.node_refused("strategy");
    std::cerr << "convlab-server: dropped a message from node " << peer << " for document " << m.doc << " ("
              << pm.strategy << "): this server has it as " << configured_strategy(m.doc) << " with home node "
              << m.doc % cfg.node.nodes << "\n";
    return;
  }
  NodeSlot* slot = s->second.get();
  if (!edit) {
    auto f = forwarded.find(peer);
    if (f != forwarded.end()) {
      auto c = f->second.find(m.conn);
      if (c != f->second.end() && --c->second == 0) f->second.erase(c);
    }
    slot->node->on_node(m);
    after_node_call();
    return;
  }
  with_claim(m.doc, [this, slot, m = std::move(m)](const std::string* error) {
    if (error != nullptr) {
      // The forwarding server's client gets no answer; the link check closes it if it waits.
      std::cerr << "convlab-server: forwarded edit of document " << m.doc << " dropped: " << *error << "\n";
      return;
    }
    slot->node->on_node(m);
    after_node_call();
  });
}

// ---------------------------------------------------------------------------------------------
// NodeIo, on the App's thread.

void NodeSlot::send(ConnId conn, const Frame& frame) {
  auto it = app.sessions.find(conn);
  if (it == app.sessions.end()) return;
  WsSession& s = *it->second;
  if (frame.kind == FrameKind::kDeliver) ++app.unclassified_delivers;
  if (frame.kind == FrameKind::kRefused) {
    const std::string_view label = refusal_label(frame.text);
    app.metrics.frame_refused(label);
    if (label == "rate_limit_user") app.metrics.rate_limited("user");
    if (refusal_ends_edit(frame.text)) {
      app.metrics.edit_rejected(label);
      s.pop_edit(frame.doc);
    }
  }
  s.send_frame(frame, strategy);
}

void NodeSlot::close(ConnId conn, const std::string& reason) {
  std::uint16_t code = close_code::kDocumentReset;
  if (reason == "token expired") code = close_code::kTokenExpired;
  if (reason == "token revoked") code = close_code::kTokenRevoked;
  // Not from inside the node's call: the session tears down (and tells every node) later.
  asio::post(app.ioc, [&a = app, conn, code, reason] {
    if (auto it = a.sessions.find(conn); it != a.sessions.end()) it->second->close(code, reason);
  });
}

void NodeSlot::store(StoreRequest request) {
  const std::uint64_t id = app.next_store_id++;
  app.store_calls[id] = App::StoreCall{this, request.id, request.kind};
  app.metrics.store_request(kind_name(request.kind));
  if (request.kind == StoreRequest::Kind::kAppend) ++app.appends_in_flight;
  const std::int64_t now = wall_ms();
  for (LogRecord& r : request.records) {
    if (r.server_ms == 0) r.server_ms = now;
  }
  request.id = id;
  app.store->submit(std::move(request));
}

void NodeSlot::to_node(NodeId node_id, NodeMessage message) {
  const bool edit = message.kind == NodeMessage::Kind::kForwardEdit;
  auto link = app.links.find(node_id);
  if (link == app.links.end()) {
    // The edge refuses documents whose home has no link; a reply to an unconfigured peer is
    // a configuration mismatch worth hearing about, not a crash.
    std::cerr << "convlab-server: dropped a message for node " << node_id << " (doc " << message.doc
              << "): no peer link to that node is configured\n";
    if (edit) app.close_conn(message.conn, close_code::kHomeUnreachable, "no link to node " + std::to_string(node_id));
    return;
  }
  app.metrics.node_message(node_message_label(message.kind), "sent");
  if (edit) ++app.forwarded[node_id][message.conn];
  const ConnId conn = edit ? message.conn : 0;
  link->second->send(encode_peer_message(PeerMessage{std::string(strategy.name), std::move(message)}), conn);
}

void NodeSlot::start_timer(std::int64_t delay_ms, std::uint64_t timer) {
  auto t = std::make_shared<asio::steady_timer>(app.ioc, std::chrono::milliseconds(delay_ms));
  t->async_wait([this, t, timer](beast::error_code ec) {
    if (ec) return;
    node->on_timer(timer);
    app.after_node_call();
  });
}

void NodeSlot::respond(const HttpResponse& response) {
  auto it = app.http_waiting.find(response.id);
  if (it == app.http_waiting.end()) return;
  auto then = std::move(it->second);
  app.http_waiting.erase(it);
  then(response);
}

void NodeSlot::acknowledged(ConnId conn, std::uint32_t doc, std::size_t messages) {
  app.unclassified_delivers -= std::min(app.unclassified_delivers, messages);
  auto it = app.sessions.find(conn);
  if (it == app.sessions.end()) return;
  if (auto t = it->second->pop_edit(doc)) {
    app.metrics.edit_acknowledged(std::chrono::duration<double>(Clock::now() - *t).count());
  }
}

// ---------------------------------------------------------------------------------------------

void App::with_claim(std::uint32_t doc, std::function<void(const std::string* error)> then) {
  auto known = claimed.find(doc);
  if (known != claimed.end()) {
    if (known->second == configured_strategy(doc)) return then(nullptr);
    const std::string why = "strategy mismatch: document " + std::to_string(doc) + " uses " + known->second +
                            ", this server is configured with " + configured_strategy(doc);
    return then(&why);
  }
  auto& waiting = claiming[doc];
  waiting.push_back(std::move(then));
  if (waiting.size() > 1) return;  // a claim is on its way
  asio::post(pool, [this, doc, name = configured_strategy(doc)] {
    auto got = store->claim_strategy(doc, name);
    asio::post(ioc, [this, doc, ok = got.has_value(), value = got.has_value() ? *got : got.error().message] {
      auto callbacks = std::move(claiming[doc]);
      claiming.erase(doc);
      if (!ok) {
        const std::string why = "store unavailable: " + value;
        for (auto& cb : callbacks) cb(&why);
        return;
      }
      claimed[doc] = value;
      for (auto& cb : callbacks) with_claim(doc, std::move(cb));
    });
  });
}

void App::on_store_reply(StoreReply reply) {
  auto it = store_calls.find(reply.id);
  if (it == store_calls.end()) return;
  const StoreCall call = it->second;
  store_calls.erase(it);
  if (call.kind == StoreRequest::Kind::kAppend) {
    --appends_in_flight;
    if (!reply.ok) metrics.append_failed();
  }
  reply.id = call.local_id;
  call.slot->node->on_store(reply);
  after_node_call();
}

void App::drain_inbox() {
  inbox_now.clear();
  {
    std::lock_guard lock(inbox_mu);
    inbox_now.swap(inbox);
  }
  for (FromStore& item : inbox_now) {
    if (auto* r = std::get_if<StoreReply>(&item)) {
      on_store_reply(std::move(*r));
    } else {
      on_bus(std::get<BusRecord>(item));
    }
  }
  inbox_now.clear();
}

void App::on_bus(const BusRecord& r) {
  auto c = claimed.find(r.doc);
  if (c == claimed.end()) return;  // never opened here: it loads from the store when needed
  auto s = slots.find(c->second);
  if (s == slots.end()) return;
  s->second->node->on_bus(r.doc, r.record);
  after_node_call();
}

void App::on_revoked(const std::string& jti) {
  revoked_jtis.insert(jti);
  if (!cfg.node.check_revocation) return;
  for (auto& [conn, s] : sessions) {
    if (s->jti() == jti) {
      metrics.token_refused("revoked");
      s->close(close_code::kTokenRevoked, "token revoked");
    }
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP: one request at a time per connection; handlers that need the database run on the pool.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(App& app, tcp::socket socket) : app_(app), stream_(std::move(socket)) {}
  void run() { do_read(); }

 private:
  using Response = http::response<http::string_body>;

  void do_read() {
    parser_.emplace();
    parser_->body_limit(app_.cfg.limits.max_http_body_bytes);
    parser_->header_limit(16 * 1024);
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      keep_alive_ = false;
      return reply(413, R"({"error":"request body too large"})", "other");
    }
    if (ec) return shutdown();
    req_ = parser_->release();
    keep_alive_ = req_.keep_alive();
    path_ = target_path(std::string_view(req_.target().data(), req_.target().size()));
    if (websocket::is_upgrade(req_) && path_ == "/node") {
      stream_.expires_never();
      std::make_shared<NodeSession>(app_, stream_.release_socket())->start(std::move(req_));
      return;
    }
    if (websocket::is_upgrade(req_)) {
      if (path_ != "/ws") return reply(404, R"({"error":"WebSocket is at /ws"})", "other");
      stream_.expires_never();
      std::make_shared<WsSession>(app_, stream_.release_socket())->start(std::move(req_));
      return;
    }
    route();
  }

  void route() {
    const auto method = req_.method();
    auto only = [&](http::verb v, const char* route) {
      if (method == v) return true;
      reply(405, R"({"error":"method not allowed"})", route);
      return false;
    };
    if (path_ == "/healthz") {
      if (!only(http::verb::get, "/healthz")) return;
      json::object o;
      o["status"] = "ok";
      o["db"] = app_.store->healthy() ? "up" : "down";
      o["node"] = app_.cfg.node.id;
      o["connections"] = app_.sessions.size();
      o["documents"] = app_.documents();
      o["draining"] = app_.draining;
      return reply(200, json::serialize(o), "/healthz");
    }
    if (path_ == "/metrics") {
      if (!only(http::verb::get, "/metrics")) return;
      app_.metrics.set_connections(app_.sessions.size());
      app_.metrics.set_documents(app_.documents());
      app_.metrics.db_up(app_.store->healthy());
      return reply(200, app_.metrics.text(), "/metrics", "text/plain; version=0.0.4; charset=utf-8");
    }
    if (path_ == "/login") {
      if (only(http::verb::post, "/login")) login();
      return;
    }
    if (path_ == "/refresh") {
      if (only(http::verb::post, "/refresh")) refresh();
      return;
    }
    if (path_ == "/logout") {
      if (only(http::verb::post, "/logout")) logout();
      return;
    }
    if (path_.starts_with("/api/documents/")) {
      if (only(http::verb::get, "/api/documents")) get_document(path_.substr(15));
      return;
    }
    reply(404, R"({"error":"not found"})", "other");
  }

  // The token of the request, verified; false (and the answer sent) when it does not pass.
  bool authenticate(const char* route, auth::Claims& out) {
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

  // Runs `check` on the pool for a revoked token and continues with `then` on the App's thread.
  void unless_revoked(const auth::Claims& claims, const char* route, std::function<void()> then) {
    if (!app_.cfg.node.check_revocation) return then();
    auto deny = [this, route] {
      app_.metrics.token_refused("revoked");
      reply(403, R"({"error":"token revoked","reason":"revoked"})", route);
    };
    if (app_.revoked_jtis.contains(claims.jti)) return deny();
    asio::post(app_.pool, [self = shared_from_this(), jti = claims.jti, then = std::move(then), deny] {
      auto r = self->app_.store->is_revoked(jti);
      asio::post(self->app_.ioc, [self, revoked = r.has_value() && *r, then, deny] {
        if (revoked) return deny();
        then();
      });
    });
  }

  std::optional<json::object> body_object() {
    boost::system::error_code ec;
    json::value v = json::parse(req_.body(), ec);
    if (ec || !v.is_object()) return std::nullopt;
    return v.get_object();
  }

  static std::optional<std::string> string_field(const json::object& o, const char* name) {
    const json::value* v = o.if_contains(name);
    if (v == nullptr || !v->is_string()) return std::nullopt;
    return std::string(v->get_string());
  }

  bool password_ok(const std::string& user, const std::string& password) const {
    auto it = app_.cfg.users.find(user);
    if (it != app_.cfg.users.end()) return same_secret(password, it->second);
    if (!app_.cfg.lab_password.empty()) return same_secret(password, app_.cfg.lab_password);
    same_secret(password, password);  // the same work for an unknown name
    return false;
  }

  // Issues a token for `name` (user `uid`) with a fresh agent, and a refresh token; on the pool.
  // Fills `res` with the answer.
  void issue(const std::string& name, std::uint32_t uid, Response& res) {
    auto agent = app_.store->new_agent();
    if (!agent) return error_json(res, 503, "store unavailable: " + agent.error().message);
    auth::Claims c;
    c.user = uid;
    c.sub = name;
    c.agent = *agent;
    c.jti = random_hex(16);
    c.iss = app_.cfg.jwt.issuer;
    c.aud = app_.cfg.jwt.audience;
    c.iat = wall_s();
    c.nbf = c.iat;
    c.exp = c.iat + app_.cfg.token_lifetime_s;
    const std::string jwt = auth::sign_hs256(c, app_.cfg.jwt.secret);
    // The refresh token names its user (the name is not a secret; the random part is, and the
    // whole string is what the store holds).
    const std::string refresh = random_hex(32) + "." + auth::detail::base64url_encode(name);
    if (auto put = app_.store->put_refresh(refresh, uid, c.iat + app_.cfg.refresh_lifetime_s); !put) {
      return error_json(res, 503, "store unavailable: " + put.error().message);
    }
    json::object o;
    o["token"] = jwt;
    o["refresh_token"] = refresh;
    o["user_id"] = uid;
    o["user"] = name;
    o["agent"] = c.agent;
    o["expires_in"] = app_.cfg.token_lifetime_s;
    o["token_type"] = "Bearer";
    res.result(200);
    res.set(http::field::set_cookie, std::string(kCookie) + "=" + jwt + "; HttpOnly; SameSite=Strict; Path=/; Max-Age=" +
                                         std::to_string(app_.cfg.token_lifetime_s));
    res.body() = json::serialize(o);
  }

  static void error_json(Response& res, unsigned status, const std::string& message) {
    json::object o;
    o["error"] = message;
    res.result(status);
    res.body() = json::serialize(o);
  }

  void login() {
    auto body = body_object();
    auto user = body ? string_field(*body, "user") : std::nullopt;
    auto password = body ? string_field(*body, "password") : std::nullopt;
    if (!user || !password || user->empty() || user->size() > 200) {
      return reply(400, R"({"error":"expected {\"user\": string, \"password\": string}"})", "/login");
    }
    if (!password_ok(*user, *password)) {
      app_.metrics.login("bad_credentials");
      return reply(401, R"({"error":"bad credentials"})", "/login");
    }
    blocking("/login", [self = shared_from_this(), name = *user](Response& res) {
      auto uid = self->app_.store->user_id(name);
      if (!uid) {
        self->app_.metrics.login("error");
        return error_json(res, 503, "store unavailable: " + uid.error().message);
      }
      self->issue(name, *uid, res);
      self->app_.metrics.login(res.result_int() == 200 ? "ok" : "error");
    });
  }

  void refresh() {
    auto body = body_object();
    auto token = body ? string_field(*body, "refresh_token") : std::nullopt;
    if (!token) return reply(400, R"({"error":"expected {\"refresh_token\": string}"})", "/refresh");
    blocking("/refresh", [self = shared_from_this(), old = *token](Response& res) {
      const auto dot = old.find('.');
      auto decoded = dot == std::string::npos ? Result<std::string>(make_error("no name"))
                                              : auth::detail::base64url_decode(std::string_view(old).substr(dot + 1));
      const std::string name = decoded ? *decoded : std::string();
      const std::string next = random_hex(32) + "." + auth::detail::base64url_encode(name);
      auto uid = self->app_.store->use_refresh(old, next, wall_s() + self->app_.cfg.refresh_lifetime_s);
      if (!uid || name.empty()) return error_json(res, 401, "refresh token unknown, used or expired");
      self->issue(name, *uid, res);
      // issue() stored a second refresh token; the rotated one is `next`: hand that one out.
      if (res.result_int() == 200) {
        boost::system::error_code ec;
        json::value v = json::parse(res.body(), ec);
        if (!ec && v.is_object()) {
          v.get_object()["refresh_token"] = next;
          res.body() = json::serialize(v);
        }
      }
    });
  }

  void logout() {
    auth::Claims claims;
    if (!authenticate("/logout", claims)) return;
    app_.on_revoked(claims.jti);  // here at once; the others through NOTIFY
    blocking("/logout", [self = shared_from_this(), claims](Response& res) {
      auto r = self->app_.store->revoke(claims.jti, claims.user, claims.exp);
      if (!r) return error_json(res, 503, "store unavailable: " + r.error().message);
      if (auto d = self->app_.store->drop_refresh_of(claims.user); !d) {
        return error_json(res, 503, "store unavailable: " + d.error().message);
      }
      res.result(200);
      res.set(http::field::set_cookie, std::string(kCookie) + "=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
      res.body() = R"({"ok":true})";
    });
  }

  void get_document(const std::string& id_text) {
    std::uint64_t id = 0;
    auto [end, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
    if (id_text.empty() || ec != std::errc() || end != id_text.data() + id_text.size() || id > 0xffffffffu) {
      return reply(400, R"({"error":"document id must be an integer in [0, 4294967295]"})", "/api/documents");
    }
    const auto doc = static_cast<std::uint32_t>(id);
    if (doc > app_.cfg.limits.max_document_id) return reply(404, R"({"error":"unknown document"})", "/api/documents");
    auth::Claims claims;
    if (!authenticate("/api/documents", claims)) return;
    unless_revoked(claims, "/api/documents", [self = shared_from_this(), doc, claims] {
      self->app_.with_claim(doc, [self, doc, claims](const std::string* error) {
        if (error != nullptr) {
          json::object o;
          o["error"] = *error;
          return self->reply(error->starts_with("strategy mismatch") ? 409 : 503, json::serialize(o), "/api/documents");
        }
        NodeSlot& slot = self->app_.slot_for(doc);
        HttpGet get;
        get.id = self->app_.next_http++;
        get.doc = doc;
        get.token = Token{claims.user, claims.exp * 1000};
        self->app_.http_waiting[get.id] = [self, &slot](const HttpResponse& r) { self->document_answer(slot, r); };
        // The store may not answer (database down): bounded, then 503.
        const std::int64_t limit = self->app_.cfg.limits.api_read_timeout_ms;
        auto timer = std::make_shared<asio::steady_timer>(self->app_.ioc, std::chrono::milliseconds(limit));
        timer->async_wait([self, timer, id = get.id, limit](beast::error_code timer_ec) {
          if (timer_ec || self->app_.http_waiting.erase(id) == 0) return;
          self->app_.metrics.api_read_timeout();
          json::object o;
          o["error"] = "store unavailable: no answer within " + std::to_string(limit) + " ms";
          self->reply(503, json::serialize(o), "/api/documents");
        });
        self->http_timer_ = timer;
        slot.node->on_http_get(get);
        self->app_.after_node_call();
      });
    });
  }

  void document_answer(NodeSlot& slot, const HttpResponse& r) {
    if (http_timer_) http_timer_->cancel();
    http_timer_.reset();
    json::object o;
    if (r.status != 200) {
      o["error"] = r.why;
      o["reason"] = r.status == 403 ? "revoked" : r.status == 401 ? "expired" : "unreadable";
      return reply(static_cast<unsigned>(r.status), json::serialize(o), "/api/documents");
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
    cache_control_ = r.no_store ? "no-store" : "public, max-age=300";
    reply(200, json::serialize(o), "/api/documents");
  }

  // Runs `work` on the pool (it may block on the database), then sends what it filled in.
  void blocking(const char* route, std::function<void(Response&)> work) {
    asio::post(app_.pool, [self = shared_from_this(), route, work = std::move(work)] {
      auto res = std::make_shared<Response>(http::status::internal_server_error, self->req_.version());
      try {
        work(*res);
      } catch (const std::exception& e) {
        error_json(*res, 500, e.what());
      }
      asio::post(self->app_.ioc, [self, res, route] {
        self->send(std::move(*res), route);
      });
    });
  }

  void reply(unsigned status, std::string body, const char* route, const char* type = "application/json") {
    Response res(static_cast<http::status>(status), req_.version());
    res.set(http::field::content_type, type);
    res.body() = std::move(body);
    send(std::move(res), route);
  }

  void send(Response res, const char* route) {
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

  void shutdown() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  App& app_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::request<http::string_body> req_;
  std::string path_;
  std::string cache_control_;
  bool keep_alive_ = true;
  std::shared_ptr<asio::steady_timer> http_timer_;  // the pending document read's bound
};

// ---------------------------------------------------------------------------------------------

void App::start_drain() {
  if (draining) return;
  draining = true;
  std::cerr << "convlab-server: draining (" << appends_in_flight << " appends in flight, " << sessions.size()
            << " connections)\n";
  beast::error_code ignored;
  acceptor.close(ignored);
  const auto deadline = Clock::now() + std::chrono::milliseconds(cfg.limits.shutdown_grace_ms);
  auto timer = std::make_shared<asio::steady_timer>(ioc);
  // The check re-arms itself; the pending wait's handler is what keeps it alive, so it ends
  // when it stops re-arming.
  auto check = std::make_shared<std::function<void()>>();
  *check = [this, timer, weak = std::weak_ptr(check), deadline, closed = false]() mutable {
    const bool late = Clock::now() >= deadline;
    if (!closed) {
      bool flushed = appends_in_flight == 0 && claiming.empty();
      for (auto& [conn, s] : sessions) flushed = flushed && s->idle_out();
      // Forwarded edits still waiting for their home's answer.
      for (auto& [peer, conns] : forwarded) flushed = flushed && conns.empty();
      if (flushed || late) {
        if (late) std::cerr << "convlab-server: grace period over with " << appends_in_flight << " appends in flight\n";
        closed = true;
        for (auto& [conn, s] : std::map(sessions)) s->close(close_code::kGoingAway, "server shutting down");
      }
    } else if ((sessions.empty() && links_flushed()) || late) {
      ioc.stop();
      return;
    }
    timer->expires_after(std::chrono::milliseconds(10));
    timer->async_wait([again = weak.lock()](beast::error_code ec) {
      if (!ec && again) (*again)();
    });
  };
  (*check)();
}

struct Server::Impl {
  std::unique_ptr<App> app;
  std::vector<std::function<void()>> keep;

  void do_accept() {
    app->acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (!app->acceptor.is_open()) return;
      if (!ec) {
        // Small frames (an acknowledgement, one keystroke) go out at once: with Nagle's
        // algorithm a reply waits for the peer's delayed ACK (40 ms on Linux).
        beast::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        std::make_shared<HttpSession>(*app, std::move(socket))->run();
      }
      do_accept();
    });
  }
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() {
  if (!impl_ || !impl_->app) return;
  // The store first (it commits what is queued; its hooks post onto the io_context, which is
  // still there), then the pool, then the rest.
  impl_->app->store.reset();
  impl_->app->pool.join();
}

Result<std::unique_ptr<Server>> Server::open(const ServerConfig& config) {
  auto impl = std::make_unique<Impl>();
  impl->app = std::make_unique<App>(config);
  App& app = *impl->app;
  for (const std::string& name : [&] {
         std::set<std::string> names{config.strategy};
         for (const auto& [doc, s] : config.documents) names.insert(s);
         return names;
       }()) {
    const Strategy* s = find_strategy(name);
    if (s == nullptr) return make_error("unknown strategy '" + name + "' (known: " + strategy_names() + ")");
    auto slot = std::make_unique<NodeSlot>(app, *s);
    slot->node = std::make_unique<Node>(config.node, *s, *slot);
    app.slots.emplace(name, std::move(slot));
  }
  pg::StoreConfig sc;
  sc.url = config.pg_url;
  sc.node = config.node.id;
  sc.batch_interval_us = config.group_commit.interval_ms * 1000;
  sc.max_batch = config.group_commit.max_batch;
  sc.pipeline = config.group_commit.pipeline;
  pg::StoreHooks hooks;
  hooks.reply = [&app](StoreReply r) { app.from_store(std::move(r)); };
  hooks.notify = [&app](std::uint32_t doc, LogRecord record) {
    app.metrics.notify_record();
    app.from_store(App::BusRecord{doc, std::move(record)});
  };
  hooks.revoked = [&app](std::string jti, std::uint32_t) {
    asio::post(app.ioc, [&app, jti = std::move(jti)] { app.on_revoked(jti); });
  };
  hooks.committed = [&app](std::size_t appends, double seconds) { app.metrics.committed(appends, seconds); };
  hooks.notify_lag = [&app](double seconds) { app.metrics.notify_lag(seconds); };
  hooks.health = [&app](bool up, std::string why) {
    app.metrics.db_up(up);
    app.db_up = up;
    std::cerr << "convlab-server: database " << (up ? "up" : "down") << (why.empty() ? "" : ": ") << why << "\n";
  };
  auto store = pg::Store::open(sc, std::move(hooks));
  if (!store) return make_error("database: " + store.error().message);
  app.store = std::move(*store);
  app.metrics.db_up(app.store->healthy());

  beast::error_code ec;
  const auto addr = asio::ip::make_address(config.address, ec);
  if (ec) return make_error("listen: bad address '" + config.address + "': " + ec.message());
  const tcp::endpoint ep(addr, config.port);
  app.acceptor.open(ep.protocol(), ec);
  if (!ec) app.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) app.acceptor.bind(ep, ec);
  if (!ec) app.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return make_error("listen " + config.address + ":" + std::to_string(config.port) + ": " + ec.message());
  for (auto& [name, slot] : app.slots) slot->node->start();
  for (const auto& [id, url] : config.cluster.peers) {
    auto parsed = parse_peer_url(url);
    if (!parsed) return make_error("peers." + std::to_string(id) + ": " + parsed.error().message);
    auto link = std::make_shared<PeerLink>(app, id, std::move(*parsed));
    app.links.emplace(id, link);
    link->start();
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

std::string Server::address() const { return impl_->app->acceptor.local_endpoint().address().to_string(); }
std::uint16_t Server::port() const { return impl_->app->acceptor.local_endpoint().port(); }

int Server::run() {
  App& app = *impl_->app;
  app.signals.async_wait([&app](beast::error_code ec, int) {
    if (!ec) app.start_drain();
  });
  impl_->do_accept();
  app.ioc.run();
  return 0;
}

}  // namespace convlab::net
