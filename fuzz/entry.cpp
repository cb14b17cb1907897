// The libFuzzer entry of one target; CMake compiles this file once per target with
// CONVLAB_FUZZ_TARGET set to the target's name (fuzz/targets.hpp).
#include "fuzz/targets.hpp"

#include <cstddef>

namespace {
const convlab::fuzz::Target& target() {
  static const convlab::fuzz::Target* t = convlab::fuzz::find_target(CONVLAB_FUZZ_TARGET);
  if (t == nullptr) {
    std::fprintf(stderr, "no fuzz target named %s\n", CONVLAB_FUZZ_TARGET);
    std::abort();
  }
  return *t;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  target().run(convlab::fuzz::Input(data, size));
  return 0;
}
