#pragma once
// The Redis bus of `policies.bus: redis` (docs/scenarios.md, "Redis as the bus"): the fan-out
// the naive design recommends in place of PostgreSQL NOTIFY, over Redis pub/sub with hiredis
// (only redis_bus.cpp includes it). Pub/sub delivers at most once, and this keeps it so:
//
//   - publish() hands a committed run of records to the publisher thread, which sends it with
//     PUBLISH on its own connection, pipelining what queued meanwhile. Redis down or the
//     connection broken: the records are dropped (counted), never retried; the thread connects
//     again every kRetryMs until it is back, work or not (`publisher` says when). The log has
//     what was dropped.
//   - The subscriber thread holds a connection in SUBSCRIBE on the channel and hands each record
//     of another server (header node != this node) to `record`, in the order Redis sent them.
//     When it is lost (Redis crashed, stopped, unreachable) it says so through `state(false)`
//     and tries again every kRetryMs; once subscribed again, `state(true)`. Nothing published
//     while it was away arrives: what the node does about that is bus_recovery's business.
//   - The payload is the NOTIFY bus's note (server/pg/notification.hpp), always inline: the same
//     versioned records, each with its log index.
//
// Owns: the two threads and their connections. Hooks are called on those threads (the App
// hands what touches a node over to its own); publish() may be called from any thread and never blocks on
// the network.
#include "server/core/node.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

namespace convlab::net {

struct RedisAddress {
  std::string host;
  int port = 6379;
};
// redis://HOST[:PORT] (port default 6379; no user, password, database or path). Error: what
// is wrong with it.
Result<RedisAddress> parse_redis_url(const std::string& url);

struct RedisBusHooks {
  // A record another server committed, as Redis delivered it (index set).
  std::function<void(std::uint32_t doc, LogRecord record)> record;
  // The subscription was lost (false) or made (true); `why` says what happened.
  std::function<void(bool up, const std::string& why)> state;
  // Each PUBLISH's outcome: sent and answered (true), or dropped (false).
  std::function<void(bool ok)> published;
  // The publisher's connection was made (true) or lost or refused (false); publisher thread.
  std::function<void(bool up)> publisher;
};

class RedisBus {
 public:
  // How long a failed connection waits before the next attempt (the simulator's
  // Redis::kReconnectMs), and how long one attempt or one reply may take.
  static constexpr int kRetryMs = 1000;
  // Runs published and not yet sent, at most: past it publish() drops (counted as failed).
  static constexpr std::size_t kQueueMax = 65536;

  // Starts both threads; the first subscription is attempted at once (its outcome comes through
  // `state`). Never fails: Redis unreachable is a state, not an error.
  RedisBus(RedisAddress address, std::string channel, std::uint32_t node, RedisBusHooks hooks);
  // Stops both threads (at most about kRetryMs); what is queued is dropped.
  ~RedisBus();
  RedisBus(const RedisBus&) = delete;
  RedisBus& operator=(const RedisBus&) = delete;

  // Publishes `records` of `doc` (log indexes first, first+1, ...), committed at `commit_us`.
  void publish(std::uint32_t doc, std::uint64_t first, std::int64_t commit_us, std::span<const LogRecord> records);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace convlab::net
