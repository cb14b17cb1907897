// convlab-load's engine: one Asio thread, one Beast WebSocket per client, the strategy's client
// replica and the shared typing workload (workload/typing.hpp). Everything runs on the one
// thread, so client state, statistics and the history writer need no locks.
//
// A client's life: POST /login (user PREFIX<i>) -> the token and the agent id its replica must
// use -> WebSocket /ws with `Authorization: Bearer` -> hello -> welcome -> types until the end.
// When the connection drops (a server killed, a database restart closing it with 4011), the
// replica goes with it, as in the simulator: its unacknowledged edits are abandoned (the OT and
// CRDT client replicas do not take a welcome over pending edits), and the client logs in again
// after a backoff for a fresh agent id and a fresh replica.
#include "load/run.hpp"
#include "server/core/awareness.hpp"
#include "server/core/utf8.hpp"

namespace convlab::load::detail {

// ---------------------------------------------------------------- connection

void Run::start_client(Client& cl) {
  cl.connecting = true;
  login(cl);
}

// One HTTP request on its own connection; `done` gets the answer, or what went wrong ("connect:
// ...", "http: ...") with an empty answer.
void Run::http_call(const Target& t, http::verb verb, const std::string& path, const std::string& bearer,
                    std::string body, HttpDone done, std::uint64_t session_version) {
  struct Call {
    beast::tcp_stream stream;
    http::request<http::string_body> req;
    http::response<http::string_body> res;
    beast::flat_buffer buf;
    HttpDone done;
    explicit Call(net::io_context& io) : stream(io) {}
  };
  auto call = std::make_shared<Call>(ioc_);
  call->done = std::move(done);
  call->req = http::request<http::string_body>(verb, path, 11);
  call->req.set(http::field::host, t.host + ":" + t.port);
  if (!bearer.empty()) call->req.set(http::field::authorization, "Bearer " + bearer);
  if (session_version > 0) call->req.set("X-Convlab-Session-Version", std::to_string(session_version));
  if (!body.empty()) {
    call->req.set(http::field::content_type, "application/json");
    call->req.body() = std::move(body);
    call->req.prepare_payload();
  }
  call->stream.expires_after(30s);
  call->stream.async_connect(t.endpoint, [call](beast::error_code ec) {
    if (ec) return call->done("connect: " + ec.message(), call->res);
    http::async_write(call->stream, call->req, [call](beast::error_code ec2, std::size_t) {
      if (ec2) return call->done("http: " + ec2.message(), call->res);
      http::async_read(call->stream, call->buf, call->res, [call](beast::error_code ec3, std::size_t) {
        if (ec3) return call->done("http: " + ec3.message(), call->res);
        beast::error_code ignore;
        call->stream.socket().shutdown(tcp::socket::shutdown_both, ignore);
        if (call->res.result() != http::status::ok) {
          return call->done("HTTP " + std::to_string(call->res.result_int()) + " " + call->res.body(), call->res);
        }
        call->done("", call->res);
      });
    });
  });
}

void Run::login(Client& cl) {
  // A revoked user's access is gone: it does not come back (as the simulator's client).
  if (cl.revoking) return;
  const std::uint64_t gen = ++cl.generation;
  std::string body = json::serialize(json::object{{"user", opt_.user_prefix + std::to_string(cl.id)},
                                                  {"password", opt_.password}});
  http_call(targets_[cl.target], http::verb::post, "/login", "", std::move(body),
            [this, &cl, gen](const std::string& err, const http::response<http::string_body>& res) {
              // A login overtaken by a newer one (an adopted reload logs in again while a retry's
              // login may still be on its way): its token and agent are not this client's.
              if (gen != cl.generation) return;
              if (!err.empty()) return dropped(cl, gen, err.rfind("connect", 0) == 0 ? "connect" : "login", err);
              boost::system::error_code jec;
              json::value v = json::parse(res.body(), jec);
              const json::object* o = jec ? nullptr : v.if_object();
              const json::value* tok = o ? o->if_contains("token") : nullptr;
              const json::value* agt = o ? o->if_contains("agent") : nullptr;
              if (!tok || !tok->is_string() || !agt || !agt->is_int64() || agt->as_int64() < 0 ||
                  agt->as_int64() > 0xfffffffe) {
                return dropped(cl, gen, "login", "POST /login: body lacks \"token\" or \"agent\": " + res.body());
              }
              cl.token = std::string(tok->as_string());
              cl.agent = static_cast<AgentId>(agt->as_int64());
              // Agent ids name characters: the servers must never hand one out twice.
              if (auto known = edit_log_.claim(cl.agent, cl.id)) {
                error("agent_reused", "POST /login gave client " + std::to_string(cl.id) + " agent " +
                                          std::to_string(cl.agent) + ", already client " + std::to_string(*known) +
                                          "'s");
              }
              open_ws(cl, gen);
            });
}

void Run::open_ws(Client& cl, std::uint64_t gen) {
  const Target& t = targets_[cl.target];
  auto ws = std::make_shared<Ws>(ioc_);
  beast::get_lowest_layer(*ws).expires_after(10s);
  beast::get_lowest_layer(*ws).async_connect(t.endpoint, [this, &cl, gen, ws, &t](beast::error_code ec) {
    if (ec) return dropped(cl, gen, "connect", ec.message());
    beast::get_lowest_layer(*ws).socket().set_option(tcp::no_delay(true));
    beast::get_lowest_layer(*ws).expires_never();
    websocket::stream_base::timeout to{};
    to.handshake_timeout = 10s;
    to.idle_timeout = 30s;
    to.keep_alive_pings = true;
    ws->set_option(to);
    const std::string bearer = "Bearer " + cl.token;
    // The token spellings of convlab/2 and convlab/1 (docs/protocol.md), what a browser can offer.
    const char* offer = opt_.protocol >= 2 ? "convlab.v2, convlab.v1" : "convlab.v1";
    ws->set_option(websocket::stream_base::decorator([bearer, offer](websocket::request_type& r) {
      r.set(http::field::authorization, bearer);
      r.set(http::field::sec_websocket_protocol, offer);
    }));
    ws->binary(true);
    auto res = std::make_shared<websocket::response_type>();
    ws->async_handshake(*res, t.host + ":" + t.port, "/ws", [this, &cl, gen, ws, res](beast::error_code ec2) {
      if (ec2) return dropped(cl, gen, "handshake", ec2.message());
      if (gen != cl.generation) return;
      cl.ws = ws;
      const auto answered = (*res)[http::field::sec_websocket_protocol];
      cl.v2 = answered == "convlab.v2" || answered == "convlab/2";
      cl.replica = strategy_.make_client(cl.agent);
      if (writer_) workload::keep_overruled(*cl.replica, write_stamps_);
      abandoned_ += cl.obs.new_replica();
      cl.inflight.clear();
      cl.unsent_ops.clear();
      cl.outbox.clear();
      cl.writing = false;
      cl.next_version.reset();
      if (cl.adopt_welcome) {
        // A reload being adopted (Run::adopt_read): the fresh replica shows the loaded state and
        // subscribes from its version, as the simulator's client does, asking for version frames
        // as its hellos do (this session's acknowledgements carry their log index).
        const Bytes loaded = *std::exchange(cl.adopt_welcome, std::nullopt);
        auto back = cl.replica->receive(loaded);
        if (!back) return error("replica", "client " + std::to_string(cl.id) + " refused the loaded state: " + back.error().message);
        cl.obs.adopt(edit_log_, *cl.replica);
        const Bytes from = encode_subscribe(cl.adopt_version, /*versions=*/true);
        send(cl, FrameKind::kSubscribe, from);
        cl.welcomed = true;  // a subscriber shows its loaded state and may edit at once
        cl.welcomed_at_us = now_us();
        cl.connecting = false;
        cl.attempts = 0;
        read_loop(cl, gen, ws, std::make_shared<beast::flat_buffer>());
        send_edits(cl, std::move(*back));
        return;
      }
      // Asks for kVersion frames: the welcome's log index and each committed ack's.
      const std::uint8_t versions[] = {kHelloVersions};
      send(cl, FrameKind::kHello, versions);
      read_loop(cl, gen, ws, std::make_shared<beast::flat_buffer>());
    });
  });
}

void Run::read_loop(Client& cl, std::uint64_t gen, std::shared_ptr<Ws> ws, std::shared_ptr<beast::flat_buffer> buf) {
  ws->async_read(*buf, recycled([this, &cl, gen, ws, buf](beast::error_code ec, std::size_t) {
    if (gen != cl.generation) return;
    if (ec) {
      std::string detail = ec.message();
      std::string kind = "closed";
      if (ec == websocket::error::closed) {
        kind = "closed:" + std::to_string(ws->reason().code);
        detail = std::string(ws->reason().reason.data(), ws->reason().reason.size());
      }
      return dropped(cl, gen, kind, detail);
    }
    const auto data = buf->cdata();
    const std::span<const std::uint8_t> bytes(static_cast<const std::uint8_t*>(data.data()), data.size());
    if (cl.offline) {
      // Held, as a partitioned link holds it: read when the client is back (go_online).
      cl.held_in.emplace_back(bytes.begin(), bytes.end());
    } else {
      on_message(cl, gen, bytes);
    }
    buf->consume(buf->size());
    if (gen == cl.generation && cl.ws == ws) read_loop(cl, gen, ws, buf);
  }));
}

void Run::on_message(Client& cl, std::uint64_t gen, std::span<const std::uint8_t> data) {
  cl.last_frame_us = now_us();
  auto ok = decode_batch(data, views_, cl.v2 ? kBatchFramesMax : 1);
  if (!ok) return error("bad_frame", "client " + std::to_string(cl.id) + ": " + ok.error().message);
  // The views point into `data`, which the caller keeps; on_frame may drop the connection.
  std::vector<FrameView> frames = std::move(views_);
  bool any = false;
  for (const FrameView& f : frames) {
    if (gen != cl.generation) break;
    on_frame(cl, f);
    any = any || f.kind == FrameKind::kDeliver || f.kind == FrameKind::kWelcome;
  }
  // Visibility once per message: what it carried is on screen together.
  if (any && gen == cl.generation && cl.welcomed) note_seen(cl);
  views_ = std::move(frames);
}

void Run::on_frame(Client& cl, const FrameView& f) {
  switch (f.kind) {
    case FrameKind::kVersion: {
      auto v = decode_version(f.payload);
      if (!v) return error("bad_frame", "client " + std::to_string(cl.id) + ": bad version frame: " + v.error().message);
      cl.next_version = *v;
      return;
    }
    case FrameKind::kWelcome: {
      const std::optional<std::uint64_t> version = std::exchange(cl.next_version, std::nullopt);
      if (!version) ++drops_["welcome_without_version"];
      cl.obs.state_replaced();
      auto back = cl.replica->receive(f.payload);
      if (!back) return error("replica", "client " + std::to_string(cl.id) + " refused a welcome: " + back.error().message);
      const bool first = !cl.ever_welcomed;
      cl.welcomed = true;
      cl.obs.welcomed(edit_log_, *cl.replica);
      cl.welcomed_at_us = now_us();
      cl.connecting = false;
      cl.ever_welcomed = true;
      cl.attempts = 0;
      if (first && ++welcomed_now_ == clients_.size()) {
        all_welcomed_us_ = now_us();
        steady_timer_.expires_after(std::chrono::microseconds(steady_from_us() - all_welcomed_us_));
        steady_timer_.async_wait([this](beast::error_code ec) {
          if (ec || !editing_) return;
          steady_cpu_s_ = cpu_s();
          // On stdout as it happens: bench/server/run.sh reads the other processes' CPU here.
          std::printf("steady state begins (%.1f s)\n", static_cast<double>(now_us()) / 1e6);
          std::fflush(stdout);
        });
      }
      if (writer_) {
        history::Event load;
        load.type = history::EventType::kLoad;
        load.client = cl.id;
        load.doc = cl.doc;
        load.server = static_cast<std::int32_t>(cl.target);
        // As the simulator's: the served version, and the newest this client was told of before
        // (without --pg its earlier welcomes' versions only; with it, after the run, the log
        // prefix it had shown: below).
        load.version = version.value_or(0);
        load.latest = std::max(cl.known_version, load.version);
        load.source = "server:" + std::to_string(cl.target);
        if (opt_.pg_urls.empty()) {
          emit(std::move(load));
        } else {
          load.t_us = now_us();
          welcome_loads_.push_back(WelcomeLoad{std::move(load), cl.shown, version.has_value()});
        }
      }
      if (version) cl.known_version = std::max(cl.known_version, *version);
      send_edits(cl, std::move(*back));
      if (first && editing_) {
        // Scripted edits stand for the typing (as in the simulator).
        if (opt_.script.empty()) schedule_tick(cl, workload::draw_us(cl.rng, typing_.think_ms));
        if (opt_.caret_moves_per_s > 0) schedule_caret(cl);
      }
      return;
    }
    case FrameKind::kDeliver: {
      ++delivered_;
      const bool ack = is_ack(cl, f.payload);
      auto back = cl.replica->receive(f.payload);
      if (!back) return error("replica", "client " + std::to_string(cl.id) + " refused a message: " + back.error().message);
      if (writer_) {
        for (history::Event& o : workload::take_overruled(*cl.replica, write_stamps_, cl.id, cl.doc)) emit(std::move(o));
        cl.obs.note_accepted(*cl.replica, write_stamps_);
      }
      if (ack) {
        ++ack_frames_;
        // Acknowledgements come in the order the messages went out: this one completes the
        // oldest message in flight, and with it every edit up to the last it carried.
        std::vector<std::uint32_t> ops = std::move(cl.inflight.front());
        cl.inflight.pop_front();
        if (cl.next_version) {
          // The write's own index: what a read must reach (not a prefix the client has shown:
          // its server may not have applied the records before it yet).
          cl.acked_version = std::max(cl.acked_version, *cl.next_version);
          cl.next_version.reset();
        }
        if (!ops.empty()) ack_upto(cl, *std::max_element(ops.begin(), ops.end()));
      }
      send_edits(cl, std::move(*back));
      note_acks(cl);
      return;
    }
    case FrameKind::kRefused: {
      const std::string text(f.payload.begin(), f.payload.end());
      std::string label = text.substr(0, text.find(':'));
      error("refused:" + label, "client " + std::to_string(cl.id) + " doc " + std::to_string(f.doc) + ": " + text);
      history::Event e;
      e.type = history::EventType::kFault;
      e.kind = "refused";
      e.client = cl.id;
      e.doc = f.doc;
      e.detail = text;
      emit(std::move(e));
      // An edit refused (over the rate limit, or one the server's replica cannot take) was not
      // applied: this replica has diverged from the server, and its edits in flight no longer
      // match the answers to come. As the simulator's client (sim/clients.cpp), it drops the
      // session and loads the document again a second later, with a fresh replica.
      if (f.doc == cl.doc && (text.rfind("rate limited", 0) == 0 || text.rfind("edit", 0) == 0)) {
        dropped(cl, cl.generation, "refused", text, 1000);
      }
      return;
    }
    case FrameKind::kTitle:
      return on_title(cl, f);
    case FrameKind::kPresence:
      ++presence_frames_;
      presence_bytes_ += f.raw.size();
      return;
    default:
      return error("bad_frame", "client " + std::to_string(cl.id) + ": a client-only frame kind from the server");
  }
}

// The client's connection ends (a drop, or a reload it adopts): the socket closes, its
// unacknowledged edits go with the replica (as in the simulator), what an offline link held for
// it goes with the connection, and an adopted read whose new session did not open is not retried
// from that old state (the retry says hello with a fresh replica, as the simulator's client
// reconnects; adopt_read sets its own after this).
void Run::end_session(Client& cl) {
  if (cl.ws) {
    auto ws = std::move(cl.ws);
    beast::error_code ignore;
    beast::get_lowest_layer(*ws).socket().close(ignore);
  }
  abandoned_ += cl.obs.abandon();
  cl.held_in.clear();
  cl.inflight.clear();
  cl.unsent_ops.clear();
  cl.adopt_welcome.reset();
  cl.welcomed = false;
  cl.connecting = true;
  cl.outbox.clear();
  cl.writing = false;
}

void Run::dropped(Client& cl, std::uint64_t gen, const std::string& kind, const std::string& detail, std::int64_t after_ms) {
  if (gen != cl.generation || finished_) return;
  ++cl.generation;  // late callbacks of this connection are ignored from here on
  ++drops_[kind];
  if (cl.welcomed) {
    history::Event e;
    e.type = history::EventType::kFault;
    e.kind = "closed";
    e.client = cl.id;
    e.doc = cl.doc;
    e.server = static_cast<std::int32_t>(cl.target);
    e.detail = kind + (detail.empty() ? "" : ": " + detail);
    emit(std::move(e));
  }
  end_session(cl);
  ++reconnects_;
  ++cl.attempts;
  // Any server takes any document (single-writer ones are forwarded to their home): try the
  // next one, or the same one behind a sticky balancer.
  if (!opt_.sticky) cl.target = (cl.target + 1) % targets_.size();
  const std::int64_t base_ms = std::min<std::int64_t>(5000, 100LL << std::min<std::uint32_t>(cl.attempts, 6));
  const std::int64_t wait_ms = after_ms >= 0 ? after_ms : base_ms / 2 + cl.backoff_rng.between(0, base_ms / 2);
  if (!cl.retry) cl.retry = std::make_unique<net::steady_timer>(ioc_);
  cl.retry->expires_after(std::chrono::milliseconds(wait_ms));
  const std::uint64_t g = cl.generation;
  cl.retry->async_wait([this, &cl, g](beast::error_code ec) {
    if (ec || g != cl.generation || finished_) return;
    if (cl.offline) {
      cl.login_after_offline = true;  // nothing reaches a server until it is back
      return;
    }
    login(cl);
  });
}

void Run::send_edits(Client& cl, std::vector<Bytes> msgs) {
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    // The last message of a batch completes every edit made since the previous one went out.
    std::vector<std::uint32_t> ops;
    if (i + 1 == msgs.size()) ops = std::exchange(cl.unsent_ops, {});
    cl.inflight.push_back(std::move(ops));
    send(cl, FrameKind::kEdit, msgs[i]);
  }
}

