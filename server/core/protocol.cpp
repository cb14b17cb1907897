#include "server/core/protocol.hpp"

#include "server/core/wire.hpp"

namespace convlab {

Bytes encode_frame(const Frame& f) {
  Writer w;
  w.u8(static_cast<std::uint8_t>(f.kind));
  w.varint(f.doc);
  if (f.kind == FrameKind::kRefused) {
    w.bytes(std::span(reinterpret_cast<const std::uint8_t*>(f.text.data()), f.text.size()));
  } else {
    w.bytes(f.payload);
  }
  return w.take();
}

Result<Frame> decode_frame(std::span<const std::uint8_t> bytes) {
  if (bytes.size() > kMaxFrameBytes) return make_error("frame of " + std::to_string(bytes.size()) + " bytes is above the limit");
  Reader r(bytes);
  Frame f;
  const std::uint8_t kind = r.u8();
  if (r.ok() && (kind < 1 || kind > 5)) r.fail("unknown frame kind " + std::to_string(kind));
  f.kind = static_cast<FrameKind>(kind);
  f.doc = static_cast<std::uint32_t>(r.varint_max(0xffffffffu, "document id"));
  Bytes payload = r.bytes();
  if (auto done = r.finish(); !done) return done.error();
  if (f.kind == FrameKind::kRefused) {
    f.text.assign(payload.begin(), payload.end());
  } else {
    f.payload = std::move(payload);
  }
  return f;
}

}  // namespace convlab
