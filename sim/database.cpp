// The simulated database (sim/database.hpp).
#include "sim/database.hpp"

#include "server/core/utf8.hpp"
#include "sim/world_parts.hpp"

#include <algorithm>
#include <cstdio>

namespace convlab::sim {

void Database::setup() {
  const WorldConfig& cfg = sim_.cfg;
  partition_map_ = PartitionMap(cfg.database.partitioning, cfg.docs);
  lanes_.resize(partition_map_.partitions());
  if (cfg.database.partitioned()) {
    for (std::uint32_t p = 0; p < partition_map_.partitions(); ++p) {
      commits_name_.push_back("partition." + std::to_string(p) + ".commits");
      appends_name_.push_back("partition." + std::to_string(p) + ".appends");
      sim_.counters[commits_name_.back()] = 0;  // every partition reports, loaded or not
      sim_.counters[appends_name_.back()] = 0;
    }
  }
  own_committed_.resize(cfg.clients);
  store_.resize(cfg.docs);
  if (cfg.database.backup == DatabaseSpec::Backup::kArchive) {
    // The base backup, once the first content is in; then the WAL every archive interval.
    sim_.at(0, [this] { archive(); });
  }
  if (cfg.initial_text.empty()) {
    for (std::uint32_t d = 0; d < cfg.docs; ++d) {
      durable_.push_back(std::make_unique<workload::DurableText>(sim_.strategy, false, std::span<const std::uint8_t>{}));
      note_version(d);
    }
    return;
  }
  auto text = utf8_decode(cfg.initial_text);
  CONVLAB_ASSERT(text.has_value());  // the scenario loader checked it
  for (std::uint32_t d = 0; d < cfg.docs; ++d) {
    // The first content goes through the strategy like any edit, so it has ids and stamps.
    auto author = sim_.strategy.make_client(kSetupAgent);
    auto server = sim_.strategy.make_server();
    for (const Bytes& m : author->local_edit(Splice{0, 0, *text}, 0)) {
      auto out = server->receive(kSetupAgent, m, 0);
      CONVLAB_ASSERT(out.has_value());
    }
    store_[d].has_snapshot = true;
    store_[d].snapshot = server->snapshot();
    store_[d].snapshot_index = 0;
    store_[d].has_initial = true;
    store_[d].initial = store_[d].snapshot;
    durable_.push_back(std::make_unique<workload::DurableText>(sim_.strategy, true, store_[d].snapshot));
    note_version(d);
  }
}

void Database::reply(std::uint32_t s, std::uint32_t incarnation, StoreReply r, bool connection_broke) {
  Network& net = w_.net;
  net.link_send(net.store_ep(), net.server_ep(s), Sim::draw_us(sim_.net_rng, sim_.cfg.network.db_us()),
                [this, s, incarnation, connection_broke, r = std::move(r)] {
                  Server& sv = w_.servers.at(s);
                  if (sv.up && sv.incarnation == incarnation) {
                    w_.servers.count_input();
                    // The server learns that its connection broke and opens a new one.
                    if (connection_broke) sv.db_session = incarnation_;
                    sv.node->on_store(r);
                  }
                });
}

void Database::execute(std::uint32_t s, std::uint32_t incarnation, std::uint32_t db_sent, std::int64_t sent_us,
                       StoreRequest req) {
  if (!up_) {
    // It arrived as the database went down: the client library retries once it is back.
    backlog_.push_back([this, s, incarnation, db_sent, sent_us, r = std::move(req)]() mutable {
      execute(s, incarnation, db_sent, sent_us, std::move(r));
    });
    return;
  }
  StoreReply reply_msg;
  reply_msg.id = req.id;
  std::int64_t done_us = sim_.now_us;
  if (req.kind == StoreRequest::Kind::kLease) {
    // One statement on the database's clock, answered as a read is.
    reply_msg.leases = leases_.request(req.node, req.lease_docs, sim_.now_us / kUsPerMs, req.lease_ms);
    sim_.at(done_us, [this, s, incarnation, r = std::move(reply_msg)]() mutable { reply(s, incarnation, std::move(r), false); });
    return;
  }
  StoredDoc& d = store_.at(req.doc);
  switch (req.kind) {
    case StoreRequest::Kind::kAppend:
      append(s, incarnation, db_sent, std::move(req));
      return;
    case StoreRequest::Kind::kReadLog:
      // The log is append-only and dense: the record with index i is log[i - 1].
      if (req.after < d.log.size()) {
        reply_msg.records.assign(d.log.begin() + static_cast<std::ptrdiff_t>(req.after), d.log.end());
      }
      break;
    case StoreRequest::Kind::kWriteSnapshot:
      if (!d.has_snapshot || req.after >= d.snapshot_index) {
        d.has_snapshot = true;
        d.snapshot = std::move(req.snapshot);
        d.snapshot_index = req.after;
        const auto change = durable_[req.doc]->replace(d.has_snapshot, d.snapshot, d.snapshot_index, d.log);
        if (!change) {
          ++sim_.counters["durable.unreplayable"];
        } else if (!change->added.empty() || !change->removed.empty()) {
          emit_commit(static_cast<std::int32_t>(s), req.doc, d.snapshot_index, std::nullopt, *change, sent_us);
        }
      }
      break;
    case StoreRequest::Kind::kLease:
      break;  // answered above
    case StoreRequest::Kind::kLoad: {
      if (req.upto > 0) {
        // A past version, from the change log: the first content and the records up to it.
        reply_msg.has_snapshot = d.has_initial;
        reply_msg.snapshot = d.initial;
        reply_msg.snapshot_index = 0;
        reply_msg.latest = d.log.size();
        reply_msg.records.assign(d.log.begin(),
                                 d.log.begin() + static_cast<std::ptrdiff_t>(std::min<std::uint64_t>(req.upto, d.log.size())));
        break;
      }
      // A read replica holds what committed at least replica_lag_ms ago (commit_us ascends).
      std::uint64_t upto = d.log.size();
      if (req.replica) {
        const std::int64_t cutoff_us = sim_.now_us - sim_.cfg.database.replica_lag_ms * kUsPerMs;
        upto = static_cast<std::uint64_t>(std::upper_bound(d.commit_us.begin(), d.commit_us.end(), cutoff_us) -
                                          d.commit_us.begin());
      }
      // The latest snapshot, unless it is past what the replica has: then the first content.
      const bool latest_snapshot = d.snapshot_index <= upto;
      reply_msg.has_snapshot = latest_snapshot ? d.has_snapshot : d.has_initial;
      reply_msg.snapshot = latest_snapshot ? d.snapshot : d.initial;
      reply_msg.snapshot_index = latest_snapshot ? d.snapshot_index : 0;
      reply_msg.latest = d.log.size();
      if (reply_msg.snapshot_index < upto) {
        reply_msg.records.assign(d.log.begin() + static_cast<std::ptrdiff_t>(reply_msg.snapshot_index),
                                 d.log.begin() + static_cast<std::ptrdiff_t>(upto));
      }
      break;
    }
  }
  sim_.at(done_us, [this, s, incarnation, r = std::move(reply_msg)]() mutable { reply(s, incarnation, std::move(r), false); });
}

void Database::append(std::uint32_t s, std::uint32_t incarnation, std::uint32_t db_sent, StoreRequest req) {
  // Group commit, as PgStore does, on the document's partition: commits are serialised, each
  // takes the commit latency, and appends that arrive while one is in flight go together into the
  // next (one latency for the whole batch, in arrival order). A crash before the commit point
  // loses the transaction, and the server hears that its connection broke.
  const DatabaseSpec& spec = sim_.cfg.database;
  const std::uint32_t p = partition_map_.partition_of(req.doc);
  Lane& lane = lanes_[p];
  const bool partitioned = spec.partitioned();
  if (partitioned) ++sim_.counters[appends_name_[p]];
  const std::int64_t arrived_us = sim_.now_us;
  if (spec.work_us_per_append > 0) {
    // The batch's cost depends on its size: it gathers until it starts, then closes.
    if (!lane.gathering) {
      const std::int64_t gathered = lane.started_any ? lane.batch_start_us + spec.commit_interval_us : 0;
      lane.batch_start_us = std::max({lane.free_us, sim_.now_us, gathered});
      lane.started_any = true;
      lane.gathering = true;
      if (partitioned) ++sim_.counters[commits_name_[p]];
      const std::int64_t drawn_us = Sim::draw_us(sim_.store_rng, spec.commit_range_us());
      sim_.at(lane.batch_start_us, [this, p, drawn_us] { close_batch(p, drawn_us); });
    }
    lane.pending.push_back(Pending{s, incarnation, db_sent, arrived_us, std::move(req)});
    return;
  }
  if (sim_.now_us >= lane.free_us || lane.batch_start_us <= sim_.now_us) {
    // The store is idle, or the latest batch has started: a new batch after it, and (with a
    // gathering time, as PgStore's group_commit.interval_ms) not before that long after the
    // latest batch started.
    const std::int64_t gathered = lane.started_any ? lane.batch_start_us + spec.commit_interval_us : 0;
    lane.batch_start_us = std::max({lane.free_us, sim_.now_us, gathered});
    lane.started_any = true;
    lane.free_us = lane.batch_start_us + Sim::draw_us(sim_.store_rng, spec.commit_range_us());
    if (partitioned) ++sim_.counters[commits_name_[p]];
  }
  // Else the latest batch waits for the one in flight: this append joins it.
  sim_.at(lane.free_us, [this, s, incarnation, db_sent, arrived_us, req = std::move(req)]() mutable {
    commit(s, incarnation, db_sent, std::move(req), arrived_us);
  });
}

void Database::close_batch(std::uint32_t p, std::int64_t drawn_us) {
  Lane& lane = lanes_[p];
  std::vector<Pending> members = std::move(lane.pending);
  lane.pending.clear();
  lane.gathering = false;
  lane.free_us = lane.batch_start_us + drawn_us +
                 sim_.cfg.database.work_us_per_append * static_cast<std::int64_t>(members.size());
  for (Pending& m : members) {
    sim_.at(lane.free_us, [this, m = std::move(m)]() mutable {
      commit(m.s, m.incarnation, m.db_sent, std::move(m.req), m.arrived_us);
    });
  }
}

void Database::commit(std::uint32_t s, std::uint32_t incarnation, std::uint32_t db_sent, StoreRequest req,
                      std::int64_t arrived_us) {
  if (sim_.cfg.database.partitioned()) {
    lanes_[partition_map_.partition_of(req.doc)].latency_us.push_back(sim_.now_us - arrived_us);
  }
  StoreReply r;
  r.id = req.id;
  StoredDoc& target = store_.at(req.doc);
  // The lease fence (home: lease): a deposed home's append fails as a stale version does.
  const bool fenced =
      req.lease_epoch != 0 && !leases_.may_append(req.doc, req.node, req.lease_epoch, sim_.now_us / kUsPerMs);
  // Sent on a connection a crash of the database broke: the transaction fails even though the
  // database is back. Committing it could put in the log a record whose predecessor from the
  // same server was lost in the crash: a log that does not replay.
  if (db_sent != incarnation_ || fenced ||
      (req.expect_first_index != 0 && req.expect_first_index != target.log.size() + 1)) {
    r.ok = false;
  } else {
    r.first_index = target.log.size() + 1;
    for (LogRecord& rec : req.records) {
      rec.index = target.log.size() + 1;
      target.commit_us.push_back(sim_.now_us);
      if (sim_.oracle) sim_.oracle->record_committed(s, request_key(incarnation, req.id), req.doc, rec.index);
      const std::uint32_t author = rec.author & (kClientIdsMax - 1);
      if (rec.author != kSetupAgent && author < sim_.cfg.clients) own_committed_[author] = rec.index;
      // NOTIFY inside the transaction: the database publishes on commit, so a server that dies
      // between its commit and its reply cannot keep a change from the others. Redis instead:
      // the server publishes once it hears of the commit (sim/redis.hpp).
      if (req.notify && w_.redis.on()) {
        w_.redis.publish_after_commit(s, incarnation, req.doc, rec);
      } else if (req.notify) {
        publish(s, req.doc, rec);
      }
      const auto change = durable_[req.doc]->append(rec);
      if (change) {
        emit_commit(static_cast<std::int32_t>(s), req.doc, rec.index, rec.author, *change);
      } else {
        ++sim_.counters["durable.unreplayable"];
      }
      target.log.push_back(std::move(rec));
      note_version(req.doc);
    }
  }
  const bool broke = !r.ok;
  reply(s, incarnation, std::move(r), broke);
}

void Database::latency_counters(std::map<std::string, std::uint64_t>& counters) const {
  if (!sim_.cfg.database.partitioned()) return;
  for (std::uint32_t p = 0; p < lanes_.size(); ++p) {
    std::vector<std::int64_t> v = lanes_[p].latency_us;
    std::sort(v.begin(), v.end());
    // Nearest rank, as the checkers' percentiles: the smallest value with at least q of them
    // at or below it.
    const auto rank = [&](std::uint64_t pct) -> std::uint64_t {
      if (v.empty()) return 0;
      const std::uint64_t r = std::max<std::uint64_t>((pct * v.size() + 99) / 100, 1);
      return static_cast<std::uint64_t>(v[r - 1]);
    };
    const std::string name = "partition." + std::to_string(p) + ".commit_us_";
    counters[name + "p50"] = rank(50);
    counters[name + "p99"] = rank(99);
  }
}

void Database::emit_commit(std::int32_t s, std::uint32_t doc, std::uint64_t index, std::optional<AgentId> author,
                           const workload::DurableChange& change, std::int64_t taken_us) {
  workload::CommitLines lines = workload::commit_lines(doc, index, s, author, change,
                                                       w_.clients.write_stamps(), record_authors_);
  lines.commit.taken_us = taken_us;
  sim_.emit(std::move(lines.commit));
  for (history::Event& o : lines.overruled) sim_.emit(std::move(o));
  if (sim_.oracle) {
    if (s < 0) {
      sim_.oracle->database_lost(sim_.now_us, doc, change.added, change.removed);
    } else {
      sim_.oracle->durable(sim_.now_us, doc, change.added, change.removed, index,
                           author ? std::nullopt : std::optional<std::uint32_t>(static_cast<std::uint32_t>(s)));
      for (const workload::DurableRefusal& r : change.refused) {
        sim_.oracle->durable_refused(sim_.now_us, doc, index, r.holder.agent, r.holder.counter, r.ids);
      }
    }
  }
}

void Database::publish(std::uint32_t origin, std::uint32_t doc, const LogRecord& record) {
  Network& net = w_.net;
  for (std::uint32_t o = 0; o < sim_.cfg.servers.count; ++o) {
    if (o == origin) continue;
    ++sim_.counters["bus.msgs"];
    const std::int64_t lat = Sim::draw_us(sim_.net_rng, sim_.cfg.network.bus_us());
    // Through the bus: database -> bus -> server; a partition on either hop holds it.
    net.bus_send(net.store_ep(), net.bus_ep(), lat, [this, o, doc, record] {
      Network& n = w_.net;
      n.bus_send(n.bus_ep(), n.server_ep(o), Sim::draw_us(sim_.net_rng, sim_.cfg.network.bus_us()),
                 [this, o, doc, record] {
                   Server& sv = w_.servers.at(o);
                   if (sv.up) {
                     w_.servers.count_input();
                     sv.node->on_bus(doc, record);
                   }
                 });
    });
  }
}

void Database::crash() {
  if (!up_) return;
  up_ = false;
  ++incarnation_;  // transactions not yet committed are lost
  // While it is down nothing reaches it: requests wait in their senders' retry loops.
  Network& net = w_.net;
  std::set<Endpoint> servers;
  for (std::uint32_t s = 0; s < sim_.cfg.servers.count; ++s) servers.insert(net.server_ep(s));
  down_partition_ = net.add_partition({{net.store_ep()}, servers}, false);
}

void Database::restart() {
  if (up_) return;
  up_ = true;
  w_.net.remove_partition(down_partition_);
  auto backlog = std::move(backlog_);
  backlog_.clear();
  for (auto& f : backlog) f();
  w_.net.release_held();
}

void Database::note_version(std::uint32_t doc) {
  if (sim_.cfg.workload.version_read_share <= 0) return;
  if (ids_at_.size() < store_.size()) ids_at_.resize(store_.size());
  std::vector<CharId> ids = durable_[doc]->ids();
  std::sort(ids.begin(), ids.end());
  ids_at_[doc].resize(store_[doc].log.size());  // versions 0 .. log size - 1 kept
  ids_at_[doc].push_back(std::move(ids));
}

const std::vector<CharId>* Database::durable_ids_at(std::uint32_t doc, std::uint64_t version) const {
  if (doc >= ids_at_.size() || version >= ids_at_[doc].size()) return nullptr;
  return &ids_at_[doc][version];
}

void Database::archive() {
  archived_.resize(store_.size());
  for (std::size_t d = 0; d < store_.size(); ++d) {
    const StoredDoc& sd = store_[d];
    Archived& a = archived_[d];
    a.log_len = sd.log.size();
    if (sd.has_snapshot != a.has_snapshot || sd.snapshot_index != a.snapshot_index || sd.snapshot != a.snapshot) {
      a.has_snapshot = sd.has_snapshot;
      a.snapshot = sd.snapshot;
      a.snapshot_index = sd.snapshot_index;
    }
  }
  ++sim_.counters["db.archives"];
  // The next archive point, while faults can still happen (none after the heal).
  const std::int64_t next_us = sim_.now_us + sim_.cfg.database.archive_interval_ms * kUsPerMs;
  if (next_us < sim_.cfg.duration_ms * kUsPerMs) sim_.at(next_us, [this] { archive(); });
}

void Database::lose() {
  crash();
  // Without backups nothing comes back; with them, what the last archive point held (archived_
  // is empty under backup: none).
  for (std::uint32_t doc = 0; doc < store_.size(); ++doc) {
    StoredDoc& sd = store_[doc];
    StoredDoc restored;
    if (doc < archived_.size()) {
      const Archived& a = archived_[doc];
      restored.log.assign(sd.log.begin(), sd.log.begin() + static_cast<std::ptrdiff_t>(a.log_len));
      restored.commit_us.assign(sd.commit_us.begin(), sd.commit_us.begin() + static_cast<std::ptrdiff_t>(a.log_len));
      restored.has_snapshot = a.has_snapshot;
      restored.snapshot = a.snapshot;
      restored.snapshot_index = a.snapshot_index;
      restored.has_initial = sd.has_initial;  // in the base backup
      restored.initial = sd.initial;
    }
    sd = std::move(restored);
    const auto change = durable_[doc]->replace(sd.has_snapshot, sd.snapshot, sd.snapshot_index, sd.log);
    if (doc < ids_at_.size()) ids_at_[doc].resize(std::min(ids_at_[doc].size(), sd.log.size() + 1));
    if (!change) {
      ++sim_.counters["durable.unreplayable"];
    } else if (!change->added.empty() || !change->removed.empty()) {
      emit_commit(-1, doc, sd.log.size(), std::nullopt, *change);
    }
  }
  // Read-your-writes: each client's latest committed record is now the latest the restored log holds.
  std::fill(own_committed_.begin(), own_committed_.end(), 0);
  for (const StoredDoc& sd : store_) {
    for (const LogRecord& rec : sd.log) {
      const std::uint32_t author = rec.author & (kClientIdsMax - 1);
      if (rec.author != kSetupAgent && author < own_committed_.size()) own_committed_[author] = rec.index;
    }
  }
  ++sim_.counters["db.lost"];
}

}  // namespace convlab::sim
