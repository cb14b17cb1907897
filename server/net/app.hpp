#pragma once
// The shared state of one convlab-server process (Beast's chat-multi "shared_state"): the
// configuration, the Asio context everything runs on, the store, the nodes (one NodeSlot per
// strategy in use), the WebSocket sessions by ConnId, the links to peers, and the bookkeeping
// between them (store calls in flight, strategy claims, pending document reads, revocations).
//
// Owns: the App struct and NodeSlot (the real NodeIo).
// May call: the node (server/core), the store (server/pg), the sessions and links through their
// headers. Everything here runs on the App's one Asio thread, except from_store() (any thread).
// Beast stays out of this header: it only needs the Asio pieces the App holds.
#include "server/net/config.hpp"
#include "server/net/frames.hpp"
#include "server/net/metrics.hpp"
#include "server/net/peer_wire.hpp"
#include "server/pg/store.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <variant>
#include <vector>

namespace convlab::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

class WsSession;
class PeerLink;
struct App;

// ------------------------------------------------------------------------------- helpers
std::int64_t wall_ms();
std::int64_t wall_s();
// `bytes` random bytes (OpenSSL), in lower-case hex.
std::string random_hex(std::size_t bytes);
// The audience of a server-to-server token: the clients' audience with "/node", so a client's
// token never opens /node and a node's token never opens /ws.
std::string node_audience(const auth::JwtConfig& jwt);
// The metrics label of a message between nodes.
const char* node_message_label(NodeMessage::Kind kind);

// One Node per strategy in use; its NodeIo forwards to the App (all on the App's thread).
// node_io.cpp.
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
  void log_error(const std::string& message) override;
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
  void schedule_flush(std::shared_ptr<WsSession> s);
  void flush_sessions();
  // With limits.coalesce_ms: sessions holding frames until the next tick of one shared timer.
  std::vector<std::shared_ptr<WsSession>> held;
  asio::steady_timer hold_timer{ioc};
  bool hold_armed = false;
  void hold_flush(std::shared_ptr<WsSession> s, Clock::time_point due);
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
  const std::string& json_of(const Frame& f, const Strategy& strategy);
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
  void from_store(FromStore item);
  void drain_inbox();
  void on_bus(const BusRecord& r);
  void on_revoked(const std::string& jti);
  std::size_t documents() const {
    std::size_t n = 0;
    for (const auto& [name, s] : slots) n += s->node->loaded_docs().size();
    return n;
  }
  void disconnect(ConnId conn);
  void start_drain();
  // Every answer this server owes its peers has gone out (or the peer is unreachable).
  bool links_flushed() const;
};

}  // namespace convlab::net
