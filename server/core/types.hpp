#pragma once
// Vocabulary shared by every strategy, the simulator and the real server.
#include <compare>
#include <cstdint>
#include <string>
#include <vector>

namespace convlab {

using Bytes = std::vector<std::uint8_t>;

// Who made an edit. In traces and the simulator, clients are numbered from 0; the server uses
// kServerAgent where it has to author something itself.
using AgentId = std::uint32_t;
inline constexpr AgentId kServerAgent = 0xffffffffu;

// The identity of one inserted character: its author and the author's own counter. Checkers use
// it to say which acknowledged characters survived; it never takes part in document order
// except where a strategy says so (the CRDT's tie-break compares agents).
struct CharId {
  AgentId agent = 0;
  std::uint32_t seq = 0;
  friend auto operator<=>(const CharId&, const CharId&) = default;
};

// A local edit, as a user makes it, in Unicode code points: at `pos` delete `del` characters,
// then insert `ins` at the same place (Array.prototype.splice, as in the editing traces).
struct Splice {
  std::uint64_t pos = 0;
  std::uint64_t del = 0;
  std::u32string ins;
};

}  // namespace convlab
