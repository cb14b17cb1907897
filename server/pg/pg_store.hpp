#pragma once
// PgStore, the Store (store.hpp) on PostgreSQL (internal to server/pg). Its threads:
// - the lanes (store_commit.cpp): one or two worker threads, each with its own connection,
//   taking turns to commit batches of appends (group commit) and to run the other requests;
// - the listener (store_listen.cpp): LISTEN on the channel, other servers' records and
//   revocations to the hooks, catching up after a reconnect;
// - the caller's (store.cpp): submit() queues, the synchronous calls share one connection;
// - the replica reader (store_replica.cpp), when config.replica_url is set: API loads from the
//   read replica.
//
// Owns: the request queue and the turns (mu_, cv_), the listener's state (heard_), the
// synchronous connection (sync_mu_).
// May call: the hooks (from its own threads), store_sql.hpp, notification.hpp.
#include "server/pg/store.hpp"
#include "server/pg/store_sql.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

namespace convlab::pg::detail {

using SteadyClock = std::chrono::steady_clock;

// While stopping with the database down, queued work is given this long before it is answered
// ok=false.
inline constexpr std::chrono::seconds kStopGrace{5};
inline constexpr std::chrono::milliseconds kBackoffMin{50};
inline constexpr std::chrono::seconds kBackoffMax{2};
// How long the listener waits without a notification before it checks its connection is alive.
inline constexpr std::chrono::seconds kListenerPing{1};

class PgStore final : public Store {
 public:
  PgStore(StoreConfig config, StoreHooks hooks) : config_(std::move(config)), hooks_(std::move(hooks)) {}
  ~PgStore() override;

  // Connects, migrates, starts the lanes and the listener.
  Result<void> start();

  void submit(StoreRequest request) override;
  Result<void> revoke(std::string_view jti, std::uint32_t user, std::int64_t expires_s) override;
  Result<bool> is_revoked(std::string_view jti) override;
  Result<void> put_refresh(std::string_view id, std::uint32_t user, std::int64_t expires_s) override;
  Result<RefreshUse> use_refresh(std::string_view id, std::string_view replacement, std::int64_t expires_s) override;
  Result<void> drop_refresh_of(std::uint32_t user) override;
  Result<std::uint32_t> user_id(std::string_view name) override;
  Result<std::uint32_t> new_agent(std::uint32_t user = 0) override;
  Result<std::string> claim_strategy(std::uint32_t doc, std::string_view name) override;
  Result<std::vector<LogRecord>> read_log(std::uint32_t doc, std::uint64_t upto = UINT64_MAX) override;
  Result<HistoryPage> read_history(std::uint32_t doc, std::uint64_t after, std::uint32_t limit) override;
  bool healthy() const override { return worker_up_ && listener_up_; }

 private:
  // ------------------------------------------------------------------ synchronous calls
  // store.cpp.
  template <class T, class F>
  Result<T> sync_call(const char* what, F&& f);
  std::string redacted_url() const;
  void health(bool up, std::string why);
  void reply(StoreReply r);

  // ------------------------------------------------------------------------- worker
  // store_commit.cpp. Each lane is a thread with its own connection. Batches are numbered
  // (turns); lane i runs turns i, i + lanes, ... With two lanes, turn t+1 takes its batch from
  // the queue and runs BEGIN, the row locks and the INSERT while turn t's COMMIT flushes: a
  // document in both waits in the database for t's row lock and then reads the log length t
  // left, so the log keeps submission order. Turn t+1 begins only once t holds its row locks and
  // answers only after t answered: replies keep submission order per document. More lanes would
  // need a way for t+1 to roll back when t starts over (see append_batch); two are enough to
  // overlap one flush with the next batch's statements.
  struct Lane {
    OwnedConnection conn;
    std::set<std::uint32_t> known_docs;  // document rows known to exist
    std::thread thread;
  };
  enum class BatchOutcome { kCommitted, kRetry, kFailed };

  bool ensure_worker_connection(Lane& lane);
  void lost_worker_connection(Lane& lane, const std::string& why);
  bool take(std::int64_t t, std::vector<StoreRequest>& before, std::vector<StoreRequest>& batch);
  void wait_done(std::int64_t t);
  void finish_turn(std::int64_t t);
  void lane_loop(Lane& lane, std::int64_t first_turn);
  std::size_t lane_count() const;
  StoreReply failed(const StoreRequest& r);
  void backoff_after_failure(std::chrono::milliseconds& backoff);
  bool out_of_patience();
  StoreReply run_with_retry(Lane& lane, const StoreRequest& r);
  StoreReply run_one(pqxx::connection& c, const StoreRequest& r);
  std::vector<StoreReply> append_with_retry(Lane& lane, std::int64_t t, std::vector<StoreRequest>& batch);
  BatchOutcome append_batch(Lane& lane, std::int64_t t, const std::vector<StoreRequest>& batch,
                            std::vector<StoreReply>& replies);

  // ----------------------------------------------------------------------- listener
  // store_listen.cpp.
  void listen_loop();
  void deliver(std::uint32_t doc, LogRecord record);
  void handle(pqxx::connection& c, const std::string& payload);
  void resync(pqxx::connection& c);
  void resync_revocations(pqxx::connection& c);

  const StoreConfig config_;
  const StoreHooks hooks_;

  // Worker: the queue and its connection.
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<StoreRequest> queue_;  // at most config_.queue_max (submit asserts it)
  std::deque<SteadyClock::time_point> queued_at_;  // when each of queue_ was submitted
  // The arrival times of turn t's appends, from take until its commit or failure.
  std::map<std::int64_t, std::vector<SteadyClock::time_point>> batch_queued_at_;
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
  std::map<std::uint32_t, std::uint64_t> heard_;  // doc -> highest index heard of (one per document)
  std::int64_t alive_us_ = 0;                     // last moment the listener was connected
  std::thread listener_;

  // ------------------------------------------------------------------------ replica
  // store_replica.cpp.
  void replica_start();
  void replica_stop();
  void replica_loop();
  StoreReply replica_load(const StoreRequest& r);
  void replica_report(bool up, const std::string& why);

  std::mutex replica_mu_;
  std::condition_variable replica_cv_;
  std::deque<StoreRequest> replica_queue_;  // bounded by the caller's bound, as queue_
  bool replica_stopping_ = false;
  OwnedConnection replica_conn_;  // replica thread only
  OwnedConnection latest_conn_;   // replica thread only: the primary's log length
  bool replica_up_ = true;        // replica thread only: what was last reported
  std::thread replica_thread_;

  // Synchronous calls.
  std::mutex sync_mu_;
  OwnedConnection sync_;
  std::string last_sync_error_;
};

}  // namespace convlab::pg::detail
