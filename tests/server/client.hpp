#pragma once
// A small blocking client for tests of the real convlab-server: the binary runs as a child
// process (port 0; the test reads the bound port from its first line of stdout), and the test
// talks to it over real sockets with Boost.Beast (HTTP and WebSocket).
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace convlab::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = asio::ip::tcp;

inline std::string server_binary() {
  if (const char* p = std::getenv("CONVLAB_SERVER_BIN"); p != nullptr && *p != '\0') return p;
  return CONVLAB_SERVER_BIN;  // set by CMake
}

inline std::filesystem::path temp_dir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "convlab-server-test.XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

// A temporary directory removed with everything in it when the test is done.
class TempDir {
 public:
  TempDir() : path_(temp_dir()) {}
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
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
  // `listening HOST:PORT` line. started() is false if it exited first; output() says why.
  ServerProcess(const std::string& yaml, std::vector<std::string> extra = {}) {
    dir_ = temp_dir();
    config_ = dir_ / "server.yaml";
    std::ofstream(config_) << yaml;
    const std::string err = (dir_ / "stderr.log").string();
    int out[2];
    if (pipe(out) != 0) throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], 1);
      close(out[0]);
      close(out[1]);
      FILE* e = std::fopen(err.c_str(), "w");
      if (e != nullptr) dup2(fileno(e), 2);
      std::vector<std::string> args{server_binary(), "--config", config_.string()};
      for (auto& a : extra) args.push_back(a);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    out_fd_ = out[0];
    first_line_ = read_line(std::chrono::seconds(60));
    const std::string prefix = "listening 127.0.0.1:";
    if (first_line_.rfind(prefix, 0) == 0) port_ = static_cast<unsigned short>(std::stoi(first_line_.substr(prefix.size())));
  }
  ~ServerProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_fd_ >= 0) close(out_fd_);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  bool started() const { return port_ != 0; }
  pid_t pid() const { return pid_; }
  unsigned short port() const { return port_; }
  const std::string& first_line() const { return first_line_; }
  std::string stderr_text() const {
    std::ifstream in(dir_ / "stderr.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  // Sends `sig` and waits (bounded) for the exit; the exit status, or -1 on a signal/timeout.
  int stop(int sig = SIGTERM, std::chrono::seconds limit = std::chrono::seconds(60)) {
    kill(pid_, sig);
    return wait(limit);
  }
  int wait(std::chrono::seconds limit = std::chrono::seconds(60)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      const pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      usleep(10000);
    }
    return -1;
  }

 private:
  std::string read_line(std::chrono::seconds limit) {
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{out_fd_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char c = 0;
      if (read(out_fd_, &c, 1) != 1) break;
      if (c == '\n') return line;
      line += c;
    }
    return line;
  }

  std::filesystem::path dir_;
  std::filesystem::path config_;
  pid_t pid_ = -1;
  int out_fd_ = -1;
  bool exited_ = false;
  unsigned short port_ = 0;
  std::string first_line_;
};

struct HttpAnswer {
  int status = 0;
  std::string body;
  http::response<http::string_body> raw;
  json::value json() const {
    boost::system::error_code ec;
    auto v = json::parse(body, ec);
    return ec ? json::value() : v;
  }
};

// One HTTP request on a fresh connection; `origin`: an Origin header, as a browser sends.
inline HttpAnswer http_request(unsigned short port, http::verb method, const std::string& target,
                               const std::string& body = {}, const std::string& bearer = {},
                               const std::string& cookie = {}, const std::string& origin = {}) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(std::chrono::seconds(60));
  stream.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> req(method, target, 11);
  req.set(http::field::host, "127.0.0.1");
  if (!bearer.empty()) req.set(http::field::authorization, "Bearer " + bearer);
  if (!cookie.empty()) req.set(http::field::cookie, cookie);
  if (!origin.empty()) req.set(http::field::origin, origin);
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buf;
  HttpAnswer a;
  http::read(stream, buf, a.raw);
  a.status = static_cast<int>(a.raw.result_int());
  a.body = a.raw.body();
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  return a;
}

struct Login {
  std::string token;
  std::string refresh;
  std::uint32_t user = 0;
  std::uint32_t agent = 0;
  std::string set_cookie;
};

