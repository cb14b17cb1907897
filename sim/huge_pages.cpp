#include "sim/huge_pages.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace convlab::sim {

void use_malloc_huge_pages(char** argv) {
  constexpr const char* kTunable = "glibc.malloc.hugetlb";
  if (const char* off = std::getenv("CONVLAB_MALLOC_HUGE_PAGES"); off != nullptr && std::string(off) == "0") return;
  // Under valgrind, /proc/self/exe is valgrind's tool, not this program: stay as we are (its
  // preload library is in LD_PRELOAD).
  if (const char* preload = std::getenv("LD_PRELOAD");
      preload != nullptr && std::string(preload).find("vgpreload") != std::string::npos) {
    return;
  }
  const char* current = std::getenv("GLIBC_TUNABLES");
  const std::string tunables = current == nullptr ? "" : current;
  if (tunables.find(kTunable) != std::string::npos) return;
  // "always [madvise] never": madvise (what glibc asks for) works unless the mode is never.
  std::ifstream mode("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  if (!std::getline(mode, line) || line.find("[never]") != std::string::npos) return;
  const std::string next = (tunables.empty() ? "" : tunables + ":") + kTunable + "=1";
  if (::setenv("GLIBC_TUNABLES", next.c_str(), 1) != 0) return;
  ::execv("/proc/self/exe", argv);
  // The exec failed (no /proc, say): carry on as we are, without the tunable.
}

}  // namespace convlab::sim
