// WsSession (ws_session.hpp): one client WebSocket at /ws.
//
// May call: the App and its nodes, the store (a revocation check, on the pool), the metrics.
#include "server/net/ws_session.hpp"

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/recycling_allocator.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>

namespace convlab::net {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

namespace {

// The WebSocket subprotocols this server speaks (docs/protocol.md): convlab/2 when offered, else
// convlab/1. Each has a second spelling that is a valid subprotocol token (RFC 6455 takes
// tokens, and `/` is not a token character: browsers and the `ws` package refuse to offer
// `convlab/2`); the server echoes the spelling the client offered.
constexpr std::string_view kProtocol1 = "convlab/1";
constexpr std::string_view kProtocol1Token = "convlab.v1";
constexpr std::string_view kProtocol2 = "convlab/2";
constexpr std::string_view kProtocol2Token = "convlab.v2";

// A WebSocket read or write handler whose Beast operation state comes from the thread's
// recycling cache instead of a malloc and free per message.
template <class Handler>
auto recycled(Handler&& h) {
  return asio::bind_allocator(asio::recycling_allocator<void>(), std::forward<Handler>(h));
}

const char* frame_type(FrameKind k) {
  switch (k) {
    case FrameKind::kWelcome: return "welcome";
    case FrameKind::kDeliver: return "deliver";
    case FrameKind::kRefused: return "refused";
    case FrameKind::kTitle: return "title";
    case FrameKind::kPresence: return "presence";
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

void start_ws_session(App& app, tcp::socket socket, Request req) {
  std::make_shared<WsSession>(app, std::move(socket))->start(std::move(req));
}

WsSession::WsSession(App& app, tcp::socket socket)
    : app_(app), ws_(std::move(socket)), idle_(app.ioc), expiry_(app.ioc) {}

void WsSession::start(Request req) {
  req_ = std::move(req);
  // Subprotocol: none (convlab/1), or a list that includes convlab/2 or convlab/1.
  bool offered = false;
  bool v1 = false;
  bool v2 = false;
  std::string_view echo1;  // the spelling offered
  std::string_view echo2;
  if (auto it = req_.find(http::field::sec_websocket_protocol); it != req_.end()) {
    offered = true;
    std::string_view list(it->value().data(), it->value().size());
    while (!list.empty()) {
      const auto comma = list.find(',');
      std::string_view item = list.substr(0, comma);
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
      while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
      while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
      if (item == kProtocol1 || item == kProtocol1Token) {
        if (!v1) echo1 = item;
        v1 = true;
      }
      if (item == kProtocol2 || item == kProtocol2Token) {
        if (!v2) echo2 = item;
        v2 = true;
      }
    }
  }
  const bool ours = v1 || v2;
  version_ = v2 ? 2 : 1;
  if (offered && !ours) {
    auto res = std::make_shared<http::response<http::string_body>>(http::status::bad_request, req_.version());
    res->set(http::field::content_type, "application/json");
    res->body() = R"j({"error":"unsupported subprotocol (this server speaks convlab/2 and convlab/1, also spelled convlab.v2 and convlab.v1)"})j";
    res->prepare_payload();
    auto self = shared_from_this();
    http::async_write(ws_.next_layer(), *res, [self, res](beast::error_code, std::size_t) {
      beast::error_code ignored;
      self->ws_.next_layer().socket().shutdown(tcp::socket::shutdown_both, ignored);
    });
    return;
  }
  ws_.set_option(websocket::stream_base::timeout{std::chrono::seconds(10), websocket::stream_base::none(), false});
  ws_.set_option(websocket::stream_base::decorator(
      [ours, echo = std::string(v2 ? echo2 : echo1)](websocket::response_type& res) {
        res.set(http::field::server, "convlab-server");
        if (ours) res.set(http::field::sec_websocket_protocol, echo);
      }));
  ws_.read_message_max(app_.cfg.limits.message_bytes_max);
  ws_.auto_fragment(false);
  ws_.control_callback([this](websocket::frame_type, beast::string_view) { arm_idle(); });
  ws_.async_accept(req_, [self = shared_from_this()](beast::error_code ec) { self->on_accept(ec); });
}

void WsSession::send_frame(const Frame& frame, const Strategy& strategy) {
  if (closing_) return;
  app_.metrics.frame_sent(frame_type(frame.kind));
  Out* o = message_for(json_mode_);
  if (o == nullptr) return;
  const std::size_t before = o->data.size();
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
  queued_bytes_ += o->data.size() - before;
  app_.metrics.outgoing_queue_bytes(queued_bytes_);
  queued();
}

void WsSession::flush() {
  CONVLAB_ASSERT(flush_posted_);  // each session is in App::to_flush / App::held at most once
  flush_posted_ = false;
  if (!writing_ && accepted_ && !out_.empty()) do_write();
}

void WsSession::refuse(std::uint32_t doc, const std::string& why, bool edit) {
  const std::string_view label = refusal_label(why);
  app_.metrics.frame_refused(label);
  if (edit) app_.metrics.edit_rejected(label);
  send_frame(Frame{FrameKind::kRefused, doc, {}, why}, app_.slot_for(doc).strategy);
}

std::optional<Clock::time_point> WsSession::pop_edit(std::uint32_t doc) {
  auto it = edit_times_.find(doc);
  if (it == edit_times_.end() || it->second.empty()) return std::nullopt;
  const Clock::time_point t = it->second.front();
  it->second.pop_front();
  CONVLAB_ASSERT(edits_unanswered_ > 0);
  --edits_unanswered_;
  return t;
}

void WsSession::close(std::uint16_t code, std::string reason) {
  if (closing_) return;
  closing_ = true;
  close_code_ = code;
  if (reason.size() > 120) reason.resize(120);  // a close frame's reason is at most 123 bytes
  close_reason_ = std::move(reason);
  out_.clear();
  queued_frames_ = 0;
  queued_bytes_ = 0;
  if (!accepted_) return;
  if (!writing_) do_close();
}

void WsSession::on_accept(beast::error_code ec) {
  if (ec) return;  // handshake failed: nothing registered
  accepted_ = true;
  app_.metrics.connection_accepted();
  if (app_.draining) return close(close_code::kGoingAway, "server shutting down");
  if (app_.sessions.size() >= app_.cfg.limits.connections_max) {
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
  const bool posted = app_.on_pool(
      [self = shared_from_this()] {
        auto revoked = self->app_.store->is_revoked(self->claims_.jti);
        return revoked.has_value() ? std::optional<bool>(*revoked) : std::nullopt;
      },
      [self = shared_from_this()](std::optional<bool> r) {
        if (self->closing_) return;
        if (r && *r) return self->refuse_revoked();
        self->begin();  // database down: the signature and expiry checks stand; NOTIFY covers later
      });
  if (!posted) close(close_code::kTryAgainLater, "server busy: too many checks in flight");
}

void WsSession::refuse_revoked() {
  app_.metrics.token_refused("revoked");
  close(close_code::kTokenRevoked, "token revoked");
}

void WsSession::begin() {
  if (closing_) return;
  if (app_.sessions.size() >= app_.cfg.limits.connections_max) {
    return close(close_code::kTryAgainLater, "too many connections");
  }
  conn_ = app_.next_conn++;
  CONVLAB_ASSERT(!app_.sessions.contains(conn_));
  app_.sessions[conn_] = shared_from_this();
  CONVLAB_ASSERT(app_.sessions.size() <= app_.cfg.limits.connections_max);
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
void WsSession::arm_idle() {
  last_activity_ = Clock::now();
  if (idle_armed_) return;
  idle_armed_ = true;
  wait_idle(last_activity_ + std::chrono::milliseconds(app_.cfg.limits.idle_timeout_ms));
}

void WsSession::wait_idle(Clock::time_point due) {
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

void WsSession::do_read() {
  ws_.async_read(in_, recycled([self = shared_from_this()](beast::error_code ec, std::size_t n) { self->on_read(ec, n); }));
}

void WsSession::on_read(beast::error_code ec, std::size_t n) {
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
  CONVLAB_ASSERT(n <= app_.cfg.limits.message_bytes_max && in_.size() == n);  // read_message_max
  app_.metrics.bytes_received(n);
  arm_idle();
  const bool text = ws_.got_text();
  const auto data = in_.cdata();
  // convlab/1: one frame per message; convlab/2: a batch, refused as a whole if any of it is bad.
  const std::size_t frames_max = version_ >= 2 ? kBatchFramesMax : 1;
  std::optional<FrameError> bad;
  if (text) {
    std::string_view s(static_cast<const char*>(data.data()), data.size());
    bad = parse_json_message(
        s, frames_max, [this](std::uint32_t doc) -> const Strategy& { return app_.slot_for(doc).strategy; },
        json_frames_, views_);
  } else {
    bad = parse_binary_message(std::span(static_cast<const std::uint8_t*>(data.data()), data.size()), frames_max,
                               views_);
  }
  if (bad) {
    close(bad->code, bad->why);
  } else {
    CONVLAB_ASSERT(views_.size() <= frames_max);  // the parsers' bound
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

bool WsSession::take_token() {
  if (app_.cfg.connection_rate_per_s <= 0) return true;
  const auto now = Clock::now();
  const double elapsed = std::chrono::duration<double>(now - bucket_at_).count();
  bucket_at_ = now;
  bucket_ = std::min(static_cast<double>(app_.cfg.connection_burst), bucket_ + elapsed * app_.cfg.connection_rate_per_s);
  if (bucket_ < 1.0) return false;
  bucket_ -= 1.0;
  return true;
}

void WsSession::handle(const FrameView& frame) {
  const bool edit = frame.kind == FrameKind::kEdit;
  const std::uint32_t doc = frame.doc;
  if (edit) app_.metrics.edit_received();
  if (frame.kind == FrameKind::kAwareness) app_.metrics.awareness_received();
  if (doc > app_.cfg.limits.document_id_max) return refuse(doc, "unknown document " + std::to_string(doc), edit);
  if (app_.draining) return refuse(doc, "server shutting down", edit);
  if (!take_token()) {
    app_.metrics.rate_limited("connection");
    return refuse(doc, "rate limited (connection): frame dropped", edit);
  }
  if (app_.store_busy()) {
    return refuse(doc, "server busy: " + std::to_string(kStoreCallsMax) + " store requests in flight", edit);
  }
  if (edit && edits_unanswered_ >= kEditsUnansweredMax) {
    return refuse(doc,
                  "server busy: " + std::to_string(kEditsUnansweredMax) + " edits of this connection await an answer",
                  edit);
  }
  const bool opens = frame.kind == FrameKind::kHello || frame.kind == FrameKind::kSubscribe;
  if (opens && !docs_.contains(doc) && docs_.size() >= app_.cfg.limits.documents_per_connection_max) {
    return refuse(doc,
                  "too many documents on this connection (limit " +
                      std::to_string(app_.cfg.limits.documents_per_connection_max) + ")",
                  edit);
  }
  NodeSlot& slot = app_.slot_for(doc);
  const NodeConfig& nc = app_.cfg.node;
  if (!app_.reachable_home(doc, slot.strategy)) {
    return refuse(doc, "not home: document " + std::to_string(doc) + " lives on node " + std::to_string(doc % nc.nodes),
                  edit);
  }
  if (opens) docs_.insert(doc);
  if (edit) {
    edit_times_[doc].push_back(Clock::now());
    ++edits_unanswered_;
  }
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
WsSession::Out* WsSession::message_for(bool text) {
  if (queued_frames_ >= app_.cfg.limits.outgoing_messages_max) {
    close(close_code::kSlowConsumer, "slow consumer: outgoing queue full");
    return nullptr;
  }
  if (queued_bytes_ >= app_.cfg.limits.outgoing_bytes_max) {
    close(close_code::kSlowConsumer, "slow consumer: outgoing queue at " + std::to_string(queued_bytes_) + " bytes");
    return nullptr;
  }
  ++queued_frames_;
  CONVLAB_ASSERT(out_.size() < queued_frames_);  // every queued message holds a frame at least
  if (version_ >= 2 && !out_.empty()) {
    Out& last = out_.back();
    if (last.text == text && last.frames < kBatchFramesMax && last.data.size() < kBatchTargetBytes) {
      ++last.frames;
      return &last;
    }
  }
  out_.push_back(Out{std::move(spare_), text, 1});
  spare_.clear();  // moved from: empty, but say so
  return &out_.back();
}

// A frame was queued: convlab/1 writes at once; convlab/2 once the current handler is done,
// so what it produces for this connection leaves in one message.
void WsSession::queued() {
  if (writing_ || !accepted_) return;
  if (version_ < 2) return do_write();
  schedule_write();
}

// convlab/2: the next write starts after the current handler, or, with limits.coalesce_ms,
// no sooner than that long after the previous write.
void WsSession::schedule_write() {
  if (flush_posted_) return;
  flush_posted_ = true;
  const auto window = std::chrono::milliseconds(app_.cfg.limits.coalesce_ms);
  if (window.count() > 0 && last_write_ && Clock::now() - *last_write_ < window) {
    return app_.hold_flush(shared_from_this(), *last_write_ + window);
  }
  app_.schedule_flush(shared_from_this());
}

void WsSession::do_write() {
  CONVLAB_ASSERT(!writing_ && !out_.empty());  // one write in flight
  writing_ = true;
  inflight_ = std::move(out_.front());
  out_.pop_front();
  queued_frames_ -= std::min(queued_frames_, inflight_.frames);
  queued_bytes_ -= std::min(queued_bytes_, inflight_.data.size());
  ws_.text(inflight_.text);
  app_.metrics.message_sent(version_);
  if (app_.cfg.limits.coalesce_ms > 0) last_write_ = Clock::now();
  ws_.async_write(asio::buffer(inflight_.data),
                  recycled([self = shared_from_this()](beast::error_code ec, std::size_t n) { self->on_write(ec, n); }));
}

void WsSession::on_write(beast::error_code ec, std::size_t n) {
  writing_ = false;
  if (inflight_.data.capacity() <= kSpareBytesMax && inflight_.data.capacity() > spare_.capacity()) {
    inflight_.data.clear();
    spare_ = std::move(inflight_.data);
  }
  if (ec) {
    out_.clear();
    queued_frames_ = 0;
    queued_bytes_ = 0;
    closing_ = true;
    return teardown();
  }
  app_.metrics.bytes_sent(n);
  if (closing_) return do_close();
  if (out_.empty()) return;
  if (version_ < 2) return do_write();
  schedule_write();
}

void WsSession::do_close() {
  if (close_started_) return;
  close_started_ = true;
  // A client that does not answer the close frame is cut off after two seconds.
  ws_.set_option(websocket::stream_base::timeout{std::chrono::seconds(2), websocket::stream_base::none(), false});
  ws_.async_close(websocket::close_reason(static_cast<websocket::close_code>(close_code_), close_reason_),
                  [self = shared_from_this()](beast::error_code) { self->teardown(); });
}

void WsSession::teardown() {
  if (torn_down_) return;
  torn_down_ = true;
  idle_.cancel();
  expiry_.cancel();
  app_.metrics.connection_closed(close_code_ == 0 ? "peer" : std::to_string(close_code_));
  if (registered_) app_.disconnect(conn_);
  beast::error_code ignored;
  ws_.next_layer().socket().close(ignored);
}

}  // namespace convlab::net
