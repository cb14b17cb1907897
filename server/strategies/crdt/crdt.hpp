#pragma once
#include "server/core/strategy.hpp"

namespace convlab {
const Strategy& crdt_strategy();
}  // namespace convlab
