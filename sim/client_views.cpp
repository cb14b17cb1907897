// What a simulated client does to its replica and what it has seen (sim/clients.hpp): local
// edits and their `edit` events, acknowledgements, and `seen` events for others' edits as they
// show in its document.
#include "server/strategies/paragraphs/replica.hpp"
#include "sim/clients.hpp"
#include "sim/world_parts.hpp"
#include "workload/durable.hpp"

#include <algorithm>
#include <iterator>

namespace convlab::sim {

using workload::DocEdit;
using workload::EditRef;

bool SeenSet::insert(std::uint32_t author, std::uint32_t op) {
  auto it = std::lower_bound(bits_.begin(), bits_.end(), author,
                             [](const auto& e, std::uint32_t a) { return e.first < a; });
  if (it == bits_.end() || it->first != author) it = bits_.emplace(it, author, std::vector<bool>{});
  std::vector<bool>& b = it->second;
  if (b.size() <= op) b.resize(std::max<std::size_t>(op + 1, b.size() * 2));
  if (b[op]) return false;
  b[op] = true;
  return true;
}

void Clients::edit(Client& cl, const Splice& sp, std::optional<std::uint32_t> para) {
  CONVLAB_ASSERT(sp.pos + sp.del <= cl.replica->length());
  if (!para) {
    const std::u32string before = cl.replica->text_range(0, sp.pos);
    para = static_cast<std::uint32_t>(std::count(before.begin(), before.end(), U'\n'));
  }
  const std::vector<CharId> deleted_ids = cl.replica->char_ids_range(sp.pos, sp.del);
  const std::uint32_t op = cl.next_op++;
  auto msgs = cl.replica->local_edit(sp, clock_ms(cl));
  workload::note_writes(*cl.replica, write_stamps_, cl.id, op);

  history::Event e;
  e.type = history::EventType::kEdit;
  e.client = cl.id;
  e.doc = cl.doc;
  e.op = op;
  e.server = cl.server;
  e.clock_ms = clock_ms(cl);
  e.pos = sp.pos;
  e.del = sp.del;
  e.ins = sp.ins;
  e.para = *para;
  std::vector<CharId> inserted;
  if (!sp.ins.empty() && sp.pos + sp.ins.size() <= cl.replica->length()) {
    inserted = cl.replica->char_ids_range(sp.pos, sp.ins.size());
  }
  e.inserted = history::compress_ids(inserted);
  e.deleted = history::compress_ids(deleted_ids);
  w_.db.record_authors().note_edit(cl.id, cl.agent(), op, inserted.empty() ? CharId{} : inserted.front(),
                                   static_cast<std::uint32_t>(inserted.size()), deleted_ids);
  if (Oracle* oracle = sim_.oracle.get()) {
    // The paragraph register writes this edit made: stamped with the client's agent and the
    // counters after its previous write's.
    if (const paragraphs::ParagraphClient* pc = paragraphs::as_paragraph_client(*cl.replica)) {
      std::uint64_t& last = oracle_counters_[cl.agent()];
      for (std::uint64_t k = last + 1; k <= pc->write_counter(); ++k) oracle->stamp(cl.agent(), k, Oracle::EditTag{cl.id, op});
      last = pc->write_counter();
    }
    oracle->edit(cl.id, cl.doc, op, sorted(inserted), deleted_ids, cl.seen_ops);
  }
  e.seen_ops = cl.seen_ops;
  e.offline = cl.offline || cl.server < 0;
  e.stale_base = cl.stale_base;
  sim_.emit(std::move(e));
  if (!inserted.empty()) {
    edits_by_agent_[cl.id][inserted.front().agent].push_back(EditRef{inserted.front().seq, op});
    // Ids of one edit are consecutive for the strategies that index them (crdt); a strategy whose
    // ids are not is read by note_seen_scan, which does not use this.
    doc_edits_[cl.doc].push_back(DocEdit{cl.id, op, inserted.front().agent, inserted.front().seq,
                                         static_cast<std::uint32_t>(inserted.size())});
  }
  send(cl, std::move(msgs));
  note_acks(cl);
}

void Clients::note_acks(Client& cl) {
  // A replica that has nothing unacknowledged had every edit so far acknowledged.
  if (!cl.replica->synced()) return;
  while (cl.acked_upto + 1 < cl.next_op) {
    ++cl.acked_upto;
    if (sim_.oracle) sim_.oracle->acked(cl.id, cl.acked_upto);
    history::Event e;
    e.type = history::EventType::kAck;
    e.client = cl.id;
    e.doc = cl.doc;
    e.op = cl.acked_upto;
    e.server = cl.server;
    sim_.emit(std::move(e));
  }
  // Every edit so far is acknowledged, so every record of this client has committed.
  cl.own_version = std::max(cl.own_version, w_.db.last_committed_by(cl.id));
}

void Clients::note_seen(Client& cl) {
  if (!cl.replica->indexes_ids()) {
    note_seen_scan(cl);
    return;
  }
  // Only edits this client has not shown yet can change anything: ask the replica's index for
  // their ids instead of scanning the document. Same events, same order as note_seen_scan.
  const std::vector<DocEdit>& edits = doc_edits_[cl.doc];
  cl.unseen.catch_up(edits, cl.id);
  std::vector<std::uint32_t>& newly = newly_scratch_;
  newly.clear();
  bool any_dead = false;
  for (std::uint32_t& i : cl.unseen.edits) {
    if (workload::shows(*cl.replica, edits[i])) {
      newly.push_back(i);
    } else if (workload::gone_for_good(*cl.replica, edits[i])) {
      // It cannot show in this replica: set it aside instead of asking again every delivery.
      cl.dead.push_back(i);
      i = kShown;
      any_dead = true;
    }
  }
  if (any_dead) std::erase(cl.unseen.edits, kShown);
  if (newly.empty()) return;
  const auto show = [&](const DocEdit& d) {
    if (!cl.seen.insert(d.author, d.op)) return;
    std::uint32_t& hi = cl.seen_ops[d.author];
    hi = std::max(hi, d.op);
    history::Event e;
    e.type = history::EventType::kSeen;
    e.client = cl.id;
    e.doc = cl.doc;
    e.author = d.author;
    e.op = d.op;
    e.server = cl.server;
    sim_.emit(std::move(e));
  };
  if (newly.size() == 1) {
    std::erase(cl.unseen.edits, newly.front());
    show(edits[newly.front()]);
    return;
  }
  // Several at once (a welcome, a poll's batch): in document order of each one's first visible
  // character, as note_seen_scan gives. Every edit the scan would name is in `newly` (the others
  // are shown already or have no character here), so the document is read in chunks only until
  // each of them has been met, and each id is tested against those few edits only.
  std::size_t left = newly.size();
  std::vector<std::uint32_t>& shown = shown_scratch_;
  shown.clear();
  const std::size_t len = cl.replica->length();
  constexpr std::size_t kChunk = 512;
  for (std::size_t base = 0; base < len && left > 0; base += kChunk) {
    const std::vector<CharId> ids = cl.replica->char_ids_range(base, std::min(kChunk, len - base));
    for (const CharId& id : ids) {
      for (std::uint32_t& i : newly) {
        if (i == kShown) continue;
        const DocEdit& d = edits[i];
        if (id.agent != d.agent || id.seq < d.seq || id.seq - d.seq >= d.count) continue;
        show(d);
        shown.push_back(i);
        i = kShown;
        --left;
        break;
      }
      if (left == 0) break;
    }
  }
  // Those shown leave `unseen` (no edit in `unseen` is in `seen`: an edit leaves it when shown).
  std::sort(shown.begin(), shown.end());
  std::erase_if(cl.unseen.edits, [&](std::uint32_t i) { return std::binary_search(shown.begin(), shown.end(), i); });
}

void Clients::revive_dead(Client& cl) {
  if (cl.dead.empty()) return;
  std::sort(cl.dead.begin(), cl.dead.end());
  std::vector<std::uint32_t> merged;
  merged.reserve(cl.unseen.edits.size() + cl.dead.size());
  std::merge(cl.unseen.edits.begin(), cl.unseen.edits.end(), cl.dead.begin(), cl.dead.end(), std::back_inserter(merged));
  cl.unseen.edits = std::move(merged);
  cl.dead.clear();
}

void Clients::note_seen_scan(Client& cl) {
  const std::vector<CharId> ids = cl.replica->char_ids();
  for (const CharId& id : ids) {
    const auto edit = edit_of(cl, id);
    if (!edit) continue;
    const auto [author, op] = *edit;
    if (!cl.seen.insert(author, op)) continue;
    std::uint32_t& hi = cl.seen_ops[author];
    hi = std::max(hi, op);
    history::Event e;
    e.type = history::EventType::kSeen;
    e.client = cl.id;
    e.doc = cl.doc;
    e.author = author;
    e.op = op;
    e.server = cl.server;
    sim_.emit(std::move(e));
  }
}

std::optional<std::pair<std::uint32_t, std::uint32_t>> Clients::edit_of(const Client& cl, CharId id) const {
  const std::uint32_t author = id.agent & (kClientIdsMax - 1);
  if (id.agent == kSetupAgent || author == cl.id || author >= sim_.cfg.clients) return std::nullopt;
  const auto& per_agent = edits_by_agent_[author];
  auto a = per_agent.find(id.agent);
  if (a == per_agent.end()) return std::nullopt;
  const std::optional<std::uint32_t> op = workload::op_of(a->second, id.seq);
  if (!op) return std::nullopt;
  return std::make_pair(author, *op);
}

std::map<std::uint32_t, std::uint32_t> Clients::ops_shown(const Client& cl) const {
  std::map<std::uint32_t, std::uint32_t> out;
  for (const CharId& id : cl.replica->char_ids()) {
    const auto edit = edit_of(cl, id);
    if (!edit) continue;
    std::uint32_t& hi = out[edit->first];
    hi = std::max(hi, edit->second);
  }
  return out;
}

}  // namespace convlab::sim
