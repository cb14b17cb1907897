// The store's front (pg_store.hpp): Store::open, PgStore's start and stop, submit(), and the
// synchronous calls the HTTP handlers make (one connection of their own, one retry); the
// change-log reader for tools.
//
// May call: store_sql.hpp, notification.hpp (a revocation's NOTIFY), the hooks.
#include "server/pg/pg_store.hpp"

#include "server/pg/notification.hpp"

#include <algorithm>

namespace convlab::pg {
namespace detail {

template <class T, class F>
Result<T> PgStore::sync_call(const char* what, F&& f) {
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

std::string PgStore::redacted_url() const {
  return redacted(config_.url);
}

void PgStore::health(bool up, std::string why) {
  if (hooks_.health) hooks_.health(up, std::move(why));
}

void PgStore::reply(StoreReply r) {
  if (hooks_.reply) hooks_.reply(std::move(r));
}

Result<void> PgStore::start() {
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
  if (!config_.replica_url.empty()) replica_start();
  return {};
}

PgStore::~PgStore() {
  replica_stop();
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

void PgStore::submit(StoreRequest request) {
  if (request.kind == StoreRequest::Kind::kLoad && request.replica && !config_.replica_url.empty()) {
    {
      std::lock_guard lock(replica_mu_);
      CONVLAB_ASSERT(replica_queue_.size() < config_.queue_max);
      replica_queue_.push_back(std::move(request));
    }
    replica_cv_.notify_one();
    return;
  }
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    CONVLAB_ASSERT(queue_.size() < config_.queue_max);  // the caller's bound (StoreConfig::queue_max)
    queue_.push_back(std::move(request));
    queued_at_.push_back(SteadyClock::now());
    // Both lanes may wait on cv_ (one for the queue, one for its turn): wake both, but only
    // when the queue was empty or now holds a full batch (which ends batch_interval_us's
    // wait). A lane waiting with requests queued waits for its turn, and turns are notified
    // when they change; a wake-up per request cost a futex call and a context switch per edit.
    wake = queue_.size() == 1 || queue_.size() == std::max<std::size_t>(config_.batch_max, 1);
  }
  if (wake) cv_.notify_all();
}

Result<void> PgStore::revoke(std::string_view jti, std::uint32_t user, std::int64_t expires_s) {
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

Result<bool> PgStore::is_revoked(std::string_view jti) {
  return sync_call<bool>("is_revoked", [&](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    return !w.exec_params("SELECT 1 FROM revoked_tokens WHERE jti = $1", std::string(jti)).empty();
  });
}

Result<void> PgStore::put_refresh(std::string_view id, std::uint32_t user, std::int64_t expires_s) {
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

Result<RefreshUse> PgStore::use_refresh(std::string_view id, std::string_view replacement, std::int64_t expires_s) {
  return sync_call<RefreshUse>("use_refresh", [&](pqxx::connection& c) {
    pqxx::work w(c);
    RefreshUse u;
    // An expired id goes too, as unknown (not as a reuse).
    auto rows = w.exec_params("DELETE FROM refresh_tokens WHERE id = $1 RETURNING user_id, expires", std::string(id));
    if (!rows.empty()) {
      if (rows[0][1].as<std::int64_t>() > wall_s()) {
        u.outcome = RefreshUse::kRotated;
        u.user = static_cast<std::uint32_t>(rows[0][0].as<std::uint64_t>());
        w.exec_params("INSERT INTO refresh_tokens (id, user_id, expires) VALUES ($1, $2, $3)",
                      std::string(replacement), u.user, expires_s);
      }
    } else if (const auto dot = id.find('.'); dot != std::string_view::npos && dot > 0) {
      // Not there: if later ids of its family are, this one was rotated and comes back. The
      // family's prefix is matched literally (no LIKE wildcards in it).
      const std::string family(id.substr(0, dot + 1));
      auto gone = w.exec_params("DELETE FROM refresh_tokens WHERE left(id, length($1)) = $1 RETURNING user_id", family);
      if (!gone.empty()) {
        u.outcome = RefreshUse::kReused;
        u.user = static_cast<std::uint32_t>(gone[0][0].as<std::uint64_t>());
        u.revoked = gone.size();
      }
    }
    w.commit();
    return u;
  });
}

Result<void> PgStore::drop_refresh_of(std::uint32_t user) {
  auto r = sync_call<bool>("drop_refresh_of", [&](pqxx::connection& c) {
    pqxx::work w(c);
    w.exec_params("DELETE FROM refresh_tokens WHERE user_id = $1", user);
    w.commit();
    return true;
  });
  if (!r) return r.error();
  return {};
}

Result<std::uint32_t> PgStore::user_id(std::string_view name) {
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

Result<std::uint32_t> PgStore::new_agent(std::uint32_t user) {
  return sync_call<std::uint32_t>("new_agent", [&](pqxx::connection& c) {
    pqxx::work w(c);
    const auto agent = static_cast<std::uint32_t>(w.exec1("SELECT nextval('agent_ids')")[0].as<std::uint64_t>());
    if (user != 0) w.exec_params("INSERT INTO agent_users (agent, user_id) VALUES ($1, $2)", agent, user);
    w.commit();
    return agent;
  });
}

Result<std::string> PgStore::claim_strategy(std::uint32_t doc, std::string_view name) {
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

Result<std::vector<LogRecord>> PgStore::read_log(std::uint32_t doc, std::uint64_t upto) {
  // bigint is signed: past its range means every record.
  const auto last = static_cast<std::int64_t>(std::min<std::uint64_t>(upto, INT64_MAX));
  return sync_call<std::vector<LogRecord>>("read_log", [&](pqxx::connection& c) {
    pqxx::read_transaction w(c);
    std::vector<LogRecord> out;
    for (const auto& row : w.exec_params(
             "SELECT seq, author, client_ms, server_ms, payload FROM changes WHERE doc = $1 AND seq <= $2 ORDER BY seq",
             doc, last)) {
      out.push_back(row_record(row));
    }
    return out;
  });
}

Result<HistoryPage> PgStore::read_history(std::uint32_t doc, std::uint64_t after, std::uint32_t limit) {
  const auto from = static_cast<std::int64_t>(std::min<std::uint64_t>(after, INT64_MAX));
  return sync_call<HistoryPage>("read_history", [&](pqxx::connection& c) {
    pqxx::read_transaction w(c);  // one snapshot: the page and the length agree
    HistoryPage page;
    for (const auto& row : w.exec_params(
             "SELECT c.seq, c.author, c.client_ms, c.server_ms, c.payload, COALESCE(a.user_id, 0), COALESCE(u.name, '')"
             " FROM changes c LEFT JOIN agent_users a ON a.agent = c.author LEFT JOIN users u ON u.id = a.user_id"
             " WHERE c.doc = $1 AND c.seq > $2 ORDER BY c.seq LIMIT $3",
             doc, from, limit)) {
      HistoryEntry e;
      e.record = row_record(row.slice(0, 5));
      e.user = row[5].as<std::uint32_t>();
      e.user_name = row[6].as<std::string>();
      page.entries.push_back(std::move(e));
    }
    page.latest = w.exec_params1("SELECT COALESCE(MAX(seq), 0) FROM changes WHERE doc = $1", doc)[0].as<std::uint64_t>();
    return page;
  });
}

}  // namespace detail

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
      out[doc].push_back(detail::row_record(row.slice(1, row.size())));
    }
    return out;
  } catch (const std::exception& e) {
    return make_error(std::string("reading the change log: ") + e.what());
  }
}

Result<std::uint64_t> last_agent_id(const std::string& url) {
  try {
    pqxx::connection c(url);
    pqxx::read_transaction w(c);
    const auto row = w.exec1("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM agent_ids");
    return row[0].as<std::uint64_t>();
  } catch (const std::exception& e) {
    return make_error(std::string("reading the last agent id: ") + e.what());
  }
}

Result<void> continue_agent_ids(const std::string& url, std::uint64_t last) {
  try {
    pqxx::connection c(url);
    if (auto ok = detail::migrate(c); !ok) return ok;
    if (last == 0) return {};
    pqxx::work w(c);
    w.exec_params(
        "SELECT setval('agent_ids', $1) WHERE $1 > (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM agent_ids)",
        static_cast<std::int64_t>(last));
    w.commit();
    return {};
  } catch (const std::exception& e) {
    return make_error(std::string("continuing the agent ids: ") + e.what());
  }
}

Result<void> install_append_work(const std::string& url, std::int64_t work_us) {
  try {
    pqxx::connection c(url);
    if (auto ok = detail::migrate(c); !ok) return ok;
    pqxx::work w(c);
    w.exec("DROP TRIGGER IF EXISTS convlab_append_work ON changes");
    if (work_us > 0) {
      // The lock key is its own (detail::kAppendWorkLock): no other lock of the servers uses it.
      // pg_sleep sleeps: the work takes time, not this machine's CPU.
      w.exec("CREATE OR REPLACE FUNCTION convlab_append_work() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
             "PERFORM pg_advisory_xact_lock(" + std::to_string(detail::kAppendWorkLock) + "); "
             "PERFORM pg_sleep((SELECT count(*) FROM convlab_new_rows) * " + std::to_string(work_us) + " / 1e6); "
             "RETURN NULL; END $$");
      w.exec("CREATE TRIGGER convlab_append_work AFTER INSERT ON changes REFERENCING NEW TABLE AS convlab_new_rows "
             "FOR EACH STATEMENT EXECUTE FUNCTION convlab_append_work()");
    }
    w.commit();
    return {};
  } catch (const std::exception& e) {
    return make_error(std::string("installing the append work trigger: ") + e.what());
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
  auto store = std::make_unique<detail::PgStore>(config, std::move(hooks));
  auto started = store->start();
  if (!started) return started.error();
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace convlab::pg