inline std::optional<Login> login(unsigned short port, const std::string& user, const std::string& password) {
  json::object o;
  o["user"] = user;
  o["password"] = password;
  HttpAnswer a = http_request(port, http::verb::post, "/login", json::serialize(o));
  if (a.status != 200) return std::nullopt;
  json::value v = a.json();
  Login l;
  l.token = std::string(v.at("token").as_string());
  l.refresh = std::string(v.at("refresh_token").as_string());
  l.user = static_cast<std::uint32_t>(v.at("user_id").to_number<std::uint64_t>());
  l.agent = static_cast<std::uint32_t>(v.at("agent").to_number<std::uint64_t>());
  l.set_cookie = std::string(a.raw[http::field::set_cookie]);
  return l;
}

// A port that was free a moment ago (for servers that must know each other's port up front).
inline unsigned short free_port() {
  asio::io_context ioc;
  tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

// A WebSocket client: blocking reads with a bound, and the close code the server sent.
class Ws {
 public:
  enum class Auth { kBearer, kCookie, kQuery, kNone };
  // `subprotocols`: the Sec-WebSocket-Protocol offer; protocol() is what the server chose.
  // `origin`: an Origin header, as a browser sends (none when empty).
  Ws(unsigned short port, const std::string& token, Auth how = Auth::kBearer, const std::string& path = "/ws",
     const std::string& subprotocols = "convlab/1", const std::string& origin = {})
      : ws_(ioc_) {
    beast::get_lowest_layer(ws_).expires_after(std::chrono::seconds(60));
    beast::get_lowest_layer(ws_).connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    ws_.set_option(websocket::stream_base::decorator([&](websocket::request_type& req) {
      if (how == Auth::kBearer) req.set(http::field::authorization, "Bearer " + token);
      if (how == Auth::kCookie) req.set(http::field::cookie, "convlab_token=" + token);
      req.set(http::field::sec_websocket_protocol, subprotocols);
      if (!origin.empty()) req.set(http::field::origin, origin);
    }));
    websocket::response_type res;
    ws_.handshake(res, "127.0.0.1", how == Auth::kQuery ? path + "?token=" + token : path);
    protocol_ = std::string(res[http::field::sec_websocket_protocol]);
    beast::get_lowest_layer(ws_).expires_never();
    ws_.read_message_max(64u << 20);
  }

  void send_binary(const std::vector<std::uint8_t>& bytes) {
    ws_.binary(true);
    ws_.write(asio::buffer(bytes));
  }
  void send_text(const std::string& text) {
    ws_.text(true);
    ws_.write(asio::buffer(text));
  }

  // The next message, or nullopt when the connection closed (close_code() says how) or nothing
  // came within `limit`.
  struct Message {
    bool text = false;
    std::string data;
  };
  std::optional<Message> read(std::chrono::seconds limit = std::chrono::seconds(30)) {
    if (closed_) return std::nullopt;
    beast::flat_buffer buf;
    beast::error_code ec;
    bool done = false;
    ws_.async_read(buf, [&](beast::error_code e, std::size_t) {
      ec = e;
      done = true;
    });
    ioc_.restart();
    ioc_.run_for(limit);
    if (!done) {
      timed_out_ = true;
      beast::get_lowest_layer(ws_).cancel();
      ioc_.restart();
      ioc_.run();
      return std::nullopt;
    }
    if (ec) {
      closed_ = true;
      return std::nullopt;
    }
    return Message{ws_.got_text(), beast::buffers_to_string(buf.data())};
  }
  // Reads until the server closes (bounded); the close code, or 0 when it did not close.
  int read_until_close(std::chrono::seconds limit = std::chrono::seconds(30)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!closed_ && std::chrono::steady_clock::now() < deadline) {
      read(std::chrono::duration_cast<std::chrono::seconds>(deadline - std::chrono::steady_clock::now()) +
           std::chrono::seconds(1));
      if (timed_out_) break;
    }
    return close_code();
  }
  int close_code() const { return closed_ ? static_cast<int>(ws_.reason().code) : 0; }
  const std::string& protocol() const { return protocol_; }
  std::string close_reason() const { return std::string(ws_.reason().reason.c_str()); }
  bool closed() const { return closed_; }

 private:
  asio::io_context ioc_;
  websocket::stream<beast::tcp_stream> ws_;
  bool closed_ = false;
  bool timed_out_ = false;
  std::string protocol_;
};

}  // namespace convlab::test
