// convlab-server's public face (server.hpp) and its listener: Server::open builds the App (the
// nodes, the store with its hooks posting onto the App's thread, the listening socket, the peer
// links); Server::run accepts connections, each into an HttpSession, until SIGTERM or SIGINT
// starts the drain.
//
// Owns: Server, Server::Impl, the accept loop, the store's hooks.
// May call: the App, HttpSession, PeerLink, pg::Store::open, the strategy registry.
#include "server/net/log_line.hpp"
#include "server/net/server.hpp"

#include "server/net/app.hpp"
#include "server/net/http_session.hpp"
#include "server/net/peer_link.hpp"
#include "server/pg/partitioned.hpp"
#include "server/strategies/registry.hpp"

#include <iostream>
#include <set>

namespace convlab::net {

struct Server::Impl {
  std::unique_ptr<App> app;

  void do_accept() {
    app->acceptor.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (!app->acceptor.is_open()) return;
      if (!ec) {
        // Small frames (an acknowledgement, one keystroke) go out at once: with Nagle's
        // algorithm a reply waits for the peer's delayed ACK (40 ms on Linux).
        boost::system::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        std::make_shared<HttpSession>(*app, std::move(socket))->run();
      }
      do_accept();
    });
  }
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() {
  if (!impl_ || !impl_->app) return;
  // The Redis bus, then the store (it commits what is queued; its hooks post onto the
  // io_context, which is still there), then the pool, then the rest.
  impl_->app->redis.reset();
  impl_->app->store.reset();
  impl_->app->pool.join();
}

namespace {

// The store's hooks: every one may come from the store's threads, so each hands over to the
// App's thread (or touches only what is thread-safe: the metrics, db_up).
pg::StoreHooks store_hooks(App& app) {
  pg::StoreHooks hooks;
  hooks.reply = [&app](StoreReply r) { app.from_store(std::move(r)); };
  hooks.notify = [&app](std::uint32_t doc, LogRecord record) {
    app.metrics.notify_record();
    app.from_store(App::BusRecord{doc, std::move(record)});
  };
  hooks.revoked = [&app](std::string jti, std::uint32_t) {
    asio::post(app.ioc, [&app, jti = std::move(jti)] { app.on_revoked(jti); });
  };
  hooks.committed = [&app](std::size_t appends, double seconds) { app.metrics.committed(appends, seconds); };
  hooks.notify_lag = [&app](double seconds) { app.metrics.notify_lag(seconds); };
  hooks.health = [&app](bool up, std::string why) {
    app.metrics.db_up(up);
    app.db_up = up;
    LogLine{} << "database " << (up ? "up" : "down") << (why.empty() ? "" : ": ") << why << "\n";
  };
  hooks.replica_health = [](bool up, std::string why) {
    LogLine{} << "read replica " << (up ? "up" : "down") << ": " << why << "\n";
  };
  return hooks;
}

// The Redis bus's hooks (policies.bus: redis), from its subscriber and publisher threads.
RedisBusHooks redis_hooks(App& app) {
  RedisBusHooks hooks;
  hooks.record = [&app](std::uint32_t doc, LogRecord record) {
    app.metrics.redis_record();
    app.from_store(App::BusRecord{doc, std::move(record)});
  };
  hooks.state = [&app](bool up, const std::string& why) {
    LogLine{} << "bus " << (up ? "up" : "down") << ": " << why << "\n";
    app.from_store(App::BusState{up});
  };
  hooks.published = [&app](bool ok) { app.metrics.redis_published(ok); };
  hooks.publisher = [&app](bool up) { app.metrics.redis_publisher_up(up); };
  return hooks;
}

}  // namespace

