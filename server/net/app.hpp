#pragma once
// The shared state of one convlab-server process (Beast's chat-multi "shared_state"): the
// configuration, the Asio context everything runs on, the store, the nodes (one NodeSlot per
// strategy in use), the WebSocket sessions by ConnId, the links to peers, and the bookkeeping
// between them (store calls in flight, strategy claims, pending document reads, revocations).
//
// Owns: the App struct and NodeSlot (the real NodeIo); the bounds of the App's own queues.
// May call: the node (server/core), the store (server/pg), the sessions and links through their
// headers. Everything here runs on the App's one Asio thread, except from_store() (any thread).
// Beast stays out of this header: it only needs the Asio pieces the App holds.
#include "server/core/assert.hpp"
#include "server/net/config.hpp"
#include "server/net/frames.hpp"
#include "server/net/metrics.hpp"
#include "server/net/peer_wire.hpp"
#include "server/net/redis_bus.hpp"
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
#include <deque>
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

// ------------------------------------------------------------------------------------ bounds
// Every queue the App keeps has a limit, and each says what happens there (TIGER_STYLE). The
// queues of sessions and links have theirs beside them (Limits, PeerLinks, ws_session.hpp).

// Store requests submitted and not yet answered (App::store_calls; pg::Store's queue is part of
// it): at the limit the edge refuses client frames ("server busy: ...") and document reads (503),
// and a peer forwarding an edit has its link closed (1013), until answers come back. What the
// nodes ask for on their own (polls, catch-up, snapshots) is not refused; it is bounded by the
// documents loaded, far under pg::StoreConfig::queue_max, which the store asserts.
inline constexpr std::size_t kStoreCallsMax = 65536;
// Callers waiting for documents' strategy claims (App::claiming, all documents together): past
// it a caller gets the error "server busy: ..." (a client frame is refused, a read answers 503,
// a forwarded edit is dropped as on any claim error).
inline constexpr std::size_t kClaimWaitersMax = 65536;
// How long callers wait for a claim while the store cannot answer (a PostgreSQL restart takes
// seconds), asking again after 100 ms, then doubling up to 2 s.
inline constexpr std::chrono::seconds kClaimRetryFor{20};
inline constexpr std::chrono::milliseconds kClaimBackoffMax{2000};
// Document reads waiting for a node's answer (App::http_waiting): past it, 503 at once.
inline constexpr std::size_t kHttpWaitingMax = 4096;
// Revoked token ids remembered here (App::revoked_jtis): past it the oldest is forgotten; a
// check that asks the store (node.check_revocation) still refuses it while the database is up.
inline constexpr std::size_t kRevokedJtisMax = 65536;
// Other servers' records handed over by the listener and not yet handled (App::inbox): past it
// a record is dropped and counted (stderr); a later record of that document shows the node the
// gap and it reads the log. Store replies always go in: kStoreCallsMax bounds them.
inline constexpr std::size_t kInboxRecordsMax = 65536;
// Restores in progress (POST /api/documents/{id}/restore, App::internal): past it, 503 at once.
inline constexpr std::size_t kRestoresMax = 64;
// Blocking calls on the pool (login, refresh, logout, revocation checks) queued or running:
// past it an HTTP request is answered 503 and a WebSocket closed 1013, without waiting.
inline constexpr std::size_t kPoolTasksMax = 1024;

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
  std::size_t pool_tasks = 0;  // posted to the pool, continuation not yet run (kPoolTasksMax)
  tcp::acceptor acceptor{ioc};
  asio::signal_set signals{ioc, SIGTERM, SIGINT};
  Metrics metrics;
  auth::Verifier verifier;
  std::unique_ptr<pg::Store> store;
  // policies.bus: redis only: committed records go out through Redis pub/sub instead of NOTIFY.
  std::unique_ptr<RedisBus> redis;
  std::map<std::string, std::unique_ptr<NodeSlot>, std::less<>> slots;  // strategy name -> node
  std::map<ConnId, std::shared_ptr<WsSession>> sessions;  // at most limits.connections_max
  ConnId next_conn = 1;
  // Editors inside this server (a restore, http_restore.cpp): a node's connection with no
  // socket. NodeSlot posts what the node sends one to `frame` and a close to `closed`, never
  // inside the node's call. At most kRestoresMax.
  struct InternalConn {
    std::function<void(const Frame&)> frame;
    std::function<void(const std::string& reason)> closed;
  };
  std::map<ConnId, InternalConn> internal;
  struct StoreCall {
    NodeSlot* slot = nullptr;
    std::uint64_t local_id = 0;
    StoreRequest::Kind kind = StoreRequest::Kind::kLoad;
    // bus: redis: an append's records, published once its reply says it committed.
    std::uint32_t doc = 0;
    std::vector<LogRecord> publish;
  };
  std::map<std::uint64_t, StoreCall> store_calls;  // kStoreCallsMax
  std::uint64_t next_store_id = 1;
  std::size_t appends_in_flight = 0;
  std::map<std::uint32_t, std::string> claimed;  // doc -> strategy recorded in the store
  std::map<std::uint32_t, std::vector<std::function<void(const std::string* error)>>> claiming;
  std::size_t claim_waiters = 0;  // callbacks in `claiming`, all documents (kClaimWaitersMax)
  // A claim the store could not answer (it is down or starting up) is asked again with backoff;
  // whoever waits keeps waiting until kClaimRetryFor has passed since the first failure.
  std::map<std::uint32_t, std::chrono::steady_clock::time_point> claim_failing_since;
  std::map<std::uint64_t, std::function<void(const HttpResponse&)>> http_waiting;  // kHttpWaitingMax
  std::uint64_t next_http = 1;
  std::set<std::string, std::less<>> revoked_jtis;  // kRevokedJtisMax
  std::deque<std::string> revoked_order;            // revoked_jtis, oldest first
  std::size_t unclassified_delivers = 0;  // deliver frames of the current node call
  // convlab/2 sessions with frames queued and no write in flight: their writes start once the
  // current handler is done, so everything it produced for a connection goes in one message.
  // Each session is in it at most once (its flush_posted_), so it holds at most the live sessions.
  std::vector<std::shared_ptr<WsSession>> to_flush;
  void schedule_flush(std::shared_ptr<WsSession> s);
  void flush_sessions();
  // With limits.coalesce_ms: sessions holding frames until the next tick of one shared timer
  // (each at most once, as in to_flush).
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
  // multi-master, or a link to the home is configured. Under home: lease the home is whichever
  // node holds the lease, and check_config requires a link to every other node.
  bool reachable_home(std::uint32_t doc, const Strategy& strategy) const {
    const NodeConfig& nc = cfg.node;
    return strategy.multi_master || nc.nodes <= 1 || nc.home == NodeConfig::Home::kLease || doc % nc.nodes == nc.id ||
           links.contains(doc % nc.nodes);
  }
  // Whether a forwarded edit of `doc` may be handed to this server's node: under home: fixed only
  // at `doc % nodes`; under home: lease at any node (one that does not hold the lease answers
  // with a document reset, and the forwarding server reads the lease anew).
  bool may_take_forward(std::uint32_t doc) const {
    return cfg.node.home == NodeConfig::Home::kLease || doc % cfg.node.nodes == cfg.node.id;
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
  void start_claim(std::uint32_t doc, std::chrono::milliseconds backoff);
  // Whether the store has room for the work a client frame or a read may cause (kStoreCallsMax).
  bool store_busy() const { return store_calls.size() >= kStoreCallsMax; }
  // Runs `work` on the pool and `then` with its result on the App's thread; false (nothing
  // posted) when kPoolTasksMax calls are queued or running already.
  template <class Work, class Then>
  bool on_pool(Work work, Then then) {
    if (pool_tasks >= kPoolTasksMax) return false;
    ++pool_tasks;
    asio::post(pool, [this, work = std::move(work), then = std::move(then)]() mutable {
      auto result = work();
      asio::post(ioc, [this, then = std::move(then), result = std::move(result)]() mutable {
        CONVLAB_ASSERT(pool_tasks > 0);
        --pool_tasks;
        then(std::move(result));
      });
    });
    return true;
  }
  void on_store_reply(StoreReply reply);
  // What the store's threads hand over (replies, other servers' records), in arrival order. One
  // handler is posted per burst, not one per item: each post from another thread can wake the
  // App's thread, a system call and a context switch.
  struct BusRecord {
    std::uint32_t doc = 0;
    LogRecord record;
  };
  // bus: redis: the subscription was lost or made (RedisBus's state hook).
  struct BusState {
    bool up = false;
  };
  using FromStore = std::variant<StoreReply, BusRecord, BusState>;
  std::mutex inbox_mu;
  std::vector<FromStore> inbox;           // guarded by inbox_mu
  std::size_t inbox_records = 0;          // BusRecords in `inbox` (kInboxRecordsMax); inbox_mu
  std::size_t inbox_dropped = 0;          // BusRecords dropped since the last burst; inbox_mu
  std::vector<FromStore> inbox_now;       // the App's thread's: the burst being handled
  void from_store(FromStore item);
  void drain_inbox();
  void on_bus(const BusRecord& r);
  void on_bus_state(BusState s);
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
