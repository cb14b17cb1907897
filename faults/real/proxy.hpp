#pragma once
// A TCP fault proxy (issue 15): listens on a loopback port and forwards every connection to one
// target host:port, byte for byte — WebSocket (load <-> server, server <-> server /node) and
// PostgreSQL's protocol (server <-> PostgreSQL, LISTEN/NOTIFY included) pass unchanged. Faults,
// as the simulator's links have them (sim/network.hpp):
//   - partition (both ways or one way): bytes read from the cut direction's sender are HELD in
//     order and go out on heal, in order. A held direction keeps reading until `hold_limit`
//     bytes are queued on that connection's direction; then it stops reading, so the kernel's
//     buffers fill and the sender's writes block (what TCP does when a partition outlasts its
//     buffers). Nothing is dropped; TCP keepalives or the endpoints' own timeouts may give up,
//     as they would on a real partition.
//   - latency: each chunk read waits a seeded draw from [min, max] ms, never overtaking the one
//     before it on its connection's direction (FIFO, like a link).
//   - cut: every open connection reset (RST) on both sides.
// The control language is faults/real/proxy_control.hpp; it is spoken by the methods below, by
// `command` (one line), and on an optional loopback control port (one line per command), which
// is how convlab-faultproxy (faultproxy_main.cpp) and a runner in another process drive it.
// Asio lives only in proxy.cpp; the proxy runs on a thread of its own.
#include "faults/real/proxy_control.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace convlab::faults::real {

struct ProxyOptions {
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 0;  // 0: any free port (see FaultProxy::port)
  std::string target_host = "127.0.0.1";
  std::uint16_t target_port = 0;
  bool control = false;  // also listen for control lines on listen_host, any free port
  std::size_t hold_limit = 64u << 20;  // bytes queued per connection and direction before reading stops
  std::uint64_t seed = 1;              // the latency draws' seed unless a `latency` command gives one
};

class FaultProxy {
 public:
  // Binds the listening (and control) port and starts forwarding; throws std::runtime_error
  // naming the address when it cannot bind or resolve the target.
  explicit FaultProxy(ProxyOptions opt);
  ~FaultProxy();  // closes every connection and stops the thread
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  std::uint16_t port() const;          // where clients connect
  std::uint16_t control_port() const;  // 0 without ProxyOptions::control

  // Each takes effect before it returns (for connections read from afterwards).
  void partition(Cut c);
  void heal() { partition(Cut::kNone); }
  void latency(std::int64_t min_ms, std::int64_t max_ms, std::uint64_t seed);
  void cut();
  ProxyStats stats();
  // One control line; its answer ("ok ..." or "error: ...").
  std::string command(std::string_view line);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Sends one control line to a proxy's control port on loopback and returns its answer line
// (blocking, POSIX sockets); an error when it cannot connect or gets no answer.
Result<std::string> send_command(std::uint16_t control_port, std::string_view line, int timeout_ms = 10000);

}  // namespace convlab::faults::real
