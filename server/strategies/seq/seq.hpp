#pragma once
#include "server/core/strategy.hpp"

namespace convlab {
const Strategy& seq_strategy();
}  // namespace convlab
