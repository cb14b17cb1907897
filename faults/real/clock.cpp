#include "faults/real/clock.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace convlab::faults::real {

Result<std::string> faketime_library() {
  // Debian's multiarch paths (package libfaketime, pulled in by faketime).
  for (const char* p : {"/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
                        "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1", "/usr/lib/faketime/libfaketimeMT.so.1"}) {
    std::error_code ec;
    if (std::filesystem::exists(p, ec)) return std::string(p);
  }
  return make_error("libfaketimeMT.so.1 not found: install Debian's `faketime` package (scripts/setup.sh does)");
}

std::vector<std::string> faketime_env(const std::string& library, const std::string& clock_file) {
  return {"LD_PRELOAD=" + library, "FAKETIME_TIMESTAMP_FILE=" + clock_file, "FAKETIME_CACHE_DURATION=1",
          "FAKETIME_DONT_FAKE_MONOTONIC=1", "FAKETIME_DISABLE_SHM=1"};
}

std::string faketime_spec(std::int64_t offset_ms, std::int64_t drift_ppm) {
  // Seconds with a '.' fraction: convlab-server never calls setlocale, so libfaketime parses in
  // the C locale.
  const std::int64_t mag = offset_ms < 0 ? -offset_ms : offset_ms;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%c%lld.%03lld", offset_ms < 0 ? '-' : '+', static_cast<long long>(mag / 1000),
                static_cast<long long>(mag % 1000));
  std::string out = buf;
  if (drift_ppm != 0) {
    std::snprintf(buf, sizeof buf, " x%.6f", 1.0 + static_cast<double>(drift_ppm) / 1e6);
    out += buf;
  }
  return out;
}

Result<void> set_clock(const std::string& clock_file, std::int64_t offset_ms, std::int64_t drift_ppm) {
  const std::string tmp = clock_file + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << faketime_spec(offset_ms, drift_ppm) << "\n";
    if (!out) return make_error("cannot write the clock file " + tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, clock_file, ec);
  if (ec) return make_error("cannot move " + tmp + " to " + clock_file + ": " + ec.message());
  return {};
}

}  // namespace convlab::faults::real
