#include "server/core/protocol.hpp"

#include "server/core/wire.hpp"

namespace convlab {

Bytes encode_frame(const Frame& f) {
  Writer w;
  w.reserve(1 + Writer::varint_size(f.doc) +
            Writer::bytes_size(f.kind == FrameKind::kRefused ? f.text.size() : f.payload.size()));
  w.u8(static_cast<std::uint8_t>(f.kind));
  w.varint(f.doc);
  if (f.kind == FrameKind::kRefused) {
    w.bytes(std::span(reinterpret_cast<const std::uint8_t*>(f.text.data()), f.text.size()));
  } else {
    w.bytes(f.payload);
  }
  return w.take();
}

Result<FrameView> decode_frame_view(std::span<const std::uint8_t> bytes) {
  if (bytes.size() > kMaxFrameBytes) return make_error("frame of " + std::to_string(bytes.size()) + " bytes is above the limit");
  Reader r(bytes);
  FrameView f;
  const std::uint8_t kind = r.u8();
  if (r.ok() && (kind < 1 || kind > kLastFrameKind)) r.fail("unknown frame kind " + std::to_string(kind));
  f.kind = static_cast<FrameKind>(kind);
  f.doc = static_cast<std::uint32_t>(r.varint_max(0xffffffffu, "document id"));
  const std::span<const std::uint8_t> payload = r.bytes_view();
  if (auto done = r.finish(); !done) return done.error();
  if (f.kind == FrameKind::kRefused) {
    f.text.assign(payload.begin(), payload.end());
  } else {
    f.payload = payload;
  }
  return f;
}

Result<Frame> decode_frame(std::span<const std::uint8_t> bytes) {
  auto v = decode_frame_view(bytes);
  if (!v) return v.error();
  return Frame{v->kind, v->doc, Bytes(v->payload.begin(), v->payload.end()), std::move(v->text)};
}

namespace {
std::span<const std::uint8_t> as_bytes(const std::string& s) {
  return std::span(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}
}  // namespace

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
  return out;
}

}  // namespace convlab
