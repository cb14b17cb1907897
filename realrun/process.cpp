#include "realrun/process.hpp"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace convlab::realrun {

Process::Process(std::vector<std::string> argv, std::string log_path, bool pipe_stdout) : log_(std::move(log_path)) {
  int fds[2] = {-1, -1};
  if (pipe_stdout && pipe(fds) != 0) throw std::runtime_error("pipe failed");
  const int log_fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) throw std::runtime_error("cannot open " + log_);
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    // Dies with the parent (even a kill -9 of it); the check covers a parent gone before prctl.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    dup2(log_fd, 2);
    if (pipe_stdout) {
      dup2(fds[1], 1);
      close(fds[0]);
    } else {
      dup2(log_fd, 1);
    }
    const int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    setpgid(0, 0);  // its own group: a stray signal to the test's group does not reach it
    execv(args[0], args.data());
    _exit(127);
  }
  close(log_fd);
  if (pipe_stdout) {
    close(fds[1]);
    out_fd_ = fds[0];
  }
}

Process::~Process() {
  if (running()) {
    signal(SIGKILL);
    wait(10000);
  }
  if (out_fd_ >= 0) close(out_fd_);
}

std::optional<std::string> Process::first_line(int timeout_ms) {
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{out_fd_, POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (poll(&p, 1, static_cast<int>(std::max<std::int64_t>(1, left.count()))) <= 0) continue;
    char c = 0;
    if (read(out_fd_, &c, 1) != 1) return std::nullopt;
    if (c == '\n') return line;
    line.push_back(c);
  }
  return std::nullopt;
}

void Process::signal(int sig) {
  if (pid_ > 0 && !status_) kill(pid_, sig);
}

std::optional<int> Process::wait(int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!status_) {
    int st = 0;
    const pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return status_;
}

bool Process::running() { return pid_ > 0 && !wait(0); }

std::string Process::log_tail(std::size_t bytes) const {
  std::ifstream in(log_, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string s = ss.str();
  return s.size() > bytes ? "..." + s.substr(s.size() - bytes) : s;
}

Result<std::string> service_dir(const std::string& tmpl, bool others, const std::string& what) {
  std::string dir = tmpl;
  if (mkdtemp(dir.data()) == nullptr) return make_error("cannot make a directory under /tmp for " + what);
  if (others) ::chmod(dir.c_str(), 0755);
  return dir;
}

Result<std::string> start_service(const std::vector<std::string>& argv, const std::string& log, int line_ms, int exit_ms,
                                  const std::string& url_prefix, const std::string& what) {
  Process starter(argv, log, true);
  auto url = starter.first_line(line_ms);
  if (starter.wait(exit_ms).value_or(-1) != 0 || !url || url->rfind(url_prefix, 0) != 0) {
    return make_error(what + " failed: " + starter.log_tail(600));
  }
  return *url;
}

int run_command(const std::vector<std::string>& argv, const std::string& log_path, int timeout_ms) {
  Process p(argv, log_path, false);
  const auto code = p.wait(timeout_ms);
  return code ? *code : -1;
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

std::string pg_host_port(const std::string& url) {
  std::smatch m;
  return std::regex_search(url, m, std::regex(R"(@([^:/@]+):(\d+)/)")) ? m[1].str() + ":" + m[2].str() : "";
}

std::string pg_with_port(const std::string& url, int port) {
  return std::regex_replace(url, std::regex(R"(@([^:/@]+):(\d+)/)"), "@$1:" + std::to_string(port) + "/");
}

}  // namespace convlab::realrun
