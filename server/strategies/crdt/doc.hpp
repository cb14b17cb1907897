#pragma once
// The sequence CRDT behind the `crdt` strategy: every inserted character is an item with a
// globally unique id (agent, seq) and the ids of its two neighbours at insert time
// (originLeft, and originRight = the next item, tombstones included). Concurrent inserts at one
// place are ordered by the yjsmod scan of josephg/reference-crdts (integrateYjsMod) in the
// FugueMax form that diamond-types / Eg-walker use: siblings (same originLeft) are compared by
// their right parent (originRight when originRight has the same originLeft, else the document
// end) rather than by originRight itself. Plain yjsmod differs on 1 of the 800 conformance
// histories (index 496); this form passes all of them. Runs typed by one user are never
// interleaved with a concurrent run, and exact ties are broken by CharId: agent, then seq (an
// agent that edits on two branches conflicts with itself).
//
// Layout, chosen so that the editing traces replay in tens of milliseconds:
//   - an arena of items (index = uint32), never shrunk: deleted items stay as tombstones;
//   - per agent (a vector sorted by agent), sorted runs (seq range -> consecutive arena
//     indexes), for id lookup;
//   - document order as a list of blocks of up to kBlockCap arena indexes, each block keeping
//     its count of visible items and its characters (so that reading text walks blocks, not the
//     arena), each item knowing its block, the blocks' visible counts also in one dense array by
//     rank (skipping to a position reads that array only), and a cursor cache (block, number of
//     visible items before it) so that position lookups near the previous edit are O(block).
//
// Not thread-safe; deterministic (no hashing, no clocks, no randomness).
#include "server/core/result.hpp"
#include "server/core/types.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace convlab::crdt {

// Inserts text.size() characters with ids (id.agent, id.seq + i). Character 0 has originLeft
// `left` and originRight `right`; character i > 0 has originLeft = character i - 1 and the same
// originRight (one splice travels as one op).
struct InsertOp {
  CharId id;
  std::optional<CharId> left;
  std::optional<CharId> right;
  std::u32string text;
  friend bool operator==(const InsertOp&, const InsertOp&) = default;
};

// `len` ids (agent, seq), (agent, seq + 1), ...
struct IdRange {
  CharId first;
  std::uint32_t len = 0;
  friend bool operator==(const IdRange&, const IdRange&) = default;
};

struct DeleteOp {
  std::vector<IdRange> ranges;
  friend bool operator==(const DeleteOp&, const DeleteOp&) = default;
};

using Op = std::variant<InsertOp, DeleteOp>;

// One run of the full state (welcome, snapshot): consecutive items in document order with ids
// (id.agent, id.seq + i), where item i > 0 has originLeft = item i - 1, all sharing `right` and
// the deleted flag. The state is the list of runs in document order.
struct StateRun {
  CharId id;
  std::optional<CharId> left;
  std::optional<CharId> right;
  bool deleted = false;
  std::u32string text;
  friend bool operator==(const StateRun&, const StateRun&) = default;
};

class Doc {
 public:
  Doc() = default;
  Doc(Doc&&) noexcept = default;
  Doc& operator=(Doc&&) noexcept = default;
  Doc(const Doc&) = default;
  Doc& operator=(const Doc&) = default;

  // Inserts `text` so that its first character lands at visible position `pos`, with ids
  // (first_id.agent, first_id.seq + i), and returns the op that carries the edit to others.
  // REQUIRES: pos <= length(); text is not empty; none of the ids exist yet and
  // first_id.seq + text.size() <= 2^32.
  InsertOp local_insert(std::size_t pos, std::u32string_view text, CharId first_id);

  // Deletes the `n` visible characters from visible position `pos` and returns the op that
  // carries the edit (ids merged into ranges). REQUIRES: pos + n <= length(); n > 0.
  DeleteOp local_delete(std::size_t pos, std::size_t n);

  // Integrates an op made elsewhere. Idempotent: characters already present are skipped and
  // deleting a tombstone is a no-op, so duplicates are harmless. An op whose dependencies are
  // missing (originLeft/originRight or a delete target unknown here) or that is malformed is an
  // Error and leaves the document unchanged.
  Result<void> apply(const Op& op);
  Result<void> apply_insert(const InsertOp& op);
  Result<void> apply_delete(const DeleteOp& op);

