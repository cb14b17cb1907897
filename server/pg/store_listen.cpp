// The store's listener (pg_store.hpp): LISTEN on the channel; other servers' records and every
// revocation to the hooks, each record index once; after a reconnect, what committed while it
// was away (from the log and the revocation table) first.
//
// May call: store_sql.hpp, notification.hpp (decoding payloads), the hooks.
#include "server/pg/pg_store.hpp"

#include "server/pg/notification.hpp"

#include <algorithm>

namespace convlab::pg::detail {
namespace {

class Receiver final : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& c, const std::string& channel, std::deque<std::string>& out)
      : pqxx::notification_receiver(c, channel), out_(out) {}
  void operator()(const std::string& payload, int) override { out_.push_back(payload); }

 private:
  std::deque<std::string>& out_;
};

}  // namespace

void PgStore::listen_loop() {
  auto backoff = std::chrono::milliseconds(kBackoffMin);
  bool first = true;
  while (!listener_stop_) {
    // What one await_notification() delivered: every notification libpq had read, so at most
    // what its input buffer held, and emptied before the next wait. That bound is libpq's; a
    // bound of ours could only drop notifications, which the log would then have to restore.
    std::deque<std::string> pending;
    try {
      OwnedConnection c = connect(config_.url);
      Receiver receiver(*c.conn, config_.channel, pending);
      // LISTEN is in place: what committed while it was away is in the log.
      if (!first) {
        resync(*c.conn);
        resync_revocations(*c.conn);
      }
      first = false;
      backoff = kBackoffMin;
      if (!listener_up_) {
        listener_up_ = true;
        health(true, "pg listener: listening on " + config_.channel);
      }
      auto last_word = SteadyClock::now();
      while (!listener_stop_) {
        alive_us_ = wall_us();
        c.conn->await_notification(0, 200'000);
        if (!pending.empty()) last_word = SteadyClock::now();
        while (!pending.empty()) {
          std::string payload = std::move(pending.front());
          pending.pop_front();
          handle(*c.conn, payload);
        }
        if (!c.conn->is_open()) throw pqxx::broken_connection("listener connection closed");
        // A connection the server dropped (a crash, an immediate stop) can wait on its socket
        // without a word: a quiet second asks the server, and a broken connection throws.
        if (SteadyClock::now() - last_word >= kListenerPing) {
          pqxx::nontransaction(*c.conn).exec("SELECT 1");
          last_word = SteadyClock::now();
        }
      }
      return;
    } catch (const std::exception& e) {
      if (listener_up_ || first) {
        listener_up_ = false;
        health(false, std::string("pg listener: connection lost or refused: ") + e.what());
      }
      first = false;
    }
    std::unique_lock lock(listen_mu_);
    listen_cv_.wait_for(lock, backoff, [&] { return listener_stop_.load(); });
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, kBackoffMax);
  }
}

void PgStore::deliver(std::uint32_t doc, LogRecord record) {
  std::uint64_t& heard = heard_[doc];
  if (record.index <= heard) return;  // a resync delivered it already
  heard = record.index;
  if (hooks_.notify) hooks_.notify(doc, std::move(record));
}

void PgStore::handle(pqxx::connection& c, const std::string& payload) {
  auto note = detail::decode_note(payload);
  if (!note) {
    health(true, "pg listener: ignored a notification: " + note.error().message);
    return;
  }
  if (auto* revoked = std::get_if<detail::RevokedNote>(&*note)) {
    if (hooks_.revoked) hooks_.revoked(std::move(revoked->jti), revoked->user);
    return;
  }
  auto& rec = std::get<detail::RecordsNote>(*note);
  if (hooks_.notify_lag) hooks_.notify_lag(static_cast<double>(wall_us() - rec.commit_us) / 1e6);
  if (rec.node == config_.node) {
    // As the simulator's bus: a server does not hear its own records.
    std::uint64_t& heard = heard_[rec.doc];
    heard = std::max(heard, rec.first + rec.count - 1);
    return;
  }
  if (rec.reference) {
    pqxx::read_transaction w(c);
    auto rows = w.exec_params(
        "SELECT seq, author, client_ms, server_ms, payload FROM changes WHERE doc = $1 AND seq >= $2 AND seq < $3 "
        "ORDER BY seq",
        rec.doc, rec.first, rec.first + rec.count);
    w.commit();
    for (const auto& row : rows) deliver(rec.doc, row_record(row));
    return;
  }
  for (LogRecord& r : rec.records) deliver(rec.doc, std::move(r));
}

// After a reconnect: the records of other servers committed past what was heard, per
// document heard of before.
void PgStore::resync(pqxx::connection& c) {
  if (heard_.empty()) return;
  std::vector<std::uint32_t> docs;
  std::vector<std::uint64_t> after;
  for (const auto& [d, h] : heard_) {
    docs.push_back(d);
    after.push_back(h);
  }
  pqxx::read_transaction w(c);
  auto rows = w.exec_params(
      "SELECT c.seq, c.author, c.client_ms, c.server_ms, c.payload, c.doc, c.node FROM changes c"
      " JOIN unnest($1::bigint[], $2::bigint[]) AS h(doc, after) ON c.doc = h.doc AND c.seq > h.after"
      " ORDER BY c.doc, c.seq",
      array_literal(docs), array_literal(after));
  w.commit();
  for (const auto& row : rows) {
    const auto doc = static_cast<std::uint32_t>(row[5].as<std::uint64_t>());
    if (row[6].as<std::uint64_t>() == config_.node) continue;
    deliver(doc, row_record(row));
  }
}

// After a reconnect: revocations made since the listener was last known to be connected (less
// a margin for the clocks of this host and the database). Repeats are harmless.
void PgStore::resync_revocations(pqxx::connection& c) {
  if (!hooks_.revoked) return;
  constexpr std::int64_t kClockMarginUs = 60'000'000;
  pqxx::read_transaction w(c);
  auto rows = w.exec_params("SELECT jti, user_id FROM revoked_tokens WHERE revoked_us >= $1 ORDER BY revoked_us",
                            alive_us_ - kClockMarginUs);
  w.commit();
  for (const auto& row : rows) hooks_.revoked(row[0].as<std::string>(), static_cast<std::uint32_t>(row[1].as<std::uint64_t>()));
}

}  // namespace convlab::pg::detail
