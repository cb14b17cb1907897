#pragma once
// The frames between a client and a server node, around the strategy's own messages. The same
// frames cross the simulator's links and the real server's WebSocket (docs/protocol.md).
#include "server/core/result.hpp"
#include "server/core/types.hpp"

#include <cstdint>
#include <span>
#include <string>

namespace convlab {

enum class FrameKind : std::uint8_t {
  kHello = 1,    // client -> server: open `doc` (payload: empty)
  kEdit = 2,     // client -> server: a strategy message for `doc`
  kWelcome = 3,  // server -> client: the strategy's welcome for `doc`
  kDeliver = 4,  // server -> client: a strategy message for `doc`
  kRefused = 5,  // server -> client: `text` says why (bad frame, unknown document, ...)
};

struct Frame {
  FrameKind kind = FrameKind::kHello;
  std::uint32_t doc = 0;
  Bytes payload;
  std::string text;  // kRefused only
};

// Largest frame either side accepts; larger is refused before decoding.
inline constexpr std::size_t kMaxFrameBytes = 1u << 20;

Bytes encode_frame(const Frame& f);
Result<Frame> decode_frame(std::span<const std::uint8_t> bytes);

}  // namespace convlab
