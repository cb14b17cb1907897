#pragma once
// The fault proxy's control language, IO-free (faults/real/proxy.hpp runs it on real sockets).
// One command a line; the proxy answers one line, "ok ..." or "error: ...".
//
//   partition both|up|down   from now on the direction is cut: bytes read from its sender are
//                            HELD (queued, in order) instead of forwarded; replaces an earlier
//                            partition. "up" is client -> target (load -> server, server ->
//                            PostgreSQL, server -> peer), "down" the replies.
//   heal                     no direction cut: what was held goes out, in order
//   latency MIN_MS MAX_MS [SEED]
//                            each chunk read from now on waits a draw from [MIN, MAX] ms (an Rng
//                            seeded with SEED, or the proxy's seed), never overtaking the chunk
//                            before it on its connection; "latency 0 0" turns it off
//   cut                      every open connection is closed with a TCP reset (SO_LINGER 0) on
//                            both sides; held bytes die with it. New connections are accepted.
//   stats                    "ok open=N accepted=N reset=N up_bytes=N down_bytes=N queued_up=N
//                            queued_down=N partition=none|both|up|down latency=MIN..MAX"
//                            (up/down_bytes: forwarded; queued: read but not yet forwarded)
#include "server/core/result.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace convlab::faults::real {

// Which directions of every proxied connection are cut.
enum class Cut : std::uint8_t { kNone, kBoth, kUp, kDown };
std::string_view cut_name(Cut c);
inline bool cuts_up(Cut c) { return c == Cut::kBoth || c == Cut::kUp; }
inline bool cuts_down(Cut c) { return c == Cut::kBoth || c == Cut::kDown; }

struct ProxyCommand {
  enum class Kind : std::uint8_t { kPartition, kHeal, kLatency, kCut, kStats };
  Kind kind = Kind::kStats;
  Cut cut = Cut::kNone;          // partition
  std::int64_t min_ms = 0;       // latency
  std::int64_t max_ms = 0;       // latency
  bool has_seed = false;         // latency: SEED given
  std::uint64_t seed = 0;
};

// Parses one control line (surrounding blanks ignored); the error names the problem.
Result<ProxyCommand> parse_command(std::string_view line);

struct ProxyStats {
  std::uint64_t open = 0;      // connections open now
  std::uint64_t accepted = 0;  // connections accepted so far
  std::uint64_t reset = 0;     // connections closed by `cut`
  std::uint64_t up_bytes = 0;  // forwarded client -> target
  std::uint64_t down_bytes = 0;
  std::uint64_t queued_up = 0;  // read, not yet forwarded (held by a partition or delayed)
  std::uint64_t queued_down = 0;
  Cut partition = Cut::kNone;
  std::int64_t latency_min_ms = 0;
  std::int64_t latency_max_ms = 0;
};

// The `stats` answer after "ok ", and back (for clients of the control port).
std::string format_stats(const ProxyStats& s);
Result<ProxyStats> parse_stats(std::string_view answer);

}  // namespace convlab::faults::real
