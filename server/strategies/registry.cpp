#include "server/strategies/registry.hpp"

#include "server/strategies/crdt/crdt.hpp"
#include "server/strategies/lww/lww.hpp"
#include "server/strategies/ot/ot.hpp"
#include "server/strategies/seq/seq.hpp"

#include <array>

namespace convlab {

std::span<const Strategy* const> strategies() {
  static const std::array<const Strategy*, 4> all = {
      &lww_strategy(),
      &seq_strategy(),
      &ot_strategy(),
      &crdt_strategy(),
  };
  return all;
}

const Strategy* find_strategy(std::string_view name) {
  for (const Strategy* s : strategies()) {
    if (s->name == name) return s;
  }
  return nullptr;
}

std::string strategy_names() {
  std::string out;
  for (const Strategy* s : strategies()) {
    if (!out.empty()) out += ", ";
    out += s->name;
  }
  return out;
}

}  // namespace convlab