// The strategies' acknowledgements: the replica tells (ClientReplica::acknowledges), else their
// JSON form says: {"type": "ack"} (crdt, lww, seq, ot), or, for ot through a server that relays
// its own op back, {"type": "remote"} by this agent.
bool Run::is_ack(const Client& cl, std::span<const std::uint8_t> payload) const {
  if (cl.inflight.empty()) return false;
  if (auto known = cl.replica->acknowledges(payload)) return *known;
  auto j = strategy_.to_json(payload);
  if (!j || !j->is_object()) return false;
  const json::object& o = j->as_object();
  const json::value* type = o.if_contains("type");
  if (!type || !type->is_string()) return false;
  if (type->as_string() == "ack") return true;
  const json::value* author = o.if_contains("author");
  return type->as_string() == "remote" && author && author->is_int64() && author->as_int64() == cl.agent;
}

void Run::ack_upto(Client& cl, std::uint32_t op) {
  std::vector<workload::Observed> acks;
  cl.obs.acked_through(op, static_cast<std::int32_t>(cl.target), acks);
  acked(acks);
}

void Run::acked(std::vector<workload::Observed>& acks) {
  const std::int64_t t = now_us();
  for (workload::Observed& a : acks) {
    ++acked_;
    if (editing_ && t >= steady_from_us()) ++acked_steady_;
    ack_ms_.add(t - a.made_us);
    if (a.made_us >= steady_from_us()) ack_steady_ms_.add(t - a.made_us);
    if (!ack_us_.empty()) {
      // API reads judge read-your-writes by when each op was acknowledged.
      std::vector<std::int64_t>& at = ack_us_.at(a.event.client);
      if (at.size() <= a.event.op) at.resize(a.event.op + 1, -1);
      if (at[a.event.op] < 0) at[a.event.op] = t;
    }
    if (writer_) emit(std::move(a.event));
  }
}

