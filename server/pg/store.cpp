#include "server/pg/store.hpp"

#include "server/pg/notification.hpp"

#include <pqxx/pqxx>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

namespace convlab::pg {
namespace {

using SteadyClock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::int64_t wall_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}
std::int64_t wall_s() { return wall_us() / 1'000'000; }

// Snapshots kept per document: the newest few (an older one is only useful while a load that
// already chose it is still reading).
constexpr int kSnapshotsKept = 3;
// While stopping with the database down, queued work is given this long before it is answered
// ok=false.
constexpr auto kStopGrace = 5s;
constexpr auto kBackoffMin = 50ms;
constexpr auto kBackoffMax = 2s;
// How long the listener waits without a notification before it checks its connection is alive.
constexpr auto kListenerPing = 1s;
// Session-level advisory lock key for migrations ("convlab" in ASCII).
constexpr std::int64_t kMigrationLock = 0x636f6e766c6162;

// ------------------------------------------------------------------------------- migrations
// Append only: a deployed database has run the earlier ones. Each runs in its own transaction.
const char* const kMigrations[] = {
    // 1: documents, their change log and snapshots.
    R"(CREATE TABLE documents (
         id         bigint PRIMARY KEY,
         strategy   text,
         log_length bigint NOT NULL DEFAULT 0);
       CREATE TABLE changes (
         doc       bigint NOT NULL,
         seq       bigint NOT NULL,
         node      bigint NOT NULL,
         author    bigint NOT NULL,
         client_ms bigint NOT NULL,
         server_ms bigint NOT NULL,
         payload   bytea  NOT NULL,
         PRIMARY KEY (doc, seq));
       CREATE TABLE snapshots (
         doc     bigint NOT NULL,
         upto    bigint NOT NULL,
         payload bytea  NOT NULL,
         written timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (doc, upto));)",
    // 2: users, agent ids, tokens.
    R"(CREATE TABLE users (
         id   serial PRIMARY KEY,
         name text NOT NULL UNIQUE);
       CREATE SEQUENCE agent_ids AS bigint MINVALUE 1 MAXVALUE 4294967294;
       CREATE TABLE revoked_tokens (
         jti        text PRIMARY KEY,
         user_id    bigint NOT NULL,
         expires    bigint NOT NULL,
         revoked_us bigint NOT NULL DEFAULT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint);
       CREATE INDEX revoked_tokens_revoked_us ON revoked_tokens (revoked_us);
       CREATE INDEX revoked_tokens_expires ON revoked_tokens (expires);
       CREATE TABLE refresh_tokens (
         id      text PRIMARY KEY,
         user_id bigint NOT NULL,
         expires bigint NOT NULL);
       CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);)",
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

Result<void> migrate(pqxx::connection& c) {
  try {
    {
      pqxx::nontransaction n(c);
      n.exec("SELECT pg_advisory_lock(" + std::to_string(kMigrationLock) + ")");
      n.exec(
          "CREATE TABLE IF NOT EXISTS schema_version (one int PRIMARY KEY CHECK (one = 1), version int NOT NULL);"
          "INSERT INTO schema_version VALUES (1, 0) ON CONFLICT DO NOTHING");
    }
    int version = 0;
    {
      pqxx::work w(c);
      version = w.exec1("SELECT version FROM schema_version")[0].as<int>();
      w.commit();
    }
    if (version > kSchemaVersion) {
      return make_error("pg: the database's schema version " + std::to_string(version) +
                        " is newer than this server's " + std::to_string(kSchemaVersion));
    }
    for (int v = version + 1; v <= kSchemaVersion; ++v) {
      pqxx::work w(c);
      w.exec(kMigrations[v - 1]);
      w.exec("UPDATE schema_version SET version = " + std::to_string(v));
      w.commit();
    }
    pqxx::nontransaction n(c);
    n.exec("SELECT pg_advisory_unlock(" + std::to_string(kMigrationLock) + ")");
    return {};
  } catch (const std::exception& e) {
    // The session lock goes with the connection.
    return make_error(std::string("pg: migration failed: ") + e.what());
  }
}

