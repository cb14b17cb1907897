#pragma once
// convlab-faultproxy as a child process in front of a target, spoken to over its control port
// (docs/real-faults.md, "The TCP fault proxy").
#include "faults/real/proxy_control.hpp"
#include "realrun/process.hpp"

#include <memory>
#include <string>

namespace convlab::realrun {

class ProxyProcess {
 public:
  // Starts `binary` --target `target` ("HOST:PORT"), logging to `log_path`; port and control
  // are 0 when it did not say where it listens.
  ProxyProcess(const std::string& binary, const std::string& target, const std::string& log_path);
  ~ProxyProcess();  // SIGTERM, then SIGKILL
  ProxyProcess(const ProxyProcess&) = delete;
  ProxyProcess& operator=(const ProxyProcess&) = delete;

  // One control command; its answer line ("ok ..."), or "error: ..." (also when unreachable).
  std::string command(const std::string& line);
  faults::real::ProxyStats stats();
  std::string log_tail() const { return proc->log_tail(); }

  std::unique_ptr<Process> proc;
  int port = 0;
  int control = 0;
};

}  // namespace convlab::realrun
