#include "server/net/metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace convlab::net {

namespace pm = prometheus;

namespace {
// Latency buckets from 100 µs to 10 s; commit batches from 1 to 4096 appends.
pm::Histogram::BucketBoundaries latency_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}
pm::Histogram::BucketBoundaries batch_buckets() { return {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096}; }
}  // namespace

struct Metrics::Impl {
  pm::Registry registry;
  pm::Family<pm::Counter>& edits_received =
      pm::BuildCounter().Name("convlab_edits_received_total").Help("Edit frames received").Register(registry);
  pm::Family<pm::Counter>& edits_acked = pm::BuildCounter()
                                             .Name("convlab_edits_acknowledged_total")
                                             .Help("Edits whose acknowledgement went out to their sender")
                                             .Register(registry);
  pm::Family<pm::Counter>& edits_rejected = pm::BuildCounter()
                                                .Name("convlab_edits_rejected_total")
                                                .Help("Edits answered with a refused frame, by reason")
                                                .Register(registry);
  pm::Family<pm::Counter>& frames_received = pm::BuildCounter()
                                                 .Name("convlab_frames_received_total")
                                                 .Help("WebSocket messages that decoded into frames, by encoding")
                                                 .Register(registry);
  pm::Family<pm::Counter>& frames_sent =
      pm::BuildCounter().Name("convlab_frames_sent_total").Help("Frames sent to clients, by type").Register(registry);
  pm::Family<pm::Counter>& messages_sent_f = pm::BuildCounter()
                                                 .Name("convlab_ws_messages_sent_total")
                                                 .Help("WebSocket messages sent to clients, by protocol (convlab/2 "
                                                       "messages carry one or more frames)")
                                                 .Register(registry);
  pm::Family<pm::Counter>& frames_refused =
      pm::BuildCounter().Name("convlab_frames_refused_total").Help("Refused frames sent, by reason").Register(registry);
  pm::Family<pm::Counter>& fanout_f = pm::BuildCounter()
                                          .Name("convlab_fanout_deliveries_total")
                                          .Help("Deliver frames carrying another client's change")
                                          .Register(registry);
  pm::Family<pm::Histogram>& ack_f = pm::BuildHistogram()
                                         .Name("convlab_edit_ack_seconds")
                                         .Help("From an edit's arrival to its acknowledgement")
                                         .Register(registry);
  pm::Family<pm::Histogram>& commit_f = pm::BuildHistogram()
                                            .Name("convlab_commit_seconds")
                                            .Help("One group-commit transaction, BEGIN to end of COMMIT")
                                            .Register(registry);
  pm::Family<pm::Histogram>& batch_f = pm::BuildHistogram()
                                           .Name("convlab_commit_batch_appends")
                                           .Help("Appends committed together in one transaction")
                                           .Register(registry);
  pm::Family<pm::Histogram>& lag_f = pm::BuildHistogram()
                                         .Name("convlab_notify_lag_seconds")
                                         .Help("Commit timestamp to NOTIFY arrival on this server")
                                         .Register(registry);
  pm::Family<pm::Counter>& notify_f = pm::BuildCounter()
                                          .Name("convlab_notify_records_total")
                                          .Help("Records received over NOTIFY")
                                          .Register(registry);
  pm::Family<pm::Gauge>& bus_up_f = pm::BuildGauge()
                                        .Name("convlab_bus_up")
                                        .Help("bus: redis: 1 while subscribed to Redis, else 0 (bus: notify: 1)")
                                        .Register(registry);
  pm::Family<pm::Gauge>& redis_pub_up_f = pm::BuildGauge()
                                              .Name("convlab_redis_publisher_up")
                                              .Help("bus: redis: 1 while the publisher's connection to Redis is up")
                                              .Register(registry);
  pm::Family<pm::Counter>& redis_pub_f = pm::BuildCounter()
                                             .Name("convlab_redis_publishes_total")
                                             .Help("PUBLISHes of committed records to Redis, by result (ok, dropped)")
                                             .Register(registry);
  pm::Family<pm::Counter>& redis_rec_f = pm::BuildCounter()
                                             .Name("convlab_redis_records_total")
                                             .Help("Records of other servers received over Redis")
                                             .Register(registry);
  pm::Family<pm::Counter>& store_f = pm::BuildCounter()
                                         .Name("convlab_store_requests_total")
                                         .Help("Requests the node made to the store, by kind")
                                         .Register(registry);
  pm::Family<pm::Counter>& append_fail_f = pm::BuildCounter()
                                               .Name("convlab_store_append_failures_total")
                                               .Help("Appends that did not commit")
                                               .Register(registry);
  pm::Family<pm::Gauge>& conns_f =
      pm::BuildGauge().Name("convlab_connections").Help("Open WebSocket connections").Register(registry);
  pm::Family<pm::Counter>& accepted_f = pm::BuildCounter()
                                            .Name("convlab_connections_accepted_total")
                                            .Help("WebSocket handshakes completed")
                                            .Register(registry);
  pm::Family<pm::Counter>& closed_f = pm::BuildCounter()
                                          .Name("convlab_connections_closed_total")
                                          .Help("Connections closed, by close code (peer: by the client)")
                                          .Register(registry);
  pm::Family<pm::Gauge>& docs_f =
      pm::BuildGauge().Name("convlab_documents").Help("Documents loaded in memory").Register(registry);
  pm::Family<pm::Counter>& rate_f = pm::BuildCounter()
                                        .Name("convlab_rate_limited_total")
                                        .Help("Frames refused by a token bucket, by scope")
                                        .Register(registry);
  pm::Family<pm::Counter>& tokens_f = pm::BuildCounter()
                                          .Name("convlab_tokens_refused_total")
                                          .Help("Tokens refused, by reason")
                                          .Register(registry);
  pm::Family<pm::Counter>& logins_f =
      pm::BuildCounter().Name("convlab_logins_total").Help("POST /login outcomes").Register(registry);
  pm::Family<pm::Counter>& http_f =
      pm::BuildCounter().Name("convlab_http_requests_total").Help("HTTP requests answered").Register(registry);
  pm::Family<pm::Counter>& rx_f = pm::BuildCounter()
                                      .Name("convlab_received_bytes_total")
                                      .Help("WebSocket message bytes received")
                                      .Register(registry);
  pm::Family<pm::Counter>& tx_f =
      pm::BuildCounter().Name("convlab_sent_bytes_total").Help("WebSocket message bytes sent").Register(registry);
  pm::Family<pm::Gauge>& queue_peak_f =
      pm::BuildGauge()
          .Name("convlab_outgoing_queue_peak_bytes")
          .Help("The most bytes one connection's outgoing queue held (limits.outgoing_bytes_max bounds it)")
          .Register(registry);
  pm::Family<pm::Gauge>& db_f =
      pm::BuildGauge().Name("convlab_db_up").Help("1 when PostgreSQL is reachable, else 0").Register(registry);
  pm::Family<pm::Counter>& node_msgs_f = pm::BuildCounter()
                                             .Name("convlab_node_messages_total")
                                             .Help("Messages between servers (forwarded edits and their replies)")
                                             .Register(registry);
  pm::Family<pm::Gauge>& link_up_f =
      pm::BuildGauge().Name("convlab_node_link_up").Help("1 when the link to the peer is up").Register(registry);
  pm::Family<pm::Gauge>& link_queue_f = pm::BuildGauge()
                                            .Name("convlab_node_link_queued_messages")
                                            .Help("Messages waiting for the link to the peer")
                                            .Register(registry);
  pm::Family<pm::Counter>& abandoned_f = pm::BuildCounter()
                                             .Name("convlab_node_link_abandoned_connections_total")
                                             .Help("Client connections closed because their forwarded edits were stuck")
                                             .Register(registry);
  pm::Family<pm::Counter>& node_refused_f = pm::BuildCounter()
                                                .Name("convlab_node_refused_total")
                                                .Help("Incoming server-to-server connections or messages refused")
                                                .Register(registry);
  pm::Family<pm::Counter>& presence_bytes_f = pm::BuildCounter()
                                                  .Name("convlab_presence_bytes_sent_total")
                                                  .Help("Bytes of the presence frames sent to clients (binary form)")
                                                  .Register(registry);
  pm::Family<pm::Counter>& awareness_f = pm::BuildCounter()
                                             .Name("convlab_awareness_frames_received_total")
                                             .Help("Awareness frames (caret moves) received from clients")
                                             .Register(registry);
  pm::Family<pm::Counter>& partition_commits_f = pm::BuildCounter()
                                                     .Name("convlab_partition_commits_total")
                                                     .Help("Group-commit transactions committed, by partition")
                                                     .Register(registry);
  pm::Family<pm::Counter>& partition_appends_f = pm::BuildCounter()
                                                     .Name("convlab_partition_appends_total")
                                                     .Help("Appends committed, by partition")
                                                     .Register(registry);
  pm::Family<pm::Histogram>& partition_commit_f = pm::BuildHistogram()
                                                      .Name("convlab_partition_commit_seconds")
                                                      .Help("One partition's group-commit transaction, BEGIN to end of COMMIT")
                                                      .Register(registry);
  pm::Family<pm::Histogram>& partition_append_f =
      pm::BuildHistogram()
          .Name("convlab_partition_append_commit_seconds")
          .Help("One partition's append, from its arrival in the store's queue to the end of its COMMIT")
          .Register(registry);
  // Per partition, resolved by set_partitions before the store starts (never resized after).
  struct PartitionSeries {
    pm::Counter* commits;
    pm::Counter* appends;
    pm::Histogram* latency;
    pm::Histogram* append_latency;
  };
  std::vector<PartitionSeries> partitions;
  pm::Family<pm::Counter>& api_timeout_f = pm::BuildCounter()
                                               .Name("convlab_api_read_timeouts_total")
                                               .Help("Document reads answered 503 because the store did not answer in time")
                                               .Register(registry);

