#pragma once
// A throwaway Redis (scripts/redis.sh: Debian's redis-server on a free loopback port, its own
// configuration and directory under /tmp, never the machine's instance) for the real runner's
// `servers.bus: redis` worlds (issue 18 item 3, row 18). Stopped and its directory removed by the
// destructor, also when the run fails or is interrupted.
#include "server/core/result.hpp"

#include <string>

namespace convlab::realrun {

class RedisInstance {
 public:
  RedisInstance(std::string redis_sh, std::string log_dir) : sh_(std::move(redis_sh)), log_dir_(std::move(log_dir)) {}
  ~RedisInstance();
  RedisInstance(const RedisInstance&) = delete;
  RedisInstance& operator=(const RedisInstance&) = delete;

  // Starts it; its URL, redis://127.0.0.1:PORT.
  Result<std::string> start();
  // kill -9 of the redis-server process (`redis.sh crash`): subscriptions and messages in flight
  // are lost. restart(): started again on the same port (`redis.sh restart`), waited for PONG.
  bool crash();
  bool restart();
  // "127.0.0.1:PORT" (what a fault proxy forwards to); "" before start().
  std::string host_port() const;

 private:
  std::string sh_, log_dir_, root_, url_;
};

}  // namespace convlab::realrun
