#include "server/core/utf8.hpp"

#include "server/core/assert.hpp"

namespace convlab {

Result<std::u32string> utf8_decode(std::string_view in) {
  std::u32string out;
  out.reserve(in.size());
  std::size_t i = 0;
  while (i < in.size()) {
    const auto b0 = static_cast<unsigned char>(in[i]);
    if (b0 < 0x80) {
      out.push_back(b0);
      ++i;
      continue;
    }
    int len = 0;
    char32_t cp = 0;
    char32_t min = 0;
    if ((b0 & 0xe0) == 0xc0) {
      len = 2, cp = b0 & 0x1f, min = 0x80;
    } else if ((b0 & 0xf0) == 0xe0) {
      len = 3, cp = b0 & 0x0f, min = 0x800;
    } else if ((b0 & 0xf8) == 0xf0) {
      len = 4, cp = b0 & 0x07, min = 0x10000;
    } else {
      return make_error("invalid UTF-8 lead byte at offset " + std::to_string(i));
    }
    if (i + static_cast<std::size_t>(len) > in.size()) {
      return make_error("truncated UTF-8 sequence at offset " + std::to_string(i));
    }
    for (int k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(in[i + static_cast<std::size_t>(k)]);
      if ((b & 0xc0) != 0x80) {
        return make_error("invalid UTF-8 continuation byte at offset " + std::to_string(i + static_cast<std::size_t>(k)));
      }
      cp = (cp << 6) | (b & 0x3f);
    }
    if (cp < min) return make_error("overlong UTF-8 sequence at offset " + std::to_string(i));
    if (cp > 0x10ffff) return make_error("code point above U+10FFFF at offset " + std::to_string(i));
    if (cp >= 0xd800 && cp <= 0xdfff) return make_error("UTF-8 encoded surrogate at offset " + std::to_string(i));
    out.push_back(cp);
    i += static_cast<std::size_t>(len);
  }
  return out;
}

std::string utf8_encode(std::u32string_view in) {
  std::string out;
  out.reserve(in.size());
  for (char32_t cp : in) {
    CONVLAB_ASSERT(cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff));
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }
  return out;
}

}  // namespace convlab
