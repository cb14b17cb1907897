// The simulated CDN (sim/cdn.hpp).
#include "sim/cdn.hpp"

#include "sim/world_parts.hpp"

namespace convlab::sim {

void Cdn::request(std::uint32_t c, std::uint64_t own_version, HttpGet g) {
  g.id = next_id_++;
  pending_[g.id] = PendingGet{c, own_version, g.as_of};
  sim_.at(sim_.now_us + Sim::draw_us(sim_.net_rng, sim_.cfg.network.client_server_ms), [this, g] { get(g); });
}

void Cdn::get(HttpGet g) {
  const PendingGet& p = pending_.at(g.id);
  const Client& cl = w_.clients.at(p.client);
  const std::int64_t ttl_ms = sim_.cfg.cdn.ttl_ms;
  auto hit = cache_.find(g.doc);
  // A past version has a URL of its own: the cache, keyed by the document's, never answers it.
  if (g.as_of == 0 && ttl_ms > 0 && hit != cache_.end() && sim_.now_us - hit->second.stored_us < ttl_ms * kUsPerMs) {
    // Keyed by URL alone: whoever asks gets what was cached, the auth decision included.
    HttpResponse r = hit->second.response;
    r.id = g.id;
    r.latest = w_.db.doc(g.doc).log.size();
    return serve(r, "cdn", -1);
  }
  // A miss goes to a server: the client's own, else the first one up.
  Servers& servers = w_.servers;
  std::optional<std::uint32_t> origin;
  if (cl.server >= 0 && servers.at(static_cast<std::uint32_t>(cl.server)).up) {
    origin = static_cast<std::uint32_t>(cl.server);
  }
  for (std::uint32_t k = 0; !origin && k < sim_.cfg.servers.count; ++k) {
    if (servers.at(k).up) origin = k;
  }
  if (!origin) {
    HttpResponse r;
    r.id = g.id;
    r.doc = g.doc;
    r.status = 503;
    r.why = "no server up";
    return serve(r, "cdn", -1);
  }
  const std::uint32_t s = *origin;
  const std::uint32_t inc = servers.at(s).incarnation;
  sim_.at(sim_.now_us + Sim::draw_us(sim_.net_rng, sim_.cfg.network.bus_us()), [this, s, inc, g] {
    Server& sv = w_.servers.at(s);
    if (sv.up && sv.incarnation == inc) {
      sv.node->on_http_get(g);
    } else {
      HttpResponse r;
      r.id = g.id;
      r.doc = g.doc;
      r.status = 502;
      r.why = "server went away";
      serve(r, "cdn", -1);
    }
  });
}

void Cdn::respond(std::uint32_t s, const HttpResponse& r) {
  if (!pending_.contains(r.id)) return;
  if (r.status == 200 && !r.no_store && sim_.cfg.cdn.ttl_ms > 0) cache_[r.doc] = Entry{r, sim_.now_us};
  serve(r, r.source, static_cast<int>(s));
}

void Cdn::serve(const HttpResponse& r, std::string source, int server) {
  auto p = pending_.find(r.id);
  CONVLAB_ASSERT(p != pending_.end());
  const std::uint32_t c = p->second.client;
  if (p->second.as_of > 0) {
    // A look at the history: not a load of the document, so not judged as one.
    pending_.erase(p);
    sim_.at(sim_.now_us + Sim::draw_us(sim_.net_rng, sim_.cfg.network.client_server_ms),
            [this, c, r] { w_.clients.finish_version_read(c, r); });
    return;
  }
  if (r.status == 200) {
    // Judged when served: the session's acknowledged write missing (read-your-writes), and a
    // user whose tokens were revoked by now getting the document anyway.
    if (r.version < p->second.own_version) source += ":missing_own_write";
    const std::optional<std::int64_t> revoked = w_.servers.revoked_at_us(c);
    if (revoked && *revoked <= sim_.now_us) source += ":revoked";
  }
  pending_.erase(p);
  sim_.at(sim_.now_us + Sim::draw_us(sim_.net_rng, sim_.cfg.network.client_server_ms),
          [this, c, r, source, server] { w_.clients.finish_load(c, r, source, server); });
}

}  // namespace convlab::sim
