#pragma once
// PgStore's SQL (internal to server/pg): the schema and its migrations, the prepared statements,
// reading rows into LogRecords, array literals for unnest(), and connections that keep libpqxx's
// notices off stderr. Every thread of the store uses these; none of them holds state.
//
// Owns: the schema (kMigrations in store_sql.cpp), the statements' text, what a lost connection
// and a retryable error look like.
// May call: libpqxx only.
#include "server/core/assert.hpp"
#include "server/core/node.hpp"

#include <pqxx/pqxx>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace convlab::pg::detail {

std::int64_t wall_us();
std::int64_t wall_s();

// Transaction-level advisory lock key of the append work trigger (install_append_work): one per
// cluster, held to its transaction's end ("convlab" in ASCII + 2; + 0 migrations, + 1 leases).
inline constexpr std::int64_t kAppendWorkLock = 0x636f6e766c6162 + 2;

// Creates or migrates the schema (schema_version; an advisory lock while it runs, so several
// servers may start at once). Error: what failed, or a schema newer than this server's.
Result<void> migrate(pqxx::connection& c);

// unnest() parameters: {1,2,3}.
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
std::string text_array_literal(const std::vector<std::string>& values);

Bytes field_bytes(const pqxx::field& f);
// A row of (seq, author, client_ms, server_ms, payload).
LogRecord row_record(const pqxx::row& row);
// The statements of a worker connection (append, reads, snapshots).
void prepare_statements(pqxx::connection& c);
// The reads alone (read_log, read_range, log_length, latest_snapshot): all a read replica's
// connection needs (prepare_statements includes them).
void prepare_read_statements(pqxx::connection& c);
// A kLoad: the newest snapshot, the log after it and the log length, in one consistent view.
void load_document(pqxx::connection& c, std::uint32_t doc, StoreReply& out);
// The leases' statements (home: lease), on every worker connection.
void prepare_lease_statements(pqxx::connection& c);
// A kLease request (LeaseRegister::request as SQL) in one transaction: `out.leases`.
void request_leases(pqxx::connection& c, const StoreRequest& r, StoreReply& out);

// What a lost connection looks like: pqxx throws broken_connection, or an sql_error after which
// the connection is closed (an administrator's shutdown).
bool connection_lost(const pqxx::connection* c);
// Transient conflicts between servers: retry the transaction.
bool retryable(const pqxx::sql_error& e);

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

OwnedConnection connect(const std::string& url);
// A connection string fit for a log line: never a password (what follows the '@' of a URI,
// else the first word).
std::string redacted(const std::string& url);

}  // namespace convlab::pg::detail
