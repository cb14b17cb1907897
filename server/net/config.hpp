#pragma once
// convlab-server's configuration: a YAML file (read with yamlkit/, as scenarios are) with
// command-line flags over it. Every problem in the file is reported as
// `FILE:LINE:COLUMN: key.path: problem`, one line each.
// docs/server.yaml shows every key with its default; docs/protocol.md what the limits mean.
#include "server/auth/jwt.hpp"
#include "server/core/node.hpp"
#include "server/core/partition.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace convlab::net {

struct Limits {
  std::size_t message_bytes_max = 65536;
  std::size_t outgoing_messages_max = 4096;
  // Bytes queued for one connection (not counting the message being written): a new frame for a
  // connection at or past this is not queued, the connection is cut off (4008). With
  // outgoing_messages_max, what a client that never reads can make the server hold.
  std::size_t outgoing_bytes_max = 16u << 20;
  std::int64_t idle_timeout_ms = 120000;
  std::size_t documents_per_connection_max = 64;
  std::size_t connections_max = 10000;
  std::uint32_t document_id_max = 0xffffffffu;
  std::size_t http_body_bytes_max = 8192;
  std::int64_t shutdown_grace_ms = 10000;
  // GET /api/documents/{id}: how long a read waits for the store before answering 503.
  std::int64_t api_read_timeout_ms = 5000;
  // convlab/2: a connection written to less than this long ago holds further frames until this
  // long after that write, so they leave together in one message (docs/protocol.md, "Batches").
  // 0: only what piles up while a write is in flight or within one event is batched.
  std::int64_t coalesce_ms = 0;
};

// The other servers of the cluster (docs/protocol.md, "Server to server"): single-writer
// documents (ot, seq) of another home are forwarded to it over a WebSocket to its /node.
struct PeerLinks {
  std::map<NodeId, std::string> peers;  // node id -> ws://HOST:PORT[/PATH] (path default /node)
  // Messages queued for one peer while its link is down; past this, the connections whose
  // forwarded edits wait on that peer are closed (4012) and their queued edits dropped.
  std::size_t queue_max = 10000;
  // A link down this long: the same.
  std::int64_t down_close_ms = 5000;
  std::int64_t reconnect_min_ms = 100;  // backoff doubles from here after each failed attempt
  std::int64_t reconnect_max_ms = 2000;
};

// Group commit (docs/protocol.md, "Group commit"): how the store gathers appends into
// transactions.
struct GroupCommit {
  // A transaction starts at least this long after the previous one started, unless batch_max
  // appends are already waiting; 0: as soon as the previous one holds its row locks. At low
  // rates (transactions further apart than this) it adds nothing.
  std::int64_t interval_ms = 8;
  std::size_t batch_max = 4096;  // appends in one transaction at most
  std::size_t pipeline = 2;      // 1 or 2 connections taking turns
};

// The databases the documents are partitioned over (docs/scenarios.md, "Partitions"; issue 18):
// each document lives in the database the rule of server/core/partition.hpp names, the first is
// also the deployment's home database (users, tokens). Empty `databases`: one database, pg_url.
struct Partitions {
  PartitionSpec spec;                  // spec.partitions is databases.size() once configured
  std::uint32_t docs = 0;              // by: org: documents 0..docs-1 owned by the organizations
  std::vector<std::string> databases;  // PostgreSQL URLs, in partition order
  bool by_set = false;                 // `by` was given (required with databases)
};

struct ServerConfig {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;  // 0: any free port
  // id, nodes and the policies (`policies:`, read through the table of server/core/policies.hpp
  // as a scenario's `servers` is); NodeConfig's defaults are the fixed architecture's.
  NodeConfig node;
  std::string pg_url;
  // Several databases as partitions (at least 2; `database`, if given, must be the first).
  Partitions partitions;
  // A streaming replica of pg_url, read by GET /api/documents when policies.api_read is replica
  // (docs/scenarios.md, "On real processes"); empty: no replica.
  std::string pg_replica_url;
  // Redis of policies.bus: redis (redis://HOST[:PORT]; server/net/redis_bus.hpp): the servers
  // publish committed records there instead of with NOTIFY. Empty: no Redis.
  std::string redis_url;
  std::string strategy = "crdt";
  std::map<std::uint32_t, std::string> documents;  // per-document strategy overrides
  // Every frame of a connection, any kind (0: no limit); the per-user edit bucket is the node's.
  double connection_rate_per_s = 0;
  std::uint32_t connection_burst = 20;
  auth::JwtConfig jwt;
  std::int64_t token_lifetime_s = 900;
  std::int64_t refresh_lifetime_s = 86400;
  std::map<std::string, std::string> users;  // name -> password
  std::string lab_password;                  // not empty: any name logs in with it (load tests)
  // Browser origins (scheme://host[:port], lower case) besides the server's own that may use the
  // cookie on a WebSocket upgrade and POST /login, /refresh, /logout (docs/protocol.md,
  // "Origins"). Empty: the server's own origin only (Origin equal to http(s):// + Host).
  std::vector<std::string> allowed_origins;
  Limits limits;
  GroupCommit group_commit;
  PeerLinks cluster;
};

// Splits ws://HOST:PORT[/PATH] (path default /node). Error: what is wrong with it.
struct PeerUrl {
  std::string host;
  std::string port;
  std::string path;
};
Result<PeerUrl> parse_peer_url(const std::string& url);

// An allowed_origins entry: `origin` lower-cased, or what is wrong with it (it must be
// http:// or https:// then a host and an optional port, nothing after).
Result<std::string> parse_origin(const std::string& origin);

// Reads FILE into `out` (which holds the defaults). Error: every problem, one line each.
Result<void> load_config(const std::string& file, ServerConfig& out);
// What must hold once flags are applied too (a secret, a database URL, known strategies).
Result<void> check_config(const ServerConfig& config);

}  // namespace convlab::net
