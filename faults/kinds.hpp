#pragma once
// Fault kinds: ONE table (faults/kinds.cpp) of every fault a scenario can name. Each entry says
//   - its name, as scenario files, histories and reports spell it (spelled nowhere else);
//   - the YAML keys it takes besides kind/at/for, which nodes its `target` may name, what its
//     `value` means, and its own cross-key checks (the scenario loader words them as
//     file:line:column errors);
//   - how it is drawn from a seed: by a scenario's `random_faults`, and by the swarm;
//   - what it does in the simulator: begin/end as methods of `Simulator` below, which sim/
//     implements (faults/ does not depend on sim/);
//   - what it does to real processes: begin/end of `RealProcesses` (implemented by the runner of
//     real processes, with the mechanisms of faults/real/: see below and docs/real-faults.md);
//   - how reports shade it (colour, place in the legend).
// Readers: sim/scenario_faults.cpp (keys, checks), sim/fault_schedule.cpp (draws, begin/end),
// campaigns/swarm.cpp (swarm draws, YAML), reports (names, colours), cli/swarm_cmd.cpp (--inject).
//
// Adding a kind: an enumerator at the end of FaultKind, one entry in kinds.cpp, a begin (and,
// if it ends, an end) method in `Simulator` implemented in sim/fault_schedule.cpp — and later
// in `RealProcesses`. A kind that needs a key no kind has yet also adds a FaultSpec field and
// one line to the loader's key switch (sim/scenario_faults.cpp).
//
// Determinism: the draw functions use only the Rng they are given, in a fixed order; the enum
// order is the order the swarm draws kinds in, so new kinds go at the end.
#include "server/core/rng.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace convlab::faults {

enum class FaultKind : std::uint8_t {
  kPartition,   // groups of nodes cannot reach each other (optionally one way)
  kCrash,       // a server (memory lost) or the database (uncommitted lost); restart after
  kClockOffset, // shift a node's clock
  kClockDrift,  // change a node's drift
  kOffline,     // a client goes offline, keeps editing locally, comes back
  kDisconnect,  // a client's connection drops; it reconnects at once through the balancer
  kRevoke,      // a client's user has its tokens revoked (servers learn it at once)
  kFlaky,       // bus hops lose, duplicate and reorder messages (client links stay TCP-like)
  kDbLost,      // the database loses everything (a dead disk); restored from its backups, if any
  kRedisCrash,  // the Redis of `bus: redis` crashes: subscriptions end, in-flight messages lost
};

// One scheduled fault, as a scenario's `faults:` list gives it. Node names: "client:3",
// "server:0", "db", "bus".
struct FaultSpec {
  FaultKind kind = FaultKind::kPartition;
  std::int64_t at_ms = 0;
  std::int64_t for_ms = 0;  // 0: until the heal at the end of the fault phase
  std::vector<std::vector<std::string>> groups;  // partition
  bool one_way = false;                          // partition: only groups[0] -> groups[1] cut
  std::string target;                            // crash, clock, offline
  std::int64_t value = 0;                        // clock offset ms or drift ppm
  double loss = 0;                               // flaky: chance a bus message is dropped
  double dup = 0;                                // flaky: chance it is delivered twice
  double reorder = 0;                            // flaky: chance it is delayed past later ones
  std::string where;  // "file:line:column" of the fault in its scenario; empty when drawn
};

// What the simulator does for each kind (implemented in sim/fault_schedule.cpp). A begin
// returns a handle that the kind's end gets back. An end returns whether the fault ended
// visibly (the history gets a `recover` event). Called on the simulator's one thread at the
// fault's virtual time, never after the heal.
class Simulator {
 public:
  virtual ~Simulator() = default;
  virtual std::uint64_t begin_partition(const FaultSpec& f) = 0;
  virtual bool end_partition(const FaultSpec& f, std::uint64_t handle) = 0;
  virtual std::uint64_t begin_crash(const FaultSpec& f) = 0;
  virtual bool end_crash(const FaultSpec& f, std::uint64_t handle) = 0;
  virtual std::uint64_t begin_clock_offset(const FaultSpec& f) = 0;
  virtual std::uint64_t begin_clock_drift(const FaultSpec& f) = 0;
  virtual std::uint64_t begin_offline(const FaultSpec& f) = 0;
  virtual bool end_offline(const FaultSpec& f, std::uint64_t handle) = 0;
  virtual std::uint64_t begin_disconnect(const FaultSpec& f) = 0;
  virtual std::uint64_t begin_revoke(const FaultSpec& f) = 0;
  virtual std::uint64_t begin_flaky(const FaultSpec& f) = 0;
  virtual bool end_flaky(const FaultSpec& f, std::uint64_t handle) = 0;
  virtual std::uint64_t begin_db_lost(const FaultSpec& f) = 0;
  virtual bool end_db_lost(const FaultSpec& f, std::uint64_t handle) = 0;
  virtual std::uint64_t begin_redis_crash(const FaultSpec& f) = 0;
  virtual bool end_redis_crash(const FaultSpec& f, std::uint64_t handle) = 0;
};