  pm::Counter& edits_received_c = edits_received.Add({});
  pm::Counter& edits_acked_c = edits_acked.Add({});
  pm::Counter& fanout_c = fanout_f.Add({});
  pm::Histogram& ack_h = ack_f.Add({}, latency_buckets());
  pm::Histogram& commit_h = commit_f.Add({}, latency_buckets());
  pm::Histogram& batch_h = batch_f.Add({}, batch_buckets());
  pm::Histogram& lag_h = lag_f.Add({}, latency_buckets());
  pm::Counter& notify_c = notify_f.Add({});
  pm::Counter& append_fail_c = append_fail_f.Add({});
  pm::Gauge& conns_g = conns_f.Add({});
  pm::Counter& accepted_c = accepted_f.Add({});
  pm::Gauge& docs_g = docs_f.Add({});
  pm::Counter& rx_c = rx_f.Add({});
  pm::Counter& tx_c = tx_f.Add({});
  pm::Gauge& db_g = db_f.Add({});
  pm::Gauge& queue_peak_g = queue_peak_f.Add({});
  std::atomic<std::size_t> queue_peak{0};
  // Per-frame counters resolved once (Family::Add hashes its labels under a lock).
  pm::Counter& sent_welcome_c = frames_sent.Add({{"type", "welcome"}});
  pm::Counter& sent_deliver_c = frames_sent.Add({{"type", "deliver"}});
  pm::Counter& sent_refused_c = frames_sent.Add({{"type", "refused"}});
  pm::Counter& sent_title_c = frames_sent.Add({{"type", "title"}});
  pm::Counter& sent_presence_c = frames_sent.Add({{"type", "presence"}});
  pm::Counter& presence_bytes_c = presence_bytes_f.Add({});
  pm::Counter& awareness_c = awareness_f.Add({});
  pm::Counter& received_binary_c = frames_received.Add({{"encoding", "binary"}});
  pm::Counter& received_json_c = frames_received.Add({{"encoding", "json"}});
  pm::Counter& messages_v1_c = messages_sent_f.Add({{"protocol", "convlab/1"}});
  pm::Counter& messages_v2_c = messages_sent_f.Add({{"protocol", "convlab/2"}});
  pm::Counter& store_append_c = store_f.Add({{"kind", "append"}});  // one per edit
  // Histogram::Observe is not safe against concurrent Observe on the same histogram in every
  // prometheus-cpp version; the store's threads and the server's thread both observe.
  std::mutex histogram_mutex;

