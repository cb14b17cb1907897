#pragma once
// One client WebSocket at /ws (docs/protocol.md): the handshake and subprotocol (convlab/1 or
// convlab/2), the token, then one Node ConnId. One read and one write in flight; outgoing
// frames wait in a bounded queue (convlab/2 batches them into messages); `do_x` starts an
// operation, `on_x` completes it (Beast's chat-multi shape).
//
// Owns: the connection's socket, its outgoing queue, its edge checks (sizes, rates, documents,
// strategy claims) and its timers (idle, token expiry).
// May call: the App (app.hpp) and, through it, the nodes; the frame codecs (frames.hpp).
// Bounds: incoming messages ≤ limits.message_bytes_max (Beast closes 1009), frames per message ≤
// kBatchFramesMax (convlab/2) or 1, outgoing frames queued ≤ limits.outgoing_messages_max and
// their bytes ≤ limits.outgoing_bytes_max plus the one frame that passed it (closes 4008), documents ≤ limits.documents_per_connection_max (refused), unanswered edits ≤
// kEditsUnansweredMax (refused).
#include "server/net/app.hpp"
#include "server/net/request_token.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace convlab::net {

// Edits one connection has sent that the node has neither acknowledged nor refused: past it a
// further edit is refused at the edge ("server busy: ..."), so the timestamps kept for the
// acknowledgement latency stay bounded.
inline constexpr std::size_t kEditsUnansweredMax = 65536;
// The most capacity a session keeps of a written message's buffer for its next message.
inline constexpr std::size_t kSpareBytesMax = 16u << 10;

class WsSession : public std::enable_shared_from_this<WsSession> {
 public:
  struct Out {
    Bytes data;  // one WebSocket message: binary frames back to back, or JSON text
    bool text = false;
    std::size_t frames = 0;
  };
  WsSession(App& app, tcp::socket socket);

  // Takes over the upgrade request the HTTP session read, and answers the handshake.
  void start(Request req);

  ConnId id() const { return conn_; }
  const std::string& jti() const { return claims_.jti; }

  // A frame from a node, in this client's form. Under convlab/2 it joins the message being
  // filled for this connection (docs/protocol.md, "Batches").
  void send_frame(const Frame& frame, const Strategy& strategy);
  // convlab/2: start the write the flush was scheduled for.
  void flush();
  // A refusal decided at the edge (the node never saw the frame).
  void refuse(std::uint32_t doc, const std::string& why, bool edit);
  // The node answered (or refused) the oldest edit of `doc` on this connection.
  std::optional<Clock::time_point> pop_edit(std::uint32_t doc);
  bool idle_out() const { return out_.empty() && !writing_; }
  // Ends the connection with `code`. What is queued is dropped (the drain waits for queues to
  // empty before closing with 1001).
  void close(std::uint16_t code, std::string reason);

 private:
  void on_accept(boost::system::error_code ec);
  void refuse_revoked();
  void begin();
  void arm_idle();
  void wait_idle(Clock::time_point due);
  void do_read();
  void on_read(boost::system::error_code ec, std::size_t n);
  bool take_token();
  void handle(const FrameView& frame);
  Out* message_for(bool text);
  void queued();
  void schedule_write();
  void do_write();
  void on_write(boost::system::error_code ec, std::size_t n);
  void do_close();
  void teardown();

  App& app_;
  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  Request req_;
  boost::beast::flat_buffer in_;
  asio::steady_timer idle_;
  Clock::time_point last_activity_{};  // the last message or control frame from the client
  bool idle_armed_ = false;            // idle_ has a wait pending
  asio::steady_timer expiry_;
  std::deque<Out> out_;       // queued, not yet being written
  Out inflight_;              // the message being written (its bytes must live until written)
  // The last written message's buffer, emptied, for the next message to fill (no allocation per
  // message in the steady state); kept only up to kSpareBytesMax of capacity.
  Bytes spare_;
  std::size_t queued_frames_ = 0;  // frames in out_: at most limits.outgoing_messages_max
  std::size_t queued_bytes_ = 0;   // bytes in out_: a frame is queued only below limits.outgoing_bytes_max
  bool flush_posted_ = false;      // in App::to_flush or App::held (at most once)
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
  std::size_t edits_unanswered_ = 0;  // in edit_times_, all documents (kEditsUnansweredMax)
  double bucket_ = 0;
  Clock::time_point bucket_at_;
};

// Starts a WebSocket session on a socket whose upgrade request to /ws was read.
void start_ws_session(App& app, tcp::socket socket, Request req);

}  // namespace convlab::net
