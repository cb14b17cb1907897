// A throwaway PostgreSQL cluster (realrun/cluster.hpp).
#include "realrun/cluster.hpp"

#include "realrun/process.hpp"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>

namespace convlab::realrun {

Result<std::string> Cluster::start(const std::string& name, const std::vector<std::string>& extra, bool archived) {
  char tmpl[] = "/tmp/convlab-real-pg.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return make_error("cannot make a directory under /tmp for PostgreSQL");
  root_ = tmpl;
  ::chmod(root_.c_str(), 0755);  // postgres must get in when the runner is root
  std::vector<std::string> argv{"/bin/bash", sh_, extra.empty() ? (archived ? "start-archived" : "start") : "replica", dir()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  Process starter(argv, log_dir_ + "/" + name + "-start.log", true);
  auto url = starter.first_line(120000);
  if (starter.wait(60000).value_or(-1) != 0 || !url) {
    return make_error("scripts/pg.sh " + argv[2] + " failed: " + starter.log_tail(600));
  }
  return *url;
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
