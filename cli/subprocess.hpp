#pragma once
// Running a child process with its stdout and stderr captured: `trace compare` replays each
// (trace, strategy, mode) in a child of its own, so every row's peak memory is that replay's
// alone and a strategy that aborts on a broken invariant costs one row, not the whole report.
#include <string>
#include <vector>

namespace convlab::cli {

struct ChildResult {
  bool started = false;     // false: the child could not be spawned (`out_err` says why)
  bool timed_out = false;   // killed after the time limit
  int exit_code = -1;       // when it exited normally
  int signal = 0;           // when a signal ended it
  std::string out;
  std::string err;
};

// Runs `argv[0]` with `argv` (argv[0] is the program's path). A child still running after
// `timeout_s` seconds (0: no limit) is killed with SIGKILL.
ChildResult run_child(const std::vector<std::string>& argv, double timeout_s);

// The path of the running executable (/proc/self/exe).
std::string self_exe();

}  // namespace convlab::cli
