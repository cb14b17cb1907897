#include "workload/durable.hpp"

#include "server/core/assert.hpp"
#include "server/core/sort_ids.hpp"
#include "server/strategies/paragraphs/replica.hpp"

#include <algorithm>
#include <iterator>

namespace convlab::workload {

DurableText::DurableText(const Strategy& strategy, bool has_snapshot, std::span<const std::uint8_t> snapshot)
    : strategy_(strategy), replica_(strategy.make_server()) {
  if (has_snapshot) {
    const auto ok = replica_->restore(snapshot);
    CONVLAB_ASSERT(ok.has_value());
  }
  ids_ = replica_->char_ids();
}

namespace {

// The ids a register's paragraph shows: its characters, and its `term` when a visible
// paragraph follows it (it is not the last existing one).
void shown_ids(const paragraphs::Paragraph& p, bool last, std::vector<CharId>& out) {
  if (!p.exists) return;
  out.insert(out.end(), p.ids.begin(), p.ids.end());
  if (!last) out.push_back(p.term);
}

// The index of the last existing register, or regs.size() when none exists.
std::size_t last_existing(const std::vector<paragraphs::Register>& regs) {
  for (std::size_t i = regs.size(); i > 0; --i) {
    if (regs[i - 1].value.exists) return i - 1;
  }
  return regs.size();
}

// Sorted `after` minus sorted `before` and the other way round, as multisets.
void set_change(std::vector<CharId>& before, std::vector<CharId>& after, DurableChange& c) {
  sort_char_ids(before);
  sort_char_ids(after);
  std::set_difference(after.begin(), after.end(), before.begin(), before.end(), std::back_inserter(c.added));
  std::set_difference(before.begin(), before.end(), after.begin(), after.end(), std::back_inserter(c.removed));
}

// A paragraph record's change, register by register: `before` and `after` are the ids the
// touched registers showed, cut into parts at `before_ends` and `after_ends` (part k of one is
// part k of the other: the same register). A register rewritten whole shows mostly the same ids
// at the same places, so the ids its two parts share at their start and end are dropped before
// sorting: an id taken from both multisets changes neither difference, so the change is the
// same, to the byte, as sorting the whole parts (sorting them was a tenth of the naive seq hour).
void part_change(const std::vector<CharId>& before, const std::vector<std::size_t>& before_ends,
                 const std::vector<CharId>& after, const std::vector<std::size_t>& after_ends, DurableChange& c) {
  CONVLAB_ASSERT(before_ends.size() == after_ends.size());
  std::vector<CharId> b;
  std::vector<CharId> a;
  std::size_t b0 = 0;
  std::size_t a0 = 0;
  for (std::size_t k = 0; k < before_ends.size(); ++k) {
    std::size_t b1 = before_ends[k];
    std::size_t a1 = after_ends[k];
    while (b0 < b1 && a0 < a1 && before[b0] == after[a0]) {
      ++b0;
      ++a0;
    }
    while (b0 < b1 && a0 < a1 && before[b1 - 1] == after[a1 - 1]) {
      --b1;
      --a1;
    }
    b.insert(b.end(), before.begin() + static_cast<std::ptrdiff_t>(b0), before.begin() + static_cast<std::ptrdiff_t>(b1));
    a.insert(a.end(), after.begin() + static_cast<std::ptrdiff_t>(a0), after.begin() + static_cast<std::ptrdiff_t>(a1));
    b0 = before_ends[k];
    a0 = after_ends[k];
  }
  set_change(b, a, c);
}

}  // namespace

const std::vector<CharId>& DurableText::ids() const {
  if (ids_stale_) {
    ids_ = replica_->char_ids();
    ids_stale_ = false;
  }
  return ids_;
}

void DurableText::note_change(const DurableChange& c) {
  if (!visible_) return;
  for (const CharId& id : c.removed) {
    auto it = visible_->find(id);
    CONVLAB_ASSERT(it != visible_->end());
    if (--it->second == 0) visible_->erase(it);
  }
  for (const CharId& id : c.added) ++(*visible_)[id];
}

bool DurableText::visible(const CharId& id) {
  if (!visible_) {
    visible_.emplace();
    for (const CharId& v : ids()) ++(*visible_)[v];
  }
  return visible_->contains(id);
}

DurableChange DurableText::diff_to_current() {
  CONVLAB_ASSERT(!ids_stale_);  // ids_ are the ids before the change
  std::vector<CharId> now = replica_->char_ids();
  // A change touches one stretch of the text: what lies before and after it is the same ids at
  // the same places, so only the two middles can differ (an id is unique, so one found in a
  // common end is in neither middle). Their set differences are the change.
  std::size_t head = 0;
  while (head < now.size() && head < ids_.size() && now[head] == ids_[head]) ++head;
  std::size_t tail = 0;
  while (tail < now.size() - head && tail < ids_.size() - head &&
         now[now.size() - 1 - tail] == ids_[ids_.size() - 1 - tail]) {
    ++tail;
  }
  std::vector<CharId> before(ids_.begin() + static_cast<std::ptrdiff_t>(head),
                             ids_.end() - static_cast<std::ptrdiff_t>(tail));
  std::vector<CharId> after(now.begin() + static_cast<std::ptrdiff_t>(head), now.end() - static_cast<std::ptrdiff_t>(tail));
  DurableChange c;
  set_change(before, after, c);
  ids_ = std::move(now);
  note_change(c);
  return c;
}

Result<DurableChange> DurableText::append(const LogRecord& record) {
  const paragraphs::ParagraphServer* p = paragraphs::as_paragraph_server(*replica_);
  if (p == nullptr) {
    if (auto ok = replica_->apply_record(record.record); !ok) {
      return make_error("record " + std::to_string(record.index) + " does not apply: " + ok.error().message);
    }
    return diff_to_current();
  }
  // Paragraph strategies: a record changes only the registers it writes, and whether a term
  // shows changes only for the last existing paragraph before and after it. The ids those
  // registers show before and after are the change: the others show the same ids, and the
  // multiset difference of the whole document's ids is that of these parts (the change the
  // whole-document diff gives, to the byte).
  const auto decoded = paragraphs::decode(record.record);
  const auto* rec = decoded ? std::get_if<paragraphs::Record>(&*decoded) : nullptr;
  if (rec == nullptr) {
    // Not a record: apply_record says why.
    auto ok = replica_->apply_record(record.record);
    CONVLAB_ASSERT(!ok);
    return make_error("record " + std::to_string(record.index) + " does not apply: " + ok.error().message);
  }
  const std::vector<paragraphs::Register>& regs = p->registers();
  std::vector<std::uint32_t> touched;
  for (const paragraphs::Write& w : rec->writes) touched.push_back(w.index);
  const std::size_t last_before = last_existing(regs);
  if (last_before < regs.size()) touched.push_back(static_cast<std::uint32_t>(last_before));
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  // One part per touched register (empty when it does not exist), and one last part.
  std::vector<CharId> before;
  std::vector<std::size_t> before_ends;
  for (const std::uint32_t i : touched) {
    if (i < regs.size()) shown_ids(regs[i].value, i == last_before, before);
    before_ends.push_back(before.size());
  }
  if (auto ok = replica_->apply_record(record.record); !ok) {
    return make_error("record " + std::to_string(record.index) + " does not apply: " + ok.error().message);
  }
  const std::size_t last_after = last_existing(regs);
  std::vector<CharId> after;
  std::vector<std::size_t> after_ends;
  bool last_seen = false;
  for (const std::uint32_t i : touched) {
    if (i < regs.size()) {
      shown_ids(regs[i].value, i == last_after, after);
      last_seen = last_seen || i == last_after;
    }
    after_ends.push_back(after.size());
  }
  if (last_after < regs.size() && !last_seen) {
    // The last paragraph now is one the record did not write (the ones after it were deleted):
    // its term showed before and shows no more.
    shown_ids(regs[last_after].value, false, before);
    shown_ids(regs[last_after].value, true, after);
  }
  before_ends.push_back(before.size());
  after_ends.push_back(after.size());
  DurableChange change;
  part_change(before, before_ends, after, after_ends, change);
  ids_stale_ = true;
  note_change(change);
  // A write whose register holds another stamp after it lost there; what it carried and is not
  // visible now was refused by that holder.
  const auto& writes = rec->writes;
  for (const paragraphs::Write& w : writes) {
    const WriteStamp stamp{w.stamp.agent, w.stamp.counter};
    change.writes.push_back(stamp);
    CONVLAB_ASSERT(w.index < p->registers().size());
    const paragraphs::Stamp& held = p->registers()[w.index].stamp;
    if (held == w.stamp) continue;
    DurableRefusal r{stamp, WriteStamp{held.agent, held.counter}, {}};
    r.ids = w.value.ids;
    if (w.value.exists) r.ids.push_back(w.value.term);
    std::erase_if(r.ids, [&](const CharId& id) { return visible(id); });
    sort_char_ids(r.ids);
    if (!r.ids.empty()) change.refused.push_back(std::move(r));
  }
  return change;
}

Result<DurableChange> DurableText::replace(bool has_snapshot, std::span<const std::uint8_t> snapshot,
                                           std::uint64_t snapshot_index, std::span<const LogRecord> log) {
  auto fresh = strategy_.make_server();
  if (auto ok = recover_replica(*fresh, has_snapshot, snapshot, snapshot_index, log); !ok) return ok.error();
  ids();  // the ids before the change, read from the replica they came from
  replica_ = std::move(fresh);
  return diff_to_current();
}

void RecordAuthors::note_edit(std::uint32_t client, AgentId agent, std::uint32_t op, CharId first_inserted,
                              std::uint32_t inserted, std::vector<CharId> deleted) {
  agents_[agent] = client;
  Author& a = client_author(client);
  std::sort(deleted.begin(), deleted.end());
  a.marks.push_back(Mark{op, std::move(deleted)});
  if (inserted > 0) {
    // Ids of one author only grow: the list stays sorted by id.
    CONVLAB_ASSERT(a.firsts.empty() || a.firsts.back().first < first_inserted);
    a.firsts.emplace_back(first_inserted, op);
  }
}

std::optional<std::pair<std::uint32_t, std::uint32_t>> RecordAuthors::record(AgentId author,
                                                                             const DurableChange& change) {
  const auto agent = agents_.find(author);
  if (agent == agents_.end()) return std::nullopt;
  const std::uint32_t client = agent->second;
  Author& a = client_author(client);
  if (a.marks.empty()) return std::nullopt;
  std::optional<std::uint32_t> op;
  // The newest character of the author's among those added (ids sorted: the last of its agent),
  // and the edit whose first inserted id is at or before it.
  const auto last_own = std::upper_bound(change.added.begin(), change.added.end(), CharId{author, UINT32_MAX});
  if (last_own != change.added.begin() && std::prev(last_own)->agent == author) {
    const CharId id = *std::prev(last_own);
    auto it = std::upper_bound(a.firsts.begin(), a.firsts.end(), id,
                               [](const CharId& x, const auto& f) { return x < f.first; });
    if (it != a.firsts.begin() && std::prev(it)->first.agent == author) op = std::prev(it)->second;
  }
  std::size_t at = a.matched;
  if (op) {
    while (at < a.marks.size() && a.marks[at].op < *op) ++at;
  } else {
    // An edit since the last record's whose deletions this record made.
    const auto made = [&](const Mark& m) {
      return std::any_of(m.deleted.begin(), m.deleted.end(), [&](const CharId& id) {
        return std::binary_search(change.removed.begin(), change.removed.end(), id);
      });
    };
    std::size_t found = a.marks.size();
    for (std::size_t i = at; i < a.marks.size() && found == a.marks.size(); ++i) {
      if (made(a.marks[i])) found = i;
    }
    if (found < a.marks.size()) {
      at = found;
    } else if (at + 1 < a.marks.size() && a.matched_any) {
      ++at;
    }
  }
  if (at >= a.marks.size()) return std::make_pair(client, op.value_or(a.marks.back().op));
  a.matched = at;
  a.matched_any = true;
  const std::uint32_t found_op = a.marks[at].op;
  // Nothing reads the marks before the matched one again (every search starts there): drop
  // them once they are most of the list, so a client's marks stay as many as its edits not yet
  // committed, not all it made in the run (a simulated hour at 10,000 clients made 12 M).
  if (a.matched >= 64 && a.matched * 2 >= a.marks.size()) {
    a.marks.erase(a.marks.begin(), a.marks.begin() + static_cast<std::ptrdiff_t>(a.matched));
    a.matched = 0;
  }
  return std::make_pair(client, found_op);
}

}  // namespace convlab::workload
