#pragma once
// What every simulated resource of one run shares (TigerBeetle's src/testing/ keeps time and the
// PRNG beside each simulated part in the same way): the resolved config and options, virtual
// time and its event loop, the seeded generators, the history being written, and the counters.
//
// Invariants:
//   - now_us never goes back; at() refuses a time before it (the scheduler runs ties FIFO).
//   - The generators are forked from the seed once, in a fixed order (net, store, fault, then
//     one per client when the run starts): a draw in one resource never shifts another's.
//   - Events reach the history only through emit(), stamped with now_us, in the order emitted.
// Owned by World (sim/world_parts.hpp); every resource holds a reference to it.
#include "history/history.hpp"
#include "server/core/assert.hpp"
#include "server/core/node.hpp"
#include "server/core/rng.hpp"
#include "server/core/sort_ids.hpp"
#include "server/core/strategy.hpp"
#include "sim/config.hpp"
#include "sim/oracle.hpp"
#include "sim/scheduler.hpp"
#include "sim/world.hpp"

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace convlab::sim {

constexpr std::int64_t kUsPerMs = 1000;
// The agent of the characters every document starts with (not a client: never "acknowledged").
constexpr AgentId kSetupAgent = 0xfffffffeu;
// A client's agent id carries its incarnation (a crash of its server gives it a new replica,
// whose characters must not reuse old ids): agent = incarnation << 20 | client.
constexpr std::uint32_t kClientBits = 20;
constexpr std::uint32_t kClientIdsMax = 1u << kClientBits;

// Endpoints of links. Clients are 0..C-1, servers C..C+S-1, then the store and the bus.
using Endpoint = std::uint32_t;

inline std::vector<CharId> sorted(std::vector<CharId> ids) {
  sort_char_ids(ids);
  return ids;
}

// A store request's identity across server restarts (for the oracle).
inline std::uint64_t request_key(std::uint32_t incarnation, std::uint64_t id) {
  return std::uint64_t{incarnation} << 40 | id;
}

struct Sim {
  Sim(const WorldConfig& config, const RunOptions& options)
      : cfg(config), opt(options), strategy(*options.strategy), rng(options.seed), writer(options.history_out) {
    CONVLAB_ASSERT(cfg.clients < kClientIdsMax);
    net_rng = rng.fork();
    store_rng = rng.fork();
    fault_rng = rng.fork();
    if (opt.oracle) oracle = std::make_unique<Oracle>();
  }

  void at(std::int64_t t_us, Task f) {
    CONVLAB_ASSERT(t_us >= now_us);
    sched.at(t_us, std::move(f));
  }
  static std::int64_t draw_ms(Rng& r, RangeMs range) { return r.between(range.min, range.max); }
  static std::int64_t draw_us(Rng& r, RangeMs range_ms) {
    return r.between(range_ms.min * kUsPerMs, range_ms.max * kUsPerMs);
  }
  static std::int64_t draw_us(Rng& r, RangeUs range) { return r.between(range.min, range.max); }
  std::int64_t now_ms() const { return now_us / kUsPerMs; }

  void emit(history::Event&& e) {  // an rvalue reference: no Event is moved just to call this
    e.t_us = now_us;
    writer.write(e);
    if (opt.on_event) opt.on_event(e);
    if (opt.keep_events) events.push_back(std::move(e));
  }

  const WorldConfig& cfg;
  const RunOptions& opt;
  const Strategy& strategy;
  Rng rng;  // forks: the three below, then one per client
  Rng net_rng{0};    // latencies of every link and hop, flaky bus draws
  Rng store_rng{0};  // commit latencies
  Rng fault_rng{0};  // random_faults
  history::Writer writer;
  std::vector<history::Event> events;  // RunOptions::keep_events
  std::int64_t now_us = 0;
  Scheduler sched;
  bool healed = false;  // the fault phase is over: no new faults, edits, reloads or renames
  std::map<std::string, std::uint64_t> counters;
  std::unique_ptr<Oracle> oracle;  // RunOptions::oracle: the ground truth, fed as things happen
};

}  // namespace convlab::sim
