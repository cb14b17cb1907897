#pragma once
// One simulated world: the shared core (sim/context.hpp) and the simulated resources, each in
// its own file with its contract — the network (sim/network.hpp), the database and its replica
// (sim/database.hpp), Redis pub/sub (sim/redis.hpp), the CDN (sim/cdn.hpp), the server processes and their NodeIo
// (sim/servers.hpp), the editors (sim/clients.hpp) and the fault realisations
// (sim/fault_schedule.hpp). The run loop is in sim/world.cpp.
//
// Resources reach each other through the World that owns them (members are constructed in
// declaration order, the core first). Only sim/*.cpp include this header; sim/world.hpp is the
// interface to the rest of convlab.
#include "sim/cdn.hpp"
#include "sim/clients.hpp"
#include "sim/context.hpp"
#include "sim/database.hpp"
#include "sim/fault_schedule.hpp"
#include "sim/network.hpp"
#include "sim/redis.hpp"
#include "sim/servers.hpp"

namespace convlab::sim {

struct World {
  World(const WorldConfig& config, const RunOptions& options)
      : sim(config, options),
        net(sim),
        db(*this, sim),
        redis(*this, sim),
        cdn(*this, sim),
        servers(*this, sim),
        clients(*this, sim),
        faults(*this, sim) {}
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  RunOutput run();

  Sim sim;
  Network net;
  Database db;
  Redis redis;  // servers.bus: redis
  Cdn cdn;
  Servers servers;
  Clients clients;
  FaultSchedule faults;

 private:
  // The end of the fault phase: every fault ends, everything down restarts.
  void heal();
  // with_memory: also sample the server replicas' state sizes (mem.* keys; see docs/history.md).
  void emit_counters(bool with_memory);
  void emit_meta();
  void emit_finals();
};

}  // namespace convlab::sim
