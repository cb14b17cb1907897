#include "workload/observed.hpp"

#include "server/core/assert.hpp"
#include "server/strategies/paragraphs/replica.hpp"

#include <algorithm>
#include <iterator>
#include <limits>

namespace convlab::workload {

// ---------------------------------------------------------------- EditLog

std::optional<std::uint32_t> EditLog::claim(AgentId agent, std::uint32_t client) {
  auto [it, fresh] = agents_.try_emplace(agent);
  std::optional<std::uint32_t> before;
  if (!fresh) before = it->second.client;
  it->second.client = client;
  return before;
}

void EditLog::add(std::uint32_t doc, std::uint32_t client, std::uint32_t op, CharId first, std::uint32_t count,
                  std::int64_t made_us) {
  CONVLAB_ASSERT(count > 0 && doc < docs_.size());
  auto [it, fresh] = agents_.try_emplace(first.agent);
  if (fresh) it->second.client = client;
  it->second.refs.push_back(EditRef{first.seq, op});
  it->second.made_us.push_back(made_us);
  // Ids of one edit are consecutive for the strategies that index them (crdt); a strategy whose
  // ids are not is read by the scan (ObservedClient::seen_scan), which does not use this.
  docs_[doc].edits.push_back(DocEdit{client, op, first.agent, first.seq, count});
  docs_[doc].made_us.push_back(made_us);
}

std::optional<EditLog::Found> EditLog::edit_of(CharId id, std::uint32_t viewer) const {
  auto a = agents_.find(id.agent);
  if (a == agents_.end() || a->second.client == viewer) return std::nullopt;
  const std::vector<EditRef>& refs = a->second.refs;
  auto it = std::upper_bound(refs.begin(), refs.end(), id.seq,
                             [](std::uint32_t s, const EditRef& r) { return s < r.seq_start; });
  if (it == refs.begin()) return std::nullopt;
  const auto i = static_cast<std::size_t>(std::prev(it) - refs.begin());
  return Found{a->second.client, refs[i].op, a->second.made_us[i]};
}

std::map<std::uint32_t, std::uint32_t> EditLog::ops_shown(const ClientReplica& replica, std::uint32_t viewer) const {
  std::map<std::uint32_t, std::uint32_t> out;
  for (const CharId& id : replica.char_ids()) {
    const auto edit = edit_of(id, viewer);
    if (!edit) continue;
    std::uint32_t& hi = out[edit->author];
    hi = std::max(hi, edit->op);
  }
  return out;
}

// ---------------------------------------------------------------- edits and acks

MadeEdit ObservedClient::edit(EditLog& log, ClientReplica& replica, const Splice& sp, std::uint32_t para,
                              std::int64_t clock_ms, std::int32_t server, std::int64_t now_us, WriteStamps* stamps) {
  CONVLAB_ASSERT(sp.pos + sp.del <= replica.length());
  MadeEdit m;
  std::int64_t del_newlines = -1;
  if (history_) {
    m.deleted = replica.char_ids_range(sp.pos, sp.del);
    if (sp.del > 0) {  // paragraphs it joins: read before the edit changes the text
      const std::u32string gone = replica.text_range(sp.pos, sp.del);
      del_newlines = static_cast<std::int64_t>(std::count(gone.begin(), gone.end(), U'\n'));
    }
  }
  m.op = next_op_++;
  m.msgs = replica.local_edit(sp, clock_ms);
  if (stamps) note_writes(replica, *stamps, client_, m.op);
  if (!sp.ins.empty() && sp.pos + sp.ins.size() <= replica.length()) {
    m.inserted = replica.char_ids_range(sp.pos, sp.ins.size());
  }
  made_us_.push_back(now_us);
  if (history_) {
    history::Event& e = m.event;
    e.type = history::EventType::kEdit;
    e.client = client_;
    e.doc = doc_;
    e.op = m.op;
    e.server = server;
    e.clock_ms = clock_ms;
    e.pos = sp.pos;
    e.del = sp.del;
    e.del_newlines = del_newlines;
    e.ins = sp.ins;
    e.para = para;
    e.inserted = history::compress_ids(m.inserted);
    e.deleted = history::compress_ids(m.deleted);
    e.seen_ops = seen_ops_;
  }
  if (!m.inserted.empty()) {
    log.add(doc_, client_, m.op, m.inserted.front(), static_cast<std::uint32_t>(m.inserted.size()), now_us);
  }
  return m;
}

bool ObservedClient::synced(const ClientReplica& replica, std::int32_t server, std::vector<Observed>& out) {
  // A replica that has nothing unacknowledged had every edit so far acknowledged.
  if (!replica.synced()) return false;
  acked_through(last_op(), server, out);
  return true;
}

void ObservedClient::acked_through(std::uint32_t op, std::int32_t server, std::vector<Observed>& out) {
  CONVLAB_ASSERT(op <= last_op());
  while (acked_upto_ < op) {
    ++acked_upto_;
    CONVLAB_ASSERT(!made_us_.empty());
    Observed o;
    o.made_us = made_us_.front();
    made_us_.pop_front();
    o.event.type = history::EventType::kAck;
    o.event.client = client_;
    o.event.doc = doc_;
    o.event.op = acked_upto_;
    o.event.server = server;
    if (auto it = accepted_seq_.find(acked_upto_); it != accepted_seq_.end()) {
      o.event.seq = it->second;
      accepted_seq_.erase(it);
    }
    out.push_back(std::move(o));
  }
}

void ObservedClient::note_accepted(ClientReplica& replica, const WriteStamps& stamps) {
  paragraphs::ParagraphClient* pc = paragraphs::as_paragraph_client(replica);
  if (pc == nullptr) return;
  for (const paragraphs::Accepted& a : pc->take_accepted()) {
    const auto own = stamps.find(pc->agent(), a.counter);
    CONVLAB_ASSERT(own.has_value() && own->first == client_);  // every write of this client was noted
    if (own->second <= acked_upto_) continue;  // abandoned: it will not be acknowledged here
    std::uint64_t& seq = accepted_seq_[own->second];
    seq = std::max(seq, a.seq);
  }
}

std::uint32_t ObservedClient::abandon() {
  const std::uint32_t n = pending();
  acked_upto_ = last_op();
  made_us_.clear();
  accepted_seq_.clear();
  return n;
}

std::uint32_t ObservedClient::new_replica() {
  state_replaced();
  return abandon();
}

// ---------------------------------------------------------------- sightings

void ObservedClient::show(std::uint32_t author, std::uint32_t op, std::int64_t made_us, std::int32_t server,
                          std::vector<Observed>& out) {
  if (!seen_.insert(author, op)) return;
  std::uint32_t& hi = seen_ops_[author];
  hi = std::max(hi, op);
  Observed o;
  o.made_us = made_us;
  o.event.type = history::EventType::kSeen;
  o.event.client = client_;
  o.event.doc = doc_;
  o.event.author = author;
  o.event.op = op;
  o.event.server = server;
  out.push_back(std::move(o));
}

void ObservedClient::note_seen(const EditLog& log, const ClientReplica& replica, std::int32_t server,
                               std::vector<Observed>& out) {
  unseen_.catch_up(log.edits(doc_), client_);
  if (unseen_.edits.empty()) return;  // every edit by others so far is shown or set aside
  if (replica.indexes_ids()) {
    seen_indexed(log, replica, server, out);
  } else {
    seen_scan(log, replica, server, out);
  }
}

namespace {
constexpr std::uint32_t kShown = std::numeric_limits<std::uint32_t>::max();
}  // namespace

void ObservedClient::seen_indexed(const EditLog& log, const ClientReplica& replica, std::int32_t server,
                                  std::vector<Observed>& out) {
  // Only edits this client has not shown yet can change anything: ask the replica's index for
  // their ids instead of scanning the document. Same events, same order as seen_scan.
  const std::vector<DocEdit>& edits = log.edits(doc_);
  thread_local std::vector<std::uint32_t> newly;  // edits newly visible
  newly.clear();
  bool any_dead = false;
  for (std::uint32_t& i : unseen_.edits) {
    if (shows(replica, edits[i])) {
      newly.push_back(i);
    } else if (gone_for_good(replica, edits[i])) {
      // It cannot show in this replica: set it aside instead of asking again every delivery.
      dead_.push_back(i);
      i = kShown;
      any_dead = true;
    }
  }
  if (any_dead) std::erase(unseen_.edits, kShown);
  if (newly.empty()) return;
  const auto show_edit = [&](std::uint32_t i) {
    show(edits[i].author, edits[i].op, log.made_us(doc_, i), server, out);
  };
  if (newly.size() == 1) {
    std::erase(unseen_.edits, newly.front());
    show_edit(newly.front());
    return;
  }
  // Several at once (a welcome, a poll's batch): in document order of each one's first visible
  // character, as seen_scan gives. Every edit the scan would name is in `newly` (the others are
  // shown already or have no character here), so the document is read in chunks only until each
  // of them has been met, and each id is tested against those few edits only.
  std::size_t left = newly.size();
  thread_local std::vector<std::uint32_t> shown;  // the edits shown by this batch
  shown.clear();
  const std::size_t len = replica.length();
  constexpr std::size_t kChunk = 512;
  for (std::size_t base = 0; base < len && left > 0; base += kChunk) {
    const std::vector<CharId> ids = replica.char_ids_range(base, std::min(kChunk, len - base));
    for (const CharId& id : ids) {
      for (std::uint32_t& i : newly) {
        if (i == kShown) continue;
        const DocEdit& d = edits[i];
        if (id.agent != d.agent || id.seq < d.seq || id.seq - d.seq >= d.count) continue;
        show_edit(i);
        shown.push_back(i);
        i = kShown;
        --left;
        break;
      }
      if (left == 0) break;
    }
  }
  // Those shown leave unseen_ (no edit in unseen_ is in seen_: an edit leaves it when shown).
  std::sort(shown.begin(), shown.end());
  std::erase_if(unseen_.edits, [&](std::uint32_t i) { return std::binary_search(shown.begin(), shown.end(), i); });
}

void ObservedClient::seen_scan(const EditLog& log, const ClientReplica& replica, std::int32_t server,
                               std::vector<Observed>& out) {
  // Replicas without an index: one pass over the document's ids, in document order.
  const std::size_t before = out.size();
  for (const CharId& id : replica.char_ids()) {
    const auto edit = log.edit_of(id, client_);
    if (edit) show(edit->author, edit->op, edit->made_us, server, out);
  }
  if (out.size() == before) return;
  const std::vector<DocEdit>& edits = log.edits(doc_);
  std::erase_if(unseen_.edits, [&](std::uint32_t i) { return seen_.contains(edits[i].author, edits[i].op); });
}

void ObservedClient::state_replaced() {
  if (dead_.empty()) return;
  std::sort(dead_.begin(), dead_.end());
  std::vector<std::uint32_t> merged;
  merged.reserve(unseen_.edits.size() + dead_.size());
  std::merge(unseen_.edits.begin(), unseen_.edits.end(), dead_.begin(), dead_.end(), std::back_inserter(merged));
  unseen_.edits = std::move(merged);
  dead_.clear();
}

}  // namespace convlab::workload
