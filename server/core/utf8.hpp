#pragma once
// UTF-8 at the edges, code points inside.
#include "server/core/result.hpp"

#include <string>
#include <string_view>

namespace convlab {

// Decodes UTF-8; rejects overlong forms, surrogates, code points above U+10FFFF and truncated
// sequences, naming the byte offset of the problem.
Result<std::u32string> utf8_decode(std::string_view in);

// Encodes code points as UTF-8. REQUIRES: every code point is a Unicode scalar value.
std::string utf8_encode(std::u32string_view in);

}  // namespace convlab
