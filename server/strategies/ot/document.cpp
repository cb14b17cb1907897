#include "server/strategies/ot/document.hpp"

#include "server/core/assert.hpp"

#include <algorithm>

namespace convlab::ot {

namespace {
std::ptrdiff_t at(std::size_t i) { return static_cast<std::ptrdiff_t>(i); }
}  // namespace

Document::Document(const std::u32string& text, const std::vector<CharId>& ids) {
  CONVLAB_ASSERT(text.size() == ids.size());
  buf_.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) buf_.push_back(Cell{text[i], ids[i]});
  gap_begin_ = gap_end_ = buf_.size();
}

void Document::move_gap(std::size_t pos) {
  CONVLAB_ASSERT(pos <= size());
  if (pos < gap_begin_) {
    const std::size_t k = gap_begin_ - pos;
    std::move_backward(buf_.begin() + at(pos), buf_.begin() + at(gap_begin_), buf_.begin() + at(gap_end_));
    gap_begin_ = pos;
    gap_end_ -= k;
  } else if (pos > gap_begin_) {
    const std::size_t k = pos - gap_begin_;
    std::move(buf_.begin() + at(gap_end_), buf_.begin() + at(gap_end_ + k), buf_.begin() + at(gap_begin_));
    gap_begin_ += k;
    gap_end_ += k;
  }
  CONVLAB_ASSERT(gap_begin_ == pos);
}

void Document::make_room(std::size_t n) {
  if (gap_end_ - gap_begin_ >= n) return;
  // Grow by half the text at least, so a run of inserts costs amortized O(1) each.
  const std::size_t len = size();
  const std::size_t gap = n + std::max<std::size_t>(len / 2, 64);
  std::vector<Cell> grown(len + gap);
  std::copy(buf_.begin(), buf_.begin() + at(gap_begin_), grown.begin());
  std::copy(buf_.begin() + at(gap_end_), buf_.end(), grown.begin() + at(gap_begin_ + gap));
  buf_ = std::move(grown);
  gap_end_ = gap_begin_ + gap;
}

Result<void> Document::apply(const Op& op) {
  if (auto ok = check(op); !ok) return ok.error();
  if (input_length(op) > size())
    return make_error("op reads " + std::to_string(input_length(op)) + " characters of a document of " +
                      std::to_string(size()));
  // From here nothing can fail: the document changes only when the whole op fits.
  std::size_t pos = 0;
  for (const Component& c : op) {
    switch (c.kind) {
      case Component::Kind::skip:
        pos += c.n;
        break;
      case Component::Kind::insert:
        move_gap(pos);
        make_room(c.text.size());
        for (std::size_t i = 0; i < c.text.size(); ++i) buf_[gap_begin_ + i] = Cell{c.text[i], c.ids[i]};
        if (indexed_) {
          for (const CharId& id : c.ids) index_.insert(id);
        }
        gap_begin_ += c.text.size();
        pos += c.text.size();
        break;
      case Component::Kind::del:
        move_gap(pos);
        CONVLAB_ASSERT(gap_end_ + c.n <= buf_.size());
        if (indexed_) {
          for (std::size_t i = gap_end_; i < gap_end_ + c.n; ++i) index_.erase(buf_[i].id);
        }
        gap_end_ += c.n;
        break;
    }
  }
  return {};
}

std::u32string Document::text() const {
  std::u32string out;
  out.reserve(size());
  for (std::size_t i = 0; i < gap_begin_; ++i) out.push_back(buf_[i].ch);
  for (std::size_t i = gap_end_; i < buf_.size(); ++i) out.push_back(buf_[i].ch);
  return out;
}

std::vector<CharId> Document::ids() const {
  std::vector<CharId> out;
  out.reserve(size());
  for (std::size_t i = 0; i < gap_begin_; ++i) out.push_back(buf_[i].id);
  for (std::size_t i = gap_end_; i < buf_.size(); ++i) out.push_back(buf_[i].id);
  return out;
}

template <class F>
void Document::for_range(std::size_t pos, std::size_t n, F f) const {
  CONVLAB_ASSERT(pos <= size() && n <= size() - pos);
  // Text positions below the gap are buffer positions; the rest sit one gap further on.
  const std::size_t end = pos + n;
  const std::size_t gap = gap_end_ - gap_begin_;
  for (std::size_t i = pos; i < std::min(end, gap_begin_); ++i) f(buf_[i]);
  for (std::size_t i = std::max(pos, gap_begin_); i < end; ++i) f(buf_[i + gap]);
}

std::u32string Document::text_range(std::size_t pos, std::size_t n) const {
  std::u32string out(n, U'\0');
  std::size_t k = 0;
  for_range(pos, n, [&](const Cell& c) { out[k++] = c.ch; });
  return out;
}

std::vector<CharId> Document::ids_range(std::size_t pos, std::size_t n) const {
  std::vector<CharId> out(n);
  std::size_t k = 0;
  for_range(pos, n, [&](const Cell& c) { out[k++] = c.id; });
  return out;
}

void Document::index_ids() {
  if (indexed_) return;
  indexed_ = true;
  index_.clear();
  for (std::size_t i = 0; i < gap_begin_; ++i) index_.insert(buf_[i].id);
  for (std::size_t i = gap_end_; i < buf_.size(); ++i) index_.insert(buf_[i].id);
}

bool Document::contains(CharId id) const {
  CONVLAB_ASSERT(indexed_);
  return index_.contains(id);
}

}  // namespace convlab::ot
