#pragma once
// convlab-server's edge: Boost.Beast WebSocket and HTTP on one port, driving the sans-IO Node
// (one per strategy in use) on one Asio thread, with the PostgreSQL store's hooks posted onto it.
// Beast and Asio stay in the .cpp files of server/net (listener.cpp implements this); docs/protocol.md
// is the contract with clients.
#include "server/net/config.hpp"

#include <cstdint>
#include <memory>

namespace convlab::net {

class Server {
 public:
  // Opens the store (connects, migrates), binds the port. Error: what failed.
  static Result<std::unique_ptr<Server>> open(const ServerConfig& config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  std::string address() const;
  std::uint16_t port() const;
  // Serves until SIGTERM or SIGINT, then drains (docs/protocol.md, "Running it"). Returns the
  // process exit code: 0 after a clean drain.
  int run();

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace convlab::net
