#pragma once
// A multiset of CharIds with O(1) insert, erase and lookup, for replicas that answer
// ClientReplica::contains from an index instead of scanning their document (ot, and the
// paragraph registers of lww and seq).
//
// Ids are dense per agent (each agent counts its characters from 0), so presence is kept as
// one bit per id in 64-id pages keyed by (agent, seq / 64): about 16 bytes per 64 ids. An id
// present more than once (the paragraph strategies can show one paragraph's characters at two
// indexes after concurrent writes; ops read from JSON all carry CharId{}) keeps its copies
// beyond the first in a second table. Only lookups: nothing here is iterated, so the hashing
// cannot reach any output.
#include "server/core/assert.hpp"
#include "server/core/types.hpp"

#include <boost/unordered/unordered_flat_map.hpp>

#include <cstddef>
#include <cstdint>

namespace convlab {

class CharIdBag {
 public:
  void insert(CharId id) {
    ++size_;
    std::uint64_t& page = pages_[page_key(id)];
    const std::uint64_t bit = bit_of(id);
    if ((page & bit) == 0) {
      page |= bit;
    } else {
      ++extra_[id_key(id)];
    }
  }

  // REQUIRES: count(id) > 0.
  void erase(CharId id) {
    CONVLAB_ASSERT(size_ > 0);
    --size_;
    if (auto e = extra_.find(id_key(id)); e != extra_.end()) {
      if (--e->second == 0) extra_.erase(e);
      return;
    }
    auto p = pages_.find(page_key(id));
    CONVLAB_ASSERT(p != pages_.end() && (p->second & bit_of(id)) != 0);
    p->second &= ~bit_of(id);
    if (p->second == 0) pages_.erase(p);
  }

  bool contains(CharId id) const {
    auto p = pages_.find(page_key(id));
    return p != pages_.end() && (p->second & bit_of(id)) != 0;
  }

  std::size_t count(CharId id) const {
    if (!contains(id)) return 0;
    auto e = extra_.find(id_key(id));
    return 1 + (e == extra_.end() ? 0 : e->second);
  }

  std::size_t size() const { return size_; }

  void clear() {
    pages_.clear();
    extra_.clear();
    size_ = 0;
  }

 private:
  static std::uint64_t page_key(CharId id) { return (std::uint64_t{id.agent} << 32) | (id.seq >> 6); }
  static std::uint64_t id_key(CharId id) { return (std::uint64_t{id.agent} << 32) | id.seq; }
  static std::uint64_t bit_of(CharId id) { return std::uint64_t{1} << (id.seq & 63); }

  boost::unordered_flat_map<std::uint64_t, std::uint64_t> pages_;  // (agent, seq / 64) -> bits
  boost::unordered_flat_map<std::uint64_t, std::uint32_t> extra_;  // id -> copies beyond one
  std::size_t size_ = 0;
};

}  // namespace convlab
