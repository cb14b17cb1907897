// The store's worker lanes (pg_store.hpp): taking turns from the queue, group commit of appends
// (one transaction per batch, each append's own version check, NOTIFY inside the transaction),
// the other requests between batches, retries while the database is away.
//
// May call: store_sql.hpp, notification.hpp (the records' NOTIFY payloads), the hooks.
#include "server/pg/pg_store.hpp"

#include "server/pg/notification.hpp"

#include <algorithm>

namespace convlab::pg::detail {

// Waits until the lane has a connection; false when stopping and out of patience.
bool PgStore::ensure_worker_connection(Lane& lane) {
  auto backoff = std::chrono::milliseconds(kBackoffMin);
  while (true) {
    if (lane.conn) return true;
    try {
      lane.conn = connect(config_.url);
      prepare_statements(*lane.conn.conn);
      lane.known_docs.clear();
      if (!worker_up_) {
        worker_up_ = true;
        health(true, "pg worker: connected");
      }
      return true;
    } catch (const std::exception& e) {
      lane.conn.reset();
      if (worker_up_) {
        worker_up_ = false;
        health(false, std::string("pg worker: cannot connect: ") + e.what());
      }
    }
    std::unique_lock lock(mu_);
    if (stopping_ && SteadyClock::now() >= stop_deadline_) return false;
    cv_.wait_for(lock, backoff, [&] { return stopping_ && SteadyClock::now() >= stop_deadline_; });
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, kBackoffMax);
  }
}

void PgStore::lost_worker_connection(Lane& lane, const std::string& why) {
  lane.conn.reset();
  if (worker_up_) {
    worker_up_ = false;
    health(false, "pg worker: " + why);
  }
}

// Takes turn t's group from the queue, once turn t-1 holds its row locks: requests other than
// appends that can go before the batch (no append of their document is in it), then up to
// batch_max appends. Always a prefix of the queue, taken in turn order, so per-document order
// is kept. False when stopping with nothing queued.
bool PgStore::take(std::int64_t t, std::vector<StoreRequest>& before, std::vector<StoreRequest>& batch) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return locked_turn_ >= t - 1 && (stopping_ || !queue_.empty()); });
  if (queue_.empty()) return false;
  if (config_.batch_interval_us > 0) {
    // The interval counts from the previous take; the first take has none before it and goes
    // at once, whatever the steady clock reads (it starts near 0 on a machine just booted).
    if (last_take_) {
      const auto due = *last_take_ + std::chrono::microseconds(config_.batch_interval_us);
      cv_.wait_until(lock, due, [&] { return stopping_ || queue_.size() >= std::max<std::size_t>(config_.batch_max, 1); });
    }
    last_take_ = SteadyClock::now();
  }
  std::set<std::uint32_t> batch_docs;
  const std::size_t batch_max = std::max<std::size_t>(config_.batch_max, 1);
  std::size_t n = 0;
  for (; n < queue_.size(); ++n) {
    StoreRequest& r = queue_[n];
    if (r.kind == StoreRequest::Kind::kAppend) {
      if (batch.size() >= batch_max) break;
      batch_docs.insert(r.doc);
      batch.push_back(std::move(r));
      if (hooks_.appended) batch_queued_at_[t].push_back(queued_at_[n]);
    } else {
      if (batch_docs.contains(r.doc)) break;
      before.push_back(std::move(r));
    }
  }
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
  queued_at_.erase(queued_at_.begin(), queued_at_.begin() + static_cast<std::ptrdiff_t>(n));
  CONVLAB_ASSERT(batch.size() <= batch_max && before.size() + batch.size() == n);
  return true;
}

void PgStore::wait_done(std::int64_t t) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return done_turn_ >= t; });
}

void PgStore::finish_turn(std::int64_t t) {
  {
    std::lock_guard lock(mu_);
    done_turn_ = std::max(done_turn_, t);
    locked_turn_ = std::max(locked_turn_, t);
  }
  cv_.notify_all();
}

