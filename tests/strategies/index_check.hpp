#pragma once
// Holds a client replica's indexed reads (length, text_range, char_ids_range, contains) against
// what ClientReplica's default implementations answer from text() and char_ids(): the
// simulator takes the indexed path when indexes_ids() is true and must see exactly what the
// copy-and-scan path would show, or its histories change.
#include "server/core/strategy.hpp"

#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace convlab::testing {

inline std::string describe(CharId id) {
  return "(" + std::to_string(id.agent) + ", " + std::to_string(id.seq) + ")";
}

// "" when every answer of `r`'s index equals the default's, else the first difference.
// `probes` are ids to ask contains() about beyond those in the document (ids deleted or never
// typed); every position and a spread of lengths are read.
inline std::string index_mismatch(const ClientReplica& r, const std::vector<CharId>& probes) {
  if (!r.indexes_ids()) return "indexes_ids() is false";
  const std::u32string text = r.text();
  const std::vector<CharId> ids = r.char_ids();
  const std::size_t len = r.length();
  if (len != text.size() || len != ids.size()) {
    return "length() " + std::to_string(len) + ", text() " + std::to_string(text.size()) + ", char_ids() " +
           std::to_string(ids.size());
  }
  for (std::size_t pos = 0; pos <= len; ++pos) {
    const std::size_t rest = len - pos;
    for (const std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{5}, rest / 2, rest}) {
      if (n > rest) continue;
      const std::string at = " [" + std::to_string(pos) + ", +" + std::to_string(n) + ") of " + std::to_string(len);
      if (r.text_range(pos, n) != r.ClientReplica::text_range(pos, n)) return "text_range" + at;
      if (r.char_ids_range(pos, n) != r.ClientReplica::char_ids_range(pos, n)) return "char_ids_range" + at;
    }
  }
  const std::set<CharId> present(ids.begin(), ids.end());
  auto check = [&](CharId id) -> std::string {
    const bool want = present.contains(id);
    if (r.contains(id) != want) return "contains" + describe(id) + " should be " + (want ? "true" : "false");
    return {};
  };
  for (const CharId& id : ids) {
    if (auto p = check(id); !p.empty()) return p;
  }
  for (const CharId& id : probes) {
    if (auto p = check(id); !p.empty()) return p;
  }
  // The default itself, for a few probes (the set above stands in for it elsewhere).
  for (std::size_t i = 0; i < probes.size(); i += 7) {
    if (r.contains(probes[i]) != r.ClientReplica::contains(probes[i])) return "contains" + describe(probes[i]);
  }
  return {};
}

// Ids agents [0, agents) may have typed (seq below `seqs`), and the ids strategies make up:
// CharId{} and the server's.
inline std::vector<CharId> id_probes(std::uint32_t agents, std::uint32_t seqs) {
  std::vector<CharId> out{CharId{}, CharId{kServerAgent, 0}, CharId{kServerAgent, 1}};
  for (AgentId a = 0; a < agents; ++a) {
    for (std::uint32_t s = 0; s < seqs; ++s) out.push_back(CharId{a, s});
  }
  return out;
}

}  // namespace convlab::testing
