#pragma once
// The one place strategies are registered. Adding a fifth strategy: a folder beside lww/, seq/,
// ot/ and crdt/ that defines `const Strategy& <name>_strategy()`, and one line in registry.cpp.
// A test or a tool that brings its own strategy adds it with register_strategy instead.
#include "server/core/result.hpp"
#include "server/core/strategy.hpp"

#include <span>
#include <string>
#include <string_view>

namespace convlab {

// The built-in strategies in their fixed order, then those registered, in registration order.
// A span returned before a register_strategy call is not valid after it.
std::span<const Strategy* const> strategies();

// nullptr when no strategy has that name.
const Strategy* find_strategy(std::string_view name);

// "lww, seq, ot, crdt": for error messages that list the known strategies.
std::string strategy_names();

// Adds `strategy` (which must outlive every use) after the others. An Error when its name is
// empty or already taken. Not synchronised: register before anything runs in parallel.
Result<void> register_strategy(const Strategy& strategy);

}  // namespace convlab