void PgStore::lane_loop(Lane& lane, std::int64_t first_turn) {
  const auto step = static_cast<std::int64_t>(lane_count());
  std::vector<StoreRequest> before;
  std::vector<StoreRequest> batch;
  std::vector<StoreReply> replies;
  for (std::int64_t t = first_turn;; t += step) {
    before.clear();
    batch.clear();
    replies.clear();
    if (!take(t, before, batch)) {
      // Stopping: the other lane ends at its next turn.
      wait_done(t - 1);
      finish_turn(t);
      return;
    }
    if (!before.empty()) {
      // Reads see what the previous turn committed.
      wait_done(t - 1);
      for (StoreRequest& r : before) reply(run_with_retry(lane, r));
    }
    if (!batch.empty()) replies = append_with_retry(lane, t, batch);
    CONVLAB_ASSERT(replies.size() == batch.size());  // every append answered, once
    wait_done(t - 1);
    for (StoreReply& r : replies) reply(std::move(r));
    finish_turn(t);
  }
}

std::size_t PgStore::lane_count() const { return std::clamp<std::size_t>(config_.pipeline, 1, 2); }

StoreReply PgStore::failed(const StoreRequest& r) {
  StoreReply out;
  out.id = r.id;
  out.ok = false;
  return out;
}

void PgStore::backoff_after_failure(std::chrono::milliseconds& backoff) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, backoff, [&] { return stopping_ && SteadyClock::now() >= stop_deadline_; });
  backoff = std::min<std::chrono::milliseconds>(backoff * 2, kBackoffMax);
}

bool PgStore::out_of_patience() {
  std::lock_guard lock(mu_);
  return stopping_ && SteadyClock::now() >= stop_deadline_;
}

// A read or a snapshot: retried until the database answers (or the store stops).
StoreReply PgStore::run_with_retry(Lane& lane, const StoreRequest& r) {
  auto backoff = std::chrono::milliseconds(kBackoffMin);
  while (true) {
    if (!ensure_worker_connection(lane)) return failed(r);
    try {
      return run_one(*lane.conn.conn, r);
    } catch (const pqxx::broken_connection& e) {
      lost_worker_connection(lane, std::string("connection lost: ") + e.what());
    } catch (const pqxx::sql_error& e) {
      if (connection_lost(lane.conn.conn.get())) {
        lost_worker_connection(lane, std::string("connection lost: ") + e.what());
      } else if (!retryable(e)) {
        return failed(r);
      }
    } catch (const std::exception&) {
      if (connection_lost(lane.conn.conn.get())) {
        lost_worker_connection(lane, "connection lost");
      } else {
        return failed(r);
      }
    }
    if (out_of_patience()) return failed(r);
    backoff_after_failure(backoff);
  }
}

StoreReply PgStore::run_one(pqxx::connection& c, const StoreRequest& r) {
  StoreReply out;
  out.id = r.id;
  switch (r.kind) {
    case StoreRequest::Kind::kReadLog: {
      pqxx::read_transaction w(c);
      for (const auto& row : w.exec_prepared("read_log", r.doc, r.after)) out.records.push_back(row_record(row));
      return out;
    }
    case StoreRequest::Kind::kWriteSnapshot: {
      pqxx::work w(c);
      w.exec_prepared("write_snapshot", r.doc, r.after, pqxx::binarystring(r.snapshot.data(), r.snapshot.size()));
      w.exec_prepared("prune_snapshots", r.doc);
      w.commit();
      return out;
    }
    case StoreRequest::Kind::kLoad:
      // `replica` with no replica configured (store_replica.cpp takes the others): the primary,
      // which is never more stale than a replica.
      load_document(c, r.doc, out);
      return out;
    case StoreRequest::Kind::kLease:
      request_leases(c, r, out);
      return out;
    case StoreRequest::Kind::kAppend:
      break;
  }
  CONVLAB_ASSERT(false && "appends go through append_batch");
  return out;
}

