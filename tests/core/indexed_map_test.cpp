// IndexedMap (server/core/indexed_map.hpp) answers every lookup std::map answers and iterates in
// the same order, through any sequence of inserts, lookups and erasures (by key and by iterator).
#include "server/core/indexed_map.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstdint>
#include <map>
#include <vector>

namespace convlab {
namespace {

std::vector<std::pair<std::uint32_t, int>> contents(const IndexedMap<std::uint32_t, int>& m) {
  std::vector<std::pair<std::uint32_t, int>> out;
  for (const auto& [k, v] : m) out.emplace_back(k, v);
  return out;
}

std::vector<std::pair<std::uint32_t, int>> contents(const std::map<std::uint32_t, int>& m) {
  return {m.begin(), m.end()};
}

RC_GTEST_PROP(IndexedMap, BehavesAsStdMap, (const std::vector<std::uint8_t>& script)) {
  IndexedMap<std::uint32_t, int> got;
  std::map<std::uint32_t, int> want;
  int value = 0;
  for (std::size_t i = 0; i + 1 < script.size(); i += 2) {
    const std::uint32_t key = script[i + 1] % 32;  // few keys: hits, misses and re-inserts
    switch (script[i] % 6) {
      case 0: {  // operator[]
        got[key] = ++value;
        want[key] = value;
        break;
      }
      case 1: {  // try_emplace
        const auto [it, fresh] = got.try_emplace(key);
        const auto [wit, wfresh] = want.try_emplace(key);
        RC_ASSERT(fresh == wfresh);
        RC_ASSERT(it->first == wit->first);
        RC_ASSERT(it->second == wit->second);
        break;
      }
      case 2:  // erase by key
        RC_ASSERT(got.erase(key) == want.erase(key));
        break;
      case 3: {  // erase by iterator: the next element is the same
        auto it = got.find(key);
        auto wit = want.find(key);
        RC_ASSERT((it == got.end()) == (wit == want.end()));
        if (it == got.end()) break;
        auto next = got.erase(it);
        auto wnext = want.erase(wit);
        RC_ASSERT((next == got.end()) == (wnext == want.end()));
        if (next != got.end()) RC_ASSERT(next->first == wnext->first);
        break;
      }
      case 4: {  // lookups
        RC_ASSERT(got.contains(key) == want.contains(key));
        const auto& cgot = got;
        auto it = cgot.find(key);
        RC_ASSERT((it == cgot.end()) == !want.contains(key));
        if (want.contains(key)) {
          RC_ASSERT(it->second == want.at(key));
          RC_ASSERT(got.at(key) == want.at(key));
        }
        break;
      }
      default: {  // write through at()
        if (want.contains(key)) {
          got.at(key) = ++value;
          want.at(key) = value;
        }
        break;
      }
    }
    RC_ASSERT(got.size() == want.size());
    RC_ASSERT(got.empty() == want.empty());
  }
  RC_ASSERT(contents(got) == contents(want));
}

}  // namespace
}  // namespace convlab
