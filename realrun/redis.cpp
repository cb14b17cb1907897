// A throwaway Redis through scripts/redis.sh (realrun/redis.hpp).
#include "realrun/redis.hpp"

#include "realrun/process.hpp"

#include <cstdlib>
#include <filesystem>

namespace convlab::realrun {

Result<std::string> RedisInstance::start() {
  char tmpl[] = "/tmp/convlab-real-redis.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return make_error("cannot make a directory under /tmp for Redis");
  root_ = tmpl;
  Process starter({"/bin/bash", sh_, "start", root_ + "/r"}, log_dir_ + "/redis-start.log", true);
  auto url = starter.first_line(30000);
  if (starter.wait(30000).value_or(-1) != 0 || !url || url->rfind("redis://127.0.0.1:", 0) != 0) {
    return make_error("scripts/redis.sh start failed: " + starter.log_tail(600));
  }
  url_ = *url;
  return url_;
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