// ------------------------------------------------------------------------------ SQL helpers
template <class T>
std::string array_literal(const std::vector<T>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(values[i]);
  }
  out += '}';
  return out;
}

// Text elements, each quoted (base64 holds no quote or backslash).
std::string text_array_literal(const std::vector<std::string>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += '"';
    out += values[i];
    out += '"';
  }
  out += '}';
  return out;
}

Bytes field_bytes(const pqxx::field& f) {
  pqxx::binarystring b(f);
  return Bytes(b.data(), b.data() + b.size());
}

LogRecord row_record(const pqxx::row& row) {
  // seq, author, client_ms, server_ms, payload
  LogRecord r;
  r.index = row[0].as<std::uint64_t>();
  r.author = static_cast<AgentId>(row[1].as<std::uint64_t>());
  r.client_ms = row[2].as<std::int64_t>();
  r.server_ms = row[3].as<std::int64_t>();
  r.record = field_bytes(row[4]);
  return r;
}

void prepare_statements(pqxx::connection& c) {
  c.prepare("ensure_docs", "INSERT INTO documents (id) SELECT unnest($1::bigint[]) ORDER BY 1 ON CONFLICT DO NOTHING");
  // The row lock that serialises appends to one document across servers; taken in id order so
  // two servers' batches cannot deadlock on each other.
  c.prepare("lock_docs", "SELECT id, log_length FROM documents WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE");
  // Every record of the batch in one statement: the payloads travel as one binary parameter,
  // cut by offsets; the log lengths and the notifications go in the same statement.
  c.prepare("append",
            "WITH ins AS ("
            "  INSERT INTO changes (doc, seq, node, author, client_ms, server_ms, payload)"
            "  SELECT d, s, $2::bigint, a, cm, sm, substring($8::bytea FROM o::int FOR l::int)"
            "  FROM unnest($1::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $9::bigint[])"
            "    AS t(d, s, a, cm, sm, o, l)),"
            " upd AS ("
            "  UPDATE documents SET log_length = u.len FROM unnest($10::bigint[], $11::bigint[]) AS u(id, len)"
            "  WHERE documents.id = u.id)"
            " SELECT pg_notify($12, n) FROM unnest($13::text[]) WITH ORDINALITY AS x(n, k) ORDER BY k");
  c.prepare("read_log",
            "SELECT seq, author, client_ms, server_ms, payload FROM changes WHERE doc = $1 AND seq > $2 ORDER BY seq");
  c.prepare("read_range",
            "SELECT seq, author, client_ms, server_ms, payload FROM changes WHERE doc = $1 AND seq >= $2 AND seq < $3 "
            "ORDER BY seq");
  c.prepare("log_length", "SELECT log_length FROM documents WHERE id = $1");
  c.prepare("latest_snapshot", "SELECT upto, payload FROM snapshots WHERE doc = $1 ORDER BY upto DESC LIMIT 1");
  c.prepare("write_snapshot", "INSERT INTO snapshots (doc, upto, payload) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING");
  c.prepare("prune_snapshots",
            "DELETE FROM snapshots WHERE doc = $1 AND upto < (SELECT upto FROM snapshots WHERE doc = $1"
            " ORDER BY upto DESC OFFSET " + std::to_string(kSnapshotsKept - 1) + " LIMIT 1)");
}

// What a lost connection looks like: pqxx throws broken_connection, or an sql_error after which
// the connection is closed (an administrator's shutdown).
bool connection_lost(const pqxx::connection* c) { return c == nullptr || !c->is_open(); }

// Transient conflicts between servers: retry the transaction.
bool retryable(const pqxx::sql_error& e) {
  const std::string& state = e.sqlstate();
  return state == "40001" || state == "40P01";
}

