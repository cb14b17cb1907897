#pragma once
#include "server/core/strategy.hpp"

namespace convlab {
const Strategy& ot_strategy();
}  // namespace convlab
