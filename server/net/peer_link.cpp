// PeerLink (peer_link.hpp): the outgoing link to one peer's /node.
//
// May call: the App (abandon, inbound, forwarded, metrics), auth::sign_hs256 for its token.
#include "server/net/log_line.hpp"
#include "server/net/peer_link.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <iostream>

namespace convlab::net {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

PeerLink::PeerLink(App& app, NodeId id, PeerUrl url)
    : app_(app), id_(id), label_(std::to_string(id)), url_(std::move(url)), resolver_(app.ioc), retry_(app.ioc),
      check_(app.ioc), backoff_ms_(app.cfg.cluster.reconnect_min_ms) {}

void PeerLink::start() {
  unhealthy_since_ = Clock::now();
  publish();
  connect();
  arm_check();
}

void PeerLink::send(Bytes msg, ConnId edit_conn) {
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
  CONVLAB_ASSERT(queue_.size() <= std::max<std::size_t>(app_.cfg.cluster.queue_max, 1));
  publish();
  if (up_ && !writing_) do_write();
}

void PeerLink::drop_edits_of(const std::set<ConnId>& conns) {
  if (queue_.empty()) return;
  std::deque<Item> keep;
  for (std::size_t i = 0; i < queue_.size(); ++i) {
    if ((i == 0 && writing_) || queue_[i].conn == 0 || !conns.contains(queue_[i].conn)) keep.push_back(std::move(queue_[i]));
  }
  queue_ = std::move(keep);
  publish();
}

void PeerLink::publish() { app_.metrics.set_link(label_, up_, queue_.size()); }

std::string PeerLink::token() const {
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

void PeerLink::connect() {
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

void PeerLink::handshake(std::uint64_t gen) {
  beast::get_lowest_layer(*ws_).expires_never();
  ws_->set_option(websocket::stream_base::timeout{std::chrono::seconds(5), std::chrono::seconds(10), true});
  ws_->set_option(websocket::stream_base::decorator([t = token()](websocket::request_type& req) {
    req.set(http::field::authorization, "Bearer " + t);
    req.set(http::field::user_agent, "convlab-server");
  }));
  ws_->read_message_max(kNodeMessageBytesMax);
  ws_->binary(true);
  ws_->async_handshake(url_.host + ":" + url_.port, url_.path, [self = shared_from_this(), gen](beast::error_code ec) {
    if (gen != self->gen_) return;
    if (ec) return self->fail("handshake: " + ec.message());
    self->up_ = true;
    self->backoff_ms_ = self->app_.cfg.cluster.reconnect_min_ms;
    LogLine{} << "link to node " << self->label_ << " up\n";
    self->publish();
    self->do_read(gen);
    if (!self->queue_.empty() && !self->writing_) self->do_write();
  });
}

// The peer sends nothing but control frames; the read takes them and notices a close.
void PeerLink::do_read(std::uint64_t gen) {
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

void PeerLink::do_write() {
  CONVLAB_ASSERT(up_ && !writing_ && !queue_.empty());  // one write in flight, on a link that is up
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

void PeerLink::fail(const std::string& why) {
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
    LogLine{} << "link to node " << label_ << " lost: " << why << "\n";
    // What was written may have been lost with the connection, and the answers with it.
    app_.abandon(id_, "link lost: " + why);
  } else if (!logged_down_) {
    LogLine{} << "link to node " << label_ << " not up yet: " << why << " (retrying)\n";
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
void PeerLink::arm_check() {
  check_.expires_after(std::chrono::milliseconds(std::clamp<std::int64_t>(app_.cfg.cluster.down_close_ms / 10, 10, 1000)));
  check_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec) return;
    self->check();
    self->arm_check();
  });
}

void PeerLink::check() {
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

}  // namespace convlab::net
