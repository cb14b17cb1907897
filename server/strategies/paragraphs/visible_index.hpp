#pragma once
// An index over a row of registers that answers what visible_text, visible_length and
// visible_ids (model.hpp) would, a part at a time, without copying the document: the client
// replica keeps one over what it shows, so the simulator's per-edit and per-delivery reads cost
// O(log paragraphs + characters read) instead of O(document).
//
// It holds, per register, the units that register takes in the visible text (its text and the
// '\n' after it: text.size() + 1 when it exists, else 0) in a Fenwick tree, and a multiset of
// the ids of every existing paragraph's characters and `term`. The visible text is those units
// in index order minus the very last '\n' (the last visible paragraph's term is not shown), so
// an id is visible when the multiset holds it, except for one copy of that last term.
//
// The owner calls set() with the old and the new content whenever a register changes.
#include "server/core/types.hpp"
#include "server/strategies/char_id_bag.hpp"
#include "server/strategies/paragraphs/model.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace convlab::paragraphs {

class VisibleIndex {
 public:
  // Registers [size(), n) are added, not existing. REQUIRES: n >= size().
  void grow_to(std::size_t n);
  std::size_t size() const { return units_.size(); }

  // Register `index` held `before` and now holds `after`. REQUIRES: index < size().
  void set(std::uint32_t index, const Paragraph& before, const Paragraph& after);

  // visible_length(regs), visible_text(regs).substr(pos, n), the same part of visible_ids(regs),
  // and whether visible_ids(regs) holds `id`, for the `regs` this index has followed.
  // REQUIRES: pos + n <= length().
  std::size_t length() const { return total_ == 0 ? 0 : static_cast<std::size_t>(total_ - 1); }
  std::u32string text_range(const std::vector<Register>& regs, std::size_t pos, std::size_t n) const;
  std::vector<CharId> ids_range(const std::vector<Register>& regs, std::size_t pos, std::size_t n) const;
  bool contains(const std::vector<Register>& regs, CharId id) const;

 private:
  // The register holding unit `u` and how many units come before it. REQUIRES: u < total_.
  struct Place {
    std::uint32_t index;
    std::uint64_t start;
  };
  Place locate(std::uint64_t u) const;
  void add(std::size_t index, std::int64_t delta);  // Fenwick point update
  // Calls put(ch, id) for the visible characters [pos, pos + n).
  template <class Put>
  void walk(const std::vector<Register>& regs, std::size_t pos, std::size_t n, Put put) const;

  std::vector<std::uint64_t> units_;  // per register: text.size() + 1 when it exists, else 0
  std::vector<std::uint64_t> tree_;   // Fenwick tree over units_ (1-based, tree_[0] unused)
  std::uint64_t total_ = 0;           // sum of units_
  CharIdBag ids_;                     // ids and terms of every existing paragraph
};

}  // namespace convlab::paragraphs
