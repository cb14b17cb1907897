#pragma once
// convlab-load: real WebSocket clients typing into real convlab-server processes (docs/protocol.md)
// with the strategies' own client replicas and the simulator's typing workload
// (workload/typing.hpp), writing a history in the simulator's format (docs/history.md) that
// `convlab check` judges as it judges a simulated run.
//
// This header is the edge's contract only: no Beast or Asio here (load/load.cpp has them).
#include "workload/typing.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace convlab::load {

struct Options {
  std::vector<std::string> urls;    // ws://HOST:PORT or http://HOST:PORT, one per server node
  std::uint32_t clients = 10;
  std::uint32_t docs = 1;
  double rate = 2.0;                // edits per second per client (mean)
  // The typing workload; empty: workload::at_rate(rate). The real runner passes a scenario's
  // think time and same-paragraph chance (--think-ms, --same-paragraph).
  std::optional<workload::TypingConfig> typing;
  double duration_s = 10.0;         // editing time from the start, ramp included
  std::string strategy = "crdt";
  std::uint64_t seed = 1;
  std::string user_prefix = "load";
  std::string password = "lab";
  std::string history;              // empty: no history file
  // The servers' PostgreSQL (persistence: changelog). With a history, its change log is read
  // after the run and written as `commit` events: the checker then names each loss's cause from
  // what the servers committed (docs/history.md, "Causes of loss").
  // Several (repeated --pg) when the servers route documents over partitions: a document's
  // change log is in one of them.
  std::vector<std::string> pg_urls;
  // Files the runner of real processes wrote at each `db_lost` fault (workload/lost_log.hpp):
  // the change log the lost database held and what its restore kept, so the history's commit
  // lines follow the log through the loss as the simulator writes them (needs --pg).
  std::vector<std::string> db_lost;
  double ramp = 200.0;              // connections opened per second
  double drain_s = 30.0;            // longest wait after editing stops for quiet clients that show the durable text
  // The steady state starts this long after the last client's first welcome: its durable
  // edits/s and latencies leave out the login storm of the ramp and what it left queued.
  double warmup_s = 2.0;
  bool progress = true;             // the progress line on stderr
  // The protocol asked for: 2 (convlab/2: several frames per WebSocket message, both ways) or 1
  // (one frame per message). A server that answers convlab/1 is spoken to in convlab/1.
  int protocol = 2;
  // Client clock faults (issue 15): client i's clock — what its edits are stamped with, the
  // clock the lww strategy orders by — reads the wall clock, and from from_ms into the run on,
  // + offset_ms + drift_ppm millionths of the time since from_ms. Clients not named read the
  // wall clock.
  struct ClientClock {
    std::int64_t offset_ms = 0;
    std::int64_t drift_ppm = 0;
    std::int64_t from_ms = 0;
  };
  std::map<std::uint32_t, ClientClock> clocks;
  // Presence: each client moves its caret this many times a second while typing (an awareness
  // frame each, evenly spaced; workload.caret_moves_per_s); 0: none.
  double caret_moves_per_s = 0;
  // API reads (reloads, workload.reload_ms): each client GETs its document every
  // [reload_min_ms, reload_max_ms] (uniform, drawn from the seed), with its token, from
  // `api_url` (a CDN in front of the servers) or, empty, from its own server; each answer is a
  // `load` event in the history (docs/history.md) written as the simulator writes it. 0: none.
  std::int64_t reload_min_ms = 0, reload_max_ms = 0;
  std::string api_url;
  // Renames (workload.rename_ms): each client renames its document every [rename_min_ms,
  // rename_max_ms] (uniform, drawn from the seed) while typing, as the simulated client does
  // (sim/clients.cpp): a rename frame on the title version it shows, titled "title C.N", and a
  // `rename` event in the history for the request and for its answer (docs/history.md). 0: none.
  std::int64_t rename_min_ms = 0, rename_max_ms = 0;
  // Per-client typing rates (a scenario's client_overrides rate_multiplier): client i's pause
  // between edits is the drawn one divided by its multiplier, as the simulator's
  // (workload::next_pause_us). Clients not named type at 1.
  std::map<std::uint32_t, double> rate_multipliers;
  // Scripted edits (a scenario's `script:`): at at_ms after t = 0 (the history's meta line),
  // client `client` splices its replica at pos (deleting del, inserting ins), both clamped to its
  // text as the simulator clamps them; a client not connected then makes no edit (as in the
  // simulator). With any, no client types the workload.
  struct ScriptedEdit {
    std::int64_t at_ms = 0;
    std::uint32_t client = 0;
    std::uint64_t pos = 0, del = 0;
    std::string ins;  // UTF-8
  };
  std::vector<ScriptedEdit> script;
  // Every document's first content (a scenario's initial_text), typed before t = 0 by a setup
  // user (PREFIX "setup") through server 0 and acknowledged before any client connects: it is
  // not an edit of the history, as the simulator's initial text is not (meta initial_clock_ms:
  // the wall-clock stamp it carries). Empty: documents start empty.
  std::string initial_text;
  // Client faults (issue 15, a scenario's `offline` and `disconnect`), times from t = 0.
  // Offline: from from_ms to to_ms the client's link is held both ways here, as the simulator's
  // held links (the frames it sends wait in its outbox, the frames that arrive wait unread; the
  // WebSocket's pings are still answered, so neither end times the connection out), it keeps
  // typing into its replica (its edits marked `offline` in the history), and at to_ms what was
  // held goes both ways in order. Its API reads and caret moves pause meanwhile; a connection that
  // dropped meanwhile logs in again at to_ms.
  struct Offline {
    std::uint32_t client = 0;
    std::int64_t from_ms = 0, to_ms = 0;
  };
  std::vector<Offline> offline;
  // Disconnect: at at_ms the client's connection is closed (the server sees it go) and the
  // client logs in again at once, with a fresh replica (its unacknowledged edits go with the old
  // one, as in the simulator), through the balancer: the next server, or with `sticky` the same.
  struct Disconnect {
    std::uint32_t client = 0;
    std::int64_t at_ms = 0;
  };
  std::vector<Disconnect> disconnects;
  // Revoke (a scenario's `revoke`): at at_ms the client's token is revoked through its server's
  // POST /logout; what follows is the servers' policy (check_revocation). The client does not log
  // in again after it (as the simulator's revoked client), and its API reads answered 200 after it
  // are `:revoked` in the history (served_after_revocation).
  std::vector<Disconnect> revokes;
  // The balancer (a scenario's `balancer`): false, a client that lost its connection tries the
  // next server round robin; true (sticky), the one it had.
  bool sticky = false;
};

// Runs the load and prints the summary on stdout. Returns the exit code: 0 no errors and (with
// a history) the checkers found it converged with no acknowledged edit lost; 1 otherwise;
// 2 could not start (bad URL, unknown strategy), with one line on stderr.
int run(const Options& opt);

}  // namespace convlab::load
