// NodeSlot: the real server's NodeIo (server/core/node.hpp), on the App's thread. What a node
// asks for goes to the sessions (frames, closes), the store (requests, answered through
// App::from_store), the peer links (messages to other nodes), Asio timers and the waiting
// document reads.
//
// Owns: NodeSlot's member functions.
// May call: the App, WsSession and PeerLink (their public members), the store, the metrics.
// Never calls back into a node from inside that node's call (closes are posted).
#include "server/net/log_line.hpp"
#include "server/net/app.hpp"

#include "server/net/peer_link.hpp"
#include "server/net/peer_wire.hpp"
#include "server/net/ws_session.hpp"
#include "server/core/wire.hpp"

#include <iostream>

namespace convlab::net {
namespace {

const char* kind_name(StoreRequest::Kind k) {
  switch (k) {
    case StoreRequest::Kind::kAppend: return "append";
    case StoreRequest::Kind::kReadLog: return "read_log";
    case StoreRequest::Kind::kWriteSnapshot: return "write_snapshot";
    case StoreRequest::Kind::kLoad: return "load";
    case StoreRequest::Kind::kLease: return "lease";
  }
  return "?";
}

}  // namespace

void NodeSlot::log_error(const std::string& message) {
  LogLine{} << "" << strategy.name << ": " << message << "\n";
}

void NodeSlot::send(ConnId conn, const Frame& frame) {
  auto it = app.sessions.find(conn);
  if (it == app.sessions.end()) {
    if (!app.internal.contains(conn)) return;
    asio::post(app.ioc, [&a = app, conn, frame] {
      auto in = a.internal.find(conn);
      if (in == a.internal.end()) return;
      auto then = in->second.frame;  // it may end the connection (erase itself)
      then(frame);
    });
    return;
  }
  WsSession& s = *it->second;
  if (frame.kind == FrameKind::kDeliver) ++app.unclassified_delivers;
  if (frame.kind == FrameKind::kPresence) {
    app.metrics.presence_sent(1 + Writer::varint_size(frame.doc) + Writer::bytes_size(frame.payload.size()));
  }
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
    if (auto in = a.internal.find(conn); in != a.internal.end()) {
      auto then = in->second.closed;
      then(reason);
    }
  });
}

void NodeSlot::store(StoreRequest request) {
  const std::uint64_t id = app.next_store_id++;
  CONVLAB_ASSERT(!app.store_calls.contains(id));
  App::StoreCall& call = app.store_calls[id];
  call = App::StoreCall{this, request.id, request.kind, request.doc, {}};
  app.metrics.store_request(kind_name(request.kind));
  if (request.kind == StoreRequest::Kind::kAppend) ++app.appends_in_flight;
  const std::int64_t now = wall_ms();
  for (LogRecord& r : request.records) {
    if (r.server_ms == 0) r.server_ms = now;
  }
  if (app.redis && request.notify) {
    // bus: redis: no NOTIFY in the transaction; the App publishes once the commit is answered.
    call.publish = request.records;
    request.notify = false;
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
    LogLine{} << "dropped a message for node " << node_id << " (doc " << message.doc
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
  t->async_wait([this, t, timer](boost::system::error_code ec) {
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

}  // namespace convlab::net
