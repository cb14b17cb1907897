#pragma once
// The text a replica holds, with the id of every character, as a gap buffer. Editing traces
// type at one place for a while, so moving the gap costs the distance between successive
// edits instead of the length of the document: applying a one-character op to a 100k
// document does not copy the document (the replay of automerge-paper depends on it).
#include "server/core/result.hpp"
#include "server/core/types.hpp"
#include "server/strategies/char_id_bag.hpp"
#include "server/strategies/ot/text_op.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace convlab::ot {

class Document {
 public:
  Document() = default;
  // REQUIRES: text.size() == ids.size().
  Document(const std::u32string& text, const std::vector<CharId>& ids);

  std::size_t size() const { return buf_.size() - (gap_end_ - gap_begin_); }

  // Applies `op` in place. An Error, with the document unchanged, when check(op) fails or the
  // op reads past the end.
  Result<void> apply(const Op& op);

  std::u32string text() const;
  std::vector<CharId> ids() const;
  // Characters [pos, pos + n) and their ids: O(n). REQUIRES: pos + n <= size().
  std::u32string text_range(std::size_t pos, std::size_t n) const;
  std::vector<CharId> ids_range(std::size_t pos, std::size_t n) const;

  // Keeps a multiset of the ids present from now on (copies and moves keep it).
  void index_ids();
  bool indexed() const { return indexed_; }
  // True when a character with `id` is in the document. O(1). REQUIRES: indexed().
  bool contains(CharId id) const;

 private:
  struct Cell {
    char32_t ch;
    CharId id;
  };
  void move_gap(std::size_t pos);
  // Calls f(cell) for text positions [pos, pos + n).
  template <class F>
  void for_range(std::size_t pos, std::size_t n, F f) const;
  void make_room(std::size_t n);

  std::vector<Cell> buf_;  // [0, gap_begin_) and [gap_end_, size) hold the text
  std::size_t gap_begin_ = 0;
  std::size_t gap_end_ = 0;
  bool indexed_ = false;
  CharIdBag index_;  // the ids of the text, when indexed_
};

}  // namespace convlab::ot