// ---------------------------------------------------------------- renames

void Run::schedule_rename(Client& cl, std::int64_t pause_us) {
  if (!cl.rename) cl.rename = std::make_unique<net::steady_timer>(ioc_);
  cl.rename->expires_after(std::chrono::microseconds(std::max<std::int64_t>(1, pause_us)));
  cl.rename->async_wait([this, &cl](beast::error_code ec) {
    if (!ec) rename(cl);
  });
}

void Run::rename(Client& cl) {
  if (!editing_) return;  // typing is over: no new renames (the simulator's `healed`)
  schedule_rename(cl, 1000 * cl.rename_rng.between(opt_.rename_min_ms, opt_.rename_max_ms));
  if (!cl.welcomed || !cl.ws) return;
  const std::uint32_t op = cl.next_rename++;
  const RenameMsg m{cl.title_version, "title " + std::to_string(cl.id) + "." + std::to_string(op)};
  if (writer_) {
    history::Event e;
    e.type = history::EventType::kRename;
    e.client = cl.id;
    e.doc = cl.doc;
    e.op = op;
    e.server = static_cast<std::int32_t>(cl.target);
    e.kind = "request";
    e.version = m.base;
    e.detail = m.title;
    emit(std::move(e));
  }
  send(cl, FrameKind::kRename, encode_rename(m));
}

