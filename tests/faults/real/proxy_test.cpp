// The fault proxy on real loopback sockets: the test holds both ends (a client connected to the
// proxy and the connection the proxy opened to the test's listener), so it sees exactly which
// bytes crossed. No timed assertions: it waits (generously) for conditions the proxy reports —
// "these bytes are queued" — and then checks what did or did not arrive.
#include "faults/real/proxy.hpp"

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

namespace convlab::faults::real {
namespace {

using Clock = std::chrono::steady_clock;

struct Fd {
  int fd = -1;
  explicit Fd(int f = -1) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(o.fd) { o.fd = -1; }
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd, o.fd);
    return *this;
  }
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  return a;
}

// A listener on a free loopback port (the proxy's target).
struct Listener {
  Fd fd{::socket(AF_INET, SOCK_STREAM, 0)};
  std::uint16_t port = 0;
  Listener() {
    sockaddr_in a = loopback(0);
    socklen_t len = sizeof a;
    if (::bind(fd.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd.fd, 16) != 0 ||
        ::getsockname(fd.fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      throw std::runtime_error("listener");
    }
    port = ntohs(a.sin_port);
  }
  Fd accept() const { return Fd(::accept(fd.fd, nullptr, nullptr)); }
};

Fd connect_to(std::uint16_t port) {
  Fd f(::socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in a = loopback(port);
  if (::connect(f.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("connect");
  int one = 1;
  ::setsockopt(f.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return f;
}

void send_all(int fd, const std::string& s) {
  for (std::size_t sent = 0; sent < s.size();) {
    const ssize_t n = ::send(fd, s.data() + sent, s.size() - sent, MSG_NOSIGNAL);
    ASSERT_GT(n, 0) << "send failed: " << std::strerror(errno);
    sent += static_cast<std::size_t>(n);
  }
}

// Reads exactly n bytes, waiting at most 30 s for each (generous: a condition, not a timing).
std::string recv_n(int fd, std::size_t n) {
  std::string out;
  while (out.size() < n) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 30000) <= 0) break;
    char buf[65536];
    const ssize_t r = ::recv(fd, buf, std::min(sizeof buf, n - out.size()), 0);
    if (r <= 0) break;
    out.append(buf, static_cast<std::size_t>(r));
  }
  return out;
}

bool readable_now(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

// Waits up to 30 s for the proxy's stats to satisfy `ok`.
bool wait_for(FaultProxy& proxy, const std::function<bool(const ProxyStats&)>& ok) {
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline) {
    if (ok(proxy.stats())) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// Numbered lines, so that any loss, duplicate or reordering shows in a comparison.
std::string numbered(int from, int count) {
  std::string s;
  for (int i = from; i < from + count; ++i) s += "line " + std::to_string(i) + "\n";
  return s;
}

struct Pair {
  Listener target;
  FaultProxy proxy;
  Fd client, server;
  explicit Pair(std::size_t hold_limit = 64u << 20)
      : proxy(ProxyOptions{"127.0.0.1", 0, "127.0.0.1", target.port, true, hold_limit, 7}),
        client(connect_to(proxy.port())),
        server(target.accept()) {}
};

TEST(FaultProxy, ForwardsBothWays) {
  Pair p;
  send_all(p.client.fd, "ping");
  EXPECT_EQ(recv_n(p.server.fd, 4), "ping");
  send_all(p.server.fd, "pong");
  EXPECT_EQ(recv_n(p.client.fd, 4), "pong");
  // Counted when the proxy's write completes, which may be just after the peer read it.
  EXPECT_TRUE(wait_for(p.proxy, [](const ProxyStats& s) { return s.up_bytes == 4 && s.down_bytes == 4 && s.open == 1; }))
      << format_stats(p.proxy.stats());
}

// A two-way partition holds everything sent across it and delivers it, in order, on heal.
TEST(FaultProxy, PartitionHoldsThenDeliversInOrder) {
  Pair p;
  p.proxy.partition(Cut::kBoth);
  const std::string up = numbered(0, 2000), down = numbered(5000, 1000);
  for (int i = 0; i < 2000; i += 100) send_all(p.client.fd, numbered(i, 100));  // many writes
  send_all(p.server.fd, down);
  ASSERT_TRUE(wait_for(p.proxy, [&](const ProxyStats& s) { return s.queued_up == up.size() && s.queued_down == down.size(); }))
      << format_stats(p.proxy.stats());
  EXPECT_FALSE(readable_now(p.server.fd)) << "a partitioned proxy passed bytes up";
  EXPECT_FALSE(readable_now(p.client.fd)) << "a partitioned proxy passed bytes down";
  EXPECT_EQ(p.proxy.stats().up_bytes, 0u);
  p.proxy.heal();
  EXPECT_EQ(recv_n(p.server.fd, up.size()), up);
  EXPECT_EQ(recv_n(p.client.fd, down.size()), down);
  EXPECT_TRUE(wait_for(p.proxy, [](const ProxyStats& s) { return s.queued_up == 0 && s.queued_down == 0; }));
}

// One way: "up" holds client -> target and passes the replies; "down" the other way round.
TEST(FaultProxy, OneWayPartitionHoldsOneDirection) {
  Pair p;
  EXPECT_EQ(p.proxy.command("partition up"), "ok");
  send_all(p.client.fd, "held up");
  send_all(p.server.fd, "passes down");
  EXPECT_EQ(recv_n(p.client.fd, 11), "passes down");
  ASSERT_TRUE(wait_for(p.proxy, [](const ProxyStats& s) { return s.queued_up == 7; }));
  EXPECT_FALSE(readable_now(p.server.fd));

  EXPECT_EQ(p.proxy.command("partition down"), "ok");  // replaces: up heals, down is cut
  EXPECT_EQ(recv_n(p.server.fd, 7), "held up");
  send_all(p.server.fd, "held down");
  send_all(p.client.fd, "passes up");
  EXPECT_EQ(recv_n(p.server.fd, 9), "passes up");
  ASSERT_TRUE(wait_for(p.proxy, [](const ProxyStats& s) { return s.queued_down == 9; }));
  EXPECT_FALSE(readable_now(p.client.fd));
  EXPECT_EQ(p.proxy.command("heal"), "ok");
  EXPECT_EQ(recv_n(p.client.fd, 9), "held down");
}

int recv_errno(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 30000) <= 0) return -1;
  char c;
  const ssize_t r = ::recv(fd, &c, 1, 0);
  return r < 0 ? errno : 0;
}

// `cut` resets every open connection on both sides (RST, not an orderly end) and drops what a
// partition held; a new connection through the proxy works.
TEST(FaultProxy, CutResetsConnections) {
  Pair p;
  Fd client2 = connect_to(p.proxy.port());
  Fd server2 = p.target.accept();
  p.proxy.partition(Cut::kBoth);
  send_all(p.client.fd, "never delivered");
  ASSERT_TRUE(wait_for(p.proxy, [](const ProxyStats& s) { return s.queued_up == 15; }));
  EXPECT_EQ(p.proxy.command("cut"), "ok");
  EXPECT_EQ(recv_errno(p.client.fd), ECONNRESET);
  EXPECT_EQ(recv_errno(p.server.fd), ECONNRESET);
  EXPECT_EQ(recv_errno(client2.fd), ECONNRESET);
  EXPECT_EQ(recv_errno(server2.fd), ECONNRESET);
  const ProxyStats s = p.proxy.stats();
  EXPECT_EQ(s.reset, 2u);
  EXPECT_EQ(s.open, 0u);
  EXPECT_EQ(s.queued_up, 0u);
  p.proxy.heal();
  Fd client3 = connect_to(p.proxy.port());
  Fd server3 = p.target.accept();
  send_all(client3.fd, "again");
  EXPECT_EQ(recv_n(server3.fd, 5), "again");
}

// Latency delays each chunk by at least its minimum and never reorders.
TEST(FaultProxy, LatencyDelaysWithoutReordering) {
  Pair p;
  EXPECT_EQ(p.proxy.command("latency 30 80 11"), "ok");
  const auto t0 = Clock::now();
  std::string sent;
  for (int i = 0; i < 200; ++i) {
    const std::string s = numbered(i, 1);
    send_all(p.client.fd, s);
    sent += s;
  }
  const std::string first = recv_n(p.server.fd, 1);
  EXPECT_GE(Clock::now() - t0, std::chrono::milliseconds(30)) << "the first byte came before the least latency";
  EXPECT_EQ(first + recv_n(p.server.fd, sent.size() - 1), sent);
  EXPECT_EQ(p.proxy.stats().latency_max_ms, 80);
  EXPECT_EQ(p.proxy.command("latency 0 0"), "ok");
}

// A partition that outlasts the hold limit: the proxy stops reading (the sender blocks in the
// kernel, as on a real partition), holds no more than the limit plus one read, loses nothing,
// and delivers everything in order on heal.
TEST(FaultProxy, HoldLimitBlocksTheSenderAndLosesNothing) {
  const std::size_t limit = 256 * 1024;
  Pair p(limit);
  p.proxy.partition(Cut::kUp);
  std::string big;
  for (int i = 0; big.size() < 8u << 20; ++i) big += "line " + std::to_string(i) + "\n";
  std::thread writer([&] { send_all(p.client.fd, big); });
  ASSERT_TRUE(wait_for(p.proxy, [&](const ProxyStats& s) { return s.queued_up >= limit; }));
  EXPECT_LE(p.proxy.stats().queued_up, limit + 64 * 1024);
  EXPECT_FALSE(readable_now(p.server.fd));
  p.proxy.heal();
  EXPECT_EQ(recv_n(p.server.fd, big.size()) == big, true) << "bytes lost or reordered across the hold limit";
  writer.join();
}

TEST(FaultProxy, ControlPortAndBadCommands) {
  Pair p;
  auto answer = send_command(p.proxy.control_port(), "partition both");
  ASSERT_TRUE(answer.has_value()) << answer.error().message;
  EXPECT_EQ(*answer, "ok");
  answer = send_command(p.proxy.control_port(), "stats");
  ASSERT_TRUE(answer.has_value());
  auto stats = parse_stats(*answer);
  ASSERT_TRUE(stats.has_value()) << stats.error().message;
  EXPECT_EQ(stats->partition, Cut::kBoth);
  EXPECT_EQ(stats->open, 1u);
  EXPECT_EQ(p.proxy.command("partition sideways"), "error: partition: direction 'sideways' is not both, up or down");
  EXPECT_EQ(p.proxy.command("latency 9 3"), "error: latency: want 0 <= MIN_MS <= MAX_MS <= 600000, got '9 3'");
  EXPECT_EQ(p.proxy.command("jump"), "error: unknown command 'jump' (partition, heal, latency, cut, stats)");
  EXPECT_EQ(p.proxy.command("heal now"), "error: usage: heal | cut | stats (no arguments)");
}

}  // namespace
}  // namespace convlab::faults::real
