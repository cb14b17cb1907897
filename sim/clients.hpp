#pragma once
// The simulated editors: each client is a person in a browser with a replica of one document
// (the strategy's ClientReplica), a clock of its own (offset and drift drawn from the seed), a
// typing workload (workload/typing.hpp), a WebSocket session through the load balancer, API
// reloads through the CDN, title renames, and a token in local storage. What it does and sees
// becomes the history: edit, ack, seen, load, rename and refused/closed events.
//
// Invariants:
//   - A client edits only a document it shows (welcomed, or loaded from the API); offline, its
//     edits queue in the replica unacknowledged.
//   - A new replica (a reconnect after its session dropped, a reload) gets a new agent id: the
//     incarnation is in the agent, so no character id is ever reused.
//   - Ops are numbered from 1 without gaps; every op <= obs.acked_upto() is acknowledged, and an ack
//     is written only once the replica has nothing unacknowledged.
//   - A `seen` event is written at most once per (client, author, op), in the order its first
//     character appears in the client's document.
// Called by the run loop (setup, finals), the servers (frames, closes, crashes), the CDN
// (finished loads) and the fault realisations (offline, disconnect, clocks).
#include "sim/context.hpp"
#include "sim/world.hpp"
#include "workload/observed.hpp"
#include "workload/overruled.hpp"
#include "workload/typing.hpp"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace convlab::sim {

struct World;

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
  workload::Typist typist;          // bursts: the shared typing workload
  std::uint64_t known_version = 0;   // the highest log position its server had shown it
  // Its ops, acknowledgements and sightings (workload/observed.hpp, shared with the load client).
  workload::ObservedClient obs;
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
  std::uint64_t caret_moves = 0;    // awareness frames sent (workload.caret_moves_per_s)
  AgentId agent() const { return (incarnation << kClientBits) | id; }
};

class Clients {
 public:
  Clients(World& w, Sim& sim) : w_(w), sim_(sim) {}

  // Creates the clients (their generators forked from the seed in client order, clocks drawn)
  // and schedules their arrival, typing, reloads, renames and the scenario's scripted edits.
  void setup();
  Client& at(std::uint32_t c) { return clients_[c]; }
  const Client& at(std::uint32_t c) const { return clients_[c]; }
  const std::vector<Client>& all() const { return clients_; }

  // --- sessions (sim/clients.cpp) ---
  // subscribe: the client already shows a loaded state; it asks for changes, not a welcome.
  void connect(std::uint32_t c, bool subscribe = false);
  // Ends a client's connection (its replica goes with it) and reconnects it after a backoff.
  void drop(std::uint32_t c, bool tell_server, std::int64_t backoff_us);
  // The client whose session is `conn`, if it is still open.
  std::optional<std::uint32_t> client_of(ConnId conn) const;
  // A frame from server s (of that incarnation, on that connection) reaches client c.
  void receive(std::uint32_t c, std::uint32_t server, std::uint32_t incarnation, ConnId conn, std::uint64_t version,
               const Bytes& bytes);
  void closed_by_server(std::uint32_t c, const std::string& reason);
  // Server s crashed; `homed` (sorted): the documents it was the home of (home: lease; under
  // home: fixed the rule names them).
  void server_crashed(std::uint32_t s, const std::vector<std::uint32_t>& homed);
  // An API read came back through the CDN.
  void finish_load(std::uint32_t c, const HttpResponse& response, const std::string& source, int server);
  // An API read of a past version came back: the client looks at it (its own replica stays as
  // it is) and the run keeps it, with the durable text at that version, for RunOutput.
  void finish_version_read(std::uint32_t c, const HttpResponse& response);
  std::vector<VersionRead> take_version_reads() { return std::move(version_reads_); }

  std::uint64_t refused() const { return refused_; }
  // The edit each client's register write came from (paragraph strategies).
  const workload::WriteStamps& write_stamps() const { return write_stamps_; }
  const std::string& refusal() const { return refusal_; }

 private:
  void send(Client& cl, std::vector<Bytes> msgs);
  void tick(std::uint32_t c);
  void reload(std::uint32_t c);
  void rename(std::uint32_t c);
  // Presence: the client moves its caret and tells its server (a kAwareness frame), every
  // 1 / caret_moves_per_s seconds until the heal.
  void move_caret(std::uint32_t c, std::int64_t period_us);
  void adopt_load(Client& cl, const HttpResponse& response);
  void refused_message(std::uint32_t c, const std::string& why);
  // A `fault` line about client c (refused, closed, client_refused): what the client met.
  void emit_fault(std::uint32_t c, std::uint32_t doc, const char* kind, std::string detail);
  std::int64_t clock_ms(const Client& cl) const {
    const std::int64_t t_ms = sim_.now_us / kUsPerMs;
    return t_ms + cl.clock_offset_ms + t_ms * cl.drift_ppm / 1'000'000;
  }

  // --- what a client does and sees (sim/client_views.cpp) ---
  // `para`: the paragraph index of sp.pos when the caller knows it (else counted here).
  void edit(Client& cl, const Splice& sp, std::optional<std::uint32_t> para = std::nullopt);
  void note_seen(Client& cl);
  void note_acks(Client& cl);

  World& w_;
  Sim& sim_;
  std::vector<Client> clients_;
  // The load balancer and the connection table.
  std::uint32_t round_robin_ = 0;
  ConnId next_conn_ = 1;
  // Connection id -> client, indexed by id (ids are handed out densely from 1): found in O(1)
  // on every frame a server sends, where a std::map's O(log n) pointer chase grew with the
  // world (issue 17, item 4). Never iterated, so nothing the run writes depends on its layout.
  static constexpr std::uint32_t kNoClient = UINT32_MAX;
  std::vector<std::uint32_t> conn_client_;
  // Every edit that inserted characters, per document and per agent: what `seen` maps back to.
  workload::EditLog edit_log_;
  std::map<AgentId, std::uint64_t> oracle_counters_;  // paragraph client agent -> its last write stamp counter
  workload::WriteStamps write_stamps_;  // the edit each register write came from (overruled)
  std::vector<VersionRead> version_reads_;
  std::uint64_t refused_ = 0;  // server messages a client replica refused
  std::string refusal_;        // the first one
};

}  // namespace convlab::sim
