#include "server/pg/notification.hpp"

#include "server/core/wire.hpp"

#include <openssl/evp.h>


namespace convlab::pg::detail {
namespace {

std::string to_base64(char tag, const Bytes& raw) {
  std::string out(1 + 4 * ((raw.size() + 2) / 3) + 1, '\0');
  out[0] = tag;
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data() + 1), raw.data(), static_cast<int>(raw.size()));
  out.resize(1 + static_cast<std::size_t>(n));
  return out;
}

Result<Bytes> from_base64(std::string_view text) {
  if (text.size() % 4 != 0) return make_error("notification: base64 length " + std::to_string(text.size()) + " is not a multiple of 4");
  for (char c : text) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=';
    if (!ok) return make_error("notification: invalid base64 character");
  }
  Bytes out(text.size() / 4 * 3 + 1);
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return make_error("notification: invalid base64");
  std::size_t size = static_cast<std::size_t>(n);
  // EVP_DecodeBlock counts the padding as zero bytes.
  for (std::size_t i = text.size(); i > 0 && text[i - 1] == '='; --i) --size;
  out.resize(size);
  return out;
}

Writer header(std::uint32_t node, std::uint32_t doc, std::uint64_t first, std::int64_t commit_us, std::uint64_t count) {
  Writer w;
  w.varint(node);
  w.varint(doc);
  w.varint(first);
  w.svarint(commit_us);
  w.varint(count);
  return w;
}

}  // namespace

std::string encode_records(std::uint32_t node, std::uint32_t doc, std::uint64_t first, std::int64_t commit_us,
                           std::span<const LogRecord> records, std::size_t max_bytes) {
  const auto base64_size = [](std::size_t n) { return 1 + (n + 2) / 3 * 4; };
  Writer w = header(node, doc, first, commit_us, records.size());
  const std::size_t header_size = w.view().size();
  // The record bytes alone decide most cases without encoding anything.
  std::size_t at_least = header_size;
  for (const LogRecord& r : records) at_least += 4 + r.record.size();
  if (base64_size(at_least) <= max_bytes) {
    for (const LogRecord& r : records) {
      w.varint(r.author);
      w.svarint(r.client_ms);
      w.svarint(r.server_ms);
      w.bytes(r.record);
    }
    if (base64_size(w.view().size()) <= max_bytes) return to_base64('R', w.view());
  }
  Bytes ref = w.take();
  ref.resize(header_size);
  return to_base64('F', ref);
}

std::string encode_revoked(std::uint32_t user, std::string_view jti) {
  Writer w;
  w.varint(user);
  w.bytes(std::span(reinterpret_cast<const std::uint8_t*>(jti.data()), jti.size()));
  return to_base64('V', w.view());
}

Result<std::variant<RecordsNote, RevokedNote>> decode_note(std::string_view payload) {
  using Note = std::variant<RecordsNote, RevokedNote>;
  if (payload.empty()) return make_error("notification: empty payload");
  const char tag = payload[0];
  if (tag != 'R' && tag != 'F' && tag != 'V') return make_error(std::string("notification: unknown kind '") + tag + "'");
  auto raw = from_base64(payload.substr(1));
  if (!raw) return raw.error();
  Reader in(*raw);
  constexpr std::uint64_t kU32 = 0xffffffffu;
  if (tag == 'V') {
    RevokedNote v;
    v.user = static_cast<std::uint32_t>(in.varint_max(kU32, "user"));
    const Bytes jti = in.bytes();
    v.jti.assign(jti.begin(), jti.end());
    auto done = in.finish();
    if (!done) return make_error("notification: " + done.error().message);
    return Note(std::move(v));
  }
  RecordsNote note;
  note.reference = tag == 'F';
  note.node = static_cast<std::uint32_t>(in.varint_max(kU32, "node"));
  note.doc = static_cast<std::uint32_t>(in.varint_max(kU32, "doc"));
  note.first = in.varint();
  note.commit_us = in.svarint();
  // Each inline record takes at least 4 bytes: a count beyond that is a lie, not an allocation.
  note.count = note.reference ? in.varint() : in.varint_max(in.remaining() / 4, "record count");
  if (in.ok() && (note.first == 0 || note.count == 0)) return make_error("notification: empty record range");
  for (std::uint64_t i = 0; in.ok() && !note.reference && i < note.count; ++i) {
    LogRecord r;
    r.index = note.first + i;
    r.author = static_cast<AgentId>(in.varint_max(kU32, "author"));
    r.client_ms = in.svarint();
    r.server_ms = in.svarint();
    r.record = in.bytes();
    note.records.push_back(std::move(r));
  }
  auto done = in.finish();
  if (!done) return make_error("notification: " + done.error().message);
  return Note(std::move(note));
}

}  // namespace convlab::pg::detail
