// What a simulated client does to its replica and what it has seen (sim/clients.hpp): local
// edits and their `edit` events, acknowledgements, and `seen` events for others' edits as they
// show in its document. The bookkeeping is the observed client's (workload/observed.hpp), shared
// with the load client; here are what only the simulator adds (the oracle, `offline`).
#include "server/strategies/paragraphs/replica.hpp"
#include "sim/clients.hpp"
#include "sim/world_parts.hpp"
#include "workload/durable.hpp"

#include <algorithm>

namespace convlab::sim {

void Clients::edit(Client& cl, const Splice& sp, std::optional<std::uint32_t> para) {
  CONVLAB_ASSERT(sp.pos + sp.del <= cl.replica->length());
  if (!para) {
    const std::u32string before = cl.replica->text_range(0, sp.pos);
    para = static_cast<std::uint32_t>(std::count(before.begin(), before.end(), U'\n'));
  }
  workload::MadeEdit m =
      cl.obs.edit(edit_log_, *cl.replica, sp, *para, clock_ms(cl), cl.server, sim_.now_us, &write_stamps_);
  const std::vector<CharId>& inserted = m.inserted;
  w_.db.record_authors().note_edit(cl.id, cl.agent(), m.op, inserted.empty() ? CharId{} : inserted.front(),
                                   static_cast<std::uint32_t>(inserted.size()), m.deleted);
  if (Oracle* oracle = sim_.oracle.get()) {
    // The paragraph register writes this edit made: stamped with the client's agent and the
    // counters after its previous write's.
    if (const paragraphs::ParagraphClient* pc = paragraphs::as_paragraph_client(*cl.replica)) {
      std::uint64_t& last = oracle_counters_[cl.agent()];
      for (std::uint64_t k = last + 1; k <= pc->write_counter(); ++k) oracle->stamp(cl.agent(), k, Oracle::EditTag{cl.id, m.op});
      last = pc->write_counter();
    }
    oracle->edit(cl.id, cl.doc, m.op, sorted(inserted), m.deleted, cl.obs.seen_ops());
  }
  m.event.offline = cl.offline || cl.server < 0;
  m.event.stale_base = cl.stale_base;
  sim_.emit(std::move(m.event));
  send(cl, std::move(m.msgs));
  note_acks(cl);
}

void Clients::note_acks(Client& cl) {
  std::vector<workload::Observed> acks;
  if (!cl.obs.synced(*cl.replica, cl.server, acks)) return;
  for (workload::Observed& a : acks) {
    if (sim_.oracle) sim_.oracle->acked(sim_.now_us, cl.id, a.event.op);
    sim_.emit(std::move(a.event));
  }
  // Every edit so far is acknowledged, so every record of this client has committed.
  cl.own_version = std::max(cl.own_version, w_.db.last_committed_by(cl.id));
}

void Clients::note_seen(Client& cl) {
  std::vector<workload::Observed> seen;
  cl.obs.note_seen(edit_log_, *cl.replica, cl.server, seen);
  for (workload::Observed& o : seen) {
    if (sim_.oracle) sim_.oracle->shown(o.event.author, o.event.op);
    sim_.emit(std::move(o.event));
  }
}

}  // namespace convlab::sim
