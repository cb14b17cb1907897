#include "reports/checkers.hpp"

#include "faults/kinds.hpp"
#include "reports/check_detail.hpp"

#include "server/core/assert.hpp"

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <limits>
#include <optional>
#include <span>
#include <string_view>
#include <tuple>
#include <utility>

namespace convlab::reports {

namespace {

using history::Event;
using history::EventType;
using history::IdRun;

constexpr std::size_t kListedMax = 20;  // entries kept in `divergent` and `lost`
constexpr std::string_view kDurable = "durable";
constexpr std::string_view kRevokedSuffix = ":revoked";
constexpr std::string_view kMissingOwnWrite = ":missing_own_write";

const std::vector<std::string>& causes() {
  static const std::vector<std::string> c = {"clock_skew", "concurrent", "crash", "db_lost", "stale_base", "unknown"};
  return c;
}

std::optional<std::int64_t> parse_i64(const std::map<std::string, std::string>& m, const std::string& key) {
  auto it = m.find(key);
  if (it == m.end()) return std::nullopt;
  const std::string& s = it->second;
  std::int64_t v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

bool contains(const std::vector<CharId>& sorted, CharId id) {
  return std::binary_search(sorted.begin(), sorted.end(), id);
}

void append_sorted(std::vector<CharId>& out, std::span<const IdRun> runs) {
  for (const IdRun& r : runs) {
    for (std::uint32_t i = 0; i < r.count; ++i) out.push_back(CharId{r.agent, r.seq + i});
  }
}

void sort_unique(std::vector<CharId>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

Percentiles percentiles(std::vector<double> v) {
  Percentiles p;
  if (v.empty()) return p;
  const std::uint64_t n = v.size();
  // Nearest rank: the smallest value with at least p% of the values at or below it, i.e. the
  // value at that index of the sorted values (selected, not sorted: the same values).
  auto index = [&](std::uint64_t pct) {
    std::uint64_t rank = (pct * n + 99) / 100;
    if (rank < 1) rank = 1;
    return static_cast<std::ptrdiff_t>(rank - 1);
  };
  const std::ptrdiff_t i99 = index(99);
  const std::ptrdiff_t i50 = index(50);  // <= i99
  p.max = *std::max_element(v.begin(), v.end());
  std::nth_element(v.begin(), v.begin() + i99, v.end());
  p.p99 = v[static_cast<std::size_t>(i99)];
  // Everything before i99 is now at most v[i99]: the 50th percentile is among them.
  std::nth_element(v.begin(), v.begin() + i50, v.begin() + i99 + 1);
  p.p50 = v[static_cast<std::size_t>(i50)];
  p.count = n;
  return p;
}

using namespace detail;  // Edit, Commit, Ack, EditInfo, seen_op: reports/check_detail.hpp

struct DocState {
  std::map<std::string, const Final*> finals;  // replica -> last kFinal for it
  bool has_ref = false;
  std::vector<CharId> ref;      // the ids that survived: durable, else servers, else everyone
  std::vector<CharId> deleted;  // every id some edit deleted on purpose
};

}  // namespace

struct Checker::State {
  bool list_all_lost = false;
  std::uint64_t events = 0;
  std::int64_t last_t = 0;
  bool has_meta = false;
  std::map<std::string, std::string> meta;  // the first meta event's
  std::optional<std::int64_t> heal_t;       // the first heal event's time
  bool has_counters = false;
  std::map<std::string, std::uint64_t> counters;  // the last counters event's
  double mem_doc_bytes_max = 0;
  double mem_bytes_per_doc = 0;
  std::optional<std::int64_t> last_crash_us;
  std::vector<std::int64_t> crash_us;  // every crash fault's start (and db_lost's: the servers stop)
  std::vector<std::int64_t> db_lost_us;  // every db_lost fault's start
  // When a server's memory may have been lost (LogFacts::memory_loss_us), and the partition
  // windows (open ones end at the end of time).
  std::vector<std::int64_t> memory_loss_us;
  std::vector<std::pair<std::int64_t, std::int64_t>> partitions;
  std::vector<std::int64_t> home_moved_us;  // LogFacts::home_moved_us
  std::map<std::uint32_t, std::vector<detail::Load>> loads;  // client -> its loads
  std::optional<std::int64_t> last_seen_or_ack_us;
  std::uint64_t stale_loads = 0;
  std::uint64_t served_after_revocation = 0;
  std::uint64_t read_your_writes_violations = 0;

  std::vector<Edit> edits;
  std::vector<IdRun> runs;
  std::vector<AuthorOp> seen_ops;
  std::vector<Ack> acks;
  std::vector<Commit> commits;
  std::vector<Overruling> overruled;
  std::vector<Seen> seens;
  std::vector<Rename> renames;
  std::map<std::uint32_t, std::map<std::string, Final>> finals;  // doc -> replica -> last final
  std::vector<std::uint32_t> edit_docs;  // documents with an edit (as the finals' map, sorted later)

  std::uint32_t push_runs(const std::vector<IdRun>& r) {
    CONVLAB_ASSERT(runs.size() + r.size() <= std::numeric_limits<std::uint32_t>::max());
    const auto begin = static_cast<std::uint32_t>(runs.size());
    runs.insert(runs.end(), r.begin(), r.end());
    return begin;
  }
};

Checker::Checker() : s_(std::make_unique<State>()) {}
Checker::~Checker() = default;
Checker::Checker(Checker&&) noexcept = default;
Checker& Checker::operator=(Checker&&) noexcept = default;

void Checker::list_all_lost(bool on) { s_->list_all_lost = on; }

void Checker::add(const Event& e) {
  State& st = *s_;
  ++st.events;
  st.last_t = std::max(st.last_t, e.t_us);
  switch (e.type) {
    case EventType::kMeta:
      if (!st.has_meta) {
        st.has_meta = true;
        st.meta = e.meta;
      }
      break;
    case EventType::kEdit: {
      Edit x;
      x.t_us = e.t_us;
      x.clock_ms = e.clock_ms;
      x.client = e.client;
      x.op = e.op;
      x.doc = e.doc;
      x.para = e.para;
      x.server = e.server;
      x.stale_base = e.stale_base;
      // It splits or joins paragraphs: inserts a newline, or deletes one (a history that does not
      // say which characters it deleted: any delete may have).
      x.structural = e.ins.find(U'\n') != std::u32string::npos || (e.del_newlines < 0 ? e.del > 0 : e.del_newlines > 0);
      x.inserted_count = static_cast<std::uint32_t>(e.inserted.size());
      x.inserted_begin = st.push_runs(e.inserted);
      x.deleted_count = static_cast<std::uint32_t>(e.deleted.size());
      x.deleted_begin = st.push_runs(e.deleted);
      CONVLAB_ASSERT(st.seen_ops.size() + e.seen_ops.size() <= std::numeric_limits<std::uint32_t>::max());
      x.seen_begin = static_cast<std::uint32_t>(st.seen_ops.size());
      x.seen_count = static_cast<std::uint32_t>(e.seen_ops.size());
      st.seen_ops.insert(st.seen_ops.end(), e.seen_ops.begin(), e.seen_ops.end());  // std::map: by author
      st.edits.push_back(x);
      st.edit_docs.push_back(e.doc);
      break;
    }
    case EventType::kAck:
      st.acks.push_back(Ack{e.t_us, e.client, e.op, e.server, e.seq});
      st.last_seen_or_ack_us = std::max(st.last_seen_or_ack_us.value_or(e.t_us), e.t_us);
      break;
    case EventType::kSeen:
      st.seens.push_back(Seen{e.t_us, e.client, e.doc, e.author, e.op, e.server});
      st.last_seen_or_ack_us = std::max(st.last_seen_or_ack_us.value_or(e.t_us), e.t_us);
      break;
    case EventType::kLoad:
      // A welcome whose served version the client was not told (meta welcome_versions false)
      // cannot show a stale base.
      if (!(e.source.rfind("server:", 0) == 0 && st.meta.count("welcome_versions") != 0 &&
            st.meta.at("welcome_versions") == "false")) {
        st.loads[e.client].push_back(detail::Load{e.t_us, e.version, e.source.rfind("server:", 0) != 0});
      }
      if (e.version < e.latest) ++st.stale_loads;
      if (e.source.size() >= kRevokedSuffix.size() &&
          std::string_view(e.source).substr(e.source.size() - kRevokedSuffix.size()) == kRevokedSuffix) {
        ++st.served_after_revocation;
      }
      if (e.source.find(kMissingOwnWrite) != std::string::npos) ++st.read_your_writes_violations;
      break;
    case EventType::kRename: {
      Rename r{e.doc, e.client, e.op, e.version, Rename::Kind::kOther};
      if (e.kind == "request") r.kind = Rename::Kind::kRequest;
      if (e.kind == "ack") r.kind = Rename::Kind::kAck;
      st.renames.push_back(r);
      break;
    }
    case EventType::kFault: {
      // A lost database stops every server too (their memory goes, as in a crash).
      const bool db_lost = e.kind == faults::name(faults::FaultKind::kDbLost);
      if (db_lost) st.db_lost_us.push_back(e.t_us);
      // A crash of the database takes no server's memory: the servers keep their documents (a
      // snapshot that does not commit is written again later; a server whose change did not
      // commit starts the document over, and its `closed` lines below say when). Under snapshot
      // persistence it is not a crash that loses characters either (crash_us).
      const bool db_target = e.detail == "db" || e.detail.rfind("db ", 0) == 0;
      const bool snapshots = st.meta.count("persistence") != 0 && st.meta.at("persistence") == "snapshot";
      if ((e.kind == faults::name(faults::FaultKind::kCrash) && !(db_target && snapshots)) || db_lost) {
        st.last_crash_us = std::max(st.last_crash_us.value_or(e.t_us), e.t_us);
        st.crash_us.push_back(e.t_us);  // history order is time order
      }
      if ((e.kind == faults::name(faults::FaultKind::kCrash) && !db_target) || db_lost ||
          (e.kind == "closed" && (e.detail == "a change did not commit" || e.detail == "the document's home started over" ||
                                  e.detail.rfind("the document's home moved", 0) == 0))) {
        st.memory_loss_us.push_back(e.t_us);
      }
      if (e.kind == "closed" && e.detail.rfind("the document's home moved", 0) == 0) st.home_moved_us.push_back(e.t_us);
      if (e.kind == faults::name(faults::FaultKind::kPartition)) {
        st.partitions.emplace_back(e.t_us, std::numeric_limits<std::int64_t>::max());
      }
      break;
    }
    case EventType::kRecover:
      if (e.kind == faults::name(faults::FaultKind::kPartition)) {
        // The earliest partition still open ends (recoveries name no fault).
        for (auto& [from, until] : st.partitions) {
          if (until == std::numeric_limits<std::int64_t>::max()) {
            until = e.t_us;
            break;
          }
        }
      }
      break;
    case EventType::kHeal:
      if (!st.heal_t) st.heal_t = e.t_us;
      break;
    case EventType::kCounters: {
      st.has_counters = true;
      st.counters = e.counters;
      // The peak of the mem.doc_bytes gauge, and that sample's bytes per loaded replica.
      const auto bytes = e.counters.find("mem.doc_bytes");
      const auto loaded = e.counters.find("mem.docs_loaded");
      if (bytes != e.counters.end() && static_cast<double>(bytes->second) >= st.mem_doc_bytes_max) {
        st.mem_doc_bytes_max = static_cast<double>(bytes->second);
        const bool any = loaded != e.counters.end() && loaded->second > 0;
        st.mem_bytes_per_doc = any ? st.mem_doc_bytes_max / static_cast<double>(loaded->second) : 0.0;
      }
      break;
    }
    case EventType::kFinal:
      st.finals[e.doc][e.replica] = Final{e.text, e.ids};
      break;
    case EventType::kCommit: {
      Commit c;
      c.t_us = e.t_us;
      c.doc = e.doc;
      c.writer = e.writer;
      c.op = e.op;
      c.index = e.version;
      c.server = e.server;
      c.taken_us = e.taken_us >= 0 ? e.taken_us : e.t_us;
      c.added_count = static_cast<std::uint32_t>(e.inserted.size());
      c.added_begin = st.push_runs(e.inserted);
      c.removed_count = static_cast<std::uint32_t>(e.deleted.size());
      c.removed_begin = st.push_runs(e.deleted);
      st.commits.push_back(c);
      break;
    }
    case EventType::kOverruled: {
      Overruling o{e.doc, e.client, e.op, e.writer, e.by_op, 0, static_cast<std::uint32_t>(e.ids.size())};
      o.ids_begin = st.push_runs(e.ids);
      st.overruled.push_back(o);
      break;
    }
  }
}

RunMetrics check(const std::vector<Event>& events) {
  Checker c;
  for (const Event& e : events) c.add(e);
  return c.finish();
}

RunMetrics Checker::finish() const {
  const State& st = *s_;
  RunMetrics m;
  for (const std::string& c : causes()) m.lost_by_cause[c] = 0;
  m.events = st.events;
  m.stale_loads = st.stale_loads;
  m.served_after_revocation = st.served_after_revocation;
  m.read_your_writes_violations = st.read_your_writes_violations;
  const std::optional<std::int64_t>& last_crash_us = st.last_crash_us;

  // ---- What each checker needs, from the compact forms.
  std::vector<EditInfo> edits;
  edits.reserve(st.edits.size());
  for (const Edit& x : st.edits) {
    EditInfo info;
    info.e = &x;
    info.inserted = std::span<const IdRun>(st.runs).subspan(x.inserted_begin, x.inserted_count);
    info.deleted = std::span<const IdRun>(st.runs).subspan(x.deleted_begin, x.deleted_count);
    info.seen_ops = std::span<const AuthorOp>(st.seen_ops).subspan(x.seen_begin, x.seen_count);
    info.order = edits.size();
    edits.push_back(std::move(info));
  }
  std::map<std::uint32_t, DocState> docs;
  for (std::uint32_t d : st.edit_docs) docs[d];
  for (const auto& [doc, replicas] : st.finals) {
    DocState& ds = docs[doc];
    for (const auto& [name, fin] : replicas) ds.finals[name] = &fin;
  }

  std::int64_t heal_us = st.heal_t.value_or(0);
  std::int64_t end_us = st.last_t;
  if (st.has_meta) {
    heal_us = parse_i64(st.meta, "heal_us").value_or(heal_us);
    end_us = parse_i64(st.meta, "end_us").value_or(end_us);
  }
  m.sim_seconds = static_cast<double>(end_us) / 1e6;
  m.edits = edits.size();

  // ---- Edits by (client, op).
  std::vector<std::pair<Key, std::size_t>> by_key;
  by_key.reserve(edits.size());
  for (const EditInfo& info : edits) by_key.emplace_back(Key{info.e->client, info.e->op}, info.order);
  std::stable_sort(by_key.begin(), by_key.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  auto find_edit = [&](std::uint32_t client, std::uint32_t op) -> EditInfo* {
    auto it = std::lower_bound(by_key.begin(), by_key.end(), Key{client, op},
                               [](const auto& a, const Key& k) { return a.first < k; });
    if (it == by_key.end() || it->first != Key{client, op}) return nullptr;
    return &edits[it->second];  // the first edit with that key
  };
  for (const Ack& a : st.acks) {
    if (EditInfo* info = find_edit(a.client, a.op); info != nullptr && !info->acked) {
      info->acked = true;
      info->ack_us = a.t_us;
      info->applied_us = a.t_us;
      info->seq = a.seq;
      info->ack_server = a.server;
      ++m.acked_edits;
    }
  }
  for (const Seen& s : st.seens) {
    if (s.client == s.author) continue;
    if (EditInfo* info = find_edit(s.author, s.op); info != nullptr) info->applied_us = std::min(info->applied_us, s.t_us);
  }

  // ---- Convergence.
  bool any_final = false;
  for (auto& [doc, ds] : docs) {
    if (ds.finals.empty()) {
      if (m.divergent.size() < kListedMax) m.divergent.push_back("doc " + std::to_string(doc) + ": no final replica");
      m.converged = false;
      continue;
    }
    any_final = true;
    auto durable = ds.finals.find(std::string(kDurable));
    const bool has_durable = durable != ds.finals.end();
    const auto& [base_name, base] = has_durable ? *durable : *ds.finals.begin();
    for (const auto& [name, fin] : ds.finals) {
      if (fin->text != base->text && m.divergent.size() < kListedMax) {
        m.divergent.push_back("doc " + std::to_string(doc) + ": " + name + " differs from " + base_name);
      }
    }
  }
  if (!any_final) {
    m.divergent.insert(m.divergent.begin(), "no final events in the history");
  }
  m.converged = any_final && m.divergent.empty();
  // The last seen or ack at or after the heal: the latest of them all, if that is after the heal.
  if (st.last_seen_or_ack_us && *st.last_seen_or_ack_us >= heal_us) {
    m.convergence_ms = std::max(0.0, static_cast<double>(*st.last_seen_or_ack_us - heal_us) / 1000.0);
  }

  // ---- Reference ids per document: durable, else the servers' finals, else every replica's.
  for (auto& [doc, ds] : docs) {
    if (ds.finals.empty()) continue;
    ds.has_ref = true;
    auto durable = ds.finals.find(std::string(kDurable));
    if (durable != ds.finals.end()) {
      append_sorted(ds.ref, durable->second->ids);
    } else {
      bool any_server = false;
      for (const auto& [name, fin] : ds.finals) {
        if (name.rfind("server:", 0) == 0) {
          append_sorted(ds.ref, fin->ids);
          any_server = true;
        }
      }
      if (!any_server) {
        for (const auto& [name, fin] : ds.finals) append_sorted(ds.ref, fin->ids);
      }
    }
    sort_unique(ds.ref);
  }
  for (const EditInfo& info : edits) append_sorted(docs[info.e->doc].deleted, info.deleted);
  for (auto& [doc, ds] : docs) sort_unique(ds.deleted);

  // ---- Which characters survived.
  for (EditInfo& info : edits) {
    const DocState& ds = docs[info.e->doc];
    if (!ds.has_ref) continue;
    info.judged = true;
    for (const IdRun& r : info.inserted) {
      for (std::uint32_t i = 0; i < r.count; ++i) {
        const CharId id{r.agent, r.seq + i};
        if (contains(ds.ref, id)) {
          info.any_present = true;
        } else if (info.acked && !contains(ds.deleted, id)) {
          info.lost.push_back(id);
        }
      }
    }
    for (const IdRun& r : info.deleted) {
      for (std::uint32_t i = 0; i < r.count && !info.deleted_restored; ++i) {
        if (contains(ds.ref, CharId{r.agent, r.seq + i})) info.deleted_restored = true;
      }
    }
  }

  // ---- Candidate overwriters, by (doc, para), in time order (t, client, op, history order).
  ParaEdits by_para;
  for (const EditInfo& info : edits) by_para[{info.e->doc, info.e->para}].push_back(info.order);

  // ---- Causes of loss. With the durable log in the history (meta `commits`), from what the
  // system decided (causes_from_log, reports/causes.cpp). Without it (a history from before
  // `commit` events), inferred from time and vector clocks (causes_from_clocks,
  // reports/causes_clocks.cpp).
  const bool from_log = st.has_meta && st.meta.count("commits") != 0 && st.meta.at("commits") == "true";
  const bool orders_by_client_clock = st.has_meta && st.meta.count("orders_by_client_clock") != 0 &&
                                      st.meta.at("orders_by_client_clock") == "true";
  LostGroups lost_groups;
  for (const EditInfo& info : edits) {
    if (!info.lost.empty() && !from_log) lost_groups[{info.e->doc, info.e->para, info.e->client}].push_back(info.order);
  }
  if (from_log) {
    LogFacts log;
    log.commits = st.commits;
    log.runs = st.runs;
    log.overruled = st.overruled;
    log.orders_by_client_clock = orders_by_client_clock;
    log.overwrites = st.has_meta && st.meta.count("overwrites") != 0 && st.meta.at("overwrites") == "true";
    log.snapshot_persistence = st.meta.count("persistence") != 0 && st.meta.at("persistence") == "snapshot";
    log.ack_after_commit = st.meta.count("ack") != 0 && st.meta.at("ack") == "after_commit";
    log.initial_clock_ms = parse_i64(st.meta, "initial_clock_ms");
    log.crash_us = st.crash_us;
    log.db_lost_us = st.db_lost_us;
    log.memory_loss_us = st.memory_loss_us;
    log.partitions = st.partitions;
    log.home_moved_us = st.home_moved_us;
    log.loads = st.loads;
    // Each client's loads in time order: convlab-load writes its API reads after the run (their
    // lines come after the others'), and the rules look a client's loads up by time.
    for (auto& [client, loads] : log.loads) {
      std::stable_sort(loads.begin(), loads.end(), [](const detail::Load& a, const detail::Load& b) { return a.t_us < b.t_us; });
    }
    log.loads_complete = !(st.meta.count("welcome_versions") != 0 && st.meta.at("welcome_versions") == "false");
    log.acks_numbered = std::any_of(st.acks.begin(), st.acks.end(), [](const Ack& a) { return a.seq != 0; });
    for (const Seen& s : st.seens) log.shown.try_emplace({s.client, s.author, s.op}, s.t_us);
    for (const auto& [doc, ds] : docs) {
      std::optional<std::vector<CharId>> held;
      for (const auto& [name, fin] : ds.finals) {
        if (name.rfind("server:", 0) != 0) continue;
        std::vector<CharId> ids;
        for (const IdRun& r : fin->ids) {
          for (std::uint32_t k = 0; k < r.count; ++k) ids.push_back(CharId{r.agent, r.seq + k});
        }
        std::sort(ids.begin(), ids.end());
        if (held) {
          std::vector<CharId> both;
          std::set_intersection(held->begin(), held->end(), ids.begin(), ids.end(), std::back_inserter(both));
          held = std::move(both);
        } else {
          held = std::move(ids);
        }
      }
      if (held) log.held_at_end[doc] = std::move(*held);
    }
    log.by_para = &by_para;
    causes_from_log(log, edits, find_edit);
  }
  if (!from_log) causes_from_clocks(by_para, lost_groups, last_crash_us, edits);
  for (const EditInfo& info : edits) {
    if (info.acked && (!info.lost.empty() || info.deleted_restored)) ++m.lost_acked_edits;
    if (info.lost.empty()) continue;
    m.lost_acked_chars += info.lost.size();
    if (from_log) {
      for (const auto& [cause, n] : info.cause_chars) m.lost_by_cause[cause] += n;
    } else {
      m.lost_by_cause[info.cause] += info.lost.size();
    }
    m.lost_edits.push_back(LostEdit{info.e->client, info.e->op, info.e->doc, info.e->t_us, info.lost.size(),
                                    info.cause, info.by_client, info.by_op});
    for (std::size_t i = 0; i < info.lost.size(); ++i) {
      if (m.lost.size() >= kListedMax && !st.list_all_lost) break;
      // From the log each character has its own cause; without it, the edit's.
      const bool own = i < info.lost_causes.size() && !info.lost_causes[i].empty();
      const std::optional<std::size_t> by = own ? info.lost_by[i] : std::nullopt;
      m.lost.push_back(LostChar{info.lost[i], info.e->doc, info.e->op, own ? info.lost_causes[i] : info.cause,
                                own ? (by ? edits[*by].e->client : 0) : info.by_client,
                                own ? (by ? edits[*by].e->op : 0) : info.by_op, info.e->client});
    }
  }

  // ---- Causality reversals: an edit B that had seen an edit A of the same paragraph lost to
  // it. B lost (its acknowledged characters are gone, or what it deleted on purpose came back),
  // no one overwrote B afterwards without having seen it (that would be a concurrent loss), and
  // A — seen by B, earlier, with a clock reading later than B's — survived: last-writer-wins
  // let the past overwrite the future.
  {
    const auto survived = [&](const EditInfo& w) { return w.any_present || w.inserted.empty(); };
    for (const EditInfo& info : edits) {
      if (!info.judged || (info.lost.empty() && !info.deleted_restored)) continue;
      if (info.lost.empty() && !info.acked) continue;
      if (from_log) {
        // From the log: B lost characters to a write it had seen that won by its clock. A
        // deletion of B's that came back is judged as below, for strategies that order by clock.
        if (info.cause_chars.count("clock_skew") != 0) {
          ++m.causality_reversals;
          continue;
        }
        if (!orders_by_client_clock || !info.lost.empty()) continue;
      }
      const Edit& b = *info.e;
      const auto& list = by_para[{b.doc, b.para}];
      bool overwritten_later = false;
      bool reversed = false;
      for (std::size_t idx : list) {
        const EditInfo& w = edits[idx];
        const Edit& we = *w.e;
        if (we.client == b.client || !survived(w)) continue;
        const std::optional<std::uint32_t> saw_b = seen_op(w.seen_ops, b.client);
        const bool w_saw_b = saw_b && *saw_b >= b.op;
        if (we.t_us >= b.t_us && !w_saw_b) {
          overwritten_later = true;
          break;
        }
        const std::optional<std::uint32_t> saw_w = seen_op(info.seen_ops, we.client);
        if (saw_w && *saw_w >= we.op && we.t_us < b.t_us && we.clock_ms > b.clock_ms &&
            w.any_present) {
          reversed = true;
        }
      }
      if (reversed && !overwritten_later) ++m.causality_reversals;
    }
  }

  // ---- Visibility: edit -> each other client's first showing of it.
  {
    std::vector<double> all;
    std::vector<double> cross;
    for (const Seen& s : st.seens) {
      if (s.client == s.author) continue;
      const EditInfo* info = find_edit(s.author, s.op);
      if (info == nullptr || info->inserted.empty() || info->e->doc != s.doc) continue;
      const double ms = static_cast<double>(s.t_us - info->e->t_us) / 1000.0;
      all.push_back(ms);
      if (s.server >= 0 && info->e->server >= 0 && s.server != info->e->server) cross.push_back(ms);
    }
    m.visibility_ms = percentiles(std::move(all));
    m.visibility_cross_ms = percentiles(std::move(cross));
  }
  {
    std::vector<std::uint32_t> fast;  // meta fast_clients: "0,3"
    if (st.has_meta) {
      if (auto it = st.meta.find("fast_clients"); it != st.meta.end()) {
        std::uint32_t v = 0;
        bool digits = false;
        for (char ch : it->second + ",") {
          if (ch >= '0' && ch <= '9') {
            v = v * 10 + static_cast<std::uint32_t>(ch - '0');
            digits = true;
          } else if (digits) {
            fast.push_back(v);
            v = 0;
            digits = false;
          }
        }
      }
    }
    const auto is_fast = [&](std::uint32_t c) { return std::find(fast.begin(), fast.end(), c) != fast.end(); };
    std::vector<double> others;
    for (const Seen& s : st.seens) {
      if (s.client == s.author || is_fast(s.client) || is_fast(s.author)) continue;
      const EditInfo* info = find_edit(s.author, s.op);
      if (info == nullptr || info->inserted.empty() || info->e->doc != s.doc) continue;
      others.push_back(static_cast<double>(s.t_us - info->e->t_us) / 1000.0);
    }
    m.visibility_others_ms = percentiles(std::move(others));
  }

  // ---- Renames: an acknowledged rename R (version v) is silently lost when a later
  // acknowledged rename of the same document was made on a title version below v (its author
  // had not seen R) and R's author got no notice. Each R counts once.
  {
    std::map<std::pair<std::uint32_t, std::uint32_t>, std::uint64_t> base;  // (client, op) -> base
    struct Acked {
      std::uint32_t doc, client;
      std::uint64_t version, base;
    };
    std::vector<Acked> acked;
    for (const Rename& r : st.renames) {
      if (r.kind == Rename::Kind::kRequest) base[{r.client, r.op}] = r.version;
    }
    for (const Rename& r : st.renames) {
      if (r.kind != Rename::Kind::kAck) continue;
      auto b = base.find({r.client, r.op});
      acked.push_back(Acked{r.doc, r.client, r.version, b == base.end() ? r.version - 1 : b->second});
    }
    for (const Acked& a : acked) {
      for (const Acked& later : acked) {
        if (later.doc == a.doc && later.version > a.version && later.base < a.version) {
          ++m.silent_rename_losses;
          break;
        }
      }
    }
  }

  // ---- Counters: the last snapshot is cumulative over the run.
  if (st.has_counters) {
    for (const auto& [name, value] : st.counters) {
      if (name.rfind("db.", 0) == 0) {
        m.db_queries += value;
        m.db_queries_by_kind[name.substr(3)] += value;
      }
    }
    const auto counter = [&](const std::string& name) -> double {
      auto it = st.counters.find(name);
      return it == st.counters.end() ? 0.0 : static_cast<double>(it->second);
    };
    if (counter("mem.replica_docs") > 0) {
      m.memory_per_doc_bytes = counter("mem.replica_bytes") / counter("mem.replica_docs");
    }
    if (counter("mem.replicas") > 0) {
      m.memory_per_replica_bytes = counter("mem.replica_bytes") / counter("mem.replicas");
    }
    m.memory_replica_bytes_max = counter("mem.replica_bytes_max");
    if (m.edits > 0) {
      m.msgs_per_edit = counter("net.msgs") / static_cast<double>(m.edits);
      m.bytes_per_edit = counter("net.bytes") / static_cast<double>(m.edits);
    }
  }
  if (heal_us > 0) m.db_queries_per_s = static_cast<double>(m.db_queries) / (static_cast<double>(heal_us) / 1e6);
  m.mem_doc_bytes_max = st.mem_doc_bytes_max;
  m.mem_bytes_per_doc = st.mem_bytes_per_doc;
  if (heal_us > 0 && st.has_counters) {
    const auto per_s = [&](const std::string& name) {
      auto it = st.counters.find(name);
      const double v = it == st.counters.end() ? 0.0 : static_cast<double>(it->second);
      return v / (static_cast<double>(heal_us) / 1e6);
    };
    m.db_polls_per_s = per_s("db.poll");
    m.bus_msgs_per_s = per_s("bus.msgs");
    m.net_msgs_per_s = per_s("net.msgs");
    m.net_bytes_per_s = per_s("net.bytes");
    m.server_inputs_per_s = per_s("srv.inputs");
    m.awareness_msgs_per_s = per_s("awareness.msgs");
    m.awareness_bytes_per_s = per_s("awareness.bytes");
    if (auto v = st.counters.find("awareness.viewers"); v != st.counters.end() && v->second > 0) {
      m.awareness_msgs_per_viewer_s = m.awareness_msgs_per_s / static_cast<double>(v->second);
      m.awareness_bytes_per_viewer_s = m.awareness_bytes_per_s / static_cast<double>(v->second);
    }
    for (std::uint32_t p = 0;; ++p) {
      const std::string prefix = "partition." + std::to_string(p) + ".";
      if (st.counters.find(prefix + "appends") == st.counters.end()) break;
      PartitionLoad load;
      load.commits_per_s = per_s(prefix + "commits");
      load.appends_per_s = per_s(prefix + "appends");
      const auto ms = [&](const std::string& name) {
        auto it = st.counters.find(name);
        return it == st.counters.end() ? 0.0 : static_cast<double>(it->second) / 1000.0;
      };
      load.commit_ms_p50 = ms(prefix + "commit_us_p50");
      load.commit_ms_p99 = ms(prefix + "commit_us_p99");
      m.partitions.push_back(load);
    }
    double total = 0;
    for (const PartitionLoad& load : m.partitions) {
      total += load.appends_per_s;
      m.partition_appends_per_s_max = std::max(m.partition_appends_per_s_max, load.appends_per_s);
      m.partition_commit_ms_p50_max = std::max(m.partition_commit_ms_p50_max, load.commit_ms_p50);
      m.partition_commit_ms_p99_max = std::max(m.partition_commit_ms_p99_max, load.commit_ms_p99);
    }
    if (total > 0) {
      m.partition_imbalance = m.partition_appends_per_s_max / (total / static_cast<double>(m.partitions.size()));
    }
  }
  return m;
}

std::map<std::string, double> RunMetrics::flatten() const {
  std::map<std::string, double> f;
  const auto n = [](std::uint64_t v) { return static_cast<double>(v); };
  f["converged"] = converged ? 1.0 : 0.0;
  f["convergence_ms"] = convergence_ms;
  f["edits"] = n(edits);
  f["acked_edits"] = n(acked_edits);
  f["lost_acked_edits"] = n(lost_acked_edits);
  f["lost_acked_chars"] = n(lost_acked_chars);
  for (const std::string& c : causes()) {
    auto it = lost_by_cause.find(c);
    f["lost_acked_chars." + c] = it == lost_by_cause.end() ? 0.0 : n(it->second);
  }
  f["causality_reversals"] = n(causality_reversals);
  const auto put = [&](const std::string& prefix, const Percentiles& p) {
    f[prefix + ".p50"] = p.p50;
    f[prefix + ".p99"] = p.p99;
    f[prefix + ".max"] = p.max;
    f[prefix + ".count"] = n(p.count);
  };
  put("visibility_ms", visibility_ms);
  put("visibility_cross_ms", visibility_cross_ms);
  put("visibility_others_ms", visibility_others_ms);
  f["read_your_writes_violations"] = n(read_your_writes_violations);
  f["silent_rename_losses"] = n(silent_rename_losses);
  f["stale_loads"] = n(stale_loads);
  f["served_after_revocation"] = n(served_after_revocation);
  f["db_queries"] = n(db_queries);
  f["db_queries_per_s"] = db_queries_per_s;
  f["db_queries.poll"] = 0;
  f["db_queries.commit"] = 0;
  for (const auto& [kind, count] : db_queries_by_kind) f["db_queries." + kind] = n(count);
  f["msgs_per_edit"] = msgs_per_edit;
  f["bytes_per_edit"] = bytes_per_edit;
  f["db_polls_per_s"] = db_polls_per_s;
  f["bus_msgs_per_s"] = bus_msgs_per_s;
  f["net_msgs_per_s"] = net_msgs_per_s;
  f["net_bytes_per_s"] = net_bytes_per_s;
  f["server_inputs_per_s"] = server_inputs_per_s;
  f["awareness_msgs_per_s"] = awareness_msgs_per_s;
  f["awareness_bytes_per_s"] = awareness_bytes_per_s;
  f["awareness_msgs_per_viewer_s"] = awareness_msgs_per_viewer_s;
  f["awareness_bytes_per_viewer_s"] = awareness_bytes_per_viewer_s;
  f["partition_imbalance"] = partition_imbalance;
  f["partition_appends_per_s_max"] = partition_appends_per_s_max;
  f["partition_commit_ms_p50_max"] = partition_commit_ms_p50_max;
  f["partition_commit_ms_p99_max"] = partition_commit_ms_p99_max;
  f["mem_doc_bytes_max"] = mem_doc_bytes_max;
  f["mem_bytes_per_doc"] = mem_bytes_per_doc;
  f["memory_per_doc_bytes"] = memory_per_doc_bytes;
  f["memory_per_replica_bytes"] = memory_per_replica_bytes;
  f["memory_replica_bytes_max"] = memory_replica_bytes_max;
  f["events"] = n(events);
  f["sim_seconds"] = sim_seconds;
  return f;
}

const std::vector<std::string>& metric_names() {
  static const std::vector<std::string> names = [] {
    // Every name flatten() gives for any history, except db_queries.<kind> beyond poll/commit.
    std::map<std::string, double> f = RunMetrics{}.flatten();
    std::vector<std::string> v;
    for (const auto& [name, value] : f) v.push_back(name);
    return v;  // std::map: already sorted
  }();
  return names;
}

}  // namespace convlab::reports
