#pragma once
// Measuring at the edge (never in server/ or workload/): wall time on the steady clock and the
// process's resident memory.
#include <chrono>
#include <cstdint>

namespace convlab::cli {

class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double elapsed_ms() const {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

// The largest resident set this process has had, in KiB (getrusage ru_maxrss).
std::uint64_t peak_rss_kib();

// The resident set now, in KiB (/proc/self/statm); 0 where that cannot be read.
std::uint64_t current_rss_kib();

}  // namespace convlab::cli
