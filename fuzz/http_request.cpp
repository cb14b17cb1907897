// Fuzz target of what the HTTP edge reads from a request before any handler runs
// (server/net/request_token.hpp): the bytes go through Beast's request parser, as the
// HttpSession reads them, then the token is looked for (header, cookie, query string) and the
// Origin checked against an allow-list.
#include "fuzz/targets.hpp"
#include "server/net/request_token.hpp"

#include <boost/beast/http/parser.hpp>

#include <string>
#include <vector>

namespace convlab::fuzz {

void http_request(Input in) {
  namespace http = boost::beast::http;
  http::request_parser<http::string_body> parser;
  parser.header_limit(8 * 1024);
  parser.body_limit(64 * 1024);
  parser.eager(true);
  boost::beast::error_code ec;
  std::size_t used = 0;
  while (used < in.size() && !parser.is_done()) {
    const std::size_t n = parser.put(boost::asio::buffer(in.data() + used, in.size() - used), ec);
    if (ec || n == 0) break;
    used += n;
  }
  if (!parser.is_header_done()) return;
  const net::Request& req = parser.get();
  for (const bool allow_query : {false, true}) {
    const net::FoundToken t = net::find_token(req, allow_query);
    FUZZ_CHECK(t.token.empty() || t.source != net::TokenSource::kNone, "a token comes with where it was found");
    FUZZ_CHECK(allow_query || t.source != net::TokenSource::kQueryString, "the query string is read only where allowed");
    FUZZ_CHECK(net::request_token(req, allow_query) == t.token, "request_token is find_token's token");
  }
  static const std::vector<std::string> allowed = {"https://app.example", "http://localhost:5173"};
  const auto refused = net::foreign_origin(req, allowed);
  FUZZ_CHECK(!refused || !refused->empty(), "a refused Origin says why");
  FUZZ_CHECK(!refused || req.find(boost::beast::http::field::origin) != req.end(), "only a request with an Origin is refused");
}

}  // namespace convlab::fuzz
