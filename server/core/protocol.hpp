#pragma once
// The frames between a client and a server node, around the strategy's own messages. The same
// frames cross the simulator's links and the real server's WebSocket (docs/protocol.md).
#include "server/core/result.hpp"
#include "server/core/types.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace convlab {

enum class FrameKind : std::uint8_t {
  kHello = 1,    // client -> server: open `doc` (payload: empty, or kHelloVersions)
  kEdit = 2,     // client -> server: a strategy message for `doc`
  kWelcome = 3,  // server -> client: the strategy's welcome for `doc`
  kDeliver = 4,  // server -> client: a strategy message for `doc`
  kRefused = 5,  // server -> client: `text` says why (bad frame, unknown document, ...)
  // client -> server: receive `doc`'s changes from now on, without a welcome: the client already
  // shows a state it loaded over the API (the naive page load: GET the document, then subscribe).
  kSubscribe = 6,
  kRename = 7,   // client -> server: rename `doc` (payload: encode_rename)
  kTitle = 8,    // server -> client: `doc`'s title (payload: encode_title)
  // Presence (server/core/awareness.hpp): never an edit, never stored.
  kAwareness = 9,  // client -> server: its caret on `doc` (payload: encode_awareness)
  kPresence = 10,  // server -> client: other viewers' carets on `doc` (payload: encode_presence)
  // server -> client, only to a connection whose hello asked (kHelloVersions): the log index of
  // the frame that follows it on `doc` — a welcome's state, or the write an acknowledgement
  // (delivers) acknowledges once committed (payload: encode_version).
  kVersion = 11,
};
// A hello's payload asking for kVersion frames (one byte; an empty hello asks for none, and a
// server that predates them ignores the byte).
inline constexpr std::uint8_t kHelloVersions = 1;

inline constexpr std::uint8_t kLastFrameKind = 11;

struct Frame {
  FrameKind kind = FrameKind::kHello;
  std::uint32_t doc = 0;
  Bytes payload;
  std::string text;  // kRefused only
};

// Largest frame either side accepts; larger is refused before decoding.
inline constexpr std::size_t kFrameBytesMax = 1u << 20;

Bytes encode_frame(const Frame& f);
Result<Frame> decode_frame(std::span<const std::uint8_t> bytes);

// convlab/2 (docs/protocol.md, "Batches"): one WebSocket message may carry several frames back
// to back, each in the form above. A sender puts at most kBatchFramesMax frames in a message.
inline constexpr std::size_t kBatchFramesMax = 256;
// The server starts a new message once the one it is filling holds this many bytes.
inline constexpr std::size_t kBatchTargetBytes = 64u << 10;

// One frame of a decoded message, pointing into the message's bytes (valid while they are).
struct FrameView {
  FrameKind kind = FrameKind::kHello;
  std::uint32_t doc = 0;
  std::span<const std::uint8_t> payload;  // kRefused: the UTF-8 reason
  std::span<const std::uint8_t> raw;      // the whole frame, as encode_frame writes it
};

// Appends one frame, encoded as encode_frame does, to `out` (a batch being filled).
void append_frame(Bytes& out, FrameKind kind, std::uint32_t doc, std::span<const std::uint8_t> payload);
void append_frame(Bytes& out, const Frame& f);
Bytes encode_batch(std::span<const Frame> frames);
// Decodes a whole message of 1 to `frames_max` frames into `out` (cleared first). The message is
// refused as a whole (an Error naming the frame and the problem, `out` left empty) when it is
// empty, when any frame does not decode, when bytes are left after the last frame, or when it
// holds more than `frames_max` frames. decode_batch(bytes, out, 1) accepts what decode_frame does.
Result<void> decode_batch(std::span<const std::uint8_t> bytes, std::vector<FrameView>& out,
                          std::size_t frames_max = kBatchFramesMax);
Frame to_frame(const FrameView& v);
// decode_frame without copying the payload: exactly one frame, views into `bytes`.
Result<FrameView> decode_frame_view(std::span<const std::uint8_t> bytes);

// The title register of a document. A rename names the title version it was made on (`base`);
// the server answers the sender and tells everyone else with a kTitle.
struct RenameMsg {
  std::uint64_t base = 0;  // title version the client showed
  std::string title;       // UTF-8
};
struct TitleMsg {
  std::uint64_t version = 0;  // title version after the change
  std::string title;
  // For the sender of a rename: 1 accepted, 2 refused because its base was not the latest (the
  // notice: the title shown is the winner's); 0: another client's change.
  std::uint8_t answer = 0;
};
// kSubscribe's payload: the log version of the state the client loaded.
Bytes encode_subscribe(std::uint64_t version);
Result<std::uint64_t> decode_subscribe(std::span<const std::uint8_t> bytes);
// The same, optionally followed by one byte kHelloVersions: the subscriber asks for kVersion
// frames, as a hello's payload does (docs/protocol.md, "Versions").
struct SubscribeMsg {
  std::uint64_t version = 0;
  bool versions = false;
};
Bytes encode_subscribe(std::uint64_t version, bool versions);
Result<SubscribeMsg> decode_subscribe_msg(std::span<const std::uint8_t> bytes);
// kVersion's payload: one varint, the log index (same codec as subscribe's).
inline Bytes encode_version(std::uint64_t version) { return encode_subscribe(version); }
inline Result<std::uint64_t> decode_version(std::span<const std::uint8_t> bytes) { return decode_subscribe(bytes); }
Bytes encode_rename(const RenameMsg& r);
Result<RenameMsg> decode_rename(std::span<const std::uint8_t> bytes);
Bytes encode_title(const TitleMsg& t);
Result<TitleMsg> decode_title(std::span<const std::uint8_t> bytes);

}  // namespace convlab