Result<std::unique_ptr<Server>> Server::open(const ServerConfig& config) {
  auto impl = std::make_unique<Impl>();
  impl->app = std::make_unique<App>(config);
  App& app = *impl->app;
  for (const std::string& name : [&] {
         std::set<std::string> names{config.strategy};
         for (const auto& [doc, s] : config.documents) names.insert(s);
         return names;
       }()) {
    const Strategy* s = find_strategy(name);
    if (s == nullptr) return make_error("unknown strategy '" + name + "' (known: " + strategy_names() + ")");
    auto slot = std::make_unique<NodeSlot>(app, *s);
    slot->node = std::make_unique<Node>(config.node, *s, *slot);
    app.slots.emplace(name, std::move(slot));
  }
  pg::StoreConfig sc;
  sc.url = config.pg_url;
  sc.replica_url = config.pg_replica_url;
  sc.node = config.node.id;
  sc.batch_interval_us = config.group_commit.interval_ms * 1000;
  sc.batch_max = config.group_commit.batch_max;
  sc.pipeline = config.group_commit.pipeline;
  // The App keeps the store's backlog near kStoreCallsMax; the store asserts its own bound.
  CONVLAB_ASSERT(kStoreCallsMax < sc.queue_max / 4);
  if (config.partitions.databases.empty()) {
    auto store = pg::Store::open(sc, store_hooks(app));
    if (!store) return make_error("database: " + store.error().message);
    app.store = std::move(*store);
  } else {
    // Partitions (server/pg/partitioned.hpp): one store per database, documents routed by the
    // rule; each partition's commits counted under its index.
    pg::PartitionedConfig pc;
    pc.spec = config.partitions.spec;
    pc.spec.partitions = static_cast<std::uint32_t>(config.partitions.databases.size());
    pc.docs = config.partitions.docs;
    for (const std::string& url : config.partitions.databases) {
      pg::StoreConfig part = sc;
      part.url = url;
      part.replica_url.clear();
      pc.partitions.push_back(std::move(part));
    }
    app.metrics.set_partitions(pc.partitions.size());
    pg::PartitionHooks ph;
    ph.committed = [&app](std::uint32_t partition, std::size_t appends, double seconds) {
      app.metrics.partition_committed(partition, appends, seconds);
    };
    ph.appended = [&app](std::uint32_t partition, const std::vector<double>& seconds) {
      app.metrics.partition_appended(partition, seconds);
    };
    auto store = pg::open_partitioned(pc, store_hooks(app), std::move(ph));
    if (!store) return make_error("partitions: " + store.error().message);
    app.store = std::move(*store);
    LogLine{} << "" << pc.partitions.size() << " partitions (" << describe(pc.spec, pc.docs) << ")\n";
  }
  app.metrics.db_up(app.store->healthy());

  boost::system::error_code ec;
  const auto addr = asio::ip::make_address(config.address, ec);
  if (ec) return make_error("listen: bad address '" + config.address + "': " + ec.message());
  const tcp::endpoint ep(addr, config.port);
  app.acceptor.open(ep.protocol(), ec);
  if (!ec) app.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) app.acceptor.bind(ep, ec);
  if (!ec) app.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return make_error("listen " + config.address + ":" + std::to_string(config.port) + ": " + ec.message());
  for (auto& [name, slot] : app.slots) slot->node->start();
  app.metrics.bus_up(config.node.bus == NodeConfig::Bus::kNotify);
  if (config.node.bus == NodeConfig::Bus::kRedis) {
    app.metrics.redis_publisher_up(false);
    // Unsubscribed until the bus says otherwise: the first subscription then reads the log after
    // what each document applied, as every later one does (bus_recovery: log).
    for (auto& [name, slot] : app.slots) slot->node->on_bus_state(false);
    auto address = parse_redis_url(config.redis_url);
    if (!address) return make_error("redis: " + address.error().message);
    app.redis = std::make_unique<RedisBus>(std::move(*address), sc.channel, config.node.id, redis_hooks(app));
  }
  for (const auto& [id, url] : config.cluster.peers) {
    auto parsed = parse_peer_url(url);
    if (!parsed) return make_error("peers." + std::to_string(id) + ": " + parsed.error().message);
    auto link = std::make_shared<PeerLink>(app, id, std::move(*parsed));
    app.links.emplace(id, link);
    link->start();
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

std::string Server::address() const { return impl_->app->acceptor.local_endpoint().address().to_string(); }
std::uint16_t Server::port() const { return impl_->app->acceptor.local_endpoint().port(); }

int Server::run() {
  App& app = *impl_->app;
  app.signals.async_wait([&app](boost::system::error_code ec, int) {
    if (!ec) app.start_drain();
  });
  impl_->do_accept();
  app.ioc.run();
  return 0;
}

}  // namespace convlab::net