std::vector<StoreReply> PgStore::append_with_retry(Lane& lane, std::int64_t t, std::vector<StoreRequest>& batch) {
  std::vector<StoreReply> replies(batch.size());
  auto backoff = std::chrono::milliseconds(kBackoffMin);
  while (true) {
    for (std::size_t i = 0; i < batch.size(); ++i) {
      replies[i] = StoreReply{};
      replies[i].id = batch[i].id;
    }
    BatchOutcome outcome = BatchOutcome::kFailed;
    if (ensure_worker_connection(lane)) outcome = append_batch(lane, t, batch, replies);
    if (outcome == BatchOutcome::kCommitted || outcome == BatchOutcome::kFailed || out_of_patience()) {
      std::vector<SteadyClock::time_point> queued;
      {
        std::lock_guard lock(mu_);
        if (auto it = batch_queued_at_.find(t); it != batch_queued_at_.end()) {
          queued = std::move(it->second);
          batch_queued_at_.erase(it);
        }
      }
      if (outcome == BatchOutcome::kCommitted && hooks_.appended && !queued.empty()) {
        const auto end = SteadyClock::now();
        std::vector<double> seconds;
        for (const auto& q : queued) seconds.push_back(std::chrono::duration<double>(end - q).count());
        hooks_.appended(seconds);
      }
    }
    if (outcome == BatchOutcome::kCommitted) return replies;
    if (outcome == BatchOutcome::kFailed || out_of_patience()) {
      for (std::size_t i = 0; i < batch.size(); ++i) replies[i] = failed(batch[i]);
      return replies;
    }
    backoff_after_failure(backoff);
  }
}

