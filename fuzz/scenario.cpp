// Fuzz target of the scenario loader (sim/scenario.hpp): any text is a scenario or an error that
// names the place (docs/scenarios.md), never a crash or an exception out of yaml-cpp.
#include "fuzz/targets.hpp"
#include "sim/scenario.hpp"

#include <string>

namespace convlab::fuzz {

void scenario(Input in) {
  const std::string text(reinterpret_cast<const char*>(in.data()), in.size());
  auto s = sim::parse_scenario(text, "fuzz.yaml");
  if (!s) {
    FUZZ_CHECK(s.error().message.starts_with("fuzz.yaml"), "a scenario error names the file");
    return;
  }
  FUZZ_CHECK(!s->variants.empty(), "a loaded scenario has at least one variant");
}

}  // namespace convlab::fuzz
