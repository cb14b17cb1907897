#pragma once
// The simulated PostgreSQL: per document an append-only change log, the latest snapshot and the
// first content; group commit with a commit latency drawn per batch; a read replica that shows
// commits replica_lag_ms late; NOTIFY on commit (through the bus, to every other server); crash
// and restart. It also follows the durable text commit by commit and writes the history's
// `commit` events (which edit each committed record came from).
//
// Invariants:
//   - The log is dense and its order is commit order: log[i].index == i + 1, and commit_us
//     ascends. Commits are serialised; appends that arrive while one is in flight go together
//     into the next batch (one latency for the batch, in arrival order), as PgStore does.
//   - A crash loses what has not committed: an append sent on a connection the crash broke
//     fails even once the database is back (its predecessor from the same server may be lost,
//     and a log that does not replay must never be written).
//   - Partitioned (database.partitions > 1, server/core/partition.hpp): each partition holds its
//     documents' logs and commits on its own (its own group commit, its own batches and costs);
//     a crash or restart is of the whole database. With one partition nothing changes.
//   - With work_us_per_append a batch's membership is fixed when it starts and it takes its
//     commit latency plus that per append, so a partition that receives more than it can commit
//     queues (its commit latency grows without bound).
//   - While down nothing reaches it (a partition from every server) and requests that arrived
//     as it went down wait in a backlog until it restarts.
//   - Lost (a db_lost fault), it keeps only what its backups hold (database.backup): nothing, or
//     the base backup (the first content) and the WAL archived up to the last archive point —
//     every archive_interval_ms, the log's prefix and the snapshot as they stood then.
// Called by the servers (execute, through ServerIo::store), the fault realisations (crash,
// restart) and the run loop (setup, finals).
#include "server/core/home_lease.hpp"
#include "server/core/partition.hpp"
#include "sim/context.hpp"
#include "workload/durable.hpp"

#include <functional>
#include <map>
#include <string>
#include <memory>
#include <optional>
#include <vector>

namespace convlab::sim {

struct World;

struct StoredDoc {
  std::vector<LogRecord> log;  // append-only and dense: log[i].index == i + 1
  bool has_snapshot = false;
  Bytes snapshot;
  std::uint64_t snapshot_index = 0;
  std::vector<std::int64_t> commit_us;  // when each log record committed (the replica lags it)
  bool has_initial = false;             // the first content, at log index 0
  Bytes initial;
};

class Database {
 public:
  Database(World& w, Sim& sim) : w_(w), sim_(sim) {}

  // Every document's first content (the scenario's initial_text, through the strategy).
  void setup();
  // A request from server s reaches the database. `db_sent` is the database incarnation of the
  // server's connection when it sent the request.
  // `sent_us`: when the server sent it (a snapshot holds that server's memory as of then).
  void execute(std::uint32_t s, std::uint32_t incarnation, std::uint32_t db_sent, std::int64_t sent_us,
               StoreRequest request);
  void crash();
  void restart();
  // The database loses everything (a dead disk): it goes down as in a crash, and its store is
  // replaced by what the backups restore; each document whose durable text changed gets a
  // `commit` event with no writer, at this instant (the checker names its losses db_lost).
  void lose();

  bool up() const { return up_; }
  std::uint32_t incarnation() const { return incarnation_; }
  const StoredDoc& doc(std::uint32_t d) const { return store_.at(d); }
  // The durable text's ids (sorted) of `doc` as of log version `version`, followed commit by
  // commit while clients read past versions (workload.version_read_share); null otherwise, or
  // past the log.
  const std::vector<CharId>* durable_ids_at(std::uint32_t doc, std::uint64_t version) const;
  // The durable text of each document, as the history's commit events give it.
  const workload::DurableText& durable(std::uint32_t d) const { return *durable_[d]; }
  // The log index of the latest committed record of each client (for read-your-writes).
  std::uint64_t last_committed_by(std::uint32_t client) const { return own_committed_[client]; }
  // The edit each committed record came from: clients note their edits here.
  workload::RecordAuthors& record_authors() { return record_authors_; }
  const PartitionMap& partition_map() const { return partition_map_; }
  // A partitioned world's commit latency per partition (an append's arrival to its commit),
  // microseconds, as counters partition.P.commit_us_p50 and _p99 (the appends committed so far).
  void latency_counters(std::map<std::string, std::uint64_t>& counters) const;

