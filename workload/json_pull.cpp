#include "workload/json_pull.hpp"

#include "server/core/utf8.hpp"

#include <algorithm>

namespace convlab {

namespace {

bool is_ws(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool JsonPull::fail(const char* problem) {
  if (!error_.empty()) return false;
  const char* at = std::min(p_, end_);
  std::size_t line = 1;
  const char* line_start = begin_;
  for (const char* q = begin_; q < at; ++q) {
    if (*q == '\n') {
      ++line;
      line_start = q + 1;
    }
  }
  error_ = "line " + std::to_string(line) + ", column " + std::to_string(at - line_start + 1) + ": " + problem;
  // Stop every later call: peek() sees the end, member() and element() return false.
  p_ = end_;
  return false;
}

void JsonPull::skip_ws() {
  while (p_ < end_ && is_ws(*p_)) ++p_;
}

bool JsonPull::expect(char c, const char* problem) {
  skip_ws();
  if (p_ < end_ && *p_ == c) {
    ++p_;
    return true;
  }
  return fail(problem);
}

JsonPull::Kind JsonPull::peek() {
  if (failed()) return Kind::kBad;
  skip_ws();
  if (p_ == end_) return Kind::kEnd;
  switch (*p_) {
    case '{': return Kind::kObject;
    case '[': return Kind::kArray;
    case '"': return Kind::kString;
    case 't': case 'f': case 'n': return Kind::kLiteral;
    default: return *p_ == '-' || is_digit(*p_) ? Kind::kNumber : Kind::kBad;
  }
}

bool JsonPull::begin_object() {
  if (failed()) return false;
  if (depth_ >= kMaxDepth) return fail("nested deeper than 64 levels");
  if (!expect('{', "expected '{'")) return false;
  ++depth_;
  first_ = true;
  return true;
}

bool JsonPull::begin_array() {
  if (failed()) return false;
  if (depth_ >= kMaxDepth) return fail("nested deeper than 64 levels");
  if (!expect('[', "expected '['")) return false;
  ++depth_;
  first_ = true;
  return true;
}

bool JsonPull::member(std::string_view& key) {
  if (failed()) return false;
  skip_ws();
  if (p_ == end_) return fail("unexpected end of text in an object");
  if (*p_ == '}') {  // (a '}' straight after ',' fails below as a missing key)
    ++p_;
    --depth_;
    first_ = false;
    return false;
  }
  if (!first_) {
    if (*p_ != ',') return fail("expected ',' or '}' after an object member");
    ++p_;
    skip_ws();
  }
  first_ = false;
  if (p_ == end_ || *p_ != '"') return fail("expected a string key");
  if (!read_key(key)) return false;
  return expect(':', "expected ':' after an object key");
}

bool JsonPull::element() {
  if (failed()) return false;
  skip_ws();
  if (p_ == end_) return fail("unexpected end of text in an array");
  if (*p_ == ']') {
    ++p_;
    --depth_;
    first_ = false;
    return false;
  }
  if (!first_) {
    if (*p_ != ',') return fail("expected ',' or ']' after an array element");
    ++p_;
    skip_ws();
    if (p_ < end_ && *p_ == ']') return fail("expected a value after ','");
  }
  first_ = false;
  return true;
}

bool JsonPull::read_key(std::string_view& key) {
  ++p_;  // the opening quote
  const char* start = p_;
  while (p_ < end_) {
    const auto c = static_cast<unsigned char>(*p_);
    if (c == '"') {
      key = std::string_view(start, static_cast<std::size_t>(p_ - start));
      ++p_;
      return true;
    }
    if (c == '\\' || c >= 0x80 || c < 0x20) break;
    ++p_;
  }
  // Escapes or non-ASCII: decode (and check) the whole key, then re-encode it.
  p_ = start;
  std::u32string cps;
  if (!read_string_body(&cps)) return false;
  key_scratch_ = utf8_encode(cps);
  key = key_scratch_;
  return true;
}

bool JsonPull::string(std::u32string& out) {
  if (failed()) return false;
  skip_ws();
  if (p_ == end_ || *p_ != '"') return fail("expected a string");
  ++p_;
  return read_string_body(&out);
}

bool JsonPull::read_string_body(std::u32string* out) {
  while (true) {
    if (p_ == end_) return fail("unterminated string");
    const auto b0 = static_cast<unsigned char>(*p_);
    if (b0 == '"') {
      ++p_;
      return true;
    }
    if (b0 < 0x20) return fail("control character in a string");
    if (b0 == '\\') {
      if (end_ - p_ < 2) return fail("unterminated string");
      const char e = p_[1];
      char32_t cp = 0;
      switch (e) {
        case '"': cp = '"'; break;
        case '\\': cp = '\\'; break;
        case '/': cp = '/'; break;
        case 'b': cp = '\b'; break;
        case 'f': cp = '\f'; break;
        case 'n': cp = '\n'; break;
        case 'r': cp = '\r'; break;
        case 't': cp = '\t'; break;
        case 'u': {
          auto hex4 = [&](const char* q, char32_t& v) {
            if (end_ - q < 4) return false;
            v = 0;
            for (int k = 0; k < 4; ++k) {
              const int h = hex_value(q[k]);
              if (h < 0) return false;
              v = (v << 4) | static_cast<char32_t>(h);
            }
            return true;
          };
          if (!hex4(p_ + 2, cp)) return fail("expected four hex digits after \\u");
          p_ += 6;
          if (cp >= 0xdc00 && cp <= 0xdfff) return fail("lone low surrogate in a \\u escape");
          if (cp >= 0xd800 && cp <= 0xdbff) {
            char32_t lo = 0;
            if (end_ - p_ < 6 || p_[0] != '\\' || p_[1] != 'u' || !hex4(p_ + 2, lo) || lo < 0xdc00 || lo > 0xdfff) {
              return fail("high surrogate not followed by a low surrogate \\u escape");
            }
            p_ += 6;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          }
          if (out) out->push_back(cp);
          continue;
        }
        default: return fail("invalid escape in a string");
      }
      p_ += 2;
      if (out) out->push_back(cp);
      continue;
    }
    if (b0 < 0x80) {
      if (out) out->push_back(b0);
      ++p_;
      continue;
    }
    const Utf8Step st = utf8_step(reinterpret_cast<const unsigned char*>(p_), static_cast<std::size_t>(end_ - p_));
    if (st.problem) {
      p_ += st.at;
      return fail(st.problem);
    }
    if (out) out->push_back(st.cp);
    p_ += st.len;
  }
}

JsonPull::Num JsonPull::number(std::uint64_t& out) {
  if (failed()) return Num::kBad;
  skip_ws();
  if (p_ == end_ || (*p_ != '-' && !is_digit(*p_))) {
    fail("expected a number");
    return Num::kBad;
  }
  bool uint = true;
  if (*p_ == '-') {
    uint = false;
    ++p_;
  }
  if (p_ == end_ || !is_digit(*p_)) {
    fail("expected a digit");
    return Num::kBad;
  }
  std::uint64_t v = 0;
  if (*p_ == '0') {
    ++p_;
    if (p_ < end_ && is_digit(*p_)) {
      fail("leading zero in a number");
      return Num::kBad;
    }
  } else {
    while (p_ < end_ && is_digit(*p_)) {
      const auto d = static_cast<std::uint64_t>(*p_ - '0');
      if (v > (UINT64_MAX - d) / 10) uint = false;
      v = v * 10 + d;
      ++p_;
    }
  }
  if (p_ < end_ && *p_ == '.') {
    uint = false;
    ++p_;
    if (p_ == end_ || !is_digit(*p_)) {
      fail("expected a digit after '.'");
      return Num::kBad;
    }
    while (p_ < end_ && is_digit(*p_)) ++p_;
  }
  if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
    uint = false;
    ++p_;
    if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
    if (p_ == end_ || !is_digit(*p_)) {
      fail("expected a digit in the exponent");
      return Num::kBad;
    }
    while (p_ < end_ && is_digit(*p_)) ++p_;
  }
  if (!uint) {
    // "-0" is zero, as a DOM reader would give it.
    return Num::kOther;
  }
  out = v;
  return Num::kUint;
}

bool JsonPull::skip() { return !failed() && skip_value(); }

bool JsonPull::skip_value() {
  switch (peek()) {
    case Kind::kObject: {
      if (!begin_object()) return false;
      std::string_view key;
      while (member(key)) {
        if (!skip_value()) return false;
      }
      return !failed();
    }
    case Kind::kArray: {
      if (!begin_array()) return false;
      while (element()) {
        if (!skip_value()) return false;
      }
      return !failed();
    }
    case Kind::kString:
      ++p_;
      return read_string_body(nullptr);
    case Kind::kNumber: {
      std::uint64_t ignored = 0;
      return number(ignored) != Num::kBad;
    }
    case Kind::kLiteral: {
      for (const std::string_view lit : {std::string_view("true"), std::string_view("false"), std::string_view("null")}) {
        if (static_cast<std::size_t>(end_ - p_) >= lit.size() && std::string_view(p_, lit.size()) == lit) {
          p_ += lit.size();
          return true;
        }
      }
      return fail("invalid literal");
    }
    case Kind::kEnd: return fail("unexpected end of text, expected a value");
    case Kind::kBad: return fail("unexpected character, expected a value");
  }
  return false;
}

bool JsonPull::finish() {
  if (failed()) return false;
  skip_ws();
  if (p_ != end_) return fail("unexpected text after the JSON value");
  return true;
}

}  // namespace convlab
