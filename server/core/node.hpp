#pragma once
// A server node, sans-IO: the logic the real server wraps with Beast and libpqxx and the
// simulator drives in virtual time. It holds documents (one server replica each), its own
// clients' connections, and talks to the world only through NodeIo: frames to clients, store
// requests, messages to other nodes, timers. Inputs are the on_* methods (on_bus: a record the
// database published when it committed, as LISTEN/NOTIFY delivers it).
//
// Policies are the knobs of the naive architecture and its fixes (server/core/policies.hpp).
// Strategies that are not multi-master (ot, seq) have one home node per document that orders
// its changes; other nodes forward their clients' edits there.
#include "server/core/awareness.hpp"
#include "server/core/home_lease.hpp"
#include "server/core/indexed_map.hpp"
#include "server/core/policies.hpp"
#include "server/core/protocol.hpp"
#include "server/core/strategy.hpp"

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace convlab {

using ConnId = std::uint64_t;

// The node's policies (NodePolicies, server/core/policies.hpp: declared once, with their names
// and ranges), its place in the cluster and its limits.
struct NodeConfig : NodePolicies {
  NodeId id = 0;
  std::uint32_t nodes = 1;  // servers sharing the store; home of doc d is d % nodes (home: fixed)

  // Limits: every queue of the node has one (TIGER_STYLE). The defaults are far above what any
  // scenario reaches; at a limit the node refuses, clearly and safely, instead of growing. A
  // connection "closed as overloaded" is closed (NodeIo::close, reason "overloaded: ...") once
  // the current call is done, and the operator hears of it (log_error); its client reconnects
  // and loads the document anew, as after any close.
  // Frames that arrive for a document while it loads (Doc::waiting), per document: at the limit
  // the frame is dropped and its connection closed as overloaded.
  std::uint32_t loading_frames_max = 1u << 16;
  // Edits forwarded to this home while the document loads, per document: at the limit the edit
  // is dropped and the forwarding node told to start its sessions of the document over
  // (kDocReset), as when the home loses edits in a reset.
  std::uint32_t loading_forwards_max = 1u << 16;
  // Committed records that arrived past a gap (Doc::pending_remote), per document: at the limit
  // a record is not kept (the log has it) and the log is read again once the catch-up in flight
  // is answered.
  std::uint32_t pending_remote_max = 1u << 16;
  // Sessions waiting for a catch-up before their welcome, and the edits and renames they sent
  // meanwhile, per document: at the limit the connection is closed as overloaded.
  std::uint32_t hello_waiting_max = 1u << 14;
  std::uint32_t held_frames_max = 1u << 16;
  // Messages queued for one connection and document behind an acknowledgement that is not ready
  // (its commit, or a forwarded edit's reply), and that connection's forwarded edits not yet
  // acknowledged: at the limit the connection is closed as overloaded.
  std::uint32_t outbox_items_max = 1u << 16;
  std::uint32_t forwards_max = 1u << 14;
  // Appends waiting for the store (edits not yet committed), on this node: at the limit an edit
  // is refused before it applies (its connection closed as overloaded; a forwarded edit's node
  // told to start the document over).
  std::uint32_t appends_max = 1u << 16;
  // Snapshot writes waiting for the store: at the limit a snapshot is not written now (logged;
  // the document stays due and is written at the next chance).
  std::uint32_t snapshot_writes_max = 1u << 14;
  // API reads waiting for the store: at the limit a read is answered 503.
  std::uint32_t http_reads_max = 1u << 14;
};

// What a client presents: issued by the login service at login, never by the node.
struct Token {
  std::uint32_t user = 0;
  std::int64_t expires_ms = 0;  // in the node's clock
};

// An API read of a document (HTTP GET), from a client or through a CDN.
struct HttpGet {
  std::uint64_t id = 0;  // echoed in the response
  std::uint32_t doc = 0;
  Token token;
  // The session's context (a cookie): the log version of its last acknowledged write, 0 if none.
  std::uint64_t session_version = 0;
  // ?version=N: the document as of log version N, replayed from the change log on the primary
  // (as the real server's GET /api/documents/{id}?version=N); 0: the latest.
  std::uint64_t as_of = 0;
};

struct HttpResponse {
  std::uint64_t id = 0;
  std::uint32_t doc = 0;
  int status = 200;           // 200, 401 (expired), 403 (revoked), 500 (its stored log does not replay),
                              // 503 (too many reads waiting: NodeConfig::http_reads_max, or the
                              // store failed the read)
  Bytes body;                 // 200: the strategy's welcome for the document
  std::uint64_t version = 0;  // 200: the log version the body holds
  std::uint64_t latest = 0;   // 200: the primary's log version when the read was made
  const char* source = "";    // "primary", "replica", or "version" (an as_of read; never cached)
  bool no_store = true;       // Cache-Control: no-store
  std::string why;            // not 200: the reason
};

// One change-log entry: who caused it and the strategy's record bytes.
struct LogRecord {
  std::uint64_t index = 0;  // position in the document's log, from 1
  AgentId author = 0;
  Bytes record;
  // Audit stamps, for the real store's change log (0: unknown). Nothing orders by them.
  std::int64_t client_ms = 0;  // the author's clock, where the strategy's message carries it
  std::int64_t server_ms = 0;  // the accepting server's clock
};

struct StoreRequest {
  enum class Kind {
    kAppend,        // append `records` to `doc`'s log; reply carries their first index
    kReadLog,       // records of `doc` with index > `after` (catch-up, polling)
    kWriteSnapshot, // store `snapshot` of `doc` as of log index `after`
    kLoad,          // latest snapshot of `doc` and every record after it
    // home: lease. Node `node` renews the leases it holds and claims `lease_docs` (each whose
    // lease is absent or expired), for `lease_ms` of the store's clock; the reply's `leases`
    // names the lease of each of them and of every document the node holds
    // (LeaseRegister::request, server/core/home_lease.hpp). `doc` is ignored.
    kLease,
  };
  Kind kind = Kind::kAppend;
  std::uint64_t id = 0;  // echoed in the reply
  std::uint32_t doc = 0;
  std::vector<LogRecord> records;  // kAppend (index ignored)
  // kAppend: when not 0, the index the first record must get, or the append fails (the
  // version check of a single-writer document: a late commit of a crashed predecessor, or any
  // other writer, must not interleave with this one).
  std::uint64_t expect_first_index = 0;
  // kAppend under home: lease: when not 0, the append commits only if node `node` holds the
  // document's lease in this epoch, unexpired (LeaseRegister::may_append), or it fails.
  std::uint64_t lease_epoch = 0;
  NodeId node = 0;                         // kLease, and kAppend with lease_epoch
  std::vector<std::uint32_t> lease_docs;   // kLease
  std::int64_t lease_ms = 0;               // kLease
  // kAppend: publish the records on the bus when, and only when, the transaction commits (as
  // PostgreSQL's NOTIFY inside the transaction does).
  bool notify = false;
  std::uint64_t after = 0;
  Bytes snapshot;
  bool replica = false;  // kLoad: from a read replica, which shows commits late
  // kLoad: when not 0, a past version: the first content (the snapshot at log index 0) and the
  // records 1..upto, not the latest snapshot (`latest` still says how long the log is).
  std::uint64_t upto = 0;
  const char* purpose = "";  // what the query is for, for counters: "poll", "catchup", ...
};

struct StoreReply {
  std::uint64_t id = 0;
  // False: the request failed, and nothing else in the reply is meaningful (kLoad: nothing was
  // read, not an empty document; kAppend: see NodeIo::store).
  bool ok = true;
  std::uint64_t first_index = 0;   // kAppend
  std::vector<LogRecord> records;  // kReadLog, kLoad
  bool has_snapshot = false;       // kLoad
  Bytes snapshot;
  std::uint64_t snapshot_index = 0;
  std::uint64_t latest = 0;  // kLoad: the primary's log length at the time of the read
  LeaseTable leases;         // kLease
};

// Between nodes: an edit forwarded to the document's home, and the home's answer.
// A kForwardReply answers every kForwardEdit the home receives (or a kDocReset replaces the
// answers of a document's edits): the forwarding node counts its edits in flight and its client
// waits for the acknowledgement. An edit the home refuses is answered with a refusal: `payload`
// holds the text of the kRefused frame the home's own client would get, `replies` is empty, and
// the forwarding node sends its client that refusal. (The payload travels for every kind on the
// real server's peer link, server/net/peer_wire.cpp, so the refusal needs no new field there.)
struct NodeMessage {
  // kDocReset: the home of a single-writer document started it over from the store (an append
  // failed); edits forwarded to it and not yet answered may be gone, so the other nodes start
  // their sessions of it over too.
  enum class Kind { kForwardEdit, kForwardReply, kDocReset };
  Kind kind = Kind::kForwardEdit;
  NodeId from = 0;
  ConnId conn = 0;  // the connection on the forwarding node
  AgentId agent = 0;
  std::uint32_t doc = 0;
  std::uint64_t after_index = 0;  // kForwardReply: deliver once the log up to here is applied
  Bytes payload;                // kForwardEdit: the client's message; kForwardReply: a refusal, or empty
  std::vector<Bytes> replies;   // kForwardReply: what goes to that client
};

// Brings a fresh replica to the durable state: the snapshot (when there is one) then every record
// after its index, in log order. Returns the last log index applied, or an Error naming the
// snapshot or the record that did not apply. Loading a document, serving an API read from the
// store and the simulator's "durable" final all recover this way.
Result<std::uint64_t> recover_replica(ServerReplica& replica, bool has_snapshot, std::span<const std::uint8_t> snapshot,
                                      std::uint64_t snapshot_index, std::span<const LogRecord> records);

// Everything a Node does to the world goes through its NodeIo: the clock, frames to its clients,
// store requests, messages to other nodes, timers, API answers. Two implementations: the
// simulator's (sim/world.cpp, ServerIo: virtual time, simulated links, store and bus) and the
// real server's (server/net/node_io.cpp, NodeSlot: Beast sessions, pg::Store, asio timers).
//
// Threads and calls. A Node is single-threaded: its owner calls start(), admit() and the on_*
// methods from one thread, one at a time (the simulator's run loop; the real server's App
// thread, the one thread running its io_context). The Node calls NodeIo only from inside one of
// those calls, on that thread. The NodeIo outlives the Node.
//
// No re-entry. A NodeIo method must not call back into the Node's inputs (start, admit, on_*)
// before it returns: whatever it causes (a reply, a delivery, a disconnect) reaches the Node as
// a later, separate call. The Node relies on this: it calls NodeIo in the middle of changing its
// state (e.g. close() is called while the document's sessions are being dropped). The const
// observers (applied(), text(), ...) may be called: the simulator's send() reads applied().
// Both implementations queue: the simulator schedules every delivery as an event of its loop
// (even at zero latency, after the current event); the real server posts to its io_context.
//
// Crashes. A crash is the Node destroyed (the simulator keeps the process's NodeIo and builds a
// new Node; the real process dies). Replies, timers and messages addressed to the destroyed Node
// must never reach its successor: request ids and timer ids start over in a new Node. Messages
// other nodes sent to a node while it was down may reach its successor (the simulator queues
// them until the restart); the Node ignores what names connections it does not know.
class NodeIo {
 public:
  virtual ~NodeIo() = default;

  // The node's clock, in ms since the epoch. Read for token expiry (on_connect, on_http_get),
  // the rate limit's token bucket, the clock reading passed to the strategy and the records'
  // audit stamps; nothing orders changes by it.
  // No guarantee of monotonicity: the simulator's clocks have offsets and drift and may jump
  // back (clock faults); the real server reads the system clock (wall_ms()). The Node copes
  // with a reading that goes back (the rate limit refills nothing).
  virtual std::int64_t now_ms() = 0;

  // Queues `frame` for connection `conn`; `frame` is only valid during the call.
  // REQUIRES: `conn` is a connection the Node was told of by on_connect.
  // Guarantees: the frames sent to one connection arrive in the order of the send() calls, none
  // twice and none skipped while the connection lives; a frame for a connection that has closed
  // (either side) is dropped without a word. Never blocks.
  // Differences: the real server batches frames into one WebSocket message per handler
  // (convlab/2) and closes a connection whose outgoing queue is full (a slow consumer; the Node
  // then hears on_disconnect); the simulator gives each frame a drawn latency on a FIFO link
  // (a partition holds the frames and delivers them, in order, after it heals).
  virtual void send(ConnId conn, const Frame& frame) = 0;

  // Ends connection `conn` from the server side; the client reconnects and loads its document
  // anew. The Node has already forgotten `conn` when it calls this, so an on_disconnect(conn)
  // that follows is harmless: the real server sends one (its session tears down later and tells
  // every Node), the simulator does not. Frames sent just before may be lost (the real session
  // drops its queue; the simulator's client ignores what arrives for a closed connection).
  // `reason` is read as well as shown: "token expired" and "token revoked" get their own close
  // codes in the real server, and a simulated client told "token revoked" stops for good.
  // Difference: the real server holds one session per connection for every strategy's Node, so
  // one Node's close ends the connection for all of them.
  virtual void close(ConnId conn, const std::string& reason) = 0;

  // Starts `request` (StoreRequest says what each kind does). Guarantees: exactly one
  // on_store() with `request.id` follows, at any later time (the store may be down or cut off
  // for long), unless this Node is destroyed first; never two, never to another Node. An append
  // with `notify` publishes its records on the bus (on_bus at every other node, never this one)
  // if and only if it commits under `bus: notify` (PostgreSQL NOTIFY, inside the transaction);
  // under `bus: redis` the node's server publishes after hearing of the commit, at most once to
  // the nodes subscribed then (sim/redis.hpp), and on_bus_state tells the node when its
  // subscription is lost or back. An append answered ok=false may still have committed in the real
  // store (the connection broke during COMMIT): the Node then reloads what is durable.
  // Differences: the real store answers in submission order per document; the simulator answers
  // an append after its group commit, so a read of the same document sent later may be answered
  // first. The simulator's bus loses, duplicates and reorders records under a flaky-bus fault;
  // the real listener delivers each committed index once, in commit order per document, and
  // re-reads what it missed after a reconnect.
  virtual void store(StoreRequest request) = 0;

  // Sends `message` to node `node` (never this node). At most once and in order per pair of
  // nodes, after any delay. Lost when the target dies before it arrives; the simulator keeps
  // what was sent to a node that is down and hands it to the node's successor. The real server
  // drops a message to a node it has no link to (closing the forwarding connection) and, when a
  // peer link breaks or its queue overflows, closes the connections whose forwarded edits wait
  // on it (the Node hears on_disconnect).
  virtual void to_node(NodeId node, NodeMessage message) = 0;

  // Calls on_timer(timer) once, no sooner than `delay_ms` from now in the implementation's
  // monotonic time (virtual time; steady_clock), unless this Node is destroyed first. Timers
  // cannot be cancelled; several may be pending. The Node's timers are periodic: each firing
  // starts the next one.
  virtual void start_timer(std::int64_t delay_ms, std::uint64_t timer) = 0;

  // The answer to on_http_get, exactly one per request, with the request's id: from inside
  // on_http_get (refused) or from a later on_store (read from the store). An id the
  // implementation no longer waits for is ignored. The real server writes the HTTP response at
  // once; the simulator hands it to the CDN and the client after a link latency.
  virtual void respond(const HttpResponse& response) { (void)response; }

  // Something the node refused to do that its operator must hear about (a stored document whose
  // log does not replay, a queue at its limit): the node goes on serving everything else.
  virtual void log_error(const std::string& message) { (void)message; }

  // An edit's acknowledgement (the strategy's replies to its sender, `messages` kDeliver frames,
  // possibly none) was just sent to `conn`, by send() calls in the same Node call. For the real
  // server's metrics (edit-to-ack latency); nothing in the node depends on it.
  virtual void acknowledged(ConnId conn, std::uint32_t doc, std::size_t messages) {
    (void)conn;
    (void)doc;
    (void)messages;
  }

  // What changed a document's replica, for observe_replica.
  enum class ReplicaChange {
    kClientEdit,  // a client's message applied at the document's home (`agent`, `payload`)
    kRecord,      // a committed record of another node applied (`agent`: its author, `index`)
    kLoaded,      // the document loaded (or reloaded) from the store
    kDropped,     // the document dropped from memory (a change did not commit); `replica` null
  };
  // Observation only, for the simulator's ground truth (sim/oracle.hpp): `doc`'s replica here
  // may just have changed. `replica` and `payload` are valid only during the call. The default
  // does nothing (the real server's), and nothing in the node depends on it.
  virtual void observe_replica(std::uint32_t doc, const ServerReplica* replica, ReplicaChange change, AgentId agent,
                               std::span<const std::uint8_t> payload, std::uint64_t index) {
    (void)doc;
    (void)replica;
    (void)change;
    (void)agent;
    (void)payload;
    (void)index;
  }
};

// A NodeIo that forwards every call to another one (LevelDB's EnvWrapper): a test or a fault
// derives from it and overrides only what it changes, e.g. a store that fails every append, or a
// clock that jumps. A new NodeIo method gets its forwarder here.
class NodeIoWrapper : public NodeIo {
 public:
  explicit NodeIoWrapper(NodeIo& target) : target_(target) {}
  NodeIo& target() const { return target_; }

  std::int64_t now_ms() override { return target_.now_ms(); }
  void send(ConnId conn, const Frame& frame) override { target_.send(conn, frame); }
  void close(ConnId conn, const std::string& reason) override { target_.close(conn, reason); }
  void store(StoreRequest request) override { target_.store(std::move(request)); }
  void to_node(NodeId node, NodeMessage message) override { target_.to_node(node, std::move(message)); }
  void start_timer(std::int64_t delay_ms, std::uint64_t timer) override { target_.start_timer(delay_ms, timer); }
  void respond(const HttpResponse& response) override { target_.respond(response); }
  void log_error(const std::string& message) override { target_.log_error(message); }
  void acknowledged(ConnId conn, std::uint32_t doc, std::size_t messages) override {
    target_.acknowledged(conn, doc, messages);
  }
  void observe_replica(std::uint32_t doc, const ServerReplica* replica, ReplicaChange change, AgentId agent,
                       std::span<const std::uint8_t> payload, std::uint64_t index) override {
    target_.observe_replica(doc, replica, change, agent, payload, index);
  }

 private:
  NodeIo& target_;
};

class Node {
 public:
  Node(NodeConfig config, const Strategy& strategy, NodeIo& io);

  // Starts the periodic timers (poll, snapshot).
  void start();

  // A client connected on `conn` as `agent`, presenting `token` (expired or revoked: closed).
  void on_connect(ConnId conn, AgentId agent, Token token = {0, INT64_MAX});
  // The front door, before a frame waits for the node's worker: cheap checks that need no
  // document. A frame over its user's rate limit is refused here (the client hears why) and
  // this returns false; otherwise the frame must be passed to on_frame.
  bool admit(ConnId conn, std::span<const std::uint8_t> frame);
  void on_http_get(const HttpGet& request);
  // The login service revoked every token of `user`.
  void on_revoke(std::uint32_t user);
  void on_disconnect(ConnId conn);
  void on_frame(ConnId conn, std::span<const std::uint8_t> frame);
  void on_store(const StoreReply& reply);
  void on_bus(std::uint32_t doc, const LogRecord& record);
  // The node's subscription to the bus (bus: redis) was lost (`up` false: Redis down or cut
  // off; what is published meanwhile never arrives) or made again (true). Under
  // bus_recovery: log, a lost subscription starts reading the log every poll_interval for each
  // document with clients, and a new one reads the log after what each document applied (what
  // was published while it was away); under none nothing happens. A node starts subscribed.
  void on_bus_state(bool up);
  void on_node(const NodeMessage& message);
  void on_timer(std::uint64_t timer);

  // The node its clients' edits of `doc` go to: this node, another, or none known yet (home:
  // lease, the document's lease not read yet). Multi-master strategies: this node.
  std::optional<NodeId> home_of(std::uint32_t doc) const;

  // For checkers and tests: the node's view of a document (nullopt if not loaded).
  std::optional<std::u32string> text(std::uint32_t doc) const;
  std::vector<CharId> char_ids(std::uint32_t doc) const;
  std::vector<std::uint32_t> loaded_docs() const;
  // Loaded, with at least one client connection. A loaded document without clients is a cache:
  // nothing polls it or repairs it (the naive design's cost), and with catch-up a new client's
  // hello brings it up to date before its welcome.
  bool serving(std::uint32_t doc) const;
  // The highest log index such that this node's replica holds every record up to it.
  std::uint64_t applied(std::uint32_t doc) const;
  // The size of the document's replica state here, as its snapshot (nullopt if not loaded).
  std::optional<std::size_t> state_bytes(std::uint32_t doc) const;

 private:
  // What goes to one connection for one document, in order. An acknowledgement that is not
  // ready yet (held until commit, or until a forwarded edit's reply comes back) holds back
  // everything after it, so a client sees its document's changes in exactly the order the
  // document's history has them — OT clients depend on that.
  struct OutItem {
    std::vector<Bytes> msgs;
    bool ready = false;
    bool ack = false;  // the replies to an edit's sender (NodeIo::acknowledged)
    std::uint64_t version = 0;  // an ack's: the log index of the committed write (0: unknown)
  };
  struct Outbox {
    std::vector<OutItem> items;  // front at index `head`
    std::size_t head = 0;
    // Replies to forwarded edits, each released once this node has applied the document's log
    // up to `after_index` (the edit's own record, or what the home had when it had none).
    std::deque<std::pair<std::uint64_t, std::vector<Bytes>>> forward_replies;
    // Edits forwarded to the home whose reply has not arrived. While there are any, a record of
    // this connection's agent that arrives first (on the bus, before the home's reply) reserves
    // a slot keyed by its log index: the reply fills it, so the acknowledgement keeps the
    // record's place and nothing after it overtakes it.
    std::size_t forwards_in_flight = 0;
    std::map<std::uint64_t, std::size_t> anchors;
  };
  struct Conn {
    AgentId agent = 0;
    Token token;
    std::set<std::uint32_t> docs;
    std::map<std::uint32_t, Outbox> out;
    // A queue of this connection reached its limit: nothing more is queued or sent to it, and
    // it is closed once the current call is done (close_overloaded).
    bool overloaded = false;
    // Its hello asked for kVersion frames (the welcome's and each committed ack's log index).
    bool versions = false;
  };
  struct Doc {
    std::unique_ptr<ServerReplica> replica;
    bool loading = false;
    std::vector<std::pair<ConnId, Bytes>> waiting;  // frames that arrived while loading
    std::vector<NodeMessage> waiting_forwards;      // forwarded edits that arrived while loading
    std::set<ConnId> conns;
    std::uint64_t applied = 0;            // every log index <= this is in the replica
    std::uint64_t assigned = 0;           // home of a single-writer document: last index given out
    std::set<std::uint64_t> ahead;        // own or out-of-order indexes already applied
    std::map<std::uint64_t, LogRecord> pending_remote;  // arrived early, waits for the gap
    bool catching_up = false;
    std::vector<ConnId> hello_waiting;    // hellos waiting for a catch-up before their welcome
    // Edits and renames of subscribed connections in hello_waiting: a subscriber may edit the
    // state it loaded at once, so its frames wait for its welcome and then apply in order.
    std::vector<std::pair<ConnId, Bytes>> held_frames;
    bool dirty = false;                   // changed since the last snapshot
    std::uint64_t changes_since_snapshot = 0;
    std::uint64_t uncommitted = 0;        // records applied here whose append has not committed
    // A record past a gap was not kept (pending_remote at its limit): read the log again once
    // the catch-up in flight is answered.
    bool remote_dropped = false;
    // home: lease. The document waits for its lease to be read before it loads; once it has
    // loaded, `lease` is the one it loaded under: its home for as long as it stays in memory
    // (a node that reads another holder or epoch drops it, reset_doc).
    bool awaiting_lease = false;
    std::optional<DocLease> lease;
  };
  struct PendingAppend {
    std::uint32_t doc = 0;
    std::size_t records = 0;  // how many the append carries
    // Replies held until commit: a reserved slot of a local connection, or a reply to a
    // forwarding node.
    std::optional<std::pair<ConnId, std::size_t>> local_slot;
    std::vector<Bytes> local_replies;
    std::optional<NodeMessage> forward_reply;
    NodeId forward_to = 0;
  };

  bool is_home(std::uint32_t doc) const;
  Doc& doc_state(std::uint32_t doc);
  void begin_load(std::uint32_t doc);
  // The kLoad of a document (begin_load's, or once its lease is read).
  void request_load(std::uint32_t doc);
  // home: lease, for a single-writer strategy on more than one node.
  bool leased() const;
  // Sends a kLease request naming every document in memory, or, while one is in flight, sends
  // one more when it is answered.
  void ask_leases();
  // A lease table arrived: documents waiting for theirs load; documents whose lease moved are
  // dropped.
  void on_leases(const StoreReply& reply);
  void handle_edit(std::uint32_t doc, ConnId conn, AgentId agent, std::span<const std::uint8_t> payload,
                   std::optional<NodeId> forwarded_from);
  void refuse(ConnId conn, std::uint32_t doc, std::string why);
  // The home refused an edit forwarded by `node` for its connection `conn`: answers that node
  // with the refusal (`why`, the text refuse() would send a client of this node).
  void refuse_forwarded(NodeId node, ConnId conn, AgentId agent, std::uint32_t doc, std::string why);
  // The document did not load (`cause`: the store failed, or its stored log does not replay;
  // `detail`, possibly empty, says how): log it, disconnect whoever waits for it, refuse the
  // edits forwarded to it meanwhile, and forget it, unloaded (a later access tries again).
  // REQUIRES: it is loading.
  void refuse_doc(std::uint32_t doc, const std::string& cause, const std::string& detail);
  void deliver_local(std::uint32_t doc, AgentId except_author, std::vector<Bytes> msgs);
  void post(ConnId conn, std::uint32_t doc, std::vector<Bytes> msgs, bool ack = false);
  std::size_t reserve(ConnId conn, std::uint32_t doc);
  void fill(ConnId conn, std::uint32_t doc, std::size_t slot, std::vector<Bytes> msgs, std::uint64_t version = 0);
  void flush(ConnId conn, std::uint32_t doc);
  // Releases replies to forwarded edits whose place in the log this node has reached.
  void release_forward_replies(std::uint32_t doc);
  // A record of `author` was applied at `index`: anchor the place of a forwarded edit's reply.
  void anchor_own_record(std::uint32_t doc, AgentId author, std::uint64_t index);
  // The reply to a forwarded edit whose records end at `after` (<= applied): into its anchor
  // when the record reserved one, else now.
  void deliver_forward_reply(ConnId conn, std::uint32_t doc, std::uint64_t after, std::vector<Bytes> msgs);
  // No forwarded edit of `conn` is owed a reply any more: its anchors left are records of the
  // agent's other connections, which hold nothing back.
  void release_anchors(ConnId conn, std::uint32_t doc);
  void accept_remote(std::uint32_t doc, const LogRecord& record);
  void drain_remote(std::uint32_t doc);
  // Applies the next record of the log (record.index == d.applied + 1) and tells local clients.
  void apply_remote(std::uint32_t doc, Doc& d, const LogRecord& record);
  void request_catch_up(std::uint32_t doc, const char* purpose);
  void mark_applied(Doc& d, std::uint64_t index);
  void maybe_snapshot(std::uint32_t doc);
  // Stores the replica's snapshot labelled with the log index it holds everything up to. False
  // (nothing written) when snapshot_writes_max writes are in flight.
  bool write_snapshot(std::uint32_t doc);
  void welcome(ConnId conn, std::uint32_t doc);
  // A change this node applied did not commit: its replica is ahead of the durable log. Drop
  // the document and close its connections; clients reload what is durable.
  void reset_doc(std::uint32_t doc, const std::string& why);
  void http_read(const HttpGet& request, bool from_replica);
  void http_loaded(const StoreReply& reply);
  void handle_rename(std::uint32_t doc, ConnId conn, std::span<const std::uint8_t> payload);
  bool revoked(std::uint32_t user) const { return revoked_.contains(user); }
  // Presence (node_awareness.cpp): a client's kAwareness frame, a closed connection's entries,
  // and the coalescing timer's tick.
  void handle_awareness(std::uint32_t doc, ConnId conn, AgentId agent, std::span<const std::uint8_t> payload);
  void awareness_closed(ConnId conn);
  void awareness_tick();
  void arm_awareness_timer();
  void send_presence(ConnId viewer, std::uint32_t doc, std::span<const PresenceEntry> entries);

  struct Bucket {
    double tokens = 0;
    std::int64_t last_ms = 0;
  };
  struct PendingHttp {
    HttpGet request;
    bool from_replica = false;
  };
  struct TitleReg {
    std::uint64_t version = 0;
    std::string title;
  };

  NodeConfig config_;
  const Strategy& strategy_;
  NodeIo& io_;
  // Found on every frame, reply and record; iterated in key order (IndexedMap: hashed lookups).
  IndexedMap<ConnId, Conn> conns_;
  IndexedMap<std::uint32_t, Doc> docs_;
  std::uint64_t next_request_ = 1;
  std::map<std::uint64_t, PendingAppend> appends_;
  std::map<std::uint64_t, std::pair<StoreRequest::Kind, std::uint32_t>> requests_;
  std::map<std::uint64_t, PendingHttp> http_;  // store request id -> API read waiting for it
  std::set<std::uint32_t> revoked_;            // users
  std::map<std::uint32_t, Bucket> buckets_;    // user -> rate limit
  std::map<std::uint32_t, TitleReg> titles_;   // doc -> title register (in memory)
  // Replies to forwarded edits queued in some Outbox::forward_replies. Counts down as they are
  // released, not when a connection closes with some queued: so 0 means none (nothing to
  // release, the common case of multi-master strategies), anything else maybe some.
  std::size_t queued_forward_replies_ = 0;

  // Queues at their limits (NodeConfig, "Limits").
  // True when one more message for `conn`'s outbox of `doc` would pass outbox_items_max.
  bool outbox_full(const Conn& c, std::uint32_t doc) const;
  // Marks `conn` overloaded (`what` says which queue): nothing more goes to it, and it is closed
  // when the current call is done. Closing at once could pull the connection out from under a
  // loop over connections further up the stack.
  void overload(ConnId conn, std::uint32_t doc, const std::string& what);
  // Closes the connections marked overloaded. Runs at the end of every input that may mark one.
  void close_overloaded();
  // A forwarded edit of `doc` from `node` was dropped at a limit: its client waits for an answer
  // that will not come, so that node starts its sessions of the document over (kDocReset).
  void reset_forwarder(NodeId node, std::uint32_t doc, const std::string& why);
  // Forgets the store requests of `doc` still in flight (their replies will be ignored).
  void forget_requests(std::uint32_t doc);
  struct CloseOverloaded {
    Node& node;
    ~CloseOverloaded() { node.close_overloaded(); }
  };
  std::vector<std::pair<ConnId, std::string>> overloaded_;
  std::size_t snapshot_writes_ = 0;  // kWriteSnapshot requests in flight
  // home: lease (home_lease.hpp): the latest lease table read, the kLease request in flight (0:
  // none) and whether another is due when it is answered.
  HomeView homes_{config_.id};
  std::uint64_t lease_request_ = 0;
  bool lease_again_ = false;
  // awareness: coalesce. The timer runs only while the table holds something, so a run without
  // presence schedules nothing more than before.
  static constexpr std::uint64_t kAwarenessTimer = 5;  // after node.cpp's periodic timers 1 to 4
  AwarenessTable awareness_;
  bool awareness_timer_ = false;
  // bus: redis (on_bus_state): whether the subscription is up, and whether the timer that reads
  // the log while it is down runs (only then: a run whose bus never drops schedules nothing more).
  static constexpr std::uint64_t kBusFallbackTimer = 6;
  bool bus_up_ = true;
  bool bus_fallback_timer_ = false;
  bool bus_versioned() const { return config_.bus_recovery == NodeConfig::BusRecovery::kLog; }
};

}  // namespace convlab
