#include "server/net/config.hpp"

#include "server/net/redis_bus.hpp"
#include "server/strategies/registry.hpp"
#include "yamlkit/kit.hpp"
#include "yamlkit/policies.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <array>
#include <charconv>
#include <exception>
#include <optional>
#include <string_view>
#include <vector>

namespace convlab::net {

namespace {

using namespace yamlkit;  // NOLINT(google-build-using-namespace): the configuration's kit

constexpr std::size_t kFileMaxBytes = 1 << 20;
constexpr std::int64_t kNodesMax = 1024;        // as the simulator's servers.count
constexpr std::int64_t kCountMax = 1000000000;  // a queue, a connection count: a typo's bound
constexpr std::int64_t kTimeMsMax = kPolicyTimeMsMax;
constexpr std::int64_t kLifetimeSMax = 366LL * 24 * 3600;

// An integer key of a mapping (a document id, a node id): the key as written, in [min, max].
bool get_int_key(Ctx& ctx, const Entry& e, std::int64_t min, std::int64_t max, const char* what, std::int64_t& out) {
  const auto v = parse_int(e.key);
  if (!v || *v < min || *v > max) {
    ctx.fail(e.key_at, std::string("expected ") + what + " (an integer from " + std::to_string(min) + " to " +
                           std::to_string(max) + "), got " + quote(e.key));
    return false;
  }
  out = *v;
  return true;
}

void check_strategy(Ctx& ctx, const Entry& e, std::string& out) {
  std::string s;
  if (!get_string(ctx, e.value, e.at, s)) return;
  if (find_strategy(s) == nullptr) {
    ctx.fail(e.at, "unknown strategy " + quote(s) + " (known: " + strategy_names() + ")");
    return;
  }
  out = s;
}

void read_listen(Ctx& ctx, const Entry& e, ServerConfig& c) {
  std::string s;
  if (!get_string(ctx, e.value, e.at, s)) return;
  const auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0) return ctx.fail(e.at, "expected HOST:PORT, got " + quote(s));
  std::uint32_t port = 0;
  auto [end, ec] = std::from_chars(s.data() + colon + 1, s.data() + s.size(), port);
  if (ec != std::errc() || end != s.data() + s.size() || port > 65535 || colon + 1 == s.size()) {
    return ctx.fail(e.at, "port " + quote(s.substr(colon + 1)) + " is not a number in [0, 65535]");
  }
  c.address = s.substr(0, colon);
  c.port = static_cast<std::uint16_t>(port);
}

void read_documents(Ctx& ctx, const Entry& top, ServerConfig& c) {
  auto es = entries(ctx, top.value, top.at, {}, "a mapping of document id to strategy");
  if (!es) return;
  for (const Entry& e : *es) {
    std::int64_t doc = 0;
    if (!get_int_key(ctx, e, 0, 0xffffffffLL, "a document id", doc)) continue;
    std::string s;
    check_strategy(ctx, e, s);
    if (!s.empty() && !c.documents.emplace(static_cast<std::uint32_t>(doc), s).second) {
      ctx.fail(e.key_at, "duplicate document");
    }
  }
}

void read_policies(Ctx& ctx, const Entry& top, ServerConfig& c) {
  // The server policies (the policy table, as a scenario's `servers` reads them) and the edge's
  // own bucket per connection.
  static const std::vector<std::string_view> keys = [] {
    std::vector<std::string_view> out(policy_keys().begin(), policy_keys().end());
    out.push_back("connection_rate_per_s");
    out.push_back("connection_burst");
    return out;
  }();
  auto es = entries(ctx, top.value, top.at, keys);
  if (!es) return;
  for (const Entry& e : *es) {
    if (e.key == "connection_rate_per_s") {
      get_double(ctx, e.value, e.at, 0, 1e6, c.connection_rate_per_s);
    } else if (e.key == "connection_burst") {
      get_uint(ctx, e.value, e.at, 1, 1000000, c.connection_burst);
    } else {
      // session_primary and fenced read the session's last acknowledged write from the
      // request's X-Convlab-Session-Version header (docs/protocol.md, "Versions").
      apply_policy(ctx, e, c.node);
    }
  }
}

void read_jwt(Ctx& ctx, const Entry& top, ServerConfig& c) {
  static constexpr std::array<std::string_view, 6> keys{"secret",   "issuer",           "audience",
                                                        "leeway_s", "token_lifetime_s", "refresh_lifetime_s"};
  auto es = entries(ctx, top.value, top.at, keys);
  if (!es) return;
  for (const Entry& e : *es) {
    if (e.key == "secret") {
      std::string secret;
      if (!get_string(ctx, e.value, e.at, secret)) continue;
      if (secret.size() < 32) {
        ctx.fail(e.at, "must be at least 32 bytes");
      } else {
        c.jwt.secret = secret;
      }
    } else if (e.key == "issuer") {
      get_string(ctx, e.value, e.at, c.jwt.issuer);
    } else if (e.key == "audience") {
      get_string(ctx, e.value, e.at, c.jwt.audience);
    } else if (e.key == "leeway_s") {
      get_uint(ctx, e.value, e.at, 0, kLifetimeSMax, c.jwt.leeway_s);
    } else if (e.key == "token_lifetime_s") {
      get_int(ctx, e.value, e.at, 1, kLifetimeSMax, c.token_lifetime_s);
    } else if (e.key == "refresh_lifetime_s") {
      get_int(ctx, e.value, e.at, 1, kLifetimeSMax, c.refresh_lifetime_s);
    }
  }
}

void read_users(Ctx& ctx, const Entry& top, ServerConfig& c) {
  auto es = entries(ctx, top.value, top.at, {}, "a mapping of user name to password");
  if (!es) return;
  for (const Entry& e : *es) {
    if (e.key.empty()) {
      ctx.fail(e.key_at, "a user name must be a non-empty string");
      continue;
    }
    std::string pw;
    if (get_string(ctx, e.value, e.at, pw)) c.users.emplace(e.key, pw);
  }
}

void read_origins(Ctx& ctx, const Entry& e, ServerConfig& c) {
  if (!e.value.IsSequence()) {
    return ctx.fail(e.at, "expected a list of origins like [\"https://lab.example.org\"], got " + kind_of(e.value));
  }
  for (std::size_t i = 0; i < e.value.size(); ++i) {
    const YAML::Node item = e.value[i];
    const Here at = here_of(item, e.at, e.at.path + "[" + std::to_string(i) + "]");
    std::string s;
    if (!get_string(ctx, item, at, s)) continue;
    auto origin = parse_origin(s);
    if (!origin) {
      ctx.fail(at, origin.error().message);
    } else if (std::find(c.allowed_origins.begin(), c.allowed_origins.end(), *origin) != c.allowed_origins.end()) {
      ctx.fail(at, "duplicate origin " + quote(*origin));
    } else {
      c.allowed_origins.push_back(*origin);
    }
  }
}

void read_limits(Ctx& ctx, const Entry& top, Limits& l) {
  static constexpr std::array<std::string_view, 11> keys{
      "message_bytes_max", "outgoing_messages_max", "outgoing_bytes_max", "idle_timeout_ms",
      "documents_per_connection_max", "connections_max", "document_id_max", "http_body_bytes_max",
      "shutdown_grace_ms", "api_read_timeout_ms", "coalesce_ms"};
  auto es = entries(ctx, top.value, top.at, keys);
  if (!es) return;
  for (const Entry& e : *es) {
    if (e.key == "message_bytes_max") {
      get_uint(ctx, e.value, e.at, 16, static_cast<std::int64_t>(kFrameBytesMax), l.message_bytes_max);
    } else if (e.key == "outgoing_messages_max") {
      get_uint(ctx, e.value, e.at, 1, kCountMax, l.outgoing_messages_max);
    } else if (e.key == "outgoing_bytes_max") {
      get_uint(ctx, e.value, e.at, 1024, std::int64_t{1} << 32, l.outgoing_bytes_max);
    } else if (e.key == "idle_timeout_ms") {
      get_time(ctx, e.value, e.at, false, 1, kTimeMsMax, l.idle_timeout_ms);
    } else if (e.key == "documents_per_connection_max") {
      get_uint(ctx, e.value, e.at, 1, kCountMax, l.documents_per_connection_max);
    } else if (e.key == "connections_max") {
      get_uint(ctx, e.value, e.at, 1, kCountMax, l.connections_max);
    } else if (e.key == "document_id_max") {
      get_uint(ctx, e.value, e.at, 0, 0xffffffffLL, l.document_id_max);
    } else if (e.key == "http_body_bytes_max") {
      get_uint(ctx, e.value, e.at, 64, static_cast<std::int64_t>(kFrameBytesMax), l.http_body_bytes_max);
    } else if (e.key == "shutdown_grace_ms") {
      get_time(ctx, e.value, e.at, false, 1, kTimeMsMax, l.shutdown_grace_ms);
    } else if (e.key == "api_read_timeout_ms") {
      get_time(ctx, e.value, e.at, false, 1, kTimeMsMax, l.api_read_timeout_ms);
    } else if (e.key == "coalesce_ms") {
      get_time(ctx, e.value, e.at, false, 0, 1000, l.coalesce_ms);
    }
  }
}

void read_group_commit(Ctx& ctx, const Entry& top, GroupCommit& g) {
  static constexpr std::array<std::string_view, 3> keys{"interval_ms", "batch_max", "pipeline"};
  auto es = entries(ctx, top.value, top.at, keys);
  if (!es) return;
  for (const Entry& e : *es) {
    if (e.key == "interval_ms") {
      get_time(ctx, e.value, e.at, false, 0, 1000, g.interval_ms);
    } else if (e.key == "batch_max") {
      get_uint(ctx, e.value, e.at, 1, 65536, g.batch_max);
    } else if (e.key == "pipeline") {
      get_uint(ctx, e.value, e.at, 1, 2, g.pipeline);
    }
  }
}

void read_peers(Ctx& ctx, const Entry& top, ServerConfig& c) {
  auto es = entries(ctx, top.value, top.at, {}, "a mapping of node id to ws://HOST:PORT");
  if (!es) return;
  for (const Entry& e : *es) {
    std::int64_t id = 0;
    if (!get_int_key(ctx, e, 0, kNodesMax - 1, "a node id", id)) continue;
    std::string url;
    if (!get_string(ctx, e.value, e.at, url)) continue;
    if (auto ok = parse_peer_url(url); !ok) {
      ctx.fail(e.at, ok.error().message);
      continue;
    }
    if (!c.cluster.peers.emplace(static_cast<NodeId>(id), url).second) ctx.fail(e.key_at, "duplicate node");
  }
}

void read_peer_link(Ctx& ctx, const Entry& top, PeerLinks& pl) {
  static constexpr std::array<std::string_view, 4> keys{"queue_max", "down_close_ms", "reconnect_min_ms",
                                                        "reconnect_max_ms"};
  auto es = entries(ctx, top.value, top.at, keys);
  if (!es) return;
  for (const Entry& e : *es) {
    if (e.key == "queue_max") {
      get_uint(ctx, e.value, e.at, 1, kCountMax, pl.queue_max);
    } else if (e.key == "down_close_ms") {
      get_time(ctx, e.value, e.at, false, 1, kTimeMsMax, pl.down_close_ms);
    } else if (e.key == "reconnect_min_ms") {
      get_time(ctx, e.value, e.at, false, 1, kTimeMsMax, pl.reconnect_min_ms);
    } else if (e.key == "reconnect_max_ms") {
      get_time(ctx, e.value, e.at, false, 1, kTimeMsMax, pl.reconnect_max_ms);
    }
  }
}

constexpr std::array<EnumName<PartitionSpec::By>, 2> kPartitionBy{
    {{"org", PartitionSpec::By::kOrg}, {"doc", PartitionSpec::By::kDoc}}};
constexpr std::array<EnumName<PartitionSpec::OrgSize>, 2> kOrgSizes{
    {{"zipf", PartitionSpec::OrgSize::kZipf}, {"uniform", PartitionSpec::OrgSize::kUniform}}};
constexpr std::int64_t kPartitionDocsMax = 1000000;  // by: org keeps a table of this many entries

// partitions: {by, organizations, org_size, org_exponent, docs, databases: [url, ...]}: the keys
// and meanings of a scenario's database.partition_by and workload.organizations (server/core/
// partition.hpp), plus the databases. Checks what it can alone; the rest is check_config's.
void read_partitions(Ctx& ctx, const Entry& top, Partitions& p) {
  static constexpr std::array<std::string_view, 6> keys{"by",           "organizations", "org_size",
                                                        "org_exponent", "docs",          "databases"};
  auto es = entries(ctx, top.value, top.at, keys);
  if (!es) return;
  std::optional<Here> organizations_at;
  std::optional<Here> databases_at;
  for (const Entry& e : *es) {
    if (e.key == "by") {
      if (get_enum(ctx, e.value, e.at, kPartitionBy, p.spec.by)) p.by_set = true;
    } else if (e.key == "organizations") {
      if (get_uint(ctx, e.value, e.at, 0, kPartitionDocsMax, p.spec.organizations)) organizations_at = e.at;
    } else if (e.key == "org_size") {
      get_enum(ctx, e.value, e.at, kOrgSizes, p.spec.org_size);
    } else if (e.key == "org_exponent") {
      get_double(ctx, e.value, e.at, 0, kOrgExponentMax, p.spec.org_exponent);
    } else if (e.key == "docs") {
      get_uint(ctx, e.value, e.at, 0, kPartitionDocsMax, p.docs);
    } else if (e.key == "databases") {
      databases_at = e.at;
      if (!e.value.IsSequence()) {
        ctx.fail(e.at, "expected a list of PostgreSQL URLs, one per partition, got " + kind_of(e.value));
        continue;
      }
      p.databases.clear();
      for (std::size_t i = 0; i < e.value.size(); ++i) {
        const YAML::Node item = e.value[i];
        const Here at = here_of(item, e.at, e.at.path + "[" + std::to_string(i) + "]");
        std::string url;
        if (!get_string(ctx, item, at, url)) continue;
        if (url.empty()) {
          ctx.fail(at, "expected a PostgreSQL URL, got an empty string");
        } else if (std::find(p.databases.begin(), p.databases.end(), url) != p.databases.end()) {
          ctx.fail(at, "duplicate database (each partition is a database of its own)");
        } else {
          p.databases.push_back(url);
        }
      }
      if (e.value.size() < 2 || e.value.size() > kPartitionsMax) {
        ctx.fail(e.at, "expected 2 to " + std::to_string(kPartitionsMax) + " databases, got " +
                           std::to_string(e.value.size()));
      }
    }
  }
  const Here at{top.key_at.line, top.key_at.col, top.at.path};
  if (!p.by_set) ctx.fail(at, "by: required (org: organization % partitions, or doc: a hash of the document id)");
  if (!databases_at) ctx.fail(at, "databases: required (a list of PostgreSQL URLs, one per partition, at least 2)");
  if (organizations_at && p.spec.by == PartitionSpec::By::kOrg && p.spec.organizations > p.docs) {
    ctx.fail(*organizations_at, std::to_string(p.spec.organizations) + " organizations need at least as many "
                                "documents (partitions.docs), which is " + std::to_string(p.docs));
  }
}

Result<void> parse_config(const std::string& text, const std::string& file, ServerConfig& c) {
  Ctx ctx(file);
  const std::optional<YAML::Node> loaded = load_text(ctx, text);
  if (!loaded) return ctx.error();
  const YAML::Node& root = *loaded;
  if (root.IsNull()) return {};  // an empty file: every default
  static constexpr std::array<std::string_view, 18> keys{
      "listen", "node_id",  "nodes",  "database",     "database_replica", "strategy", "documents", "policies",
      "jwt",    "users",    "lab_password", "allowed_origins", "limits", "group_commit", "peers", "peer_link",
      "redis",  "partitions"};
  const Here top = here_of(root, Here{}, "");
  if (!root.IsMap()) {
    ctx.fail(Here{top.line, top.col, "(top level)"}, "expected a mapping of settings, got " + kind_of(root));
    return ctx.error();
  }
  auto es = entries(ctx, root, top, keys);
  if (!es) return ctx.error();
  std::optional<Here> partitions_at;
  for (const Entry& e : *es) {
    if (e.key == "listen") {
      read_listen(ctx, e, c);
    } else if (e.key == "node_id") {
      get_uint(ctx, e.value, e.at, 0, kNodesMax - 1, c.node.id);
    } else if (e.key == "nodes") {
      get_uint(ctx, e.value, e.at, 1, kNodesMax, c.node.nodes);
    } else if (e.key == "database") {
      get_string(ctx, e.value, e.at, c.pg_url);
    } else if (e.key == "database_replica") {
      get_string(ctx, e.value, e.at, c.pg_replica_url);
    } else if (e.key == "redis") {
      // Empty: no Redis (what docs/server.yaml shows for the default bus, notify).
      if (get_string(ctx, e.value, e.at, c.redis_url) && !c.redis_url.empty()) {
        if (auto ok = parse_redis_url(c.redis_url); !ok) ctx.fail(e.at, ok.error().message);
      }
    } else if (e.key == "strategy") {
      check_strategy(ctx, e, c.strategy);
    } else if (e.key == "documents") {
      read_documents(ctx, e, c);
    } else if (e.key == "policies") {
      read_policies(ctx, e, c);
    } else if (e.key == "jwt") {
      read_jwt(ctx, e, c);
    } else if (e.key == "users") {
      read_users(ctx, e, c);
    } else if (e.key == "lab_password") {
      get_string(ctx, e.value, e.at, c.lab_password);
    } else if (e.key == "allowed_origins") {
      read_origins(ctx, e, c);
    } else if (e.key == "limits") {
      read_limits(ctx, e, c.limits);
    } else if (e.key == "group_commit") {
      read_group_commit(ctx, e, c.group_commit);
    } else if (e.key == "peers") {
      read_peers(ctx, e, c);
    } else if (e.key == "peer_link") {
      read_peer_link(ctx, e, c.cluster);
    } else if (e.key == "partitions") {
      partitions_at = e.key_at;
      read_partitions(ctx, e, c.partitions);
    }
  }
  // What the partitioned store cannot do, where the partitions are (check_config says it again
  // when flags made the combination).
  if (partitions_at && !c.partitions.databases.empty()) {
    if (c.node.home == NodeConfig::Home::kLease) {
      ctx.fail(*partitions_at, "not supported with policies.home: lease (the lease fence is per database; use "
                               "home: fixed)");
    }
    if (!c.pg_replica_url.empty()) {
      ctx.fail(*partitions_at, "not supported with database_replica (a replica per partition is not configurable)");
    }
    if (!c.pg_url.empty() && c.pg_url != c.partitions.databases.front()) {
      ctx.fail(*partitions_at, "database is not partitions.databases[0]: the first partition is the home "
                               "database; leave database out or give the same URL");
    }
  }
  if (!ctx.ok()) return ctx.error();
  return {};
}

}  // namespace

