#include "sim/world.hpp"

#include "server/core/assert.hpp"
#include "server/core/node.hpp"
#include "server/core/protocol.hpp"
#include "server/core/rng.hpp"
#include "server/core/utf8.hpp"
#include "server/strategies/paragraphs/replica.hpp"
#include "sim/scheduler.hpp"
#include "workload/durable.hpp"
#include "workload/overruled.hpp"
#include "workload/seen.hpp"

#include <algorithm>
#include <cstdio>
#include <deque>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <set>
#include <unordered_map>

namespace convlab::sim {

namespace {

constexpr std::int64_t kUsPerMs = 1000;
// The agent of the characters every document starts with (not a client: never "acknowledged").
constexpr AgentId kSetupAgent = 0xfffffffeu;
// A client's agent id carries its incarnation (a crash of its server gives it a new replica,
// whose characters must not reuse old ids): agent = incarnation << 20 | client.
constexpr std::uint32_t kClientBits = 20;
constexpr std::uint32_t kMaxClients = 1u << kClientBits;

// Endpoints of links. Clients are 0..C-1, servers C..C+S-1, then the store and the bus.
using Endpoint = std::uint32_t;

struct Partition {
  std::vector<std::set<Endpoint>> groups;
  bool one_way = false;
  std::uint64_t id = 0;
};

class World;

// What a server node sees of the world.
class ServerIo final : public NodeIo {
 public:
  ServerIo(World& w, std::uint32_t index) : world_(w), index_(index) {}
  std::int64_t now_ms() override;
  void send(ConnId conn, const Frame& frame) override;
  void close(ConnId conn, const std::string& reason) override;
  void store(StoreRequest request) override;
  void to_node(NodeId node, NodeMessage message) override;
  void start_timer(std::int64_t delay_ms, std::uint64_t timer) override;
  void respond(const HttpResponse& response) override;
  void observe_replica(std::uint32_t doc, const ServerReplica* replica, ReplicaChange change, AgentId agent,
                       std::span<const std::uint8_t> payload, std::uint64_t index) override;
  void log_error(const std::string& message) override;

 private:
  World& world_;
  std::uint32_t index_;
};

struct Server {
  std::unique_ptr<ServerIo> io;
  std::unique_ptr<Node> node;
  bool up = true;
  std::uint32_t incarnation = 0;
  std::int64_t clock_offset_ms = 0;
  std::int64_t drift_ppm = 0;
  std::int64_t busy_until_us = 0;  // its worker is busy with client frames until then
  std::uint32_t db_session = 0;    // the database incarnation its connection was opened on
};

using workload::DocEdit;
using workload::EditRef;

// The (author, op) pairs a client has shown: per author, one bit per op (ops are numbered from
// 1 without gaps), instead of a tree node per pair.
class SeenSet {
 public:
  // False when (author, op) was already in.
  bool insert(std::uint32_t author, std::uint32_t op) {
    auto it = std::lower_bound(bits_.begin(), bits_.end(), author,
                               [](const auto& e, std::uint32_t a) { return e.first < a; });
    if (it == bits_.end() || it->first != author) it = bits_.emplace(it, author, std::vector<bool>{});
    std::vector<bool>& b = it->second;
    if (b.size() <= op) b.resize(std::max<std::size_t>(op + 1, b.size() * 2));
    if (b[op]) return false;
    b[op] = true;
    return true;
  }

 private:
  std::vector<std::pair<std::uint32_t, std::vector<bool>>> bits_;  // sorted by author
};

struct Client {
  std::uint32_t id = 0;
  std::uint32_t doc = 0;
  std::uint32_t slot = 0;  // index among the clients of its document
  std::uint32_t incarnation = 0;
  std::unique_ptr<ClientReplica> replica;
  int server = -1;         // -1: not connected
  ConnId conn = 0;
  bool welcomed = false;
  bool offline = false;
  std::int64_t clock_offset_ms = 0;
  std::int64_t drift_ppm = 0;
  double rate_multiplier = 1.0;
  std::uint32_t next_op = 1;
  std::uint32_t acked_upto = 0;      // every op <= this is acknowledged
  workload::Typist typist;          // bursts: the shared typing workload
  std::uint64_t known_version = 0;   // the highest log position its server had shown it
  std::map<std::uint32_t, std::uint32_t> seen_ops;  // author -> highest op shown
  SeenSet seen;  // (author, op) shown
  // For replicas that index ids: edits of its document by others that it has not shown yet
  // (indexes into World::doc_edits_).
  workload::Unseen unseen;
  // Edits taken out of `unseen` because every character of theirs is deleted for good in the
  // current replica (ClientReplica::deleted_for_good): back into `unseen` when the replica's
  // state is replaced (a new replica, a welcome).
  std::vector<std::uint32_t> dead;
  Rng rng{0};
  // API and auth: the token of its last login; stopped once a login is refused (revoked).
  Token token;
  bool stopped = false;
  bool stale_base = false;          // it shows a state loaded stale from the API
  std::uint64_t loaded_version = 0; // the log version of its last API load
  std::uint64_t own_version = 0;    // log version of its last acknowledged write
  bool loading = false;             // an API read is in flight
  std::uint64_t title_version = 0;  // the title version it shows
  std::uint32_t next_rename = 1;
  AgentId agent() const { return (incarnation << kClientBits) | id; }
};

// An API read between the client, the CDN and a server.
struct PendingGet {
  std::uint32_t client = 0;
  std::uint64_t own_version = 0;  // the client's last acknowledged write when it asked
};

struct CdnEntry {
  HttpResponse response;
  std::int64_t stored_us = 0;
};

struct StoredDoc {
  std::vector<LogRecord> log;  // append-only and dense: log[i].index == i + 1
  bool has_snapshot = false;
  Bytes snapshot;
  std::uint64_t snapshot_index = 0;
  std::vector<std::int64_t> commit_us;  // when each log record committed (the replica lags it)
  bool has_initial = false;             // the first content, at log index 0
  Bytes initial;
};

class World {
 public:
  World(const WorldConfig& cfg, const RunOptions& opt)
      : cfg_(cfg), opt_(opt), strategy_(*opt.strategy), rng_(opt.seed), writer_(opt.history_out) {
    CONVLAB_ASSERT(cfg_.clients < kMaxClients);
    net_rng_ = rng_.fork();
    store_rng_ = rng_.fork();
    fault_rng_ = rng_.fork();
    if (opt.oracle) oracle_ = std::make_unique<Oracle>();
  }

  RunOutput run();

  // --- used by ServerIo ---
  std::int64_t server_clock_ms(std::uint32_t s) const {
    const Server& sv = servers_[s];
    const std::int64_t t_ms = now_us_ / kUsPerMs;
    return t_ms + sv.clock_offset_ms + t_ms * sv.drift_ppm / 1'000'000;
  }
  void server_send(std::uint32_t s, ConnId conn, const Frame& frame);
  void server_close(std::uint32_t s, ConnId conn, const std::string& reason);
  void server_store(std::uint32_t s, StoreRequest request);
  // The database's notification of a committed record, to every server but its origin.
  void store_publish(std::uint32_t origin, std::uint32_t doc, const LogRecord& record);
  void server_to_node(std::uint32_t s, NodeId node, NodeMessage message);
  void server_timer(std::uint32_t s, std::int64_t delay_ms, std::uint64_t timer);
  void server_respond(std::uint32_t s, const HttpResponse& response);
  // The ground truth (RunOptions::oracle): server s's replica of `doc` may have changed.
  void observe_replica(std::uint32_t s, std::uint32_t doc, const ServerReplica* replica, NodeIo::ReplicaChange change,
                       AgentId agent, std::span<const std::uint8_t> payload, std::uint64_t index);
  // A node refused something its operator must hear about (a document whose log does not replay).
  void server_error(std::uint32_t s, const std::string& message) {
    std::fprintf(stderr, "server %u: %s\n", s, message.c_str());
    if (node_errors_ == 0) node_error_ = "server " + std::to_string(s) + ": " + message;
    ++node_errors_;
  }

 private:
  // --- scheduling ---
  void at(std::int64_t t_us, Task f) {
    CONVLAB_ASSERT(t_us >= now_us_);
    sched_.at(t_us, std::move(f));
  }
  std::int64_t draw_ms(Rng& r, RangeMs range) { return r.between(range.min, range.max); }
  std::int64_t draw_us(Rng& r, RangeMs range_ms) {
    return r.between(range_ms.min * kUsPerMs, range_ms.max * kUsPerMs);
  }

  // --- links ---
  Endpoint client_ep(std::uint32_t c) const { return c; }
  Endpoint server_ep(std::uint32_t s) const { return cfg_.clients + s; }
  Endpoint store_ep() const { return cfg_.clients + cfg_.servers.count; }
  Endpoint bus_ep() const { return store_ep() + 1; }
  bool cut(Endpoint from, Endpoint to) const;
  // Sends over a FIFO link: delivered after `latency_us` unless a partition holds it, in which
  // case it waits (TCP keeps retrying) and goes when the partition heals.
  void link_send(Endpoint from, Endpoint to, std::int64_t latency_us, Task deliver);
  void release_held();
  // A bus hop (server -> bus, bus -> server): a link_send, except while a flaky fault is on,
  // when the message may be lost, delivered twice (the copy a little later) or delayed so that
  // later ones overtake it. The node's log-index gap detection and catch-up recover all three.
  void bus_send(Endpoint from, Endpoint to, std::int64_t latency_us, std::function<void()> deliver);