void Run::on_title(Client& cl, const FrameView& f) {
  auto t = decode_title(f.payload);
  if (!t) return error("bad_frame", "client " + std::to_string(cl.id) + ": bad title: " + t.error().message);
  if (f.doc != cl.doc) return;
  cl.title_version = std::max(cl.title_version, t->version);
  if (t->answer == 0 || !writer_) return;  // someone else's rename: shown, nothing to answer
  history::Event e;
  e.type = history::EventType::kRename;
  e.client = cl.id;
  e.doc = cl.doc;
  // Answers come in the order the renames went out, on one connection; as the simulator's
  // client, the answer is taken for the last rename sent.
  e.op = cl.next_rename - 1;
  e.server = static_cast<std::int32_t>(cl.target);
  e.kind = t->answer == 1 ? "ack" : "notice";
  e.version = t->version;
  e.detail = t->title;
  emit(std::move(e));
}

// ---------------------------------------------------------------- API reads (reloads)

void Run::schedule_reload(Client& cl, std::int64_t pause_us) {
  if (!cl.reload) cl.reload = std::make_unique<net::steady_timer>(ioc_);
  cl.reload->expires_after(std::chrono::microseconds(std::max<std::int64_t>(1, pause_us)));
  cl.reload->async_wait([this, &cl](beast::error_code ec) {
    if (!ec) reload(cl);
  });
}

