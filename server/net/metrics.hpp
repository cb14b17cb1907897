#pragma once
// The server's Prometheus metrics behind a plain interface: prometheus-cpp stays in metrics.cpp.
// Names, types and labels: docs/metrics.md. Every method may be called from any thread.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace convlab::net {

class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  void edit_received();
  void edit_acknowledged(double seconds);
  void edit_rejected(std::string_view reason);
  void frame_received(bool json);
  // type: "welcome", "deliver", "refused", "title"
  void frame_sent(std::string_view type);
  // Presence (docs/metrics.md): a presence frame of `bytes` (its binary form) queued for a
  // client, and a client's awareness frame (a caret move) received.
  void presence_sent(std::size_t bytes);
  void awareness_received();
  // One WebSocket message written to a client speaking convlab/`protocol` (1 or 2).
  void message_sent(int protocol);
  void frame_refused(std::string_view reason);
  void fanout(std::size_t deliveries);
  void committed(std::size_t appends, double seconds);
  // Partitions (docs/metrics.md): series for partitions 0..n-1 at zero; one partition's
  // transaction of `appends` appends committed in `seconds`.
  void set_partitions(std::size_t n);
  void partition_committed(std::size_t partition, std::size_t appends, double seconds);
  // Each committed append of one partition: seconds from its arrival in the store's queue to
  // its commit (convlab_partition_append_commit_seconds).
  void partition_appended(std::size_t partition, const std::vector<double>& seconds);
  void notify_lag(double seconds);
  void notify_record();
  // bus: redis (docs/metrics.md): the subscription up or down; the publisher's connection up or
  // down; a PUBLISH sent and answered (ok) or dropped; a record of another server received.
  void bus_up(bool up);
  void redis_publisher_up(bool up);
  void redis_published(bool ok);
  void redis_record();
  // kind: "append", "read_log", "write_snapshot", "load"
  void store_request(std::string_view kind);
  void append_failed();
  void connection_accepted();
  void connection_closed(std::string_view code);
  void set_connections(std::size_t n);
  void set_documents(std::size_t n);
  void rate_limited(std::string_view scope);
  void token_refused(std::string_view reason);
  void login(std::string_view result);
  void http_request(std::string_view route, int status);
  void bytes_received(std::size_t n);
  void bytes_sent(std::size_t n);
  // One connection's outgoing queue holds `n` bytes now (the peak is kept).
  void outgoing_queue_bytes(std::size_t n);
  void db_up(bool up);
  // Server to server. kind: "edit", "reply"; direction: "sent", "received".
  void node_message(std::string_view kind, std::string_view direction);
  void set_link(std::string_view peer, bool up, std::size_t queued);
  // Client connections closed because their forwarded edits were stuck on `peer`.
  void link_abandoned(std::string_view peer, std::size_t connections);
  // An incoming /node connection or message refused: "token", "decode", "version", "sender",
  // "strategy".
  void node_refused(std::string_view reason);
  void api_read_timeout();

  // The text exposition format (0.0.4) of every metric.
  std::string text() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace convlab::net
