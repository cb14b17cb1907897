// The simulated database (sim/database.hpp).
#include "sim/database.hpp"

#include "server/core/utf8.hpp"
#include "sim/world_parts.hpp"

#include <algorithm>
#include <cstdio>

namespace convlab::sim {

void Database::setup() {
  const WorldConfig& cfg = sim_.cfg;
  own_committed_.resize(cfg.clients);
  store_.resize(cfg.docs);
  if (cfg.initial_text.empty()) {
    for (std::uint32_t d = 0; d < cfg.docs; ++d) {
      durable_.push_back(std::make_unique<workload::DurableText>(sim_.strategy, false, std::span<const std::uint8_t>{}));
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

void Database::execute(std::uint32_t s, std::uint32_t incarnation, std::uint32_t db_sent, StoreRequest req) {
  if (!up_) {
    // It arrived as the database went down: the client library retries once it is back.
    backlog_.push_back([this, s, incarnation, db_sent, r = std::move(req)]() mutable {
      execute(s, incarnation, db_sent, std::move(r));
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
    case StoreRequest::Kind::kAppend: {
      // Group commit, as PgStore does: commits are serialised, each takes the commit latency,
      // and appends that arrive while one is in flight go together into the next (one latency
      // for the whole batch, in arrival order). A crash before the commit point loses the
      // transaction, and the server hears that its connection broke.
      if (sim_.now_us >= free_us_ || batch_start_us_ <= sim_.now_us) {
        // The store is idle, or the latest batch has started: a new batch after it, and (with a
        // gathering time, as PgStore's group_commit.interval_ms) not before that long after the
        // latest batch started.
        const std::int64_t gathered = started_any_ ? batch_start_us_ + sim_.cfg.database.commit_interval_us : 0;
        batch_start_us_ = std::max({free_us_, sim_.now_us, gathered});
        started_any_ = true;
        free_us_ = batch_start_us_ + Sim::draw_us(sim_.store_rng, sim_.cfg.database.commit_range_us());
      }
      // Else the latest batch waits for the one in flight: this append joins it.
      // Sent on a connection a crash of the database broke: the transaction fails even though
      // the database is back. Committing it could put in the log a record whose predecessor
      // from the same server was lost in the crash: a log that does not replay.
      const std::uint32_t db_inc = db_sent;
      sim_.at(free_us_, [this, s, incarnation, db_inc, req = std::move(req)]() mutable {
        StoreReply r;
        r.id = req.id;
        StoredDoc& target = store_.at(req.doc);
        // The lease fence (home: lease): a deposed home's append fails as a stale version does.
        const bool fenced =
            req.lease_epoch != 0 && !leases_.may_append(req.doc, req.node, req.lease_epoch, sim_.now_us / kUsPerMs);
        if (db_inc != incarnation_ || fenced ||
            (req.expect_first_index != 0 && req.expect_first_index != target.log.size() + 1)) {
          r.ok = false;
        } else {
          StoredDoc& sd = store_.at(req.doc);
          r.first_index = sd.log.size() + 1;
          for (LogRecord& rec : req.records) {
            rec.index = sd.log.size() + 1;
            sd.commit_us.push_back(sim_.now_us);
            if (sim_.oracle) sim_.oracle->record_committed(s, request_key(incarnation, req.id), req.doc, rec.index);
            const std::uint32_t author = rec.author & (kClientIdsMax - 1);
            if (rec.author != kSetupAgent && author < sim_.cfg.clients) own_committed_[author] = rec.index;
            // NOTIFY inside the transaction: the database publishes on commit, so a server
            // that dies between its commit and its reply cannot keep a change from the others.
            // Redis instead: the server publishes once it hears of the commit (sim/redis.hpp).
            if (req.notify && w_.redis.on()) {
              w_.redis.publish_after_commit(s, incarnation, req.doc, rec);
            } else if (req.notify) {
              publish(s, req.doc, rec);
            }
            const auto change = durable_[req.doc]->append(rec);
            if (change) {
              emit_commit(s, req.doc, rec.index, rec.author, *change);
            } else {
              ++sim_.counters["durable.unreplayable"];
            }
            sd.log.push_back(std::move(rec));
          }
        }
        const bool broke = !r.ok;
        reply(s, incarnation, std::move(r), broke);
      });
      return;
    }
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
          emit_commit(s, req.doc, d.snapshot_index, std::nullopt, *change);
        }
      }
      break;
    case StoreRequest::Kind::kLease:
      break;  // answered above
    case StoreRequest::Kind::kLoad: {
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

void Database::emit_commit(std::uint32_t s, std::uint32_t doc, std::uint64_t index, std::optional<AgentId> author,
                           const workload::DurableChange& change) {
  workload::CommitLines lines = workload::commit_lines(doc, index, static_cast<std::int32_t>(s), author, change,
                                                       w_.clients.write_stamps(), record_authors_);
  sim_.emit(std::move(lines.commit));
  for (history::Event& o : lines.overruled) sim_.emit(std::move(o));
  if (sim_.oracle) {
    sim_.oracle->durable(sim_.now_us, doc, change.added, change.removed, index,
                         author ? std::nullopt : std::optional<std::uint32_t>(s));
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

}  // namespace convlab::sim