  std::u32string text() const;
  // Ids of the visible characters in document order.
  std::vector<CharId> char_ids() const;
  std::size_t length() const { return visible_; }
  // Items including tombstones.
  std::size_t item_count() const { return items_.size(); }
  bool contains(CharId id) const { return lookup(id).has_value(); }
  // True when `id` is here and not deleted. O(log runs of its agent).
  bool visible(CharId id) const {
    const auto i = lookup(id);
    return i.has_value() && !items_[*i].deleted;
  }
  // True when `id` is here as a tombstone.
  bool deleted(CharId id) const {
    const auto i = lookup(id);
    return i.has_value() && items_[*i].deleted;
  }
  // The visible characters [pos, pos + n) and their ids, without copying the rest of the
  // document: O(blocks + n). REQUIRES: pos + n <= length().
  std::u32string text_range(std::size_t pos, std::size_t n) const;
  std::vector<CharId> char_ids_range(std::size_t pos, std::size_t n) const;
  // One past the highest seq of `agent` present here (0 if none): where a client that reloads
  // its own earlier characters resumes its counter.
  std::uint32_t next_seq(AgentId agent) const;

  // Bytes held by the document's structures, by capacity (what the allocator was asked for,
  // minus allocator overhead and with map nodes estimated).
  std::size_t memory_bytes() const;

  // The full state (tombstones included) as runs in document order, and back. from_runs checks
  // everything a received state must satisfy (unique ids, origins present and on the correct
  // side) and returns an Error otherwise.
  std::vector<StateRun> to_runs() const;
  // The runs of to_runs() one at a time, without building them: f(const RunView&) for each, in
  // order (the view's text lives until f returns).
  struct RunView {
    CharId id;
    std::optional<CharId> left;
    std::optional<CharId> right;
    bool deleted = false;
    std::u32string_view text;
  };
  template <typename F>
  void for_each_run(F&& f) const;
  static Result<Doc> from_runs(const std::vector<StateRun>& runs);

  // Checks every internal invariant with CONVLAB_ASSERT (tests call it; O(n)).
  void check_invariants() const;

 private:
  static constexpr std::uint32_t kNone = 0xffffffffu;
  static constexpr std::uint32_t kBlockCap = 128;

  struct Item {
    CharId id;
    std::uint32_t left = kNone;   // arena index of originLeft, kNone = document start
    std::uint32_t right = kNone;  // arena index of originRight, kNone = document end
    std::uint32_t block = kNone;  // id of the block holding this item
    bool deleted = false;          // (its character is in its block: Block::chs)
    // Its slot in its block when it was placed there. Slots only move right within a block
    // (an insert shifts those after it; nothing is removed), and a split resets the moved
    // items' hints, so the item is at `off` or after it: pos_of scans from here.
    std::uint8_t off = 0;
  };
  static_assert(kBlockCap <= 256, "Item::off holds a slot");

  // The item arena in fixed chunks: indexes stay valid, nothing past the first chunk is copied
  // as it grows, and capacity exceeds size by less than one chunk (a doubling vector wastes up
  // to half). The first chunk starts at kFirstChunk items and doubles up to kChunk: a small
  // document (a simulated world holds tens of thousands of them) does not reserve a whole
  // chunk (96 KiB). Nothing holds an Item& across push_back.
  class Arena {
   public:
    static constexpr std::uint32_t kShift = 12;
    static constexpr std::uint32_t kChunk = 1u << kShift;
    static constexpr std::uint32_t kFirstChunk = 64;
    Item& operator[](std::uint32_t i) { return chunks_[i >> kShift][i & (kChunk - 1)]; }
    const Item& operator[](std::uint32_t i) const { return chunks_[i >> kShift][i & (kChunk - 1)]; }
    std::size_t size() const { return size_; }
    void push_back(const Item& it) {
      if ((size_ & (kChunk - 1)) == 0) {
        chunks_.emplace_back();
        chunks_.back().reserve(size_ == 0 ? kFirstChunk : kChunk);
      }
      std::vector<Item>& c = chunks_.back();
      if (c.size() == c.capacity()) {  // the first chunk, or a copied one: doubling, up to kChunk
        c.reserve(std::min<std::size_t>(std::max<std::size_t>(c.size() * 2, kFirstChunk), kChunk));
      }
      c.push_back(it);
      ++size_;
    }
    std::size_t memory_bytes() const {
      std::size_t total = chunks_.capacity() * sizeof(std::vector<Item>);
      for (const auto& c : chunks_) total += c.capacity() * sizeof(Item);
      return total;
    }

   private:
    std::vector<std::vector<Item>> chunks_;
    std::size_t size_ = 0;
  };

  struct Block {
    std::uint32_t rank = 0;     // index in order_
    std::uint32_t n = 0;        // slots used
    std::uint32_t visible = 0;  // slots whose item is not deleted
    std::uint32_t items[kBlockCap];
    std::uint8_t vis[kBlockCap];  // 1 when items[i] is visible: scanned without touching items_
    char32_t chs[kBlockCap];      // the character of items[i]
  };

