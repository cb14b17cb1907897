#include "workload/overruled.hpp"

#include "server/core/assert.hpp"
#include "server/core/sort_ids.hpp"
#include "server/strategies/paragraphs/replica.hpp"

#include <algorithm>

namespace convlab::workload {

void WriteStamps::note(AgentId agent, std::uint64_t last_counter, std::uint32_t client, std::uint32_t op) {
  std::vector<Owner>& v = by_agent_[agent];
  if (!v.empty() && v.back().last_counter >= last_counter) return;  // wrote nothing
  v.push_back(Owner{last_counter, client, op});
}

std::optional<std::pair<std::uint32_t, std::uint32_t>> WriteStamps::find(AgentId agent, std::uint64_t counter) const {
  const auto it = by_agent_.find(agent);
  if (it == by_agent_.end() || counter == 0) return std::nullopt;
  // The first edit whose last counter is at or past `counter` owns it.
  const auto o = std::lower_bound(it->second.begin(), it->second.end(), counter,
                                  [](const Owner& x, std::uint64_t c) { return x.last_counter < c; });
  if (o == it->second.end()) return std::nullopt;
  return std::make_pair(o->client, o->op);
}

std::uint64_t WriteStamps::last_counter(AgentId agent) const {
  const auto it = by_agent_.find(agent);
  return it == by_agent_.end() || it->second.empty() ? 0 : it->second.back().last_counter;
}

std::vector<history::Event> take_overruled(ClientReplica& replica, const WriteStamps& stamps, std::uint32_t client,
                                           std::uint32_t doc) {
  std::vector<history::Event> out;
  paragraphs::ParagraphClient* pc = paragraphs::as_paragraph_client(replica);
  if (pc == nullptr) return out;
  for (paragraphs::Overruled& o : pc->take_overruled()) {
    const auto own = stamps.find(pc->agent(), o.counter);
    CONVLAB_ASSERT(own.has_value() && own->first == client);  // every write of this client was noted
    history::Event e;
    e.type = history::EventType::kOverruled;
    e.client = client;
    e.doc = doc;
    e.op = own->second;
    if (const auto by = stamps.find(o.winner.agent, o.winner.counter)) {
      e.writer = static_cast<std::int32_t>(by->first);
      e.by_op = by->second;
    }
    sort_char_ids(o.ids);
    e.ids = history::compress_ids(o.ids);
    out.push_back(std::move(e));
  }
  return out;
}

void note_writes(const ClientReplica& replica, WriteStamps& stamps, std::uint32_t client, std::uint32_t op) {
  if (const paragraphs::ParagraphClient* pc = paragraphs::as_paragraph_client(replica)) {
    stamps.note(pc->agent(), pc->write_counter(), client, op);
  }
}

void keep_overruled(ClientReplica& replica, const WriteStamps& stamps) {
  if (paragraphs::ParagraphClient* pc = paragraphs::as_paragraph_client(replica)) {
    pc->keep_overruled(true);
    pc->resume_counter(stamps.last_counter(pc->agent()));
  }
}

CommitLines commit_lines(std::uint32_t doc, std::uint64_t index, std::int32_t server, std::optional<AgentId> author,
                         const DurableChange& change, const WriteStamps& stamps, RecordAuthors& authors) {
  CommitLines out;
  history::Event& e = out.commit;
  e.type = history::EventType::kCommit;
  e.doc = doc;
  e.version = index;
  e.server = server;
  if (author) {
    // One record is one edit's writes: the first write's stamp names it.
    std::optional<std::pair<std::uint32_t, std::uint32_t>> edit;
    if (!change.writes.empty()) edit = stamps.find(change.writes.front().agent, change.writes.front().counter);
    if (!edit) edit = authors.record(*author, change);
    if (edit) {
      e.writer = static_cast<std::int32_t>(edit->first);
      e.op = edit->second;
    }
  }
  e.inserted = history::compress_ids(change.added);
  e.deleted = history::compress_ids(change.removed);
  for (const DurableRefusal& r : change.refused) {
    const auto own = stamps.find(r.write.agent, r.write.counter);
    if (!own) continue;  // no client's write: nothing to name
    history::Event o;
    o.type = history::EventType::kOverruled;
    o.client = own->first;
    o.doc = doc;
    o.op = own->second;
    if (const auto by = stamps.find(r.holder.agent, r.holder.counter)) {
      o.writer = static_cast<std::int32_t>(by->first);
      o.by_op = by->second;
    } else if (r.holder.counter == 0) {
      continue;  // a register never written cannot hold against a write
    }  // else a stamp no client's edit made: the initial text's (writer stays -1)
    o.ids = history::compress_ids(r.ids);
    out.overruled.push_back(std::move(o));
  }
  return out;
}

}  // namespace convlab::workload
