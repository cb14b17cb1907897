// A throwaway PostgreSQL cluster (realrun/cluster.hpp).
#include "realrun/cluster.hpp"

#include "realrun/process.hpp"

#include <filesystem>

namespace convlab::realrun {

Result<std::string> Cluster::start(const std::string& name, const std::vector<std::string>& extra, bool archived) {
  auto dir_made = service_dir("/tmp/convlab-real-pg.XXXXXX", true, "PostgreSQL");  // postgres must get in when the runner is root
  if (!dir_made) return make_error(dir_made.error().message);
  root_ = *dir_made;
  std::vector<std::string> argv{"/bin/bash", sh_, extra.empty() ? (archived ? "start-archived" : "start") : "replica", dir()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return start_service(argv, log_dir_ + "/" + name + "-start.log", 120000, 60000, "", "scripts/pg.sh " + argv[2]);
}

bool Cluster::crash() { return run_command({"/bin/bash", sh_, "crash", dir()}, log_dir_ + "/pg-crash.log", 60000) == 0; }

bool Cluster::restart() {
  return run_command({"/bin/bash", sh_, "restart", dir()}, log_dir_ + "/pg-restart.log", 60000) == 0;
}

Result<std::string> Cluster::script(const std::string& cmd, int timeout_ms) {
  Process p({"/bin/bash", sh_, cmd, dir()}, log_dir_ + "/pg-" + cmd + ".log", true);
  const auto line = p.first_line(timeout_ms);
  if (p.wait(timeout_ms).value_or(-1) != 0) return make_error("scripts/pg.sh " + cmd + " failed: " + p.log_tail(600));
  return line.value_or("");
}

Result<void> Cluster::backup() {
  auto r = script("backup", 120000);
  if (!r) return make_error(r.error().message);
  return {};
}
Result<std::string> Cluster::switch_wal() { return script("switch", 70000); }
Result<void> Cluster::destroy() {
  auto r = script("destroy", 60000);
  if (!r) return make_error(r.error().message);
  return {};
}
Result<std::string> Cluster::restore() { return script("restore", 120000); }
Result<std::string> Cluster::fresh() { return script("fresh", 60000); }

Cluster::~Cluster() {
  if (root_.empty()) return;
  run_command({"/bin/bash", sh_, "stop", dir()}, "/dev/null", 60000);
  std::error_code ec;
  std::filesystem::remove_all(root_, ec);
}

}  // namespace convlab::realrun