  // A place in document order: slot `off` of block `block`; block == kNone is the end.
  struct Pos {
    std::uint32_t block = kNone;
    std::uint32_t off = 0;
    bool end() const { return block == kNone; }
  };

  struct Run {
    std::uint32_t seq = 0;
    std::uint32_t len = 0;
    std::uint32_t arena = 0;  // arena index of (agent, seq); the run's items are consecutive
  };
  struct AgentRuns {
    AgentId agent = 0;
    std::vector<Run> runs;
  };
  // The runs of `agent` (nullptr if none); runs_of_or_add adds an empty entry.
  const std::vector<Run>* runs_of(AgentId agent) const;
  std::vector<Run>& runs_of_or_add(AgentId agent);

  std::optional<std::uint32_t> lookup(CharId id) const;
  // The run holding `id` (nullptr if it is not here).
  const Run* run_at(CharId id) const;
  // Records that arena[first .. first+len) hold ids (agent, seq ..). REQUIRES: none exist.
  void index_ids(AgentId agent, std::uint32_t seq, std::uint32_t len, std::uint32_t first);

  Pos first_pos() const;
  Pos next(Pos p) const;
  Pos pos_of(std::uint32_t item) const;
  std::uint32_t at(Pos p) const { return blocks_[p.block].items[p.off]; }
  // Order of two items; kNone on the left means "before everything" when `none_first`, else
  // "after everything".
  int cmp_items(std::uint32_t a, std::uint32_t b, bool none_first) const;

  // The slot holding the `index`-th visible item (0-based). REQUIRES: index < length().
  Pos locate_visible(std::size_t index);
  // Inserts arena item `item`, whose character is `ch`, into document order before `p` (at the
  // end if p.end()), and returns where it went.
  Pos insert_at(Pos p, std::uint32_t item, char32_t ch);
  // Adds `delta` to the visible count of block `block` (both copies) and to the document's.
  void add_visible(std::uint32_t block, int delta);
  std::uint32_t new_block_after(std::uint32_t rank_before);  // rank_before = kNone: at front
  void visible_changed(std::uint32_t block, int delta);
  // Marks `item` deleted (a no-op for a tombstone) and returns its slot; `hint` is a slot to try
  // before searching its block (Pos{}: none).
  Pos mark_deleted(std::uint32_t item, Pos hint);

  // originRight if that item has the same originLeft as `item` (Fugue's right parent), else
  // kNone (the document end).
  std::uint32_t right_parent(std::uint32_t item) const;
  // The yjsmod / FugueMax scan: where `item` goes, given the first slot after its originLeft.
  Pos find_place(std::uint32_t item, Pos start) const;

  Arena items_;
  std::vector<Block> blocks_;           // by block id
  std::vector<std::uint32_t> order_;    // block ids in document order
  std::vector<std::uint32_t> vis_by_rank_;  // blocks_[order_[r]].visible, by rank r
  std::vector<AgentRuns> runs_;         // sorted by agent
  std::size_t visible_ = 0;

  // Cursor cache: block `cur_block_` has `cur_start_` visible items before it.
  std::uint32_t cur_block_ = kNone;
  std::size_t cur_start_ = 0;
};

template <typename F>
void Doc::for_each_run(F&& f) const {
  std::u32string text;  // the current run's characters
  RunView run;
  std::uint32_t prev = kNone;
  const auto flush = [&] {
    run.text = text;
    f(static_cast<const RunView&>(run));
  };
  for (const std::uint32_t bid : order_) {
    const Block& b = blocks_[bid];
    for (std::uint32_t i = 0; i < b.n; ++i) {
      const std::uint32_t idx = b.items[i];
      const Item& it = items_[idx];
      // A run goes on while each item is the next id of the same agent, its originLeft is the
      // item before, and it shares originRight and the deleted flag.
      if (prev != kNone) {
        const Item& p = items_[prev];
        if (it.left == prev && it.id.agent == p.id.agent && it.id.seq == p.id.seq + 1 && it.deleted == p.deleted &&
            it.right == p.right) {
          text.push_back(b.chs[i]);
          prev = idx;
          continue;
        }
        flush();
      }
      run.id = it.id;
      run.left = it.left == kNone ? std::nullopt : std::optional<CharId>(items_[it.left].id);
      run.right = it.right == kNone ? std::nullopt : std::optional<CharId>(items_[it.right].id);
      run.deleted = it.deleted;
      text.assign(1, b.chs[i]);
      prev = idx;
    }
  }
  if (prev != kNone) flush();
}

}  // namespace convlab::crdt
