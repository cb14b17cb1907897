#pragma once
// The real server's store: PostgreSQL through libpqxx 6.4. It answers the node's StoreRequests
// (server/core/node.hpp) with StoreReplies, holds the change log, the snapshots, the refresh
// tokens and the revocation list, and carries cross-server fan-out over LISTEN/NOTIFY.
//
// - Schema created and migrated on open (a schema_version table; migrations in order, each in
//   its own transaction, safe when several servers start at once: advisory lock).
// - Appends queued while a commit is in flight go together into the next transaction (group
//   commit); each append keeps its own version check (expect_first_index) and fails alone.
//   With `pipeline` 2, two connections take turns: the next transaction is prepared while the
//   previous one's COMMIT flushes, and commits (and is answered) after it.
// - An append with `notify` publishes its records with NOTIFY inside the same transaction, so
//   other servers hear of exactly what committed, in commit order.
// - A lost LISTEN connection is re-established; on reconnect the listener reads the log past
//   what it had heard for every document it had heard of and delivers that first (deduplicated
//   by index), and the node's catch-up by sequence covers documents it had not heard of.
//   Revocations made while it was away are read from the table and delivered again.
// - A kLoad with `replica` set goes to the read replica when config.replica_url names one
//   (store_replica.cpp): its own thread and connection, one attempt per read (a replica that is
//   down fails the read at once, ok=false, never retried into a hang), in submission order
//   among replica reads but not with the primary's requests: a replica is allowed to be behind.
// - Requests other than appends (kReadLog, kLoad, kWriteSnapshot) run on a worker, after the
//   previous batch is done and before the next batch unless an append of their document is in
//   it: replies keep submission order per document.
// - Tables: schema_version, documents, changes, snapshots (the newest 3 per document kept),
//   users, agent_ids (sequence), agent_users (the user each agent id was issued to: the
//   history's authors), revoked_tokens, refresh_tokens. Documents are created on first append
//   or claim_strategy.
#include "server/core/node.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace convlab::pg {

struct StoreConfig {
  std::string url;                  // libpq connection string or postgresql:// URI
  std::string channel = "convlab";  // NOTIFY channel shared by the servers of one deployment
  std::size_t batch_max = 4096;     // appends in one transaction at most
  // Requests submitted and not yet taken by a worker, at most: submit() asserts it. The caller
  // bounds its backlog well under this (convlab-server refuses work at its edge first:
  // net::kStoreCallsMax); a store that reaches it has a caller with no bound, a bug.
  std::size_t queue_max = std::size_t{1} << 20;
  // Worker connections committing in turn (1 or 2): with 2, the next batch runs its statements
  // while the previous one's COMMIT flushes, committing after it (see pg_store.hpp, Lane).
  std::size_t pipeline = 2;
  // Group commit's gathering time: a batch starts at least this long after the previous one
  // started (either lane), unless batch_max appends are already queued; 0: as soon as the lane's
  // turn comes. Each transaction costs the database and this server a fixed amount of CPU
  // (round trips, the WAL flush, waking the listeners), so at moderate rates a few milliseconds
  // here buy fewer, larger commits for a few milliseconds of latency.
  std::int64_t batch_interval_us = 0;
  // This server's id, to skip its own notifications (as the simulator's bus does: a server
  // never hears its own records). Servers of one deployment must have distinct ids.
  std::uint32_t node = 0;
  // A streaming replica of `url` (libpq connection string or URI) for kLoads with `replica` set
  // (the api_read policies that read a replica); empty: those read the primary.
  std::string replica_url;
};

// Where one group-commit transaction spent its time (seconds).
struct BatchTiming {
  std::size_t appends = 0;
  double lock = 0;       // BEGIN, creating new document rows, the row locks (waits for the previous batch's)
  double statement = 0;  // the INSERT with log lengths and NOTIFYs
  double commit = 0;     // COMMIT: the WAL flush
};

// Observations for metrics; every callback may come from the store's own threads.
struct StoreHooks {
  // The answer to submit(); called on one of the store's worker threads, one at a time, in
  // submission order per document.
  std::function<void(StoreReply)> reply;
  // A record another server (a store with another `node` id) committed, as NOTIFY delivered it,
  // index set; called on the listener thread, in commit order per document, each index once.
  std::function<void(std::uint32_t doc, LogRecord record)> notify;
  // A token id revoked by any server (POST /logout anywhere), this one included; listener thread.
  std::function<void(std::string jti, std::uint32_t user)> revoked;
  // After each commit: appends in it, and seconds from BEGIN to the end of COMMIT.
  std::function<void(std::size_t appends, double seconds)> committed;
  // After each commit, for each append in it: seconds from its arrival in this store's queue
  // (submit) to the end of its COMMIT (the simulator's partition commit latency).
  std::function<void(const std::vector<double>& seconds)> appended;
  // After each commit, the same transaction by phase.
  std::function<void(const BatchTiming&)> batch;
  // For each notification: seconds from the commit's server timestamp to its arrival here.
  std::function<void(double seconds)> notify_lag;
  // The database went away or came back (connection lost, reconnected); `why` says what and
  // which connection ("pg worker: ...", "pg listener: ..."). Worker or listener thread. Also
  // called with up=true for a notification the listener could not decode (and skipped).
  std::function<void(bool up, std::string why)> health;
  // The read replica could not be reached or failed a read (up=false), or answers again; `why`
  // says what ("pg replica: ..."). Replica thread. The primary's health is not affected.
  std::function<void(bool up, std::string why)> replica_health;
};

