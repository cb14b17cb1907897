#pragma once
// A small blocking client for tests of the real convlab-server: the binary runs as a child
// process (port 0; the test reads the bound port from its first line of stdout), and the test
// talks to it over real sockets (HTTP and WebSocket).
//
// Only declarations here: Boost.Beast and Asio are compiled once, in client.cpp (the static
// library convlab_test_client), not in every test file (docs/architecture.md, Rooms: heavy
// headers only at the edge). Beast's verb and field enums are light headers of their own.
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace convlab::test {

namespace http = boost::beast::http;
namespace json = boost::json;

// convlab-server's path: $CONVLAB_SERVER_BIN, else the one CMake built.
std::string server_binary();

// A temporary directory removed with everything in it when the test is done.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The convlab-server binary as a child process.
class ServerProcess {
 public:
  // Starts `convlab-server --config <file with yaml> extra...` and waits (bounded) for its
  // `listening HOST:PORT` line. started() is false if it exited first; stderr_text() says why.
  ServerProcess(const std::string& yaml, std::vector<std::string> extra = {});
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  bool started() const { return port_ != 0; }
  pid_t pid() const { return pid_; }
  unsigned short port() const { return port_; }
  const std::string& first_line() const { return first_line_; }
  std::string stderr_text() const;
  // Sends `sig` and waits (bounded) for the exit; the exit status, or -1 on a signal/timeout.
  int stop(int sig = SIGTERM, std::chrono::seconds limit = std::chrono::seconds(60));
  int wait(std::chrono::seconds limit = std::chrono::seconds(60));

 private:
  std::string read_line(std::chrono::seconds limit);

  std::filesystem::path dir_;
  std::filesystem::path config_;
  pid_t pid_ = -1;
  int out_fd_ = -1;
  bool exited_ = false;
  unsigned short port_ = 0;
  std::string first_line_;
};

// An HTTP answer's header fields in the order they came; a name may repeat (Set-Cookie).
class Headers {
 public:
  void add(std::string name, std::string value);
  // The first field's value, "" when absent; names compare without regard to case.
  std::string operator[](std::string_view name) const;
  std::string operator[](http::field f) const {
    const auto name = http::to_string(f);
    return (*this)[std::string_view(name.data(), name.size())];
  }
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

struct HttpAnswer {
  int status = 0;
  std::string body;
  Headers raw;
  json::value json() const;  // the body parsed, null when it is not JSON
};

// One HTTP request on a fresh connection; `origin`: an Origin header, as a browser sends;
// `extra`: more header fields by name (e.g. X-Convlab-Session-Version).
HttpAnswer http_request(unsigned short port, http::verb method, const std::string& target,
                        const std::string& body = {}, const std::string& bearer = {},
                        const std::string& cookie = {}, const std::string& origin = {},
                        const std::vector<std::pair<std::string, std::string>>& extra = {});

// A WebSocket upgrade request (GET `target` with Upgrade, Connection, Sec-WebSocket-Key and
// -Version, then `headers`) sent by hand on a fresh connection, without a WebSocket stream, so a
// refused upgrade (no 101) shows its status, fields and body; after a 101 the body is not read.
HttpAnswer upgrade_request(unsigned short port, const std::string& target,
                           const std::vector<std::pair<http::field, std::string>>& headers);

struct Login {
  std::string token;
  std::string refresh;
  std::uint32_t user = 0;
  std::uint32_t agent = 0;
  std::string set_cookie;
};

std::optional<Login> login(unsigned short port, const std::string& user, const std::string& password);

// A port that was free a moment ago (for servers that must know each other's port up front).
unsigned short free_port();

// A WebSocket client: blocking reads with a bound, and the close code the server sent.
class Ws {
 public:
  enum class Auth { kBearer, kCookie, kQuery, kNone };
  // `subprotocols`: the Sec-WebSocket-Protocol offer; protocol() is what the server chose.
  // `origin`: an Origin header, as a browser sends (none when empty).
  Ws(unsigned short port, const std::string& token, Auth how = Auth::kBearer, const std::string& path = "/ws",
     const std::string& subprotocols = "convlab/1", const std::string& origin = {});
  ~Ws();
  Ws(const Ws&) = delete;
  Ws& operator=(const Ws&) = delete;

  void send_binary(const std::vector<std::uint8_t>& bytes);
  void send_text(const std::string& text);

  // The next message, or nullopt when the connection closed (close_code() says how) or nothing
  // came within `limit`.
  struct Message {
    bool text = false;
    std::string data;
  };
  std::optional<Message> read(std::chrono::seconds limit = std::chrono::seconds(30));
  // Reads until the server closes (bounded); the close code, or 0 when it did not close.
  int read_until_close(std::chrono::seconds limit = std::chrono::seconds(30));
  int close_code() const;
  const std::string& protocol() const;
  std::string close_reason() const;
  bool closed() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace convlab::test
