#include "server/core/protocol.hpp"

#include "server/core/utf8.hpp"
#include "server/core/wire.hpp"

#include <algorithm>

namespace convlab {

namespace {
std::span<const std::uint8_t> as_bytes(const std::string& s) {
  return std::span(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}
// What a frame carries after its length: the payload, or a refusal's UTF-8 reason.
std::span<const std::uint8_t> payload_of(const Frame& f) {
  return f.kind == FrameKind::kRefused ? as_bytes(f.text) : std::span<const std::uint8_t>(f.payload);
}
}  // namespace

Bytes encode_frame(const Frame& f) {
  Bytes out;
  out.reserve(1 + Writer::varint_size(f.doc) + Writer::bytes_size(payload_of(f).size()));
  append_frame(out, f);
  return out;
}

Result<FrameView> decode_frame_view(std::span<const std::uint8_t> bytes) {
  if (bytes.size() > kFrameBytesMax) return make_error("frame of " + std::to_string(bytes.size()) + " bytes is above the limit");
  Reader r(bytes);
  FrameView f;
  const std::uint8_t kind = r.u8();
  if (r.ok() && (kind < 1 || kind > kLastFrameKind)) r.fail("unknown frame kind " + std::to_string(kind));
  f.kind = static_cast<FrameKind>(kind);
  f.doc = static_cast<std::uint32_t>(r.varint_max(0xffffffffu, "document id"));
  const std::span<const std::uint8_t> payload = r.bytes_view();
  if (auto done = r.finish(); !done) return done.error();
  f.payload = payload;
  f.raw = bytes;
  return f;
}

Result<Frame> decode_frame(std::span<const std::uint8_t> bytes) {
  auto v = decode_frame_view(bytes);
  if (!v) return v.error();
  return to_frame(*v);
}

void append_frame(Bytes& out, FrameKind kind, std::uint32_t doc, std::span<const std::uint8_t> payload) {
  // One allocation at most: a frame written byte by byte into an empty message (the real
  // server's every one-frame message) regrew it three or four times. Doubling keeps a batch's
  // appends linear.
  const std::size_t need = out.size() + 1 + Writer::varint_size(doc) + Writer::bytes_size(payload.size());
  if (need > out.capacity()) out.reserve(std::max(need, 2 * out.capacity()));
  Writer w(std::move(out));
  w.u8(static_cast<std::uint8_t>(kind));
  w.varint(doc);
  w.bytes(payload);
  out = w.take();
}

void append_frame(Bytes& out, const Frame& f) { append_frame(out, f.kind, f.doc, payload_of(f)); }

Bytes encode_batch(std::span<const Frame> frames) {
  Bytes out;
  for (const Frame& f : frames) append_frame(out, f);
  return out;
}

Result<void> decode_batch(std::span<const std::uint8_t> bytes, std::vector<FrameView>& out, std::size_t frames_max) {
  out.clear();
  if (bytes.size() > kFrameBytesMax) return make_error("message of " + std::to_string(bytes.size()) + " bytes is above the limit");
  if (bytes.empty()) return make_error("empty message: at byte 0: no frame");
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    const std::size_t index = out.size();
    auto fail = [&](const std::string& why) -> Result<void> {
      out.clear();
      return make_error((index == 0 && frames_max == 1 ? std::string() : "frame " + std::to_string(index + 1) + ", ") + why);
    };
    if (index >= frames_max) {
      return fail("at byte " + std::to_string(pos) + ": more than " + std::to_string(frames_max) +
                  (frames_max == 1 ? " frame in one message (trailing bytes)" : " frames in one message"));
    }
    const auto rest = bytes.subspan(pos);
    Reader r(rest);
    const std::uint8_t kind = r.u8();
    if (r.ok() && (kind < 1 || kind > kLastFrameKind)) r.fail("unknown frame kind " + std::to_string(kind));
    const auto doc = static_cast<std::uint32_t>(r.varint_max(0xffffffffu, "document id"));
    const std::uint64_t length = r.varint();
    if (r.ok() && length > r.remaining()) {
      r.fail("payload length " + std::to_string(length) + " exceeds the " + std::to_string(r.remaining()) +
             " bytes left");
    }
    if (!r.ok()) return fail("at byte " + std::to_string(pos) + " of the message, " + r.error().message);
    const std::size_t start = r.offset();
    FrameView v;
    v.kind = static_cast<FrameKind>(kind);
    v.doc = doc;
    v.payload = rest.subspan(start, length);
    v.raw = rest.subspan(0, start + length);
    out.push_back(v);
    pos += start + length;
  }
  return {};
}

Frame to_frame(const FrameView& v) {
  Frame f;
  f.kind = v.kind;
  f.doc = v.doc;
  if (v.kind == FrameKind::kRefused) {
    f.text.assign(v.payload.begin(), v.payload.end());
  } else {
    f.payload.assign(v.payload.begin(), v.payload.end());
  }
  return f;
}


Bytes encode_subscribe(std::uint64_t version) {
  Writer w;
  w.varint(version);
  return w.take();
}

Result<std::uint64_t> decode_subscribe(std::span<const std::uint8_t> bytes) {
  Reader r(bytes);
  const std::uint64_t v = r.varint();
  if (auto done = r.finish(); !done) return done.error();
  return v;
}

Bytes encode_subscribe(std::uint64_t version, bool versions) {
  Writer w;
  w.varint(version);
  if (versions) w.u8(kHelloVersions);
  return w.take();
}

Result<SubscribeMsg> decode_subscribe_msg(std::span<const std::uint8_t> bytes) {
  Reader r(bytes);
  SubscribeMsg m;
  m.version = r.varint();
  if (!r.at_end()) {
    // One byte after the version, and only kHelloVersions: anything else is a broken frame.
    if (r.u8() != kHelloVersions) return make_error("subscribe: a byte after the version must be 1 (asks for versions)");
    m.versions = true;
  }
  if (auto done = r.finish(); !done) return done.error();
  return m;
}

Bytes encode_rename(const RenameMsg& r) {
  Writer w;
  w.varint(r.base);
  w.bytes(as_bytes(r.title));
  return w.take();
}

Result<RenameMsg> decode_rename(std::span<const std::uint8_t> bytes) {
  Reader r(bytes);
  RenameMsg out;
  out.base = r.varint_max(~std::uint64_t{0}, "title version");
  Bytes title = r.bytes();
  if (auto done = r.finish(); !done) return done.error();
  out.title.assign(title.begin(), title.end());
  // The title goes to JSON clients, the store's text column and every other client as it is:
  // bytes that are not UTF-8 are refused here (found by fuzz/frames_diff).
  if (auto text = utf8_decode(out.title); !text) return make_error("title is not UTF-8: " + text.error().message);
  return out;
}

Bytes encode_title(const TitleMsg& t) {
  Writer w;
  w.varint(t.version);
  w.bytes(as_bytes(t.title));
  w.u8(t.answer);
  return w.take();
}

Result<TitleMsg> decode_title(std::span<const std::uint8_t> bytes) {
  Reader r(bytes);
  TitleMsg out;
  out.version = r.varint_max(~std::uint64_t{0}, "title version");
  Bytes title = r.bytes();
  out.answer = r.u8();
  if (auto done = r.finish(); !done) return done.error();
  if (out.answer > 2) return make_error("title answer " + std::to_string(out.answer) + " is not 0, 1 or 2");
  out.title.assign(title.begin(), title.end());
  if (auto text = utf8_decode(out.title); !text) return make_error("title is not UTF-8: " + text.error().message);
  return out;
}

}  // namespace convlab