// A change-log record with who wrote it: the user its author's agent id was issued to at login
// (user 0 and an empty name when the agent was not issued by a login, e.g. a test's).
struct HistoryEntry {
  LogRecord record;
  std::uint32_t user = 0;
  std::string user_name;
};
struct HistoryPage {
  std::vector<HistoryEntry> entries;
  std::uint64_t latest = 0;  // the log's length
};

// What `use_refresh` made of an id: rotated (`user` set), unknown (never issued, expired, or its
// family already revoked) or reused after its rotation (its family, `revoked` ids, deleted).
struct RefreshUse {
  enum Outcome { kRotated, kUnknown, kReused } outcome = kUnknown;
  std::uint32_t user = 0;
  std::size_t revoked = 0;
};

class Store {
 public:
  // Connects, migrates, starts the worker and listener threads. An Error (naming the problem,
  // never the password) when the database cannot be reached or migrated, or the channel is not
  // a plain lower-case identifier.
  static Result<std::unique_ptr<Store>> open(const StoreConfig& config, StoreHooks hooks);
  // Commits what is queued, then stops the threads (with the database down, queued work gets
  // 5 s before it is answered ok=false).
  virtual ~Store() = default;

  // Any thread; never blocks on the database. While the database is down, requests wait and are
  // retried; an append whose transaction's outcome is unknown (connection lost during COMMIT) is
  // answered ok=false, and the node resets the document (it reloads what is durable).
  // REQUIRES: fewer than config.queue_max requests queued (not yet taken by a worker).
  virtual void submit(StoreRequest request) = 0;

  // Synchronous, for HTTP handlers (own connection; may block for one round trip).
  virtual Result<void> revoke(std::string_view jti, std::uint32_t user, std::int64_t expires_s) = 0;
  virtual Result<bool> is_revoked(std::string_view jti) = 0;
  // Refresh tokens: an opaque random id stored with its user and expiry; `use_refresh` checks
  // and rotates it (the old one stops working) and returns the user. An id `FAMILY.rest` belongs
  // to the family before its first '.': a rotation's replacement carries it on. An id used again
  // after its rotation (not there, while later ones of its family are: a copy in a thief's hands,
  // or the holder's after a thief's use) revokes the whole family (RefreshUse::kReused).
  virtual Result<void> put_refresh(std::string_view id, std::uint32_t user, std::int64_t expires_s) = 0;
  // An Error only when the database could not answer.
  virtual Result<RefreshUse> use_refresh(std::string_view id, std::string_view replacement,
                                         std::int64_t expires_s) = 0;
  virtual Result<void> drop_refresh_of(std::uint32_t user) = 0;
  // Users by name: the id of `name`, created on first use (stable across servers).
  virtual Result<std::uint32_t> user_id(std::string_view name) = 0;
  // A fresh agent id for a login (a database sequence: unique across servers and restarts),
  // recorded as issued to `user` (0: to nobody in particular) for the history's authors.
  virtual Result<std::uint32_t> new_agent(std::uint32_t user = 0) = 0;
  // The strategy a document uses: `name` is recorded on first use; a later call with another
  // name gets the recorded one back (the caller refuses the mismatch).
  virtual Result<std::string> claim_strategy(std::uint32_t doc, std::string_view name) = 0;
  // The durable log of a document, for tests and tools (kLoad without a snapshot: every record),
  // or its first `upto` records.
  virtual Result<std::vector<LogRecord>> read_log(std::uint32_t doc, std::uint64_t upto = UINT64_MAX) = 0;
  // One page of a document's history (GET /api/documents/{id}/history): at most `limit`
  // records with index > `after`, in log order, each with the user its author's agent id was
  // issued to, and the log's length, in one consistent view.
  virtual Result<HistoryPage> read_history(std::uint32_t doc, std::uint64_t after, std::uint32_t limit) = 0;
  // Both the worker's and the listener's connections are up.
  virtual bool healthy() const = 0;
};

// The change logs of documents 0 .. docs-1, each in log order, read once in one transaction (one
// consistent view) on a connection of its own: for tools that read what the servers committed
// (convlab-load's history), without a Store's threads. An Error names the problem.
Result<std::vector<std::vector<LogRecord>>> read_change_logs(const std::string& url, std::uint32_t docs);

// The last agent id the database issued (0: none yet), for a tool about to lose the database
// (the real runner's db_lost): an agent id names a client replica's characters.
Result<std::uint64_t> last_agent_id(const std::string& url);

// On a database that replaces a lost one (restored from a backup, or started afresh): the schema
// created or migrated, and agent ids issued from after `last` on, so no agent id issued before the
// loss is issued again (the run's history names characters by agent id). A restored sequence
// already past `last` stays.
Result<void> continue_agent_ids(const std::string& url, std::uint64_t last);

// The real runner's realisation of `database.work_us_per_append` (docs/real-faults.md, "A
// saturable partition"): on the cluster at `url`, the schema created or migrated, and a
// statement trigger on the change log that makes every INSERT into `changes` take an advisory
// lock held to its transaction's end (one key per cluster: the cluster's appends are worked one
// transaction at a time) and then sleep `work_us` per inserted row. So one cluster commits at
// most about 1e6 / work_us appends a second, whatever the servers batch. 0 removes it.
Result<void> install_append_work(const std::string& url, std::int64_t work_us);

}  // namespace convlab::pg
