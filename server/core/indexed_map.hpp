#pragma once
// A std::map whose lookups by key are hashed: iteration stays in key order (what a node sends
// and stores may depend on that order), while find / at / contains / operator[] / erase by key
// cost one hash probe instead of a walk down a tree as deep as the map is large. The node finds
// its connection and document on every frame, reply and record; with thousands of each (a
// simulated world of 10,000 clients on 8 servers) the tree's depth, a cache miss per level, grew
// with the world (issue 17, item 4).
//
// The subset of std::map the node uses. Iterators are std::map's (stable until their element is
// erased); the index holds one per element.
#include "server/core/assert.hpp"

#include <cstddef>
#include <map>
#include <unordered_map>
#include <utility>

namespace convlab {

template <typename K, typename V>
class IndexedMap {
  using Map = std::map<K, V>;

 public:
  using iterator = typename Map::iterator;
  using const_iterator = typename Map::const_iterator;

  iterator begin() { return map_.begin(); }
  iterator end() { return map_.end(); }
  const_iterator begin() const { return map_.begin(); }
  const_iterator end() const { return map_.end(); }
  std::size_t size() const { return map_.size(); }
  bool empty() const { return map_.empty(); }

  iterator find(const K& k) {
    auto it = index_.find(k);
    return it == index_.end() ? map_.end() : it->second;
  }
  const_iterator find(const K& k) const {
    auto it = index_.find(k);
    return it == index_.end() ? map_.end() : const_iterator(it->second);
  }
  bool contains(const K& k) const { return index_.contains(k); }
  // REQUIRES: the key is present.
  V& at(const K& k) {
    auto it = index_.find(k);
    CONVLAB_ASSERT(it != index_.end());
    return it->second->second;
  }
  const V& at(const K& k) const {
    auto it = index_.find(k);
    CONVLAB_ASSERT(it != index_.end());
    return it->second->second;
  }
  std::pair<iterator, bool> try_emplace(const K& k) {
    auto it = index_.find(k);
    if (it != index_.end()) return {it->second, false};
    auto m = map_.try_emplace(k).first;
    index_.emplace(k, m);
    return {m, true};
  }
  V& operator[](const K& k) { return try_emplace(k).first->second; }
  std::size_t erase(const K& k) {
    auto it = index_.find(k);
    if (it == index_.end()) return 0;
    map_.erase(it->second);
    index_.erase(it);
    return 1;
  }
  iterator erase(iterator it) {
    index_.erase(it->first);
    return map_.erase(it);
  }

 private:
  Map map_;
  std::unordered_map<K, iterator> index_;  // lookup only, never iterated
};

}  // namespace convlab
