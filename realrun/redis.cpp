// A throwaway Redis through scripts/redis.sh (realrun/redis.hpp).
#include "realrun/redis.hpp"

#include "realrun/process.hpp"

#include <filesystem>

namespace convlab::realrun {

Result<std::string> RedisInstance::start() {
  auto dir = service_dir("/tmp/convlab-real-redis.XXXXXX", false, "Redis");
  if (!dir) return make_error(dir.error().message);
  root_ = *dir;
  auto url = start_service({"/bin/bash", sh_, "start", root_ + "/r"}, log_dir_ + "/redis-start.log", 30000, 30000,
                           "redis://127.0.0.1:", "scripts/redis.sh start");
  if (url) url_ = *url;
  return url;
}

std::string RedisInstance::host_port() const { return url_.empty() ? "" : url_.substr(8); }

bool RedisInstance::crash() {
  return run_command({"/bin/bash", sh_, "crash", root_ + "/r"}, log_dir_ + "/redis-crash.log", 30000) == 0;
}

bool RedisInstance::restart() {
  return run_command({"/bin/bash", sh_, "restart", root_ + "/r"}, log_dir_ + "/redis-restart.log", 30000) == 0;
}

RedisInstance::~RedisInstance() {
  if (root_.empty()) return;
  run_command({"/bin/bash", sh_, "stop", root_ + "/r"}, "/dev/null", 30000);
  std::error_code ec;
  std::filesystem::remove_all(root_, ec);
}

}  // namespace convlab::realrun
