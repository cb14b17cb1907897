#pragma once
// Reads an editing trace's JSON text (traces/SOURCE.md) straight into AnyTrace with JsonPull:
// no DOM, one pass for a sequential trace, its patches in one flat vector. Errors as
// load_trace's: "FILE: bad JSON: line L, column C: problem" for syntax, "FILE: $.json.path:
// problem" for shape.
#include "workload/trace.hpp"

#include <string>
#include <string_view>

namespace convlab {

Result<AnyTrace> read_trace(const std::string& file, std::string_view text);

}  // namespace convlab