// What a runner of real processes does for each kind (issue 15); the same calling contract as
// `Simulator`, at the fault's wall-clock time. The mechanisms are in faults/real/ (an IO room of
// its own; docs/real-faults.md says what each does to a real process):
//   partition     a TCP fault proxy (faults/real/proxy.hpp, convlab-faultproxy) on every link
//                 the groups cut: `partition both|up|down` on begin, `heal` on end;
//   clock_offset, clock_drift
//                 a server: its libfaketime clock file (faults/real/clock.hpp: faketime_env
//                 to start it, set_clock to move it while it runs); a client: convlab-load's
//                 --clock-offset / --clock-drift (per client, from a time into the run);
//   crash         a server: kill -9, started again on its port at the end; the database:
//                 `scripts/pg.sh crash` (pg_ctl stop -m immediate), `restart` at the end.
//   db_lost       every server kill -9, the cluster's data deleted (`scripts/pg.sh destroy`); at the
//                 end, as the world's `database.backup` left it: `restore` from the base backup and
//                 the WAL archive (backup: archive; the runner started the cluster archiving, took
//                 the base backup before the typing and an archive point, `switch`, every
//                 archive_interval) or `fresh` (none: an empty cluster), on the same port, and the
//                 servers started again;
//   redis_crash   the runner's Redis (`bus: redis`): `scripts/redis.sh crash` (kill -9), and
//                 `restart` on the same port at the end; nothing without a Redis bus (as in the
//                 simulator). A partition naming `bus` under `bus: redis` cuts the fault proxy
//                 between each server it names and Redis.
//   offline       convlab-load's --offline (the runner passes the fault's times): from `at` the
//                 client's WebSocket link is held both ways at convlab-load (its frames out
//                 queue, the frames in are kept unread), it keeps typing into its replica; at the
//                 end what was held goes both ways, as the simulator's held links do;
//   revoke        convlab-load's --revoke: at `at` the client's token is revoked through the
//                 server's own POST /logout (its jti revoked in PostgreSQL, the other servers told
//                 through NOTIFY); what follows is the server's policy (check_revocation: its
//                 WebSocket closed with 4403 and its API reads refused 403, or neither). The
//                 revoked user does not log in again (docs/real-faults.md: where the
//                 simulator's client differs);
//                 API reads answered 200 after it are `:revoked` in the history;
//   disconnect    convlab-load's --disconnect: the client's connection is closed at `at`; it
//                 logs in again at once through the world's balancer (the next server round
//                 robin, the same one when sticky), with a fresh replica as the simulator's.
// Kinds whose entry has a null real_begin have no real realisation (docs/real-faults.md says
// why); the runner (realrun/) refuses a scenario that names one.
class RealProcesses {
 public:
  virtual ~RealProcesses() = default;
  virtual std::uint64_t begin_partition(const FaultSpec& f) = 0;
  virtual bool end_partition(const FaultSpec& f, std::uint64_t handle) = 0;
  virtual std::uint64_t begin_clock_offset(const FaultSpec& f) = 0;
  virtual std::uint64_t begin_clock_drift(const FaultSpec& f) = 0;
  virtual std::uint64_t begin_crash(const FaultSpec& f) = 0;
  virtual bool end_crash(const FaultSpec& f, std::uint64_t handle) = 0;
  virtual std::uint64_t begin_redis_crash(const FaultSpec& f) = 0;
  virtual bool end_redis_crash(const FaultSpec& f, std::uint64_t handle) = 0;
  virtual std::uint64_t begin_db_lost(const FaultSpec& f) = 0;
  virtual bool end_db_lost(const FaultSpec& f, std::uint64_t handle) = 0;
  virtual std::uint64_t begin_offline(const FaultSpec& f) = 0;
  virtual bool end_offline(const FaultSpec& f, std::uint64_t handle) = 0;
  virtual std::uint64_t begin_disconnect(const FaultSpec& f) = 0;
  virtual std::uint64_t begin_revoke(const FaultSpec& f) = 0;
};

