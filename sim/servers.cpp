// The simulated server processes and their NodeIo (sim/servers.hpp).
#include "sim/servers.hpp"

#include "server/core/protocol.hpp"
#include "sim/world_parts.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace convlab::sim {

namespace {

// `us` of CPU on a shared machine of `host_cpus` cores: a fractional one runs each of its
// ceil(host_cpus) cores at host_cpus / ceil(host_cpus) of full speed, so work takes longer by
// the inverse; whole cores (and 0, no shared machine) leave it as it is.
std::int64_t on_host(std::int64_t us, double host_cpus) {
  if (host_cpus <= 0 || host_cpus == std::ceil(host_cpus)) return us;
  return std::llround(static_cast<double>(us) * std::ceil(host_cpus) / host_cpus);
}

}  // namespace

// ---------------------------------------------------------------- ServerIo

std::int64_t ServerIo::now_ms() { return world_.servers.clock_ms(index_); }
void ServerIo::send(ConnId conn, const Frame& frame) { world_.servers.send(index_, conn, frame); }
void ServerIo::close(ConnId conn, const std::string& reason) { world_.servers.close(index_, conn, reason); }
void ServerIo::store(StoreRequest request) { world_.servers.store(index_, std::move(request)); }
void ServerIo::to_node(NodeId node, NodeMessage message) { world_.servers.to_node(index_, node, std::move(message)); }
void ServerIo::start_timer(std::int64_t delay_ms, std::uint64_t timer) { world_.servers.timer(index_, delay_ms, timer); }
void ServerIo::respond(const HttpResponse& response) { world_.cdn.respond(index_, response); }
void ServerIo::observe_replica(std::uint32_t doc, const ServerReplica* replica, ReplicaChange change, AgentId agent,
                               std::span<const std::uint8_t> payload, std::uint64_t index) {
  world_.servers.observe_replica(index_, doc, replica, change, agent, payload, index);
}
void ServerIo::log_error(const std::string& message) { world_.servers.error(index_, message); }

// ---------------------------------------------------------------- processes

void Servers::start_all() {
  servers_.resize(sim_.cfg.servers.count);
  for (std::uint32_t s = 0; s < sim_.cfg.servers.count; ++s) start(s);
}

void Servers::start(std::uint32_t s) {
  const ServersSpec& spec = sim_.cfg.servers;
  Server& sv = servers_[s];
  NodeConfig nc;
  nc.id = s;
  nc.nodes = spec.count;
  static_cast<NodePolicies&>(nc) = spec;  // the policies, as the scenario set them
  sv.io = std::make_unique<ServerIo>(w_, s);
  sv.node = std::make_unique<Node>(nc, sim_.strategy, *sv.io);
  sv.up = true;
  sv.busy_until_us = sim_.now_us;
  sv.db_session = w_.db.incarnation();
  sv.node->start();
  w_.redis.server_started(s);
  for (const auto& [user, when] : revoked_at_us_) sv.node->on_revoke(user);
  auto queued = std::move(down_queue_[s]);
  down_queue_[s].clear();
  for (const NodeMessage& m : queued) sv.node->on_node(m);
}

void Servers::crash(std::uint32_t s) {
  Server& sv = servers_[s];
  if (!sv.up) return;
  sv.up = false;
  if (sim_.oracle) {
    for (std::uint32_t doc : sv.node->loaded_docs()) sim_.oracle->server_memory(sim_.now_us, s, doc, {});
  }
  // The documents it was the home of (leases: those it held), for the clients elsewhere whose
  // edits waited on it.
  std::vector<std::uint32_t> homed;
  for (std::uint32_t doc : sv.node->loaded_docs()) {
    if (sv.node->home_of(doc) == std::optional<NodeId>{s}) homed.push_back(doc);
  }
  std::sort(homed.begin(), homed.end());
  ++sv.incarnation;  // everything addressed to the old process is dropped
  sv.node.reset();
  // What the dead process had not yet sent is gone with it.
  w_.net.drop_held_from(w_.net.server_ep(s));
  w_.clients.server_crashed(s, homed);
}

