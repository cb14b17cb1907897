#pragma once
// Assertions stay on in every build: a broken invariant in the core is a bug that must stop
// the run (TigerBeetle style), not undefined behaviour that silently corrupts a history.
#include <cstdio>
#include <cstdlib>

namespace convlab::detail {
[[noreturn]] inline void assert_fail(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: assertion failed: %s\n", file, line, expr);
  std::abort();
}
}  // namespace convlab::detail

#define CONVLAB_ASSERT(expr) \
  ((expr) ? static_cast<void>(0) : ::convlab::detail::assert_fail(#expr, __FILE__, __LINE__))
