#pragma once
// The token a request carries (docs/protocol.md, "Tokens"): `Authorization: Bearer`, else the
// convlab_token cookie, else (WebSocket /ws only) a `token` query parameter.
//
// Owns: finding the token and the cookie's name. May call: Beast's HTTP message, Boost.URL.
// Used by the HTTP session, the WebSocket session and the node session.
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <string>
#include <string_view>

namespace convlab::net {

inline constexpr std::string_view kCookie = "convlab_token";

using Request = boost::beast::http::request<boost::beast::http::string_body>;

// The token of `req`, or empty; `allow_query` also reads ?token=.
std::string request_token(const Request& req, bool allow_query);

}  // namespace convlab::net
