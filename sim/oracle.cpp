#include "sim/oracle.hpp"

#include "server/core/assert.hpp"
#include "server/core/sort_ids.hpp"
#include "server/strategies/paragraphs/replica.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <string_view>
#include <tuple>
#include <variant>

namespace convlab::sim {

namespace {

std::tuple<AgentId, std::size_t, std::size_t> msg_key(AgentId agent, std::span<const std::uint8_t> msg) {
  const std::string_view bytes(reinterpret_cast<const char*>(msg.data()), msg.size());
  return {agent, msg.size(), std::hash<std::string_view>{}(bytes)};
}

// The holder of a register the document's initial text wrote (no client's edit).
constexpr Oracle::EditTag kInitialText{UINT32_MAX, 0};

bool has(const std::vector<CharId>& sorted, CharId id) { return std::binary_search(sorted.begin(), sorted.end(), id); }

}  // namespace

void Oracle::edit(std::uint32_t client, std::uint32_t doc, std::uint32_t op, std::vector<CharId> inserted,
                  const std::vector<CharId>& deleted, std::map<std::uint32_t, std::uint32_t> seen_ops) {
  EditRec& e = edits_[{client, op}];
  e.doc = doc;
  e.inserted = std::move(inserted);
  e.seen_ops = std::move(seen_ops);
  e.epoch = welcomes_[client];
  for (const CharId& id : deleted) deleted_[doc].push_back(id);
}

void Oracle::stamp(AgentId agent, std::uint64_t counter, EditTag tag) { stamps_[{agent, counter}] = tag; }

void Oracle::acked(std::int64_t t_us, std::uint32_t client, std::uint32_t op) {
  if (auto it = edits_.find({client, op}); it != edits_.end() && !it->second.acked) {
    it->second.acked = true;
    it->second.ack_us = t_us;
  }
}

void Oracle::shown(std::uint32_t author, std::uint32_t op) { shown_.insert({author, op}); }

bool Oracle::traced(const Msg* w) const {
  if (w == nullptr) return false;
  const auto [cached, fresh] = traced_.try_emplace(w, false);
  if (!fresh) return cached->second;
  const std::uint32_t c = w->tag.client;
  for (auto it = edits_.lower_bound({c, w->tag.op}); it != edits_.end() && it->first.first == c; ++it) {
    // Its own edit counts whenever it was made (typed offline, sent on the next connection).
    if (it->second.epoch < w->epoch && it->first.second != w->tag.op) continue;
    if (it->second.epoch > w->epoch) break;  // a later connection: nothing about w's
    if (it->second.acked || shown_.contains(it->first) || committed_.contains(it->first)) {
      cached->second = true;
      break;
    }
  }
  return cached->second;
}

void Oracle::sent(std::int64_t t_us, AgentId agent, std::span<const std::uint8_t> msg, EditTag tag,
                  std::vector<CharId> view) {
  auto m = std::make_unique<Msg>();
  m->tag = tag;
  m->t_us = t_us;
  m->epoch = welcomes_[tag.client];
  // Runs of consecutive ids in document order, sorted, then merged where they touch or overlap
  // (a character shown twice counts once).
  std::vector<Msg::Range> runs;
  for (const CharId& id : view) {
    if (!runs.empty()) {
      Msg::Range& r = runs.back();
      if (r.first.agent == id.agent && id.seq >= r.first.seq && id.seq - r.first.seq == r.count) {
        ++r.count;
        continue;
      }
    }
    runs.push_back(Msg::Range{id, 1});
  }
  std::sort(runs.begin(), runs.end(), [](const Msg::Range& a, const Msg::Range& b) { return a.first < b.first; });
  for (const Msg::Range& r : runs) {
    if (!m->view.empty()) {
      Msg::Range& last = m->view.back();
      const std::uint64_t end = std::uint64_t{last.first.seq} + last.count;
      if (last.first.agent == r.first.agent && r.first.seq <= end) {
        const std::uint64_t r_end = std::uint64_t{r.first.seq} + r.count;
        if (r_end > end) last.count = static_cast<std::uint32_t>(r_end - last.first.seq);
        continue;
      }
    }
    m->view.push_back(r);
  }
  m->view.shrink_to_fit();
  // The same key again (the same bytes resent, or a 64-bit collision): the newer answers lookups,
  // and the older stays alive for the events that point at it.
  std::unique_ptr<Msg>& slot = msgs_[msg_key(agent, msg)];
  if (slot) retired_.push_back(std::move(slot));
  slot = std::move(m);
}

void Oracle::client_loaded(std::int64_t t_us, std::uint32_t client, std::uint64_t version, bool api,
                           std::vector<CharId> ids) {
  loads_[client].push_back(Load{t_us, version, api, api ? std::move(ids) : std::vector<CharId>{}});
  if (!api) ++welcomes_[client];
}

std::optional<std::pair<std::uint32_t, CharId>> Oracle::trace_from_env() {
  const char* v = std::getenv("CONVLAB_ORACLE_TRACE");
  unsigned doc = 0;
  unsigned agent = 0;
  unsigned seq = 0;
  if (v == nullptr || std::sscanf(v, "%u:%u:%u", &doc, &agent, &seq) != 3) return std::nullopt;
  return std::make_pair(static_cast<std::uint32_t>(doc), CharId{static_cast<AgentId>(agent), static_cast<std::uint32_t>(seq)});
}

const Oracle::Msg* Oracle::find_msg(AgentId agent, std::span<const std::uint8_t> msg) const {
  const auto it = msgs_.find(msg_key(agent, msg));
  return it == msgs_.end() ? nullptr : it->second.get();
}

bool Oracle::Msg::shows(CharId id) const {
  auto it = std::upper_bound(view.begin(), view.end(), id, [](const CharId& x, const Range& r) { return x < r.first; });
  if (it == view.begin()) return false;
  --it;
  return it->first.agent == id.agent && id.seq - it->first.seq < it->count;
}

Oracle::Change Oracle::advance(ServerView& v, std::vector<CharId> now) {
  const std::vector<CharId>& was = v.order;
  std::size_t head = 0;
  while (head < now.size() && head < was.size() && now[head] == was[head]) ++head;
  std::size_t tail = 0;
  while (tail < now.size() - head && tail < was.size() - head && now[now.size() - 1 - tail] == was[was.size() - 1 - tail]) {
    ++tail;
  }
  std::vector<CharId> before(was.begin() + static_cast<std::ptrdiff_t>(head), was.end() - static_cast<std::ptrdiff_t>(tail));
  std::vector<CharId> after(now.begin() + static_cast<std::ptrdiff_t>(head), now.end() - static_cast<std::ptrdiff_t>(tail));
  sort_char_ids(before);
  sort_char_ids(after);
  Change c;
  std::set_difference(after.begin(), after.end(), before.begin(), before.end(), std::back_inserter(c.added));
  std::set_difference(before.begin(), before.end(), after.begin(), after.end(), std::back_inserter(c.removed));
  for (const CharId& id : c.removed) {
    auto it = v.count.find(id);
    CONVLAB_ASSERT(it != v.count.end());
    if (--it->second == 0) v.count.erase(it);
  }
  for (const CharId& id : c.added) ++v.count[id];
  v.order = std::move(now);
  return c;
}

void Oracle::record(std::int64_t t_us, int place, std::uint32_t doc, const Change& c, How how, const Msg* by,
                    std::uint32_t server) {
  // A server's additions are not kept: no verdict reads them (only the durable text's, and a
  // server's removals and refusals). In a long world where whole-paragraph writes from stale
  // views take thousands of characters out and put them back, they were half of every event.
  if (place < 0) {
    for (const CharId& id : c.added) chars_[{doc, id}].push_back(CharEv{t_us, place, true, how, by, std::nullopt, server});
  }
  for (const CharId& id : c.removed) chars_[{doc, id}].push_back(CharEv{t_us, place, false, how, by, std::nullopt, server});
}

void Oracle::server_edit(std::int64_t t_us, std::uint32_t s, std::uint32_t doc, std::vector<CharId> ids, AgentId agent,
                         std::span<const std::uint8_t> payload, const ServerReplica* replica) {
  const Msg* m = find_msg(agent, payload);
  last_applied_[s] = m;
  ServerView& view = servers_[{s, doc}];
  const Change change = advance(view, std::move(ids));
  const paragraphs::ParagraphServer* p = replica ? paragraphs::as_paragraph_server(*replica) : nullptr;
  if (m != nullptr && p != nullptr) {
    // A register write whose characters are not shown after its own application was refused
    // (a last-writer-wins register kept a write with a later clock): the holder of that
    // register decided, for the characters the edit typed and for those it carried along (a
    // paragraph moved by a split or a join).
    if (auto decoded = paragraphs::decode(payload)) {
      if (const auto* writes = std::get_if<paragraphs::ClientWrites>(&*decoded)) {
        for (const paragraphs::Write& w : writes->writes) {
          std::optional<EditTag> holder;
          if (w.index < p->registers().size()) {
            const paragraphs::Stamp& st = p->registers()[w.index].stamp;
            const auto found = stamps_.find({st.agent, st.counter});
            if (found != stamps_.end()) {
              holder = found->second;
            } else if (st.counter != 0) {
              holder = kInitialText;  // a written register whose stamp is no client's
            }
          }
          std::vector<CharId> carried = w.value.ids;
          if (w.value.exists) carried.push_back(w.value.term);
          for (const CharId& id : carried) {
            if (view.count.contains(id)) continue;
            chars_[{doc, id}].push_back(CharEv{t_us, static_cast<int>(s), false, How::kRefused, m, holder, s});
          }
        }
      }
    }
  }
  record(t_us, static_cast<int>(s), doc, change, How::kWrite, m, s);
}

void Oracle::server_record(std::int64_t t_us, std::uint32_t s, std::uint32_t doc, std::vector<CharId> ids,
                           std::uint64_t index) {
  const auto it = records_.find({doc, index});
  const Change change = advance(servers_[{s, doc}], std::move(ids));
  record(t_us, static_cast<int>(s), doc, change, How::kWrite, it == records_.end() ? nullptr : it->second, s);
}

void Oracle::server_memory(std::int64_t t_us, std::uint32_t s, std::uint32_t doc, std::vector<CharId> ids) {
  memory_replaced_[{s, doc}].push_back(t_us);
  const Change change = advance(servers_[{s, doc}], std::move(ids));
  record(t_us, static_cast<int>(s), doc, change, How::kMemory, nullptr, s);
}

void Oracle::append_requested(std::uint32_t s, std::uint64_t request) {
  const auto it = last_applied_.find(s);
  appends_[{s, request}] = it == last_applied_.end() ? nullptr : it->second;
}

void Oracle::record_committed(std::uint32_t s, std::uint64_t request, std::uint32_t doc, std::uint64_t index) {
  const auto it = appends_.find({s, request});
  records_[{doc, index}] = it == appends_.end() ? nullptr : it->second;
  if (it != appends_.end() && it->second != nullptr) committed_.insert({it->second->tag.client, it->second->tag.op});
}

void Oracle::durable(std::int64_t t_us, std::uint32_t doc, const std::vector<CharId>& added,
                     const std::vector<CharId>& removed, std::optional<std::uint64_t> index,
                     std::optional<std::uint32_t> snapshot_server) {
  const Msg* by = nullptr;
  if (index && !snapshot_server) {
    if (auto it = records_.find({doc, *index}); it != records_.end()) by = it->second;
  }
  const How how = snapshot_server ? How::kSnapshot : How::kWrite;
  const std::uint32_t server = snapshot_server.value_or(0);
  for (const CharId& id : added) {
    chars_[{doc, id}].push_back(CharEv{t_us, -1, true, how, by, std::nullopt, server, index.value_or(0)});
  }
  for (const CharId& id : removed) chars_[{doc, id}].push_back(CharEv{t_us, -1, false, how, by, std::nullopt, server});
}

void Oracle::durable_refused(std::int64_t t_us, std::uint32_t doc, std::uint64_t index, AgentId holder_agent,
                             std::uint64_t holder_counter, const std::vector<CharId>& ids) {
  if (holder_counter == 0) return;  // a register never written cannot hold against a write
  const auto rec = records_.find({doc, index});
  const Msg* by = rec == records_.end() ? nullptr : rec->second;
  const auto found = stamps_.find({holder_agent, holder_counter});
  const EditTag holder = found != stamps_.end() ? found->second : kInitialText;  // no client's: the initial text's
  for (const CharId& id : ids) {
    chars_[{doc, id}].push_back(CharEv{t_us, -2, false, How::kRefused, by, holder, 0, index});
  }
}

void Oracle::database_lost(std::int64_t t_us, std::uint32_t doc, const std::vector<CharId>& added,
                           const std::vector<CharId>& removed) {
  for (const CharId& id : added) chars_[{doc, id}].push_back(CharEv{t_us, -1, true, How::kLost, nullptr, std::nullopt, 0});
  for (const CharId& id : removed) chars_[{doc, id}].push_back(CharEv{t_us, -1, false, How::kLost, nullptr, std::nullopt, 0});
}

bool Oracle::saw(const EditTag& e, const EditTag& w) const {
  const auto it = edits_.find({e.client, e.op});
  if (it == edits_.end()) return false;
  const auto s = it->second.seen_ops.find(w.client);
  return s != it->second.seen_ops.end() && s->second >= w.op;
}

Oracle::Verdict Oracle::judge(const std::vector<CharEv>& evs, const CharEv& removal, CharId x, const EditTag& e,
                              int depth) const {
  switch (removal.how) {
    case How::kMemory:
      return Verdict{"crash", std::nullopt, "memory lost"};
    case How::kLost:
      return Verdict{"db_lost", std::nullopt, "the database was lost, and its backups did not hold it"};
    case How::kRefused: {
      if (!removal.holder) return Verdict{"unknown", std::nullopt, "refused, holder unknown"};
      const EditTag h = *removal.holder;
      // Every client starts from the initial text: a write it loses to by clock was seen.
      if (h.client == kInitialText.client) return Verdict{"clock_skew", std::nullopt, "refused for the initial text's later clock"};
      // A client has seen its own earlier edits: an earlier one winning by clock is its clock
      // going back.
      if (h.client == e.client ? h.op <= e.op : saw(e, h)) return Verdict{"clock_skew", h, "refused for a write it had seen"};
      return Verdict{"concurrent", h, "refused for a concurrent write"};
    }
    case How::kSnapshot: {
      // The snapshot held the server's memory: what took the character out of it there.
      const CharEv* last = nullptr;
      for (const CharEv& ev : evs) {
        if (ev.t_us > removal.t_us) break;
        if (ev.place == static_cast<int>(removal.server) && !ev.added) last = &ev;
      }
      if (last == nullptr || depth > 32) return Verdict{"unknown", std::nullopt, "snapshot of a memory that never held it"};
      return judge(evs, *last, x, e, depth + 1);
    }
    case How::kWrite:
      break;
  }
  const Msg* w = removal.by;
  if (w == nullptr) return Verdict{"unknown", std::nullopt, "a write not traced to a client's message"};
  // The same write carried X into a register a server refused it: the holder decided.
  for (const CharEv& ev : evs) {
    if (ev.how == How::kRefused && ev.by == w && depth <= 32) return judge(evs, ev, x, e, depth + 1);
  }
  if (w->tag.client != e.client && saw(e, w->tag)) return Verdict{"clock_skew", w->tag, "a write it had seen won"};
  // Its author's state came from a load of the document as of before X was last put in the
  // durable text, though that load came after: a stale load (a cache, a lagging replica, a
  // server behind the log) hid X from the write.
  if (const auto ls = loads_.find(w->tag.client); ls != loads_.end()) {
    const Load* last = nullptr;
    for (const Load& l : ls->second) {
      if (l.t_us > w->t_us) break;
      last = &l;
    }
    const CharEv* put = nullptr;
    for (const CharEv& ev : evs) {
      if (ev.t_us > removal.t_us) break;
      if (ev.place == -1 && ev.added) put = &ev;
    }
    if (last != nullptr && put != nullptr && last->t_us >= put->t_us && last->version < put->index) {
      return Verdict{"stale_base", w->tag, "its author loaded the document as of before it was durable, after it was"};
    }
  }
  // Nobody deleted it on purpose (it would not count as lost), so the write replaced text its
  // author had not seen where it wrote: its view lacked the character, or held it elsewhere (a
  // register addressed by an index that a concurrent split or join had moved).
  if (w->tag.client != e.client) {
    return Verdict{"concurrent", w->tag, w->shows(x) ? "a write over a moved paragraph" : "a write whose view lacked it"};
  }
  // Its own author wrote without it: what took it out of the author's view — the last write of
  // another client that removed it from a server's memory before.
  const CharEv* before = nullptr;
  for (const CharEv& ev : evs) {
    if (ev.t_us > w->t_us) break;
    if (ev.place >= 0 && !ev.added && ev.how == How::kWrite && ev.by != nullptr && ev.by->tag.client != e.client) before = &ev;
  }
  // None: its author had reloaded the page from the API after X was acknowledged, and the
  // durable text it was served lacked X (a lagging replica, a cached copy, a text X had not
  // reached yet): its write was made on a stale base.
  if (before == nullptr) {
    const Load* last = nullptr;
    if (const auto ls = loads_.find(w->tag.client); ls != loads_.end()) {
      for (const Load& l : ls->second) {
        if (l.t_us > w->t_us) break;
        last = &l;
      }
    }
    const auto er = edits_.find({e.client, e.op});
    if (last != nullptr && last->api && er != edits_.end() && er->second.acked && last->t_us >= er->second.ack_us &&
        !has(last->ids, x)) {
      return Verdict{"stale_base", w->tag, "its author reloaded the page after it was acknowledged, from a text without it"};
    }
  }
  // None: what took it out of its author's view was an earlier write of its own, made where a
  // concurrent split or join had moved the paragraph (its author never saw X come back).
  if (before == nullptr) {
    for (const CharEv& ev : evs) {
      if (ev.t_us > w->t_us) break;
      if (ev.place >= 0 && !ev.added && ev.how == How::kWrite && ev.by != nullptr && ev.by != w &&
          ev.by->tag.client == e.client && ev.by->tag.op < w->tag.op) {
        before = &ev;
      }
    }
  }
  if (before == nullptr || depth > 32) {
    // Its author still showed X and wrote over it: its write addressed a paragraph by an index a
    // concurrent split or join had moved at the server.
    if (w->shows(x)) return Verdict{"concurrent", std::nullopt, "its own write landed on a moved paragraph"};
    // Nor did it show X, which no write took out of a server and no load of its own hid: X left
    // its view with a register answer (a write of its own overruled, the register's value put
    // back) for an index that held other text at the server — a paragraph a concurrent split or
    // join had moved.
    return Verdict{"concurrent", std::nullopt, "its view lost it to a register answer for a moved paragraph"};
  }
  return judge(evs, *before, x, e, depth + 1);
}

std::vector<TruthChar> Oracle::finish(const std::vector<std::vector<CharId>>& final_durable) const {
  std::map<std::uint32_t, std::vector<CharId>> deleted = deleted_;
  for (auto& [doc, ids] : deleted) std::sort(ids.begin(), ids.end());
  // Each document's replicas in the servers' memory at the end (empty: not loaded there).
  std::map<std::uint32_t, std::vector<const std::unordered_map<CharId, std::uint32_t, IdHash>*>> in_memory;
  for (const auto& [key, view] : servers_) {
    if (!view.order.empty()) in_memory[key.second].push_back(&view.count);
  }
  // Whether every server holding `doc` in memory at the end holds x (and one does).
  const auto held_at_end = [&](std::uint32_t doc, CharId x) {
    const auto it = in_memory.find(doc);
    if (it == in_memory.end()) return false;
    return std::all_of(it->second.begin(), it->second.end(), [&](const auto* count) { return count->contains(x); });
  };
  std::vector<TruthChar> out;
  for (const auto& [key, e] : edits_) {
    if (!e.acked || e.doc >= final_durable.size()) continue;
    const EditTag tag{key.first, key.second};
    for (const CharId& x : e.inserted) {
      if (has(final_durable[e.doc], x)) continue;
      if (const auto d = deleted.find(e.doc); d != deleted.end() && has(d->second, x)) continue;
      TruthChar t;
      t.doc = e.doc;
      t.id = x;
      t.author = tag.client;
      t.author_op = tag.op;
      static const std::vector<CharEv> kNone;
      const auto it = chars_.find({e.doc, x});
      const std::vector<CharEv>& evs = it == chars_.end() ? kNone : it->second;
      Verdict v;
      if (trace_ && *trace_ == std::make_pair(e.doc, x)) {
        static const char* const kHow[] = {"write", "memory", "refused", "snapshot", "lost"};
        for (const CharEv& ev : evs) {
          std::cerr << "oracle trace doc " << e.doc << " id " << x.agent << ":" << x.seq << "  t " << ev.t_us << " place "
                    << ev.place << (ev.added ? " added " : " removed ") << kHow[static_cast<int>(ev.how)];
          if (ev.by != nullptr) std::cerr << " by " << ev.by->tag.client << "." << ev.by->tag.op;
          if (ev.holder) std::cerr << " holder " << ev.holder->client << "." << ev.holder->op;
          std::cerr << " index " << ev.index << "\n";
        }
      }
      const CharEv* last_durable_removal = nullptr;
      bool ever_durable = false;
      for (const CharEv& ev : evs) {
        if (ev.place != -1) continue;
        if (ev.added) ever_durable = true;
        else last_durable_removal = &ev;
      }
      if (ever_durable) {
        v = last_durable_removal ? judge(evs, *last_durable_removal, x, tag, 0)
                                 : Verdict{"unknown", std::nullopt, "durable at the end, yet not in the final text"};
      } else if (held_at_end(e.doc, x)) {
        // Never durable, yet in the memory of every server holding the document at the end: a
        // write that took it out somewhere put back since is not what lost it; the durable text
        // never got it (a snapshot not taken, a commit lost).
        v = Verdict{"crash", std::nullopt, "acknowledged, never durable, held in memory at the end"};
      } else {
        // Never durable: the first write that took it out of a server's memory, else a refusal,
        // else memory lost (a crash, a change that did not commit, never applied at all). A
        // write that left no trace (never acknowledged, shown or committed) and whose server's
        // memory was replaced after it went with that memory, X's absence with it: what lost X
        // is that memory's loss.
        const auto gone_untraced = [&](const CharEv& ev) {
          if (ev.by == nullptr || traced(ev.by)) return false;  // no message to ask: judged as before
          const auto m = memory_replaced_.find({static_cast<std::uint32_t>(ev.place), e.doc});
          return m != memory_replaced_.end() && std::upper_bound(m->second.begin(), m->second.end(), ev.t_us) != m->second.end();
        };
        std::optional<Verdict> found;
        for (const CharEv& ev : evs) {
          if (ev.place < 0 || ev.added || ev.how != How::kWrite || gone_untraced(ev)) continue;
          found = judge(evs, ev, x, tag, 0);
          break;
        }
        if (!found) {
          // The last refusal of a write carrying it: a later write carrying it could have put
          // it in, so the last one kept it out.
          for (auto ev = evs.rbegin(); ev != evs.rend(); ++ev) {
            if (ev->how == How::kRefused) {
              found = judge(evs, *ev, x, tag, 0);
              break;
            }
          }
        }
        v = found.value_or(Verdict{"crash", std::nullopt, "acknowledged, never durable"});
      }
      t.cause = v.cause;
      if (v.by) {
        t.by_client = v.by->client;
        t.by_op = v.by->op;
      }
      t.why = v.why;
      out.push_back(std::move(t));
    }
  }
  std::sort(out.begin(), out.end(), [](const TruthChar& a, const TruthChar& b) {
    return std::tie(a.doc, a.id) < std::tie(b.doc, b.id);
  });
  return out;
}

}  // namespace convlab::sim
