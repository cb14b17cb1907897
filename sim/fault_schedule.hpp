#pragma once
// The simulator's realisation of the fault kinds of faults/kinds.hpp: it schedules a world's
// faults (the scenario's list, then those random_faults draws from the seed), writes each
// one's `fault` event when it begins and `recover` event when it visibly ends, and implements
// faults::Simulator — what each kind does to the simulated network, database, servers and
// clients. Nothing here switches on the kind: the table says which method realises it.
//
// Invariants:
//   - Nothing begins or ends after the heal (the heal has ended every fault already).
//   - fault_rng is drawn only here, in schedule(), before the run starts.
// Called by the run loop (schedule) and by the scheduler (begin, end).
#include "faults/kinds.hpp"
#include "sim/context.hpp"

#include <cstdint>
#include <optional>
#include <utility>

namespace convlab::sim {

struct World;

class FaultSchedule final : public faults::Simulator {
 public:
  FaultSchedule(World& w, Sim& sim) : w_(w), sim_(sim) {}

  // Schedules every fault of the config: the listed ones, then random_faults.count drawn.
  void schedule();

  std::uint64_t begin_partition(const FaultSpec& f) override;
  bool end_partition(const FaultSpec& f, std::uint64_t handle) override;
  std::uint64_t begin_crash(const FaultSpec& f) override;
  bool end_crash(const FaultSpec& f, std::uint64_t handle) override;
  std::uint64_t begin_clock_offset(const FaultSpec& f) override;
  std::uint64_t begin_clock_drift(const FaultSpec& f) override;
  std::uint64_t begin_offline(const FaultSpec& f) override;
  bool end_offline(const FaultSpec& f, std::uint64_t handle) override;
  std::uint64_t begin_disconnect(const FaultSpec& f) override;
  std::uint64_t begin_revoke(const FaultSpec& f) override;
  std::uint64_t begin_flaky(const FaultSpec& f) override;
  bool end_flaky(const FaultSpec& f, std::uint64_t handle) override;
  std::uint64_t begin_db_lost(const FaultSpec& f) override;
  bool end_db_lost(const FaultSpec& f, std::uint64_t handle) override;
  std::uint64_t begin_redis_crash(const FaultSpec& f) override;
  bool end_redis_crash(const FaultSpec& f, std::uint64_t handle) override;

 private:
  void begin(const FaultSpec& f);
  void end(const FaultSpec& f, std::uint64_t handle);
  // The client a fault targets, if it names one the world has.
  std::optional<std::uint32_t> target_client(const FaultSpec& f) const;
  // The clock (offset, drift) of the client or server a fault targets.
  std::pair<std::int64_t*, std::int64_t*> target_clock(const FaultSpec& f);

  World& w_;
  Sim& sim_;
};

}  // namespace convlab::sim
