// Fuzz target of the peer link's wire (server/net/peer_wire.hpp): any bytes a peer sends on /node
// decode or are refused with a reason; what decodes encodes back to bytes that decode to the
// same message (the encoding is canonical from there on).
#include "fuzz/targets.hpp"
#include "server/net/peer_wire.hpp"

namespace convlab::fuzz {

void peer_wire(Input in) {
  net::PeerDecodeError error;
  auto m = net::decode_peer_message(in, &error);
  if (!m) {
    FUZZ_CHECK(!error.why.empty(), "a refused node message says why");
    FUZZ_CHECK(!error.version || (!in.empty() && in[0] != net::kPeerWireVersion),
               "only another version byte is a version refusal");
    return;
  }
  FUZZ_CHECK(m->strategy.size() <= 32, "a strategy name is at most 32 bytes");
  const Bytes once = net::encode_peer_message(*m);
  auto back = net::decode_peer_message(once, nullptr);
  FUZZ_CHECK(back.has_value(), "an encoded node message decodes");
  FUZZ_CHECK(net::encode_peer_message(*back) == once, "decode(encode(m)) encodes to the same bytes");
  FUZZ_CHECK(once.size() <= in.size(), "the canonical encoding is never longer than the input");
}

}  // namespace convlab::fuzz