// One transaction for the whole batch. kRetry: nothing committed (the connection broke
// before COMMIT, or a deadlock); kFailed: not committed or not known to be.
// Turn t+1 begins only after this turn's statements succeeded (locked_turn_ >= t); from then
// on this turn either commits or fails at COMMIT, it never starts over (kRetry comes only
// before), so t+1 never holds a row lock this turn waits for, and on a document both touch,
// t+1 reads the log length this turn left.
PgStore::BatchOutcome PgStore::append_batch(Lane& lane, std::int64_t t, const std::vector<StoreRequest>& batch,
                                            std::vector<StoreReply>& replies) {
  const auto t0 = SteadyClock::now();
  std::vector<std::uint32_t> docs;
  for (const StoreRequest& r : batch) docs.push_back(r.doc);
  std::sort(docs.begin(), docs.end());
  docs.erase(std::unique(docs.begin(), docs.end()), docs.end());
  const std::string docs_array = array_literal(docs);
  const bool all_known = std::all_of(docs.begin(), docs.end(), [&](std::uint32_t d) { return lane.known_docs.contains(d); });

  pqxx::connection& c = *lane.conn.conn;
  std::optional<pqxx::work> tx;
  SteadyClock::time_point t_locked;
  try {
    tx.emplace(c);
    if (!all_known) tx->exec_prepared("ensure_docs", docs_array);
    std::map<std::uint32_t, std::uint64_t> length;
    for (const auto& row : tx->exec_prepared("lock_docs", docs_array)) {
      length[static_cast<std::uint32_t>(row[0].as<std::uint64_t>())] = row[1].as<std::uint64_t>();
    }
    t_locked = SteadyClock::now();
    if (length.size() != docs.size()) {
      // A document row we believed in is gone (the database was recreated): insert again.
      lane.known_docs.clear();
      return BatchOutcome::kRetry;
    }

    // The lease fence (home: lease): an append naming a lease epoch commits only while its node
    // holds the document's lease in that epoch, unexpired (LeaseRegister::may_append).
    std::map<std::uint32_t, DocLease> leases;  // expires_ms: 1 live, 0 expired
    if (std::any_of(batch.begin(), batch.end(), [](const StoreRequest& r) { return r.lease_epoch != 0; })) {
      for (const auto& row : tx->exec_prepared("lease_fence", docs_array)) {
        leases[static_cast<std::uint32_t>(row[0].as<std::uint64_t>())] =
            DocLease{row[1].as<NodeId>(), row[2].as<std::uint64_t>(), row[3].as<bool>() ? 1 : 0};
      }
    }
    const auto fenced = [&](const StoreRequest& r) {
      if (r.lease_epoch == 0) return false;
      auto it = leases.find(r.doc);
      return it == leases.end() || it->second.holder != r.node || it->second.epoch != r.lease_epoch ||
             it->second.expires_ms == 0;
    };

    // The rows of every append whose version check passes, in submission order.
    std::vector<std::uint64_t> row_doc, row_seq, row_author, row_offset, row_size;
    std::vector<std::int64_t> row_client, row_server;
    Bytes blob;
    // Notifications: one per document (per contiguous run of notified records).
    struct Run {
      std::uint32_t doc;
      std::uint64_t first;
      std::vector<LogRecord> records;
    };
    std::vector<Run> runs;
    std::map<std::uint32_t, std::size_t> open_run;  // doc -> index in runs
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const StoreRequest& r = batch[i];
      std::uint64_t& len = length[r.doc];
      if (fenced(r) || (r.expect_first_index != 0 && r.expect_first_index != len + 1)) {
        replies[i].ok = false;  // fails alone: the others in the batch go on
        continue;
      }
      replies[i].first_index = len + 1;
      for (const LogRecord& rec : r.records) {
        ++len;
        row_doc.push_back(r.doc);
        row_seq.push_back(len);
        row_author.push_back(rec.author);
        row_client.push_back(rec.client_ms);
        row_server.push_back(rec.server_ms);
        row_offset.push_back(blob.size() + 1);  // substring counts from 1
        row_size.push_back(rec.record.size());
        blob.insert(blob.end(), rec.record.begin(), rec.record.end());
      }
      if (r.notify && !r.records.empty()) {
        auto it = open_run.find(r.doc);
        if (it != open_run.end()) {
          Run& run = runs[it->second];
          if (run.first + run.records.size() != replies[i].first_index) it = open_run.end();
        }
        if (it == open_run.end()) {
          runs.push_back(Run{r.doc, replies[i].first_index, {}});
          it = open_run.insert_or_assign(r.doc, runs.size() - 1).first;
        }
        Run& run = runs[it->second];
        for (const LogRecord& rec : r.records) {
          run.records.push_back(rec);
          run.records.back().index = run.first + run.records.size() - 1;
        }
      }
    }
    if (!row_doc.empty()) {
      std::vector<std::uint32_t> len_docs;
      std::vector<std::uint64_t> len_values;
      for (const auto& [d, l] : length) {
        len_docs.push_back(d);
        len_values.push_back(l);
      }
      const std::int64_t commit_us = wall_us();
      std::vector<std::string> notes;
      for (const Run& run : runs) {
        notes.push_back(detail::encode_records(config_.node, run.doc, run.first, commit_us, run.records));
      }
      tx->exec_prepared("append", array_literal(row_doc), config_.node, array_literal(row_seq),
                        array_literal(row_author), array_literal(row_client), array_literal(row_server),
                        array_literal(row_offset), pqxx::binarystring(blob.data(), blob.size()),
                        array_literal(row_size), array_literal(len_docs), array_literal(len_values), config_.channel,
                        text_array_literal(notes));
    }
  } catch (const pqxx::broken_connection& e) {
    tx.reset();
    lost_worker_connection(lane, std::string("connection lost: ") + e.what());
    return BatchOutcome::kRetry;
  } catch (const pqxx::sql_error& e) {
    const bool lost = connection_lost(&c);
    tx.reset();
    if (lost) {
      lost_worker_connection(lane, std::string("connection lost: ") + e.what());
      return BatchOutcome::kRetry;
    }
    return retryable(e) ? BatchOutcome::kRetry : BatchOutcome::kFailed;
  }
  {
    // The row locks are held: the next turn may begin. This one may commit at once: on a
    // document the previous turn also holds, our row lock was granted only after its
    // transaction ended, so the log keeps turn order; on the others, order does not matter,
    // and both COMMITs can share one WAL flush. Replies still go out in turn order.
    std::lock_guard lock(mu_);
    locked_turn_ = std::max(locked_turn_, t);
  }
  cv_.notify_all();
  const auto t_commit = SteadyClock::now();
  try {
    tx->commit();
  } catch (const std::exception& e) {
    // pqxx::in_doubt_error when the connection broke during COMMIT: the outcome is unknown,
    // so every append is answered ok=false (the node resets the document and reloads).
    const bool lost = connection_lost(&c);
    tx.reset();
    if (lost) lost_worker_connection(lane, std::string("connection lost during commit: ") + e.what());
    return BatchOutcome::kFailed;
  }
  lane.known_docs.insert(docs.begin(), docs.end());
  const auto t_end = SteadyClock::now();
  const auto secs = [](SteadyClock::duration d) { return std::chrono::duration<double>(d).count(); };
  if (hooks_.committed) hooks_.committed(batch.size(), secs(t_end - t0));
  if (hooks_.batch) {
    hooks_.batch(BatchTiming{batch.size(), secs(t_locked - t0), secs(t_commit - t_locked), secs(t_end - t_commit)});
  }
  return BatchOutcome::kCommitted;
}

}  // namespace convlab::pg::detail
