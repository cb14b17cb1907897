// A throwaway nginx through scripts/cdn.sh (realrun/cdn.hpp).
#include "realrun/cdn.hpp"

#include "realrun/process.hpp"

#include <filesystem>

namespace convlab::realrun {

Result<std::string> CdnInstance::start(const std::string& upstream, std::int64_t ttl_s) {
  // As root nginx's workers run as nobody and must reach the cache below this directory.
  auto dir = service_dir("/tmp/convlab-real-cdn.XXXXXX", true, "nginx");
  if (!dir) return make_error(dir.error().message);
  root_ = *dir;
  return start_service({"/bin/bash", sh_, "start", root_ + "/n", upstream, std::to_string(ttl_s)}, log_dir_ + "/cdn-start.log",
                       30000, 30000, "http://127.0.0.1:", "scripts/cdn.sh start");
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
