#pragma once
#include "server/core/strategy.hpp"

namespace convlab {
const Strategy& lww_strategy();
}  // namespace convlab