// As the simulator's Clients::reload: the next read is drawn first; a client not connected, or
// with a read in flight, lets this one go. OT and the CRDT keep their session on a reload; under
// strategies that adopt the loaded state (lww, seq) the answer is adopted (Run::adopt_read).
void Run::reload(Client& cl) {
  if (!editing_) return;  // typing is over: no new reloads
  schedule_reload(cl, 1000 * cl.reload_rng.between(opt_.reload_min_ms, opt_.reload_max_ms));
  if (!cl.welcomed || cl.loading || cl.token.empty() || cl.offline) return;
  cl.loading = true;
  const Target& t = api_ ? *api_ : targets_[cl.target];
  const std::int32_t server = api_ ? -1 : static_cast<std::int32_t>(cl.target);
  const std::int64_t sent = now_us();
  http_call(t, http::verb::get, "/api/documents/" + std::to_string(cl.doc), cl.token, "",
            [this, &cl, server, sent](const std::string& err, const http::response<http::string_body>& res) {
              cl.loading = false;
              const bool refusal = err.rfind("HTTP 401", 0) == 0 || err.rfind("HTTP 403", 0) == 0 ||
                                   err.rfind("HTTP 503", 0) == 0;
              if (refusal) {
                // A refusal, as the simulator writes one (401, 403, 503: the database down).
                history::Event e;
                e.type = history::EventType::kFault;
                e.kind = "refused";
                e.client = cl.id;
                e.doc = cl.doc;
                e.detail = "GET document: " + err.substr(5);
                if (writer_) emit(std::move(e));
                return;
              }
              if (!err.empty()) {
                // No answer from the server (killed; or the CDN's 502/504 for a dead upstream): no
                // read, as a simulated read to a dead server gets none.
                ++drops_["api_read:" + (err.rfind("HTTP ", 0) == 0 ? err.substr(0, 8) : err.substr(0, err.find(':')))];
                return;
              }
              boost::system::error_code jec;
              const json::value v = json::parse(res.body(), jec);
              const json::object* o = jec ? nullptr : v.if_object();
              const json::value* version = o ? o->if_contains("version") : nullptr;
              const json::value* latest = o ? o->if_contains("latest") : nullptr;
              const json::value* source = o ? o->if_contains("source") : nullptr;
              if (!version || !version->is_int64() || !latest || !latest->is_int64() || !source || !source->is_string()) {
                return error("api_read", "GET /api/documents/" + std::to_string(cl.doc) +
                                             ": the answer lacks \"version\", \"latest\" or \"source\": " +
                                             res.body().substr(0, 200));
              }
              ApiRead r;
              r.client = cl.id;
              r.doc = cl.doc;
              r.version = static_cast<std::uint64_t>(version->as_int64());
              r.latest = static_cast<std::uint64_t>(latest->as_int64());
              r.sent_us = sent;
              r.answered_us = now_us();
              // nginx's X-Cache-Status (scripts/cdn.sh): HIT is the CDN's copy, the simulator's "cdn".
              if (res["X-Cache-Status"] == "HIT") {
                r.source = "cdn";
              } else {
                r.source = std::string(source->as_string());
                r.server = server;
              }
              const std::uint64_t loaded = r.version;
              reads_.push_back(std::move(r));
              // As the simulator (Clients::finish_load): adopted while typing lasts, by a client
              // whose access was not revoked.
              if (strategy_.adopts_loaded_state && editing_ && !cl.revoking && cl.revoked_us < 0) {
                const json::value* welcome = o->if_contains("welcome");
                if (!welcome) {
                  return error("api_read", "GET /api/documents/" + std::to_string(cl.doc) +
                                               ": the answer lacks \"welcome\" (needed to adopt the read)");
                }
                adopt_read(cl, *welcome, loaded);
              }
            },
            cl.acked_version);
}

