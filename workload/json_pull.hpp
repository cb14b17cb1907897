#pragma once
// A pull reader of JSON text: the caller walks the document value by value and keeps only what
// it wants, so a 16 MB editing trace is read straight into its patches without building a DOM
// (issue 17: Boost.JSON's DOM of automerge-paper took most of `convlab trace replay`'s time).
//
// Strict RFC 8259: strings must be valid UTF-8 with valid escapes (lone UTF-16 surrogates
// refused), numbers follow the grammar, nothing but whitespace after the value, nesting at most
// kMaxDepth deep. The first syntax error stops the reader; error() then says where it is
// ("line L, column C: problem", columns counted in bytes) and every call after it returns false.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace convlab {

class JsonPull {
 public:
  enum class Kind : std::uint8_t { kObject, kArray, kString, kNumber, kLiteral, kEnd, kBad };
  static constexpr int kMaxDepth = 64;

  explicit JsonPull(std::string_view text) : begin_(text.data()), p_(text.data()), end_(text.data() + text.size()) {}

  // What the next value is, after skipping whitespace (kEnd: no more text; kBad: a byte that
  // starts no value, or an earlier error).
  Kind peek();

  // Objects: begin_object(), then `while (member(key)) { read or skip the value }`. member()
  // returns false at the closing brace (consumed) or on an error (failed()). A key is valid
  // until the next call on the reader.
  bool begin_object();
  bool member(std::string_view& key);
  // Arrays: begin_array(), then `while (element()) { read or skip the value }`.
  bool begin_array();
  bool element();

  // A string value decoded to code points (appended to out).
  bool string(std::u32string& out);
  // A number: kUint when it is a non-negative integer that fits 64 bits (in out), kOther for
  // any other valid number (negative, fraction, exponent, too large), kBad on a syntax error or
  // when the next value is not a number.
  enum class Num : std::uint8_t { kUint, kOther, kBad };
  Num number(std::uint64_t& out);
  // Any value, checked as thoroughly as if it were read.
  bool skip();
  // Only whitespace left.
  bool finish();

  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  std::size_t offset() const { return static_cast<std::size_t>(p_ - begin_); }
  std::size_t remaining() const { return static_cast<std::size_t>(end_ - p_); }
  // Back to an offset where a value starts (one offset() gave); clears nothing else.
  void seek(std::size_t offset) { p_ = begin_ + offset; first_ = false; }

 private:
  bool fail(const char* problem);
  void skip_ws();
  bool expect(char c, const char* problem);
  // A string's contents (after the opening quote), checked; code points appended to out when
  // out is not null.
  bool read_string_body(std::u32string* out);
  bool read_key(std::string_view& key);
  bool skip_value();  // recursion bounded by kMaxDepth (begin_object/begin_array)

  const char* begin_;
  const char* p_;
  const char* end_;
  bool first_ = false;  // just after '[' or '{': no comma before the next element
  int depth_ = 0;
  std::string key_scratch_;
  std::string error_;
};

}  // namespace convlab
