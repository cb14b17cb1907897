// Causes of loss from the durable log (docs/history.md, "Causes of loss"): each lost
// acknowledged character is followed through the `commit` events — did it reach the durable
// text, and which change took it out — and the change's writer is asked whether it had seen the
// character's edit. Only where the log cannot name the deciding write (a snapshot, a write made
// on a view the character had already left, a write a server refused by its clock) are the
// paragraph's other edits consulted, and then only those the log shows durable in time.
#include "reports/check_detail.hpp"

#include "server/core/assert.hpp"

#include <algorithm>
#include <limits>
#include <tuple>

namespace convlab::reports::detail {

namespace {

// Whether `w` had shown edit `e` when it was made.
bool saw(const EditInfo& w, const EditInfo& e) {
  const std::optional<std::uint32_t> s = seen_op(w.seen_ops, e.e->client);
  return s && *s >= e.e->op;
}

struct Verdict {
  std::string cause;
  std::optional<std::size_t> by;  // the blamed edit
};

}  // namespace

void causes_from_log(const LogFacts& log, std::vector<EditInfo>& edits, const FindEdit& find_edit) {
  CONVLAB_ASSERT(log.by_para != nullptr);
  // Every lost character, by id.
  struct LostRef {
    CharId id;
    std::size_t edit;
  };
  std::vector<LostRef> lost;
  for (const EditInfo& info : edits) {
    for (const CharId& id : info.lost) lost.push_back(LostRef{id, info.order});
  }
  if (lost.empty()) return;
  std::sort(lost.begin(), lost.end(), [](const LostRef& a, const LostRef& b) { return a.id < b.id; });

  // Each lost character's fate in the durable text, commit by commit.
  struct Fate {
    bool durable = false;  // it was in the durable text at some point
    bool present = false;  // it is there after the last commit
    // How many times the durable text holds it (a paragraph written again from a stale view can
    // hold a character twice; commits add and remove copies): present while above 0.
    std::uint32_t copies = 0;
    std::optional<std::size_t> removed_by;  // the commit that last took it out
    // Each stretch of time it was durable: the commit that put it in, and the one that took it
    // out (none: still there).
    std::vector<std::pair<std::size_t, std::optional<std::size_t>>> spans;
  };
  std::vector<Fate> fate(lost.size());
  const auto lost_in = [&](std::uint32_t doc, const IdRun& r, auto&& f) {
    auto it = std::lower_bound(lost.begin(), lost.end(), CharId{r.agent, r.seq},
                               [](const LostRef& x, const CharId& id) { return x.id < id; });
    for (; it != lost.end() && it->id.agent == r.agent && it->id.seq - r.seq < r.count; ++it) {
      if (edits[it->edit].e->doc == doc) f(static_cast<std::size_t>(it - lost.begin()));
    }
  };
  // When each edit first reached the durable text: by a commit naming it, or by one of its
  // characters appearing there (snapshots name no edit).
  std::map<Key, std::int64_t> first_commit;
  std::vector<std::pair<CharId, std::int64_t>> first_added;  // every id the log ever added
  for (std::size_t i = 0; i < log.commits.size(); ++i) {
    const Commit& c = log.commits[i];
    if (c.writer >= 0) first_commit.try_emplace(Key{static_cast<std::uint32_t>(c.writer), c.op}, c.t_us);
    for (const IdRun& r : log.runs.subspan(c.removed_begin, c.removed_count)) {
      lost_in(c.doc, r, [&](std::size_t j) {
        if (!fate[j].present) return;
        if (--fate[j].copies > 0) return;  // another copy stays
        fate[j].present = false;
        fate[j].removed_by = i;
        fate[j].spans.back().second = i;
      });
    }
    for (const IdRun& r : log.runs.subspan(c.added_begin, c.added_count)) {
      lost_in(c.doc, r, [&](std::size_t j) {
        fate[j].durable = true;
        fate[j].present = true;
        ++fate[j].copies;
        fate[j].removed_by.reset();
        // Put in again while there (a snapshot holding it, say): the latest put counts.
        if (!fate[j].spans.empty() && !fate[j].spans.back().second) {
          fate[j].spans.back().first = i;
        } else {
          fate[j].spans.emplace_back(i, std::nullopt);
        }
      });
      for (std::uint32_t k = 0; k < r.count; ++k) first_added.emplace_back(CharId{r.agent, r.seq + k}, c.t_us);
    }
  }
  // The overrulings of each lost character, in history order: writes carrying it that the server
  // answered with another write it kept in that register.
  std::vector<std::vector<std::size_t>> overruled_of(lost.size());
  for (std::size_t i = 0; i < log.overruled.size(); ++i) {
    const Overruling& o = log.overruled[i];
    for (const IdRun& r : log.runs.subspan(o.ids_begin, o.ids_count)) {
      lost_in(o.doc, r, [&](std::size_t j) { overruled_of[j].push_back(i); });
    }
  }
  std::stable_sort(first_added.begin(), first_added.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  first_added.erase(std::unique(first_added.begin(), first_added.end(),
                                [](const auto& a, const auto& b) { return a.first == b.first; }),
                    first_added.end());
  // When `w` was first durable, if ever.
  const auto durable_at = [&](const EditInfo& w) -> std::optional<std::int64_t> {
    std::optional<std::int64_t> t;
    if (auto it = first_commit.find(Key{w.e->client, w.e->op}); it != first_commit.end()) t = it->second;
    for (const IdRun& r : w.inserted) {
      auto it = std::lower_bound(first_added.begin(), first_added.end(), CharId{r.agent, r.seq},
                                 [](const auto& x, const CharId& id) { return x.first < id; });
      for (; it != first_added.end() && it->first.agent == r.agent && it->first.seq - r.seq < r.count; ++it) {
        t = std::min(t.value_or(it->second), it->second);
      }
    }
    return t;
  };
  // The last state `client` loaded at or before t.
  const auto last_load_before = [&](std::uint32_t client, std::int64_t t) -> const Load* {
    const auto it = log.loads.find(client);
    if (it == log.loads.end()) return nullptr;
    const auto& l = it->second;
    const auto after = std::upper_bound(l.begin(), l.end(), t, [](std::int64_t u, const Load& x) { return u < x.t_us; });
    return after == l.begin() ? nullptr : &*std::prev(after);
  };
  // Whether `w`'s author, when it made w, showed a state loaded without X although X was durable
  // then: its last load (a welcome, an API read) before w came after X reached the durable text
  // (`added`, a commit) and served a version before that commit's index.
  const auto loaded_without = [&](const EditInfo& w, const Commit& added) {
    const Load* last = last_load_before(w.e->client, w.e->t_us);
    return last != nullptr && last->t_us >= added.t_us && last->version < added.index;
  };
  // Whether X was in the durable text as of log index `version`.
  const auto durable_as_of = [&](const Fate& x, std::uint64_t version) {
    for (const auto& [put, out] : x.spans) {
      if (log.commits[put].index <= version && (!out || log.commits[*out].index > version)) return true;
    }
    return false;
  };
  // Whether E's author, when it made w, showed a page it had reloaded from the API after E was
  // acknowledged, served as of a durable text without X (a lagging replica, a cached copy, a
  // text X had not reached yet): its own write was made on a stale base.
  const auto reloaded_without = [&](const EditInfo& e, const Fate& x, const EditInfo& w) {
    if (!e.acked || w.e->client != e.e->client) return false;
    const Load* last = last_load_before(w.e->client, w.e->t_us);
    return last != nullptr && last->api && last->t_us >= e.ack_us && !durable_as_of(x, last->version);
  };

  // Whether w's register write beats e's by stamp (clock, agent): at an equal clock reading the
  // higher agent wins (the agent of an edit's characters; an edit that inserted nothing cannot be
  // ruled out).
  const auto stamp_beats = [](const EditInfo& w, const EditInfo& e) {
    const auto agent_of = [](const EditInfo& x) -> std::optional<AgentId> {
      if (x.inserted.empty()) return std::nullopt;
      return x.inserted.front().agent;
    };
    if (w.e->clock_ms != e.e->clock_ms) return w.e->clock_ms > e.e->clock_ms;
    const auto wa = agent_of(w);
    const auto ea = agent_of(e);
    return !wa || !ea || *wa > *ea;
  };

  // The write the paragraph's other edits say decided E's character, for a character the log
  // does not follow to an unseeing writer: `bound` is when it left the durable text (or E's
  // acknowledgement, for one that never reached it); `put`, for a durable one, when the durable
  // text last took it in (a write durable before that came before it in the log).
  const auto from_paragraph = [&](const EditInfo& e, std::int64_t bound, bool durable,
                                  std::int64_t put = std::numeric_limits<std::int64_t>::min()) -> std::optional<Verdict> {
    const auto para = log.by_para->find({e.e->doc, e.e->para});
    if (para == log.by_para->end()) return std::nullopt;
    // A write the server let win by its later clock reading, durable by then: clock_skew when E
    // had seen it (the past overwrote the future), else a concurrent write.
    // The register holds the write with the latest clock among those durable by then: that one
    // decided, whether or not E had also seen an earlier one with a later clock than its own.
    if (log.orders_by_client_clock) {
      std::optional<std::size_t> winner;
      for (std::size_t idx : para->second) {
        const EditInfo& w = edits[idx];
        if (w.e->client == e.e->client || !stamp_beats(w, e)) continue;
        const std::optional<std::int64_t> at = durable_at(w);
        if (!at || *at > bound) continue;
        if (!winner || w.e->clock_ms > edits[*winner].e->clock_ms) winner = idx;
      }
      if (winner) return Verdict{saw(e, edits[*winner]) ? "clock_skew" : "concurrent", winner};
      // No client's write: the document's initial text holds the register, stamped at its own
      // clock reading (meta `initial_clock_ms`), and every client started from it.
      if (!durable && log.initial_clock_ms && e.e->clock_ms <= *log.initial_clock_ms) {
        return Verdict{"clock_skew", std::nullopt};
      }
    }
    // An overwrite by someone who had not seen E, of a character that was durable and then left
    // through a write made on a view without it: the earliest such write that became durable.
    // (A character that never became durable under snapshot persistence was overwritten only
    // if a snapshot shows it: overwritten_before_snapshot.)
    if (durable) {
      for (std::size_t idx : para->second) {
        const EditInfo& w = edits[idx];
        if (w.e->client == e.e->client || w.e->t_us < e.e->t_us || w.e->t_us > bound || saw(w, e)) continue;
        if (const std::optional<std::int64_t> at = durable_at(w); !at || *at < put) continue;
        return Verdict{w.e->stale_base ? "stale_base" : "concurrent", idx};
      }
    }
    return std::nullopt;
  };

  // When the first crash fault after t began (none: the end of time).
  const auto first_crash_after = [&](std::int64_t t) {
    const auto crash = std::upper_bound(log.crash_us.begin(), log.crash_us.end(), t);
    return crash == log.crash_us.end() ? std::numeric_limits<std::int64_t>::max() : *crash;
  };
  // The first time after t that a server's memory of a document went: a server's crash, the
  // database lost, a document started over or moved (its `closed` lines); not a partition.
  const auto first_memory_loss_after = [&](std::int64_t t) {
    const auto loss = std::upper_bound(log.memory_loss_us.begin(), log.memory_loss_us.end(), t);
    return loss == log.memory_loss_us.end() ? std::numeric_limits<std::int64_t>::max() : *loss;
  };

  // The order a server applied two acknowledged edits in, from their acks' `seq` (paragraph
  // strategies number every accepted write): known when both carry one from the same order —
  // the document's home's (seq), or under clock ordering the one server both were acknowledged
  // through (each lww server numbers what it applies) — and no server's memory of the document
  // may have been lost from the first's making to the later ack (a server that starts over
  // numbers again from its durable state), nor may a home have moved while a partition was open
  // with either inside the window that left two homes numbering (the old one, cut off, goes on
  // until the partition ends). True: `a` was applied before `b`.
  const auto seq_before = [&](const EditInfo& a, const EditInfo& b) -> std::optional<bool> {
    if (a.seq == 0 || b.seq == 0 || a.e->doc != b.e->doc) return std::nullopt;
    if (log.orders_by_client_clock && a.ack_server != b.ack_server) return std::nullopt;
    const std::int64_t from = std::min(a.e->t_us, b.e->t_us);
    const std::int64_t to = std::max(a.ack_us, b.ack_us);
    const auto loss = std::upper_bound(log.memory_loss_us.begin(), log.memory_loss_us.end(), from);
    if (loss != log.memory_loss_us.end() && *loss <= to) return std::nullopt;
    if (!log.orders_by_client_clock) {
      for (std::int64_t moved : log.home_moved_us) {
        if (moved > to) break;
        for (const auto& [begin, end] : log.partitions) {
          if (begin <= moved && moved < end && end > from) return std::nullopt;
        }
      }
    }
    return a.seq < b.seq;
  };
  // Whether `a` was applied before `b`: by seq_before where it knows, else by when they were made.
  const auto first_applied = [&](const EditInfo& a, const EditInfo& b) {
    return seq_before(a, b).value_or(a.e->t_us < b.e->t_us);
  };
  // Per document (and under clock ordering per server), the edits whose ack carries a `seq`, by
  // seq, and for each position the one acknowledged earliest from there on.
  struct Numbered {
    std::vector<std::pair<std::uint64_t, std::size_t>> by_seq;  // (seq, edit)
    std::vector<std::size_t> earliest_from;                     // edit with the earliest ack_us in [i, end)
  };
  std::map<std::pair<std::uint32_t, std::int32_t>, Numbered> numbered;
  const auto numbering = [&](const EditInfo& w) {
    return std::make_pair(w.e->doc, log.orders_by_client_clock ? w.ack_server : std::int32_t{-1});
  };
  for (const EditInfo& w : edits) {
    if (w.seq != 0) numbered[numbering(w)].by_seq.emplace_back(w.seq, w.order);
  }
  for (auto& [key, n] : numbered) {
    std::sort(n.by_seq.begin(), n.by_seq.end());
    n.earliest_from.resize(n.by_seq.size());
    for (std::size_t i = n.by_seq.size(); i-- > 0;) {
      const std::size_t here = n.by_seq[i].second;
      n.earliest_from[i] = i + 1 == n.by_seq.size() || edits[here].ack_us <= edits[n.earliest_from[i + 1]].ack_us
                               ? here
                               : n.earliest_from[i + 1];
    }
  }
  // Whether `w` replaced no register: acknowledged with no `seq` where acks carry one (every
  // write of it overruled, or none sent).
  const auto replaced_nothing = [&](const EditInfo& w) { return log.acks_numbered && w.acked && w.seq == 0; };
  // Under clock ordering, whether w — a split or join in a paragraph before E's, which rewrites
  // E's register too — beat the register it rewrote: its stamp beats E's and every write to E's
  // paragraph on E's server applied before it from E on (the register keeps the latest stamp).
  const auto beats_register = [&](const EditInfo& w, const EditInfo& e) {
    if (!log.orders_by_client_clock) return true;
    if (!stamp_beats(w, e)) return false;
    const auto para = log.by_para->find({e.e->doc, e.e->para});
    if (para == log.by_para->end()) return true;
    for (std::size_t idx : para->second) {
      const EditInfo& v = edits[idx];
      if (idx <= e.order || &v == &w || v.e->server != e.e->server || replaced_nothing(v)) continue;
      if (first_applied(v, w) && !stamp_beats(w, v)) return false;
    }
    return true;
  };
  // Whether `w` is known applied before t: from its own ack or a `seen` of it (applied_us), or
  // because an edit the same server numbered after it was acknowledged before t.
  const auto applied_by = [&](const EditInfo& w, std::int64_t t) {
    if (w.applied_us < t) return true;
    if (w.seq == 0) return false;
    const Numbered& n = numbered.at(numbering(w));
    const auto after = std::upper_bound(n.by_seq.begin(), n.by_seq.end(), std::make_pair(w.seq, edits.size()));
    if (after == n.by_seq.end()) return false;
    const EditInfo& k = edits[n.earliest_from[static_cast<std::size_t>(after - n.by_seq.begin())]];
    return k.ack_us < t && seq_before(w, k).value_or(false);
  };

  // X never durable: E's author reloaded the page from the API after E's acknowledgement and
  // before a server's memory was next lost after E (memory_loss_us: a server's crash, a document
  // started over or moved; not a partition), was served a text without X, and wrote again on it:
  // the first such write took X out of its server's memory (a loss after it finds X gone already).
  // `before`: when X was found gone (a snapshot without it), else the end of time: the write
  // was made before it, and acknowledged before the crash (so applied where X was).
  const auto stale_own_write = [&](const EditInfo& e, const Fate& x,
                                   std::int64_t before) -> std::optional<Verdict> {
    if (!e.acked || !log.overwrites) return std::nullopt;
    const auto loads = log.loads.find(e.e->client);
    if (loads == log.loads.end()) return std::nullopt;
    const std::int64_t crash_t = first_memory_loss_after(e.e->t_us);
    const std::int64_t until = std::min(crash_t, before);
    for (const Load& l : loads->second) {
      if (l.t_us >= until) break;
      if (!l.api || l.t_us < e.ack_us || durable_as_of(x, l.version)) continue;
      // Its author's first edit of E's paragraph on that load (before it loaded again), or of an
      // earlier paragraph that splits or joins (that rewrites every later paragraph's register,
      // E's with the stale view): the register write that replaced X's.
      const Load* next = &l + 1 == loads->second.data() + loads->second.size() ? nullptr : &l + 1;
      const std::int64_t on_it_until = next != nullptr ? std::min(until, next->t_us) : until;
      auto i = static_cast<std::size_t>(
          std::partition_point(edits.begin() + static_cast<std::ptrdiff_t>(e.order), edits.end(),
                               [&](const EditInfo& w) { return w.e->t_us < l.t_us; }) -
          edits.begin());
      while (i < edits.size() && edits[i].e->t_us < on_it_until &&
             (edits[i].e->client != e.e->client || edits[i].e->doc != e.e->doc ||
              !(edits[i].e->para == e.e->para || (edits[i].e->para < e.e->para && edits[i].e->structural)))) {
        ++i;
      }
      if (i < edits.size() && edits[i].e->t_us < on_it_until && applied_by(edits[i], crash_t) &&
          !replaced_nothing(edits[i]) && reloaded_without(e, x, edits[i])) {
        return Verdict{"stale_base", i};
      }
    }
    return std::nullopt;
  };

  // W made before E, yet applied after E where E was: their acks' `seq` say so (seq_before), or
  // E's author showed W after E's ack, with no load of its own in between — on the connection
  // that carried the ack, and a server delivers in the order it applies (an edit held by a
  // partition or an offline client arrives late).
  const auto applied_after = [&](const EditInfo& w, const EditInfo& e) {
    if (const std::optional<bool> before = seq_before(e, w)) return *before;
    if (!e.acked || !log.loads_complete) return false;
    const auto it = log.shown.find({e.e->client, w.e->client, w.e->op});
    if (it == log.shown.end() || it->second <= e.ack_us) return false;
    const Load* l = last_load_before(e.e->client, it->second);
    return l == nullptr || l->t_us < e.ack_us;
  };

  // Under snapshot persistence, X never durable: a snapshot of E's server, taken after E's
  // acknowledgement and before any crash that followed E, that lacks X shows X left that
  // server's memory before it — overwritten, not lost to a crash. The write that did it is one
  // of another client's, made from E on without having seen E and before the snapshot: the
  // first in E's paragraph, else the first in an earlier one (a split or join there rewrites
  // the later paragraphs' registers).
  const auto overwritten_before_snapshot = [&](const EditInfo& e, const Fate& x) -> std::optional<Verdict> {
    if (!log.snapshot_persistence || !e.acked) return std::nullopt;
    const std::int64_t crash_t = first_crash_after(e.e->t_us);
    const Commit* snap = nullptr;
    // Taken (not committed) after the ack and before the crash: the memory it holds is as of then.
    for (const Commit& c : log.commits) {
      if (c.writer < 0 && c.doc == e.e->doc && c.server == e.e->server && c.taken_us >= e.ack_us &&
          c.taken_us < crash_t) {
        snap = &c;
        break;
      }
    }
    if (snap == nullptr) return std::nullopt;
    std::optional<std::size_t> same;
    std::optional<std::size_t> earlier;
    // In E's paragraph, a write made before E but applied after it (the acks' numbers say so:
    // its author was slower to reach the home) replaced X's register too.
    if (const auto para = log.by_para->find({e.e->doc, e.e->para}); para != log.by_para->end()) {
      for (const std::size_t i : para->second) {
        if (i >= e.order) break;
        const EditInfo& w = edits[i];
        if (w.e->client == e.e->client || saw(w, e) || !applied_by(w, snap->taken_us) || replaced_nothing(w)) continue;
        if (!seq_before(e, w).value_or(false)) continue;
        if (log.orders_by_client_clock && !stamp_beats(w, e)) continue;
        if (!same || seq_before(w, edits[*same]).value_or(false)) same = i;
      }
    }
    for (std::size_t i = e.order + 1; i < edits.size() && edits[i].e->t_us <= snap->taken_us; ++i) {
      const EditInfo& w = edits[i];
      if (w.e->doc != e.e->doc || w.e->client == e.e->client || saw(w, e) || w.e->para > e.e->para) continue;
      // Not known applied before the snapshot (no ack, nobody showed it): it may never have
      // reached the server (its author cut off, or gone before sending).
      if (!applied_by(w, snap->taken_us) || replaced_nothing(w)) continue;
      // Made after E but applied before it (the acks' numbers say so): E's write replaced it.
      if (seq_before(w, e).value_or(false)) continue;
      if (w.e->para == e.e->para) {
        // Under clock ordering a write whose stamp does not beat E's did not replace its register.
        if (log.orders_by_client_clock && !stamp_beats(w, e)) continue;
        // The first applied: the first made, unless the acks' numbers put a later one first.
        if (!same) {
          same = i;
        } else if (seq_before(w, edits[*same]).value_or(false)) {
          same = i;
        }
        continue;
      }
      if (!same && !earlier && w.e->structural && beats_register(w, e)) earlier = i;
    }
    // A split or join in an earlier paragraph made before E but applied after it, and before the
    // one found above, rewrote X's register first.
    for (std::size_t i = 0; !same && i < e.order; ++i) {
      const EditInfo& w = edits[i];
      if (w.e->doc != e.e->doc || w.e->client == e.e->client || w.e->para >= e.e->para || !w.e->structural ||
          saw(w, e) || !applied_after(w, e) || !applied_by(w, snap->taken_us) || replaced_nothing(w) ||
          !beats_register(w, e)) {
        continue;
      }
      if (!earlier || first_applied(w, edits[*earlier])) earlier = i;
    }
    const auto other = [&](std::size_t i) { return Verdict{edits[i].e->stale_base ? "stale_base" : "concurrent", i}; };
    // Its own author's write on a stale reload, if it came before another's that may have
    // taken X out: in its paragraph, or a split or join in an earlier one.
    const std::optional<Verdict> own = stale_own_write(e, x, snap->taken_us);
    const auto before_own = [&](const std::optional<std::size_t>& w) {
      return w && first_applied(edits[*w], edits[*own->by]);
    };
    if (own && !before_own(same) && !before_own(earlier)) return own;
    if (same) return other(*same);
    if (earlier) return other(*earlier);
    // No other client's write: its own author's took X out of that memory, addressing a
    // paragraph by an index a concurrent split or join had moved.
    return Verdict{"concurrent", std::nullopt};
  };

  // Between a snapshot `put` that held X and the snapshot `gone` of the same server that lacked it:
  // the first write applied there, made after `put` by another client that had not seen E, that
  // replaced X's register — in E's paragraph (under clock ordering with a stamp that beats E's), or
  // a split or join in an earlier one that beat the register.
  const auto replaced_after_snapshot = [&](const EditInfo& e, const Commit& put,
                                           const Commit& gone) -> std::optional<std::size_t> {
    if (!log.overwrites || put.writer >= 0 || put.server != gone.server) return std::nullopt;
    std::optional<std::size_t> first;
    for (std::size_t i = e.order + 1; i < edits.size() && edits[i].e->t_us < gone.taken_us; ++i) {
      const EditInfo& w = edits[i];
      if (w.e->t_us <= put.taken_us || w.e->doc != e.e->doc || w.e->client == e.e->client || saw(w, e) ||
          !applied_by(w, gone.taken_us) || replaced_nothing(w) || w.e->para > e.e->para) {
        continue;
      }
      if (log.orders_by_client_clock && w.e->server != gone.server) continue;
      const bool replaces = w.e->para == e.e->para ? !log.orders_by_client_clock || stamp_beats(w, e)
                                                   : w.e->structural && beats_register(w, e);
      if (!replaces) continue;
      if (!first || first_applied(w, edits[*first])) first = i;
    }
    return first;
  };

  // X left the durable text through W, another client's write; `put`: the commit that had last
  // put X in before.
  const auto by_another = [&](const EditInfo& e, const EditInfo& w, const Commit& put) -> Verdict {
    // E was made after showing W, yet the log put W over it: only a clock comparison
    // (last-writer-wins) orders the past over the future.
    if (saw(e, w) && log.orders_by_client_clock && w.e->clock_ms > e.e->clock_ms) return Verdict{"clock_skew", w.order};
    // W's author showed a state loaded without X, though X was durable when it loaded.
    if (loaded_without(w, put)) return Verdict{"stale_base", w.order};
    // A write made without X on its author's screen: it had not seen E, or its view of the
    // paragraph had moved on without X (its own pending writes stay on screen).
    return Verdict{"concurrent", w.order};
  };
  // Before `t` (and X's last removal): the last commit of another client's edit that took X out,
  // with the commit that had put X in before it.
  const auto last_taken_by_another = [&](const EditInfo& e, const Fate& x,
                                         std::int64_t t) -> std::optional<std::pair<const EditInfo*, std::size_t>> {
    if (x.spans.size() < 2) return std::nullopt;  // only the last stretch: nothing before it
    for (std::size_t k = x.spans.size() - 1; k-- > 0;) {
      const Commit& out = log.commits[*x.spans[k].second];
      if (out.t_us > t || out.writer < 0 || static_cast<std::uint32_t>(out.writer) == e.e->client) continue;
      if (const EditInfo* w = find_edit(static_cast<std::uint32_t>(out.writer), out.op)) {
        return std::make_pair(w, x.spans[k].first);
      }
    }
    return std::nullopt;
  };

  // When memory holding E's characters may first have been lost after E: a crash, a document
  // started over, a partition open then or later (the end of time: never).
  const auto memory_lost_after = [&](std::int64_t t) {
    std::int64_t at = std::numeric_limits<std::int64_t>::max();
    const auto it = std::upper_bound(log.memory_loss_us.begin(), log.memory_loss_us.end(), t);
    if (it != log.memory_loss_us.end()) at = *it;
    for (const auto& [from, until] : log.partitions) {
      if (until > t) at = std::min(at, std::max(from, t));
    }
    return at;
  };

  // With a strategy that overwrites (meta `overwrites`), X never durable and no snapshot to
  // tell: another client's write applied in E's server's memory after E and before that memory
  // was lost (acknowledged: it was applied) — under snapshot persistence the first crash after E;
  // under a change log, where X never durable means its commit failed, also the first document
  // started over and any partition open then or later (memory_lost_after) — made from E on, or
  // before E and applied after it (applied_after) — that had not seen E,
  // in E's paragraph — and under clock ordering, with a stamp that beats E's — replaced X's
  // register there: X was gone before the memory was. The first such write decided — unless its
  // own author's write on a stale own reload came before it (that one took X out first).
  const auto overwritten_in_memory = [&](const EditInfo& e, const Fate& x) -> std::optional<Verdict> {
    if (!log.overwrites || !e.acked) return std::nullopt;
    const auto para = log.by_para->find({e.e->doc, e.e->para});
    if (para == log.by_para->end()) return std::nullopt;
    const std::int64_t crash_t =
        log.snapshot_persistence ? first_crash_after(e.e->t_us) : memory_lost_after(e.e->t_us);
    // The first applied of the writes that qualify (by seq_before where it knows, else the
    // first made).
    std::optional<std::size_t> first;
    for (std::size_t idx : para->second) {
      const EditInfo& w = edits[idx];
      if (w.e->client == e.e->client || (w.e->t_us < e.e->t_us && !applied_after(w, e)) || saw(w, e) ||
          !applied_by(w, crash_t) || seq_before(w, e).value_or(false) || replaced_nothing(w)) {
        continue;
      }
      // Under clock ordering (lww) each server applies its clients' writes; otherwise (seq) every
      // write is applied by the document's home, whichever server its author was on.
      if (log.orders_by_client_clock && w.e->server != e.e->server) continue;
      if (log.orders_by_client_clock && !stamp_beats(w, e)) continue;
      if (!first || seq_before(w, edits[*first]).value_or(false)) first = idx;
    }
    // Else a split or join in an earlier paragraph (it rewrites every later paragraph's
    // register, X's with a view without it): the first such write applied.
    if (!first) {
      for (std::size_t i = 0; i < edits.size(); ++i) {
        const EditInfo& w = edits[i];
        if (w.e->doc != e.e->doc || w.e->client == e.e->client || w.e->para >= e.e->para || !w.e->structural ||
            (w.e->t_us < e.e->t_us && !applied_after(w, e)) || saw(w, e) || !applied_by(w, crash_t) ||
            seq_before(w, e).value_or(false) || replaced_nothing(w)) {
          continue;
        }
        if (log.orders_by_client_clock && (w.e->server != e.e->server || !beats_register(w, e))) continue;
        if (!first || seq_before(w, edits[*first]).value_or(false)) first = i;
      }
    }
    if (!first) return std::nullopt;
    const std::optional<Verdict> own = stale_own_write(e, x, std::numeric_limits<std::int64_t>::max());
    if (own && first_applied(edits[*own->by], edits[*first])) return own;
    return Verdict{edits[*first].e->stale_base ? "stale_base" : "concurrent", first};
  };

  // With a strategy that overwrites, X never durable and gone from the servers' memory by the
  // end, and no server's memory lost from E on (no crash, no document started over or moved to
  // another home, no partition open then or later): a write
  // took X out of a server's memory. The first write of another client's made from E on without
  // having seen E decided — in E's paragraph (under clock ordering, one whose stamp beats E's),
  // else in any paragraph (a split or join moves the registers after it, and a view's paragraph
  // indexes may be another replica's); with none, its own author's later write, at a paragraph
  // a split or join had moved. (With memory lost after E, the history cannot tell whether a
  // write came first.)
  const auto overwritten_without_memory_loss = [&](const EditInfo& e) -> std::optional<Verdict> {
    if (!e.acked || !log.overwrites || memory_lost_after(e.e->t_us) != std::numeric_limits<std::int64_t>::max()) {
      return std::nullopt;
    }
    const auto verdict = [&](std::size_t i) { return Verdict{edits[i].e->stale_base ? "stale_base" : "concurrent", i}; };
    // In E's paragraph: its edits in history order, from E on.
    const auto para = log.by_para->find({e.e->doc, e.e->para});
    CONVLAB_ASSERT(para != log.by_para->end());  // E is one of them
    for (auto it = std::upper_bound(para->second.begin(), para->second.end(), e.order); it != para->second.end(); ++it) {
      const EditInfo& w = edits[*it];
      if (w.e->client == e.e->client || saw(w, e) || seq_before(w, e).value_or(false) || replaced_nothing(w)) continue;
      if (log.orders_by_client_clock && !stamp_beats(w, e)) continue;
      return verdict(*it);
    }
    // Else the first in another paragraph, else its author's own later write of the document.
    bool own_later = false;
    for (std::size_t i = e.order + 1; i < edits.size(); ++i) {
      const EditInfo& w = edits[i];
      if (w.e->doc != e.e->doc) continue;
      if (w.e->client == e.e->client) {
        own_later = true;
      } else if (w.e->para != e.e->para && !saw(w, e)) {  // E's paragraph was asked above
        return verdict(i);
      }
    }
    if (own_later) return Verdict{"concurrent", std::nullopt};
    return std::nullopt;
  };

  // X went with a write the server overruled: the write it kept there decided. Every client
  // started from the initial text, so losing to it is losing to a write already seen.
  const auto from_overruling = [&](const EditInfo& e, const Overruling& o) -> Verdict {
    if (o.by_client < 0) return Verdict{"clock_skew", std::nullopt};
    const EditInfo* h = find_edit(static_cast<std::uint32_t>(o.by_client), o.by_op);
    if (h == nullptr) return Verdict{"unknown", std::nullopt};
    // A client has seen its own earlier edits (an earlier one kept by clock: its clock went back).
    const bool seen = h->e->client == e.e->client ? h->e->op <= e.e->op : saw(e, *h);
    return Verdict{seen ? "clock_skew" : "concurrent", h->order};
  };

  // A commit that is the store restored from its backups: no writer, at the instant a db_lost
  // fault began.
  const auto lost_with_database = [&](const Commit& c) {
    return c.writer < 0 && std::binary_search(log.db_lost_us.begin(), log.db_lost_us.end(), c.t_us);
  };

  // Verdicts per (edit, fate kind, commit, and the stretches X was durable: the commit that last
  // put it in, how many): the characters of one edit mostly share them.
  std::map<std::tuple<std::size_t, int, std::size_t, std::size_t, std::size_t>, Verdict> memo;
  for (std::size_t j = 0; j < lost.size(); ++j) {
    EditInfo& e = edits[lost[j].edit];
    const Fate& f = fate[j];
    const int kind = !f.durable ? 0 : f.present ? 1 : 2;
    const std::size_t commit = f.removed_by.value_or(std::numeric_limits<std::size_t>::max());
    // The overruling that took X out: for one that left the durable text, of the write whose
    // commit took it out (X moved into a register another write held); for one that never
    // reached it, the last write carrying it that was overruled (a later write carrying it
    // could have put it in: the last refusal is the one that kept it out).
    const Commit* took = kind == 2 ? &log.commits[commit] : nullptr;
    const Overruling* overruling = nullptr;
    for (std::size_t i : overruled_of[j]) {
      const Overruling& o = log.overruled[i];
      // A write that carried X into a register E itself (or a later write of E's author, which
      // showed X) held: X was kept there, not refused.
      if (o.by_client >= 0 && static_cast<std::uint32_t>(o.by_client) == e.e->client && o.by_op >= e.e->op) continue;
      const bool of_the_taker = took != nullptr && took->writer >= 0 &&
                                o.client == static_cast<std::uint32_t>(took->writer) && o.op == took->op;
      if (of_the_taker) {
        overruling = &o;
        break;
      }
      if (kind == 0) overruling = &o;
    }
    const auto held_docs = log.held_at_end.find(e.e->doc);
    const bool held = kind == 0 && held_docs != log.held_at_end.end() &&
                      std::binary_search(held_docs->second.begin(), held_docs->second.end(), lost[j].id);
    // Held to the end, X was not lost to a refusal of a write carrying it (a register another
    // write held then): the durable text never got it.
    if (held) overruling = nullptr;
    // Memo kinds 3 and 5: never durable / left the durable text, decided by an overruling; 6:
    // never durable, held by every server at the end.
    const std::size_t last_put = f.spans.empty() ? std::numeric_limits<std::size_t>::max() : f.spans.back().first;
    auto [it, fresh] = memo.try_emplace({lost[j].edit, overruling ? 3 + kind : held ? 6 : kind,
                                         overruling ? static_cast<std::size_t>(overruling - log.overruled.data()) : commit,
                                         last_put, f.spans.size()});
    Verdict& v = it->second;
    if (fresh) {
      if (kind == 2 && lost_with_database(log.commits[commit])) {
        // The store lost it: the database was lost, and its backups did not hold it.
        v = Verdict{"db_lost", std::nullopt};
      } else if (overruling != nullptr) {
        v = from_overruling(e, *overruling);
      } else if (kind == 1) {
        // Durable after the last commit yet missing from the reference: the log and the
        // reference disagree.
        v = Verdict{"unknown", std::nullopt};
      } else if (kind == 2) {
        const Commit& c = log.commits[commit];
        EditInfo* w = c.writer >= 0 ? find_edit(static_cast<std::uint32_t>(c.writer), c.op) : nullptr;
        const Commit& put = log.commits[f.spans.back().first];
        if (w != nullptr && w->e->client != e.e->client) {
          v = by_another(e, *w, put);
        } else if (w != nullptr && loaded_without(*w, put)) {
          // Its own author took X out, writing on a state it had loaded without X.
          v = Verdict{"stale_base", w->order};
        } else if (const auto before = last_taken_by_another(e, f, w != nullptr ? w->e->t_us : c.t_us)) {
          // Its own author wrote without X: what took X out of its view was the last write of
          // another client that took X out of the durable text before it wrote.
          v = by_another(e, *before->first, log.commits[before->second]);
        } else if (w != nullptr && reloaded_without(e, f, *w)) {
          v = Verdict{"stale_base", w->order};
        } else if (const auto stale = w == nullptr ? stale_own_write(e, f, c.taken_us) : std::nullopt) {
          // A snapshot found X gone from its server's memory: its author's write on a stale
          // reload took it out there — unless another client's write, made after the snapshot
          // that had put X in and without having seen E, was applied there before it.
          const std::optional<std::size_t> other = replaced_after_snapshot(e, put, c);
          v = other && first_applied(edits[*other], edits[*stale->by])
                  ? Verdict{edits[*other].e->stale_base ? "stale_base" : "concurrent", other}
                  : *stale;
        } else {
          // Its own author took X out without deleting it and nobody else's write decided: its
          // write addressed a paragraph by an index that a concurrent split or join had moved.
          // So is a snapshot of E's own server, with no crash since X was put in: a write there
          // took X out of that memory, and no rule above found one that had not seen X — one
          // that had, writing where a split or join had moved the paragraph.
          const bool own = w != nullptr && w->e->client == e.e->client;
          const bool own_server_snapshot = c.writer < 0 && c.server == e.e->server &&
                                           first_crash_after(log.commits[f.spans.back().first].taken_us) > c.taken_us;
          v = from_paragraph(e, c.t_us, true, log.commits[f.spans.back().first].t_us)
                  .value_or(Verdict{own || own_server_snapshot ? "concurrent" : "unknown", std::nullopt});
        }
      } else {
        const std::int64_t bound = e.acked ? e.ack_us : std::numeric_limits<std::int64_t>::max();
        std::optional<Verdict> found;
        // Still in every server's memory at the end: no write took it out, the durable text
        // never got it (a snapshot not taken yet, a commit lost with the database).
        if (!held) {
          found = from_paragraph(e, bound, false);
          if (!found) found = overwritten_before_snapshot(e, f);
          if (!found) found = overwritten_in_memory(e, f);
          if (!found) found = stale_own_write(e, f, std::numeric_limits<std::int64_t>::max());
          if (!found) found = overwritten_without_memory_loss(e);
        }
        // Acknowledged only after its commit, yet never durable: not a crash (the store kept
        // what it acknowledged); a refusal whose winner the log does not show.
        v = found.value_or(Verdict{log.ack_after_commit ? "unknown" : "crash", std::nullopt});
      }
    }
    ++e.cause_chars[v.cause];
    if (e.lost_causes.size() != e.lost.size()) {
      e.lost_causes.assign(e.lost.size(), std::string());
      e.lost_by.assign(e.lost.size(), std::nullopt);
    }
    {
      const auto at = std::find(e.lost.begin(), e.lost.end(), lost[j].id);
      CONVLAB_ASSERT(at != e.lost.end() && *at == lost[j].id);
      e.lost_causes[static_cast<std::size_t>(at - e.lost.begin())] = v.cause;
      e.lost_by[static_cast<std::size_t>(at - e.lost.begin())] = v.by;
    }
    // The edit is named by the cause of most of its characters (the first such, in id order).
    if (e.cause.empty() || e.cause_chars[v.cause] > e.cause_chars[e.cause]) {
      e.cause = v.cause;
      e.by_client = v.by ? edits[*v.by].e->client : 0;
      e.by_op = v.by ? edits[*v.by].e->op : 0;
    }
  }
}

}  // namespace convlab::reports::detail