// A page reload under lww or seq, as the simulator's Clients::adopt_load: the old session ends
// (no `closed` fault: the page left it) and its unacknowledged edits with it, including edits in
// flight; the client logs in again for a fresh agent id (a new replica's characters must not
// reuse the old one's ids); the new connection's replica takes the loaded state and subscribes
// from the loaded version instead of saying hello (open_ws). Its later edits are made on that
// state: a stale read makes them write over newer text, as in the simulator.
void Run::adopt_read(Client& cl, const json::value& welcome, std::uint64_t version) {
  auto bytes = strategy_.from_json(welcome);
  if (!bytes) return error("api_read", "client " + std::to_string(cl.id) + ": \"welcome\": " + bytes.error().message);
  ++cl.generation;  // late callbacks of the old connection (and a pending retry) are ignored
  end_session(cl);
  cl.next_version.reset();
  cl.adopt_welcome = std::move(*bytes);
  cl.adopt_version = version;
  ++adopted_;
  if (cl.offline) {
    cl.login_after_offline = true;  // nothing reaches a server until it is back
    return;
  }
  login(cl);
}

void Run::emit_reads() {
  if (!writer_) return;
  // Per document, the change log's records in stamp order: how long it was at a time.
  std::map<std::uint32_t, std::vector<std::int64_t>> stamped;
  for (const CommitSeen& c : commits_) stamped[c.doc].push_back(c.t_us);
  for (auto& [doc, ts] : stamped) std::sort(ts.begin(), ts.end());
  // Each client's records (a client edits one document).
  std::map<std::int32_t, std::vector<const CommitSeen*>> by_writer;
  for (const CommitSeen& c : commits_) by_writer[c.writer].push_back(&c);
  // Welcomes: `latest` is the longest prefix of the log the client had shown (its earlier
  // welcomes' versions, then each next record whose edit it had seen or, its own, had
  // acknowledged; records of no client, the initial text, count as shown). The simulator's is
  // the server's applied prefix at each frame the client got. A server delivers its own clients'
  // edits to the others before their commit moves its applied index, so a welcome just after such
  // a delivery can sit below this prefix by the records still committing: counted stale here
  // where the simulator would not (a narrow window). A welcome with no version frame (a server
  // without them) keeps version 0 and latest 0.
  std::map<std::uint32_t, std::map<std::uint64_t, const CommitSeen*>> by_doc;
  for (const CommitSeen& c : commits_) by_doc[c.doc][c.version] = &c;
  for (WelcomeLoad& w : welcome_loads_) {
    if (!w.versioned) {
      w.e.latest = 0;
      writer_->write(w.e);
      continue;
    }
    std::uint64_t prefix = w.e.latest;
    const auto log = by_doc.find(w.e.doc);
    if (log != by_doc.end()) {
      for (auto it = log->second.upper_bound(prefix); it != log->second.end() && it->first == prefix + 1; ++it) {
        const CommitSeen& c = *it->second;
        const auto shown = c.writer < 0 ? w.shown.end() : w.shown.find(static_cast<std::uint32_t>(c.writer));
        if (c.writer >= 0 && (shown == w.shown.end() || c.op > shown->second)) break;
        prefix = it->first;
      }
    }
    w.e.latest = std::max(w.e.version, prefix);
    writer_->write(w.e);
  }
  for (const ApiRead& r : reads_) {
    history::Event e;
    e.type = history::EventType::kLoad;
    e.t_us = r.answered_us;
    e.client = r.client;
    e.doc = r.doc;
    e.server = r.server;
    e.version = r.version;
    e.latest = std::max(r.latest, r.version);
    if (r.source == "cdn") {
      // Served from the cache: the simulator's CDN gives the primary's log length at that
      // moment; here the records stamped by then.
      const auto it = stamped.find(r.doc);
      if (it != stamped.end()) {
        const auto n = static_cast<std::uint64_t>(
            std::upper_bound(it->second.begin(), it->second.end(), r.answered_us) - it->second.begin());
        e.latest = std::max(e.latest, n);
      }
    }
    // The sender's last acknowledged write when it asked: its newest record whose edit was
    // acknowledged before the read went out (the simulator's own_version).
    std::uint64_t own = 0;
    const std::vector<std::int64_t>& acks = ack_us_.at(r.client);
    if (const auto mine = by_writer.find(static_cast<std::int32_t>(r.client)); mine != by_writer.end()) {
      for (const CommitSeen* c : mine->second) {
        if (c->doc != r.doc || c->op >= acks.size()) continue;
        if (acks[c->op] >= 0 && acks[c->op] <= r.sent_us) own = std::max(own, c->version);
      }
    }
    e.source = r.source;
    if (r.version < own) e.source += ":missing_own_write";
    // Asked after the token's revocation was acknowledged, and served (as sim/cdn.cpp marks it).
    const std::int64_t revoked = clients_.at(r.client)->revoked_us;
    if (revoked >= 0 && r.sent_us >= revoked) e.source += ":revoked";
    writer_->write(e);
  }
}

