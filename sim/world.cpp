// The run loop of one simulated world (sim/world.hpp): the meta event, setup, the fault phase
// with a counters sample every second, the heal, the quiet phase, the final states. The
// simulated resources are in their own files (sim/world_parts.hpp lists them).
#include "sim/world.hpp"

#include "server/core/utf8.hpp"
#include "sim/world_parts.hpp"

#include <algorithm>
#include <cstdio>

namespace convlab::sim {

void World::heal() {
  sim.healed = true;
  db.restart();
  net.clear_partitions();
  net.clear_flaky();
  redis.restart();
  redis.links_changed();
  for (std::uint32_t c = 0; c < sim.cfg.clients; ++c) clients.at(c).offline = false;
  for (std::uint32_t s = 0; s < sim.cfg.servers.count; ++s) {
    if (!servers.at(s).up) servers.start(s);
  }
  emit_counters(true);
  history::Event e;
  e.type = history::EventType::kHeal;
  sim.emit(std::move(e));
  net.release_held();
}

void World::emit_counters(bool with_memory) {
  history::Event e;
  e.type = history::EventType::kCounters;
  e.counters = sim.counters;
  e.counters["srv.inputs"] = servers.inputs();
  if (with_memory) {
    // What the servers hold per document, as each live replica's snapshot size: sampled once,
    // at the heal (encoding every replica every second would cost more than the rest of the run).
    std::uint64_t total = 0;
    std::uint64_t replicas = 0;
    std::uint64_t largest = 0;
    std::uint64_t docs = 0;
    for (std::uint32_t d = 0; d < sim.cfg.docs; ++d) {
      bool held = false;
      for (std::uint32_t s = 0; s < servers.count(); ++s) {
        const Server& sv = servers.at(s);
        if (!sv.up) continue;
        const std::optional<std::size_t> bytes = sv.node->state_bytes(d);
        if (!bytes) continue;
        held = true;
        total += *bytes;
        ++replicas;
        largest = std::max<std::uint64_t>(largest, *bytes);
      }
      if (held) ++docs;
    }
    e.counters["mem.replica_bytes"] = total;
    e.counters["mem.replica_bytes_max"] = largest;
    e.counters["mem.replica_docs"] = docs;
    e.counters["mem.replicas"] = replicas;
    // The same sample as the capacity curves' gauges (docs/history.md): every document every
    // server holds, and how many (document, server) replicas that is.
    e.counters["mem.doc_bytes"] = total;
    e.counters["mem.docs_loaded"] = replicas;
    db.latency_counters(e.counters);  // the heal's sample is the one the checkers read
  }
  sim.emit(std::move(e));
}

void World::emit_meta() {
  const WorldConfig& cfg = sim.cfg;
  history::Event meta;
  meta.type = history::EventType::kMeta;
  meta.meta["scenario"] = sim.opt.scenario;
  meta.meta["variant"] = sim.opt.variant;
  meta.meta["strategy"] = std::string(sim.strategy.name);
  meta.meta["orders_by_client_clock"] = sim.strategy.orders_by_client_clock ? "true" : "false";
  meta.meta["overwrites"] = sim.strategy.overwrites ? "true" : "false";
  // The durable log is in the history (`commit` events); causes of loss come from it.
  meta.meta["commits"] = "true";
  meta.meta["persistence"] = std::string(name_of(cfg.servers.persistence));
  meta.meta["ack"] = std::string(name_of(cfg.servers.ack));
  // The initial text goes through the strategy as an edit stamped at clock 0 (Database::setup).
  if (!cfg.initial_text.empty()) meta.meta["initial_clock_ms"] = "0";
  meta.meta["seed"] = std::to_string(sim.opt.seed);
  meta.meta["clients"] = std::to_string(cfg.clients);
  meta.meta["servers"] = std::to_string(cfg.servers.count);
  meta.meta["docs"] = std::to_string(cfg.docs);
  meta.meta["heal_us"] = std::to_string(cfg.duration_ms * kUsPerMs);
  // Clients whose override raises their edit rate (a flood): checkers leave them out of
  // visibility_others_ms.
  std::string fast;
  for (const ClientOverride& o : cfg.client_overrides) {
    if (o.rate_multiplier > 1.0 && o.client < cfg.clients) fast += (fast.empty() ? "" : ",") + std::to_string(o.client);
  }
  if (!fast.empty()) meta.meta["fast_clients"] = fast;
  meta.meta["end_us"] = std::to_string((cfg.duration_ms + cfg.quiesce_ms) * kUsPerMs);
  sim.emit(std::move(meta));
}

void World::emit_finals() {
  auto final_event = [&](const std::string& who, std::uint32_t doc, std::u32string text, const std::vector<CharId>& ids) {
    history::Event e;
    e.type = history::EventType::kFinal;
    e.replica = who;
    e.doc = doc;
    e.text = std::move(text);
    e.ids = history::compress_ids(ids);
    sim.emit(std::move(e));
  };
  // Each document's clients in client order, gathered once: a scan of every client per
  // document was C x C/4 steps at the end of a large world (2.5 G at 100,000 clients).
  std::vector<std::vector<std::uint32_t>> by_doc(sim.cfg.docs);
  for (const Client& cl : clients.all()) {
    if (cl.doc < sim.cfg.docs) by_doc[cl.doc].push_back(cl.id);
  }
  for (std::uint32_t d = 0; d < sim.cfg.docs; ++d) {
    // Durable: what a fresh server would load from the store.
    const StoredDoc& sd = db.doc(d);
    auto replica = sim.strategy.make_server();
    auto recovered = recover_replica(*replica, sd.has_snapshot, sd.snapshot, sd.snapshot_index, sd.log);
    if (!recovered) std::fprintf(stderr, "durable log of doc %u: %s\n", d, recovered.error().message.c_str());
    CONVLAB_ASSERT(recovered.has_value());
    std::vector<CharId> durable_ids = replica->char_ids();
    // The commits the history carries replay to the same text.
    CONVLAB_ASSERT(durable_ids == db.durable(d).ids());
    final_event("durable", d, replica->text(), durable_ids);
    for (std::uint32_t s = 0; s < sim.cfg.servers.count; ++s) {
      // A server's replica counts where it serves clients: one it holds for nobody is a cache
      // that may lag (nothing polls it) and is caught up before anyone is welcomed from it.
      const Server& sv = servers.at(s);
      if (!sv.up || !sv.node->serving(d)) continue;
      if (auto t = sv.node->text(d)) final_event("server:" + std::to_string(s), d, *t, sv.node->char_ids(d));
    }
    for (const std::uint32_t c : by_doc[d]) {
      const Client& cl = clients.at(c);
      if (!cl.welcomed) continue;
      final_event("client:" + std::to_string(cl.id), d, cl.replica->text(), cl.replica->char_ids());
    }
  }
}

RunOutput World::run() {
  const WorldConfig& cfg = sim.cfg;
  emit_meta();
  db.setup();
  servers.start_all();
  clients.setup();
  faults.schedule();
  for (std::int64_t t = 1000; t < cfg.duration_ms; t += 1000) {
    sim.at(t * kUsPerMs, [this] { emit_counters(false); });
  }
  sim.at(cfg.duration_ms * kUsPerMs, [this] { heal(); });
  const std::int64_t end_us = (cfg.duration_ms + cfg.quiesce_ms) * kUsPerMs;

  for (std::int64_t t = sim.sched.next_us(); t <= end_us; t = sim.sched.next_us()) {
    sim.now_us = t;
    sim.sched.run_next(end_us);
  }
  sim.now_us = end_us;
  emit_finals();

  RunOutput out;
  out.refused = clients.refused();
  out.refusal = clients.refusal();
  out.node_errors = servers.node_errors();
  out.version_reads = clients.take_version_reads();
  out.node_error = servers.node_error();
  out.digest = sim.writer.digest();
  out.sim_events = sim.sched.ran();
  out.end_us = end_us;
  out.events = std::move(sim.events);
  out.history_events = sim.writer.events();
  if (sim.oracle) {
    std::vector<std::vector<CharId>> finals;
    for (std::uint32_t d = 0; d < cfg.docs; ++d) {
      std::vector<CharId> ids = db.durable(d).ids();  // in document order; the oracle looks them up sorted
      std::sort(ids.begin(), ids.end());
      finals.push_back(std::move(ids));
    }
    out.truth = sim.oracle->finish(finals);
  }
  return out;
}

std::vector<std::string> world_problems(const WorldConfig& c, const Strategy& strategy) {
  std::vector<std::string> out;
  if (c.servers.count > 1 && c.servers.persistence == Persistence::kSnapshot) {
    out.push_back("servers.persistence: snapshot needs servers.count: 1 (servers share documents through the change log)");
  }
  if (c.servers.persistence == Persistence::kSnapshot && c.servers.ack == Ack::kAfterCommit) {
    out.push_back("servers.ack: after_commit needs servers.persistence: changelog (snapshots are not commits of an edit)");
  }
  if (c.clients >= kClientIdsMax) out.push_back("clients: at most " + std::to_string(kClientIdsMax - 1));
  if (!utf8_decode(c.initial_text)) out.push_back("initial_text: not valid UTF-8");
  for (const auto& se : c.script) {
    if (se.client >= c.clients) out.push_back("script: client " + std::to_string(se.client) + " does not exist");
  }
  if (c.workload.rename_ms.max > 0 && c.servers.count > 1) {
    out.push_back("workload.rename_ms: renames need servers.count: 1 (the title register lives in one server's memory)");
  }
  (void)strategy;
  return out;
}

RunOutput run_world(const WorldConfig& config, const RunOptions& options) {
  CONVLAB_ASSERT(options.strategy != nullptr);
  CONVLAB_ASSERT(world_problems(config, *options.strategy).empty());
  World w(config, options);
  return w.run();
}

}  // namespace convlab::sim
