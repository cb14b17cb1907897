// The simulator's realisation of the fault kinds (sim/fault_schedule.hpp).
#include "sim/fault_schedule.hpp"

#include "sim/world.hpp"
#include "sim/world_parts.hpp"

#include <set>

namespace convlab::sim {

namespace {

// The faults of a run: the scheduled ones, then random_faults' draws from `r` (swarm style:
// kinds, targets, times and lengths). Every drawn fault draws a server and a client whatever
// its kind, then its kind's own draws (faults/kinds.cpp).
std::vector<FaultSpec> faults_of(const WorldConfig& cfg, Rng& r) {
  std::vector<FaultSpec> list = cfg.faults;
  const RandomFaults& rf = cfg.random_faults;
  for (std::uint32_t i = 0; i < rf.count && !rf.kinds.empty(); ++i) {
    FaultSpec f;
    f.kind = rf.kinds[r.below(rf.kinds.size())];
    f.at_ms = r.between(0, std::max<std::int64_t>(0, cfg.duration_ms - 1));
    f.for_ms = Sim::draw_ms(r, rf.duration_ms);
    faults::ScheduledDraw d;
    d.server = "server:" + std::to_string(r.below(cfg.servers.count));
    d.client = "client:" + std::to_string(r.below(cfg.clients));
    d.clock_offset_max_ms = rf.clock_offset_max_ms;
    faults::info(f.kind).draw_scheduled(r, d, f);
    list.push_back(std::move(f));
  }
  return list;
}

}  // namespace

std::vector<FaultSpec> fault_list(const WorldConfig& config, std::uint64_t seed) {
  // Sim's fault_rng: the third fork of the seed's generator (sim/context.hpp, Sim's constructor).
  Rng rng(seed);
  rng.fork();
  rng.fork();
  Rng r = rng.fork();
  return faults_of(config, r);
}

void FaultSchedule::schedule() {
  const std::vector<FaultSpec> list = faults_of(sim_.cfg, sim_.fault_rng);
  for (const FaultSpec& f : list) {
    sim_.at(f.at_ms * kUsPerMs, [this, f] { begin(f); });
  }
}

void FaultSchedule::begin(const FaultSpec& f) {
  if (sim_.healed) return;
  const faults::KindInfo& kind = faults::info(f.kind);
  history::Event e;
  e.type = history::EventType::kFault;
  e.kind = kind.name;
  e.detail = faults::describe(f);
  sim_.emit(std::move(e));
  const std::uint64_t handle = (this->*kind.sim_begin)(f);
  if (f.for_ms > 0) {
    sim_.at(sim_.now_us + f.for_ms * kUsPerMs, [this, f, handle] { end(f, handle); });
  }
}

void FaultSchedule::end(const FaultSpec& f, std::uint64_t handle) {
  if (sim_.healed) return;  // the heal already ended it
  const faults::KindInfo& kind = faults::info(f.kind);
  if (kind.sim_end == nullptr) return;  // it lasts (a clock that jumped does not jump back)
  if (!(this->*kind.sim_end)(f, handle)) return;
  history::Event e;
  e.type = history::EventType::kRecover;
  e.kind = kind.name;
  e.detail = faults::describe(f);
  sim_.emit(std::move(e));
}

std::optional<std::uint32_t> FaultSchedule::target_client(const FaultSpec& f) const {
  const auto ep = w_.net.endpoint(f.target);
  if (!ep || *ep >= sim_.cfg.clients) return std::nullopt;
  return *ep;
}

std::pair<std::int64_t*, std::int64_t*> FaultSchedule::target_clock(const FaultSpec& f) {
  const Network& net = w_.net;
  const auto ep = net.endpoint(f.target);
  if (!ep) return {nullptr, nullptr};
  if (*ep < sim_.cfg.clients) {
    Client& cl = w_.clients.at(*ep);
    return {&cl.clock_offset_ms, &cl.drift_ppm};
  }
  if (*ep < net.store_ep()) {
    Server& sv = w_.servers.at(*ep - net.server_ep(0));
    return {&sv.clock_offset_ms, &sv.drift_ppm};
  }
  return {nullptr, nullptr};
}

// ---------------------------------------------------------------- the kinds

std::uint64_t FaultSchedule::begin_partition(const FaultSpec& f) {
  std::vector<std::set<Endpoint>> groups;
  for (const auto& g : f.groups) {
    std::set<Endpoint> eps;
    for (const auto& name : g) {
      if (auto ep = w_.net.endpoint(name)) eps.insert(*ep);
    }
    groups.push_back(std::move(eps));
  }
  const std::uint64_t id = w_.net.add_partition(std::move(groups), f.one_way);
  w_.redis.links_changed();
  return id;
}

bool FaultSchedule::end_partition(const FaultSpec&, std::uint64_t handle) {
  w_.net.remove_partition(handle);
  w_.net.release_held();
  w_.redis.links_changed();
  return true;
}

std::uint64_t FaultSchedule::begin_crash(const FaultSpec& f) {
  const Network& net = w_.net;
  const auto ep = net.endpoint(f.target);
  if (ep && *ep >= net.server_ep(0) && *ep < net.store_ep()) w_.servers.crash(*ep - net.server_ep(0));
  if (ep && *ep == net.store_ep()) w_.db.crash();
  return 0;
}

bool FaultSchedule::end_crash(const FaultSpec& f, std::uint64_t) {
  const Network& net = w_.net;
  const auto ep = net.endpoint(f.target);
  if (ep && *ep >= net.server_ep(0) && *ep < net.store_ep()) {
    const std::uint32_t s = *ep - net.server_ep(0);
    if (!w_.servers.at(s).up) w_.servers.start(s);
  }
  if (ep && *ep == net.store_ep()) w_.db.restart();
  return true;
}

std::uint64_t FaultSchedule::begin_clock_offset(const FaultSpec& f) {
  if (std::int64_t* offset = target_clock(f).first) *offset += f.value;
  return 0;
}

std::uint64_t FaultSchedule::begin_clock_drift(const FaultSpec& f) {
  if (std::int64_t* drift = target_clock(f).second) *drift = f.value;
  return 0;
}

std::uint64_t FaultSchedule::begin_offline(const FaultSpec& f) {
  const auto c = target_client(f);
  if (!c) return 0;
  w_.clients.at(*c).offline = true;
  // Offline: cut from every server, both ways; edits go on locally and queue.
  Network& net = w_.net;
  std::set<Endpoint> rest;
  for (std::uint32_t s = 0; s < sim_.cfg.servers.count; ++s) rest.insert(net.server_ep(s));
  return net.add_partition({{net.client_ep(*c)}, rest}, false);
}

bool FaultSchedule::end_offline(const FaultSpec& f, std::uint64_t handle) {
  w_.net.remove_partition(handle);
  if (const auto ep = w_.net.endpoint(f.target)) w_.clients.at(*ep).offline = false;
  w_.net.release_held();
  return true;
}

std::uint64_t FaultSchedule::begin_disconnect(const FaultSpec& f) {
  if (const auto c = target_client(f)) w_.clients.drop(*c, true, 0);
  return 0;
}

std::uint64_t FaultSchedule::begin_revoke(const FaultSpec& f) {
  // The login service revokes the user's tokens and tells every server at once; what each
  // server does with that is its policy (servers.check_revocation).
  if (const auto c = target_client(f)) w_.servers.revoke(*c);
  return 0;
}

std::uint64_t FaultSchedule::begin_flaky(const FaultSpec& f) { return w_.net.add_flaky(f.loss, f.dup, f.reorder); }

bool FaultSchedule::end_flaky(const FaultSpec&, std::uint64_t handle) {
  w_.net.remove_flaky(handle);
  return true;
}

// The database lost, as tests/pg/backup_restore.sh does it on real processes: the servers are
// stopped (their memory goes), the cluster is destroyed and restored from what the backup policy
// kept (database.backup), and at the end the database and the servers start again on it.
std::uint64_t FaultSchedule::begin_db_lost(const FaultSpec&) {
  for (std::uint32_t s = 0; s < sim_.cfg.servers.count; ++s) w_.servers.crash(s);
  w_.db.lose();
  return 0;
}

bool FaultSchedule::end_db_lost(const FaultSpec&, std::uint64_t) {
  w_.db.restart();
  for (std::uint32_t s = 0; s < sim_.cfg.servers.count; ++s) {
    if (!w_.servers.at(s).up) w_.servers.start(s);
  }
  return true;
}

std::uint64_t FaultSchedule::begin_redis_crash(const FaultSpec&) {
  w_.redis.crash();
  return 0;
}

bool FaultSchedule::end_redis_crash(const FaultSpec&, std::uint64_t) {
  w_.redis.restart();
  return true;
}

}  // namespace convlab::sim
