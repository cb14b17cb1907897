// What one message between two processes costs on this machine, before any convlab code runs:
// a ping-pong of small messages between a parent and a forked child, each waiting in epoll as
// Asio does, over TCP on loopback (TCP_NODELAY, as the server's sockets) and over a Unix socket
// pair for comparison. Prints wall time per round trip and the CPU (user + system, both
// processes) per one-way message: the floor under every hop of an edit (client -> server ->
// PostgreSQL -> listener -> server -> client). bench/README.md, "What a message costs".
//
//   loopback_bench [ROUND_TRIPS] [BYTES]      (defaults: 50000 round trips of 64 bytes)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(1);
}

double cpu_s(const rusage& r) {
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
         static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

// Waits in epoll until `fd` is readable, then reads exactly `buf.size()` bytes.
void wait_and_read(int ep, int fd, std::vector<char>& buf) {
  std::size_t got = 0;
  while (got < buf.size()) {
    epoll_event ev{};
    if (epoll_wait(ep, &ev, 1, -1) < 0) die("epoll_wait");
    const ssize_t n = read(fd, buf.data() + got, buf.size() - got);
    if (n < 0) die("read");
    if (n == 0) std::exit(0);  // the other side is done
    got += static_cast<std::size_t>(n);
  }
}

void write_all(int fd, const std::vector<char>& buf) {
  std::size_t put = 0;
  while (put < buf.size()) {
    const ssize_t n = write(fd, buf.data() + put, buf.size() - put);
    if (n < 0) die("write");
    put += static_cast<std::size_t>(n);
  }
}

int epoll_on(int fd) {
  const int ep = epoll_create1(0);
  if (ep < 0) die("epoll_create1");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
  return ep;
}

void no_delay(int fd) {
  const int one = 1;
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) die("TCP_NODELAY");
}

struct Result {
  double wall_us_per_round_trip = 0;
  double cpu_us_per_message = 0;
};

// `child_fd` is the child's end; `parent_fd` the parent's (both connected).
Result ping_pong(int parent_fd, int child_fd, long round_trips, std::size_t bytes) {
  std::vector<char> buf(bytes, 'x');
  rusage children_before{};
  getrusage(RUSAGE_CHILDREN, &children_before);  // earlier runs' children
  std::fflush(stdout);  // or the child prints what the parent had buffered again
  const pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    close(parent_fd);
    const int ep = epoll_on(child_fd);
    for (long i = 0; i < round_trips; ++i) {
      wait_and_read(ep, child_fd, buf);
      write_all(child_fd, buf);
    }
    std::exit(0);
  }
  close(child_fd);
  const int ep = epoll_on(parent_fd);
  rusage before{};
  getrusage(RUSAGE_SELF, &before);
  const auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < round_trips; ++i) {
    write_all(parent_fd, buf);
    wait_and_read(ep, parent_fd, buf);
  }
  const auto t1 = std::chrono::steady_clock::now();
  rusage self{};
  getrusage(RUSAGE_SELF, &self);
  int status = 0;
  waitpid(child, &status, 0);
  rusage children{};
  getrusage(RUSAGE_CHILDREN, &children);  // the child's whole life: its set-up is negligible
  close(parent_fd);
  close(ep);
  const double child_cpu = cpu_s(children) - cpu_s(children_before);
  Result r;
  r.wall_us_per_round_trip = std::chrono::duration<double, std::micro>(t1 - t0).count() / static_cast<double>(round_trips);
  r.cpu_us_per_message = 1e6 * (cpu_s(self) - cpu_s(before) + child_cpu) / (2.0 * static_cast<double>(round_trips));
  return r;
}

Result over_tcp(long round_trips, std::size_t bytes) {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  if (listener < 0) die("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) die("bind");
  if (listen(listener, 1) < 0) die("listen");
  socklen_t len = sizeof addr;
  if (getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) < 0) die("getsockname");
  const int client = socket(AF_INET, SOCK_STREAM, 0);
  if (client < 0) die("socket");
  if (connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) die("connect");
  const int server = accept(listener, nullptr, nullptr);
  if (server < 0) die("accept");
  close(listener);
  no_delay(client);
  no_delay(server);
  return ping_pong(client, server, round_trips, bytes);
}

Result over_unix(long round_trips, std::size_t bytes) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) < 0) die("socketpair");
  return ping_pong(fds[0], fds[1], round_trips, bytes);
}

}  // namespace

int main(int argc, char** argv) {
  const long round_trips = argc > 1 ? std::atol(argv[1]) : 50000;
  const long bytes = argc > 2 ? std::atol(argv[2]) : 64;
  if (round_trips <= 0 || bytes <= 0 || bytes > (1 << 20)) {
    std::fprintf(stderr, "usage: loopback_bench [ROUND_TRIPS > 0] [BYTES in 1..1048576]\n");
    return 2;
  }
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  std::printf("%ld round trips of %ld-byte messages between two processes waiting in epoll (%ld CPUs)\n", round_trips,
              bytes, cpus);
  std::printf("%-26s %20s %24s\n", "transport", "wall us/round trip", "CPU us/message (both)");
  const Result tcp = over_tcp(round_trips, static_cast<std::size_t>(bytes));
  std::printf("%-26s %20.1f %24.1f\n", "TCP loopback, NODELAY", tcp.wall_us_per_round_trip, tcp.cpu_us_per_message);
  const Result unx = over_unix(round_trips, static_cast<std::size_t>(bytes));
  std::printf("%-26s %20.1f %24.1f\n", "Unix socket pair", unx.wall_us_per_round_trip, unx.cpu_us_per_message);
  std::printf("TCP / Unix CPU per message: %.2fx\n", tcp.cpu_us_per_message / unx.cpu_us_per_message);
  return 0;
}
