// NodeSession (node_session.hpp): an incoming link from a peer at /node.
//
// May call: the App, decode_peer_message, the node token verifier.
#include "server/net/log_line.hpp"
#include "server/net/node_session.hpp"

#include "server/net/peer_link.hpp"
#include "server/net/peer_wire.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <iostream>

namespace convlab::net {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

class NodeSession : public std::enable_shared_from_this<NodeSession> {
 public:
  NodeSession(App& app, tcp::socket socket) : app_(app), ws_(std::move(socket)) {}

  void start(Request req) {
    req_ = std::move(req);
    ws_.set_option(websocket::stream_base::timeout{std::chrono::seconds(5), std::chrono::seconds(10), true});
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "convlab-server"); }));
    ws_.read_message_max(kNodeMessageBytesMax);
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
    LogLine{} << "link from node " << peer_ << " up\n";
    do_read();
  }

  void refuse(const char* label, std::uint16_t code, std::string why) {
    app_.metrics.node_refused(label);
    LogLine{} << "/node refused: " << why << "\n";
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
    CONVLAB_ASSERT(data.size() <= kNodeMessageBytesMax);  // read_message_max
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
    if (m->message.kind == NodeMessage::Kind::kForwardEdit && app_.store_busy()) {
      return refuse("busy", close_code::kTryAgainLater, "store backlog full: " + std::to_string(kStoreCallsMax) +
                                                            " requests in flight");
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
    LogLine{} << "link from node " << peer_ << " closed\n";
    CONVLAB_ASSERT(app_.inbound[peer_] > 0);
    if (--app_.inbound[peer_] == 0) app_.abandon(peer_, "link from node " + std::to_string(peer_) + " closed");
  }

  App& app_;
  websocket::stream<beast::tcp_stream> ws_;
  Request req_;
  beast::flat_buffer in_;
  NodeId peer_ = 0;
  bool authenticated_ = false;
  bool closing_ = false;
  bool torn_down_ = false;
};

}  // namespace

void start_node_session(App& app, tcp::socket socket, Request req) {
  std::make_shared<NodeSession>(app, std::move(socket))->start(std::move(req));
}

}  // namespace convlab::net
