#pragma once
// Server clock faults on real processes through libfaketime (Debian's `faketime` package): a
// process started with the environment below reads its wall clock as the real one plus what
// the clock file says, and the file can be rewritten while it runs (an offset, a jump, a drift).
//
// What the settings are and why (docs/real-faults.md has the measurements):
//   - LD_PRELOAD=libfaketimeMT.so.1: the thread-safe build (the server has threads).
//   - FAKETIME_TIMESTAMP_FILE=FILE: the clock's setting, re-read while the process runs.
//   - FAKETIME_CACHE_DURATION=1: re-read at most once a second (FAKETIME_NO_CACHE=1 would read
//     the file on every clock call: thousands a second under load). A write reaches a running
//     process within about a second.
//   - FAKETIME_DONT_FAKE_MONOTONIC=1: only the wall clock (CLOCK_REALTIME: system_clock,
//     time(), gettimeofday) is faked. A faked CLOCK_MONOTONIC moves steady_clock, which Asio's
//     timers and the server's rate limits, timeouts and commit-latency figures run on: a
//     backward jump would stall every timer by the jump, a forward one fire them all at once.
//     Real clock faults (NTP steps, a VM resumed) move the wall clock; the monotonic clock
//     does not jump, so this keeps the fault faithful.
//   - FAKETIME_DISABLE_SHM=1: no shared-memory segment left behind by a process killed -9.
//
// What a server's faked wall clock changes (docs/real-faults.md has the list): its stamp on
// every change it appends (`changes.server_ms`, and the server_ms of lww/seq write stamps, audit
// only), commit_us in its NOTIFY payloads (the NOTIFY lag others measure), the JWTs it issues and
// its expiry checks, token clean-up, and which revocations it re-reads after its LISTEN
// connection comes back. Its log lines carry no timestamps. Timers, timeouts and rate limits run
// on the monotonic clock and are unaffected.
#include "server/core/result.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace convlab::faults::real {

// libfaketimeMT's path on this machine, or an error saying which package provides it.
Result<std::string> faketime_library();

// The environment entries ("NAME=value") to add to a process's environment so that its wall
// clock follows `clock_file` (through the library at `library`). The file should exist before
// the process starts (write it with set_clock; a missing file means no offset).
std::vector<std::string> faketime_env(const std::string& library, const std::string& clock_file);

// libfaketime's spelling of a clock: "+1.500" (seconds ahead), "-3600.000", with " x1.000100"
// when the clock runs fast by 100 ppm (drift, measured from when the process started).
std::string faketime_spec(std::int64_t offset_ms, std::int64_t drift_ppm = 0);

// Writes the clock file (a temporary file renamed over it: a reader never sees half a line).
// A running process picks it up within FAKETIME_CACHE_DURATION (1 s).
Result<void> set_clock(const std::string& clock_file, std::int64_t offset_ms, std::int64_t drift_ppm = 0);

}  // namespace convlab::faults::real