void Servers::frame(std::uint32_t s, std::uint32_t incarnation, ConnId conn, Bytes frame) {
  Server& sv = servers_[s];
  if (!sv.up || sv.incarnation != incarnation) return;
  if (!sv.node->admit(conn, frame)) return;
  ++inputs_;
  const ServersSpec& spec = sim_.cfg.servers;
  const std::int64_t work_us = spec.work_us_per_msg;
  if (work_us <= 0 && spec.host_cpus == 0) {
    sv.node->on_frame(conn, frame);
    return;
  }
  std::int64_t start_us = std::max(sv.busy_until_us, sim_.now_us);
  std::int64_t frame_us = work_us;
  if (spec.host_cpus > 0) {
    // A shared machine: the frame also waits for a core (the earliest free, the lowest on a
    // tie), which then carries the rest of the machine's work for this frame after it. A
    // fractional machine (the share a loaded one left) is ceil(host_cpus) cores each running
    // at host_cpus / ceil(host_cpus) of full speed: every cost on it stretches by the inverse.
    const auto cores = static_cast<std::size_t>(std::ceil(spec.host_cpus));
    if (host_free_us_.size() != cores) host_free_us_.assign(cores, 0);
    auto core = std::min_element(host_free_us_.begin(), host_free_us_.end());
    start_us = std::max(start_us, *core);
    frame_us = on_host(work_us, spec.host_cpus);
    *core = start_us + frame_us + on_host(spec.host_us_per_frame, spec.host_cpus);
  }
  sv.busy_until_us = start_us + frame_us;
  sim_.at(sv.busy_until_us, [this, s, incarnation, conn, b = std::move(frame)] {
    Server& v = servers_[s];
    if (v.up && v.incarnation == incarnation) v.node->on_frame(conn, b);
  });
}

// ---------------------------------------------------------------- the login service

void Servers::revoke(std::uint32_t user) {
  revoked_at_us_.emplace(user, sim_.now_us);
  for (Server& sv : servers_) {
    if (sv.up) sv.node->on_revoke(user);
  }
}

std::optional<Token> Servers::login(std::uint32_t user) const {
  if (revoked_at_us_.contains(user)) return std::nullopt;
  return Token{user, sim_.now_us / kUsPerMs + sim_.cfg.auth.token_lifetime_ms};
}

std::optional<std::int64_t> Servers::revoked_at_us(std::uint32_t user) const {
  auto rv = revoked_at_us_.find(user);
  if (rv == revoked_at_us_.end()) return std::nullopt;
  return rv->second;
}

// ---------------------------------------------------------------- NodeIo, for server s

void Servers::send(std::uint32_t s, ConnId conn, const Frame& frame) {
  const std::optional<std::uint32_t> client = w_.clients.client_of(conn);
  if (!client) return;
  const std::uint32_t c = *client;
  Bytes bytes = encode_frame(frame);
  if (frame.kind == FrameKind::kPresence) {
    // Presence is counted where the server sends it and goes no further: nothing a client does
    // or records depends on other carets, and a naive run with 50 viewers sends thousands a
    // second (docs/scenarios.md, "Presence").
    ++sim_.counters["awareness.msgs"];
    sim_.counters["awareness.bytes"] += bytes.size();
    return;
  }
  ++sim_.counters["net.msgs"];
  sim_.counters["net.bytes"] += bytes.size();
  const std::uint32_t inc = servers_[s].incarnation;
  const std::uint64_t version = servers_[s].node->applied(frame.doc);
  Network& net = w_.net;
  net.link_send(net.server_ep(s), net.client_ep(c), Sim::draw_us(sim_.net_rng, sim_.cfg.network.client_server_ms),
                [this, c, s, inc, conn, version, b = std::move(bytes)] {
                  w_.clients.receive(c, s, inc, conn, version, b);
                });
}

void Servers::close(std::uint32_t, ConnId conn, const std::string& reason) {
  const std::optional<std::uint32_t> client = w_.clients.client_of(conn);
  if (!client) return;
  w_.clients.closed_by_server(*client, reason);
}

