#pragma once
// The typing workload: what a client edits next and when. The simulator (sim/world.cpp) and the
// real load client (load/) both draw from here, so a simulated run and a real run type the same
// way: same configuration and generator state, same edits and pauses.
//
// Determinism: every draw comes from the caller's Rng, in a fixed order (the splice's draws,
// then the pause's); nothing here reads a clock or keeps state of its own.
#include "server/core/rng.hpp"
#include "server/core/types.hpp"

#include <cstdint>

namespace convlab {
class ClientReplica;
}

namespace convlab::workload {

// A closed range [min, max] drawn uniformly from the caller's generator.
struct RangeMs {
  std::int64_t min = 0;
  std::int64_t max = 0;
};

struct TypingConfig {
  RangeMs think_ms{500, 2000};     // pause between a client's edits
  double burst_prob = 0.0;         // chance that an edit starts a burst of fast edits
  std::uint32_t burst_len = 5;     // edits in a burst
  std::int64_t burst_gap_ms = 50;  // pause between edits within a burst
  double same_paragraph_prob = 0.0;  // chance to edit the document's shared "hot" paragraph (0)
  double insert_prob = 0.8;        // otherwise a delete
  std::uint32_t insert_len_max = 3;  // characters per insert, 1..max
  std::uint32_t delete_len_max = 2;
  double newline_prob = 0.02;      // chance an insert is a new paragraph
  // Pause between a client's API reloads of its document (HTTP GET through the CDN), drawn per
  // reload; {0, 0}: clients never reload. A reload of a paragraph strategy (lww, seq) is a page
  // reload: the client shows what the API served and subscribes to changes from then on.
  RangeMs reload_ms{0, 0};
  // The share of those API reads that ask for an older version of the document (?version=N, N
  // drawn from 1 to the latest version the client knows): a look at the history, never a load
  // the client edits on.
  double version_read_share = 0;
  // Pause between a client's renames of its document's title; {0, 0}: never.
  RangeMs rename_ms{0, 0};
  // Caret moves per second per client (presence: an awareness frame each, evenly spaced, never
  // an edit); 0: clients send no presence at all.
  double caret_moves_per_s = 0;
};

// The most caret moves per second per client a workload may ask for.
inline constexpr double kCaretMovesPerSMax = 1000;

// Uniform in [range.min, range.max] milliseconds, in microseconds.
inline std::int64_t draw_us(Rng& r, RangeMs range_ms) {
  return r.between(range_ms.min * 1000, range_ms.max * 1000);
}

// A typist's state between edits: how many fast edits of a burst are left.
struct Typist {
  std::uint32_t burst_left = 0;
};

// A drawn edit and the paragraph index of its position in the text it was drawn on.
struct DrawnEdit {
  Splice splice;
  std::uint32_t para = 0;
};

// The next edit of the client numbered `slot` among its document's clients, on the text its
// replica shows. Paragraph 0 is the document's shared "hot" paragraph (chosen with
// same_paragraph_prob); otherwise the client keeps to its own paragraph 1 + slot, or the last
// one there is. Only the paragraphs up to that one are read from the replica.
DrawnEdit next_edit(Rng& rng, const TypingConfig& w, const ClientReplica& text, std::uint32_t slot);

// The pause before the client's next edit, microseconds (at least 1): think time, or the gap
// within a burst; `rate_multiplier` > 1 types faster. REQUIRES: rate_multiplier > 0.
std::int64_t next_pause_us(Rng& rng, const TypingConfig& w, Typist& typist, double rate_multiplier);

// Think time for a mean rate of `edits_per_s` edits per second per client: uniform over
// [mean / 2, mean * 3 / 2] (no bursts). REQUIRES: edits_per_s > 0.
TypingConfig at_rate(double edits_per_s);

}  // namespace convlab::workload