Result<void> load_config(const std::string& file, ServerConfig& c) {
  auto text = read_text(file, kFileMaxBytes);
  if (!text) return text.error();
  // yaml-cpp may throw on more than syntax: none of it escapes, and each still names the file.
  try {
    return parse_config(*text, file, c);
  } catch (const std::exception& e) {
    return exception_error(file, e);
  }
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

Result<std::string> parse_origin(const std::string& origin) {
  std::string o = origin;
  std::transform(o.begin(), o.end(), o.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  const auto bad = [&](const std::string& why) {
    return make_error("expected an origin like \"https://lab.example.org\" or \"http://127.0.0.1:8080\" (" + why +
                      "), got '" + origin + "'");
  };
  std::string_view rest(o);
  if (rest.starts_with("https://")) {
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else {
    return bad("http:// or https://");
  }
  if (rest.empty()) return bad("no host");
  if (rest.find_first_of("/?#@ ") != std::string_view::npos) return bad("a host and port only: no path, query or user");
  if (const auto colon = rest.rfind(':'); colon != std::string_view::npos && rest.find(']') == std::string_view::npos) {
    const std::string_view port = rest.substr(colon + 1);
    unsigned p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (colon == 0 || port.empty() || ec != std::errc() || end != port.data() + port.size() || p == 0 || p > 65535) {
      return bad("port a number in [1, 65535]");
    }
  }
  return o;
}

Result<void> check_config(const ServerConfig& c) {
  std::string out;
  auto bad = [&](const std::string& s) { out += (out.empty() ? "" : "\n") + s; };
  const Partitions& parts = c.partitions;
  if (parts.databases.empty()) {
    if (c.pg_url.empty()) bad("database: required (a PostgreSQL URL; or --pg-url)");
    if (parts.by_set) bad("partitions.by: without partitions.databases (or --partition-url, repeated) nothing is partitioned");
  } else {
    if (parts.databases.size() < 2 || parts.databases.size() > kPartitionsMax) {
      bad("partitions.databases: expected 2 to " + std::to_string(kPartitionsMax) + " databases, got " +
          std::to_string(parts.databases.size()) + " (or --partition-url, repeated)");
    }
    for (std::size_t i = 0; i < parts.databases.size(); ++i) {
      if (parts.databases[i].empty()) bad("partitions.databases[" + std::to_string(i) + "]: empty URL");
      for (std::size_t j = 0; j < i; ++j) {
        if (parts.databases[j] == parts.databases[i]) {
          bad("partitions.databases[" + std::to_string(i) + "]: duplicate of partitions.databases[" +
              std::to_string(j) + "]");
        }
      }
    }
    if (!parts.by_set) bad("partitions.by: required (org or doc; or --partition-by)");
    if (parts.spec.by == PartitionSpec::By::kOrg && parts.spec.organizations > parts.docs) {
      bad("partitions.organizations: " + std::to_string(parts.spec.organizations) +
          " organizations need at least as many documents (partitions.docs), which is " + std::to_string(parts.docs));
    }
    if (!c.pg_url.empty() && c.pg_url != parts.databases.front()) {
      bad("partitions: database (or --pg-url) is not partitions.databases[0]: the first partition is the home "
          "database; leave it out or give the same URL");
    }
    if (c.node.home == NodeConfig::Home::kLease) {
      bad("partitions: not supported with policies.home: lease (the lease fence is per database; use home: fixed)");
    }
    if (!c.pg_replica_url.empty()) {
      bad("partitions: not supported with database_replica (a replica per partition is not configurable)");
    }
  }
  if (c.node.bus == NodeConfig::Bus::kRedis && c.redis_url.empty()) {
    bad("policies.bus: redis needs redis (a URL redis://HOST:PORT; or --redis-url)");
  }
  if (!c.redis_url.empty()) {
    if (auto ok = parse_redis_url(c.redis_url); !ok) bad("redis: " + ok.error().message);
  }
  if (c.node.api_read != NodeConfig::ApiRead::kPrimary && c.pg_replica_url.empty()) {
    bad("policies.api_read: replica reads need database_replica (a PostgreSQL streaming replica's URL; or "
        "--pg-replica-url)");
  }
  if (c.node.home == NodeConfig::Home::kLease) {
    // Any server may become any ot/seq document's home: each must reach every other's /node.
    for (std::uint32_t n = 0; n < c.node.nodes; ++n) {
      if (n != c.node.id && !c.cluster.peers.contains(n)) {
        bad("policies.home: lease needs every other node as a peer (the lease's holder may be any of them); peers." +
            std::to_string(n) + " is missing");
      }
    }
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