  Impl() {
    for (const char* r : {"rate_limit_user", "rate_limit_connection", "strategy", "not_open", "unknown_document",
                          "not_home", "strategy_mismatch", "shutting_down", "other"}) {
      edits_rejected.Add({{"reason", r}});
      frames_refused.Add({{"reason", r}});
    }
    for (const char* r : {"document_limit", "bad_payload"}) frames_refused.Add({{"reason", r}});
    for (const char* e : {"binary", "json"}) frames_received.Add({{"encoding", e}});
    for (const char* t : {"welcome", "deliver", "refused", "title", "presence"}) frames_sent.Add({{"type", t}});
    for (const char* k : {"append", "read_log", "write_snapshot", "load"}) store_f.Add({{"kind", k}});
    for (const char* s : {"user", "connection"}) rate_f.Add({{"scope", s}});
    for (const char* r : {"missing", "malformed", "algorithm", "signature", "expired", "not_yet_valid", "audience",
                          "issuer", "revoked", "origin"}) {
      tokens_f.Add({{"reason", r}});
    }
    for (const char* r : {"ok", "bad_credentials", "error"}) logins_f.Add({{"result", r}});
    for (const char* k : {"edit", "reply"}) {
      for (const char* d : {"sent", "received"}) node_msgs_f.Add({{"kind", k}, {"direction", d}});
    }
    for (const char* r : {"token", "decode", "version", "sender", "strategy", "busy"}) node_refused_f.Add({{"reason", r}});
    api_timeout_f.Add({});
  }
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}
Metrics::~Metrics() = default;