  // --- parts ---
  void setup_store();
  void start_server(std::uint32_t s);
  void crash_server(std::uint32_t s);
  // subscribe: the client already shows a loaded state; it asks for changes, not a welcome.
  void connect_client(std::uint32_t c, bool subscribe = false);
  // The login service: a fresh token for the client's user, or none once it is revoked.
  std::optional<Token> login(const Client& cl) const;
  // A client frame reaches server s: the front door (rate limit) at once, then the server's
  // single worker, one frame after another, servers.work_us_per_msg each.
  void server_frame(std::uint32_t s, std::uint32_t incarnation, ConnId conn, Bytes frame);
  // API reads: the client asks, the CDN answers from its cache or asks a server.
  void client_reload(std::uint32_t c);
  void cdn_get(HttpGet request);
  void serve_load(const HttpResponse& response, std::string source, int server);
  void finish_load(std::uint32_t c, const HttpResponse& response, const std::string& source, int server);
  void adopt_load(Client& cl, const HttpResponse& response);
  std::map<std::uint32_t, std::uint32_t> ops_shown(const Client& cl) const;
  // The (author, op) of the edit that inserted `id`, unless it is this client's own or the setup text.
  std::optional<std::pair<std::uint32_t, std::uint32_t>> edit_of(const Client& cl, CharId id) const;
  void client_rename(std::uint32_t c);
  // Ends a client's connection (its replica goes with it) and reconnects it after a backoff.
  void drop_client(std::uint32_t c, bool tell_server, std::int64_t backoff_us);
  void client_receive(std::uint32_t c, std::uint32_t server, std::uint32_t incarnation, ConnId conn,
                      std::uint64_t version, const Bytes& bytes);
  void crash_db();
  void restart_db();
  void client_send(Client& cl, std::vector<Bytes> msgs);
  void client_tick(std::uint32_t c);
  // `para`: the paragraph index of sp.pos when the caller knows it (else counted here).
  void client_edit(Client& cl, const Splice& sp, std::optional<std::uint32_t> para = std::nullopt);
  void note_seen(Client& cl);
  // The replica's state was replaced: edits set aside as deleted for good may show again.
  static void revive_dead(Client& cl);
  void note_seen_scan(Client& cl);
  void client_refused(std::uint32_t c, const std::string& why);
  void note_acks(Client& cl);
  // Sets `para` to the paragraph index of the splice's position.
  std::optional<Splice> draw_splice(Client& cl, std::uint32_t& para);
  std::int64_t client_clock_ms(const Client& cl) const {
    const std::int64_t t_ms = now_us_ / kUsPerMs;
    return t_ms + cl.clock_offset_ms + t_ms * cl.drift_ppm / 1'000'000;
  }
  // `db_sent` is the database incarnation of the server's connection when it sent the request:
  // an append on a connection the database's crash broke does not commit.
  void store_execute(std::uint32_t s, std::uint32_t incarnation, std::uint32_t db_sent, StoreRequest request);
  // The durable text of `doc` changed (a record committed, or a snapshot replaced it): a
  // `commit` event naming the edit it came from, when it came from one.
  void emit_commit(std::uint32_t s, std::uint32_t doc, std::uint64_t index, std::optional<AgentId> author,
                   const workload::DurableChange& change);

  // --- faults ---
  void schedule_faults();
  void begin_fault(const FaultSpec& f);
  void end_fault(const FaultSpec& f, std::uint64_t partition_id);
  std::optional<Endpoint> endpoint(const std::string& name) const;
  void heal();

  // --- history ---
  void emit(history::Event&& e) {  // an rvalue reference: no Event is moved just to call this
    e.t_us = now_us_;
    writer_.write(e);
    if (opt_.on_event) opt_.on_event(e);
    if (opt_.keep_events) events_.push_back(std::move(e));
  }
  // with_memory: also sample the server replicas' state sizes (mem.* keys; see docs/history.md).
  void emit_counters(bool with_memory);
  void emit_finals();

  const WorldConfig& cfg_;
  const RunOptions& opt_;
  const Strategy& strategy_;
  Rng rng_;
  Rng net_rng_{0};
  Rng store_rng_{0};
  Rng fault_rng_{0};
  history::Writer writer_;
  std::vector<history::Event> events_;
  std::uint64_t refused_ = 0;  // server messages a client replica refused
  std::string refusal_;        // the first one
  std::uint64_t node_errors_ = 0;  // errors the server nodes logged
  std::string node_error_;         // the first one

  std::int64_t now_us_ = 0;
  Scheduler sched_;
  bool healed_ = false;

  // When the last message on each link (from << 32 | to) arrives: looked up, never iterated.
  std::unordered_map<std::uint64_t, std::int64_t> link_last_us_;
  static std::uint64_t link_key(Endpoint from, Endpoint to) { return std::uint64_t{from} << 32 | to; }
  // Messages a partition holds, per link; an entry exists only once something was held.
  std::map<std::pair<Endpoint, Endpoint>, std::deque<Task>> held_;
  bool holding(Endpoint from, Endpoint to) const {
    if (held_.empty()) return false;
    const auto it = held_.find({from, to});
    return it != held_.end() && !it->second.empty();
  }
  std::vector<Partition> partitions_;
  std::uint64_t next_partition_ = 1;
  struct Flaky {
    std::uint64_t id = 0;
    double loss = 0;
    double dup = 0;
    double reorder = 0;
  };
  std::vector<Flaky> flaky_;  // flaky faults in effect: each probability is the largest of them
  std::uint64_t next_flaky_ = 1;

  std::vector<Server> servers_;
  std::map<std::uint32_t, std::vector<NodeMessage>> down_queue_;
  std::vector<Client> clients_;
  std::vector<std::uint32_t> newly_scratch_;  // note_seen's edits newly visible to one client
  std::vector<std::uint32_t> shown_scratch_;  // note_seen's edits shown by one batch
  static constexpr std::uint32_t kShown = std::numeric_limits<std::uint32_t>::max();
  std::uint32_t round_robin_ = 0;
  ConnId next_conn_ = 1;
  std::map<ConnId, std::uint32_t> conn_client_;

  std::vector<StoredDoc> store_;
  // Per document: the text the store holds, followed commit by commit (history `commit` events).
  std::vector<std::unique_ptr<workload::DurableText>> durable_;
  workload::RecordAuthors record_authors_;  // the edit each committed record came from
  workload::WriteStamps write_stamps_;      // the edit each register write came from (overruled)
  bool db_up_ = true;
  std::uint32_t db_incarnation_ = 0;
  std::uint64_t db_partition_ = 0;
  std::vector<std::function<void()>> db_backlog_;  // requests that arrived while it was down
  std::int64_t store_free_us_ = 0;  // commits are serialised: the log's order is commit order
  std::int64_t batch_start_us_ = 0;  // when the latest group-commit batch starts (it ends at store_free_us_)
  std::map<std::string, std::uint64_t> counters_;
  // Inputs the server nodes handled (admitted client frames, bus records, store replies, node
  // messages): the servers' work, written as counter `srv.inputs`.
  std::uint64_t server_inputs_ = 0;

  std::map<std::uint32_t, std::int64_t> revoked_at_us_;  // client (user) -> when revoked
  std::vector<std::uint64_t> own_committed_;              // client -> its last committed index
  std::map<std::uint32_t, CdnEntry> cdn_;                 // doc -> cached API response
  std::map<std::uint64_t, PendingGet> http_pending_;
  std::uint64_t next_http_ = 1;

  // Per author client: its edits' first char seq, to map a seen char back to the edit.
  std::vector<std::map<AgentId, std::vector<EditRef>>> edits_by_agent_;
  // Per document: every edit that inserted characters, in the order they were made.
  std::vector<std::vector<DocEdit>> doc_edits_;

