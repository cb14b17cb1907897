// The test client of client.hpp: the one file of the tests of the real convlab-server that
// compiles Boost.Beast and Asio (the static library convlab_test_client).
#include "tests/server/client.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <iterator>
#include <stdexcept>

namespace convlab::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

std::filesystem::path temp_dir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "convlab-server-test.XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

tcp::endpoint loopback(unsigned short port) { return {asio::ip::make_address("127.0.0.1"), port}; }

// Beast's response (its fields and body) as the tests read it.
template <class Body>
HttpAnswer answer_of(const http::response<Body>& res) {
  HttpAnswer a;
  a.status = static_cast<int>(res.result_int());
  for (const auto& f : res) a.raw.add(std::string(f.name_string()), std::string(f.value()));
  return a;
}

}  // namespace

std::string server_binary() {
  if (const char* p = std::getenv("CONVLAB_SERVER_BIN"); p != nullptr && *p != '\0') return p;
  return CONVLAB_SERVER_BIN;  // set by CMake
}

TempDir::TempDir() : path_(temp_dir()) {}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

ServerProcess::ServerProcess(const std::string& yaml, std::vector<std::string> extra) {
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

ServerProcess::~ServerProcess() {
  if (pid_ > 0 && !exited_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (out_fd_ >= 0) close(out_fd_);
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string ServerProcess::stderr_text() const {
  std::ifstream in(dir_ / "stderr.log");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

int ServerProcess::stop(int sig, std::chrono::seconds limit) {
  kill(pid_, sig);
  return wait(limit);
}

int ServerProcess::wait(std::chrono::seconds limit) {
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

std::string ServerProcess::read_line(std::chrono::seconds limit) {
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

void Headers::add(std::string name, std::string value) { fields_.emplace_back(std::move(name), std::move(value)); }

std::string Headers::operator[](std::string_view name) const {
  for (const auto& [n, v] : fields_) {
    if (beast::iequals(n, beast::string_view(name.data(), name.size()))) return v;
  }
  return {};
}

json::value HttpAnswer::json() const {
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  return ec ? json::value() : v;
}

HttpAnswer http_request(unsigned short port, http::verb method, const std::string& target, const std::string& body,
                        const std::string& bearer, const std::string& cookie, const std::string& origin,
                        const std::vector<std::pair<std::string, std::string>>& extra) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(std::chrono::seconds(60));
  stream.connect(loopback(port));
  http::request<http::string_body> req(method, target, 11);
  req.set(http::field::host, "127.0.0.1");
  if (!bearer.empty()) req.set(http::field::authorization, "Bearer " + bearer);
  if (!cookie.empty()) req.set(http::field::cookie, cookie);
  if (!origin.empty()) req.set(http::field::origin, origin);
  for (const auto& [name, value] : extra) req.set(name, value);
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(stream, buf, res);
  HttpAnswer a = answer_of(res);
  a.body = res.body();
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  return a;
}

HttpAnswer upgrade_request(unsigned short port, const std::string& target,
                           const std::vector<std::pair<http::field, std::string>>& headers) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(std::chrono::seconds(60));
  stream.connect(loopback(port));
  http::request<http::empty_body> req(http::verb::get, target, 11);
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::upgrade, "websocket");
  req.set(http::field::connection, "Upgrade");
  req.set(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
  req.set(http::field::sec_websocket_version, "13");
  for (const auto& [field, value] : headers) req.set(field, value);
  http::write(stream, req);
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.skip(false);
  http::read_header(stream, buf, parser);
  if (parser.get().result_int() != 101) http::read(stream, buf, parser);
  HttpAnswer a = answer_of(parser.get());
  if (a.status != 101) a.body = parser.get().body();
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  return a;
}

std::optional<Login> login(unsigned short port, const std::string& user, const std::string& password) {
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
  l.set_cookie = a.raw[http::field::set_cookie];
  return l;
}

unsigned short free_port() {
  asio::io_context ioc;
  tcp::acceptor a(ioc, loopback(0));
  return a.local_endpoint().port();
}

struct Ws::Impl {
  asio::io_context ioc;
  websocket::stream<beast::tcp_stream> ws{ioc};
  bool closed = false;
  bool timed_out = false;
  std::string protocol;
};

Ws::Ws(unsigned short port, const std::string& token, Auth how, const std::string& path,
       const std::string& subprotocols, const std::string& origin)
    : impl_(std::make_unique<Impl>()) {
  auto& ws = impl_->ws;
  beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(60));
  beast::get_lowest_layer(ws).connect(loopback(port));
  ws.set_option(websocket::stream_base::decorator([&](websocket::request_type& req) {
    if (how == Auth::kBearer) req.set(http::field::authorization, "Bearer " + token);
    if (how == Auth::kCookie) req.set(http::field::cookie, "convlab_token=" + token);
    req.set(http::field::sec_websocket_protocol, subprotocols);
    if (!origin.empty()) req.set(http::field::origin, origin);
  }));
  websocket::response_type res;
  ws.handshake(res, "127.0.0.1", how == Auth::kQuery ? path + "?token=" + token : path);
  impl_->protocol = std::string(res[http::field::sec_websocket_protocol]);
  beast::get_lowest_layer(ws).expires_never();
  ws.read_message_max(64u << 20);
}

Ws::~Ws() = default;

void Ws::send_binary(const std::vector<std::uint8_t>& bytes) {
  impl_->ws.binary(true);
  impl_->ws.write(asio::buffer(bytes));
}

void Ws::send_text(const std::string& text) {
  impl_->ws.text(true);
  impl_->ws.write(asio::buffer(text));
}

std::optional<Ws::Message> Ws::read(std::chrono::seconds limit) {
  Impl& s = *impl_;
  if (s.closed) return std::nullopt;
  beast::flat_buffer buf;
  beast::error_code ec;
  bool done = false;
  s.ws.async_read(buf, [&](beast::error_code e, std::size_t) {
    ec = e;
    done = true;
  });
  s.ioc.restart();
  s.ioc.run_for(limit);
  if (!done) {
    s.timed_out = true;
    beast::get_lowest_layer(s.ws).cancel();
    s.ioc.restart();
    s.ioc.run();
    return std::nullopt;
  }
  if (ec) {
    s.closed = true;
    return std::nullopt;
  }
  return Message{s.ws.got_text(), beast::buffers_to_string(buf.data())};
}

int Ws::read_until_close(std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!impl_->closed && std::chrono::steady_clock::now() < deadline) {
    read(std::chrono::duration_cast<std::chrono::seconds>(deadline - std::chrono::steady_clock::now()) +
         std::chrono::seconds(1));
    if (impl_->timed_out) break;
  }
  return close_code();
}

int Ws::close_code() const { return impl_->closed ? static_cast<int>(impl_->ws.reason().code) : 0; }

const std::string& Ws::protocol() const { return impl_->protocol; }

std::string Ws::close_reason() const { return std::string(impl_->ws.reason().reason.c_str()); }

bool Ws::closed() const { return impl_->closed; }

}  // namespace convlab::test
