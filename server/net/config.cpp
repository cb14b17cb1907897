#include "server/net/config.hpp"

#include "server/strategies/registry.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <functional>
#include <limits>
#include <set>
#include <vector>

namespace convlab::net {

namespace {

// Collects problems with their place in the file; reports them in file order.
class Problems {
 public:
  explicit Problems(std::string file) : file_(std::move(file)) {}
  void fail(const YAML::Node& at, const std::string& path, const std::string& what) {
    const YAML::Mark m = at.Mark();
    const int line = m.is_null() ? 0 : std::max(0, m.line);
    const int col = m.is_null() ? 0 : std::max(0, m.column);
    list_.push_back({line, col, path + ": " + what});
  }
  bool empty() const { return list_.empty(); }
  std::string text() {
    std::stable_sort(list_.begin(), list_.end(),
                     [](const Item& a, const Item& b) { return std::pair(a.line, a.col) < std::pair(b.line, b.col); });
    std::string out;
    for (const Item& p : list_) {
      if (!out.empty()) out += '\n';
      out += file_ + ":" + std::to_string(p.line + 1) + ":" + std::to_string(p.col + 1) + ": " + p.text;
    }
    return out;
  }

 private:
  struct Item {
    int line;
    int col;
    std::string text;
  };
  std::string file_;
  std::vector<Item> list_;
};

std::string scalar_text(const YAML::Node& n) { return n.IsScalar() ? n.Scalar() : std::string(); }

bool get_string(Problems& p, const YAML::Node& n, const std::string& path, std::string& out) {
  if (!n.IsScalar()) {
    p.fail(n, path, "expected a string");
    return false;
  }
  out = n.Scalar();
  return true;
}

template <class T>
bool get_uint(Problems& p, const YAML::Node& n, const std::string& path, T& out, std::uint64_t min = 0,
              std::uint64_t max = std::numeric_limits<T>::max()) {
  const std::string s = scalar_text(n);
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (!n.IsScalar() || s.empty() || ec != std::errc() || end != s.data() + s.size()) {
    p.fail(n, path, "expected a whole number, got '" + s + "'");
    return false;
  }
  if (v < min || v > max) {
    p.fail(n, path, std::to_string(v) + " is out of range [" + std::to_string(min) + ", " + std::to_string(max) + "]");
    return false;
  }
  out = static_cast<T>(v);
  return true;
}

bool get_ms(Problems& p, const YAML::Node& n, const std::string& path, std::int64_t& out, std::int64_t min = 1) {
  std::uint64_t v = 0;
  if (!get_uint(p, n, path, v, static_cast<std::uint64_t>(min), std::uint64_t{1} << 40)) return false;
  out = static_cast<std::int64_t>(v);
  return true;
}

bool get_double(Problems& p, const YAML::Node& n, const std::string& path, double& out) {
  const std::string s = scalar_text(n);
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (!n.IsScalar() || s.empty() || ec != std::errc() || end != s.data() + s.size() || !(v >= 0) || v > 1e9) {
    p.fail(n, path, "expected a number >= 0, got '" + s + "'");
    return false;
  }
  out = v;
  return true;
}

bool get_bool(Problems& p, const YAML::Node& n, const std::string& path, bool& out) {
  const std::string s = scalar_text(n);
  if (s == "true") {
    out = true;
  } else if (s == "false") {
    out = false;
  } else {
    p.fail(n, path, "expected true or false, got '" + s + "'");
    return false;
  }
  return true;
}

// One key of a map: name and the handler for its value.
using Handler = std::function<void(const YAML::Node& value, const std::string& path)>;

void read_map(Problems& p, const YAML::Node& map, const std::string& path,
              const std::vector<std::pair<std::string, Handler>>& keys) {
  if (!map.IsMap()) {
    p.fail(map, path.empty() ? "config" : path, "expected a mapping");
    return;
  }
  std::set<std::string> seen;
  for (const auto& kv : map) {
    const std::string key = scalar_text(kv.first);
    const std::string full = path.empty() ? key : path + "." + key;
    if (!seen.insert(key).second) {
      p.fail(kv.first, full, "duplicate key");
      continue;
    }
    auto it = std::find_if(keys.begin(), keys.end(), [&](const auto& k) { return k.first == key; });
    if (it == keys.end()) {
      std::string allowed;
      for (const auto& k : keys) allowed += (allowed.empty() ? "" : ", ") + k.first;
      p.fail(kv.first, full, "unknown key (allowed: " + allowed + ")");
      continue;
    }
    if (kv.second.IsNull()) {
      p.fail(kv.first, full, "has no value");
      continue;
    }
    it->second(kv.second, full);
  }
}

void check_strategy(Problems& p, const YAML::Node& n, const std::string& path) {
  if (find_strategy(scalar_text(n)) == nullptr) {
    p.fail(n, path, "unknown strategy '" + scalar_text(n) + "' (known: " + strategy_names() + ")");
  }
}

}  // namespace

Result<void> load_config(const std::string& file, ServerConfig& c) {
  Problems p(file);
  YAML::Node root;
  try {
    root = YAML::LoadFile(file);
  } catch (const YAML::BadFile&) {
    return make_error(file + ": cannot read the file");
  } catch (const YAML::Exception& e) {
    const int line = e.mark.is_null() ? 0 : std::max(0, e.mark.line);
    const int col = e.mark.is_null() ? 0 : std::max(0, e.mark.column);
    return make_error(file + ":" + std::to_string(line + 1) + ":" + std::to_string(col + 1) + ": yaml: " + e.msg);
  }
  if (root.IsNull()) return {};  // an empty file: every default
  NodeConfig& nc = c.node;
  Limits& l = c.limits;
  auto u = [&](auto& field, std::uint64_t min = 0) {
    return [&p, &field, min](const YAML::Node& v, const std::string& path) { get_uint(p, v, path, field, min); };
  };
  auto ms = [&](std::int64_t& field) {
    return [&p, &field](const YAML::Node& v, const std::string& path) { get_ms(p, v, path, field); };
  };
  auto b = [&](bool& field) {
    return [&p, &field](const YAML::Node& v, const std::string& path) { get_bool(p, v, path, field); };
  };
  auto str = [&](std::string& field) {
    return [&p, &field](const YAML::Node& v, const std::string& path) { get_string(p, v, path, field); };
  };
  auto dbl = [&](double& field) {
    return [&p, &field](const YAML::Node& v, const std::string& path) { get_double(p, v, path, field); };
  };
  read_map(p, root, "",
           {
               {"listen",
                [&](const YAML::Node& v, const std::string& path) {
                  const std::string s = scalar_text(v);
                  const auto colon = s.rfind(':');
                  if (colon == std::string::npos || colon == 0) {
                    return p.fail(v, path, "expected HOST:PORT, got '" + s + "'");
                  }
                  std::uint32_t port = 0;
                  auto [end, ec] = std::from_chars(s.data() + colon + 1, s.data() + s.size(), port);
                  if (ec != std::errc() || end != s.data() + s.size() || port > 65535 || colon + 1 == s.size()) {
                    return p.fail(v, path, "port '" + s.substr(colon + 1) + "' is not a number in [0, 65535]");
                  }
                  c.address = s.substr(0, colon);
                  c.port = static_cast<std::uint16_t>(port);
                }},
               {"node_id", u(nc.id)},
               {"nodes", u(nc.nodes, 1)},
               {"database", str(c.pg_url)},
               {"database_replica", str(c.pg_replica_url)},
               {"strategy",
                [&](const YAML::Node& v, const std::string& path) {
                  if (get_string(p, v, path, c.strategy)) check_strategy(p, v, path);
                }},
               {"documents",
                [&](const YAML::Node& v, const std::string& path) {
                  if (!v.IsMap()) return p.fail(v, path, "expected a mapping of document id to strategy");
                  for (const auto& kv : v) {
                    std::uint32_t doc = 0;
                    if (!get_uint(p, kv.first, path + "." + scalar_text(kv.first), doc)) continue;
                    std::string s;
                    const std::string full = path + "." + std::to_string(doc);
                    if (!get_string(p, kv.second, full, s)) continue;
                    check_strategy(p, kv.second, full);
                    if (!c.documents.emplace(doc, s).second) p.fail(kv.first, full, "duplicate document");
                  }
                }},
               {"policies",
                [&](const YAML::Node& v, const std::string& path) {
                  read_map(
                      p, v, path,
                      {
                          {"propagation",
                           [&](const YAML::Node& x, const std::string& at) {
                             const std::string s = scalar_text(x);
                             if (s == "bus") {
                               nc.propagation = NodeConfig::Propagation::kBus;
                             } else if (s == "poll") {
                               nc.propagation = NodeConfig::Propagation::kPoll;
                             } else {
                               p.fail(x, at, "expected bus or poll, got '" + s + "'");
                             }
                           }},
                          {"poll_interval_ms", ms(nc.poll_interval_ms)},
                          {"persistence",
                           [&](const YAML::Node& x, const std::string& at) {
                             const std::string s = scalar_text(x);
                             if (s == "change_log") {
                               nc.persistence = NodeConfig::Persistence::kChangeLog;
                             } else if (s == "snapshot") {
                               nc.persistence = NodeConfig::Persistence::kSnapshot;
                             } else {
                               p.fail(x, at, "expected change_log or snapshot, got '" + s + "'");
                             }
                           }},
                          {"snapshot_interval_ms", ms(nc.snapshot_interval_ms)},
                          {"snapshot_every_changes", u(nc.snapshot_every_changes, 1)},
                          {"ack_after_commit", b(nc.ack_after_commit)},
                          {"catch_up", b(nc.catch_up_on_hello)},
                          {"api",
                           [&](const YAML::Node& x, const std::string& at) {
                             const std::string s = scalar_text(x);
                             if (s == "no_store") {
                               nc.api_no_store = true;
                             } else if (s == "cacheable") {
                               nc.api_no_store = false;
                             } else {
                               p.fail(x, at, "expected no_store or cacheable, got '" + s + "'");
                             }
                           }},
                          {"api_read",
                           [&](const YAML::Node& x, const std::string& at) {
                             const std::string s = scalar_text(x);
                             if (s == "primary") {
                               nc.api_read = NodeConfig::ApiRead::kPrimary;
                             } else if (s == "replica") {
                               nc.api_read = NodeConfig::ApiRead::kReplica;
                             } else if (s == "session_primary" || s == "fenced") {
                               p.fail(x, at, "'" + s + "' needs the session's last write, which GET /api/documents "
                                             "does not carry yet: use primary or replica");
                             } else {
                               p.fail(x, at, "expected primary or replica, got '" + s + "'");
                             }
                           }},
                          {"check_revocation", b(nc.check_revocation)},
                          {"rename_notice", b(nc.rename_notice)},
                          {"rate_limit",
                           [&](const YAML::Node& x, const std::string& at) {
                             read_map(p, x, at,
                                      {{"user_per_s", dbl(nc.rate_limit_per_s)},
                                       {"user_burst", u(nc.rate_burst, 1)},
                                       {"connection_per_s", dbl(c.connection_rate_per_s)},
                                       {"connection_burst", u(c.connection_burst, 1)}});
                           }},
                      });
                }},
               {"jwt",
                [&](const YAML::Node& v, const std::string& path) {
                  read_map(p, v, path,
                           {{"secret",
                             [&](const YAML::Node& x, const std::string& at) {
                               if (get_string(p, x, at, c.jwt.secret) && c.jwt.secret.size() < 32) {
                                 p.fail(x, at, "must be at least 32 bytes");
                               }
                             }},
                            {"issuer", str(c.jwt.issuer)},
                            {"audience", str(c.jwt.audience)},
                            {"leeway_s", [&](const YAML::Node& x, const std::string& at) { get_ms(p, x, at, c.jwt.leeway_s, 0); }},
                            {"token_lifetime_s", ms(c.token_lifetime_s)},
                            {"refresh_lifetime_s", ms(c.refresh_lifetime_s)}});
                }},
               {"users",
                [&](const YAML::Node& v, const std::string& path) {
                  if (!v.IsMap()) return p.fail(v, path, "expected a mapping of user name to password");
                  for (const auto& kv : v) {
                    const std::string name = scalar_text(kv.first);
                    std::string pw;
                    if (name.empty()) {
                      p.fail(kv.first, path, "a user name must be a non-empty string");
                      continue;
                    }
                    if (!get_string(p, kv.second, path + "." + name, pw)) continue;
                    if (!c.users.emplace(name, pw).second) p.fail(kv.first, path + "." + name, "duplicate user");
                  }
                }},
               {"lab_password", str(c.lab_password)},
               {"limits",
                [&](const YAML::Node& v, const std::string& path) {
                  read_map(p, v, path,
                           {{"max_message_bytes",
                             [&](const YAML::Node& x, const std::string& at) {
                               get_uint(p, x, at, l.max_message_bytes, 16, kMaxFrameBytes);
                             }},
                            {"max_outgoing_messages", u(l.max_outgoing_messages, 1)},
                            {"idle_timeout_ms", ms(l.idle_timeout_ms)},
                            {"max_documents_per_connection", u(l.max_documents_per_connection, 1)},
                            {"max_connections", u(l.max_connections, 1)},
                            {"max_document_id", u(l.max_document_id)},
                            {"max_http_body_bytes", u(l.max_http_body_bytes, 64)},
                            {"shutdown_grace_ms", ms(l.shutdown_grace_ms)},
                            {"api_read_timeout_ms", ms(l.api_read_timeout_ms)},
                            {"coalesce_ms",
                             [&](const YAML::Node& x, const std::string& at) {
                               get_uint(p, x, at, l.coalesce_ms, 0, 1000);
                             }}});
                }},
               {"group_commit",
                [&](const YAML::Node& v, const std::string& path) {
                  GroupCommit& g = c.group_commit;
                  read_map(p, v, path,
                           {{"interval_ms",
                             [&](const YAML::Node& x, const std::string& at) { get_uint(p, x, at, g.interval_ms, 0, 1000); }},
                            {"max_batch",
                             [&](const YAML::Node& x, const std::string& at) { get_uint(p, x, at, g.max_batch, 1, 65536); }},
                            {"pipeline",
                             [&](const YAML::Node& x, const std::string& at) { get_uint(p, x, at, g.pipeline, 1, 2); }}});
                }},
               {"peers",
                [&](const YAML::Node& v, const std::string& path) {
                  if (!v.IsMap()) return p.fail(v, path, "expected a mapping of node id to ws://HOST:PORT");
                  for (const auto& kv : v) {
                    NodeId id = 0;
                    if (!get_uint(p, kv.first, path + "." + scalar_text(kv.first), id)) continue;
                    const std::string full = path + "." + std::to_string(id);
                    std::string url;
                    if (!get_string(p, kv.second, full, url)) continue;
                    if (auto ok = parse_peer_url(url); !ok) {
                      p.fail(kv.second, full, ok.error().message);
                      continue;
                    }
                    if (!c.cluster.peers.emplace(id, url).second) p.fail(kv.first, full, "duplicate node");
                  }
                }},
               {"peer_link",
                [&](const YAML::Node& v, const std::string& path) {
                  read_map(p, v, path,
                           {{"queue_max", u(c.cluster.queue_max, 1)},
                            {"down_close_ms", ms(c.cluster.down_close_ms)},
                            {"reconnect_min_ms", ms(c.cluster.reconnect_min_ms)},
                            {"reconnect_max_ms", ms(c.cluster.reconnect_max_ms)}});
                }},
           });
  if (!p.empty()) return make_error(p.text());
  return {};
}

Result<PeerUrl> parse_peer_url(const std::string& url) {
  constexpr std::string_view kScheme = "ws://";
  if (!std::string_view(url).starts_with(kScheme)) return make_error("expected ws://HOST:PORT[/PATH], got '" + url + "'");
  std::string rest = url.substr(kScheme.size());
  PeerUrl out;
  const auto slash = rest.find('/');
  out.path = slash == std::string::npos ? "/node" : rest.substr(slash);
  rest = rest.substr(0, slash);
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == rest.size()) {
    return make_error("expected ws://HOST:PORT[/PATH], got '" + url + "' (no port)");
  }
  out.host = rest.substr(0, colon);
  out.port = rest.substr(colon + 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(out.port.data(), out.port.data() + out.port.size(), port);
  if (ec != std::errc() || end != out.port.data() + out.port.size() || port == 0 || port > 65535) {
    return make_error("port '" + out.port + "' is not a number in [1, 65535]");
  }
  return out;
}

Result<void> check_config(const ServerConfig& c) {
  std::string out;
  auto bad = [&](const std::string& s) { out += (out.empty() ? "" : "\n") + s; };
  if (c.pg_url.empty()) bad("database: required (a PostgreSQL URL; or --pg-url)");
  if (c.node.api_read != NodeConfig::ApiRead::kPrimary && c.pg_replica_url.empty()) {
    bad("policies.api_read: replica reads need database_replica (a PostgreSQL streaming replica's URL; or "
        "--pg-replica-url)");
  }
  if (c.jwt.secret.size() < 32) bad("jwt.secret: required, at least 32 bytes (or --jwt-secret)");
  if (c.node.nodes < 1 || c.node.id >= c.node.nodes) {
    bad("node_id: " + std::to_string(c.node.id) + " must be below nodes (" + std::to_string(c.node.nodes) + ")");
  }
  for (const auto& [id, url] : c.cluster.peers) {
    if (id == c.node.id) bad("peers." + std::to_string(id) + ": is this server's own node id");
    if (id >= c.node.nodes) {
      bad("peers." + std::to_string(id) + ": node id must be below nodes (" + std::to_string(c.node.nodes) + ")");
    }
    if (auto ok = parse_peer_url(url); !ok) bad("peers." + std::to_string(id) + ": " + ok.error().message);
  }
  if (c.cluster.reconnect_max_ms < c.cluster.reconnect_min_ms) {
    bad("peer_link.reconnect_max_ms: below reconnect_min_ms");
  }
  if (find_strategy(c.strategy) == nullptr) bad("strategy: unknown '" + c.strategy + "' (known: " + strategy_names() + ")");
  if (c.users.empty() && c.lab_password.empty()) bad("users: none configured and no lab_password: nobody can log in");
  if (!out.empty()) return make_error(out);
  return {};
}

}  // namespace convlab::net