  // RunOptions::oracle: the ground truth, fed as things happen (null: off).
  std::unique_ptr<Oracle> oracle_;
  std::map<AgentId, std::uint64_t> oracle_counters_;  // paragraph client agent -> its last write stamp counter
  static std::vector<CharId> sorted(std::vector<CharId> ids) {
    std::sort(ids.begin(), ids.end());
    return ids;
  }
  static std::uint64_t request_key(std::uint32_t incarnation, std::uint64_t id) {
    return std::uint64_t{incarnation} << 40 | id;
  }
};

// ---------------------------------------------------------------- ServerIo

std::int64_t ServerIo::now_ms() { return world_.server_clock_ms(index_); }
void ServerIo::send(ConnId conn, const Frame& frame) { world_.server_send(index_, conn, frame); }
void ServerIo::close(ConnId conn, const std::string& reason) { world_.server_close(index_, conn, reason); }
void ServerIo::store(StoreRequest request) { world_.server_store(index_, std::move(request)); }
void ServerIo::to_node(NodeId node, NodeMessage message) { world_.server_to_node(index_, node, std::move(message)); }
void ServerIo::start_timer(std::int64_t delay_ms, std::uint64_t timer) { world_.server_timer(index_, delay_ms, timer); }
void ServerIo::respond(const HttpResponse& response) { world_.server_respond(index_, response); }
void ServerIo::observe_replica(std::uint32_t doc, const ServerReplica* replica, ReplicaChange change, AgentId agent,
                               std::span<const std::uint8_t> payload, std::uint64_t index) {
  world_.observe_replica(index_, doc, replica, change, agent, payload, index);
}
void ServerIo::log_error(const std::string& message) { world_.server_error(index_, message); }

// ---------------------------------------------------------------- links

bool World::cut(Endpoint from, Endpoint to) const {
  for (const Partition& p : partitions_) {
    int gf = -1;
    int gt = -1;
    for (std::size_t g = 0; g < p.groups.size(); ++g) {
      if (p.groups[g].contains(from)) gf = static_cast<int>(g);
      if (p.groups[g].contains(to)) gt = static_cast<int>(g);
    }
    if (gf < 0 || gt < 0 || gf == gt) continue;
    if (!p.one_way || (gf == 0 && gt == 1)) return true;
  }
  return false;
}

void World::link_send(Endpoint from, Endpoint to, std::int64_t latency_us, Task deliver) {
  if (cut(from, to) || holding(from, to)) {
    held_[{from, to}].push_back(std::move(deliver));
    return;
  }
  std::int64_t& last = link_last_us_[link_key(from, to)];
  const std::int64_t t = std::max(now_us_ + latency_us, last);
  last = t;
  at(t, std::move(deliver));
}

void World::release_held() {
  for (auto& [key, q] : held_) {
    if (q.empty() || cut(key.first, key.second)) continue;
    std::int64_t& last = link_last_us_[link_key(key.first, key.second)];
    while (!q.empty()) {
      // Retransmission after the heal: one more latency, order kept.
      const std::int64_t t = std::max(now_us_ + draw_us(net_rng_, cfg_.network.client_server_ms), last);
      last = t;
      at(t, std::move(q.front()));
      q.pop_front();
    }
  }
}

void World::bus_send(Endpoint from, Endpoint to, std::int64_t latency_us, std::function<void()> deliver) {
  if (flaky_.empty()) return link_send(from, to, latency_us, Task(std::move(deliver)));
  Flaky p;
  for (const Flaky& f : flaky_) {
    p.loss = std::max(p.loss, f.loss);
    p.dup = std::max(p.dup, f.dup);
    p.reorder = std::max(p.reorder, f.reorder);
  }
  // Draws from net_rng_ only while a flaky fault is on: other runs keep their histories.
  if (p.loss > 0 && net_rng_.chance(p.loss)) {
    ++counters_["bus.flaky_lost"];
    return;
  }
  const bool dup = p.dup > 0 && net_rng_.chance(p.dup);
  const bool late = p.reorder > 0 && net_rng_.chance(p.reorder);
  // An extra delay of up to 10 bus latencies (at least 10 ms): enough for later messages to pass.
  const std::int64_t extra_max = std::max<std::int64_t>(10 * kUsPerMs, 10 * cfg_.network.server_bus_ms.max * kUsPerMs);
  const bool held = cut(from, to) || holding(from, to);
  if (dup) {
    ++counters_["bus.flaky_dup"];
    if (held) {
      link_send(from, to, latency_us, Task(deliver));
    } else {
      at(now_us_ + latency_us + net_rng_.between(1, extra_max), Task(deliver));
    }
  }
  if (late && !held) {
    // Off the FIFO link: delivered late without holding back the messages sent after it.
    ++counters_["bus.flaky_reordered"];
    at(now_us_ + latency_us + net_rng_.between(1, extra_max), Task(std::move(deliver)));
    return;
  }
  link_send(from, to, latency_us, Task(std::move(deliver)));
}

// ---------------------------------------------------------------- servers

void World::setup_store() {
  store_.resize(cfg_.docs);
  if (cfg_.initial_text.empty()) {
    for (std::uint32_t d = 0; d < cfg_.docs; ++d) {
      durable_.push_back(std::make_unique<workload::DurableText>(strategy_, false, std::span<const std::uint8_t>{}));
    }
    return;
  }
  auto text = utf8_decode(cfg_.initial_text);
  CONVLAB_ASSERT(text.has_value());  // the scenario loader checked it
  for (std::uint32_t d = 0; d < cfg_.docs; ++d) {
    // The first content goes through the strategy like any edit, so it has ids and stamps.
    auto author = strategy_.make_client(kSetupAgent);
    auto server = strategy_.make_server();
    for (const Bytes& m : author->local_edit(Splice{0, 0, *text}, 0)) {
      auto out = server->receive(kSetupAgent, m, 0);
      CONVLAB_ASSERT(out.has_value());
    }
    store_[d].has_snapshot = true;
    store_[d].snapshot = server->snapshot();
    store_[d].snapshot_index = 0;
    store_[d].has_initial = true;
    store_[d].initial = store_[d].snapshot;
    durable_.push_back(std::make_unique<workload::DurableText>(strategy_, true, store_[d].snapshot));
  }
}

void World::start_server(std::uint32_t s) {
  Server& sv = servers_[s];
  NodeConfig nc;
  nc.id = s;
  nc.nodes = cfg_.servers.count;
  nc.propagation = cfg_.servers.propagation == Propagation::kPoll ? NodeConfig::Propagation::kPoll
                                                                  : NodeConfig::Propagation::kBus;
  nc.poll_interval_ms = cfg_.servers.poll_interval_ms;
  nc.anti_entropy_ms = cfg_.servers.anti_entropy_ms;
  nc.persistence = cfg_.servers.persistence == Persistence::kSnapshot ? NodeConfig::Persistence::kSnapshot
                                                                      : NodeConfig::Persistence::kChangeLog;
  nc.snapshot_interval_ms = cfg_.servers.snapshot_interval_ms;
  nc.snapshot_every_changes = cfg_.servers.snapshot_every_changes;
  nc.ack_after_commit = cfg_.servers.ack == Ack::kAfterCommit;
  nc.catch_up_on_hello = cfg_.servers.catch_up;
  switch (cfg_.servers.api_read) {
    case ApiRead::kReplica: nc.api_read = NodeConfig::ApiRead::kReplica; break;
    case ApiRead::kPrimary: nc.api_read = NodeConfig::ApiRead::kPrimary; break;
    case ApiRead::kSessionPrimary: nc.api_read = NodeConfig::ApiRead::kSessionPrimary; break;
    case ApiRead::kFenced: nc.api_read = NodeConfig::ApiRead::kFenced; break;
  }
  nc.api_no_store = cfg_.servers.api_cache == ApiCache::kNoStore;
  nc.check_revocation = cfg_.servers.check_revocation;
  nc.rate_limit_per_s = cfg_.servers.rate_limit_per_s;
  nc.rate_burst = cfg_.servers.rate_burst;
  nc.rename_notice = cfg_.servers.rename == Rename::kNotice;
  sv.io = std::make_unique<ServerIo>(*this, s);
  sv.node = std::make_unique<Node>(nc, strategy_, *sv.io);
  sv.up = true;
  sv.busy_until_us = now_us_;
  sv.db_session = db_incarnation_;
  sv.node->start();
  for (const auto& [user, when] : revoked_at_us_) sv.node->on_revoke(user);
  auto queued = std::move(down_queue_[s]);
  down_queue_[s].clear();
  for (const NodeMessage& m : queued) sv.node->on_node(m);
}

void World::crash_server(std::uint32_t s) {
  Server& sv = servers_[s];
  if (!sv.up) return;
  sv.up = false;
  if (oracle_) {
    for (std::uint32_t doc : sv.node->loaded_docs()) oracle_->server_memory(now_us_, s, doc, {});
  }
  ++sv.incarnation;  // everything addressed to the old process is dropped
  sv.node.reset();
  // What the dead process had not yet sent is gone with it.
  for (auto& [key, q] : held_) {
    if (key.first == server_ep(s)) q.clear();
  }
  for (Client& cl : clients_) {
    // Clients of this server lose their connection. So do clients elsewhere whose document has
    // its home here (strategies that are not multi-master): the edits they forwarded died with
    // the home's memory, and only a fresh session tells them where they stand.
    const bool homed_here = !strategy_.multi_master && cl.doc % cfg_.servers.count == s;
    if (cl.server < 0 || (cl.server != static_cast<int>(s) && !homed_here)) continue;
    const std::int64_t backoff_us = 500 * kUsPerMs + static_cast<std::int64_t>(cl.rng.below(1000)) * kUsPerMs;
    drop_client(cl.id, cl.server != static_cast<int>(s), backoff_us);
  }
}

void World::drop_client(std::uint32_t c, bool tell_server, std::int64_t backoff_us) {
  Client& cl = clients_[c];
  if (cl.server < 0) return;
  if (tell_server) {
    Server& sv = servers_[static_cast<std::uint32_t>(cl.server)];
    if (sv.up) sv.node->on_disconnect(cl.conn);
  }
  // The client's unacknowledged edits go with its replica; it reconnects with a fresh replica
  // (a new agent id, so no character id is reused).
  conn_client_.erase(cl.conn);
  cl.server = -1;
  cl.welcomed = false;
  at(now_us_ + backoff_us, [this, c] { connect_client(c); });
}

void World::server_close(std::uint32_t, ConnId conn, const std::string& reason) {
  auto it = conn_client_.find(conn);
  if (it == conn_client_.end()) return;
  const std::uint32_t c = it->second;
  history::Event e;
  e.type = history::EventType::kFault;
  e.kind = "closed";
  e.client = c;
  e.doc = clients_[c].doc;
  e.detail = reason;
  emit(std::move(e));
  // A revoked session is logged out: the app stops rather than retry with a dead token.
  if (reason == "token revoked") clients_[c].stopped = true;
  drop_client(c, false, 200 * kUsPerMs + static_cast<std::int64_t>(clients_[c].rng.below(300)) * kUsPerMs);
}

void World::server_send(std::uint32_t s, ConnId conn, const Frame& frame) {
  auto it = conn_client_.find(conn);
  if (it == conn_client_.end()) return;
  const std::uint32_t c = it->second;
  Bytes bytes = encode_frame(frame);
  ++counters_["net.msgs"];
  counters_["net.bytes"] += bytes.size();
  const std::uint32_t inc = servers_[s].incarnation;
  const std::uint64_t version = servers_[s].node->applied(frame.doc);
  link_send(server_ep(s), client_ep(c), draw_us(net_rng_, cfg_.network.client_server_ms),
            [this, c, s, inc, conn, version, b = std::move(bytes)] { client_receive(c, s, inc, conn, version, b); });
}

void World::server_store(std::uint32_t s, StoreRequest request) {
  ++counters_[std::string("db.") + request.purpose];
  const std::uint32_t inc = servers_[s].incarnation;
  if (oracle_ && request.kind == StoreRequest::Kind::kAppend) oracle_->append_requested(s, request_key(inc, request.id));
  const std::uint32_t db_sent = servers_[s].db_session;
  link_send(server_ep(s), store_ep(), draw_us(net_rng_, cfg_.network.server_db_ms),
            [this, s, inc, db_sent, r = std::move(request)]() mutable { store_execute(s, inc, db_sent, std::move(r)); });
}

void World::store_execute(std::uint32_t s, std::uint32_t incarnation, std::uint32_t db_sent, StoreRequest req) {
  if (!db_up_) {
    // It arrived as the database went down: the client library retries once it is back.
    db_backlog_.push_back([this, s, incarnation, db_sent, r = std::move(req)]() mutable {
      store_execute(s, incarnation, db_sent, std::move(r));
    });
    return;
  }
  StoredDoc& d = store_.at(req.doc);
  StoreReply reply;
  reply.id = req.id;
  std::int64_t done_us = now_us_;
  switch (req.kind) {
    case StoreRequest::Kind::kAppend: {
      // Group commit, as PgStore does: commits are serialised, each takes the commit latency,
      // and appends that arrive while one is in flight go together into the next (one latency
      // for the whole batch, in arrival order). A crash before the commit point loses the
      // transaction, and the server hears that its connection broke.
      if (now_us_ >= store_free_us_ || batch_start_us_ <= now_us_) {
        // The store is idle, or the latest batch has started: a new batch after it.
        batch_start_us_ = std::max(store_free_us_, now_us_);
        store_free_us_ = batch_start_us_ + draw_us(store_rng_, cfg_.database.commit_ms);
      }
      // Else the latest batch waits for the one in flight: this append joins it.
      // Sent on a connection a crash of the database broke: the transaction fails even though
      // the database is back. Committing it could put in the log a record whose predecessor
      // from the same server was lost in the crash: a log that does not replay.
      const std::uint32_t db_inc = db_sent;
      at(store_free_us_, [this, s, incarnation, db_inc, req = std::move(req)]() mutable {
        StoreReply r;
        r.id = req.id;
        StoredDoc& target = store_.at(req.doc);
        if (db_inc != db_incarnation_ ||
            (req.expect_first_index != 0 && req.expect_first_index != target.log.size() + 1)) {
          r.ok = false;
        } else {
          StoredDoc& sd = store_.at(req.doc);
          r.first_index = sd.log.size() + 1;
          for (LogRecord& rec : req.records) {
            rec.index = sd.log.size() + 1;
            sd.commit_us.push_back(now_us_);
            if (oracle_) oracle_->record_committed(s, request_key(incarnation, req.id), req.doc, rec.index);
            const std::uint32_t author = rec.author & (kMaxClients - 1);
            if (rec.author != kSetupAgent && author < cfg_.clients) own_committed_[author] = rec.index;
            // NOTIFY inside the transaction: the database publishes on commit, so a server
            // that dies between its commit and its reply cannot keep a change from the others.
            if (req.notify) store_publish(s, req.doc, rec);
            const auto change = durable_[req.doc]->append(rec);
            if (change) {
              emit_commit(s, req.doc, rec.index, rec.author, *change);
            } else {
              ++counters_["durable.unreplayable"];
            }
            sd.log.push_back(std::move(rec));
          }
        }
        link_send(store_ep(), server_ep(s), draw_us(net_rng_, cfg_.network.server_db_ms),
                  [this, s, incarnation, r = std::move(r)] {
                    Server& sv = servers_[s];
                    if (sv.up && sv.incarnation == incarnation) {
                      ++server_inputs_;
                      // The server learns that its connection broke and opens a new one.
                      if (!r.ok) sv.db_session = db_incarnation_;
                      sv.node->on_store(r);
                    }
                  });
      });
      return;
    }
    case StoreRequest::Kind::kReadLog:
      // The log is append-only and dense: the record with index i is log[i - 1].
      if (req.after < d.log.size()) {
        reply.records.assign(d.log.begin() + static_cast<std::ptrdiff_t>(req.after), d.log.end());
      }
      break;
    case StoreRequest::Kind::kWriteSnapshot:
      if (!d.has_snapshot || req.after >= d.snapshot_index) {
        d.has_snapshot = true;
        d.snapshot = std::move(req.snapshot);
        d.snapshot_index = req.after;
        const auto change = durable_[req.doc]->replace(d.has_snapshot, d.snapshot, d.snapshot_index, d.log);
        if (!change) {
          ++counters_["durable.unreplayable"];
        } else if (!change->added.empty() || !change->removed.empty()) {
          emit_commit(s, req.doc, d.snapshot_index, std::nullopt, *change);
        }
      }
      break;
    case StoreRequest::Kind::kLoad: {
      // A read replica holds what committed at least replica_lag_ms ago (commit_us ascends).
      std::uint64_t upto = d.log.size();
      if (req.replica) {
        const std::int64_t cutoff_us = now_us_ - cfg_.database.replica_lag_ms * kUsPerMs;
        upto = static_cast<std::uint64_t>(std::upper_bound(d.commit_us.begin(), d.commit_us.end(), cutoff_us) -
                                          d.commit_us.begin());
      }
      // The latest snapshot, unless it is past what the replica has: then the first content.
      const bool latest_snapshot = d.snapshot_index <= upto;
      reply.has_snapshot = latest_snapshot ? d.has_snapshot : d.has_initial;
      reply.snapshot = latest_snapshot ? d.snapshot : d.initial;
      reply.snapshot_index = latest_snapshot ? d.snapshot_index : 0;
      reply.latest = d.log.size();
      if (reply.snapshot_index < upto) {
        reply.records.assign(d.log.begin() + static_cast<std::ptrdiff_t>(reply.snapshot_index),
                             d.log.begin() + static_cast<std::ptrdiff_t>(upto));
      }
      break;
    }
  }
  at(done_us, [this, s, incarnation, reply = std::move(reply)]() mutable {
    link_send(store_ep(), server_ep(s), draw_us(net_rng_, cfg_.network.server_db_ms),
              [this, s, incarnation, reply = std::move(reply)] {
                Server& sv = servers_[s];
                if (sv.up && sv.incarnation == incarnation) {
                  ++server_inputs_;
                  sv.node->on_store(reply);
                }
              });
  });
}

void World::emit_commit(std::uint32_t s, std::uint32_t doc, std::uint64_t index, std::optional<AgentId> author,
                        const workload::DurableChange& change) {
  history::Event e;
  e.type = history::EventType::kCommit;
  e.doc = doc;
  e.version = index;
  e.server = static_cast<std::int32_t>(s);
  if (author) {
    if (const auto edit = record_authors_.record(*author, change)) {
      e.writer = static_cast<std::int32_t>(edit->first);
      e.op = edit->second;
    }
  }
  e.inserted = history::compress_ids(change.added);
  e.deleted = history::compress_ids(change.removed);
  emit(std::move(e));
  if (oracle_) {
    oracle_->durable(now_us_, doc, change.added, change.removed, index,
                     author ? std::nullopt : std::optional<std::uint32_t>(s));
  }
}

void World::observe_replica(std::uint32_t s, std::uint32_t doc, const ServerReplica* replica,
                            NodeIo::ReplicaChange change, AgentId agent, std::span<const std::uint8_t> payload,
                            std::uint64_t index) {
  if (!oracle_) return;
  std::vector<CharId> ids = replica != nullptr ? sorted(replica->char_ids()) : std::vector<CharId>{};
  switch (change) {
    case NodeIo::ReplicaChange::kClientEdit:
      oracle_->server_edit(now_us_, s, doc, std::move(ids), agent, payload, replica);
      return;
    case NodeIo::ReplicaChange::kRecord:
      oracle_->server_record(now_us_, s, doc, std::move(ids), index);
      return;
    case NodeIo::ReplicaChange::kLoaded:
    case NodeIo::ReplicaChange::kDropped:
      oracle_->server_memory(now_us_, s, doc, std::move(ids));
      return;
  }
}

void World::store_publish(std::uint32_t origin, std::uint32_t doc, const LogRecord& record) {
  for (std::uint32_t o = 0; o < cfg_.servers.count; ++o) {
    if (o == origin) continue;
    ++counters_["bus.msgs"];
    const std::int64_t lat = draw_us(net_rng_, cfg_.network.server_bus_ms);
    // Through the bus: database -> bus -> server; a partition on either hop holds it.
    bus_send(store_ep(), bus_ep(), lat, [this, o, doc, record] {
      bus_send(bus_ep(), server_ep(o), draw_us(net_rng_, cfg_.network.server_bus_ms), [this, o, doc, record] {
        Server& sv = servers_[o];
        if (sv.up) {
          ++server_inputs_;
          sv.node->on_bus(doc, record);
        }
      });
    });
  }
}

void World::server_to_node(std::uint32_t s, NodeId node, NodeMessage message) {
  const std::uint32_t inc = servers_[node].incarnation;
  link_send(server_ep(s), server_ep(node), draw_us(net_rng_, cfg_.network.server_bus_ms),
            [this, node, inc, m = std::move(message)] {
              Server& sv = servers_[node];
              if (sv.incarnation != inc) return;  // sent to a process that has died since
              if (sv.up) {
                ++server_inputs_;
                sv.node->on_node(m);
              } else {
                // Sent while it was down: the sender retries until it is back.
                down_queue_[node].push_back(m);
              }
            });
}

void World::server_timer(std::uint32_t s, std::int64_t delay_ms, std::uint64_t timer) {
  const std::uint32_t inc = servers_[s].incarnation;
  at(now_us_ + delay_ms * kUsPerMs, [this, s, inc, timer] {
    Server& sv = servers_[s];
    if (sv.up && sv.incarnation == inc) sv.node->on_timer(timer);
  });
}

// ---------------------------------------------------------------- clients

void World::connect_client(std::uint32_t c, bool subscribe) {
  Client& cl = clients_[c];
  if (cl.server >= 0 || cl.stopped) return;
  // The token in local storage is used while it has not expired; only then a new login.
  const auto token = cl.token.expires_ms > now_us_ / kUsPerMs ? std::optional<Token>(cl.token) : login(cl);
  if (!token) {
    // Revoked: the login service refuses it, and the client stays out.
    cl.stopped = true;
    cl.welcomed = false;
    history::Event e;
    e.type = history::EventType::kFault;
    e.kind = "refused";
    e.client = c;
    e.doc = cl.doc;
    e.detail = "login refused: revoked";
    emit(std::move(e));
    return;
  }
  cl.token = *token;
  // The load balancer: round-robin over servers that are up, or sticky (always the same one).
  std::optional<std::uint32_t> pick;
  if (cfg_.balancer == Balancer::kSticky) {
    const std::uint32_t s = c % cfg_.servers.count;
    if (servers_[s].up) pick = s;
  } else {
    for (std::uint32_t k = 0; k < cfg_.servers.count; ++k) {
      const std::uint32_t s = (round_robin_ + k) % cfg_.servers.count;
      if (servers_[s].up) {
        pick = s;
        round_robin_ = s + 1;
        break;
      }
    }
  }
  if (!pick) {
    at(now_us_ + 1000 * kUsPerMs, [this, c] { connect_client(c); });
    return;
  }
  if (!subscribe) {
    if (cl.replica) ++cl.incarnation;  // a reconnect after a crash starts a fresh replica
    cl.replica = strategy_.make_client(cl.agent());
    workload::keep_overruled(*cl.replica, write_stamps_);
    revive_dead(cl);
    cl.acked_upto = cl.next_op - 1;  // edits of the old replica are no longer pending
  }
  cl.server = static_cast<int>(*pick);
  cl.conn = next_conn_++;
  conn_client_[cl.conn] = c;
  cl.welcomed = subscribe;  // a subscriber shows its loaded state and may edit at once
  const ConnId opened = cl.conn;
  servers_[*pick].node->on_connect(cl.conn, cl.agent(), cl.token);
  if (cl.conn != opened || cl.server < 0) return;  // refused at connect
  Bytes hello = subscribe ? encode_frame(Frame{FrameKind::kSubscribe, cl.doc, encode_subscribe(cl.loaded_version), {}})
                          : encode_frame(Frame{FrameKind::kHello, cl.doc, {}, {}});
  ++counters_["net.msgs"];
  counters_["net.bytes"] += hello.size();
  const std::uint32_t s = *pick;
  const std::uint32_t inc = servers_[s].incarnation;
  const ConnId conn = cl.conn;
  link_send(client_ep(c), server_ep(s), draw_us(net_rng_, cfg_.network.client_server_ms),
            [this, s, inc, conn, b = std::move(hello)]() mutable { server_frame(s, inc, conn, std::move(b)); });
}

void World::client_send(Client& cl, std::vector<Bytes> msgs) {
  if (cl.server < 0) return;  // not connected: the replica keeps them unacknowledged
  const auto s = static_cast<std::uint32_t>(cl.server);
  const std::uint32_t inc = servers_[s].incarnation;
  std::vector<CharId> view;
  if (oracle_ && !msgs.empty()) view = sorted(cl.replica->char_ids());
  for (Bytes& m : msgs) {
    if (oracle_) oracle_->sent(now_us_, cl.agent(), m, Oracle::EditTag{cl.id, cl.next_op - 1}, view);
    Bytes frame = encode_frame(Frame{FrameKind::kEdit, cl.doc, std::move(m), {}});
    ++counters_["net.msgs"];
    counters_["net.bytes"] += frame.size();
    const ConnId conn = cl.conn;
    link_send(client_ep(cl.id), server_ep(s), draw_us(net_rng_, cfg_.network.client_server_ms),
              [this, s, inc, conn, b = std::move(frame)]() mutable { server_frame(s, inc, conn, std::move(b)); });
  }
}

void World::client_receive(std::uint32_t c, std::uint32_t server, std::uint32_t incarnation, ConnId conn,
                           std::uint64_t version, const Bytes& bytes) {
  Client& cl = clients_[c];
  if (cl.conn != conn || cl.server != static_cast<int>(server) || servers_[server].incarnation != incarnation) return;
  auto frame = decode_frame_view(bytes);
  CONVLAB_ASSERT(frame.has_value());  // the node encodes every frame
  switch (frame->kind) {
    case FrameKind::kWelcome: {
      revive_dead(cl);
      auto back = cl.replica->receive(frame->payload);
      if (!back) {
        client_refused(c, "client " + std::to_string(c) + " refused a welcome: " + back.error().message);
        return;
      }
      cl.welcomed = true;
      cl.stale_base = false;
      if (oracle_) oracle_->client_loaded(now_us_, c, version);
      // A load older than what this client was shown before is a stale load: it misses
      // updates it had already seen.
      history::Event load;
      load.type = history::EventType::kLoad;
      load.client = c;
      load.doc = cl.doc;
      load.server = static_cast<std::int32_t>(server);
      load.version = version;
      load.latest = std::max(cl.known_version, version);
      load.source = "server:" + std::to_string(server);
      emit(std::move(load));
      cl.known_version = std::max(cl.known_version, version);
      note_seen(cl);
      client_send(cl, std::move(*back));
      return;
    }
    case FrameKind::kDeliver: {
      cl.known_version = std::max(cl.known_version, version);
      auto back = cl.replica->receive(frame->payload);
      if (!back) {
        client_refused(c, "client " + std::to_string(c) + " refused a message: " + back.error().message);
        return;
      }
      for (history::Event& o : workload::take_overruled(*cl.replica, write_stamps_, c, cl.doc)) emit(std::move(o));
      note_seen(cl);
      note_acks(cl);
      client_send(cl, std::move(*back));
      return;
    }
    case FrameKind::kRefused: {
      history::Event e;
      e.type = history::EventType::kFault;
      e.kind = "refused";
      e.client = c;
      e.doc = frame->doc;
      e.detail.assign(frame->payload.begin(), frame->payload.end());
      // An edit refused (over the rate limit, or one the server's replica cannot take: a
      // stale subscribe without catch-up may name a paragraph the server does not have yet).
      const bool edit_refused = e.detail.rfind("rate limited", 0) == 0 || e.detail.rfind("edit", 0) == 0;
      emit(std::move(e));
      // The edit was not applied, so this replica has diverged from the server and its edits in
      // flight no longer match the answers to come. The client drops the session and reloads
      // the document a second later.
      if (edit_refused) drop_client(c, true, 1000 * kUsPerMs);
      return;
    }
    case FrameKind::kTitle: {
      auto t = decode_title(frame->payload);
      CONVLAB_ASSERT(t.has_value());  // the node encodes every title
      cl.title_version = std::max(cl.title_version, t->version);
      if (t->answer == 0) return;
      history::Event e;
      e.type = history::EventType::kRename;
      e.client = c;
      e.doc = cl.doc;
      e.op = cl.next_rename - 1;  // renames wait for their answer: this one is the last sent
      e.server = static_cast<std::int32_t>(server);
      e.kind = t->answer == 1 ? "ack" : "notice";
      e.version = t->version;
      e.detail = t->title;
      emit(std::move(e));
      return;
    }
    default:
      CONVLAB_ASSERT(false);
  }
}

void World::client_refused(std::uint32_t c, const std::string& why) {
  // A server's message a client refuses is a bug in a strategy. The run records it (the swarm
  // and `convlab replay` fail on it) and goes on as a real client would: it drops the session
  // and reloads the document, so the rest of the run is still judged.
  std::fprintf(stderr, "%s\n", why.c_str());
  if (refused_ == 0) refusal_ = why;
  ++refused_;
  history::Event e;
  e.type = history::EventType::kFault;
  e.kind = "client_refused";
  e.client = c;
  e.doc = clients_[c].doc;
  e.detail = why;
  emit(std::move(e));
  drop_client(c, true, 1000 * kUsPerMs);
}

void World::note_acks(Client& cl) {
  // A replica that has nothing unacknowledged had every edit so far acknowledged.
  if (!cl.replica->synced()) return;
  while (cl.acked_upto + 1 < cl.next_op) {
    ++cl.acked_upto;
    if (oracle_) oracle_->acked(cl.id, cl.acked_upto);
    history::Event e;
    e.type = history::EventType::kAck;
    e.client = cl.id;
    e.doc = cl.doc;
    e.op = cl.acked_upto;
    e.server = cl.server;
    emit(std::move(e));
  }
  // Every edit so far is acknowledged, so every record of this client has committed.
  cl.own_version = std::max(cl.own_version, own_committed_[cl.id]);
}

void World::note_seen(Client& cl) {
  if (!cl.replica->indexes_ids()) {
    note_seen_scan(cl);
    return;
  }
  // Only edits this client has not shown yet can change anything: ask the replica's index for
  // their ids instead of scanning the document. Same events, same order as note_seen_scan.
  const std::vector<DocEdit>& edits = doc_edits_[cl.doc];
  cl.unseen.catch_up(edits, cl.id);
  std::vector<std::uint32_t>& newly = newly_scratch_;
  newly.clear();
  bool any_dead = false;
  for (std::uint32_t& i : cl.unseen.edits) {
    if (workload::shows(*cl.replica, edits[i])) {
      newly.push_back(i);
    } else if (workload::gone_for_good(*cl.replica, edits[i])) {
      // It cannot show in this replica: set it aside instead of asking again every delivery.
      cl.dead.push_back(i);
      i = kShown;
      any_dead = true;
    }
  }
  if (any_dead) std::erase(cl.unseen.edits, kShown);
  if (newly.empty()) return;
  const auto show = [&](const DocEdit& d) {
    if (!cl.seen.insert(d.author, d.op)) return;
    std::uint32_t& hi = cl.seen_ops[d.author];
    hi = std::max(hi, d.op);
    history::Event e;
    e.type = history::EventType::kSeen;
    e.client = cl.id;
    e.doc = cl.doc;
    e.author = d.author;
    e.op = d.op;
    e.server = cl.server;
    emit(std::move(e));
  };
  if (newly.size() == 1) {
    std::erase(cl.unseen.edits, newly.front());
    show(edits[newly.front()]);
    return;
  }
  // Several at once (a welcome, a poll's batch): in document order of each one's first visible
  // character, as note_seen_scan gives. Every edit the scan would name is in `newly` (the others
  // are shown already or have no character here), so the document is read in chunks only until
  // each of them has been met, and each id is tested against those few edits only.
  std::size_t left = newly.size();
  std::vector<std::uint32_t>& shown = shown_scratch_;
  shown.clear();
  const std::size_t len = cl.replica->length();
  constexpr std::size_t kChunk = 512;
  for (std::size_t base = 0; base < len && left > 0; base += kChunk) {
    const std::vector<CharId> ids = cl.replica->char_ids_range(base, std::min(kChunk, len - base));
    for (const CharId& id : ids) {
      for (std::uint32_t& i : newly) {
        if (i == kShown) continue;
        const DocEdit& d = edits[i];
        if (id.agent != d.agent || id.seq < d.seq || id.seq - d.seq >= d.count) continue;
        show(d);
        shown.push_back(i);
        i = kShown;
        --left;
        break;
      }
      if (left == 0) break;
    }
  }
  // Those shown leave `unseen` (no edit in `unseen` is in `seen`: an edit leaves it when shown).
  std::sort(shown.begin(), shown.end());
  std::erase_if(cl.unseen.edits, [&](std::uint32_t i) { return std::binary_search(shown.begin(), shown.end(), i); });
}

void World::revive_dead(Client& cl) {
  if (cl.dead.empty()) return;
  std::sort(cl.dead.begin(), cl.dead.end());
  std::vector<std::uint32_t> merged;
  merged.reserve(cl.unseen.edits.size() + cl.dead.size());
  std::merge(cl.unseen.edits.begin(), cl.unseen.edits.end(), cl.dead.begin(), cl.dead.end(), std::back_inserter(merged));
  cl.unseen.edits = std::move(merged);
  cl.dead.clear();
}

void World::note_seen_scan(Client& cl) {
  const std::vector<CharId> ids = cl.replica->char_ids();
  for (const CharId& id : ids) {
    const auto edit = edit_of(cl, id);
    if (!edit) continue;
    const auto [author, op] = *edit;
    if (!cl.seen.insert(author, op)) continue;
    std::uint32_t& hi = cl.seen_ops[author];
    hi = std::max(hi, op);
    history::Event e;
    e.type = history::EventType::kSeen;
    e.client = cl.id;
    e.doc = cl.doc;
    e.author = author;
    e.op = op;
    e.server = cl.server;
    emit(std::move(e));
  }
}

std::optional<Splice> World::draw_splice(Client& cl, std::uint32_t& para) {
  workload::DrawnEdit d = workload::next_edit(cl.rng, cfg_.workload, *cl.replica, cl.slot);
  para = d.para;
  return std::move(d.splice);
}

void World::client_edit(Client& cl, const Splice& sp, std::optional<std::uint32_t> para) {
  CONVLAB_ASSERT(sp.pos + sp.del <= cl.replica->length());
  if (!para) {
    const std::u32string before = cl.replica->text_range(0, sp.pos);
    para = static_cast<std::uint32_t>(std::count(before.begin(), before.end(), U'\n'));
  }
  const std::vector<CharId> deleted_ids = cl.replica->char_ids_range(sp.pos, sp.del);
  const std::uint32_t op = cl.next_op++;
  auto msgs = cl.replica->local_edit(sp, client_clock_ms(cl));
  workload::note_writes(*cl.replica, write_stamps_, cl.id, op);

  history::Event e;
  e.type = history::EventType::kEdit;
  e.client = cl.id;
  e.doc = cl.doc;
  e.op = op;
  e.server = cl.server;
  e.clock_ms = client_clock_ms(cl);
  e.pos = sp.pos;
  e.del = sp.del;
  e.ins = sp.ins;
  e.para = *para;
  std::vector<CharId> inserted;
  if (!sp.ins.empty() && sp.pos + sp.ins.size() <= cl.replica->length()) {
    inserted = cl.replica->char_ids_range(sp.pos, sp.ins.size());
  }
  e.inserted = history::compress_ids(inserted);
  e.deleted = history::compress_ids(deleted_ids);
  record_authors_.note_edit(cl.id, cl.agent(), op, inserted.empty() ? CharId{} : inserted.front(),
                            static_cast<std::uint32_t>(inserted.size()), deleted_ids);
  if (oracle_) {
    // The paragraph register writes this edit made: stamped with the client's agent and the
    // counters after its previous write's.
    if (const paragraphs::ParagraphClient* pc = paragraphs::as_paragraph_client(*cl.replica)) {
      std::uint64_t& last = oracle_counters_[cl.agent()];
      for (std::uint64_t k = last + 1; k <= pc->write_counter(); ++k) oracle_->stamp(cl.agent(), k, Oracle::EditTag{cl.id, op});
      last = pc->write_counter();
    }
    oracle_->edit(cl.id, cl.doc, op, sorted(inserted), deleted_ids, cl.seen_ops);
  }
  e.seen_ops = cl.seen_ops;
  e.offline = cl.offline || cl.server < 0;
  e.stale_base = cl.stale_base;
  emit(std::move(e));
  if (!inserted.empty()) {
    edits_by_agent_[cl.id][inserted.front().agent].push_back(EditRef{inserted.front().seq, op});
    // Ids of one edit are consecutive for the strategies that index them (crdt); a strategy whose
    // ids are not is read by note_seen_scan, which does not use this.
    doc_edits_[cl.doc].push_back(DocEdit{cl.id, op, inserted.front().agent, inserted.front().seq,
                                         static_cast<std::uint32_t>(inserted.size())});
  }
  client_send(cl, std::move(msgs));
  note_acks(cl);
}

void World::client_tick(std::uint32_t c) {
  if (healed_) return;  // the fault phase is over: no new edits
  Client& cl = clients_[c];
  if (cl.welcomed) {
    std::uint32_t para = 0;
    if (auto sp = draw_splice(cl, para)) client_edit(cl, *sp, para);
  }
  const std::int64_t pause_us = workload::next_pause_us(cl.rng, cfg_.workload, cl.typist, cl.rate_multiplier);
  at(now_us_ + pause_us, [this, c] { client_tick(c); });
}

// ---------------------------------------------------------------- API, auth, titles

std::optional<Token> World::login(const Client& cl) const {
  if (revoked_at_us_.contains(cl.id)) return std::nullopt;
  return Token{cl.id, now_us_ / kUsPerMs + cfg_.auth.token_lifetime_ms};
}

void World::server_frame(std::uint32_t s, std::uint32_t incarnation, ConnId conn, Bytes frame) {
  Server& sv = servers_[s];
  if (!sv.up || sv.incarnation != incarnation) return;
  if (!sv.node->admit(conn, frame)) return;
  ++server_inputs_;
  const std::int64_t work_us = cfg_.servers.work_us_per_msg;
  if (work_us <= 0) {
    sv.node->on_frame(conn, frame);
    return;
  }
  sv.busy_until_us = std::max(sv.busy_until_us, now_us_) + work_us;
  at(sv.busy_until_us, [this, s, incarnation, conn, b = std::move(frame)] {
    Server& v = servers_[s];
    if (v.up && v.incarnation == incarnation) v.node->on_frame(conn, b);
  });
}

void World::client_reload(std::uint32_t c) {
  if (healed_) return;  // the fault phase is over: no new reloads
  Client& cl = clients_[c];
  at(now_us_ + std::max<std::int64_t>(1, draw_us(cl.rng, cfg_.workload.reload_ms)), [this, c] { client_reload(c); });
  if (cl.stopped || cl.offline || cl.loading || cl.replica == nullptr) return;
  if (cl.token.expires_ms <= now_us_ / kUsPerMs) {
    const auto token = login(cl);
    if (!token) return;
    cl.token = *token;
  }
  HttpGet g;
  g.id = next_http_++;
  g.doc = cl.doc;
  g.token = cl.token;
  g.session_version = cl.own_version;
  http_pending_[g.id] = PendingGet{c, cl.own_version};
  cl.loading = true;
  at(now_us_ + draw_us(net_rng_, cfg_.network.client_server_ms), [this, g] { cdn_get(g); });
}

void World::cdn_get(HttpGet g) {
  const PendingGet& p = http_pending_.at(g.id);
  const Client& cl = clients_[p.client];
  auto hit = cdn_.find(g.doc);
  if (cfg_.cdn.ttl_ms > 0 && hit != cdn_.end() && now_us_ - hit->second.stored_us < cfg_.cdn.ttl_ms * kUsPerMs) {
    // Keyed by URL alone: whoever asks gets what was cached, the auth decision included.
    HttpResponse r = hit->second.response;
    r.id = g.id;
    r.latest = store_[g.doc].log.size();
    return serve_load(r, "cdn", -1);
  }
  // A miss goes to a server: the client's own, else the first one up.
  std::optional<std::uint32_t> origin;
  if (cl.server >= 0 && servers_[static_cast<std::uint32_t>(cl.server)].up) origin = static_cast<std::uint32_t>(cl.server);
  for (std::uint32_t k = 0; !origin && k < cfg_.servers.count; ++k) {
    if (servers_[k].up) origin = k;
  }
  if (!origin) {
    HttpResponse r;
    r.id = g.id;
    r.doc = g.doc;
    r.status = 503;
    r.why = "no server up";
    return serve_load(r, "cdn", -1);
  }
  const std::uint32_t s = *origin;
  const std::uint32_t inc = servers_[s].incarnation;
  at(now_us_ + draw_us(net_rng_, cfg_.network.server_bus_ms), [this, s, inc, g] {
    Server& sv = servers_[s];
    if (sv.up && sv.incarnation == inc) {
      sv.node->on_http_get(g);
    } else {
      HttpResponse r;
      r.id = g.id;
      r.doc = g.doc;
      r.status = 502;
      r.why = "server went away";
      serve_load(r, "cdn", -1);
    }
  });
}

void World::server_respond(std::uint32_t s, const HttpResponse& r) {
  if (!http_pending_.contains(r.id)) return;
  if (r.status == 200 && !r.no_store && cfg_.cdn.ttl_ms > 0) cdn_[r.doc] = CdnEntry{r, now_us_};
  serve_load(r, r.source, static_cast<int>(s));
}

void World::serve_load(const HttpResponse& r, std::string source, int server) {
  auto p = http_pending_.find(r.id);
  CONVLAB_ASSERT(p != http_pending_.end());
  const std::uint32_t c = p->second.client;
  if (r.status == 200) {
    // Judged when served: the session's acknowledged write missing (read-your-writes), and a
    // user whose tokens were revoked by now getting the document anyway.
    if (r.version < p->second.own_version) source += ":missing_own_write";
    auto rv = revoked_at_us_.find(c);
    if (rv != revoked_at_us_.end() && rv->second <= now_us_) source += ":revoked";
  }
  http_pending_.erase(p);
  at(now_us_ + draw_us(net_rng_, cfg_.network.client_server_ms), [this, c, r, source, server] {
    finish_load(c, r, source, server);
  });
}

void World::finish_load(std::uint32_t c, const HttpResponse& r, const std::string& source, int server) {
  Client& cl = clients_[c];
  cl.loading = false;
  if (r.status == 403) cl.stopped = true;  // revoked: logged out
  if (r.status != 200) {
    history::Event e;
    e.type = history::EventType::kFault;
    e.kind = "refused";
    e.client = c;
    e.doc = r.doc;
    e.detail = "GET document: " + std::to_string(r.status) + " " + r.why;
    emit(std::move(e));
    return;
  }
  history::Event load;
  load.type = history::EventType::kLoad;
  load.client = c;
  load.doc = r.doc;
  load.server = server;
  load.version = r.version;
  load.latest = r.latest;
  load.source = source;
  emit(std::move(load));
  if (strategy_.adopts_loaded_state && !cl.stopped && !healed_) adopt_load(cl, r);
}

void World::adopt_load(Client& cl, const HttpResponse& r) {
  // A page reload: the old session ends (its unacknowledged edits with it), the page shows what
  // the API served, and a new session subscribes to changes from now on.
  if (cl.server >= 0) {
    Server& sv = servers_[static_cast<std::uint32_t>(cl.server)];
    if (sv.up) sv.node->on_disconnect(cl.conn);
    conn_client_.erase(cl.conn);
    cl.server = -1;
  }
  ++cl.incarnation;
  cl.replica = strategy_.make_client(cl.agent());
  workload::keep_overruled(*cl.replica, write_stamps_);
  revive_dead(cl);
  auto back = cl.replica->receive(r.body);
  CONVLAB_ASSERT(back.has_value());  // the node encodes every welcome
  if (oracle_) oracle_->client_loaded(now_us_, cl.id, r.version);
  cl.acked_upto = cl.next_op - 1;
  cl.stale_base = r.version < r.latest;
  cl.loaded_version = r.version;
  // What it has shown is now what the loaded state shows: its edits are made on that base.
  cl.seen_ops = ops_shown(cl);
  note_seen(cl);
  connect_client(cl.id, true);
}

std::optional<std::pair<std::uint32_t, std::uint32_t>> World::edit_of(const Client& cl, CharId id) const {
  const std::uint32_t author = id.agent & (kMaxClients - 1);
  if (id.agent == kSetupAgent || author == cl.id || author >= cfg_.clients) return std::nullopt;
  const auto& per_agent = edits_by_agent_[author];
  auto a = per_agent.find(id.agent);
  if (a == per_agent.end()) return std::nullopt;
  const std::optional<std::uint32_t> op = workload::op_of(a->second, id.seq);
  if (!op) return std::nullopt;
  return std::make_pair(author, *op);
}

std::map<std::uint32_t, std::uint32_t> World::ops_shown(const Client& cl) const {
  std::map<std::uint32_t, std::uint32_t> out;
  for (const CharId& id : cl.replica->char_ids()) {
    const auto edit = edit_of(cl, id);
    if (!edit) continue;
    std::uint32_t& hi = out[edit->first];
    hi = std::max(hi, edit->second);
  }
  return out;
}

void World::client_rename(std::uint32_t c) {
  if (healed_) return;
  Client& cl = clients_[c];
  at(now_us_ + std::max<std::int64_t>(1, draw_us(cl.rng, cfg_.workload.rename_ms)), [this, c] { client_rename(c); });
  if (!cl.welcomed || cl.server < 0 || cl.stopped) return;
  const std::uint32_t op = cl.next_rename++;
  RenameMsg m{cl.title_version, "title " + std::to_string(c) + "." + std::to_string(op)};
  history::Event e;
  e.type = history::EventType::kRename;
  e.client = c;
  e.doc = cl.doc;
  e.op = op;
  e.server = cl.server;
  e.kind = "request";
  e.version = m.base;
  e.detail = m.title;
  emit(std::move(e));
  const auto s = static_cast<std::uint32_t>(cl.server);
  const std::uint32_t inc = servers_[s].incarnation;
  Bytes frame = encode_frame(Frame{FrameKind::kRename, cl.doc, encode_rename(m), {}});
  ++counters_["net.msgs"];
  counters_["net.bytes"] += frame.size();
  link_send(client_ep(c), server_ep(s), draw_us(net_rng_, cfg_.network.client_server_ms),
            [this, s, inc, conn = cl.conn, b = std::move(frame)]() mutable { server_frame(s, inc, conn, std::move(b)); });
}

// ---------------------------------------------------------------- faults

std::optional<Endpoint> World::endpoint(const std::string& name) const {
  auto num = [&](std::size_t from) -> std::optional<std::uint32_t> {
    if (from >= name.size()) return std::nullopt;
    std::uint32_t v = 0;
    for (std::size_t i = from; i < name.size(); ++i) {
      if (name[i] < '0' || name[i] > '9') return std::nullopt;
      v = v * 10 + static_cast<std::uint32_t>(name[i] - '0');
    }
    return v;
  };
  if (name == "db") return store_ep();
  if (name == "bus") return bus_ep();
  if (name.rfind("client:", 0) == 0) {
    auto n = num(7);
    if (n && *n < cfg_.clients) return client_ep(*n);
  }
  if (name.rfind("server:", 0) == 0) {
    auto n = num(7);
    if (n && *n < cfg_.servers.count) return server_ep(*n);
  }
  return std::nullopt;
}

void World::schedule_faults() {
  std::vector<FaultSpec> faults = cfg_.faults;
  // Faults drawn from the seed ("swarm" style): kinds, targets, times and lengths.
  const RandomFaults& rf = cfg_.random_faults;
  for (std::uint32_t i = 0; i < rf.count && !rf.kinds.empty(); ++i) {
    FaultSpec f;
    f.kind = rf.kinds[fault_rng_.below(rf.kinds.size())];
    f.at_ms = fault_rng_.between(0, std::max<std::int64_t>(0, cfg_.duration_ms - 1));
    f.for_ms = draw_ms(fault_rng_, rf.duration_ms);
    const std::string server = "server:" + std::to_string(fault_rng_.below(cfg_.servers.count));
    const std::string client = "client:" + std::to_string(fault_rng_.below(cfg_.clients));
    switch (f.kind) {
      case FaultKind::kPartition:
        if (fault_rng_.chance(0.5)) {
          f.groups = {{server}, {"db"}};
        } else {
          f.groups = {{client}, {server}};
        }
        break;
      case FaultKind::kCrash:
        f.target = server;
        break;
      case FaultKind::kClockOffset:
        f.target = client;
        f.value = fault_rng_.between(-rf.clock_offset_max_ms, rf.clock_offset_max_ms);
        break;
      case FaultKind::kClockDrift:
        f.target = client;
        f.value = fault_rng_.between(-500, 500);
        break;
      case FaultKind::kOffline:
      case FaultKind::kDisconnect:
      case FaultKind::kRevoke:
        f.target = client;
        break;
      case FaultKind::kFlaky:
        f.loss = f.dup = f.reorder = 0.3;
        break;
    }
    faults.push_back(std::move(f));
  }
  for (const FaultSpec& f : faults) {
    at(f.at_ms * kUsPerMs, [this, f] { begin_fault(f); });
  }
}

namespace {

std::string describe(const FaultSpec& f) {
  std::string s;
  if (!f.groups.empty()) {
    for (std::size_t g = 0; g < f.groups.size(); ++g) {
      s += g ? (f.one_way ? " -/-> " : " | ") : "";
      s += "[";
      for (std::size_t i = 0; i < f.groups[g].size(); ++i) s += (i ? "," : "") + f.groups[g][i];
      s += "]";
    }
  } else {
    s = f.target;
  }
  if (f.kind == FaultKind::kClockOffset) s += " offset_ms=" + std::to_string(f.value);
  if (f.kind == FaultKind::kClockDrift) s += " drift_ppm=" + std::to_string(f.value);
  if (f.kind == FaultKind::kFlaky) {
    auto prob = [](double v) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", v);
      return std::string(buf);
    };
    s += "bus loss=" + prob(f.loss) + " dup=" + prob(f.dup) + " reorder=" + prob(f.reorder);
  }
  if (f.for_ms > 0) s += " for_ms=" + std::to_string(f.for_ms);
  return s;
}
}  // namespace

void World::begin_fault(const FaultSpec& f) {
  if (healed_) return;
  history::Event e;
  e.type = history::EventType::kFault;
  e.kind = fault_kind_name(f.kind);
  e.detail = describe(f);
  emit(std::move(e));
  std::uint64_t pid = 0;
  switch (f.kind) {
    case FaultKind::kPartition: {
      Partition p;
      p.id = pid = next_partition_++;
      p.one_way = f.one_way;
      for (const auto& g : f.groups) {
        std::set<Endpoint> eps;
        for (const auto& name : g) {
          if (auto ep = endpoint(name)) eps.insert(*ep);
        }
        p.groups.push_back(std::move(eps));
      }
      partitions_.push_back(std::move(p));
      break;
    }
    case FaultKind::kCrash: {
      auto ep = endpoint(f.target);
      if (ep && *ep >= server_ep(0) && *ep < store_ep()) crash_server(*ep - server_ep(0));
      if (ep && *ep == store_ep()) crash_db();
      break;
    }
    case FaultKind::kDisconnect: {
      auto ep = endpoint(f.target);
      if (ep && *ep < cfg_.clients) drop_client(*ep, true, 0);
      break;
    }
    case FaultKind::kRevoke: {
      // The login service revokes the user's tokens and tells every server at once; what each
      // server does with that is its policy (servers.check_revocation).
      auto ep = endpoint(f.target);
      if (!ep || *ep >= cfg_.clients) break;
      revoked_at_us_.emplace(*ep, now_us_);
      for (Server& sv : servers_) {
        if (sv.up) sv.node->on_revoke(*ep);
      }
      break;
    }
    case FaultKind::kClockOffset:
    case FaultKind::kClockDrift: {
      auto ep = endpoint(f.target);
      if (!ep) break;
      std::int64_t* offset = nullptr;
      std::int64_t* drift = nullptr;
      if (*ep < cfg_.clients) {
        offset = &clients_[*ep].clock_offset_ms;
        drift = &clients_[*ep].drift_ppm;
      } else if (*ep < store_ep()) {
        offset = &servers_[*ep - server_ep(0)].clock_offset_ms;
        drift = &servers_[*ep - server_ep(0)].drift_ppm;
      }
      if (!offset) break;
      if (f.kind == FaultKind::kClockOffset) {
        *offset += f.value;
      } else {
        *drift = f.value;
      }
      break;
    }
    case FaultKind::kOffline: {
      auto ep = endpoint(f.target);
      if (!ep || *ep >= cfg_.clients) break;
      clients_[*ep].offline = true;
      // Offline: cut from every server, both ways; edits go on locally and queue.
      Partition p;
      p.id = pid = next_partition_++;
      std::set<Endpoint> rest;
      for (std::uint32_t s = 0; s < cfg_.servers.count; ++s) rest.insert(server_ep(s));
      p.groups = {{*ep}, rest};
      partitions_.push_back(std::move(p));
      break;
    }
    case FaultKind::kFlaky:
      pid = next_flaky_++;
      flaky_.push_back(Flaky{pid, f.loss, f.dup, f.reorder});
      break;
  }
  if (f.for_ms > 0) {
    at(now_us_ + f.for_ms * kUsPerMs, [this, f, pid] { end_fault(f, pid); });
  }
}

void World::end_fault(const FaultSpec& f, std::uint64_t partition_id) {
  if (healed_) return;  // the heal already ended it
  history::Event e;
  e.type = history::EventType::kRecover;
  e.kind = fault_kind_name(f.kind);
  e.detail = describe(f);
  switch (f.kind) {
    case FaultKind::kPartition:
    case FaultKind::kOffline:
      std::erase_if(partitions_, [&](const Partition& p) { return p.id == partition_id; });
      if (f.kind == FaultKind::kOffline) {
        if (auto ep = endpoint(f.target)) clients_[*ep].offline = false;
      }
      emit(std::move(e));
      release_held();
      return;
    case FaultKind::kCrash: {
      auto ep = endpoint(f.target);
      if (ep && *ep >= server_ep(0) && *ep < store_ep()) {
        const std::uint32_t s = *ep - server_ep(0);
        if (!servers_[s].up) start_server(s);
      }
      if (ep && *ep == store_ep()) restart_db();
      emit(std::move(e));
      return;
    }
    case FaultKind::kDisconnect:
    case FaultKind::kRevoke:  // a revocation is for good
      return;
    case FaultKind::kFlaky:
      std::erase_if(flaky_, [&](const Flaky& x) { return x.id == partition_id; });
      emit(std::move(e));
      return;
    case FaultKind::kClockOffset:
    case FaultKind::kClockDrift:
      // Clock changes stay: a clock that jumped does not jump back by itself.
      return;
  }
}

void World::crash_db() {
  if (!db_up_) return;
  db_up_ = false;
  ++db_incarnation_;  // transactions not yet committed are lost
  // While it is down nothing reaches it: requests wait in their senders' retry loops.
  Partition p;
  p.id = db_partition_ = next_partition_++;
  std::set<Endpoint> servers;
  for (std::uint32_t s = 0; s < cfg_.servers.count; ++s) servers.insert(server_ep(s));
  p.groups = {{store_ep()}, servers};
  partitions_.push_back(std::move(p));
}

void World::restart_db() {
  if (db_up_) return;
  db_up_ = true;
  std::erase_if(partitions_, [&](const Partition& p) { return p.id == db_partition_; });
  auto backlog = std::move(db_backlog_);
  db_backlog_.clear();
  for (auto& f : backlog) f();
  release_held();
}

void World::heal() {
  healed_ = true;
  restart_db();
  partitions_.clear();
  flaky_.clear();
  for (Client& cl : clients_) cl.offline = false;
  for (std::uint32_t s = 0; s < cfg_.servers.count; ++s) {
    if (!servers_[s].up) start_server(s);
  }
  emit_counters(true);
  history::Event e;
  e.type = history::EventType::kHeal;
  emit(std::move(e));
  release_held();
}

// ---------------------------------------------------------------- history

void World::emit_counters(bool with_memory) {
  history::Event e;
  e.type = history::EventType::kCounters;
  e.counters = counters_;
  e.counters["srv.inputs"] = server_inputs_;
  if (with_memory) {
    // What the servers hold per document, as each live replica's snapshot size: sampled once,
    // at the heal (encoding every replica every second would cost more than the rest of the run).
    std::uint64_t total = 0;
    std::uint64_t replicas = 0;
    std::uint64_t largest = 0;
    std::uint64_t docs = 0;
    for (std::uint32_t d = 0; d < cfg_.docs; ++d) {
      bool held = false;
      for (const Server& sv : servers_) {
        if (!sv.up) continue;
        const std::optional<std::size_t> bytes = sv.node->state_bytes(d);
        if (!bytes) continue;
        held = true;
        total += *bytes;
        ++replicas;
        largest = std::max<std::uint64_t>(largest, *bytes);
      }
      if (held) ++docs;
    }
    e.counters["mem.replica_bytes"] = total;
    e.counters["mem.replica_bytes_max"] = largest;
    e.counters["mem.replica_docs"] = docs;
    e.counters["mem.replicas"] = replicas;
    // The same sample as the capacity curves' gauges (docs/history.md): every document every
    // server holds, and how many (document, server) replicas that is.
    e.counters["mem.doc_bytes"] = total;
    e.counters["mem.docs_loaded"] = replicas;
  }
  emit(std::move(e));
}

void World::emit_finals() {
  auto final_event = [&](const std::string& who, std::uint32_t doc, std::u32string text, const std::vector<CharId>& ids) {
    history::Event e;
    e.type = history::EventType::kFinal;
    e.replica = who;
    e.doc = doc;
    e.text = std::move(text);
    e.ids = history::compress_ids(ids);
    emit(std::move(e));
  };
  for (std::uint32_t d = 0; d < cfg_.docs; ++d) {
    // Durable: what a fresh server would load from the store.
    const StoredDoc& sd = store_[d];
    auto replica = strategy_.make_server();
    auto recovered = recover_replica(*replica, sd.has_snapshot, sd.snapshot, sd.snapshot_index, sd.log);
    if (!recovered) std::fprintf(stderr, "durable log of doc %u: %s\n", d, recovered.error().message.c_str());
    CONVLAB_ASSERT(recovered.has_value());
    std::vector<CharId> durable_ids = replica->char_ids();
    // The commits the history carries replay to the same text.
    CONVLAB_ASSERT(durable_ids == durable_[d]->ids());
    final_event("durable", d, replica->text(), durable_ids);
    for (std::uint32_t s = 0; s < cfg_.servers.count; ++s) {
      // A server's replica counts where it serves clients: one it holds for nobody is a cache
      // that may lag (nothing polls it) and is caught up before anyone is welcomed from it.
      if (!servers_[s].up || !servers_[s].node->serving(d)) continue;
      if (auto t = servers_[s].node->text(d)) final_event("server:" + std::to_string(s), d, *t, servers_[s].node->char_ids(d));
    }
    for (const Client& cl : clients_) {
      if (cl.doc != d || !cl.welcomed) continue;
      final_event("client:" + std::to_string(cl.id), d, cl.replica->text(), cl.replica->char_ids());
    }
  }
}

RunOutput World::run() {
  {
    history::Event meta;
    meta.type = history::EventType::kMeta;
    meta.meta["scenario"] = opt_.scenario;
    meta.meta["variant"] = opt_.variant;
    meta.meta["strategy"] = std::string(strategy_.name);
    meta.meta["orders_by_client_clock"] = strategy_.orders_by_client_clock ? "true" : "false";
    // The durable log is in the history (`commit` events); causes of loss come from it.
    meta.meta["commits"] = "true";
    meta.meta["persistence"] = cfg_.servers.persistence == Persistence::kSnapshot ? "snapshot" : "changelog";
    meta.meta["ack"] = cfg_.servers.ack == Ack::kAfterCommit ? "after_commit" : "immediate";
    // The initial text goes through the strategy as an edit stamped at clock 0 (setup_store).
    if (!cfg_.initial_text.empty()) meta.meta["initial_clock_ms"] = "0";
    meta.meta["seed"] = std::to_string(opt_.seed);
    meta.meta["clients"] = std::to_string(cfg_.clients);
    meta.meta["servers"] = std::to_string(cfg_.servers.count);
    meta.meta["docs"] = std::to_string(cfg_.docs);
    meta.meta["heal_us"] = std::to_string(cfg_.duration_ms * kUsPerMs);
    // Clients whose override raises their edit rate (a flood): checkers leave them out of
    // visibility_others_ms.
    std::string fast;
    for (const ClientOverride& o : cfg_.client_overrides) {
      if (o.rate_multiplier > 1.0 && o.client < cfg_.clients) fast += (fast.empty() ? "" : ",") + std::to_string(o.client);
    }
    if (!fast.empty()) meta.meta["fast_clients"] = fast;
    meta.meta["end_us"] = std::to_string((cfg_.duration_ms + cfg_.quiesce_ms) * kUsPerMs);
    emit(std::move(meta));
  }
  setup_store();
  servers_.resize(cfg_.servers.count);
  for (std::uint32_t s = 0; s < cfg_.servers.count; ++s) start_server(s);

  edits_by_agent_.resize(cfg_.clients);
  own_committed_.resize(cfg_.clients);
  doc_edits_.resize(cfg_.docs);
  clients_.resize(cfg_.clients);
  std::vector<std::uint32_t> per_doc(cfg_.docs, 0);
  for (std::uint32_t c = 0; c < cfg_.clients; ++c) {
    Client& cl = clients_[c];
    cl.id = c;
    cl.doc = c % cfg_.docs;
    cl.slot = per_doc[cl.doc]++;
    cl.rng = rng_.fork();
    cl.clock_offset_ms = draw_ms(cl.rng, cfg_.client_clocks.offset_ms);
    if (cfg_.client_clocks.drift_ppm_max > 0) {
      cl.drift_ppm = cl.rng.between(-cfg_.client_clocks.drift_ppm_max, cfg_.client_clocks.drift_ppm_max);
    }
    for (const ClientOverride& o : cfg_.client_overrides) {
      if (o.client != c) continue;
      cl.clock_offset_ms = o.clock_offset_ms;
      cl.drift_ppm = o.drift_ppm;
      cl.rate_multiplier = o.rate_multiplier;
    }
    // Clients arrive over the first second, then type.
    const std::int64_t arrive_us = static_cast<std::int64_t>(cl.rng.below(1000)) * kUsPerMs;
    at(arrive_us, [this, c] { connect_client(c); });
    if (cfg_.script.empty()) {
      at(arrive_us + 500 * kUsPerMs + draw_us(cl.rng, cfg_.workload.think_ms), [this, c] { client_tick(c); });
    }
    if (cfg_.workload.reload_ms.max > 0) {
      at(arrive_us + 500 * kUsPerMs + draw_us(cl.rng, cfg_.workload.reload_ms), [this, c] { client_reload(c); });
    }
    if (cfg_.workload.rename_ms.max > 0) {
      at(arrive_us + 500 * kUsPerMs + draw_us(cl.rng, cfg_.workload.rename_ms), [this, c] { client_rename(c); });
    }
  }
  for (const auto& se : cfg_.script) {
    at(se.at_ms * kUsPerMs, [this, se] {
      Client& cl = clients_.at(se.client);
      // A client edits only a document it has loaded (offline or not).
      if (!cl.replica || !cl.welcomed) return;
      auto ins = utf8_decode(se.ins);
      CONVLAB_ASSERT(ins.has_value());
      const std::size_t len = cl.replica->length();
      const std::uint64_t pos = std::min<std::uint64_t>(se.pos, len);
      const std::uint64_t del = std::min<std::uint64_t>(se.del, len - pos);
      client_edit(cl, Splice{pos, del, *ins});
    });
  }
  schedule_faults();
  for (std::int64_t t = 1000; t < cfg_.duration_ms; t += 1000) {
    at(t * kUsPerMs, [this] { emit_counters(false); });
  }
  at(cfg_.duration_ms * kUsPerMs, [this] { heal(); });
  const std::int64_t end_us = (cfg_.duration_ms + cfg_.quiesce_ms) * kUsPerMs;

  for (std::int64_t t = sched_.next_us(); t <= end_us; t = sched_.next_us()) {
    now_us_ = t;
    sched_.run_next(end_us);
  }
  now_us_ = end_us;
  emit_finals();

  RunOutput out;
  out.refused = refused_;
  out.refusal = refusal_;
  out.node_errors = node_errors_;
  out.node_error = node_error_;
  out.digest = writer_.digest();
  out.sim_events = sched_.ran();
  out.end_us = end_us;
  out.events = std::move(events_);
  out.history_events = writer_.events();
  if (oracle_) {
    std::vector<std::vector<CharId>> finals;
    for (const auto& d : durable_) {
      std::vector<CharId> ids = d->ids();  // in document order; the oracle looks them up sorted
      std::sort(ids.begin(), ids.end());
      finals.push_back(std::move(ids));
    }
    out.truth = oracle_->finish(finals);
  }
  return out;
}

}  // namespace

