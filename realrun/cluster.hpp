#pragma once
// A throwaway PostgreSQL cluster (scripts/pg.sh) under /tmp, for the real runner and
// `convlab calibrate`: a Unix socket path in its directory must stay under 108 bytes. Stopped
// and removed by the destructor.
#include "server/core/result.hpp"

#include <string>
#include <vector>

namespace convlab::realrun {

class Cluster {
 public:
  Cluster(std::string pg_sh, std::string log_dir) : sh_(std::move(pg_sh)), log_dir_(std::move(log_dir)) {}
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // Starts it (`extra` empty) or a replica (`extra`: PRIMARY_DIR LAG_MS); its connection URI.
  // `name` names the log of the start.
  Result<std::string> start(const std::string& name, const std::vector<std::string>& extra = {});
  std::string dir() const { return root_ + "/c"; }
  bool crash();
  bool restart();

 private:
  std::string sh_, log_dir_, root_;
};

}  // namespace convlab::realrun
