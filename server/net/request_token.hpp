#pragma once
// The token a request carries (docs/protocol.md, "Tokens"): `Authorization: Bearer`, else the
// convlab_token cookie, else (WebSocket /ws only) a `token` query parameter; and whether the
// request's Origin may use it (docs/protocol.md, "Origins").
//
// Owns: finding the token, the cookie's name, the Origin check. May call: Beast's HTTP message, Boost.URL.
// Used by the HTTP session, the WebSocket session and the node session.
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace convlab::net {

inline constexpr std::string_view kCookie = "convlab_token";

using Request = boost::beast::http::request<boost::beast::http::string_body>;

enum class TokenSource { kNone, kAuthorization, kCookieHeader, kQueryString };

struct FoundToken {
  std::string token;  // empty: none
  TokenSource source = TokenSource::kNone;
};

// The token of `req` and where it was found; `allow_query` also reads ?token=.
FoundToken find_token(const Request& req, bool allow_query);
// The token of `req`, or empty.
std::string request_token(const Request& req, bool allow_query);

// nullopt when `req` has no Origin header or its Origin is allowed: the server's own origin
// (http:// or https:// followed by the Host header) or one of `allowed` (lower case, as
// parse_origin gives them). Otherwise the refusal's message, naming the Origin.
std::optional<std::string> foreign_origin(const Request& req, const std::vector<std::string>& allowed);

}  // namespace convlab::net
