#include "server/strategies/crdt/doc.hpp"

#include "server/core/assert.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

namespace convlab::crdt {

namespace {

constexpr std::uint32_t kSeqMax = 0xfffffffeu;  // seq + len must stay below 2^32 - 1

std::string id_str(CharId id) {
  return "(" + std::to_string(id.agent) + ", " + std::to_string(id.seq) + ")";
}

// True when [seq, seq + len) is a valid seq range (len >= 1, no overflow past kSeqMax).
bool seq_range_ok(std::uint32_t seq, std::uint64_t len) {
  return len >= 1 && static_cast<std::uint64_t>(seq) + len - 1 <= kSeqMax;
}

}  // namespace

// ---- id index ---------------------------------------------------------------------------------

const std::vector<Doc::Run>* Doc::runs_of(AgentId agent) const {
  const auto it = std::lower_bound(runs_.begin(), runs_.end(), agent,
                                   [](const AgentRuns& a, AgentId v) { return a.agent < v; });
  if (it == runs_.end() || it->agent != agent) return nullptr;
  return &it->runs;
}

std::vector<Doc::Run>& Doc::runs_of_or_add(AgentId agent) {
  auto it = std::lower_bound(runs_.begin(), runs_.end(), agent,
                             [](const AgentRuns& a, AgentId v) { return a.agent < v; });
  if (it == runs_.end() || it->agent != agent) it = runs_.insert(it, AgentRuns{agent, {}});
  return it->runs;
}

std::optional<std::uint32_t> Doc::lookup(CharId id) const {
  const Run* r = run_at(id);
  if (r == nullptr) return std::nullopt;
  return r->arena + (id.seq - r->seq);
}

const Doc::Run* Doc::run_at(CharId id) const {
  const std::vector<Run>* found = runs_of(id.agent);
  if (found == nullptr) return nullptr;
  const std::vector<Run>& runs = *found;
  // Fast path: most lookups hit the newest run (typing, relayed ops).
  const Run* r = nullptr;
  if (!runs.empty() && id.seq >= runs.back().seq) {
    r = &runs.back();
  } else {
    auto ub = std::upper_bound(runs.begin(), runs.end(), id.seq,
                               [](std::uint32_t s, const Run& run) { return s < run.seq; });
    if (ub == runs.begin()) return nullptr;
    r = &*(ub - 1);
  }
  if (id.seq - r->seq >= r->len) return nullptr;
  return r;
}

void Doc::index_ids(AgentId agent, std::uint32_t seq, std::uint32_t len, std::uint32_t first) {
  CONVLAB_ASSERT(len >= 1);
  std::vector<Run>& runs = runs_of_or_add(agent);
  if (runs.empty() || seq >= runs.back().seq + runs.back().len) {
    if (!runs.empty()) {
      Run& last = runs.back();
      if (last.seq + last.len == seq && last.arena + last.len == first) {
        last.len += len;
        return;
      }
    }
    runs.push_back(Run{seq, len, first});
    return;
  }
  // Out of seq order (an agent's concurrent branches): insert in the middle, keeping runs
  // sorted and disjoint.
  auto ub = std::upper_bound(runs.begin(), runs.end(), seq,
                             [](std::uint32_t s, const Run& run) { return s < run.seq; });
  if (ub != runs.begin()) {
    const Run& prev = *(ub - 1);
    CONVLAB_ASSERT(prev.seq + prev.len <= seq);
  }
  CONVLAB_ASSERT(ub == runs.end() || seq + len <= ub->seq);
  runs.insert(ub, Run{seq, len, first});
}

std::uint32_t Doc::next_seq(AgentId agent) const {
  const std::vector<Run>* runs = runs_of(agent);
  if (runs == nullptr || runs->empty()) return 0;
  return runs->back().seq + runs->back().len;
}

// ---- document order ---------------------------------------------------------------------------

Doc::Pos Doc::first_pos() const {
  if (order_.empty()) return Pos{};
  return Pos{order_.front(), 0};
}

Doc::Pos Doc::next(Pos p) const {
  CONVLAB_ASSERT(!p.end());
  const Block& b = blocks_[p.block];
  if (p.off + 1 < b.n) return Pos{p.block, p.off + 1};
  if (b.rank + 1 < order_.size()) return Pos{order_[b.rank + 1], 0};
  return Pos{};
}

Doc::Pos Doc::pos_of(std::uint32_t item) const {
  const std::uint32_t bid = items_[item].block;
  const Block& b = blocks_[bid];
  const std::uint32_t* found = std::find(b.items + items_[item].off, b.items + b.n, item);
  CONVLAB_ASSERT(found != b.items + b.n);
  return Pos{bid, static_cast<std::uint32_t>(found - b.items)};
}

int Doc::cmp_items(std::uint32_t a, std::uint32_t b, bool none_first) const {
  if (a == b) return 0;
  if (a == kNone) return none_first ? -1 : 1;
  if (b == kNone) return none_first ? 1 : -1;
  const std::uint32_t ba = items_[a].block;
  const std::uint32_t bb = items_[b].block;
  if (ba != bb) return blocks_[ba].rank < blocks_[bb].rank ? -1 : 1;
  // One scan of the block: whichever comes first.
  const Block& blk = blocks_[ba];
  for (std::uint32_t i = 0; i < blk.n; ++i) {
    if (blk.items[i] == a) return -1;
    if (blk.items[i] == b) return 1;
  }
  CONVLAB_ASSERT(false && "item missing from its block");
  return 0;
}

Doc::Pos Doc::locate_visible(std::size_t index) {
  CONVLAB_ASSERT(index < visible_);
  std::uint32_t c = cur_block_;
  std::size_t s = cur_start_;
  // Walk from whichever of front, cursor and back is nearest: edits cluster, jumps are rare.
  if (c == kNone || (index < s && index < s - index)) {
    c = order_.front();
    s = 0;
  } else if (index >= s && visible_ - index < index - s) {
    c = order_.back();
    s = visible_ - blocks_[c].visible;
  }
  while (index < s) {
    c = order_[blocks_[c].rank - 1];
    s -= blocks_[c].visible;
  }
  while (index >= s + blocks_[c].visible) {
    s += blocks_[c].visible;
    c = order_[blocks_[c].rank + 1];
  }
  cur_block_ = c;
  cur_start_ = s;
  const Block& b = blocks_[c];
  std::size_t k = index - s;
  for (std::uint32_t off = 0; off < b.n; ++off) {
    if (b.vis[off] != 0) {
      if (k == 0) return Pos{c, off};
      --k;
    }
  }
  CONVLAB_ASSERT(false && "block visible count out of step with its slots");
  return Pos{};
}

std::uint32_t Doc::new_block_after(std::uint32_t rank_before) {
  const auto id = static_cast<std::uint32_t>(blocks_.size());
  blocks_.emplace_back();
  const std::uint32_t rank = rank_before == kNone ? 0 : rank_before + 1;
  order_.insert(order_.begin() + rank, id);
  vis_by_rank_.insert(vis_by_rank_.begin() + rank, 0);
  for (std::size_t r = rank; r < order_.size(); ++r) blocks_[order_[r]].rank = static_cast<std::uint32_t>(r);
  return id;
}

void Doc::visible_changed(std::uint32_t block, int delta) {
  // The cursor's start counts the visible items of the blocks before it.
  if (cur_block_ != kNone && blocks_[block].rank < blocks_[cur_block_].rank) {
    cur_start_ = static_cast<std::size_t>(static_cast<std::int64_t>(cur_start_) + delta);
  }
}

void Doc::add_visible(std::uint32_t block, int delta) {
  Block& b = blocks_[block];
  b.visible = static_cast<std::uint32_t>(static_cast<std::int64_t>(b.visible) + delta);
  vis_by_rank_[b.rank] = b.visible;
  visible_ = static_cast<std::size_t>(static_cast<std::int64_t>(visible_) + delta);
  visible_changed(block, delta);
}

Doc::Pos Doc::insert_at(Pos p, std::uint32_t item, char32_t ch) {
  if (order_.empty()) {
    p = Pos{new_block_after(kNone), 0};
  } else if (p.end()) {
    p = Pos{order_.back(), blocks_[order_.back()].n};
  } else if (p.off == 0 && blocks_[p.block].rank > 0) {
    // Same place in document order, but the end of the previous block keeps blocks fuller
    // when typing at a block boundary.
    const std::uint32_t prev = order_[blocks_[p.block].rank - 1];
    if (blocks_[prev].n < kBlockCap) p = Pos{prev, blocks_[prev].n};
  }
  CONVLAB_ASSERT(p.off <= blocks_[p.block].n);
  if (blocks_[p.block].n == kBlockCap) {
    const std::uint32_t nb = new_block_after(blocks_[p.block].rank);
    Block& full = blocks_[p.block];
    Block& fresh = blocks_[nb];
    if (p.off == kBlockCap) {
      // Appending (the common case when typing): start an empty block instead of leaving two
      // half-full ones behind.
      p = Pos{nb, 0};
    } else {
      constexpr std::uint32_t kHalf = kBlockCap / 2;
      const std::uint32_t moved = kBlockCap - kHalf;
      std::memcpy(fresh.items, full.items + kHalf, moved * sizeof(std::uint32_t));
      std::memcpy(fresh.vis, full.vis + kHalf, moved);
      std::memcpy(fresh.chs, full.chs + kHalf, moved * sizeof(char32_t));
      std::uint32_t moved_visible = 0;
      for (std::uint32_t i = 0; i < moved; ++i) {
        items_[fresh.items[i]].block = nb;
        items_[fresh.items[i]].off = static_cast<std::uint8_t>(i);
        moved_visible += fresh.vis[i];
      }
      fresh.n = moved;
      fresh.visible = moved_visible;
      full.n = kHalf;
      full.visible -= moved_visible;
      vis_by_rank_[fresh.rank] = fresh.visible;
      vis_by_rank_[full.rank] = full.visible;
      if (p.off > kHalf) p = Pos{nb, p.off - kHalf};
    }
  }
  Block& b = blocks_[p.block];
  CONVLAB_ASSERT(b.n < kBlockCap && p.off <= b.n);
  std::memmove(b.items + p.off + 1, b.items + p.off, (b.n - p.off) * sizeof(std::uint32_t));
  std::memmove(b.vis + p.off + 1, b.vis + p.off, b.n - p.off);
  std::memmove(b.chs + p.off + 1, b.chs + p.off, (b.n - p.off) * sizeof(char32_t));
  b.items[p.off] = item;
  b.chs[p.off] = ch;
  const bool visible = !items_[item].deleted;
  b.vis[p.off] = visible ? 1 : 0;
  ++b.n;
  items_[item].block = p.block;
  items_[item].off = static_cast<std::uint8_t>(p.off);
  if (visible) add_visible(p.block, 1);
  return p;
}

Doc::Pos Doc::mark_deleted(std::uint32_t item, Pos hint) {
  // The hint: the slot after the previous item deleted, usually where this one is.
  const Pos p = !hint.end() && at(hint) == item ? hint : pos_of(item);
  if (items_[item].deleted) return p;
  items_[item].deleted = true;
  Block& b = blocks_[p.block];
  CONVLAB_ASSERT(b.vis[p.off] == 1 && b.visible > 0);
  b.vis[p.off] = 0;
  add_visible(p.block, -1);
  return p;
}

std::uint32_t Doc::right_parent(std::uint32_t item) const {
  const Item& it = items_[item];
  if (it.right == kNone) return kNone;
  return items_[it.right].left == it.left ? it.right : kNone;
}

// integrateYjsMod (josephg/reference-crdts) in its FugueMax form (diamond-types' integrate),
// over blocks. Items between originLeft and originRight are concurrent with the new item.
// Scanning them: one whose originLeft is further left ends the scan; one with the same
// originLeft is a sibling, ordered by right parent (the originRight when that item is itself a
// child of the same originLeft, else the document end): the same right parent is a true tie,
// ordered by id; a sibling whose right parent comes first may or may not be passed, so we keep
// scanning without moving the destination until we know.
Doc::Pos Doc::find_place(std::uint32_t item, Pos start) const {
  const Item& x = items_[item];
  const std::uint32_t x_rp = right_parent(item);
  Pos dest = start;
  Pos scan = start;
  bool scanning = false;
  while (!scan.end()) {
    const std::uint32_t o = at(scan);
    if (o == x.right) break;
    const Item& other = items_[o];
    const int cl = cmp_items(other.left, x.left, /*none_first=*/true);
    if (cl < 0) break;
    if (cl == 0) {
      const std::uint32_t o_rp = right_parent(o);
      if (o_rp == x_rp) {
        if (x.id < other.id) break;
        scanning = false;
      } else {
        scanning = cmp_items(o_rp, x_rp, /*none_first=*/false) < 0;
      }
    }
    scan = next(scan);
    if (!scanning) dest = scan;
  }
  return dest;
}

// ---- edits ------------------------------------------------------------------------------------

InsertOp Doc::local_insert(std::size_t pos, std::u32string_view text, CharId first_id) {
  CONVLAB_ASSERT(pos <= visible_);
  CONVLAB_ASSERT(!text.empty());
  CONVLAB_ASSERT(seq_range_ok(first_id.seq, text.size()));
  CONVLAB_ASSERT(items_.size() + text.size() < kNone);
  // The new text goes right after the visible character before `pos` (not after the
  // tombstones that follow it), and its originRight is whatever item comes next, tombstone or
  // not: the Eg-walker / diamond-types choice, which the conformance histories encode.
  std::uint32_t left = kNone;
  Pos start = first_pos();
  if (pos > 0) {
    const Pos lp = locate_visible(pos - 1);
    left = at(lp);
    start = next(lp);
  }
  const std::uint32_t right = start.end() ? kNone : at(start);

  InsertOp op;
  op.id = first_id;
  if (left != kNone) op.left = items_[left].id;
  if (right != kNone) op.right = items_[right].id;
  op.text.assign(text);

  const auto first = static_cast<std::uint32_t>(items_.size());
  // Ids past the agent's highest are new; lower ones (an agent's other branch) are looked up.
  const bool check_ids = first_id.seq < next_seq(first_id.agent);
  for (std::size_t i = 0; i < text.size(); ++i) {
    CONVLAB_ASSERT(!check_ids || !lookup(CharId{first_id.agent, first_id.seq + static_cast<std::uint32_t>(i)}));
    Item it;
    it.id = CharId{first_id.agent, first_id.seq + static_cast<std::uint32_t>(i)};
    it.left = i == 0 ? left : first + static_cast<std::uint32_t>(i) - 1;
    it.right = right;
    items_.push_back(it);
  }
  index_ids(first_id.agent, first_id.seq, static_cast<std::uint32_t>(text.size()), first);
  Pos p = start;
  for (std::size_t i = 0; i < text.size(); ++i) {
    p = insert_at(p, first + static_cast<std::uint32_t>(i), text[i]);
    p.off += 1;  // the next character goes right after this one
  }
  return op;
}

DeleteOp Doc::local_delete(std::size_t pos, std::size_t n) {
  CONVLAB_ASSERT(n > 0 && pos + n <= visible_);
  DeleteOp op;
  Pos p = locate_visible(pos);
  for (std::size_t done = 0; done < n; ++done) {
    while (blocks_[p.block].vis[p.off] == 0) p = next(p);
    const std::uint32_t item = at(p);
    const CharId id = items_[item].id;
    if (!op.ranges.empty()) {
      IdRange& last = op.ranges.back();
      if (last.first.agent == id.agent && last.first.seq + last.len == id.seq) {
        ++last.len;
      } else {
        op.ranges.push_back(IdRange{id, 1});
      }
    } else {
      op.ranges.push_back(IdRange{id, 1});
    }
    items_[item].deleted = true;
    blocks_[p.block].vis[p.off] = 0;
    add_visible(p.block, -1);
    if (done + 1 < n) p = next(p);
  }
  return op;
}

Result<void> Doc::apply(const Op& op) {
  if (const auto* ins = std::get_if<InsertOp>(&op)) return apply_insert(*ins);
  return apply_delete(std::get<DeleteOp>(op));
}

Result<void> Doc::apply_insert(const InsertOp& op) {
  // Validate everything first: on any error the document is unchanged.
  if (op.text.empty()) return make_error("insert op with no text");
  if (!seq_range_ok(op.id.seq, op.text.size())) return make_error("insert op seq range overflows");
  if (items_.size() + op.text.size() >= kNone) return make_error("document is full");
  std::uint32_t left = kNone;
  std::uint32_t right = kNone;
  if (op.left) {
    const auto l = lookup(*op.left);
    if (!l) return make_error("insert " + id_str(op.id) + ": originLeft " + id_str(*op.left) + " is unknown here");
    left = *l;
  }
  if (op.right) {
    const auto r = lookup(*op.right);
    if (!r) return make_error("insert " + id_str(op.id) + ": originRight " + id_str(*op.right) + " is unknown here");
    right = *r;
  }
  const auto len = static_cast<std::uint32_t>(op.text.size());
  if (op.id.seq >= next_seq(op.id.agent)) {
    // The usual case: every id is past the agent's highest here, so none is present (no
    // lookup per character), only character 0's originLeft needs checking, and the ids are
    // indexed as one run.
    Pos start = first_pos();
    if (left != kNone) {
      start = next(pos_of(left));
      // originRight right after originLeft (the usual case) follows it.
      if (right != kNone && (start.end() || at(start) != right) && cmp_items(left, right, true) >= 0) {
        return make_error("insert " + id_str(op.id) + ": originRight does not follow originLeft");
      }
    }
    const auto first = static_cast<std::uint32_t>(items_.size());
    Pos p;
    for (std::uint32_t i = 0; i < len; ++i) {
      Item it;
      it.id = CharId{op.id.agent, op.id.seq + i};
      it.left = i == 0 ? left : first + i - 1;
      it.right = right;
      items_.push_back(it);
      // After character 0, each goes right after the one before (see below: prev_fresh).
      p = i == 0 ? find_place(first, start) : Pos{p.block, p.off + 1};
      p = insert_at(p, first + i, op.text[i]);
    }
    index_ids(op.id.agent, op.id.seq, len, first);
    return {};
  }
  // For every character to integrate whose originLeft already exists here, that originLeft
  // must come before originRight; otherwise the op cannot have been made on any state.
  std::vector<std::uint32_t> present(len, kNone);
  bool any_new = false;
  for (std::uint32_t i = 0; i < len; ++i) {
    if (auto a = lookup(CharId{op.id.agent, op.id.seq + i})) {
      present[i] = *a;
    } else {
      any_new = true;
      // Character i's originLeft: the op's for i == 0, else character i - 1, which is checked
      // only when it already existed (a fresh one is placed right before this one).
      const bool check = i == 0 || present[i - 1] != kNone;
      const std::uint32_t l = i == 0 ? left : present[i - 1];
      if (check && l != kNone && right != kNone && cmp_items(l, right, true) >= 0) {
        return make_error("insert " + id_str(op.id) + ": originRight does not follow originLeft");
      }
    }
  }
  if (!any_new) return {};  // a duplicate

  bool prev_fresh = false;
  Pos prev_pos;
  for (std::uint32_t i = 0; i < len; ++i) {
    if (present[i] != kNone) {
      prev_fresh = false;
      continue;
    }
    const auto idx = static_cast<std::uint32_t>(items_.size());
    Item it;
    it.id = CharId{op.id.agent, op.id.seq + i};
    it.left = i == 0 ? left : present[i - 1];
    it.right = right;
    items_.push_back(it);
    index_ids(it.id.agent, it.id.seq, 1, idx);
    present[i] = idx;
    Pos p;
    if (prev_fresh) {
      // The previous character was just placed and nothing can reference it yet, so every
      // item after it has its originLeft further left: the scan would stop at once.
      p = Pos{prev_pos.block, prev_pos.off + 1};
    } else {
      const Pos start = it.left == kNone ? first_pos() : next(pos_of(it.left));
      p = find_place(idx, start);
    }
    prev_pos = insert_at(p, idx, op.text[i]);
    prev_fresh = true;
  }
  return {};
}

Result<void> Doc::apply_delete(const DeleteOp& op) {
  for (const IdRange& r : op.ranges) {
    if (!seq_range_ok(r.first.seq, r.len)) return make_error("delete range " + id_str(r.first) + " has a bad length");
    // A run at a time: a run holds consecutive seqs at consecutive arena indexes.
    for (std::uint32_t i = 0; i < r.len;) {
      const CharId id{r.first.agent, r.first.seq + i};
      const Run* run = run_at(id);
      if (run == nullptr) return make_error("delete target " + id_str(id) + " is unknown here");
      i += std::min(r.len - i, run->seq + run->len - id.seq);
    }
  }
  for (const IdRange& r : op.ranges) {
    for (std::uint32_t i = 0; i < r.len;) {
      const CharId id{r.first.agent, r.first.seq + i};
      const Run* run = run_at(id);
      const std::uint32_t n = std::min(r.len - i, run->seq + run->len - id.seq);
      const std::uint32_t base = run->arena + (id.seq - run->seq);
      // A run's items were inserted together: usually side by side in document order too.
      Pos hint;
      for (std::uint32_t k = 0; k < n; ++k) hint = next(mark_deleted(base + k, hint));
      i += n;
    }
  }
  return {};
}

// ---- reading ----------------------------------------------------------------------------------

std::u32string Doc::text() const {
  std::u32string out;
  out.reserve(visible_);
  for (const std::uint32_t bid : order_) {
    const Block& b = blocks_[bid];
    for (std::uint32_t i = 0; i < b.n; ++i) {
      if (b.vis[i] != 0) out.push_back(b.chs[i]);
    }
  }
  return out;
}

std::vector<CharId> Doc::char_ids() const {
  std::vector<CharId> out;
  out.reserve(visible_);
  for (const std::uint32_t bid : order_) {
    const Block& b = blocks_[bid];
    for (std::uint32_t i = 0; i < b.n; ++i) {
      if (b.vis[i] != 0) out.push_back(items_[b.items[i]].id);
    }
  }
  return out;
}

namespace {
// Calls f(block, slot, count) for the visible items [pos, pos + n) of blocks in `order`, a run
// of consecutive visible slots of one block at a time, skipping whole blocks by their visible
// counts (`vis_by_rank`, one dense array: no block is touched).
template <typename Blocks, typename F>
void for_visible_range(const std::vector<std::uint32_t>& order, const std::vector<std::uint32_t>& vis_by_rank,
                       const Blocks& blocks, std::size_t pos, std::size_t n, F&& f) {
  std::size_t skip = pos;
  std::size_t r = 0;
  while (r < order.size() && skip >= vis_by_rank[r]) {
    skip -= vis_by_rank[r];
    ++r;
  }
  for (; r < order.size() && n > 0; ++r) {
    const auto& b = blocks[order[r]];
    std::uint32_t i = 0;
    while (i < b.n && n > 0) {
      if (b.vis[i] == 0) {
        ++i;
        continue;
      }
      std::uint32_t end = i + 1;  // visible slots [i, end)
      while (end < b.n && b.vis[end] != 0) ++end;
      const std::size_t run = end - i;
      if (skip >= run) {
        skip -= run;
      } else {
        const std::size_t take = std::min(run - skip, n);
        f(b, static_cast<std::uint32_t>(i + skip), take);
        n -= take;
        skip = 0;
      }
      i = end;
    }
  }
}
}  // namespace

std::u32string Doc::text_range(std::size_t pos, std::size_t n) const {
  CONVLAB_ASSERT(pos + n <= visible_);
  std::u32string out(n, U'\0');
  char32_t* dst = out.data();
  for_visible_range(order_, vis_by_rank_, blocks_, pos, n, [&](const Block& b, std::uint32_t i, std::size_t count) {
    std::memcpy(dst, b.chs + i, count * sizeof(char32_t));
    dst += count;
  });
  return out;
}

std::vector<CharId> Doc::char_ids_range(std::size_t pos, std::size_t n) const {
  CONVLAB_ASSERT(pos + n <= visible_);
  std::vector<CharId> out;
  out.reserve(n);
  for_visible_range(order_, vis_by_rank_, blocks_, pos, n, [&](const Block& b, std::uint32_t i, std::size_t count) {
    for (std::size_t k = 0; k < count; ++k) out.push_back(items_[b.items[i + k]].id);
  });
  return out;
}

std::size_t Doc::memory_bytes() const {
  std::size_t total = sizeof(*this);
  total += items_.memory_bytes();
  total += blocks_.capacity() * sizeof(Block);
  total += order_.capacity() * sizeof(std::uint32_t);
  total += vis_by_rank_.capacity() * sizeof(std::uint32_t);
  total += runs_.capacity() * sizeof(AgentRuns);
  for (const AgentRuns& a : runs_) total += a.runs.capacity() * sizeof(Run);
  return total;
}

std::vector<StateRun> Doc::to_runs() const {
  std::vector<StateRun> out;
  for_each_run([&](const RunView& r) {
    out.push_back(StateRun{r.id, r.left, r.right, r.deleted, std::u32string(r.text)});
  });
  return out;
}

Result<Doc> Doc::from_runs(const std::vector<StateRun>& runs) {
  // Every item in document order, with its id; then the ids sorted to find duplicates and
  // resolve origins. Arena indexes follow id order so that each agent's ids form few runs.
  std::uint64_t total = 0;
  for (const StateRun& r : runs) {
    if (!seq_range_ok(r.id.seq, r.text.size())) return make_error("state run " + id_str(r.id) + " has a bad length");
    total += r.text.size();
  }
  if (total >= kNone) return make_error("state holds too many items");
  const auto n = static_cast<std::uint32_t>(total);
  struct Entry {
    CharId id;
    std::uint32_t order;
  };
  std::vector<Entry> sorted;
  sorted.reserve(n);
  {
    std::uint32_t ord = 0;
    for (const StateRun& r : runs) {
      for (std::size_t i = 0; i < r.text.size(); ++i) {
        sorted.push_back(Entry{CharId{r.id.agent, r.id.seq + static_cast<std::uint32_t>(i)}, ord++});
      }
    }
  }
  std::sort(sorted.begin(), sorted.end(), [](const Entry& a, const Entry& b) { return a.id < b.id; });
  for (std::size_t i = 1; i < sorted.size(); ++i) {
    if (sorted[i].id == sorted[i - 1].id) return make_error("state holds id " + id_str(sorted[i].id) + " twice");
  }
  std::vector<std::uint32_t> arena_of(n);  // document order -> arena index
  for (std::uint32_t k = 0; k < n; ++k) arena_of[sorted[k].order] = k;
  auto find = [&](CharId id) -> std::optional<std::uint32_t> {  // -> document order
    auto it = std::lower_bound(sorted.begin(), sorted.end(), id,
                               [](const Entry& e, CharId v) { return e.id < v; });
    if (it == sorted.end() || it->id != id) return std::nullopt;
    return it->order;
  };

  Doc d;
  for (std::uint32_t k = 0; k < n; ++k) d.items_.push_back(Item{});
  std::vector<char32_t> chars(n);  // document order
  std::uint32_t ord = 0;
  for (const StateRun& r : runs) {
    const auto len = static_cast<std::uint32_t>(r.text.size());
    std::uint32_t left = kNone;
    std::uint32_t right = kNone;
    if (r.left) {
      const auto o = find(*r.left);
      if (!o || *o >= ord) return make_error("state run " + id_str(r.id) + ": originLeft missing or not to its left");
      left = arena_of[*o];
    }
    if (r.right) {
      const auto o = find(*r.right);
      if (!o || *o < ord + len) return make_error("state run " + id_str(r.id) + ": originRight missing or not to its right");
      right = arena_of[*o];
    }
    for (std::uint32_t i = 0; i < len; ++i) {
      Item& it = d.items_[arena_of[ord + i]];
      it.id = CharId{r.id.agent, r.id.seq + i};
      it.left = i == 0 ? left : arena_of[ord + i - 1];
      it.right = right;
      it.deleted = r.deleted;
      chars[ord + i] = r.text[i];
    }
    ord += len;
  }
  for (std::uint32_t k = 0; k < n; ++k) d.index_ids(sorted[k].id.agent, sorted[k].id.seq, 1, k);
  // Blocks three quarters full: room for edits before the first splits.
  constexpr std::uint32_t kFill = kBlockCap * 3 / 4;
  for (std::uint32_t o = 0; o < n; ++o) {
    if (o % kFill == 0) d.new_block_after(d.order_.empty() ? kNone : static_cast<std::uint32_t>(d.order_.size() - 1));
    const std::uint32_t bid = d.order_.back();
    Block& b = d.blocks_[bid];
    const std::uint32_t a = arena_of[o];
    b.items[b.n] = a;
    d.items_[a].off = static_cast<std::uint8_t>(b.n);
    b.vis[b.n] = d.items_[a].deleted ? 0 : 1;
    b.chs[b.n] = chars[o];
    b.visible += b.vis[b.n];
    ++b.n;
    d.items_[a].block = bid;
    if (!d.items_[a].deleted) ++d.visible_;
  }
  for (std::size_t r = 0; r < d.order_.size(); ++r) d.vis_by_rank_[r] = d.blocks_[d.order_[r]].visible;
  return d;
}

void Doc::check_invariants() const {
  std::size_t vis_total = 0;
  std::size_t count = 0;
  CONVLAB_ASSERT(order_.size() == blocks_.size());
  CONVLAB_ASSERT(vis_by_rank_.size() == order_.size());
  for (std::size_t i = 1; i < runs_.size(); ++i) CONVLAB_ASSERT(runs_[i - 1].agent < runs_[i].agent);
  for (std::size_t r = 0; r < order_.size(); ++r) {
    const Block& b = blocks_[order_[r]];
    CONVLAB_ASSERT(b.rank == r);
    CONVLAB_ASSERT(b.n >= 1 && b.n <= kBlockCap);
    std::uint32_t v = 0;
    for (std::uint32_t i = 0; i < b.n; ++i) {
      const Item& it = items_[b.items[i]];
      CONVLAB_ASSERT(it.block == order_[r]);
      CONVLAB_ASSERT(it.off <= i);  // pos_of scans from the hint
      CONVLAB_ASSERT(b.vis[i] == (it.deleted ? 0 : 1));
      v += b.vis[i];
      const auto found = lookup(it.id);
      CONVLAB_ASSERT(found && *found == b.items[i]);
      CONVLAB_ASSERT(cmp_items(it.left, b.items[i], true) < 0);
      CONVLAB_ASSERT(cmp_items(b.items[i], it.right, false) < 0);
    }
    CONVLAB_ASSERT(v == b.visible);
    CONVLAB_ASSERT(vis_by_rank_[r] == b.visible);
    vis_total += v;
    count += b.n;
  }
  CONVLAB_ASSERT(vis_total == visible_);
  CONVLAB_ASSERT(count == items_.size());
  if (cur_block_ != kNone) {
    std::size_t s = 0;
    for (std::uint32_t r = 0; r < blocks_[cur_block_].rank; ++r) s += blocks_[order_[r]].visible;
    CONVLAB_ASSERT(s == cur_start_);
  }
}

}  // namespace convlab::crdt
