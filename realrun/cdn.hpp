#pragma once
// The CDN of `cdn.ttl_s` on real processes: a throwaway nginx with proxy_cache (scripts/cdn.sh,
// Debian's nginx on a free loopback port, its own configuration, cache and logs in a directory
// under /tmp, never the machine's nginx service) in front of the servers' API, for the real
// runner's worlds with API reads (workload.reload_ms). Stopped, its access log kept in the run's
// directory and its directory removed by the destructor, also when the run fails or is
// interrupted.
#include "server/core/result.hpp"

#include <cstdint>
#include <string>

namespace convlab::realrun {

class CdnInstance {
 public:
  CdnInstance(std::string cdn_sh, std::string log_dir) : sh_(std::move(cdn_sh)), log_dir_(std::move(log_dir)) {}
  ~CdnInstance();
  CdnInstance(const CdnInstance&) = delete;
  CdnInstance& operator=(const CdnInstance&) = delete;

  // Starts it in front of `upstream` (HOST:PORT[,HOST:PORT...]: round robin) keeping a cacheable
  // answer `ttl_s` seconds; its URL, http://127.0.0.1:PORT.
  Result<std::string> start(const std::string& upstream, std::int64_t ttl_s);

 private:
  std::string sh_, log_dir_, root_;
};

}  // namespace convlab::realrun
