// The store's read replica (pg_store.hpp): API loads (kLoad with `replica` set) read a
// PostgreSQL streaming replica of the primary, on a thread and connection of their own, so a
// slow or absent replica never holds up the primary's group commits. Row 12 of the naive
// design: a read replica shows commits late (its recovery_min_apply_delay, or real lag).
//
// Each read gets one attempt: a replica that cannot be reached, or fails the read, answers
// ok=false at once (the server answers 503 and says so in its log), and the next read
// connects again. `latest` is the primary's log length, read after the replica's view (a
// connection of this thread to the primary), so an answer says how far behind it is; when the
// primary does not answer it is the replica's own.
//
// May call: store_sql.hpp, the hooks (reply, replica_health).
#include "server/pg/pg_store.hpp"

#include <algorithm>

namespace convlab::pg::detail {
namespace {

// libpq waits for a TCP connect as long as the kernel does (minutes to an unreachable host):
// bound it, unless the URL already says.
constexpr int kConnectTimeoutS = 3;
// A read on the replica: a statement longer than this fails (replay conflicts can hold one).
constexpr int kStatementTimeoutMs = 5000;

std::string bounded(const std::string& url) {
  if (url.find("connect_timeout") != std::string::npos) return url;
  const std::string t = "connect_timeout=" + std::to_string(kConnectTimeoutS);
  if (url.rfind("postgres", 0) == 0 && url.find("://") != std::string::npos) {
    return url + (url.find('?') == std::string::npos ? "?" : "&") + t;
  }
  return url + " " + t;
}

}  // namespace

void PgStore::replica_start() {
  replica_thread_ = std::thread([this] { replica_loop(); });
}

void PgStore::replica_stop() {
  if (!replica_thread_.joinable()) return;
  {
    std::lock_guard lock(replica_mu_);
    replica_stopping_ = true;
  }
  replica_cv_.notify_all();
  replica_thread_.join();
}

void PgStore::replica_report(bool up, const std::string& why) {
  if (up == replica_up_ && up) return;  // every failure is reported; recovery once
  replica_up_ = up;
  if (hooks_.replica_health) hooks_.replica_health(up, why);
}

void PgStore::replica_loop() {
  while (true) {
    StoreRequest r;
    bool stopping = false;
    {
      std::unique_lock lock(replica_mu_);
      replica_cv_.wait(lock, [&] { return replica_stopping_ || !replica_queue_.empty(); });
      if (replica_queue_.empty()) return;
      r = std::move(replica_queue_.front());
      replica_queue_.pop_front();
      stopping = replica_stopping_;
    }
    // Stopping: what is still queued is answered, failed, without touching the database.
    reply(stopping ? failed(r) : replica_load(r));
  }
}

StoreReply PgStore::replica_load(const StoreRequest& r) {
  CONVLAB_ASSERT(r.kind == StoreRequest::Kind::kLoad && r.replica);
  StoreReply out;
  out.id = r.id;
  const std::string where = redacted(config_.replica_url);
  try {
    if (!replica_conn_) {
      replica_conn_ = connect(bounded(config_.replica_url));
      pqxx::nontransaction(*replica_conn_.conn).exec("SET statement_timeout = " + std::to_string(kStatementTimeoutMs));
      prepare_read_statements(*replica_conn_.conn);
    }
  } catch (const std::exception& e) {
    replica_conn_.reset();
    replica_report(false, "pg replica: cannot connect to " + where + ": " + e.what());
    return failed(r);
  }
  try {
    load_document(*replica_conn_.conn, r.doc, out);
  } catch (const std::exception& e) {
    // Reconnect next time: after a failure the connection's state is not worth trusting.
    replica_conn_.reset();
    replica_report(false, "pg replica " + where + ": the read of document " + std::to_string(r.doc) +
                              " failed: " + e.what());
    return failed(r);
  }
  replica_report(true, "pg replica: reads from " + where);
  try {
    if (!latest_conn_) {
      latest_conn_ = connect(bounded(config_.url));
      pqxx::nontransaction(*latest_conn_.conn).exec("SET statement_timeout = " + std::to_string(kStatementTimeoutMs));
      prepare_read_statements(*latest_conn_.conn);
    }
    pqxx::read_transaction w(*latest_conn_.conn);
    auto len = w.exec_prepared("log_length", r.doc);
    if (!len.empty()) out.latest = std::max(out.latest, len[0][0].as<std::uint64_t>());
  } catch (const std::exception&) {
    latest_conn_.reset();  // the primary's own health is the lanes' to report
  }
  return out;
}

}  // namespace convlab::pg::detail
