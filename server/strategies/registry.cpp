#include "server/strategies/registry.hpp"

#include "server/strategies/crdt/crdt.hpp"
#include "server/strategies/lww/lww.hpp"
#include "server/strategies/ot/ot.hpp"
#include "server/strategies/seq/seq.hpp"

#include <vector>

namespace convlab {

namespace {
std::vector<const Strategy*>& registered() {
  static std::vector<const Strategy*> all = {
      &lww_strategy(),
      &seq_strategy(),
      &ot_strategy(),
      &crdt_strategy(),
  };
  return all;
}
}  // namespace

std::span<const Strategy* const> strategies() { return registered(); }

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

Result<void> register_strategy(const Strategy& strategy) {
  if (strategy.name.empty()) return make_error("a strategy needs a name");
  if (find_strategy(strategy.name) != nullptr) {
    return make_error("a strategy named " + std::string(strategy.name) + " is registered already");
  }
  registered().push_back(&strategy);
  return {};
}

}  // namespace convlab