 private:
  // The database's notification of a committed record, to every server but its origin.
  void publish(std::uint32_t origin, std::uint32_t doc, const LogRecord& record);
  // The durable text of `doc` changed (a record committed, or a snapshot replaced it): a
  // `commit` event naming the edit it came from, when it came from one.
  void emit_commit(std::int32_t s, std::uint32_t doc, std::uint64_t index, std::optional<AgentId> author,
                   const workload::DurableChange& change, std::int64_t taken_us = -1);
  // Sends a reply to server s, which takes it if it is the same process that asked.
  void reply(std::uint32_t s, std::uint32_t incarnation, StoreReply r, bool connection_broke);
  // backup: archive: the WAL switched and archived now (what a loss restores), and the next
  // archive point scheduled.
  void archive();
  // An append reaches its partition's group commit.
  void append(std::uint32_t s, std::uint32_t incarnation, std::uint32_t db_sent, StoreRequest req);
  // The commit point of one append (its batch's end): the records join the log, or the
  // transaction fails (a broken connection, the lease fence, a stale expected index).
  void commit(std::uint32_t s, std::uint32_t incarnation, std::uint32_t db_sent, StoreRequest req,
              std::int64_t arrived_us);
  // With work_us_per_append: partition p's gathering batch starts; its members are now fixed.
  void close_batch(std::uint32_t p, std::int64_t drawn_us);

  // One partition's group commit: commits are serialised, so its log order is commit order.
  struct Pending {
    std::uint32_t s = 0, incarnation = 0, db_sent = 0;
    std::int64_t arrived_us = 0;
    StoreRequest req;
  };
  struct Lane {
    std::int64_t free_us = 0;         // when its latest batch ends
    std::int64_t batch_start_us = 0;  // when its latest group-commit batch starts
    bool started_any = false;         // a batch has started (the gathering time counts from it)
    bool gathering = false;           // work_us_per_append: the latest batch has not started yet
    std::vector<Pending> pending;     // its members, in arrival order
    std::vector<std::int64_t> latency_us;  // partitioned: each committed append's wait
  };

  World& w_;
  Sim& sim_;
  std::vector<StoredDoc> store_;
  // Per document: the text the store holds, followed commit by commit (history `commit` events).
  std::vector<std::unique_ptr<workload::DurableText>> durable_;
  workload::RecordAuthors record_authors_;  // the edit each committed record came from
  std::vector<std::uint64_t> own_committed_;  // client -> its last committed index
  bool up_ = true;
  std::uint32_t incarnation_ = 0;
  // home: lease: the leases of single-writer documents' homes, on the database's clock (durable:
  // a crash of the database keeps them).
  LeaseRegister leases_;
  std::uint64_t down_partition_ = 0;
  // What the backups hold of each document (backup: archive): the log's length and the
  // snapshot at the last archive point (the first one: the base backup, after setup).
  struct Archived {
    std::size_t log_len = 0;
    bool has_snapshot = false;
    Bytes snapshot;
    std::uint64_t snapshot_index = 0;
  };
  std::vector<Archived> archived_;
  // workload.version_read_share > 0: per document, the durable ids (sorted) at each log version.
  std::vector<std::vector<std::vector<CharId>>> ids_at_;
  void note_version(std::uint32_t doc);
  std::vector<std::function<void()>> backlog_;  // requests that arrived while it was down
  PartitionMap partition_map_;
  std::vector<Lane> lanes_;  // one per partition
  // Partitioned worlds count per partition: partition.P.commits (batches) and .appends.
  std::vector<std::string> commits_name_, appends_name_;
};

}  // namespace convlab::sim
