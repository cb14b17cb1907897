#pragma once
// Sorting character ids that come in document order. A paragraph's or a document's ids are
// mostly runs — one author's consecutive ids typed one after another — so sorting the runs
// and laying them out again costs O(n + r log r) for r runs, where std::sort on every id cost
// a third of a long lww world's time (swarm seed 3722: whole-paragraph writes of thousands of
// characters, sorted on every correction and every durable record).
#include "server/core/types.hpp"

#include <algorithm>
#include <vector>

namespace convlab {

// Sorts `ids` ascending (a multiset: equal ids stay, side by side), as std::sort would.
inline void sort_char_ids(std::vector<CharId>& ids) {
  if (ids.size() < 32) {
    std::sort(ids.begin(), ids.end());
    return;
  }
  struct Run {
    CharId first;
    std::uint32_t count;
    bool operator<(const Run& o) const { return first < o.first; }
  };
  std::vector<Run> runs;
  for (const CharId& id : ids) {
    if (!runs.empty()) {
      Run& r = runs.back();
      if (r.first.agent == id.agent && id.seq >= r.first.seq && id.seq - r.first.seq == r.count) {
        ++r.count;
        continue;
      }
    }
    runs.push_back(Run{id, 1});
  }
  // Mostly single ids: nothing to gain.
  if (runs.size() * 4 > ids.size()) {
    std::sort(ids.begin(), ids.end());
    return;
  }
  std::sort(runs.begin(), runs.end());
  std::size_t at = 0;
  for (const Run& r : runs) {
    for (std::uint32_t k = 0; k < r.count; ++k) ids[at++] = CharId{r.first.agent, r.first.seq + k};
  }
  // Runs that overlap (an id held twice) leave the ids unsorted: sort them the plain way.
  if (!std::is_sorted(ids.begin(), ids.end())) std::sort(ids.begin(), ids.end());
}

}  // namespace convlab