void Servers::store(std::uint32_t s, StoreRequest request) {
  ++sim_.counters[std::string("db.") + request.purpose];
  const std::uint32_t inc = servers_[s].incarnation;
  if (sim_.oracle && request.kind == StoreRequest::Kind::kAppend) {
    sim_.oracle->append_requested(s, request_key(inc, request.id));
  }
  const std::int64_t read_us = on_host(sim_.cfg.servers.work_us_per_read, sim_.cfg.servers.host_cpus);
  if (read_us > 0 && request.kind == StoreRequest::Kind::kReadLog) {
    // A poll or a catch-up costs the server CPU (the query, decoding the rows) on the same
    // worker as client frames: it leaves once the worker gets to it.
    Server& sv = servers_[s];
    sv.busy_until_us = std::max(sv.busy_until_us, sim_.now_us) + read_us;
    sim_.at(sv.busy_until_us, [this, s, inc, r = std::move(request)]() mutable {
      const Server& v = servers_[s];
      if (v.up && v.incarnation == inc) send_store(s, std::move(r));
    });
    return;
  }
  send_store(s, std::move(request));
}

void Servers::send_store(std::uint32_t s, StoreRequest request) {
  const std::uint32_t inc = servers_[s].incarnation;
  const std::uint32_t db_sent = servers_[s].db_session;
  const std::int64_t sent_us = sim_.now_us;
  Network& net = w_.net;
  net.link_send(net.server_ep(s), net.store_ep(), Sim::draw_us(sim_.net_rng, sim_.cfg.network.db_us()),
                [this, s, inc, db_sent, sent_us, r = std::move(request)]() mutable {
                  w_.db.execute(s, inc, db_sent, sent_us, std::move(r));
                });
}

void Servers::to_node(std::uint32_t s, NodeId node, NodeMessage message) {
  const std::uint32_t inc = servers_[node].incarnation;
  Network& net = w_.net;
  net.link_send(net.server_ep(s), net.server_ep(node), Sim::draw_us(sim_.net_rng, sim_.cfg.network.bus_us()),
                [this, node, inc, m = std::move(message)] {
                  Server& sv = servers_[node];
                  if (sv.incarnation != inc) return;  // sent to a process that has died since
                  if (sv.up) {
                    ++inputs_;
                    sv.node->on_node(m);
                  } else {
                    // Sent while it was down: the sender retries until it is back.
                    down_queue_[node].push_back(m);
                  }
                });
}

void Servers::timer(std::uint32_t s, std::int64_t delay_ms, std::uint64_t timer) {
  const std::uint32_t inc = servers_[s].incarnation;
  sim_.at(sim_.now_us + delay_ms * kUsPerMs, [this, s, inc, timer] {
    Server& sv = servers_[s];
    if (sv.up && sv.incarnation == inc) sv.node->on_timer(timer);
  });
}

void Servers::observe_replica(std::uint32_t s, std::uint32_t doc, const ServerReplica* replica,
                              NodeIo::ReplicaChange change, AgentId agent, std::span<const std::uint8_t> payload,
                              std::uint64_t index) {
  Oracle* oracle = sim_.oracle.get();
  if (!oracle) return;
  std::vector<CharId> ids = replica != nullptr ? replica->char_ids() : std::vector<CharId>{};  // document order
  switch (change) {
    case NodeIo::ReplicaChange::kClientEdit:
      oracle->server_edit(sim_.now_us, s, doc, std::move(ids), agent, payload, replica);
      return;
    case NodeIo::ReplicaChange::kRecord:
      oracle->server_record(sim_.now_us, s, doc, std::move(ids), index);
      return;
    case NodeIo::ReplicaChange::kLoaded:
    case NodeIo::ReplicaChange::kDropped:
      oracle->server_memory(sim_.now_us, s, doc, std::move(ids));
      return;
  }
}

void Servers::error(std::uint32_t s, const std::string& message) {
  std::fprintf(stderr, "server %u: %s\n", s, message.c_str());
  if (node_errors_ == 0) node_error_ = "server " + std::to_string(s) + ": " + message;
  ++node_errors_;
}

}  // namespace convlab::sim
