// The simulated editors' sessions: arrival, connect through the load balancer, frames in and
// out, drops and reconnects, typing ticks, API reloads and renames (sim/clients.hpp). What a
// client does to its replica and what it has seen is in sim/client_views.cpp.
#include "sim/clients.hpp"

#include "server/core/awareness.hpp"
#include "server/core/protocol.hpp"
#include "server/core/utf8.hpp"
#include "sim/world_parts.hpp"

#include <algorithm>
#include <cstdio>

namespace convlab::sim {

void Clients::setup() {
  const WorldConfig& cfg = sim_.cfg;
  edit_log_.set_docs(cfg.docs);
  clients_.resize(cfg.clients);
  std::vector<std::uint32_t> per_doc(cfg.docs, 0);
  for (std::uint32_t c = 0; c < cfg.clients; ++c) {
    Client& cl = clients_[c];
    cl.id = c;
    cl.doc = c % cfg.docs;
    cl.slot = per_doc[cl.doc]++;
    cl.obs = workload::ObservedClient(c, cl.doc);
    cl.rng = sim_.rng.fork();
    cl.clock_offset_ms = Sim::draw_ms(cl.rng, cfg.client_clocks.offset_ms);
    if (cfg.client_clocks.drift_ppm_max > 0) {
      cl.drift_ppm = cl.rng.between(-cfg.client_clocks.drift_ppm_max, cfg.client_clocks.drift_ppm_max);
    }
    for (const ClientOverride& o : cfg.client_overrides) {
      if (o.client != c) continue;
      cl.clock_offset_ms = o.clock_offset_ms;
      cl.drift_ppm = o.drift_ppm;
      cl.rate_multiplier = o.rate_multiplier;
    }
    // Clients arrive over the first second, then type.
    const std::int64_t arrive_us = static_cast<std::int64_t>(cl.rng.below(1000)) * kUsPerMs;
    sim_.at(arrive_us, [this, c] { connect(c); });
    if (cfg.script.empty()) {
      sim_.at(arrive_us + 500 * kUsPerMs + Sim::draw_us(cl.rng, cfg.workload.think_ms), [this, c] { tick(c); });
    }
    if (cfg.workload.reload_ms.max > 0) {
      sim_.at(arrive_us + 500 * kUsPerMs + Sim::draw_us(cl.rng, cfg.workload.reload_ms), [this, c] { reload(c); });
    }
    if (cfg.workload.rename_ms.max > 0) {
      sim_.at(arrive_us + 500 * kUsPerMs + Sim::draw_us(cl.rng, cfg.workload.rename_ms), [this, c] { rename(c); });
    }
    if (cfg.workload.caret_moves_per_s > 0) {
      // Evenly spaced moves, the clients' phases spread over one period: no draw from any
      // generator, so presence adds frames without shifting anything else the seed decides.
      const auto period_us = std::max<std::int64_t>(1, static_cast<std::int64_t>(1e6 / cfg.workload.caret_moves_per_s));
      const std::int64_t phase_us = period_us * c / cfg.clients;
      sim_.at(arrive_us + 500 * kUsPerMs + phase_us, [this, c, period_us] { move_caret(c, period_us); });
    }
  }
  if (cfg.workload.caret_moves_per_s > 0) sim_.counters["awareness.viewers"] = cfg.clients;
  for (const auto& se : cfg.script) {
    sim_.at(se.at_ms * kUsPerMs, [this, se] {
      Client& cl = clients_.at(se.client);
      // A client edits only a document it has loaded (offline or not).
      if (!cl.replica || !cl.welcomed) return;
      auto ins = utf8_decode(se.ins);
      CONVLAB_ASSERT(ins.has_value());
      const std::size_t len = cl.replica->length();
      const std::uint64_t pos = std::min<std::uint64_t>(se.pos, len);
      const std::uint64_t del = std::min<std::uint64_t>(se.del, len - pos);
      edit(cl, Splice{pos, del, *ins});
    });
  }
}

// ---------------------------------------------------------------- sessions

void Clients::connect(std::uint32_t c, bool subscribe) {
  Client& cl = clients_[c];
  if (cl.server >= 0 || cl.stopped) return;
  Servers& servers = w_.servers;
  // The token in local storage is used while it has not expired; only then a new login.
  const auto token = cl.token.expires_ms > sim_.now_us / kUsPerMs ? std::optional<Token>(cl.token) : servers.login(cl.id);
  if (!token) {
    // Revoked: the login service refuses it, and the client stays out.
    cl.stopped = true;
    cl.welcomed = false;
    emit_fault(c, cl.doc, "refused", "login refused: revoked");
    return;
  }
  cl.token = *token;
  // The load balancer: round-robin over servers that are up, or sticky (always the same one).
  const std::uint32_t count = sim_.cfg.servers.count;
  std::optional<std::uint32_t> pick;
  if (sim_.cfg.balancer == Balancer::kSticky) {
    const std::uint32_t s = c % count;
    if (servers.at(s).up) pick = s;
  } else {
    for (std::uint32_t k = 0; k < count; ++k) {
      const std::uint32_t s = (round_robin_ + k) % count;
      if (servers.at(s).up) {
        pick = s;
        round_robin_ = s + 1;
        break;
      }
    }
  }
  if (!pick) {
    sim_.at(sim_.now_us + 1000 * kUsPerMs, [this, c] { connect(c); });
    return;
  }
  if (!subscribe) {
    if (cl.replica) ++cl.incarnation;  // a reconnect after a crash starts a fresh replica
    cl.replica = sim_.strategy.make_client(cl.agent());
    workload::keep_overruled(*cl.replica, write_stamps_);
    cl.obs.new_replica();  // edits of the old replica are no longer pending
  }
  cl.server = static_cast<int>(*pick);
  cl.conn = next_conn_++;
  if (conn_client_.size() <= cl.conn) conn_client_.resize(cl.conn + 1, kNoClient);
  conn_client_[cl.conn] = c;
  cl.welcomed = subscribe;  // a subscriber shows its loaded state and may edit at once
  const ConnId opened = cl.conn;
  servers.at(*pick).node->on_connect(cl.conn, cl.agent(), cl.token);
  if (cl.conn != opened || cl.server < 0) return;  // refused at connect
  Bytes hello = subscribe ? encode_frame(Frame{FrameKind::kSubscribe, cl.doc, encode_subscribe(cl.loaded_version), {}})
                          : encode_frame(Frame{FrameKind::kHello, cl.doc, {}, {}});
  ++sim_.counters["net.msgs"];
  sim_.counters["net.bytes"] += hello.size();
  const std::uint32_t s = *pick;
  const std::uint32_t inc = servers.at(s).incarnation;
  const ConnId conn = cl.conn;
  Network& net = w_.net;
  net.link_send(net.client_ep(c), net.server_ep(s), Sim::draw_us(sim_.net_rng, sim_.cfg.network.client_server_ms),
                [this, s, inc, conn, b = std::move(hello)]() mutable { w_.servers.frame(s, inc, conn, std::move(b)); });
}

void Clients::drop(std::uint32_t c, bool tell_server, std::int64_t backoff_us) {
  Client& cl = clients_[c];
  if (cl.server < 0) return;
  if (tell_server) {
    Server& sv = w_.servers.at(static_cast<std::uint32_t>(cl.server));
    if (sv.up) sv.node->on_disconnect(cl.conn);
  }
  // The client's unacknowledged edits go with its replica; it reconnects with a fresh replica
  // (a new agent id, so no character id is reused).
  if (cl.conn < conn_client_.size()) conn_client_[cl.conn] = kNoClient;
  cl.server = -1;
  cl.welcomed = false;
  sim_.at(sim_.now_us + backoff_us, [this, c] { connect(c); });
}

std::optional<std::uint32_t> Clients::client_of(ConnId conn) const {
  if (conn >= conn_client_.size() || conn_client_[conn] == kNoClient) return std::nullopt;
  return conn_client_[conn];
}

void Clients::emit_fault(std::uint32_t c, std::uint32_t doc, const char* kind, std::string detail) {
  history::Event e;
  e.type = history::EventType::kFault;
  e.kind = kind;
  e.client = c;
  e.doc = doc;
  e.detail = std::move(detail);
  sim_.emit(std::move(e));
}

void Clients::closed_by_server(std::uint32_t c, const std::string& reason) {
  emit_fault(c, clients_[c].doc, "closed", reason);
  // A revoked session is logged out: the app stops rather than retry with a dead token.
  if (reason == "token revoked") clients_[c].stopped = true;
  drop(c, false, 200 * kUsPerMs + static_cast<std::int64_t>(clients_[c].rng.below(300)) * kUsPerMs);
}

void Clients::server_crashed(std::uint32_t s, const std::vector<std::uint32_t>& homed) {
  for (Client& cl : clients_) {
    // Clients of this server lose their connection. So do clients elsewhere whose document has
    // its home here (strategies that are not multi-master): the edits they forwarded died with
    // the home's memory, and only a fresh session tells them where they stand. The real server
    // learns it when its link to the home breaks, and closes the sessions whose edits wait there
    // (server/net/app.cpp, App::abandon); the simulator closes every session of those documents
    // on other servers (a superset: one with nothing in flight reconnects). Under home: lease the home is
    // the node that held the document's lease; waiting for the lease to move is not enough (a
    // home restarted within its lease renews it, and the forwarded edit is never answered:
    // swarm seeds 8437, 9382, 9670).
    const bool homed_here =
        !sim_.strategy.multi_master &&
        (sim_.cfg.servers.home == NodeConfig::Home::kFixed ? cl.doc % sim_.cfg.servers.count == s
                                                           : std::binary_search(homed.begin(), homed.end(), cl.doc));
    if (cl.server < 0 || (cl.server != static_cast<int>(s) && !homed_here)) continue;
    const std::int64_t backoff_us = 500 * kUsPerMs + static_cast<std::int64_t>(cl.rng.below(1000)) * kUsPerMs;
    drop(cl.id, cl.server != static_cast<int>(s), backoff_us);
  }
}

void Clients::send(Client& cl, std::vector<Bytes> msgs) {
  if (cl.server < 0) return;  // not connected: the replica keeps them unacknowledged
  const auto s = static_cast<std::uint32_t>(cl.server);
  const std::uint32_t inc = w_.servers.at(s).incarnation;
  Oracle* oracle = sim_.oracle.get();
  std::vector<CharId> view;
  if (oracle && !msgs.empty()) view = cl.replica->char_ids();  // document order
  Network& net = w_.net;
  for (Bytes& m : msgs) {
    if (oracle) oracle->sent(sim_.now_us, cl.agent(), m, Oracle::EditTag{cl.id, cl.obs.last_op()}, view);
    Bytes frame = encode_frame(Frame{FrameKind::kEdit, cl.doc, std::move(m), {}});
    ++sim_.counters["net.msgs"];
    sim_.counters["net.bytes"] += frame.size();
    const ConnId conn = cl.conn;
    net.link_send(net.client_ep(cl.id), net.server_ep(s), Sim::draw_us(sim_.net_rng, sim_.cfg.network.client_server_ms),
                  [this, s, inc, conn, b = std::move(frame)]() mutable { w_.servers.frame(s, inc, conn, std::move(b)); });
  }
}

void Clients::receive(std::uint32_t c, std::uint32_t server, std::uint32_t incarnation, ConnId conn,
                      std::uint64_t version, const Bytes& bytes) {
  Client& cl = clients_[c];
  if (cl.conn != conn || cl.server != static_cast<int>(server) || w_.servers.at(server).incarnation != incarnation) {
    return;
  }
  auto frame = decode_frame_view(bytes);
  CONVLAB_ASSERT(frame.has_value());  // the node encodes every frame
  switch (frame->kind) {
    case FrameKind::kWelcome: {
      cl.obs.state_replaced();
      auto back = cl.replica->receive(frame->payload);
      if (!back) {
        refused_message(c, "client " + std::to_string(c) + " refused a welcome: " + back.error().message);
        return;
      }
      cl.welcomed = true;
      cl.obs.welcomed(edit_log_, *cl.replica);
      cl.stale_base = false;
      if (sim_.oracle) sim_.oracle->client_loaded(sim_.now_us, c, version);
      // A load older than what this client was shown before is a stale load: it misses
      // updates it had already seen.
      history::Event load;
      load.type = history::EventType::kLoad;
      load.client = c;
      load.doc = cl.doc;
      load.server = static_cast<std::int32_t>(server);
      load.version = version;
      load.latest = std::max(cl.known_version, version);
      load.source = "server:" + std::to_string(server);
      sim_.emit(std::move(load));
      cl.known_version = std::max(cl.known_version, version);
      note_seen(cl);
      send(cl, std::move(*back));
      return;
    }
    case FrameKind::kDeliver: {
      cl.known_version = std::max(cl.known_version, version);
      auto back = cl.replica->receive(frame->payload);
      if (!back) {
        refused_message(c, "client " + std::to_string(c) + " refused a message: " + back.error().message);
        return;
      }
      for (history::Event& o : workload::take_overruled(*cl.replica, write_stamps_, c, cl.doc)) sim_.emit(std::move(o));
      cl.obs.note_accepted(*cl.replica, write_stamps_);
      note_seen(cl);
      note_acks(cl);
      send(cl, std::move(*back));
      return;
    }
    case FrameKind::kRefused: {
      std::string detail(frame->payload.begin(), frame->payload.end());
      // An edit refused (over the rate limit, or one the server's replica cannot take: a
      // stale subscribe without catch-up may name a paragraph the server does not have yet).
      const bool edit_refused = detail.rfind("rate limited", 0) == 0 || detail.rfind("edit", 0) == 0;
      emit_fault(c, frame->doc, "refused", std::move(detail));
      // The edit was not applied, so this replica has diverged from the server and its edits in
      // flight no longer match the answers to come. The client drops the session and reloads
      // the document a second later.
      if (edit_refused) drop(c, true, 1000 * kUsPerMs);
      return;
    }
    case FrameKind::kTitle: {
      auto t = decode_title(frame->payload);
      CONVLAB_ASSERT(t.has_value());  // the node encodes every title
      cl.title_version = std::max(cl.title_version, t->version);
      if (t->answer == 0) return;
      history::Event e;
      e.type = history::EventType::kRename;
      e.client = c;
      e.doc = cl.doc;
      e.op = cl.next_rename - 1;  // renames wait for their answer: this one is the last sent
      e.server = static_cast<std::int32_t>(server);
      e.kind = t->answer == 1 ? "ack" : "notice";
      e.version = t->version;
      e.detail = t->title;
      sim_.emit(std::move(e));
      return;
    }
    default:
      CONVLAB_ASSERT(false);
  }
}

void Clients::refused_message(std::uint32_t c, const std::string& why) {
  // A server's message a client refuses is a bug in a strategy. The run records it (the swarm
  // and `convlab replay` fail on it) and goes on as a real client would: it drops the session
  // and reloads the document, so the rest of the run is still judged.
  std::fprintf(stderr, "%s\n", why.c_str());
  if (refused_ == 0) refusal_ = why;
  ++refused_;
  emit_fault(c, clients_[c].doc, "client_refused", why);
  drop(c, true, 1000 * kUsPerMs);
}

// ---------------------------------------------------------------- typing, reloads, renames

void Clients::tick(std::uint32_t c) {
  if (sim_.healed) return;  // the fault phase is over: no new edits
  Client& cl = clients_[c];
  if (cl.welcomed) {
    workload::DrawnEdit d = workload::next_edit(cl.rng, sim_.cfg.workload, *cl.replica, cl.slot);
    edit(cl, d.splice, d.para);
  }
  const std::int64_t pause_us = workload::next_pause_us(cl.rng, sim_.cfg.workload, cl.typist, cl.rate_multiplier);
  sim_.at(sim_.now_us + pause_us, [this, c] { tick(c); });
}

void Clients::move_caret(std::uint32_t c, std::int64_t period_us) {
  if (sim_.healed) return;  // the fault phase is over: carets rest
  sim_.at(sim_.now_us + period_us, [this, c, period_us] { move_caret(c, period_us); });
  Client& cl = clients_[c];
  if (cl.server < 0 || !cl.welcomed || cl.offline || cl.replica == nullptr) return;
  ++cl.caret_moves;
  const std::uint64_t caret = (cl.caret_moves * 7 + cl.slot) % (cl.replica->length() + 1);
  Bytes frame = encode_frame(Frame{FrameKind::kAwareness, cl.doc,
                                   encode_awareness(AwarenessState{caret, caret, "client " + std::to_string(c)}), {}});
  ++sim_.counters["awareness.moves"];
  const auto s = static_cast<std::uint32_t>(cl.server);
  const std::uint32_t inc = w_.servers.at(s).incarnation;
  const ConnId conn = cl.conn;
  Network& net = w_.net;
  net.link_send(net.client_ep(c), net.server_ep(s), Sim::draw_us(sim_.net_rng, sim_.cfg.network.client_server_ms),
                [this, s, inc, conn, b = std::move(frame)]() mutable { w_.servers.frame(s, inc, conn, std::move(b)); });
}

void Clients::reload(std::uint32_t c) {
  if (sim_.healed) return;  // the fault phase is over: no new reloads
  Client& cl = clients_[c];
  sim_.at(sim_.now_us + std::max<std::int64_t>(1, Sim::draw_us(cl.rng, sim_.cfg.workload.reload_ms)),
          [this, c] { reload(c); });
  if (cl.stopped || cl.offline || cl.loading || cl.replica == nullptr) return;
  if (cl.token.expires_ms <= sim_.now_us / kUsPerMs) {
    const auto token = w_.servers.login(cl.id);
    if (!token) return;
    cl.token = *token;
  }
  HttpGet g;
  g.doc = cl.doc;
  g.token = cl.token;
  g.session_version = cl.own_version;
  // Some reads look at an older version (drawn only when asked for: other worlds keep their draws).
  const std::uint64_t known = std::max({cl.known_version, cl.loaded_version, cl.own_version});
  const double share = sim_.cfg.workload.version_read_share;
  if (share > 0 && known > 1 && cl.rng.chance(share)) {
    g.as_of = static_cast<std::uint64_t>(cl.rng.between(1, static_cast<std::int64_t>(known) - 1));
  }
  cl.loading = true;
  w_.cdn.request(c, cl.own_version, g);
}

void Clients::finish_load(std::uint32_t c, const HttpResponse& r, const std::string& source, int server) {
  Client& cl = clients_[c];
  cl.loading = false;
  if (r.status == 403) cl.stopped = true;  // revoked: logged out
  if (r.status != 200) {
    emit_fault(c, r.doc, "refused", "GET document: " + std::to_string(r.status) + " " + r.why);
    return;
  }
  history::Event load;
  load.type = history::EventType::kLoad;
  load.client = c;
  load.doc = r.doc;
  load.server = server;
  load.version = r.version;
  load.latest = r.latest;
  load.source = source;
  sim_.emit(std::move(load));
  if (sim_.strategy.adopts_loaded_state && !cl.stopped && !sim_.healed) adopt_load(cl, r);
}

void Clients::finish_version_read(std::uint32_t c, const HttpResponse& r) {
  Client& cl = clients_[c];
  cl.loading = false;
  if (r.status != 200) {
    emit_fault(c, r.doc, "refused", "GET document version: " + std::to_string(r.status) + " " + r.why);
    return;
  }
  ++sim_.counters["api.version_reads"];
  // What the page of that version shows: the served state in a replica of its own.
  auto page = sim_.strategy.make_client(cl.agent());
  auto back = page->receive(r.body);
  CONVLAB_ASSERT(back.has_value());  // the node encodes every welcome
  VersionRead v;
  v.t_us = sim_.now_us;
  v.client = c;
  v.doc = r.doc;
  v.version = r.version;
  v.latest = r.latest;
  v.text = page->text();
  v.ids = sorted(page->char_ids());
  if (const std::vector<CharId>* ids = w_.db.durable_ids_at(r.doc, r.version)) v.durable_ids = *ids;
  version_reads_.push_back(std::move(v));
}

void Clients::adopt_load(Client& cl, const HttpResponse& r) {
  // A page reload: the old session ends (its unacknowledged edits with it), the page shows what
  // the API served, and a new session subscribes to changes from now on.
  if (cl.server >= 0) {
    Server& sv = w_.servers.at(static_cast<std::uint32_t>(cl.server));
    if (sv.up) sv.node->on_disconnect(cl.conn);
    if (cl.conn < conn_client_.size()) conn_client_[cl.conn] = kNoClient;
    cl.server = -1;
  }
  ++cl.incarnation;
  cl.replica = sim_.strategy.make_client(cl.agent());
  workload::keep_overruled(*cl.replica, write_stamps_);
  cl.obs.new_replica();  // its unacknowledged edits went with the old session
  auto back = cl.replica->receive(r.body);
  CONVLAB_ASSERT(back.has_value());  // the node encodes every welcome
  if (sim_.oracle) sim_.oracle->client_loaded(sim_.now_us, cl.id, r.version, true, sorted(cl.replica->char_ids()));
  cl.stale_base = r.version < r.latest;
  cl.loaded_version = r.version;
  // What it has shown is now what the loaded state shows: its edits are made on that base.
  cl.obs.adopt(edit_log_, *cl.replica);
  note_seen(cl);
  connect(cl.id, true);
}

void Clients::rename(std::uint32_t c) {
  if (sim_.healed) return;
  Client& cl = clients_[c];
  sim_.at(sim_.now_us + std::max<std::int64_t>(1, Sim::draw_us(cl.rng, sim_.cfg.workload.rename_ms)),
          [this, c] { rename(c); });
  if (!cl.welcomed || cl.server < 0 || cl.stopped) return;
  const std::uint32_t op = cl.next_rename++;
  RenameMsg m{cl.title_version, "title " + std::to_string(c) + "." + std::to_string(op)};
  history::Event e;
  e.type = history::EventType::kRename;
  e.client = c;
  e.doc = cl.doc;
  e.op = op;
  e.server = cl.server;
  e.kind = "request";
  e.version = m.base;
  e.detail = m.title;
  sim_.emit(std::move(e));
  const auto s = static_cast<std::uint32_t>(cl.server);
  const std::uint32_t inc = w_.servers.at(s).incarnation;
  Bytes frame = encode_frame(Frame{FrameKind::kRename, cl.doc, encode_rename(m), {}});
  ++sim_.counters["net.msgs"];
  sim_.counters["net.bytes"] += frame.size();
  Network& net = w_.net;
  net.link_send(net.client_ep(c), net.server_ep(s), Sim::draw_us(sim_.net_rng, sim_.cfg.network.client_server_ms),
                [this, s, inc, conn = cl.conn, b = std::move(frame)]() mutable {
                  w_.servers.frame(s, inc, conn, std::move(b));
                });
}

}  // namespace convlab::sim