// Under convlab/2, frames made while a write is in flight go out together in one message.
void Run::send(Client& cl, FrameKind kind, std::span<const std::uint8_t> payload) {
  if (!cl.v2 || cl.outbox.empty() || cl.outbox.back().frames >= kBatchFramesMax ||
      cl.outbox.back().data.size() >= kBatchTargetBytes) {
    cl.outbox.push_back(Client::OutMsg{});
  }
  Client::OutMsg& m = cl.outbox.back();
  append_frame(m.data, kind, cl.doc, payload);
  ++m.frames;
  if (!cl.writing) do_write(cl);
}

void Run::do_write(Client& cl) {
  // Offline: what it sends waits in the outbox until go_online.
  if (cl.outbox.empty() || !cl.ws || cl.offline) {
    cl.writing = false;
    return;
  }
  cl.writing = true;
  auto ws = cl.ws;
  auto msg = std::make_shared<Bytes>(std::move(cl.outbox.front().data));
  cl.outbox.pop_front();
  const std::uint64_t gen = cl.generation;
  ws->async_write(net::buffer(*msg), recycled([this, &cl, gen, ws, msg](beast::error_code ec, std::size_t) {
    if (gen != cl.generation) return;
    if (ec) return dropped(cl, gen, "write", ec.message());
    do_write(cl);
  }));
}

// ---------------------------------------------------------------- typing

void Run::schedule_tick(Client& cl, std::int64_t pause_us) {
  if (!cl.tick) cl.tick = std::make_unique<net::steady_timer>(ioc_);
  cl.tick->expires_after(std::chrono::microseconds(pause_us));
  cl.tick->async_wait([this, &cl](beast::error_code ec) {
    if (ec || !editing_) return;
    tick(cl);
  });
}

void Run::make_edit(Client& cl, const Splice& sp, std::uint32_t para) {
  workload::MadeEdit m = cl.obs.edit(edit_log_, *cl.replica, sp, para, client_clock_ms(cl.id),
                                     static_cast<std::int32_t>(cl.target), now_us(), writer_ ? &write_stamps_ : nullptr);
  m.event.offline = cl.offline;  // as the simulator's (sim/client_views.cpp)
  if (writer_) {
    emit(std::move(m.event));
    record_authors_.note_edit(cl.id, cl.agent, m.op, m.inserted.empty() ? CharId{} : m.inserted.front(),
                              static_cast<std::uint32_t>(m.inserted.size()), std::move(m.deleted));
  }
  ++edits_;
  cl.unsent_ops.push_back(m.op);
  send_edits(cl, std::move(m.msgs));
  note_acks(cl);
}

void Run::tick(Client& cl) {
  if (cl.welcomed && cl.ws) {
    const workload::DrawnEdit d = workload::next_edit(cl.rng, typing_, *cl.replica, cl.slot);
    make_edit(cl, d.splice, d.para);
  }
  const auto m = opt_.rate_multipliers.find(cl.id);
  schedule_tick(cl, workload::next_pause_us(cl.rng, typing_, cl.typist, m == opt_.rate_multipliers.end() ? 1.0 : m->second));
}

void Run::schedule_script() {
  for (std::size_t i = 0; i < opt_.script.size(); ++i) {
    auto timer = std::make_shared<net::steady_timer>(ioc_);
    timer->expires_at(start_ + std::chrono::milliseconds(opt_.script[i].at_ms));
    timer->async_wait([this, i, timer](beast::error_code ec) {
      if (ec || !editing_) return;
      const Options::ScriptedEdit& se = opt_.script[i];
      Client& cl = *clients_.at(se.client);
      // A client edits only a document it has loaded (sim/clients.cpp does the same).
      if (!cl.welcomed || !cl.ws) {
        ++script_skipped_;
        std::cerr << "\nconvlab-load: scripted edit " << i << " (client " << se.client << " at " << se.at_ms
                  << " ms): the client is not connected, no edit\n";
        return;
      }
      const std::u32string ins = *utf8_decode(se.ins);
      const std::size_t len = cl.replica->length();
      const std::uint64_t pos = std::min<std::uint64_t>(se.pos, len);
      const std::uint64_t del = std::min<std::uint64_t>(se.del, len - pos);
      if (pos != se.pos || del != se.del) {
        std::cerr << "\nconvlab-load: scripted edit " << i << " (client " << se.client << "): the replica holds " << len
                  << " characters, pos " << se.pos << " del " << se.del << " clamped to pos " << pos << " del " << del
                  << "\n";
      }
      const std::u32string before = cl.replica->text_range(0, pos);
      const auto para = static_cast<std::uint32_t>(std::count(before.begin(), before.end(), U'\n'));
      make_edit(cl, Splice{pos, del, ins}, para);
    });
  }
}

