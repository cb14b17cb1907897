// The simulated Redis pub/sub bus (sim/redis.hpp).
#include "sim/redis.hpp"

#include "sim/world_parts.hpp"

namespace convlab::sim {

bool Redis::on() const {
  const ServersSpec& s = sim_.cfg.servers;
  return s.propagation == Propagation::kBus && s.bus == NodePolicies::Bus::kRedis;
}

bool Redis::reachable(std::uint32_t s) const {
  const Network& net = w_.net;
  return up_ && !net.cut(net.server_ep(s), net.bus_ep()) && !net.cut(net.bus_ep(), net.server_ep(s));
}

void Redis::server_started(std::uint32_t s) {
  if (!on()) return;
  if (subs_.size() < sim_.cfg.servers.count) subs_.resize(sim_.cfg.servers.count);
  Sub& sub = subs_[s];
  sub.incarnation = w_.servers.at(s).incarnation;
  sub.subscribed = false;
  sub.retrying = false;
  if (reachable(s)) {
    sub.subscribed = true;
    ++sub.epoch;
    return;
  }
  w_.servers.at(s).node->on_bus_state(false);
  retry_later(s);
}

void Redis::drop(std::uint32_t s) {
  Sub& sub = subs_[s];
  if (!sub.subscribed) return;
  sub.subscribed = false;
  ++sub.epoch;  // what was sent on the old subscription is lost
  ++sim_.counters["redis.unsubscribed"];
  Server& sv = w_.servers.at(s);
  if (sv.up && sv.incarnation == sub.incarnation) sv.node->on_bus_state(false);
  retry_later(s);
}

void Redis::retry_later(std::uint32_t s) {
  Sub& sub = subs_[s];
  if (sub.retrying) return;
  sub.retrying = true;
  const std::uint32_t inc = sub.incarnation;
  sim_.at(sim_.now_us + kReconnectMs * kUsPerMs, [this, s, inc] { attempt(s, inc); });
}

void Redis::attempt(std::uint32_t s, std::uint32_t incarnation) {
  Sub& sub = subs_[s];
  const Server& sv = w_.servers.at(s);
  if (sub.incarnation != incarnation || !sv.up || sv.incarnation != incarnation) return;  // that process died
  sub.retrying = false;
  if (sub.subscribed) return;
  if (!reachable(s)) return retry_later(s);
  sub.subscribed = true;
  ++sub.epoch;
  ++sim_.counters["redis.resubscribed"];
  w_.servers.at(s).node->on_bus_state(true);
}

void Redis::publish_after_commit(std::uint32_t s, std::uint32_t incarnation, std::uint32_t doc,
                                 const LogRecord& record) {
  Network& net = w_.net;
  // The commit's reply travels back to the server, which then publishes.
  net.link_send(net.store_ep(), net.server_ep(s), Sim::draw_us(sim_.net_rng, sim_.cfg.network.db_us()),
                [this, s, incarnation, doc, record] {
                  const Server& sv = w_.servers.at(s);
                  if (!sv.up || sv.incarnation != incarnation) {
                    ++sim_.counters["redis.publish_lost"];  // died between its commit and its publish
                    return;
                  }
                  if (!reachable(s)) {
                    ++sim_.counters["redis.publish_failed"];  // the client's PUBLISH fails; not retried
                    return;
                  }
                  ++sim_.counters["redis.published"];
                  Network& n = w_.net;
                  const std::uint32_t redis_inc = incarnation_;
                  n.bus_send(n.server_ep(s), n.bus_ep(), Sim::draw_us(sim_.net_rng, sim_.cfg.network.bus_us()),
                             [this, s, redis_inc, doc, record] { arrive(s, redis_inc, doc, record); });
                });
}

void Redis::arrive(std::uint32_t origin, std::uint32_t incarnation, std::uint32_t doc, const LogRecord& record) {
  if (!up_ || incarnation != incarnation_) {
    ++sim_.counters["redis.publish_failed"];  // Redis died with it
    return;
  }
  Network& net = w_.net;
  for (std::uint32_t o = 0; o < sim_.cfg.servers.count; ++o) {
    if (o == origin) continue;
    const Sub& sub = subs_[o];
    if (!sub.subscribed) {
      ++sim_.counters["redis.missed"];  // at most once: nobody keeps it for a subscriber away
      continue;
    }
    ++sim_.counters["bus.msgs"];
    const std::uint64_t epoch = sub.epoch;
    net.bus_send(net.bus_ep(), net.server_ep(o), Sim::draw_us(sim_.net_rng, sim_.cfg.network.bus_us()),
                 [this, o, epoch, doc, record] {
                   const Sub& now = subs_[o];
                   Server& sv = w_.servers.at(o);
                   if (!now.subscribed || now.epoch != epoch || !sv.up || sv.incarnation != now.incarnation) {
                     ++sim_.counters["redis.missed"];
                     return;
                   }
                   w_.servers.count_input();
                   sv.node->on_bus(doc, record);
                 });
  }
}

void Redis::crash() {
  if (!on() || !up_) return;
  up_ = false;
  ++incarnation_;
  for (std::uint32_t s = 0; s < subs_.size(); ++s) drop(s);
}

void Redis::restart() {
  if (!on() || up_) return;
  up_ = true;  // the servers' clients find it at their next attempt
}

void Redis::links_changed() {
  if (!on()) return;
  for (std::uint32_t s = 0; s < subs_.size(); ++s) {
    const Server& sv = w_.servers.at(s);
    if (!sv.up || sv.incarnation != subs_[s].incarnation) continue;
    if (subs_[s].subscribed && !reachable(s)) drop(s);
  }
}

}  // namespace convlab::sim
