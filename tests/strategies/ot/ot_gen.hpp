#pragma once
// Random documents and ops for the ot tests. One generator serves RapidCheck properties and the
// differential test: it draws through `below(n)` (uniform in [0, n)), which the caller backs
// with RapidCheck (so counterexamples shrink) or with convlab::Rng (so a fixed seed gives the
// same cases on every machine).
#include "server/strategies/ot/text_op.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace convlab::ot::testing {

// ASCII, two-, three- and four-byte UTF-8, and astral code points (two UTF-16 units in
// JavaScript, which is where code-point counting and string indexing part ways).
inline constexpr char32_t kAlphabet[] = {U'a', U'b', U'c', U' ', U'\n', U'\u00e9', U'\u20ac',
                                         U'\U0001F600', U'\U0001D11E'};
inline constexpr std::uint64_t kAlphabetSize = sizeof(kAlphabet) / sizeof(kAlphabet[0]);

template <class Below>
std::u32string random_text(std::uint64_t n, Below&& below) {
  std::u32string s;
  for (std::uint64_t i = 0; i < n; ++i) s.push_back(kAlphabet[below(kAlphabetSize)]);
  return s;
}

// Gives each inserted character a distinct id, so tests can follow characters through
// transform and compose.
struct IdSource {
  AgentId agent = 0;
  std::uint32_t next = 0;
  std::vector<CharId> take(std::size_t n) {
    std::vector<CharId> ids;
    for (std::size_t i = 0; i < n; ++i) ids.push_back(CharId{agent, next++});
    return ids;
  }
};

// Components in the order drawn, possibly adjacent ones of one kind and a trailing skip: valid
// against a document of `len` characters once normalized.
template <class Below>
Op random_raw_op(std::uint64_t len, IdSource& ids, Below&& below) {
  Op op;
  std::uint64_t pos = 0;
  const std::uint64_t steps = below(7);
  for (std::uint64_t i = 0; i < steps; ++i) {
    switch (below(3)) {
      case 0:
        if (pos < len) {
          const std::uint64_t k = 1 + below(std::min<std::uint64_t>(len - pos, 6));
          op.push_back(Component::skip(k));
          pos += k;
        }
        break;
      case 1:
        if (pos < len) {
          const std::uint64_t k = 1 + below(std::min<std::uint64_t>(len - pos, 4));
          op.push_back(Component::del(k));
          pos += k;
        }
        break;
      default: {
        std::u32string s = random_text(1 + below(3), below);
        std::vector<CharId> id = ids.take(s.size());
        op.push_back(Component::insert(std::move(s), std::move(id)));
      }
    }
  }
  return op;
}

template <class Below>
Op random_op(std::uint64_t len, IdSource& ids, Below&& below) {
  return normalize(random_raw_op(len, ids, below));
}

// A document of up to `len_max` characters with ids from `ids`.
template <class Below>
Text random_doc(std::uint64_t len_max, IdSource& ids, Below&& below) {
  Text t;
  t.text = random_text(below(len_max + 1), below);
  t.ids = ids.take(t.text.size());
  return t;
}

}  // namespace convlab::ot::testing
