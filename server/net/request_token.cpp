// Finding a request's token (request_token.hpp).
#include "server/net/request_token.hpp"

#include <boost/url/parse.hpp>

namespace convlab::net {
namespace {

// The value of cookie `name` in a Cookie header, or empty.
std::string cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const auto semi = header.find(';');
    std::string_view part = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.size() > name.size() && part.starts_with(name) && part[name.size()] == '=') {
      return std::string(part.substr(name.size() + 1));
    }
  }
  return {};
}

}  // namespace

std::string request_token(const Request& req, bool allow_query) {
  namespace http = boost::beast::http;
  if (auto it = req.find(http::field::authorization); it != req.end()) {
    std::string_view v(it->value().data(), it->value().size());
    if (v.starts_with("Bearer ")) return std::string(v.substr(7));
  }
  if (auto it = req.find(http::field::cookie); it != req.end()) {
    std::string c = cookie_value(std::string_view(it->value().data(), it->value().size()), kCookie);
    if (!c.empty()) return c;
  }
  if (allow_query) {
    auto u = boost::urls::parse_origin_form(std::string_view(req.target().data(), req.target().size()));
    if (u) {
      auto params = u->params();
      if (auto it = params.find("token"); it != params.end() && (*it).has_value) return std::string((*it).value);
    }
  }
  return {};
}

}  // namespace convlab::net
