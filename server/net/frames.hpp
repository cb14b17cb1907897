#pragma once
// The WebSocket edge's frame forms (docs/protocol.md): the binary codec is the core's
// (protocol.hpp); this adds the JSON form and the close code each malformed message earns.
#include "server/core/protocol.hpp"
#include "server/core/strategy.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace convlab::net {

// Close codes (docs/protocol.md, "Close codes").
namespace close_code {
inline constexpr std::uint16_t kGoingAway = 1001;
inline constexpr std::uint16_t kTooBig = 1009;
inline constexpr std::uint16_t kTryAgainLater = 1013;
inline constexpr std::uint16_t kBadBinary = 4000;
inline constexpr std::uint16_t kBadJson = 4001;
inline constexpr std::uint16_t kBadField = 4002;
inline constexpr std::uint16_t kUnknownType = 4003;
inline constexpr std::uint16_t kSlowConsumer = 4008;
inline constexpr std::uint16_t kIdle = 4010;
inline constexpr std::uint16_t kDocumentReset = 4011;
// The document's home server is unreachable and this connection's forwarded edits are stuck
// (docs/protocol.md, "Server to server"): reconnect, reload, resend what was not acknowledged.
inline constexpr std::uint16_t kHomeUnreachable = 4012;
// /node only: the peer speaks another version of the node message encoding.
inline constexpr std::uint16_t kNodeVersion = 4020;
inline constexpr std::uint16_t kTokenInvalid = 4401;
inline constexpr std::uint16_t kTokenExpired = 4402;
inline constexpr std::uint16_t kTokenRevoked = 4403;
}  // namespace close_code

struct FrameError {
  std::uint16_t code = close_code::kBadBinary;
  std::string why;
};

using ParsedFrame = std::variant<Frame, FrameError>;

// A binary message from a client: a frame of a kind clients may send, or why not.
ParsedFrame parse_binary_frame(std::span<const std::uint8_t> bytes);

// A text message from a client. `strategy_of` names the strategy whose JSON form an edit's
// `msg` is in (the document's configured strategy). The frame comes back in binary form.
ParsedFrame parse_json_frame(std::string_view text, const std::function<const Strategy&(std::uint32_t)>& strategy_of);

// A whole message from a client: every frame of it in `out`, or why not (the message is
// refused as a whole; nothing of it is applied). `frames_max` 1 is convlab/1 (one frame per
// message, exactly parse_binary_frame / parse_json_frame); more is convlab/2, where a binary
// message is frames back to back and a text message is one JSON frame object or a non-empty JSON
// array of them (docs/protocol.md, "Batches"). Views point into `bytes`, or into `storage` (text
// messages, whose frames are converted to the binary form there).
std::optional<FrameError> parse_binary_message(std::span<const std::uint8_t> bytes, std::size_t frames_max,
                                               std::vector<FrameView>& out);
std::optional<FrameError> parse_json_message(std::string_view text, std::size_t frames_max,
                                             const std::function<const Strategy&(std::uint32_t)>& strategy_of,
                                             Bytes& storage, std::vector<FrameView>& out);

// A server frame in JSON form; `strategy` converts welcome/deliver payloads.
std::string frame_to_json(const Frame& frame, const Strategy& strategy);

// The reason label of a refused frame's text (docs/protocol.md, refused prefixes).
std::string_view refusal_label(std::string_view text);
// True when a refusal the node sent is the answer to an edit (it ends that edit's wait).
bool refusal_ends_edit(std::string_view text);

}  // namespace convlab::net
