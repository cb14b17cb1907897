// A throwaway nginx through scripts/cdn.sh (realrun/cdn.hpp).
#include "realrun/cdn.hpp"

#include "realrun/process.hpp"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>

namespace convlab::realrun {

Result<std::string> CdnInstance::start(const std::string& upstream, std::int64_t ttl_s) {
  char tmpl[] = "/tmp/convlab-real-cdn.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return make_error("cannot make a directory under /tmp for nginx");
  root_ = tmpl;
  // As root nginx's workers run as nobody and must reach the cache below this directory.
  chmod(root_.c_str(), 0755);
  Process starter({"/bin/bash", sh_, "start", root_ + "/n", upstream, std::to_string(ttl_s)}, log_dir_ + "/cdn-start.log",
                  true);
  auto url = starter.first_line(30000);
  if (starter.wait(30000).value_or(-1) != 0 || !url || url->rfind("http://127.0.0.1:", 0) != 0) {
    return make_error("scripts/cdn.sh start failed: " + starter.log_tail(600));
  }
  return *url;
}

CdnInstance::~CdnInstance() {
  if (root_.empty()) return;
  run_command({"/bin/bash", sh_, "stop", root_ + "/n"}, "/dev/null", 30000);
  std::error_code ec;
  // Each API read's cache status (HIT, MISS, BYPASS, EXPIRED), kept with the run's logs.
  std::filesystem::copy_file(root_ + "/n/access.log", log_dir_ + "/cdn-access.log",
                             std::filesystem::copy_options::overwrite_existing, ec);
  std::filesystem::remove_all(root_, ec);
}

}  // namespace convlab::realrun
