#pragma once
// The outgoing link to one peer server (docs/protocol.md, "Server to server"). Each server keeps
// one outgoing WebSocket to each peer's /node and sends on it only; it receives on the links the
// peers open to it (node_session.hpp). Messages to a peer queue, in order, while its link is
// down; the link reconnects with a doubling backoff.
//
// Owns: the link's socket, its queue of encoded NodeMessages, its reconnect and health timers.
// May call: the App (abandon(), inbound, forwarded, the metrics), the token signer.
// Bounds: queued messages ≤ cluster.queue_max (past it the connections waiting on this peer are
// abandoned, 4012, and the queue trimmed); a message from the peer ≤ kNodeMessageBytesMax.
#include "server/net/app.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>

namespace convlab::net {

// The largest message either end of a link between servers reads (a forwarded edit, a reply).
inline constexpr std::size_t kNodeMessageBytesMax = std::size_t{16} << 20;

class PeerLink : public std::enable_shared_from_this<PeerLink> {
 public:
  PeerLink(App& app, NodeId id, PeerUrl url);

  void start();
  // Queues one encoded message; `edit_conn` is the client connection of a forwarded edit (0 for
  // a reply). Past the bound, the connections waiting on this peer are abandoned.
  void send(Bytes msg, ConnId edit_conn);
  // Drops the queued (not yet written) edits of `conns`.
  void drop_edits_of(const std::set<ConnId>& conns);

  bool up() const { return up_; }
  bool flushed() const { return !up_ || (queue_.empty() && !writing_); }

 private:
  struct Item {
    Bytes bytes;
    ConnId conn = 0;
  };

  void publish();
  std::string token() const;
  void connect();
  void handshake(std::uint64_t gen);
  void do_read(std::uint64_t gen);
  void do_write();
  void fail(const std::string& why);
  void arm_check();
  void check();

  App& app_;
  NodeId id_;
  std::string label_;
  PeerUrl url_;
  tcp::resolver resolver_;
  asio::steady_timer retry_;
  asio::steady_timer check_;
  std::optional<boost::beast::websocket::stream<boost::beast::tcp_stream>> ws_;
  boost::beast::flat_buffer in_;
  std::deque<Item> queue_;  // at most cluster.queue_max after send()
  std::uint64_t gen_ = 0;
  bool up_ = false;
  bool writing_ = false;
  bool logged_down_ = false;
  std::int64_t backoff_ms_;
  std::optional<Clock::time_point> unhealthy_since_;
};

}  // namespace convlab::net
