#include "server/strategies/paragraphs/visible_index.hpp"

#include "server/core/assert.hpp"

#include <bit>

namespace convlab::paragraphs {

namespace {
std::uint64_t units_of(const Paragraph& p) { return p.exists ? p.text.size() + 1 : 0; }
}  // namespace

void VisibleIndex::grow_to(std::size_t n) {
  CONVLAB_ASSERT(n >= units_.size());
  if (n == units_.size()) return;
  units_.resize(n, 0);
  if (n + 1 <= tree_.size()) return;  // new registers hold nothing: the tree already covers them
  // Capacity a power of two, so locate() can descend it; rebuilt in O(capacity) on growth.
  tree_.assign(std::bit_ceil(n) + 1, 0);
  for (std::size_t i = 1; i < tree_.size(); ++i) {
    if (i <= units_.size()) tree_[i] += units_[i - 1];
    const std::size_t parent = i + (i & (~i + 1));
    if (parent < tree_.size()) tree_[parent] += tree_[i];
  }
}

void VisibleIndex::add(std::size_t index, std::int64_t delta) {
  for (std::size_t i = index + 1; i < tree_.size(); i += i & (~i + 1)) {
    tree_[i] = static_cast<std::uint64_t>(static_cast<std::int64_t>(tree_[i]) + delta);
  }
  total_ = static_cast<std::uint64_t>(static_cast<std::int64_t>(total_) + delta);
}

void VisibleIndex::set(std::uint32_t index, const Paragraph& before, const Paragraph& after) {
  CONVLAB_ASSERT(index < units_.size() && units_[index] == units_of(before));
  // A write usually changes a few characters of a paragraph: only the ids between the common
  // prefix and the common suffix of both contents leave or enter the multiset.
  const std::vector<CharId> none;
  const std::vector<CharId>& gone = before.exists ? before.ids : none;
  const std::vector<CharId>& came = after.exists ? after.ids : none;
  std::size_t head = 0;
  while (head < gone.size() && head < came.size() && gone[head] == came[head]) ++head;
  std::size_t tail = 0;
  while (tail < gone.size() - head && tail < came.size() - head &&
         gone[gone.size() - 1 - tail] == came[came.size() - 1 - tail]) {
    ++tail;
  }
  for (std::size_t i = head; i < gone.size() - tail; ++i) ids_.erase(gone[i]);
  for (std::size_t i = head; i < came.size() - tail; ++i) ids_.insert(came[i]);
  if (before.exists != after.exists || before.term != after.term) {
    if (before.exists) ids_.erase(before.term);
    if (after.exists) ids_.insert(after.term);
  }
  const std::uint64_t now = units_of(after);
  if (now != units_[index]) {
    add(index, static_cast<std::int64_t>(now) - static_cast<std::int64_t>(units_[index]));
    units_[index] = now;
  }
}

VisibleIndex::Place VisibleIndex::locate(std::uint64_t u) const {
  CONVLAB_ASSERT(u < total_);
  // Descend the tree: the longest prefix of registers whose units sum to at most u.
  std::size_t pos = 0;
  std::uint64_t rem = u;
  for (std::size_t step = (tree_.size() - 1); step > 0; step >>= 1) {
    if (pos + step < tree_.size() && tree_[pos + step] <= rem) {
      pos += step;
      rem -= tree_[pos];
    }
  }
  CONVLAB_ASSERT(pos < units_.size() && rem < units_[pos]);
  return Place{static_cast<std::uint32_t>(pos), u - rem};
}

template <class Put>
void VisibleIndex::walk(const std::vector<Register>& regs, std::size_t pos, std::size_t n, Put put) const {
  CONVLAB_ASSERT(regs.size() == units_.size());
  CONVLAB_ASSERT(pos <= length() && n <= length() - pos);
  std::uint64_t u = pos;
  const std::uint64_t end = pos + n;
  while (u < end) {
    const Place p = locate(u);
    const Paragraph& para = regs[p.index].value;
    CONVLAB_ASSERT(para.exists);
    for (std::size_t off = static_cast<std::size_t>(u - p.start); off < para.text.size() && u < end; ++off, ++u) {
      put(para.text[off], para.ids[off]);
    }
    // The '\n' after this paragraph: its term (never the last paragraph's, as end <= length()).
    if (u < end) {
      put(U'\n', para.term);
      ++u;
    }
  }
}

std::u32string VisibleIndex::text_range(const std::vector<Register>& regs, std::size_t pos, std::size_t n) const {
  std::u32string out;
  out.reserve(n);
  walk(regs, pos, n, [&](char32_t c, CharId) { out.push_back(c); });
  return out;
}

std::vector<CharId> VisibleIndex::ids_range(const std::vector<Register>& regs, std::size_t pos, std::size_t n) const {
  std::vector<CharId> out;
  out.reserve(n);
  walk(regs, pos, n, [&](char32_t, CharId id) { out.push_back(id); });
  return out;
}

bool VisibleIndex::contains(const std::vector<Register>& regs, CharId id) const {
  CONVLAB_ASSERT(regs.size() == units_.size());
  const std::size_t copies = ids_.count(id);
  if (copies == 0) return false;
  // One copy of the last visible paragraph's term is not shown.
  const Place last = locate(total_ - 1);
  return copies > 1 || regs[last.index].value.term != id;
}

}  // namespace convlab::paragraphs
