// Finding a request's token (request_token.hpp).
#include "server/net/request_token.hpp"

#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>

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

FoundToken find_token(const Request& req, bool allow_query) {
  namespace http = boost::beast::http;
  if (auto it = req.find(http::field::authorization); it != req.end()) {
    std::string_view v(it->value().data(), it->value().size());
    if (v.starts_with("Bearer ")) return {std::string(v.substr(7)), TokenSource::kAuthorization};
  }
  if (auto it = req.find(http::field::cookie); it != req.end()) {
    std::string c = cookie_value(std::string_view(it->value().data(), it->value().size()), kCookie);
    if (!c.empty()) return {std::move(c), TokenSource::kCookieHeader};
  }
  if (allow_query) {
    auto u = boost::urls::parse_origin_form(std::string_view(req.target().data(), req.target().size()));
    if (u) {
      auto params = u->params();
      if (auto it = params.find("token"); it != params.end() && (*it).has_value) {
        return {std::string((*it).value), TokenSource::kQueryString};
      }
    }
  }
  return {};
}

std::string request_token(const Request& req, bool allow_query) { return find_token(req, allow_query).token; }

std::optional<std::string> foreign_origin(const Request& req, const std::vector<std::string>& allowed) {
  namespace http = boost::beast::http;
  auto it = req.find(http::field::origin);
  if (it == req.end()) return std::nullopt;
  std::string origin(it->value().data(), it->value().size());
  for (char& c : origin) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string host(req[http::field::host]);
  for (char& c : host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!host.empty() && (origin == "http://" + host || origin == "https://" + host)) return std::nullopt;
  if (std::find(allowed.begin(), allowed.end(), origin) != allowed.end()) return std::nullopt;
  std::string shown(it->value().data(), std::min<std::size_t>(it->value().size(), 80));
  return "origin not allowed: '" + shown + "' is neither this server's origin nor in allowed_origins";
}

}  // namespace convlab::net
