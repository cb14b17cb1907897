#pragma once
// The one place strategies are registered. Adding a fifth strategy: a folder beside lww/, seq/,
// ot/ and crdt/ that defines `const Strategy& <name>_strategy()`, and one line in registry.cpp.
#include "server/core/strategy.hpp"

#include <span>
#include <string>
#include <string_view>

namespace convlab {

std::span<const Strategy* const> strategies();

// nullptr when no strategy has that name.
const Strategy* find_strategy(std::string_view name);

// "lww, seq, ot, crdt": for error messages that list the known strategies.
std::string strategy_names();

}  // namespace convlab
