#pragma once
// Child processes of the real runner and the end-to-end tests: convlab-server (its first stdout
// line says where it listens), convlab-load, convlab-faultproxy, scripts/pg.sh. Each child's
// stderr (and stdout unless piped) goes to a log file printed when something fails. A child is
// in a process group of its own (a Ctrl-C at the terminal reaches only the parent, which stops
// its children in order) and is killed if the parent dies (PR_SET_PDEATHSIG).
#include "server/core/result.hpp"

#include <csignal>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace convlab::realrun {

class Process {
 public:
  // Starts argv[0] (a path) with the arguments. With pipe_stdout, the first stdout line can be
  // read with first_line(); otherwise stdout goes to the log too.
  Process(std::vector<std::string> argv, std::string log_path, bool pipe_stdout);
  ~Process();  // SIGKILL and reap, if still running
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // The first line on stdout, waiting up to timeout_ms; nullopt if none came (or it exited).
  std::optional<std::string> first_line(int timeout_ms);
  void signal(int sig);
  // Waits for the exit up to timeout_ms; the exit code (128 + signal when killed), or nullopt.
  std::optional<int> wait(int timeout_ms);
  bool running();
  const std::string& log_path() const { return log_; }
  pid_t pid() const { return pid_; }
  std::string log_tail(std::size_t bytes = 4000) const;

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::string log_;
  std::optional<int> status_;
};

// Runs a command to its end (up to timeout_ms); its exit code, or -1 on a timeout.
int run_command(const std::vector<std::string>& argv, const std::string& log_path, int timeout_ms);

// A throwaway service's own directory: mkdtemp of `tmpl` ("/tmp/NAME.XXXXXX"), opened to other
// users when `others` (a service's own user — postgres, nginx's nobody — reaches into it when the
// runner is root). `what` names the service in the error.
Result<std::string> service_dir(const std::string& tmpl, bool others, const std::string& what);
// Runs a service script's start command (scripts/pg.sh, redis.sh, cdn.sh): its first stdout line,
// the service's URL, once the script exited 0 — within `line_ms` and `exit_ms` — and the line
// begins with `url_prefix`; else an error naming `what` with the log's tail.
Result<std::string> start_service(const std::vector<std::string>& argv, const std::string& log, int line_ms, int exit_ms,
                                  const std::string& url_prefix, const std::string& what);

// A loopback port that was free a moment ago (servers must know each other's ports before they
// start); 0 if none could be had.
int free_port();

// "postgresql://user@HOST:PORT/db" -> "HOST:PORT" ("" if it has none), and the URL with
// another port (a fault proxy's).
std::string pg_host_port(const std::string& url);
std::string pg_with_port(const std::string& url, int port);

}  // namespace convlab::realrun