void Run::schedule_client_faults() {
  for (const Options::Offline& o : opt_.offline) {
    auto timer = std::make_shared<net::steady_timer>(ioc_);
    timer->expires_at(start_ + std::chrono::milliseconds(o.from_ms));
    timer->async_wait([this, o, timer](beast::error_code ec) {
      if (ec || finished_) return;
      Client& cl = *clients_.at(o.client);
      cl.offline = true;
      timer->expires_at(start_ + std::chrono::milliseconds(o.to_ms));
      timer->async_wait([this, &cl, timer](beast::error_code ec2) {
        if (!ec2 && !finished_) go_online(cl);
      });
    });
  }
  for (const Options::Disconnect& d : opt_.disconnects) {
    auto timer = std::make_shared<net::steady_timer>(ioc_);
    timer->expires_at(start_ + std::chrono::milliseconds(d.at_ms));
    timer->async_wait([this, d, timer](beast::error_code ec) {
      if (ec || finished_) return;
      Client& cl = *clients_.at(d.client);
      // A client not connected (connecting, or offline with its connection gone) has nothing to drop.
      if (!cl.ws || cl.offline) return;
      dropped(cl, cl.generation, "disconnect", "", 0);
    });
  }
  for (const Options::Disconnect& r : opt_.revokes) {
    auto timer = std::make_shared<net::steady_timer>(ioc_);
    timer->expires_at(start_ + std::chrono::milliseconds(r.at_ms));
    timer->async_wait([this, r, timer](beast::error_code ec) {
      if (ec || finished_) return;
      Client& cl = *clients_.at(r.client);
      if (cl.token.empty()) return error("revoke", "client " + std::to_string(r.client) + " has no token to revoke yet");
      // The server's own revocation: POST /logout with the token (its jti into the revocation
      // table, the other servers told through NOTIFY). The server closes the session before it
      // answers: no login after this point.
      cl.revoking = true;
      http_call(targets_[cl.target], http::verb::post, "/logout", cl.token, "",
                [this, &cl](const std::string& err, const http::response<http::string_body>&) {
                  if (!err.empty()) return error("revoke", "client " + std::to_string(cl.id) + ": POST /logout: " + err);
                  cl.revoked_us = now_us();
                });
    });
  }
}

void Run::go_online(Client& cl) {
  cl.offline = false;
  // What arrived meanwhile, in order, as the link lets it go; then what it queued goes out.
  const std::uint64_t gen = cl.generation;
  std::deque<std::vector<std::uint8_t>> held = std::move(cl.held_in);
  cl.held_in.clear();
  for (const auto& m : held) {
    if (gen != cl.generation) break;  // its connection dropped meanwhile: the rest went with it
    on_message(cl, gen, m);
  }
  if (cl.login_after_offline) {
    cl.login_after_offline = false;
    login(cl);
    return;
  }
  if (!cl.writing) do_write(cl);
}

void Run::schedule_caret(Client& cl) {
  if (!cl.caret) cl.caret = std::make_unique<net::steady_timer>(ioc_);
  cl.caret->expires_after(std::chrono::microseconds(static_cast<std::int64_t>(1e6 / opt_.caret_moves_per_s)));
  cl.caret->async_wait([this, &cl](beast::error_code ec) {
    if (ec || !editing_) return;
    if (cl.welcomed && cl.ws && !cl.offline) {
      ++cl.caret_moves;
      ++caret_moves_;
      const std::uint64_t caret = (cl.caret_moves * 7 + cl.slot) % (cl.replica->length() + 1);
      send(cl, FrameKind::kAwareness, encode_awareness(AwarenessState{caret, caret, "load " + std::to_string(cl.id)}));
    }
    schedule_caret(cl);
  });
}

void Run::note_acks(Client& cl) {
  // A replica with nothing unacknowledged had every edit so far acknowledged (after commit).
  std::vector<workload::Observed> acks;
  if (!cl.obs.synced(*cl.replica, static_cast<std::int32_t>(cl.target), acks)) return;
  cl.inflight.clear();
  cl.unsent_ops.clear();
  acked(acks);
}

void Run::note_seen(Client& cl) {
  std::vector<workload::Observed> seen;
  cl.obs.note_seen(edit_log_, *cl.replica, static_cast<std::int32_t>(cl.target), seen);
  const std::int64_t t = now_us();
  for (workload::Observed& o : seen) {
    // Edit-to-visible on the terminal counts edits made while this client was connected: one
    // that joins (or rejoins) later shows older edits at its welcome, which says nothing about
    // propagation. The history keeps every sighting; `convlab check` judges those.
    if (o.made_us >= cl.welcomed_at_us) {
      visible_ms_.add(t - o.made_us);
      if (o.made_us >= steady_from_us()) visible_steady_ms_.add(t - o.made_us);
    }
    if (writer_) emit(std::move(o.event));
  }
}

// ---------------------------------------------------------------- phases

}  // namespace convlab::load::detail
