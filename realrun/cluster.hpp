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
  // `name` names the log of the start. `archived`: with WAL archiving (pg.sh start-archived).
  Result<std::string> start(const std::string& name, const std::vector<std::string>& extra = {},
                            bool archived = false);
  std::string dir() const { return root_ + "/c"; }
  bool crash();
  bool restart();
  // Losing the database and getting it back (pg.sh backup, switch, destroy, restore, fresh): a
  // base backup; the archive point (the LSN before which everything is archived); the cluster
  // killed and its data deleted; a new one from the backup and the archive, or empty, on the
  // same port (its URI). Errors carry the script's last words.
  Result<void> backup();
  Result<std::string> switch_wal();
  Result<void> destroy();
  Result<std::string> restore();
  Result<std::string> fresh();

 private:
  // pg.sh `cmd` DIR; its first stdout line ("" when it prints none) or an Error.
  Result<std::string> script(const std::string& cmd, int timeout_ms);
  std::string sh_, log_dir_, root_;
};

}  // namespace convlab::realrun
