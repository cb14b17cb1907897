#include "server/core/utf8.hpp"

#include "server/core/assert.hpp"

namespace convlab {

Utf8Step utf8_step(const unsigned char* in, std::size_t avail) {
  Utf8Step st;
  const unsigned char b0 = in[0];
  char32_t min = 0;
  if ((b0 & 0xe0) == 0xc0) {
    st.len = 2, st.cp = b0 & 0x1f, min = 0x80;
  } else if ((b0 & 0xf0) == 0xe0) {
    st.len = 3, st.cp = b0 & 0x0f, min = 0x800;
  } else if ((b0 & 0xf8) == 0xf0) {
    st.len = 4, st.cp = b0 & 0x07, min = 0x10000;
  } else {
    st.problem = "invalid UTF-8 lead byte";
    return st;
  }
  if (st.len > avail) {
    st.problem = "truncated UTF-8 sequence";
    return st;
  }
  for (std::size_t k = 1; k < st.len; ++k) {
    if ((in[k] & 0xc0) != 0x80) {
      st.problem = "invalid UTF-8 continuation byte";
      st.at = k;
      return st;
    }
    st.cp = (st.cp << 6) | (in[k] & 0x3f);
  }
  if (st.cp < min) st.problem = "overlong UTF-8 sequence";
  else if (st.cp > 0x10ffff) st.problem = "code point above U+10FFFF";
  else if (st.cp >= 0xd800 && st.cp <= 0xdfff) st.problem = "UTF-8 encoded surrogate";
  return st;
}

Result<std::u32string> utf8_decode(std::string_view in) {
  // Written in place (a code point never takes fewer bytes than one): push_back per character
  // was most of decoding a paragraph message's text.
  std::u32string out(in.size(), U'\0');
  char32_t* o = out.data();
  std::size_t k = 0;
  std::size_t i = 0;
  const auto* bytes = reinterpret_cast<const unsigned char*>(in.data());
  while (i < in.size()) {
    const unsigned char b0 = bytes[i];
    if (b0 < 0x80) {
      o[k++] = b0;
      ++i;
      continue;
    }
    const Utf8Step st = utf8_step(bytes + i, in.size() - i);
    if (st.problem) return make_error(std::string(st.problem) + " at offset " + std::to_string(i + st.at));
    o[k++] = st.cp;
    i += st.len;
  }
  out.resize(k);
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
