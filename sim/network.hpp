#pragma once
// The simulated network: FIFO links between endpoints (clients, servers, the database, the bus)
// with a latency drawn per message, partitions (two-way or one-way) that hold what is sent
// across them, and the flaky-bus fault that loses, duplicates and reorders bus hops.
//
// Invariants:
//   - A link is FIFO: a message never arrives before one sent earlier on the same link (each
//     delivery is at max(now + latency, the link's last delivery)), except a flaky reorder,
//     which leaves the link on purpose.
//   - Held messages are never dropped by a partition: TCP keeps retrying. They go, in order,
//     once nothing cuts their link (release_held); only a crash of their sender drops them.
//   - net_rng is drawn for every latency; for flaky draws only while a flaky fault is on, so a
//     run without one has the same draws as before flaky existed.
// Called by the servers, clients and database (sends), and by the fault realisations
// (partitions, flaky, release after a heal).
#include "sim/context.hpp"

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace convlab::sim {

struct Partition {
  std::vector<std::set<Endpoint>> groups;
  bool one_way = false;  // only groups[0] -> groups[1] is cut
  std::uint64_t id = 0;
};

class Network {
 public:
  explicit Network(Sim& sim);

  Endpoint client_ep(std::uint32_t c) const { return c; }
  Endpoint server_ep(std::uint32_t s) const { return sim_.cfg.clients + s; }
  Endpoint store_ep() const { return sim_.cfg.clients + sim_.cfg.servers.count; }
  Endpoint bus_ep() const { return store_ep() + 1; }
  // The endpoint a fault names ("client:3", "server:0", "db", "bus"), if the world has it.
  std::optional<Endpoint> endpoint(const std::string& name) const;

  // Whether a partition in effect cuts from -> to.
  bool cut(Endpoint from, Endpoint to) const;
  // Sends over a FIFO link: delivered after `latency_us` unless a partition holds it, in which
  // case it waits (TCP keeps retrying) and goes when the partition heals.
  void link_send(Endpoint from, Endpoint to, std::int64_t latency_us, Task deliver);
  // Sends what partitions held on links no longer cut: one more latency each, order kept.
  void release_held();
  // A bus hop (server -> bus, bus -> server): a link_send, except while a flaky fault is on,
  // when the message may be lost, delivered twice (the copy a little later) or delayed so that
  // later ones overtake it. The node's log-index gap detection and catch-up recover all three.
  void bus_send(Endpoint from, Endpoint to, std::int64_t latency_us, std::function<void()> deliver);
  // A crashed process's unsent messages die with it.
  void drop_held_from(Endpoint from);

  // Partitions: add returns the id remove takes.
  std::uint64_t add_partition(std::vector<std::set<Endpoint>> groups, bool one_way);
  void remove_partition(std::uint64_t id);
  void clear_partitions() { partitions_.clear(); }
  // Flaky bus faults: while any is on, each probability is the largest of them.
  std::uint64_t add_flaky(double loss, double dup, double reorder);
  void remove_flaky(std::uint64_t id);
  void clear_flaky() { flaky_.clear(); }

 private:
  struct Flaky {
    std::uint64_t id = 0;
    double loss = 0;
    double dup = 0;
    double reorder = 0;
  };
  bool holding(Endpoint from, Endpoint to) const {
    if (held_.empty()) return false;
    const auto it = held_.find({from, to});
    return it != held_.end() && !it->second.empty();
  }
  // When the last message on the link from -> to arrives (0: none yet).
  std::int64_t& link_last_us(Endpoint from, Endpoint to);

  Sim& sim_;
  // When the last message on each link arrives, looked up on every message and never iterated.
  // Every link has a server, the store or the bus at one end (the "infra" endpoints, C.. C+S+1,
  // K of them), so two dense tables hold them all: links into an infra endpoint by (from, to's
  // infra index), links out of one by (to, from's infra index). A hash map of the links used
  // cost a lookup with a pointer chase per message, in a table that grew with the world
  // (issue 17, item 4).
  std::uint32_t infra_first_ = 0;  // C: the first infra endpoint
  std::uint32_t infra_count_ = 0;  // K = servers + 2
  std::vector<std::int64_t> into_infra_last_us_;    // [from * K + (to - C)]
  std::vector<std::int64_t> out_of_infra_last_us_;  // [to * K + (from - C)]
  // Messages a partition holds, per link; an entry exists only once something was held.
  std::map<std::pair<Endpoint, Endpoint>, std::deque<Task>> held_;
  std::vector<Partition> partitions_;
  std::uint64_t next_partition_ = 1;
  std::vector<Flaky> flaky_;
  std::uint64_t next_flaky_ = 1;
};

}  // namespace convlab::sim