void Metrics::edit_received() { impl_->edits_received_c.Increment(); }
void Metrics::edit_acknowledged(double seconds) {
  impl_->edits_acked_c.Increment();
  std::lock_guard lock(impl_->histogram_mutex);
  impl_->ack_h.Observe(seconds);
}
void Metrics::edit_rejected(std::string_view reason) { impl_->edits_rejected.Add({{"reason", std::string(reason)}}).Increment(); }
void Metrics::frame_received(bool json) { (json ? impl_->received_json_c : impl_->received_binary_c).Increment(); }
void Metrics::frame_sent(std::string_view type) {
  if (type == "deliver") return impl_->sent_deliver_c.Increment();
  if (type == "welcome") return impl_->sent_welcome_c.Increment();
  if (type == "refused") return impl_->sent_refused_c.Increment();
  if (type == "title") return impl_->sent_title_c.Increment();
  if (type == "presence") return impl_->sent_presence_c.Increment();
  impl_->frames_sent.Add({{"type", std::string(type)}}).Increment();
}
void Metrics::presence_sent(std::size_t bytes) { impl_->presence_bytes_c.Increment(static_cast<double>(bytes)); }
void Metrics::awareness_received() { impl_->awareness_c.Increment(); }
void Metrics::message_sent(int protocol) { (protocol >= 2 ? impl_->messages_v2_c : impl_->messages_v1_c).Increment(); }
void Metrics::frame_refused(std::string_view reason) { impl_->frames_refused.Add({{"reason", std::string(reason)}}).Increment(); }
void Metrics::fanout(std::size_t deliveries) { impl_->fanout_c.Increment(static_cast<double>(deliveries)); }
void Metrics::committed(std::size_t appends, double seconds) {
  std::lock_guard lock(impl_->histogram_mutex);
  impl_->commit_h.Observe(seconds);
  impl_->batch_h.Observe(static_cast<double>(appends));
}
void Metrics::set_partitions(std::size_t n) {
  impl_->partitions.clear();
  for (std::size_t p = 0; p < n; ++p) {
    const std::map<std::string, std::string> label{{"partition", std::to_string(p)}};
    impl_->partitions.push_back({&impl_->partition_commits_f.Add(label), &impl_->partition_appends_f.Add(label),
                                 &impl_->partition_commit_f.Add(label, latency_buckets()),
                                 &impl_->partition_append_f.Add(label, latency_buckets())});
  }
}
void Metrics::partition_committed(std::size_t partition, std::size_t appends, double seconds) {
  if (partition >= impl_->partitions.size()) return;
  const Impl::PartitionSeries& s = impl_->partitions[partition];
  s.commits->Increment();
  s.appends->Increment(static_cast<double>(appends));
  std::lock_guard lock(impl_->histogram_mutex);
  s.latency->Observe(seconds);
}
void Metrics::partition_appended(std::size_t partition, const std::vector<double>& seconds) {
  if (partition >= impl_->partitions.size()) return;
  std::lock_guard lock(impl_->histogram_mutex);
  for (const double s : seconds) impl_->partitions[partition].append_latency->Observe(s);
}
void Metrics::notify_lag(double seconds) {
  std::lock_guard lock(impl_->histogram_mutex);
  impl_->lag_h.Observe(seconds);
}
void Metrics::notify_record() { impl_->notify_c.Increment(); }
void Metrics::bus_up(bool up) { impl_->bus_up_f.Add({}).Set(up ? 1.0 : 0.0); }
void Metrics::redis_publisher_up(bool up) { impl_->redis_pub_up_f.Add({}).Set(up ? 1.0 : 0.0); }
void Metrics::redis_published(bool ok) { impl_->redis_pub_f.Add({{"result", ok ? "ok" : "dropped"}}).Increment(); }
void Metrics::redis_record() { impl_->redis_rec_f.Add({}).Increment(); }
void Metrics::store_request(std::string_view kind) {
  if (kind == "append") return impl_->store_append_c.Increment();
  impl_->store_f.Add({{"kind", std::string(kind)}}).Increment();
}
void Metrics::append_failed() { impl_->append_fail_c.Increment(); }
void Metrics::connection_accepted() { impl_->accepted_c.Increment(); }
void Metrics::connection_closed(std::string_view code) { impl_->closed_f.Add({{"code", std::string(code)}}).Increment(); }
void Metrics::set_connections(std::size_t n) { impl_->conns_g.Set(static_cast<double>(n)); }
void Metrics::set_documents(std::size_t n) { impl_->docs_g.Set(static_cast<double>(n)); }
void Metrics::rate_limited(std::string_view scope) { impl_->rate_f.Add({{"scope", std::string(scope)}}).Increment(); }
void Metrics::token_refused(std::string_view reason) { impl_->tokens_f.Add({{"reason", std::string(reason)}}).Increment(); }
void Metrics::login(std::string_view result) { impl_->logins_f.Add({{"result", std::string(result)}}).Increment(); }
void Metrics::http_request(std::string_view route, int status) {
  impl_->http_f.Add({{"route", std::string(route)}, {"status", std::to_string(status)}}).Increment();
}
void Metrics::bytes_received(std::size_t n) { impl_->rx_c.Increment(static_cast<double>(n)); }
void Metrics::bytes_sent(std::size_t n) { impl_->tx_c.Increment(static_cast<double>(n)); }
void Metrics::outgoing_queue_bytes(std::size_t n) {
  std::size_t peak = impl_->queue_peak.load(std::memory_order_relaxed);
  while (n > peak) {
    if (impl_->queue_peak.compare_exchange_weak(peak, n, std::memory_order_relaxed)) {
      impl_->queue_peak_g.Set(static_cast<double>(n));
      return;
    }
  }
}
void Metrics::db_up(bool up) { impl_->db_g.Set(up ? 1.0 : 0.0); }
void Metrics::node_message(std::string_view kind, std::string_view direction) {
  impl_->node_msgs_f.Add({{"kind", std::string(kind)}, {"direction", std::string(direction)}}).Increment();
}
void Metrics::set_link(std::string_view peer, bool up, std::size_t queued) {
  impl_->link_up_f.Add({{"peer", std::string(peer)}}).Set(up ? 1.0 : 0.0);
  impl_->link_queue_f.Add({{"peer", std::string(peer)}}).Set(static_cast<double>(queued));
}
void Metrics::link_abandoned(std::string_view peer, std::size_t connections) {
  impl_->abandoned_f.Add({{"peer", std::string(peer)}}).Increment(static_cast<double>(connections));
}
void Metrics::node_refused(std::string_view reason) { impl_->node_refused_f.Add({{"reason", std::string(reason)}}).Increment(); }
void Metrics::api_read_timeout() { impl_->api_timeout_f.Add({}).Increment(); }

std::string Metrics::text() const {
  std::lock_guard lock(impl_->histogram_mutex);
  return pm::TextSerializer().Serialize(impl_->registry.Collect());
}

}  // namespace convlab::net