std::vector<std::string> world_problems(const WorldConfig& c, const Strategy& strategy) {
  std::vector<std::string> out;
  if (c.servers.count > 1 && c.servers.persistence == Persistence::kSnapshot) {
    out.push_back("servers.persistence: snapshot needs servers.count: 1 (servers share documents through the change log)");
  }
  if (c.servers.persistence == Persistence::kSnapshot && c.servers.ack == Ack::kAfterCommit) {
    out.push_back("servers.ack: after_commit needs servers.persistence: changelog (snapshots are not commits of an edit)");
  }
  if (c.clients >= kMaxClients) out.push_back("clients: at most " + std::to_string(kMaxClients - 1));
  if (!utf8_decode(c.initial_text)) out.push_back("initial_text: not valid UTF-8");
  for (const auto& se : c.script) {
    if (se.client >= c.clients) out.push_back("script: client " + std::to_string(se.client) + " does not exist");
  }
  if (c.workload.rename_ms.max > 0 && c.servers.count > 1) {
    out.push_back("workload.rename_ms: renames need servers.count: 1 (the title register lives in one server's memory)");
  }
  (void)strategy;
  return out;
}

RunOutput run_world(const WorldConfig& config, const RunOptions& options) {
  CONVLAB_ASSERT(options.strategy != nullptr);
  CONVLAB_ASSERT(world_problems(config, *options.strategy).empty());
  World w(config, options);
  return w.run();
}

}  // namespace convlab::sim
