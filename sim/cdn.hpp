#pragma once
// The simulated CDN in front of the API: a client's GET of a document goes through it; it
// answers from its cache while the entry is younger than cdn.ttl_ms (keyed by URL alone, so
// whoever asks gets what was cached, the auth decision included), else asks a server — the
// client's own, else the first one up — and caches a 200 unless the response says no-store.
// It also judges each served read (a session's acknowledged write missing, a revoked user
// served) into the `load` event's source.
//
// Invariants:
//   - Every request gets exactly one answer back to its client (a 503 when no server is up, a
//     502 when the server it asked died before answering); an answer with no request pending
//     (a server answering twice) is ignored.
//   - Nothing is cached when cdn.ttl_ms is 0.
// Called by the clients (request), the servers (respond, through ServerIo::respond).
#include "sim/context.hpp"

#include <map>
#include <string>

namespace convlab::sim {

struct World;

class Cdn {
 public:
  Cdn(World& w, Sim& sim) : w_(w), sim_(sim) {}

  // Client c asks for `g` (its id is set here); `own_version` is the log version of the
  // client's last acknowledged write when it asked. The request reaches the CDN one
  // client-server latency later.
  void request(std::uint32_t c, std::uint64_t own_version, HttpGet g);
  // Server s answers a request.
  void respond(std::uint32_t s, const HttpResponse& response);

 private:
  struct PendingGet {
    std::uint32_t client = 0;
    std::uint64_t own_version = 0;  // the client's last acknowledged write when it asked
    std::uint64_t as_of = 0;        // a past version asked for (?version=N), else 0
  };
  struct Entry {
    HttpResponse response;
    std::int64_t stored_us = 0;
  };
  void get(HttpGet request);
  // The answer goes back to the client, one client-server latency later.
  void serve(const HttpResponse& response, std::string source, int server);

  World& w_;
  Sim& sim_;
  std::map<std::uint32_t, Entry> cache_;  // doc -> cached API response
  std::map<std::uint64_t, PendingGet> pending_;
  std::uint64_t next_id_ = 1;
};

}  // namespace convlab::sim
