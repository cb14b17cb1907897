#pragma once
// UTF-8 at the edges, code points inside.
#include "server/core/result.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace convlab {

// One multi-byte UTF-8 sequence (lead byte >= 0x80) at in[0..avail): its code point and length,
// or the problem and the offset (from in) of the byte at fault. Shared by utf8_decode and the
// trace reader's JSON strings.
struct Utf8Step {
  char32_t cp = 0;
  std::size_t len = 0;
  const char* problem = nullptr;  // set when the sequence is not a valid scalar value's shortest form
  std::size_t at = 0;
};
Utf8Step utf8_step(const unsigned char* in, std::size_t avail);

// Decodes UTF-8; rejects overlong forms, surrogates, code points above U+10FFFF and truncated
// sequences, naming the byte offset of the problem.
Result<std::u32string> utf8_decode(std::string_view in);

// Encodes code points as UTF-8. REQUIRES: every code point is a Unicode scalar value.
std::string utf8_encode(std::u32string_view in);

}  // namespace convlab
