#pragma once
// The simulated server processes: each runs the real server node (server/core/node.hpp) behind
// a ServerIo — the simulator's implementation of NodeIo — with a clock of its own (offset and
// drift), one worker that processes client frames one at a time (servers.work_us_per_msg each),
// a connection to the database, and crash/restart. The login service's revocation list lives
// here too: it tells every server at once.
//
// Invariants:
//   - A crash ends the process: its node and memory go, its incarnation goes up, and anything
//     addressed to the old incarnation (store replies, timers, frames, node messages) is
//     dropped on arrival. Node messages sent to a server while it is down wait for its restart.
//   - A node only ever sees virtual time, through its own skewed clock.
// Called by the node (through ServerIo), the clients (frames, connects), the database
// (replies, bus records), the CDN (API reads), the fault realisations (crash, restart, clocks,
// revocations) and the run loop.
#include "server/core/node.hpp"
#include "sim/context.hpp"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace convlab::sim {

struct World;

// What a server node sees of the world: every NodeIo call goes to the simulated resource that
// answers it (the clients' links, the database, the other servers, the CDN, the oracle).
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

class Servers {
 public:
  Servers(World& w, Sim& sim) : w_(w), sim_(sim) {}

  void start_all();
  void start(std::uint32_t s);
  void crash(std::uint32_t s);
  Server& at(std::uint32_t s) { return servers_[s]; }
  const Server& at(std::uint32_t s) const { return servers_[s]; }
  std::uint32_t count() const { return static_cast<std::uint32_t>(servers_.size()); }

  // A client frame reaches server s: the front door (rate limit) at once, then the server's
  // single worker, one frame after another, servers.work_us_per_msg each (and with
  // servers.host_cpus, on a core of the machine they share).
  void frame(std::uint32_t s, std::uint32_t incarnation, ConnId conn, Bytes frame);
  // An input a node handled (admitted client frame, bus record, store reply, node message).
  void count_input() { ++inputs_; }
  std::uint64_t inputs() const { return inputs_; }

  // The login service: revokes a user's tokens and tells every server up; a fresh token for a
  // client's user, or none once it is revoked.
  void revoke(std::uint32_t user);
  std::optional<Token> login(std::uint32_t user) const;
  // When the user's tokens were revoked, if they were.
  std::optional<std::int64_t> revoked_at_us(std::uint32_t user) const;

  std::uint64_t node_errors() const { return node_errors_; }
  const std::string& node_error() const { return node_error_; }

  // --- what ServerIo forwards, for server s ---
  std::int64_t clock_ms(std::uint32_t s) const {
    const Server& sv = servers_[s];
    const std::int64_t t_ms = sim_.now_us / kUsPerMs;
    return t_ms + sv.clock_offset_ms + t_ms * sv.drift_ppm / 1'000'000;
  }
  void send(std::uint32_t s, ConnId conn, const Frame& frame);
  void close(std::uint32_t s, ConnId conn, const std::string& reason);
  void store(std::uint32_t s, StoreRequest request);
  // The request leaves server s for the database (store() first charges a read's CPU).
  void send_store(std::uint32_t s, StoreRequest request);
  void to_node(std::uint32_t s, NodeId node, NodeMessage message);
  void timer(std::uint32_t s, std::int64_t delay_ms, std::uint64_t timer);
  // The ground truth (RunOptions::oracle): server s's replica of `doc` may have changed.
  void observe_replica(std::uint32_t s, std::uint32_t doc, const ServerReplica* replica, NodeIo::ReplicaChange change,
                       AgentId agent, std::span<const std::uint8_t> payload, std::uint64_t index);
  // A node refused something its operator must hear about (a document whose log does not replay).
  void error(std::uint32_t s, const std::string& message);

 private:
  World& w_;
  Sim& sim_;
  std::vector<Server> servers_;
  std::map<std::uint32_t, std::vector<NodeMessage>> down_queue_;
  std::uint64_t inputs_ = 0;
  std::uint64_t node_errors_ = 0;  // errors the server nodes logged
  std::string node_error_;         // the first one
  std::map<std::uint32_t, std::int64_t> revoked_at_us_;  // client (user) -> when revoked
  std::vector<std::int64_t> host_free_us_;  // servers.host_cpus: when each core of the machine is free
};

}  // namespace convlab::sim
