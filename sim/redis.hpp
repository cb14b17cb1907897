#pragma once
// The simulated Redis of `servers.bus: redis` (the design's recommended bus): one process,
// reached as the node `bus`, that the committing server publishes each committed record to and
// that relays it to the servers subscribed at that moment. Pub/sub delivers at most once:
//
//   - A server publishes a record after its commit, when the commit's reply reaches it: a
//     server that crashed in between never publishes (the record is in the log only), and a
//     publish while Redis is down or cut off from the server fails and is not retried.
//   - Redis sends a record only to the servers subscribed when it arrives; one in flight to a
//     subscription that ends (Redis crashed, the link was cut, the server crashed) is lost.
//     Nothing is held for a subscriber that is away: what it misses is gone.
//   - A subscription ends when Redis crashes or a partition cuts server <-> bus (either way);
//     the node hears it (Node::on_bus_state(false)). The server's client then tries again every
//     kReconnectMs and, once Redis is up and reachable, is subscribed again (on_bus_state(true)).
//     A server that starts while Redis is unreachable starts unsubscribed the same way.
//
// Invariants:
//   - Does nothing, draws nothing and schedules nothing unless the world has `propagation: bus`
//     and `bus: redis` (every other world keeps its history byte for byte).
//   - A delivery reaches a node only if the subscription it was sent on is still the current one.
// Called by the database (publish on commit), the servers (start, crash), the fault
// realisations (redis_crash, partitions) and the heal.
#include "sim/context.hpp"

#include <cstdint>
#include <vector>

namespace convlab::sim {

struct World;

class Redis {
 public:
  // How long a server's Redis client waits before it tries to subscribe again.
  static constexpr std::int64_t kReconnectMs = 1000;

  Redis(World& w, Sim& sim) : w_(w), sim_(sim) {}

  // Whether the world's bus is this Redis.
  bool on() const;
  // Server s (this incarnation) started: it subscribes, at once if Redis is up and reachable.
  void server_started(std::uint32_t s);
  // Server s committed `record` of `doc`: it publishes once the commit's reply reaches it.
  void publish_after_commit(std::uint32_t s, std::uint32_t incarnation, std::uint32_t doc, const LogRecord& record);
  // The redis_crash fault: every subscription ends, what is in flight is lost.
  void crash();
  void restart();
  // A partition began or ended: subscriptions across a cut end; servers that can reach Redis
  // again subscribe at their next attempt.
  void links_changed();
  bool up() const { return up_; }

 private:
  struct Sub {
    bool subscribed = false;
    bool retrying = false;         // an attempt is scheduled
    std::uint64_t epoch = 0;       // which subscription a delivery was sent on
    std::uint32_t incarnation = 0;  // the server process it belongs to
  };
  bool reachable(std::uint32_t s) const;
  void drop(std::uint32_t s);
  void retry_later(std::uint32_t s);
  void attempt(std::uint32_t s, std::uint32_t incarnation);
  void arrive(std::uint32_t origin, std::uint32_t incarnation, std::uint32_t doc, const LogRecord& record);

  World& w_;
  Sim& sim_;
  std::vector<Sub> subs_;
  bool up_ = true;
  std::uint32_t incarnation_ = 0;  // a restart is a new process: nothing in flight to the old one arrives
};

}  // namespace convlab::sim
