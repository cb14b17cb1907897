#pragma once
// The binary building blocks every strategy's codec uses: LEB128 varints, zigzag for signed
// values, length-prefixed UTF-8 text. The Reader is for untrusted bytes: every read is bounds
// checked, every length is capped, and the first problem is kept as an Error naming the byte
// offset; later reads after an error return zeros and change nothing.
#include "server/core/result.hpp"
#include "server/core/types.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace convlab {

class Writer {
 public:
  Writer() = default;
  explicit Writer(Bytes start) : out_(std::move(start)) {}  // appends to `start`
  void reserve(std::size_t bytes) { out_.reserve(bytes); }
  void u8(std::uint8_t v) { out_.push_back(v); }
  void varint(std::uint64_t v) {
    if (v < 0x80) {
      out_.push_back(static_cast<std::uint8_t>(v));  // one byte: most varints
      return;
    }
    varint_long(v);
  }
  void svarint(std::int64_t v) {
    varint((static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63));
  }
  void text(std::u32string_view s);  // UTF-8, length-prefixed in bytes
  void bytes(std::span<const std::uint8_t> b);  // length-prefixed
  // Bytes each of the above writes: encoders reserve their exact size once.
  static std::size_t varint_size(std::uint64_t v) {
    std::size_t n = 1;
    while (v >= 0x80) {
      v >>= 7;
      ++n;
    }
    return n;
  }
  static std::size_t svarint_size(std::int64_t v) {
    return varint_size((static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63));
  }
  static std::size_t text_size(std::u32string_view s);
  static std::size_t bytes_size(std::size_t n) { return varint_size(n) + n; }
  Bytes take() { return std::move(out_); }
  const Bytes& view() const { return out_; }

 private:
  void varint_long(std::uint64_t v);

  Bytes out_;
};

class Reader {
 public:
  // Longest text or byte string one field may hold; anything longer is an error, not an
  // allocation.
  static constexpr std::uint64_t kFieldBytesMax = 64u << 20;

  explicit Reader(std::span<const std::uint8_t> in) : in_(in) {}

  std::uint8_t u8();
  std::uint64_t varint() {
    // One byte (most varints): no loop.
    if (!failed_ && pos_ < in_.size() && in_[pos_] < 0x80) return in_[pos_++];
    return varint_long();
  }
  std::int64_t svarint() {
    const std::uint64_t z = varint();
    return static_cast<std::int64_t>(z >> 1) ^ -static_cast<std::int64_t>(z & 1);
  }
  // A varint that must be at most `max`; `what` names the field in the error.
  std::uint64_t varint_max(std::uint64_t max, const char* what) {
    if (!failed_ && pos_ < in_.size() && in_[pos_] < 0x80 && in_[pos_] <= max) return in_[pos_++];
    return varint_max_long(max, what);
  }
  std::u32string text();
  Bytes bytes();
  // bytes() without the copy: a view into the input (empty after an error).
  std::span<const std::uint8_t> bytes_view();

  bool ok() const { return !failed_; }
  bool at_end() const { return pos_ == in_.size(); }
  std::size_t offset() const { return pos_; }
  std::size_t remaining() const { return in_.size() - pos_; }
  void fail(std::string what);
  // Ends decoding: an error if anything failed or bytes are left over.
  Result<void> finish();
  const Error& error() const { return error_; }

 private:
  std::uint64_t varint_long();
  std::uint64_t varint_max_long(std::uint64_t max, const char* what);

  std::span<const std::uint8_t> in_;
  std::size_t pos_ = 0;
  bool failed_ = false;
  Error error_;
};

}  // namespace convlab
