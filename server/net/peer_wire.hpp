#pragma once
// The encoding of NodeMessages on the link between two convlab-servers (`/node`,
// docs/protocol.md "Server to server"): one binary WebSocket message per NodeMessage, versioned,
// built from wire.hpp's Writer and decoded with its bounds-checked Reader. Decoding never trusts
// its input: every length is capped and the first problem is returned naming the byte offset.
#include "server/core/node.hpp"

#include <span>
#include <string>

namespace convlab::net {

inline constexpr std::uint8_t kPeerWireVersion = 1;
// A NodeMessage names its strategy, so a server configured with another strategy for the
// document refuses it instead of feeding it to the wrong node.
struct PeerMessage {
  std::string strategy;
  NodeMessage message;
};

Bytes encode_peer_message(const PeerMessage& m);

struct PeerDecodeError {
  bool version = false;  // an unknown version byte (close 4020), else malformed (close 4000)
  std::string why;
};
// Either the message or why not.
Result<PeerMessage> decode_peer_message(std::span<const std::uint8_t> bytes, PeerDecodeError* error);

}  // namespace convlab::net
