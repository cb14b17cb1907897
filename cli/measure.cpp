#include "cli/measure.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <fstream>

namespace convlab::cli {

std::uint64_t peak_rss_kib() {
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  return static_cast<std::uint64_t>(ru.ru_maxrss);  // Linux reports KiB
}

std::uint64_t current_rss_kib() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size_pages = 0;
  std::uint64_t resident_pages = 0;
  if (!(statm >> size_pages >> resident_pages)) return 0;
  const long page = sysconf(_SC_PAGESIZE);
  if (page <= 0) return 0;
  return resident_pages * static_cast<std::uint64_t>(page) / 1024;
}

}  // namespace convlab::cli