// Keeps pqxx's notices (e.g. "connection lost while committing") off stderr: the store reports
// through hooks.health and its replies.
class QuietNotices : public pqxx::errorhandler {
 public:
  explicit QuietNotices(pqxx::connection_base& c) : pqxx::errorhandler(c) {}
  bool operator()(const char*) noexcept override { return false; }
};

struct OwnedConnection {
  std::unique_ptr<pqxx::connection> conn;
  std::unique_ptr<QuietNotices> quiet;
  void reset() {
    quiet.reset();
    conn.reset();
  }
  explicit operator bool() const { return conn && conn->is_open(); }
};

OwnedConnection connect(const std::string& url) {
  OwnedConnection c;
  c.conn = std::make_unique<pqxx::connection>(url);
  c.quiet = std::make_unique<QuietNotices>(*c.conn);
  return c;
}

// ------------------------------------------------------------------------------------ store
class PgStore final : public Store {
 public:
  PgStore(StoreConfig config, StoreHooks hooks) : config_(std::move(config)), hooks_(std::move(hooks)) {}

  Result<void> start() {
    try {
      sync_ = connect(config_.url);
    } catch (const std::exception& e) {
      return make_error("pg: cannot connect to " + redacted_url() + ": " + e.what());
    }
    auto migrated = migrate(*sync_.conn);
    if (!migrated) return migrated;
    lanes_.resize(lane_count());
    for (std::size_t i = 0; i < lanes_.size(); ++i) {
      lanes_[i] = std::make_unique<Lane>();
      lanes_[i]->thread = std::thread([this, i] { lane_loop(*lanes_[i], static_cast<std::int64_t>(i)); });
    }
    listener_ = std::thread([this] { listen_loop(); });
    return {};
  }

