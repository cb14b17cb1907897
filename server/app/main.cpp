// convlab-server: the real server (docs/protocol.md). Prints `listening HOST:PORT` as the first
// line on stdout once the port is bound; exits 0 after a graceful shutdown (SIGTERM/SIGINT),
// 2 on a bad configuration or flag, 1 when it cannot start.
#include "server/net/config.hpp"
#include "server/net/server.hpp"
#include "server/strategies/registry.hpp"

#include <boost/program_options.hpp>

#include <charconv>
#include <type_traits>
#include <cstdio>
#include <iostream>
#include <vector>

namespace po = boost::program_options;

int main(int argc, char** argv) {
  po::options_description opts("convlab-server [--config FILE.yaml] [flags]; flags override the file");
  opts.add_options()                                                                   //
      ("help,h", "print this help")                                                    //
      ("config,c", po::value<std::string>(), "YAML configuration (docs/server.yaml)")  //
      ("listen", po::value<std::string>(), "HOST:PORT to listen on (port 0: any free port)")  //
      ("node-id", po::value<std::uint32_t>(), "this server's node id, below --nodes")  //
      ("nodes", po::value<std::uint32_t>(), "servers sharing the database")            //
      ("pg-url", po::value<std::string>(), "PostgreSQL URL")                           //
      ("pg-replica-url", po::value<std::string>(), "database_replica: a streaming replica's URL")  //
      ("api-read", po::value<std::string>(), "policies.api_read: primary | replica (GET /api/documents)")  //
      ("bus", po::value<std::string>(), "policies.bus: notify (PostgreSQL NOTIFY) | redis (Redis pub/sub)")  //
      ("bus-recovery", po::value<std::string>(), "policies.bus_recovery: log (catch up from the log) | none")  //
      ("redis-url", po::value<std::string>(), "redis: redis://HOST:PORT, the Redis of --bus redis")  //
      ("strategy", po::value<std::string>(), "default strategy of documents (lww, seq, ot, crdt)")  //
      ("jwt-secret", po::value<std::string>(), "HS256 secret, at least 32 bytes")      //
      ("lab-password", po::value<std::string>(), "accept any user name with this password (load tests)")  //
      ("coalesce-ms", po::value<std::uint32_t>(), "limits.coalesce_ms: convlab/2 batching window, 0..1000")  //
      ("commit-interval-ms", po::value<std::uint32_t>(),
       "group_commit.interval_ms: least time between two transactions' starts, 0..1000")  //
      ("partition-by", po::value<std::string>(), "partitions.by: org | doc, the rule routing documents to --partition-url's")  //
      ("partition-url", po::value<std::vector<std::string>>()->composing(),
       "partitions.databases: a partition's PostgreSQL URL (repeat, in partition order, at least 2; the first is "
       "the home database; over the file's list)")  //
      ("peer", po::value<std::vector<std::string>>()->composing(),
       "ID=ws://HOST:PORT: another server of the cluster (repeatable; over the file's peers)");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, opts), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "convlab-server: " << e.what() << " (see --help)\n";
    return 2;
  }
  if (vm.count("help") != 0U) {
    std::cout << opts << "\nDocumentation: docs/protocol.md (protocol, close codes, limits), docs/server.yaml "
              << "(every configuration key), docs/metrics.md.\n";
    return 0;
  }
  convlab::net::ServerConfig config;
  if (vm.count("config") != 0U) {
    if (auto ok = convlab::net::load_config(vm["config"].as<std::string>(), config); !ok) {
      std::cerr << ok.error().message << "\n";
      return 2;
    }
  }
  if (vm.count("listen") != 0U) {
    const std::string s = vm["listen"].as<std::string>();
    const auto colon = s.rfind(':');
    unsigned port = 0;
    const char* end = s.data() + s.size();
    if (colon == std::string::npos || colon == 0 ||
        std::from_chars(s.data() + colon + 1, end, port).ptr != end || port > 65535 || colon + 1 == s.size()) {
      std::cerr << "convlab-server: --listen: expected HOST:PORT, got '" << s << "'\n";
      return 2;
    }
    config.address = s.substr(0, colon);
    config.port = static_cast<std::uint16_t>(port);
  }
  if (vm.count("node-id") != 0U) config.node.id = vm["node-id"].as<std::uint32_t>();
  if (vm.count("nodes") != 0U) config.node.nodes = vm["nodes"].as<std::uint32_t>();
  if (vm.count("pg-url") != 0U) config.pg_url = vm["pg-url"].as<std::string>();
  if (vm.count("pg-replica-url") != 0U) config.pg_replica_url = vm["pg-replica-url"].as<std::string>();
  if (vm.count("api-read") != 0U) {
    const std::string s = vm["api-read"].as<std::string>();
    if (s != "primary" && s != "replica") {
      std::cerr << "convlab-server: --api-read: expected primary or replica, got '" << s << "'\n";
      return 2;
    }
    config.node.api_read = s == "replica" ? convlab::NodeConfig::ApiRead::kReplica : convlab::NodeConfig::ApiRead::kPrimary;
  }
  // A policy flag over the file's policies.KEY: one of `names` (the enum's order), else false.
  const auto choice_flag = [&vm](const char* name, const auto& names, auto& field) {
    if (vm.count(name) == 0U) return true;
    const std::string s = vm[name].as<std::string>();
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (names[i] == s) {
        field = static_cast<std::remove_reference_t<decltype(field)>>(i);
        return true;
      }
    }
    std::cerr << "convlab-server: --" << name << ": expected " << names[0] << " or " << names[1] << ", got '" << s << "'\n";
    return false;
  };
  if (!choice_flag("bus", convlab::kBusNames, config.node.bus) ||
      !choice_flag("bus-recovery", convlab::kBusRecoveryNames, config.node.bus_recovery)) {
    return 2;
  }
  if (vm.count("redis-url") != 0U) config.redis_url = vm["redis-url"].as<std::string>();
  if (vm.count("strategy") != 0U) config.strategy = vm["strategy"].as<std::string>();
  if (vm.count("jwt-secret") != 0U) config.jwt.secret = vm["jwt-secret"].as<std::string>();
  if (vm.count("lab-password") != 0U) config.lab_password = vm["lab-password"].as<std::string>();
  // Millisecond flags in [0, 1000] over a configuration field; false (after saying why) if out
  // of range.
  const auto ms_flag = [&vm](const char* name, std::int64_t& field) {
    if (vm.count(name) == 0U) return true;
    const std::uint32_t v = vm[name].as<std::uint32_t>();
    if (v > 1000) {
      std::cerr << "convlab-server: --" << name << ": at most 1000, got " << v << "\n";
      return false;
    }
    field = v;
    return true;
  };
  if (!ms_flag("coalesce-ms", config.limits.coalesce_ms) || !ms_flag("commit-interval-ms", config.group_commit.interval_ms)) {
    return 2;
  }
  if (vm.count("partition-by") != 0U) {
    const std::string s = vm["partition-by"].as<std::string>();
    if (s != "org" && s != "doc") {
      std::cerr << "convlab-server: --partition-by: expected org or doc, got '" << s << "'\n";
      return 2;
    }
    config.partitions.spec.by = s == "org" ? convlab::PartitionSpec::By::kOrg : convlab::PartitionSpec::By::kDoc;
    config.partitions.by_set = true;
  }
  if (vm.count("partition-url") != 0U) config.partitions.databases = vm["partition-url"].as<std::vector<std::string>>();
  if (vm.count("peer") != 0U) {
    for (const std::string& p : vm["peer"].as<std::vector<std::string>>()) {
      const auto eq = p.find('=');
      std::uint32_t id = 0;
      const char* end = p.data() + (eq == std::string::npos ? 0 : eq);
      if (eq == std::string::npos || eq == 0 || std::from_chars(p.data(), end, id).ptr != end) {
        std::cerr << "convlab-server: --peer: expected ID=ws://HOST:PORT, got '" << p << "'\n";
        return 2;
      }
      config.cluster.peers[id] = p.substr(eq + 1);
    }
  }
  if (auto ok = convlab::net::check_config(config); !ok) {
    std::cerr << ok.error().message << "\n";
    return 2;
  }
  auto server = convlab::net::Server::open(config);
  if (!server) {
    std::cerr << "convlab-server: " << server.error().message << "\n";
    return 1;
  }
  std::cout << "listening " << (*server)->address() << ":" << (*server)->port() << std::endl;
  const int code = (*server)->run();
  server->reset();
  std::cerr << "convlab-server: stopped\n";
  return code;
}
