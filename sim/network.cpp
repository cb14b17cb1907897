// The simulated network (sim/network.hpp).
#include "sim/network.hpp"

#include <algorithm>

namespace convlab::sim {

Network::Network(Sim& sim)
    : sim_(sim), infra_first_(sim.cfg.clients), infra_count_(sim.cfg.servers.count + 2) {
  const std::size_t cells = (std::size_t{infra_first_} + infra_count_) * infra_count_;
  into_infra_last_us_.assign(cells, 0);
  out_of_infra_last_us_.assign(cells, 0);
}

std::int64_t& Network::link_last_us(Endpoint from, Endpoint to) {
  const std::uint32_t end = infra_first_ + infra_count_;
  CONVLAB_ASSERT(from < end && to < end);
  if (to >= infra_first_) return into_infra_last_us_[std::size_t{from} * infra_count_ + (to - infra_first_)];
  CONVLAB_ASSERT(from >= infra_first_);  // no link joins two clients
  return out_of_infra_last_us_[std::size_t{to} * infra_count_ + (from - infra_first_)];
}

std::optional<Endpoint> Network::endpoint(const std::string& name) const {
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
    if (n && *n < sim_.cfg.clients) return client_ep(*n);
  }
  if (name.rfind("server:", 0) == 0) {
    auto n = num(7);
    if (n && *n < sim_.cfg.servers.count) return server_ep(*n);
  }
  return std::nullopt;
}

bool Network::cut(Endpoint from, Endpoint to) const {
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

void Network::link_send(Endpoint from, Endpoint to, std::int64_t latency_us, Task deliver) {
  if (cut(from, to) || holding(from, to)) {
    held_[{from, to}].push_back(std::move(deliver));
    return;
  }
  std::int64_t& last = link_last_us(from, to);
  const std::int64_t t = std::max(sim_.now_us + latency_us, last);
  last = t;
  sim_.at(t, std::move(deliver));
}

void Network::release_held() {
  for (auto& [key, q] : held_) {
    if (q.empty() || cut(key.first, key.second)) continue;
    std::int64_t& last = link_last_us(key.first, key.second);
    while (!q.empty()) {
      // Retransmission after the heal: one more latency, order kept.
      const std::int64_t t = std::max(sim_.now_us + Sim::draw_us(sim_.net_rng, sim_.cfg.network.client_server_ms), last);
      last = t;
      sim_.at(t, std::move(q.front()));
      q.pop_front();
    }
  }
}

void Network::bus_send(Endpoint from, Endpoint to, std::int64_t latency_us, std::function<void()> deliver) {
  if (flaky_.empty()) return link_send(from, to, latency_us, Task(std::move(deliver)));
  Flaky p;
  for (const Flaky& f : flaky_) {
    p.loss = std::max(p.loss, f.loss);
    p.dup = std::max(p.dup, f.dup);
    p.reorder = std::max(p.reorder, f.reorder);
  }
  Rng& rng = sim_.net_rng;
  // Draws from net_rng only while a flaky fault is on: other runs keep their histories.
  if (p.loss > 0 && rng.chance(p.loss)) {
    ++sim_.counters["bus.flaky_lost"];
    return;
  }
  const bool dup = p.dup > 0 && rng.chance(p.dup);
  const bool late = p.reorder > 0 && rng.chance(p.reorder);
  // An extra delay of up to 10 bus latencies (at least 10 ms): enough for later messages to pass.
  const std::int64_t extra_max =
      std::max<std::int64_t>(10 * kUsPerMs, 10 * sim_.cfg.network.bus_us().max);
  const bool held = cut(from, to) || holding(from, to);
  if (dup) {
    ++sim_.counters["bus.flaky_dup"];
    if (held) {
      link_send(from, to, latency_us, Task(deliver));
    } else {
      sim_.at(sim_.now_us + latency_us + rng.between(1, extra_max), Task(deliver));
    }
  }
  if (late && !held) {
    // Off the FIFO link: delivered late without holding back the messages sent after it.
    ++sim_.counters["bus.flaky_reordered"];
    sim_.at(sim_.now_us + latency_us + rng.between(1, extra_max), Task(std::move(deliver)));
    return;
  }
  link_send(from, to, latency_us, Task(std::move(deliver)));
}

void Network::drop_held_from(Endpoint from) {
  for (auto& [key, q] : held_) {
    if (key.first == from) q.clear();
  }
}

std::uint64_t Network::add_partition(std::vector<std::set<Endpoint>> groups, bool one_way) {
  Partition p;
  p.id = next_partition_++;
  p.one_way = one_way;
  p.groups = std::move(groups);
  partitions_.push_back(std::move(p));
  return partitions_.back().id;
}

void Network::remove_partition(std::uint64_t id) {
  std::erase_if(partitions_, [&](const Partition& p) { return p.id == id; });
}

std::uint64_t Network::add_flaky(double loss, double dup, double reorder) {
  const std::uint64_t id = next_flaky_++;
  flaky_.push_back(Flaky{id, loss, dup, reorder});
  return id;
}

void Network::remove_flaky(std::uint64_t id) {
  std::erase_if(flaky_, [&](const Flaky& x) { return x.id == id; });
}

}  // namespace convlab::sim
