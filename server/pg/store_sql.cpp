// PgStore's SQL (store_sql.hpp): migrations, statements, rows, connections.
#include "server/pg/store_sql.hpp"

#include <chrono>
#include <set>
#include <iterator>

namespace convlab::pg::detail {
namespace {

// Snapshots kept per document: the newest few (an older one is only useful while a load that
// already chose it is still reading).
constexpr int kSnapshotsKept = 3;
// Session-level advisory lock key for migrations ("convlab" in ASCII).
constexpr std::int64_t kMigrationLock = 0x636f6e766c6162;
// Transaction-level advisory lock key for lease requests ("convlab" + 1).
constexpr std::int64_t kLeaseLock = kMigrationLock + 1;
static_assert(kAppendWorkLock == kMigrationLock + 2, "the append work trigger's lock is its own");

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
    // 3: the leases of single-writer documents' homes (home: lease, server/core/home_lease.hpp).
    R"(CREATE TABLE doc_leases (
         doc     bigint PRIMARY KEY,
         holder  bigint NOT NULL,
         epoch   bigint NOT NULL,
         expires timestamptz NOT NULL);
       CREATE INDEX doc_leases_holder ON doc_leases (holder);)",
    // 4: who each agent id was issued to (a login), so the change log's authors name users
    // (GET /api/documents/{id}/history).
    R"(CREATE TABLE agent_users (
         agent   bigint PRIMARY KEY,
         user_id bigint NOT NULL);)",
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

}  // namespace

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

std::int64_t wall_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}
std::int64_t wall_s() { return wall_us() / 1'000'000; }

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

void prepare_read_statements(pqxx::connection& c) {
  c.prepare("read_log",
            "SELECT seq, author, client_ms, server_ms, payload FROM changes WHERE doc = $1 AND seq > $2 ORDER BY seq");
  c.prepare("read_range",
            "SELECT seq, author, client_ms, server_ms, payload FROM changes WHERE doc = $1 AND seq >= $2 AND seq < $3 "
            "ORDER BY seq");
  c.prepare("log_length", "SELECT log_length FROM documents WHERE id = $1");
  c.prepare("latest_snapshot", "SELECT upto, payload FROM snapshots WHERE doc = $1 ORDER BY upto DESC LIMIT 1");
}

void load_document(pqxx::connection& c, std::uint32_t doc, StoreReply& out) {
  // Repeatable read: the snapshot, the tail and the log length agree with each other.
  pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> w(c);
  auto snap = w.exec_prepared("latest_snapshot", doc);
  if (!snap.empty()) {
    out.has_snapshot = true;
    out.snapshot_index = snap[0][0].as<std::uint64_t>();
    out.snapshot = field_bytes(snap[0][1]);
  }
  auto len = w.exec_prepared("log_length", doc);
  out.latest = len.empty() ? 0 : len[0][0].as<std::uint64_t>();
  for (const auto& row : w.exec_prepared("read_log", doc, out.snapshot_index)) out.records.push_back(row_record(row));
  w.commit();
}

void request_leases(pqxx::connection& c, const StoreRequest& r, StoreReply& out) {
  pqxx::work w(c);
  w.exec_prepared("lease_lock");
  std::set<std::uint32_t> named(r.lease_docs.begin(), r.lease_docs.end());
  for (const auto& row : w.exec_prepared("lease_held", r.node)) named.insert(row[0].as<std::uint32_t>());
  const std::vector<std::uint32_t> docs(named.begin(), named.end());
  const std::string docs_array = array_literal(docs);
  w.exec_prepared("lease_renew", r.node, r.lease_ms);
  w.exec_prepared("lease_claim", r.node, r.lease_ms, docs_array);
  for (const auto& row : w.exec_prepared("lease_read", docs_array)) {
    out.leases.store_now_ms = row[4].as<std::int64_t>();
    out.leases.leases.emplace_back(row[0].as<std::uint32_t>(),
                                   DocLease{row[1].as<NodeId>(), row[2].as<std::uint64_t>(), row[3].as<std::int64_t>()});
  }
  w.commit();
}

void prepare_lease_statements(pqxx::connection& c) {
  // LeaseRegister::request as SQL, on the database's clock (now(): the transaction's start).
  // Lease requests are few (each node's every lease / 4): one at a time, so a claim and a
  // renewal never wait on each other's row locks in opposite orders.
  c.prepare("lease_lock", "SELECT pg_advisory_xact_lock(" + std::to_string(kLeaseLock) + ")");
  c.prepare("lease_held", "SELECT doc FROM doc_leases WHERE holder = $1::bigint");
  c.prepare("lease_renew",
            "UPDATE doc_leases SET expires = now() + $2::double precision * interval '1 millisecond'"
            " WHERE holder = $1::bigint AND expires > now()");
  c.prepare("lease_claim",
            "INSERT INTO doc_leases (doc, holder, epoch, expires)"
            " SELECT d, $1::bigint, 1, now() + $2::double precision * interval '1 millisecond'"
            " FROM unnest($3::bigint[]) AS d ORDER BY d"
            " ON CONFLICT (doc) DO UPDATE SET holder = EXCLUDED.holder, epoch = doc_leases.epoch + 1,"
            " expires = EXCLUDED.expires WHERE doc_leases.expires <= now()");
  c.prepare("lease_read",
            "SELECT doc, holder, epoch, (extract(epoch FROM expires) * 1000)::bigint,"
            " (extract(epoch FROM now()) * 1000)::bigint FROM doc_leases WHERE doc = ANY($1::bigint[]) ORDER BY doc");
  // The fence of an append (LeaseRegister::may_append), read under the documents' row locks;
  // FOR SHARE waits for a claim in flight.
  c.prepare("lease_fence",
            "SELECT doc, holder, epoch, expires > now() FROM doc_leases WHERE doc = ANY($1::bigint[]) ORDER BY doc FOR SHARE");
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
  prepare_read_statements(c);
  prepare_lease_statements(c);
  c.prepare("write_snapshot", "INSERT INTO snapshots (doc, upto, payload) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING");
  c.prepare("prune_snapshots",
            "DELETE FROM snapshots WHERE doc = $1 AND upto < (SELECT upto FROM snapshots WHERE doc = $1"
            " ORDER BY upto DESC OFFSET " + std::to_string(kSnapshotsKept - 1) + " LIMIT 1)");
}

std::string redacted(const std::string& url) {
  const auto at = url.rfind('@');
  if (at != std::string::npos) return "…@" + url.substr(at + 1);
  return url.substr(0, url.find(' '));
}

bool connection_lost(const pqxx::connection* c) { return c == nullptr || !c->is_open(); }

bool retryable(const pqxx::sql_error& e) {
  const std::string& state = e.sqlstate();
  return state == "40001" || state == "40P01";
}

OwnedConnection connect(const std::string& url) {
  OwnedConnection c;
  c.conn = std::make_unique<pqxx::connection>(url);
  c.quiet = std::make_unique<QuietNotices>(*c.conn);
  return c;
}

}  // namespace convlab::pg::detail
