#pragma once
// One HTTP connection (docs/protocol.md, "HTTP"): reads one request at a time, hands WebSocket
// upgrades to /ws and /node to their sessions, and routes everything else through a table of
// endpoints (http_session.cpp), one handler per endpoint (http_endpoints.hpp). Handlers that
// need the database run on the App's pool and answer from the App's thread.
//
// Owns: the connection's socket and parser, the answer's headers (cache control, keep-alive),
// the helpers every endpoint shares (authenticate, unless_revoked, blocking, reply).
// May call: the App, the endpoints, the WebSocket and node sessions' start functions.
// Bounds: request headers ≤ kHttpHeaderBytesMax and body ≤ limits.http_body_bytes_max (413);
// blocking calls ≤ kPoolTasksMax (503).
#include "server/net/app.hpp"
#include "server/net/request_token.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace convlab::net {

inline constexpr std::uint32_t kHttpHeaderBytesMax = 16 * 1024;

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  using Response = boost::beast::http::response<boost::beast::http::string_body>;

  HttpSession(App& app, tcp::socket socket);
  void run() { do_read(); }

  // ----------------------------------------------------------- for the endpoints
  App& app() { return app_; }
  const Request& request() const { return req_; }
  // The token of the request, verified; false (and the answer sent) when it does not pass.
  bool authenticate(const char* route, auth::Claims& out);
  // When the request's Origin is neither this server's nor allowed (foreign_origin): answers 403
  // reason "origin" and returns true.
  bool refuse_foreign_origin(const char* route);
  // Continues with `then` on the App's thread unless the token is revoked (asking the store on
  // the pool when the App has not heard of it); else 403.
  void unless_revoked(const auth::Claims& claims, const char* route, std::function<void()> then);
  // Runs `work` on the pool (it may block on the database), then sends what it filled in.
  void blocking(const char* route, std::function<void(Response&)> work);
  void reply(unsigned status, std::string body, const char* route, const char* type = "application/json");
  // The next answer's Cache-Control (default no-store).
  void set_cache_control(std::string value) { cache_control_ = std::move(value); }

 private:
  void do_read();
  void on_read(boost::system::error_code ec);
  void route();
  void send(Response res, const char* route);
  void shutdown();

  App& app_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  Request req_;
  std::string path_;
  std::string cache_control_;
  bool keep_alive_ = true;
};

// `res` as a JSON error answer: {"error": message} with `status`.
void error_json(HttpSession::Response& res, unsigned status, const std::string& message);

}  // namespace convlab::net