  ~PgStore() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      stop_deadline_ = SteadyClock::now() + kStopGrace;
    }
    cv_.notify_all();
    for (auto& lane : lanes_) {
      if (lane->thread.joinable()) lane->thread.join();
    }
    listener_stop_ = true;
    {
      std::lock_guard lock(listen_mu_);
    }
    listen_cv_.notify_all();
    if (listener_.joinable()) listener_.join();
  }

  void submit(StoreRequest request) override {
    bool wake = false;
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(request));
      // Both lanes may wait on cv_ (one for the queue, one for its turn): wake both, but only
      // when the queue was empty or now holds a full batch (which ends batch_interval_us's
      // wait). A lane waiting with requests queued waits for its turn, and turns are notified
      // when they change; a wake-up per request cost a futex call and a context switch per edit.
      wake = queue_.size() == 1 || queue_.size() == std::max<std::size_t>(config_.max_batch, 1);
    }
    if (wake) cv_.notify_all();
  }

  Result<void> revoke(std::string_view jti, std::uint32_t user, std::int64_t expires_s) override {
    if (jti.empty() || jti.size() > 1024) return make_error("pg: revoke: token id must be 1 to 1024 bytes");
    auto r = sync_call<bool>("revoke", [&](pqxx::connection& c) {
      pqxx::work w(c);
      w.exec_params("INSERT INTO revoked_tokens (jti, user_id, expires) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    std::string(jti), user, expires_s);
      w.exec_params("DELETE FROM revoked_tokens WHERE expires < $1", wall_s());
      // Published on commit: every server (this one too) closes the token's connections.
      w.exec_params("SELECT pg_notify($1, $2)", config_.channel, detail::encode_revoked(user, jti));
      w.commit();
      return true;
    });
    if (!r) return r.error();
    return {};
  }

  Result<bool> is_revoked(std::string_view jti) override {
    return sync_call<bool>("is_revoked", [&](pqxx::connection& c) {
      pqxx::read_transaction w(c);
      return !w.exec_params("SELECT 1 FROM revoked_tokens WHERE jti = $1", std::string(jti)).empty();
    });
  }

  Result<void> put_refresh(std::string_view id, std::uint32_t user, std::int64_t expires_s) override {
    auto r = sync_call<bool>("put_refresh", [&](pqxx::connection& c) {
      pqxx::work w(c);
      w.exec_params("INSERT INTO refresh_tokens (id, user_id, expires) VALUES ($1, $2, $3)", std::string(id), user,
                    expires_s);
      w.commit();
      return true;
    });
    if (!r) return r.error();
    return {};
  }

  Result<std::uint32_t> use_refresh(std::string_view id, std::string_view replacement, std::int64_t expires_s) override {
    auto r = sync_call<std::optional<std::uint32_t>>("use_refresh", [&](pqxx::connection& c) -> std::optional<std::uint32_t> {
      pqxx::work w(c);
      auto rows = w.exec_params("DELETE FROM refresh_tokens WHERE id = $1 AND expires > $2 RETURNING user_id",
                                std::string(id), wall_s());
      if (rows.empty()) return std::nullopt;
      const auto user = static_cast<std::uint32_t>(rows[0][0].as<std::uint64_t>());
      w.exec_params("INSERT INTO refresh_tokens (id, user_id, expires) VALUES ($1, $2, $3)", std::string(replacement),
                    user, expires_s);
      w.commit();
      return user;
    });
    if (!r) return r.error();
    if (!*r) return make_error("pg: refresh token unknown, already used or expired");
    return **r;
  }

  Result<void> drop_refresh_of(std::uint32_t user) override {
    auto r = sync_call<bool>("drop_refresh_of", [&](pqxx::connection& c) {
      pqxx::work w(c);
      w.exec_params("DELETE FROM refresh_tokens WHERE user_id = $1", user);
      w.commit();
      return true;
    });
    if (!r) return r.error();
    return {};
  }

  Result<std::uint32_t> user_id(std::string_view name) override {
    if (name.empty() || name.size() > 256) return make_error("pg: user_id: name must be 1 to 256 bytes");
    return sync_call<std::uint32_t>("user_id", [&](pqxx::connection& c) {
      pqxx::work w(c);
      // Two statements: the second sees a concurrent insert that made the first do nothing.
      w.exec_params("INSERT INTO users (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", std::string(name));
      const auto id = w.exec_params1("SELECT id FROM users WHERE name = $1", std::string(name))[0].as<std::uint32_t>();
      w.commit();
      return id;
    });
  }

  Result<std::uint32_t> new_agent() override {
    return sync_call<std::uint32_t>("new_agent", [&](pqxx::connection& c) {
      pqxx::nontransaction w(c);
      return static_cast<std::uint32_t>(w.exec1("SELECT nextval('agent_ids')")[0].as<std::uint64_t>());
    });
  }

  Result<std::string> claim_strategy(std::uint32_t doc, std::string_view name) override {
    if (name.empty()) return make_error("pg: claim_strategy: empty strategy name");
    return sync_call<std::string>("claim_strategy", [&](pqxx::connection& c) {
      pqxx::work w(c);
      // One statement, so two servers claiming at once agree: the first committed name wins.
      auto s = w.exec_params1(
                    "INSERT INTO documents (id, strategy) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE"
                    " SET strategy = COALESCE(documents.strategy, excluded.strategy) RETURNING strategy",
                    doc, std::string(name))[0]
                   .as<std::string>();
      w.commit();
      return s;
    });
  }

  Result<std::vector<LogRecord>> read_log(std::uint32_t doc) override {
    return sync_call<std::vector<LogRecord>>("read_log", [&](pqxx::connection& c) {
      pqxx::read_transaction w(c);
      std::vector<LogRecord> out;
      for (const auto& row : w.exec_params(
               "SELECT seq, author, client_ms, server_ms, payload FROM changes WHERE doc = $1 ORDER BY seq", doc)) {
        out.push_back(row_record(row));
      }
      return out;
    });
  }

  bool healthy() const override { return worker_up_ && listener_up_; }

 private:
  // ------------------------------------------------------------------ synchronous calls
  template <class T, class F>
  Result<T> sync_call(const char* what, F&& f) {
    std::lock_guard lock(sync_mu_);
    // One retry: a connection that broke since the last call is replaced once.
    for (int attempt = 0; attempt < 2; ++attempt) {
      try {
        if (!sync_) sync_ = connect(config_.url);
        T value = f(*sync_.conn);
        return value;
      } catch (const pqxx::broken_connection& e) {
        sync_.reset();
        last_sync_error_ = std::string("pg: ") + what + ": connection lost: " + e.what();
      } catch (const pqxx::sql_error& e) {
        const bool lost = connection_lost(sync_.conn.get());
        if (lost) sync_.reset();
        last_sync_error_ = std::string("pg: ") + what + ": " + e.what();
        if (!lost && !retryable(e)) break;
      } catch (const std::exception& e) {
        sync_.reset();
        last_sync_error_ = std::string("pg: ") + what + ": " + e.what();
        break;
      }
    }
    return make_error(last_sync_error_);
  }
  std::string redacted_url() const {
    // Never echo a password: keep what comes after the '@' of a URI, else the first word.
    const auto at = config_.url.rfind('@');
    if (at != std::string::npos) return "…@" + config_.url.substr(at + 1);
    return config_.url.substr(0, config_.url.find(' '));
  }

  void health(bool up, std::string why) {
    if (hooks_.health) hooks_.health(up, std::move(why));
  }
  void reply(StoreReply r) {
    if (hooks_.reply) hooks_.reply(std::move(r));
  }

  // ------------------------------------------------------------------------- worker
  // Each lane is a thread with its own connection. Batches are numbered (turns); lane i runs
  // turns i, i + lanes, ... With two lanes, turn t+1 takes its batch from the queue and runs
  // BEGIN, the row locks and the INSERT while turn t's COMMIT flushes: a document in both waits
  // in the database for t's row lock and then reads the log length t left, so the log keeps
  // submission order. Turn t+1 begins only once t holds its row locks and answers only after t
  // answered: replies keep submission order per document. More lanes would need a way for t+1 to roll back when t starts over
  // (see append_batch); two are enough to overlap one flush with the next batch's statements.
  struct Lane {
    OwnedConnection conn;
    std::set<std::uint32_t> known_docs;  // document rows known to exist
    std::thread thread;
  };

  // Waits until the lane has a connection; false when stopping and out of patience.
  bool ensure_worker_connection(Lane& lane) {
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

  void lost_worker_connection(Lane& lane, const std::string& why) {
    lane.conn.reset();
    if (worker_up_) {
      worker_up_ = false;
      health(false, "pg worker: " + why);
    }
  }

  // Takes turn t's group from the queue, once turn t-1 holds its row locks: requests other than
  // appends that can go before the batch (no append of their document is in it), then up to
  // max_batch appends. Always a prefix of the queue, taken in turn order, so per-document order
  // is kept. False when stopping with nothing queued.
  bool take(std::int64_t t, std::vector<StoreRequest>& before, std::vector<StoreRequest>& batch) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return locked_turn_ >= t - 1 && (stopping_ || !queue_.empty()); });
    if (queue_.empty()) return false;
    if (config_.batch_interval_us > 0) {
      // The interval counts from the previous take; the first take has none before it and goes
      // at once, whatever the steady clock reads (it starts near 0 on a machine just booted).
      if (last_take_) {
        const auto due = *last_take_ + std::chrono::microseconds(config_.batch_interval_us);
        cv_.wait_until(lock, due, [&] { return stopping_ || queue_.size() >= std::max<std::size_t>(config_.max_batch, 1); });
      }
      last_take_ = SteadyClock::now();
    }
    std::set<std::uint32_t> batch_docs;
    const std::size_t max_batch = std::max<std::size_t>(config_.max_batch, 1);
    std::size_t n = 0;
    for (; n < queue_.size(); ++n) {
      StoreRequest& r = queue_[n];
      if (r.kind == StoreRequest::Kind::kAppend) {
        if (batch.size() >= max_batch) break;
        batch_docs.insert(r.doc);
        batch.push_back(std::move(r));
      } else {
        if (batch_docs.contains(r.doc)) break;
        before.push_back(std::move(r));
      }
    }
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
    return true;
  }

  void wait_done(std::int64_t t) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return done_turn_ >= t; });
  }

  void finish_turn(std::int64_t t) {
    {
      std::lock_guard lock(mu_);
      done_turn_ = std::max(done_turn_, t);
      locked_turn_ = std::max(locked_turn_, t);
    }
    cv_.notify_all();
  }

  void lane_loop(Lane& lane, std::int64_t first_turn) {
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
      wait_done(t - 1);
      for (StoreReply& r : replies) reply(std::move(r));
      finish_turn(t);
    }
  }

  std::size_t lane_count() const { return std::clamp<std::size_t>(config_.pipeline, 1, 2); }

  StoreReply failed(const StoreRequest& r) {
    StoreReply out;
    out.id = r.id;
    out.ok = false;
    return out;
  }

  void backoff_after_failure(std::chrono::milliseconds& backoff) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, backoff, [&] { return stopping_ && SteadyClock::now() >= stop_deadline_; });
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, kBackoffMax);
  }

  bool out_of_patience() {
    std::lock_guard lock(mu_);
    return stopping_ && SteadyClock::now() >= stop_deadline_;
  }

  // A read or a snapshot: retried until the database answers (or the store stops).
  StoreReply run_with_retry(Lane& lane, const StoreRequest& r) {
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

  StoreReply run_one(pqxx::connection& c, const StoreRequest& r) {
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
      case StoreRequest::Kind::kLoad: {
        // `replica` asks for a read replica; the real deployment has none, so this reads the
        // primary (a replica may only be later, never more stale than the primary).
        // Repeatable read: the snapshot, the tail and the log length agree with each other.
        pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> w(c);
        auto snap = w.exec_prepared("latest_snapshot", r.doc);
        if (!snap.empty()) {
          out.has_snapshot = true;
          out.snapshot_index = snap[0][0].as<std::uint64_t>();
          out.snapshot = field_bytes(snap[0][1]);
        }
        auto len = w.exec_prepared("log_length", r.doc);
        out.latest = len.empty() ? 0 : len[0][0].as<std::uint64_t>();
        for (const auto& row : w.exec_prepared("read_log", r.doc, out.snapshot_index)) out.records.push_back(row_record(row));
        w.commit();
        return out;
      }
      case StoreRequest::Kind::kAppend:
        break;
    }
    CONVLAB_ASSERT(false && "appends go through append_batch");
    return out;
  }

  enum class BatchOutcome { kCommitted, kRetry, kFailed };

  std::vector<StoreReply> append_with_retry(Lane& lane, std::int64_t t, std::vector<StoreRequest>& batch) {
    std::vector<StoreReply> replies(batch.size());
    auto backoff = std::chrono::milliseconds(kBackoffMin);
    while (true) {
      for (std::size_t i = 0; i < batch.size(); ++i) {
        replies[i] = StoreReply{};
        replies[i].id = batch[i].id;
      }
      BatchOutcome outcome = BatchOutcome::kFailed;
      if (ensure_worker_connection(lane)) outcome = append_batch(lane, t, batch, replies);
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
  BatchOutcome append_batch(Lane& lane, std::int64_t t, const std::vector<StoreRequest>& batch,
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
        if (r.expect_first_index != 0 && r.expect_first_index != len + 1) {
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

  // ----------------------------------------------------------------------- listener
  class Receiver final : public pqxx::notification_receiver {
   public:
    Receiver(pqxx::connection_base& c, const std::string& channel, std::deque<std::string>& out)
        : pqxx::notification_receiver(c, channel), out_(out) {}
    void operator()(const std::string& payload, int) override { out_.push_back(payload); }

   private:
    std::deque<std::string>& out_;
  };

  void listen_loop() {
    auto backoff = std::chrono::milliseconds(kBackoffMin);
    bool first = true;
    while (!listener_stop_) {
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

  void deliver(std::uint32_t doc, LogRecord record) {
    std::uint64_t& heard = heard_[doc];
    if (record.index <= heard) return;  // a resync delivered it already
    heard = record.index;
    if (hooks_.notify) hooks_.notify(doc, std::move(record));
  }

  void handle(pqxx::connection& c, const std::string& payload) {
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
  void resync(pqxx::connection& c) {
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
  void resync_revocations(pqxx::connection& c) {
    if (!hooks_.revoked) return;
    constexpr std::int64_t kClockMarginUs = 60'000'000;
    pqxx::read_transaction w(c);
    auto rows = w.exec_params("SELECT jti, user_id FROM revoked_tokens WHERE revoked_us >= $1 ORDER BY revoked_us",
                              alive_us_ - kClockMarginUs);
    w.commit();
    for (const auto& row : rows) hooks_.revoked(row[0].as<std::string>(), static_cast<std::uint32_t>(row[1].as<std::uint64_t>()));
  }

  const StoreConfig config_;
  const StoreHooks hooks_;

  // Worker: the queue and its connection.
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<StoreRequest> queue_;
  bool stopping_ = false;
  SteadyClock::time_point stop_deadline_{};
  std::vector<std::unique_ptr<Lane>> lanes_;
  // Turns (numbered batches, see Lane): the last that holds its row locks (or is done), and
  // the last done (answered).
  std::int64_t locked_turn_ = -1;
  std::int64_t done_turn_ = -1;
  // When the last batch was taken (batch_interval_us); none before the first. Never a default
  // time point: that is the machine's boot, and 'boot + interval' can still lie ahead.
  std::optional<SteadyClock::time_point> last_take_;
  std::atomic<bool> worker_up_{true};

  // Listener.
  std::atomic<bool> listener_stop_{false};
  std::atomic<bool> listener_up_{false};
  std::mutex listen_mu_;
  std::condition_variable listen_cv_;
  std::map<std::uint32_t, std::uint64_t> heard_;  // doc -> highest index heard of
  std::int64_t alive_us_ = 0;                     // last moment the listener was connected
  std::thread listener_;

  // Synchronous calls.
  std::mutex sync_mu_;
  OwnedConnection sync_;
  std::string last_sync_error_;
};

}  // namespace

Result<std::vector<std::vector<LogRecord>>> read_change_logs(const std::string& url, std::uint32_t docs) {
  try {
    pqxx::connection c(url);
    pqxx::read_transaction w(c);
    std::vector<std::vector<LogRecord>> out(docs);
    for (const auto& row : w.exec_params(
             "SELECT doc, seq, author, client_ms, server_ms, payload FROM changes WHERE doc < $1 ORDER BY doc, seq",
             static_cast<std::int64_t>(docs))) {
      const auto doc = row[0].as<std::uint32_t>();
      CONVLAB_ASSERT(doc < docs);
      out[doc].push_back(row_record(row.slice(1, row.size())));
    }
    return out;
  } catch (const std::exception& e) {
    return make_error(std::string("reading the change log: ") + e.what());
  }
}

Result<std::unique_ptr<Store>> Store::open(const StoreConfig& config, StoreHooks hooks) {
  // An identifier LISTEN and pg_notify agree on whatever the quoting: lower case, digits, '_'.
  const bool plain = std::all_of(config.channel.begin(), config.channel.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
  });
  if (config.channel.empty() || config.channel.size() > 63 || !plain || (config.channel[0] >= '0' && config.channel[0] <= '9')) {
    return make_error("pg: channel \"" + config.channel + "\" must be 1 to 63 of a-z, 0-9 and _, not starting with a digit");
  }
  auto store = std::make_unique<PgStore>(config, std::move(hooks));
  auto started = store->start();
  if (!started) return started.error();
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace convlab::pg
