#include "workload/typing.hpp"

#include "server/core/assert.hpp"
#include "server/core/strategy.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

namespace convlab::workload {

DrawnEdit next_edit(Rng& rng, const TypingConfig& w, const ClientReplica& text, std::uint32_t slot) {
  // Paragraph boundaries, up to the client's own paragraph (1 + slot): what comes after it is
  // never edited here. A replica with cheap ranges is read in chunks; others whole.
  const std::size_t len = text.length();
  const std::size_t want = 1 + static_cast<std::size_t>(slot);
  const std::size_t chunk = text.indexes_ids() ? 256 : len;
  std::vector<std::pair<std::size_t, std::size_t>> paras;  // [start, end)
  std::size_t start = 0;
  for (std::size_t base = 0;; base += chunk) {
    const std::size_t n = std::min(chunk, len - base);
    const std::u32string t = text.text_range(base, n);
    for (std::size_t j = 0; j < n && paras.size() <= want; ++j) {
      if (t[j] == U'\n') {
        paras.emplace_back(start, base + j);
        start = base + j + 1;
      }
    }
    if (paras.size() > want) break;
    if (base + n == len) {
      paras.emplace_back(start, len);
      break;
    }
  }
  std::size_t p = 0;
  if (!rng.chance(w.same_paragraph_prob)) p = std::min<std::size_t>(1 + slot, paras.size() - 1);
  const auto [ps, pe] = paras[p];
  const std::size_t plen = pe - ps;
  DrawnEdit out;
  out.para = static_cast<std::uint32_t>(p);  // the position lands in [ps, pe]: p newlines before it
  if (plen > 0 && !rng.chance(w.insert_prob)) {
    const std::size_t n = std::min<std::size_t>(plen, 1 + rng.below(w.delete_len_max));
    const std::size_t at_pos = ps + rng.below(plen - n + 1);
    out.splice = Splice{at_pos, n, {}};
    return out;
  }
  std::u32string ins;
  if (rng.chance(w.newline_prob)) {
    ins = U"\n";
  } else {
    const std::size_t n = 1 + rng.below(w.insert_len_max);
    for (std::size_t i = 0; i < n; ++i) ins.push_back(static_cast<char32_t>(U'a' + rng.below(26)));
  }
  out.splice = Splice{ps + rng.below(plen + 1), 0, std::move(ins)};
  return out;
}

std::int64_t next_pause_us(Rng& rng, const TypingConfig& w, Typist& typist, double rate_multiplier) {
  CONVLAB_ASSERT(rate_multiplier > 0);
  std::int64_t pause_us;
  if (typist.burst_left > 0) {
    --typist.burst_left;
    pause_us = w.burst_gap_ms * 1000;
  } else {
    if (w.burst_len > 0 && rng.chance(w.burst_prob)) typist.burst_left = w.burst_len - 1;
    pause_us = draw_us(rng, w.think_ms);
  }
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(static_cast<double>(pause_us) / rate_multiplier));
}

TypingConfig at_rate(double edits_per_s) {
  CONVLAB_ASSERT(edits_per_s > 0);
  TypingConfig w;
  const double mean_ms = 1000.0 / edits_per_s;
  w.think_ms = RangeMs{static_cast<std::int64_t>(std::llround(mean_ms / 2)),
                       static_cast<std::int64_t>(std::llround(mean_ms * 3 / 2))};
  return w;
}

}  // namespace convlab::workload
