#include "server/core/wire.hpp"

#include "server/core/utf8.hpp"

namespace convlab {

void Writer::varint_long(std::uint64_t v) {
  std::uint8_t buf[10];
  std::size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<std::uint8_t>(v | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<std::uint8_t>(v);
  out_.insert(out_.end(), buf, buf + n);
}

namespace {
bool all_ascii(std::u32string_view s) {
  char32_t any = 0;
  for (const char32_t c : s) any |= c;
  return any < 0x80;
}
}  // namespace

std::size_t Writer::text_size(std::u32string_view s) {
  std::size_t n = s.size();
  if (!all_ascii(s)) n = utf8_encode(s).size();
  return varint_size(n) + n;
}

void Writer::text(std::u32string_view s) {
  if (all_ascii(s)) {
    // The common case, written in place: one byte per character.
    varint(s.size());
    const std::size_t old = out_.size();
    out_.resize(old + s.size());
    for (std::size_t i = 0; i < s.size(); ++i) out_[old + i] = static_cast<std::uint8_t>(s[i]);
    return;
  }
  const std::string utf8 = utf8_encode(s);
  varint(utf8.size());
  out_.insert(out_.end(), utf8.begin(), utf8.end());
}

void Writer::bytes(std::span<const std::uint8_t> b) {
  varint(b.size());
  out_.insert(out_.end(), b.begin(), b.end());
}

void Reader::fail(std::string what) {
  if (failed_) return;
  failed_ = true;
  error_ = Error{"at byte " + std::to_string(pos_) + ": " + std::move(what)};
}

std::uint8_t Reader::u8() {
  if (failed_) return 0;
  if (pos_ >= in_.size()) {
    fail("unexpected end of message");
    return 0;
  }
  return in_[pos_++];
}

std::uint64_t Reader::varint_long() {
  if (!failed_ && in_.size() - pos_ >= 10) {
    // Room for the longest varint: no bounds check per byte. The same value and the same
    // errors as the loop below, which reads what is left near the end.
    const std::uint8_t* p = in_.data() + pos_;
    std::uint64_t v = 0;
    for (std::size_t k = 0; k < 10; ++k) {
      const std::uint8_t b = p[k];
      if (k == 9 && b > 1) {
        pos_ += k + 1;
        fail("varint overflows 64 bits");
        return 0;
      }
      v |= static_cast<std::uint64_t>(b & 0x7f) << (7 * k);
      if ((b & 0x80) == 0) {
        pos_ += k + 1;
        return v;
      }
    }
  }
  std::uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    const std::uint8_t b = u8();
    if (failed_) return 0;
    if (shift == 63 && b > 1) {
      fail("varint overflows 64 bits");
      return 0;
    }
    v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return v;
  }
  fail("varint longer than 10 bytes");
  return 0;
}

std::uint64_t Reader::varint_max_long(std::uint64_t max, const char* what) {
  const std::size_t at = pos_;
  const std::uint64_t v = varint();
  if (failed_) return 0;
  if (v > max) {
    pos_ = at;
    fail(std::string(what) + " is " + std::to_string(v) + ", above its limit " + std::to_string(max));
    return 0;
  }
  return v;
}

std::u32string Reader::text() {
  const std::uint64_t n = varint_max(kFieldBytesMax, "text length");
  if (failed_) return {};
  if (n > remaining()) {
    fail("text of " + std::to_string(n) + " bytes runs past the end of the message");
    return {};
  }
  const std::string_view raw(reinterpret_cast<const char*>(in_.data() + pos_), n);
  auto decoded = utf8_decode(raw);
  if (!decoded) {
    fail("text field: " + decoded.error().message);
    return {};
  }
  pos_ += n;
  return std::move(*decoded);
}

std::span<const std::uint8_t> Reader::bytes_view() {
  const std::uint64_t n = varint_max(kFieldBytesMax, "byte string length");
  if (failed_) return {};
  if (n > remaining()) {
    fail("byte string of " + std::to_string(n) + " bytes runs past the end of the message");
    return {};
  }
  const std::span<const std::uint8_t> out = in_.subspan(pos_, n);
  pos_ += n;
  return out;
}

Bytes Reader::bytes() {
  const std::span<const std::uint8_t> v = bytes_view();
  return Bytes(v.begin(), v.end());
}

Result<void> Reader::finish() {
  if (failed_) return error_;
  if (!at_end()) return make_error("at byte " + std::to_string(pos_) + ": " + std::to_string(remaining()) + " trailing bytes");
  return {};
}

}  // namespace convlab
