#include "server/net/peer_wire.hpp"

#include "server/core/wire.hpp"

namespace convlab::net {

namespace {
constexpr std::uint64_t kStrategyNameMax = 32;
constexpr std::uint64_t kRepliesMax = 4096;
}  // namespace

// v1: u8 version, u8 kind (0 forward edit, 1 forward reply, 2 document reset), varint from, varint conn,
// varint agent, varint doc, varint after_index, bytes strategy, bytes payload, varint n, n x bytes.
Bytes encode_peer_message(const PeerMessage& m) {
  Writer w;
  w.u8(kPeerWireVersion);
  w.u8(m.message.kind == NodeMessage::Kind::kForwardEdit    ? 0
       : m.message.kind == NodeMessage::Kind::kForwardReply ? 1
                                                            : 2);
  w.varint(m.message.from);
  w.varint(m.message.conn);
  w.varint(m.message.agent);
  w.varint(m.message.doc);
  w.varint(m.message.after_index);
  w.bytes(std::span(reinterpret_cast<const std::uint8_t*>(m.strategy.data()), m.strategy.size()));
  w.bytes(m.message.payload);
  w.varint(m.message.replies.size());
  for (const Bytes& r : m.message.replies) w.bytes(r);
  return w.take();
}

Result<PeerMessage> decode_peer_message(std::span<const std::uint8_t> bytes, PeerDecodeError* error) {
  PeerDecodeError local;
  PeerDecodeError& e = error != nullptr ? *error : local;
  auto fail = [&](bool version, std::string why) -> Result<PeerMessage> {
    e.version = version;
    e.why = why;
    return make_error(std::move(why));
  };
  if (bytes.empty()) return fail(false, "empty node message");
  if (bytes[0] != kPeerWireVersion) {
    return fail(true, "node message version " + std::to_string(bytes[0]) + " (this server speaks " +
                          std::to_string(kPeerWireVersion) + ")");
  }
  Reader r(bytes);
  r.u8();
  PeerMessage out;
  const std::uint8_t kind = r.u8();
  if (r.ok() && kind > 2) r.fail("kind " + std::to_string(kind) + " is none of 0 (edit), 1 (reply), 2 (reset)");
  out.message.kind = kind == 0   ? NodeMessage::Kind::kForwardEdit
                     : kind == 1 ? NodeMessage::Kind::kForwardReply
                                 : NodeMessage::Kind::kDocReset;
  out.message.from = static_cast<NodeId>(r.varint_max(0xffffffffu, "from"));
  out.message.conn = r.varint();
  out.message.agent = static_cast<AgentId>(r.varint_max(0xffffffffu, "agent"));
  out.message.doc = static_cast<std::uint32_t>(r.varint_max(0xffffffffu, "doc"));
  out.message.after_index = r.varint();
  Bytes name = r.bytes();
  if (r.ok() && name.size() > kStrategyNameMax) r.fail("strategy name longer than 32 bytes");
  out.strategy.assign(name.begin(), name.end());
  out.message.payload = r.bytes();
  const std::uint64_t n = r.varint_max(kRepliesMax, "replies");
  for (std::uint64_t i = 0; i < n && r.ok(); ++i) out.message.replies.push_back(r.bytes());
  if (auto done = r.finish(); !done) return fail(false, "malformed node message: " + done.error().message);
  return out;
}

}  // namespace convlab::net
