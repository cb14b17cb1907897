#pragma once
// The paragraph-register model shared by `lww` and `seq` (DESIGN.md: "last-writer-wins per
// paragraph"). The document is a row of registers addressed by paragraph index; each register
// holds one paragraph's text with a CharId per character, whether the paragraph exists, and the
// stamp of the write that put it there. The visible text is the existing paragraphs in index
// order joined by '\n'.
//
// Every paragraph also carries `term`: the identity of the '\n' that ends it. The separator shown
// between two visible paragraphs is the first one's `term`, so a checker can follow typed
// newlines as it follows any other character. The last visible paragraph's `term` is not shown.
#include "server/core/types.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace convlab::paragraphs {

// Highest paragraph index + 1 any message may name. Far above any real document (the longest
// trace has a few thousand lines), low enough that a hostile index cannot make a replica grow.
inline constexpr std::uint32_t kParagraphsMax = 1'000'000;

// The `term` of a paragraph whose terminating '\n' nobody typed: the last paragraph of a new
// document. It becomes visible only when a concurrent write appends a paragraph after it.
inline constexpr CharId kSyntheticBreak{kServerAgent, 0};

// How a strategy decides which of two writes to one register wins.
enum class Ordering {
  kClientClock,     // lww: highest (clock_ms, agent, counter); the client's clock decides
  kServerSequence,  // seq: highest server-assigned sequence; client clocks are audit only
};

// Who wrote a register and when. `counter == 0` means "never written" (the initial register).
struct Stamp {
  std::int64_t clock_ms = 0;    // the author's client clock reading
  AgentId agent = 0;            // the author
  std::uint64_t counter = 0;    // the author's own write counter, from 1; breaks equal clocks
  std::uint64_t seq = 0;        // server version at acceptance (0 until the server accepts it)
  std::int64_t server_ms = 0;   // server clock at acceptance (audit only)
  friend bool operator==(const Stamp&, const Stamp&) = default;
};

// True when a write stamped `a` replaces a register stamped `b`. Equal stamps do not replace,
// so re-applying a write is a no-op.
bool beats(Ordering order, const Stamp& a, const Stamp& b);

// One paragraph's content. REQUIRES (checked by the codec for untrusted input):
// ids.size() == text.size(), no '\n' in text, and !exists implies empty text and term {}.
struct Paragraph {
  bool exists = false;
  std::u32string text;
  std::vector<CharId> ids;
  CharId term{};
  friend bool operator==(const Paragraph&, const Paragraph&) = default;
};

struct Register {
  Paragraph value;
  Stamp stamp;
  friend bool operator==(const Register&, const Register&) = default;
};

// A register write: what a local edit produces (stamp filled by the client, seq by the server).
struct Write {
  std::uint32_t index = 0;
  Paragraph value;
  Stamp stamp;
  friend bool operator==(const Write&, const Write&) = default;
};

// A paragraph's new content at an index, before it is stamped.
struct ParagraphEdit {
  std::uint32_t index = 0;
  Paragraph value;
  friend bool operator==(const ParagraphEdit&, const ParagraphEdit&) = default;
};

// Turns a splice on the visible text of `regs` into paragraph writes, the naive way: every
// visible paragraph whose content (text, ids or term) changes is rewritten at its index, so a
// newline inserted or removed rewrites every later paragraph; indexes past the new end are
// written as not existing. New characters get CharId{agent, next_char++}. Writes come in
// ascending index order. A splice that changes nothing yields nothing.
// REQUIRES: e.pos + e.del <= visible_length(regs).
std::vector<ParagraphEdit> plan_splice(const std::vector<Register>& regs, const Splice& e,
                                       AgentId agent, std::uint32_t& next_char);

// The visible text, its length and its per-character identities (same length as the text).
std::u32string visible_text(const std::vector<Register>& regs);
std::size_t visible_length(const std::vector<Register>& regs);
std::vector<CharId> visible_ids(const std::vector<Register>& regs);

}  // namespace convlab::paragraphs