// The kinds of node a `target` may name (a bit set).
enum NodeKinds : std::uint8_t { kNoNode = 0, kClientNode = 1, kServerNode = 2, kDbNode = 4, kBusNode = 8 };

// What a fault's `value` key is.
enum class ValueUnit : std::uint8_t { kNone, kOffsetMs, kDriftPpm };

// Which of a fault's kind-specific keys were written (for a kind's own checks).
struct Given {
  bool groups = false;
  bool target = false;
  bool value = false;
  bool probabilities_parsed = true;  // loss, dup and reorder, those written, all parsed
};

// A problem a kind's own check finds: `key` is the key it is about ("" for the fault as a
// whole); the loader places it at the fault mapping.
struct Problem {
  std::string_view key;
  std::string text;
};

// What a scenario's `random_faults` has drawn for a fault before its kind's own draw: a
// server and a client, both drawn for every kind (the draw order is part of a run's identity).
struct ScheduledDraw {
  std::string server;  // "server:N"
  std::string client;  // "client:N"
  std::int64_t clock_offset_max_ms = 0;
};

// The size of the world the swarm draws a fault for.
struct WorldShape {
  std::uint32_t clients = 1;
  std::uint32_t servers = 1;
};

struct KindInfo {
  FaultKind kind;
  std::string_view name;     // in scenario files, histories and reports
  std::string_view summary;  // one line, for help and docs
  // YAML: the keys besides kind, at_* and for_*, in the order error messages list them.
  std::span<const std::string_view> keys;
  std::uint8_t targets;  // NodeKinds a `target` may name; kNoNode: no target
  ValueUnit value;       // what `value` is; kNone: no value
  void (*check)(const FaultSpec& f, const Given& given, std::vector<Problem>& out);  // may be null
  // Drawn from a seed: by a scenario's random_faults (after ScheduledDraw), and by the swarm
  // (after at_ms and for_ms). Each sets the kind's own fields of `f`. draw_swarm may be null
  // for a kind the swarm never draws (`swarm` false).
  void (*draw_scheduled)(Rng& r, const ScheduledDraw& d, FaultSpec& f);
  void (*draw_swarm)(Rng& r, const WorldShape& w, FaultSpec& f);
  // Appends the kind's keys as YAML flow-mapping entries (", target: server:0"); `num` writes
  // a double that reads back the same.
  void (*write_yaml)(const FaultSpec& f, std::string (*num)(double), std::string& out);
  // Appends the kind's part of a history event's detail (after the target or groups); may be null.
  void (*detail)(const FaultSpec& f, std::string& out);
  // The simulator: begin, and end (null: it lasts — nothing to undo, no `recover` event).
  std::uint64_t (Simulator::*sim_begin)(const FaultSpec& f);
  bool (Simulator::*sim_end)(const FaultSpec& f, std::uint64_t handle);
  // Real processes: null means none (every kind but flaky has one; `real_names()`
  // lists them).
  std::uint64_t (RealProcesses::*real_begin)(const FaultSpec& f);
  bool (RealProcesses::*real_end)(const FaultSpec& f, std::uint64_t handle);
  // Reports: the shade of its windows, and its place in legends (0 first).
  std::string_view colour;
  std::uint8_t legend_rank;
  // Whether the swarm draws it (a kind that loses acknowledged edits by design, whatever the
  // policies, is left to the scenarios that ask for it; so is one whose worlds the swarm does not
  // draw, redis_crash without a Redis bus). A kind it does not draw takes no draw: adding one
  // keeps every swarm world.
  bool swarm = true;
};

// The table, in FaultKind order.
std::span<const KindInfo> kinds();
const KindInfo& info(FaultKind kind);
std::string_view name(FaultKind kind);
// The kind named `name`, or null.
const KindInfo* find(std::string_view name);
// "partition, crash, ...": every name, in table order (for error messages).
std::string names_list();
// The names of the kinds with a realisation on real processes, in table order.
std::string real_names();

// A history event's `detail` for fault `f`: its groups or target, its kind's part, its length.
std::string describe(const FaultSpec& f);

}  // namespace convlab::faults
