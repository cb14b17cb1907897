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
#include "load/load.hpp"

#include "history/history.hpp"
#include "reports/checkers.hpp"
#include "server/core/protocol.hpp"
#include "server/core/rng.hpp"
#include "server/pg/store.hpp"
#include "server/strategies/registry.hpp"
#include "workload/durable.hpp"
#include "workload/overruled.hpp"
#include "workload/seen.hpp"
#include "workload/typing.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <boost/url.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace convlab::load {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
namespace json = boost::json;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A latency histogram with buckets 2% wide from 1 us to about 10 minutes: percentiles so far,
// cheaply, for the progress line and the summary.
class Histogram {
 public:
  void add(std::int64_t us) {
    const double v = static_cast<double>(std::max<std::int64_t>(1, us));
    auto b = static_cast<std::size_t>(std::log(v) / kLogBase);
    b = std::min(b, kBuckets - 1);
    ++counts_[b];
    ++n_;
    max_us_ = std::max(max_us_, us);
  }
  std::uint64_t count() const { return n_; }
  // The upper edge of the bucket holding quantile q, in milliseconds; 0 when empty.
  double quantile_ms(double q) const {
    if (n_ == 0) return 0;
    const auto want = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(n_)));
    std::uint64_t seen = 0;
    for (std::size_t b = 0; b < kBuckets; ++b) {
      seen += counts_[b];
      if (seen >= want && seen > 0) {
        return std::min(std::exp(static_cast<double>(b + 1) * kLogBase), static_cast<double>(max_us_)) / 1000.0;
      }
    }
    return static_cast<double>(max_us_) / 1000.0;
  }
  double max_ms() const { return static_cast<double>(max_us_) / 1000.0; }

 private:
  static constexpr double kLogBase = 0.0198026272961797;  // ln(1.02)
  static constexpr std::size_t kBuckets = 1400;
  std::vector<std::uint64_t> counts_ = std::vector<std::uint64_t>(kBuckets, 0);
  std::uint64_t n_ = 0;
  std::int64_t max_us_ = 0;
};

struct Target {
  std::string url;
  std::string host;  // for the Host header
  std::string port;
  tcp::endpoint endpoint;
};

using workload::DocEdit;
using workload::EditRef;

// A document's inserting edits in the order they were made, and when each was made.
struct DocEdits {
  std::vector<DocEdit> edits;
  std::vector<std::int64_t> t_us;
};

using Ws = websocket::stream<beast::tcp_stream>;

// A WebSocket read or write handler whose Beast operation state comes from the thread's
// recycling cache instead of a malloc and free per message.
template <class Handler>
auto recycled(Handler&& h) {
  return net::bind_allocator(net::recycling_allocator<void>(), std::forward<Handler>(h));
}

// How long a client keeps looking for another client's edit in its replica.
constexpr std::int64_t kUnseenGiveUpUs = 20'000'000;

struct Client {
  std::uint32_t id = 0;
  std::uint32_t doc = 0;
  std::uint32_t slot = 0;
  std::size_t target = 0;      // index into targets of the current or next connection
  Rng rng{0};                  // the typing workload's draws
  Rng backoff_rng{0};
  workload::Typist typist;
  std::unique_ptr<ClientReplica> replica;
  AgentId agent = 0;
  std::string token;
  std::shared_ptr<Ws> ws;      // the open connection, or null
  std::uint64_t generation = 0;  // bumped on every connection attempt: late callbacks compare
  bool welcomed = false;
  bool connecting = false;
  bool ever_welcomed = false;
  bool v2 = false;             // the server answered convlab/2: messages carry several frames
  struct OutMsg {
    Bytes data;
    std::size_t frames = 0;
  };
  std::deque<OutMsg> outbox;   // messages waiting for the write in flight
  bool writing = false;
  std::uint32_t next_op = 1;
  std::uint32_t acked_upto = 0;
  // When each op not yet acknowledged was made, in order: the front is op acked_upto + 1.
  std::deque<std::int64_t> sent_at_us;
  // Per edit message sent and not yet acknowledged, in order: the ops it completes (a message
  // may carry several composed edits, as OT's buffer; or be one of several for one edit).
  std::deque<std::vector<std::uint32_t>> inflight;
  std::vector<std::uint32_t> unsent_ops;  // edits made whose message has not gone out yet
  std::map<std::uint32_t, std::uint32_t> seen_ops;
  std::set<std::pair<std::uint32_t, std::uint32_t>> seen;
  workload::Unseen unseen;  // the document's edits by others not shown yet (indexing replicas)
  std::uint32_t attempts = 0;  // failed connection attempts in a row
  std::int64_t last_frame_us = 0;
  std::int64_t welcomed_at_us = 0;  // when its current connection got its welcome
  std::unique_ptr<net::steady_timer> tick;
  std::unique_ptr<net::steady_timer> retry;
};

class Run {
 public:
  Run(const Options& opt, const Strategy& strategy, std::vector<Target> targets)
      : opt_(opt), strategy_(strategy), targets_(std::move(targets)), typing_(workload::at_rate(opt.rate)),
        progress_timer_(ioc_), phase_timer_(ioc_), steady_timer_(ioc_) {}

  int run();

 private:
  std::int64_t now_us() const {
    return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start_).count();
  }
  static std::int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  void emit(history::Event e) {
    e.t_us = now_us();
    if (writer_) writer_->write(e);
  }
  // The servers' change log as `commit` events (--pg), each at its server's clock reading.
  void emit_commits();
  void error(const std::string& kind, const std::string& detail) {
    ++errors_[kind];
    if (errors_[kind] <= 3) std::cerr << "\nconvlab-load: " << kind << ": " << detail << "\n";
  }

  // --- a client's connection ---
  void start_client(Client& cl);
  using HttpDone = std::function<void(const std::string& err, const http::response<http::string_body>& res)>;
  void http_call(const Target& t, http::verb verb, const std::string& path, const std::string& bearer,
                 std::string body, HttpDone done);
  void login(Client& cl);
  void open_ws(Client& cl, std::uint64_t gen);
  void read_loop(Client& cl, std::uint64_t gen, std::shared_ptr<Ws> ws, std::shared_ptr<beast::flat_buffer> buf);
  void on_frame(Client& cl, const FrameView& f);
  void dropped(Client& cl, std::uint64_t gen, const std::string& kind, const std::string& detail);
  void send(Client& cl, FrameKind kind, std::span<const std::uint8_t> payload);
  void send_edits(Client& cl, std::vector<Bytes> msgs);
  bool is_ack(const Client& cl, std::span<const std::uint8_t> payload) const;
  void ack_upto(Client& cl, std::uint32_t op);
  void do_write(Client& cl);

  // --- typing, acks, visibility ---
  void schedule_tick(Client& cl, std::int64_t pause_us);
  void tick(Client& cl);
  void note_acks(Client& cl);
  void note_seen(Client& cl);
  // `once`: the caller sees each edit at most once (the indexed path drops it from `unseen`), so
  // the `seen` set need not remember it.
  void mark_seen(Client& cl, std::uint32_t author, std::uint32_t op, std::int64_t edit_t_us, bool once = false);
  std::optional<std::pair<std::uint32_t, std::uint32_t>> edit_of(const Client& cl, CharId id) const;

  // --- phases ---
  void print_progress(bool final_line);
  void progress_loop();
  void stop_editing();
  void wait_quiet();
  void load_durable(std::uint32_t doc);
  void finish();
  bool quiet() const;

  const Options& opt_;
  const Strategy& strategy_;
  std::vector<Target> targets_;
  workload::TypingConfig typing_;
  net::io_context ioc_{1};
  Clock::time_point start_ = Clock::now();
  std::vector<std::unique_ptr<Client>> clients_;
  std::map<AgentId, std::pair<std::uint32_t, std::vector<EditRef>>> edits_by_agent_;  // agent -> (client, refs)
  workload::RecordAuthors record_authors_;  // the edit each committed record came from (--pg)
  workload::WriteStamps write_stamps_;      // the edit each register write came from (overruled)
  std::int64_t start_wall_ms_ = 0;          // the wall clock at t = 0
  std::vector<DocEdits> doc_edits_;
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::int64_t> edit_time_us_;  // (client, op) -> t

  std::ofstream history_file_;
  std::unique_ptr<history::Writer> writer_;
  net::steady_timer progress_timer_;
  net::steady_timer phase_timer_;
  net::steady_timer steady_timer_;  // fires when the steady state begins
  // This process's CPU seconds (user + system) so far.
  static double cpu_s() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    const auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
    return secs(ru.ru_utime) + secs(ru.ru_stime);
  }
  double steady_cpu_s_ = -1;  // CPU at the steady state's start; from stop_editing on, spent in it
  bool editing_ = true;
  bool finished_ = false;
  std::int64_t stop_us_ = 0;
  std::int64_t all_welcomed_us_ = -1;
  std::int64_t quiet_deadline_us_ = 0;

  // statistics
  std::uint64_t edits_ = 0, acked_ = 0, delivered_ = 0, reconnects_ = 0, abandoned_ = 0;
  // The steady state: from warmup_s after every client's first welcome until typing stops.
  std::int64_t steady_from_us() const {
    return all_welcomed_us_ < 0 ? std::numeric_limits<std::int64_t>::max()
                                : all_welcomed_us_ + static_cast<std::int64_t>(opt_.warmup_s * 1e6);
  }
  std::uint64_t acked_steady_ = 0;  // acks that arrived in the steady state
  std::uint64_t welcomed_now_ = 0;
  std::uint64_t ack_frames_ = 0;  // deliver frames that were acknowledgements
  Histogram ack_ms_, visible_ms_;
  Histogram ack_steady_ms_, visible_steady_ms_;  // of edits made in the steady state
  std::map<std::string, std::uint64_t> errors_;
  std::map<std::string, std::uint64_t> drops_;  // connection drops by kind (not errors: recovered)
  std::uint32_t durable_pending_ = 0;
  std::vector<FrameView> views_;  // the frames of the message being handled
  bool is_tty_ = isatty(2) != 0;
};

// ---------------------------------------------------------------- connection

void Run::start_client(Client& cl) {
  cl.connecting = true;
  login(cl);
}

// One HTTP request on its own connection; `done` gets the answer, or what went wrong ("connect:
// ...", "http: ...") with an empty answer.
void Run::http_call(const Target& t, http::verb verb, const std::string& path, const std::string& bearer,
                    std::string body, HttpDone done) {
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
  const std::uint64_t gen = ++cl.generation;
  std::string body = json::serialize(json::object{{"user", opt_.user_prefix + std::to_string(cl.id)},
                                                  {"password", opt_.password}});
  http_call(targets_[cl.target], http::verb::post, "/login", "", std::move(body),
            [this, &cl, gen](const std::string& err, const http::response<http::string_body>& res) {
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
              if (auto known = edits_by_agent_.find(cl.agent); known != edits_by_agent_.end()) {
                error("agent_reused", "POST /login gave client " + std::to_string(cl.id) + " agent " +
                                          std::to_string(cl.agent) + ", already client " +
                                          std::to_string(known->second.first) + "'s");
              }
              edits_by_agent_[cl.agent].first = cl.id;
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
    const char* offer = opt_.protocol >= 2 ? "convlab/2, convlab/1" : "convlab/1";
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
      cl.v2 = (*res)[http::field::sec_websocket_protocol] == "convlab/2";
      cl.replica = strategy_.make_client(cl.agent);
      if (writer_) workload::keep_overruled(*cl.replica, write_stamps_);
      cl.acked_upto = cl.next_op - 1;
      cl.sent_at_us.clear();
      cl.inflight.clear();
      cl.unsent_ops.clear();
      cl.outbox.clear();
      cl.writing = false;
      send(cl, FrameKind::kHello, {});
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
    cl.last_frame_us = now_us();
    auto ok = decode_batch(std::span<const std::uint8_t>(static_cast<const std::uint8_t*>(data.data()), data.size()),
                           views_, cl.v2 ? kMaxBatchFrames : 1);
    if (!ok) {
      error("bad_frame", "client " + std::to_string(cl.id) + ": " + ok.error().message);
    } else {
      // The views point into `buf`; on_frame may drop the connection, but `buf` lives on here.
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
    buf->consume(buf->size());
    if (gen == cl.generation && cl.ws == ws) read_loop(cl, gen, ws, buf);
  }));
}

void Run::on_frame(Client& cl, const FrameView& f) {
  switch (f.kind) {
    case FrameKind::kWelcome: {
      auto back = cl.replica->receive(f.payload);
      if (!back) return error("replica", "client " + std::to_string(cl.id) + " refused a welcome: " + back.error().message);
      const bool first = !cl.ever_welcomed;
      cl.welcomed = true;
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
        load.source = "server:" + std::to_string(cl.target);
        emit(std::move(load));
      }
      send_edits(cl, std::move(*back));
      if (first && editing_) {
        schedule_tick(cl, workload::draw_us(cl.rng, typing_.think_ms));
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
      }
      if (ack) {
        ++ack_frames_;
        // Acknowledgements come in the order the messages went out: this one completes the
        // oldest message in flight, and with it every edit up to the last it carried.
        std::vector<std::uint32_t> ops = std::move(cl.inflight.front());
        cl.inflight.pop_front();
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
      return;
    }
    case FrameKind::kTitle:
      return;
    default:
      return error("bad_frame", "client " + std::to_string(cl.id) + ": a client-only frame kind from the server");
  }
}

void Run::dropped(Client& cl, std::uint64_t gen, const std::string& kind, const std::string& detail) {
  if (gen != cl.generation || finished_) return;
  ++cl.generation;  // late callbacks of this connection are ignored from here on
  ++drops_[kind];
  if (cl.ws) {
    auto ws = std::move(cl.ws);
    beast::error_code ignore;
    beast::get_lowest_layer(*ws).socket().close(ignore);
  }
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
  // Its unacknowledged edits go with the replica (as in the simulator).
  abandoned_ += cl.next_op - 1 - cl.acked_upto;
  cl.acked_upto = cl.next_op - 1;
  cl.sent_at_us.clear();
  cl.inflight.clear();
  cl.unsent_ops.clear();
  cl.welcomed = false;
  cl.connecting = true;
  cl.outbox.clear();
  cl.writing = false;
  ++reconnects_;
  ++cl.attempts;
  // Any server takes any document (single-writer ones are forwarded to their home): try the
  // next one.
  cl.target = (cl.target + 1) % targets_.size();
  const std::int64_t base_ms = std::min<std::int64_t>(5000, 100LL << std::min<std::uint32_t>(cl.attempts, 6));
  const std::int64_t wait_ms = base_ms / 2 + cl.backoff_rng.between(0, base_ms / 2);
  if (!cl.retry) cl.retry = std::make_unique<net::steady_timer>(ioc_);
  cl.retry->expires_after(std::chrono::milliseconds(wait_ms));
  const std::uint64_t g = cl.generation;
  cl.retry->async_wait([this, &cl, g](beast::error_code ec) {
    if (ec || g != cl.generation || finished_) return;
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
  const std::int64_t t = now_us();
  while (cl.acked_upto < op) {
    ++cl.acked_upto;
    if (writer_) {
      history::Event e;
      e.type = history::EventType::kAck;
      e.client = cl.id;
      e.doc = cl.doc;
      e.op = cl.acked_upto;
      e.server = static_cast<std::int32_t>(cl.target);
      emit(std::move(e));
    }
    ++acked_;
    if (editing_ && t >= steady_from_us()) ++acked_steady_;
    if (!cl.sent_at_us.empty()) {
      const std::int64_t made = cl.sent_at_us.front();
      cl.sent_at_us.pop_front();
      ack_ms_.add(t - made);
      if (made >= steady_from_us()) ack_steady_ms_.add(t - made);
    }
  }
}

// Under convlab/2, frames made while a write is in flight go out together in one message.
void Run::send(Client& cl, FrameKind kind, std::span<const std::uint8_t> payload) {
  if (!cl.v2 || cl.outbox.empty() || cl.outbox.back().frames >= kMaxBatchFrames ||
      cl.outbox.back().data.size() >= kBatchTargetBytes) {
    cl.outbox.push_back(Client::OutMsg{});
  }
  Client::OutMsg& m = cl.outbox.back();
  append_frame(m.data, kind, cl.doc, payload);
  ++m.frames;
  if (!cl.writing) do_write(cl);
}

void Run::do_write(Client& cl) {
  if (cl.outbox.empty() || !cl.ws) {
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

void Run::tick(Client& cl) {
  if (cl.welcomed && cl.ws) {
    const workload::DrawnEdit d = workload::next_edit(cl.rng, typing_, *cl.replica, cl.slot);
    const Splice& sp = d.splice;
    // The history's record of what the edit deleted (only when a history is written).
    const std::vector<CharId> deleted_ids = writer_ ? cl.replica->char_ids_range(sp.pos, sp.del) : std::vector<CharId>{};
    const std::uint32_t op = cl.next_op++;
    const std::int64_t clock_ms = wall_ms();
    auto msgs = cl.replica->local_edit(sp, clock_ms);
    if (writer_) workload::note_writes(*cl.replica, write_stamps_, cl.id, op);
    const std::int64_t t = now_us();
    std::vector<CharId> inserted;
    if (!sp.ins.empty() && sp.pos + sp.ins.size() <= cl.replica->length()) {
      inserted = cl.replica->char_ids_range(sp.pos, sp.ins.size());
    }
    if (writer_) {
      history::Event e;
      e.type = history::EventType::kEdit;
      e.client = cl.id;
      e.doc = cl.doc;
      e.op = op;
      e.server = static_cast<std::int32_t>(cl.target);
      e.clock_ms = clock_ms;
      e.pos = sp.pos;
      e.del = sp.del;
      e.ins = sp.ins;
      e.para = d.para;
      e.inserted = history::compress_ids(inserted);
      e.deleted = history::compress_ids(deleted_ids);
      e.seen_ops = cl.seen_ops;
      emit(std::move(e));
      record_authors_.note_edit(cl.id, cl.agent, op, inserted.empty() ? CharId{} : inserted.front(),
                                static_cast<std::uint32_t>(inserted.size()), deleted_ids);
    }
    ++edits_;
    cl.sent_at_us.push_back(t);
    if (!inserted.empty()) {
      edits_by_agent_[inserted.front().agent].second.push_back(EditRef{inserted.front().seq, op});
      DocEdits& de = doc_edits_[cl.doc];
      de.edits.push_back(DocEdit{cl.id, op, inserted.front().agent, inserted.front().seq,
                                 static_cast<std::uint32_t>(inserted.size())});
      de.t_us.push_back(t);
      if (!cl.replica->indexes_ids()) edit_time_us_[{cl.id, op}] = t;  // for note_seen's scan
    }
    cl.unsent_ops.push_back(op);
    send_edits(cl, std::move(msgs));
    note_acks(cl);
  }
  schedule_tick(cl, workload::next_pause_us(cl.rng, typing_, cl.typist, 1.0));
}

void Run::note_acks(Client& cl) {
  // A replica with nothing unacknowledged had every edit so far acknowledged (after commit).
  if (!cl.replica->synced()) return;
  cl.inflight.clear();
  cl.unsent_ops.clear();
  ack_upto(cl, cl.next_op - 1);
}

std::optional<std::pair<std::uint32_t, std::uint32_t>> Run::edit_of(const Client& cl, CharId id) const {
  auto a = edits_by_agent_.find(id.agent);
  if (a == edits_by_agent_.end() || a->second.first == cl.id) return std::nullopt;
  const std::optional<std::uint32_t> op = workload::op_of(a->second.second, id.seq);
  if (!op) return std::nullopt;
  return std::make_pair(a->second.first, *op);
}

void Run::mark_seen(Client& cl, std::uint32_t author, std::uint32_t op, std::int64_t edit_t_us, bool once) {
  if (!once && !cl.seen.insert({author, op}).second) return;
  if (writer_) {  // the history's bookkeeping
    std::uint32_t& hi = cl.seen_ops[author];
    hi = std::max(hi, op);
    history::Event e;
    e.type = history::EventType::kSeen;
    e.client = cl.id;
    e.doc = cl.doc;
    e.author = author;
    e.op = op;
    e.server = static_cast<std::int32_t>(cl.target);
    emit(std::move(e));
  }
  // Edit-to-visible on the terminal counts edits made while this client was connected: one
  // that joins (or rejoins) later shows older edits at its welcome, which says nothing about
  // propagation. The history keeps every sighting; `convlab check` judges those.
  if (edit_t_us >= cl.welcomed_at_us) {
    const std::int64_t t = now_us();
    visible_ms_.add(t - edit_t_us);
    if (edit_t_us >= steady_from_us()) visible_steady_ms_.add(t - edit_t_us);
  }
}

void Run::note_seen(Client& cl) {
  const DocEdits& doc = doc_edits_[cl.doc];
  cl.unseen.catch_up(doc.edits, cl.id);
  if (cl.unseen.edits.empty()) return;
  if (cl.replica->indexes_ids()) {
    // An edit whose characters were all deleted before this client could show them is never
    // seen; after kUnseenGiveUpUs it is no longer looked for, so the list stays short.
    const std::int64_t give_up_before = now_us() - kUnseenGiveUpUs;
    std::erase_if(cl.unseen.edits, [&](std::uint32_t i) {
      const DocEdit& d = doc.edits[i];
      if (doc.t_us[i] < give_up_before) return true;
      if (!workload::shows(*cl.replica, d)) return false;
      mark_seen(cl, d.author, d.op, doc.t_us[i], /*once=*/true);
      return true;
    });
    return;
  }
  // Replicas without an index: one pass over the document's ids, in document order.
  bool any = false;
  for (const CharId& id : cl.replica->char_ids()) {
    const auto edit = edit_of(cl, id);
    if (!edit || cl.seen.contains(*edit)) continue;
    const auto t = edit_time_us_.find(*edit);
    if (t == edit_time_us_.end()) continue;  // ids of a reused agent (reported at its login)
    mark_seen(cl, edit->first, edit->second, t->second);
    any = true;
  }
  if (any) {
    std::erase_if(cl.unseen.edits,
                  [&](std::uint32_t i) { return cl.seen.contains({doc.edits[i].author, doc.edits[i].op}); });
  }
}

// ---------------------------------------------------------------- phases

bool Run::quiet() const {
  const std::int64_t t = now_us();
  for (const auto& c : clients_) {
    if (!c->welcomed || !c->replica->synced() || !c->outbox.empty()) return false;
    if (t - c->last_frame_us < 500'000) return false;
  }
  return true;
}

void Run::print_progress(bool final_line) {
  if (!opt_.progress) return;
  const double s = static_cast<double>(now_us()) / 1e6;
  char line[256];
  std::snprintf(line, sizeof line,
                "%6.1fs %s conn %llu/%zu edits %llu acked %llu delivered %llu ack p99 %.1f ms visible p99 %.1f ms reconnects %llu",
                s, editing_ ? "typing" : (finished_ ? "done  " : "drain "),
                static_cast<unsigned long long>(std::count_if(clients_.begin(), clients_.end(),
                                                              [](const auto& c) { return c->welcomed; })),
                clients_.size(), static_cast<unsigned long long>(edits_), static_cast<unsigned long long>(acked_),
                static_cast<unsigned long long>(delivered_), ack_ms_.quantile_ms(0.99), visible_ms_.quantile_ms(0.99),
                static_cast<unsigned long long>(reconnects_));
  if (is_tty_) {
    std::fprintf(stderr, "\r%s\033[K%s", line, final_line ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s\n", line);
  }
}

void Run::progress_loop() {
  progress_timer_.expires_after(is_tty_ ? 1s : 5s);
  progress_timer_.async_wait([this](beast::error_code ec) {
    if (ec || finished_) return;
    print_progress(false);
    progress_loop();
  });
}

void Run::stop_editing() {
  editing_ = false;
  stop_us_ = now_us();
  steady_timer_.cancel();
  if (steady_cpu_s_ >= 0) steady_cpu_s_ = cpu_s() - steady_cpu_s_;
  std::printf("typing stops (%.1f s)\n", static_cast<double>(stop_us_) / 1e6);
  std::fflush(stdout);
  for (auto& c : clients_) {
    if (c->tick) c->tick->cancel();
  }
  history::Event heal;
  heal.type = history::EventType::kHeal;
  emit(std::move(heal));
  quiet_deadline_us_ = now_us() + static_cast<std::int64_t>(opt_.drain_s * 1e6);
  wait_quiet();
}

void Run::wait_quiet() {
  phase_timer_.expires_after(100ms);
  phase_timer_.async_wait([this](beast::error_code ec) {
    if (ec) return;
    if (!quiet() && now_us() < quiet_deadline_us_) return wait_quiet();
    if (!quiet()) {
      std::size_t missing = 0;
      for (const auto& c : clients_) missing += (!c->welcomed || !c->replica->synced()) ? 1 : 0;
      error("not_quiet", std::to_string(missing) + " clients not connected or not synced after " +
                             std::to_string(opt_.drain_s) + " s");
    }
    durable_pending_ = opt_.docs;
    for (std::uint32_t d = 0; d < opt_.docs; ++d) load_durable(d);
  });
}

// GET /api/documents/{doc} from the first server (every server reads PostgreSQL): the durable state,
// as a strategy welcome; a fresh replica shows its text and ids.
void Run::load_durable(std::uint32_t doc) {
  const std::size_t ti = 0;
  const Target& t = targets_[ti];
  std::string token;
  for (const auto& c : clients_) {
    if (!c->token.empty()) token = c->token;
  }
  auto done = [this, doc](const std::string& err, std::optional<std::pair<std::u32string, std::vector<CharId>>> got) {
    if (!err.empty()) error("durable", "GET /api/documents/" + std::to_string(doc) + ": " + err);
    if (got) {
      history::Event e;
      e.type = history::EventType::kFinal;
      e.replica = "durable";
      e.doc = doc;
      e.text = got->first;
      e.ids = history::compress_ids(got->second);
      emit(std::move(e));
    }
    if (--durable_pending_ == 0) finish();
  };
  http_call(t, http::verb::get, "/api/documents/" + std::to_string(doc), token, "",
            [this, done](const std::string& err, const http::response<http::string_body>& res) {
              if (!err.empty()) return done(err, std::nullopt);
              boost::system::error_code jec;
              json::value v = json::parse(res.body(), jec);
              const json::object* o = jec ? nullptr : v.if_object();
              const json::value* welcome = o ? o->if_contains("welcome") : nullptr;
              if (!welcome) return done("no \"welcome\" in the answer", std::nullopt);
              auto bytes = strategy_.from_json(*welcome);
              if (!bytes) return done("\"welcome\": " + bytes.error().message, std::nullopt);
              auto replica = strategy_.make_client(kServerAgent - 1);
              auto back = replica->receive(*bytes);
              if (!back) return done("the welcome does not load: " + back.error().message, std::nullopt);
              done("", std::make_pair(replica->text(), replica->char_ids()));
            });
}

void Run::emit_commits() {
  auto logs = pg::read_change_logs(opt_.pg_url, opt_.docs);
  if (!logs) return error("change_log", logs.error().message);
  for (std::uint32_t doc = 0; doc < logs->size(); ++doc) {
    // Documents start empty on the real server; the log replays from there.
    workload::DurableText durable(strategy_, false, {});
    for (const LogRecord& rec : (*logs)[doc]) {
      auto change = durable.append(rec);
      if (!change) return error("change_log", "document " + std::to_string(doc) + ": " + change.error().message);
      history::Event e;
      e.type = history::EventType::kCommit;
      e.doc = doc;
      e.version = rec.index;
      e.server = -1;  // the change log does not say which server appended it
      if (const auto edit = record_authors_.record(rec.author, *change)) {
        e.writer = static_cast<std::int32_t>(edit->first);
        e.op = edit->second;
      }
      e.inserted = history::compress_ids(change->added);
      e.deleted = history::compress_ids(change->removed);
      // When the accepting server stamped it (its wall clock, on this machine): these lines come
      // after the run, in log order, each at that time.
      e.t_us = std::max<std::int64_t>(0, (rec.server_ms - start_wall_ms_) * 1000);
      writer_->write(e);
    }
  }
}

void Run::finish() {
  if (writer_ && !opt_.pg_url.empty()) emit_commits();
  for (const auto& c : clients_) {
    if (!c->welcomed) {
      error("not_connected", "client " + std::to_string(c->id) + " was not connected at the end");
      continue;
    }
    history::Event e;
    e.type = history::EventType::kFinal;
    e.replica = "client:" + std::to_string(c->id);
    e.doc = c->doc;
    e.text = c->replica->text();
    e.ids = history::compress_ids(c->replica->char_ids());
    emit(std::move(e));
  }
  finished_ = true;
  print_progress(true);
  progress_timer_.cancel();
  for (auto& c : clients_) {
    ++c->generation;
    if (c->retry) c->retry->cancel();
    if (c->ws) {
      auto ws = std::move(c->ws);
      ws->async_close(websocket::close_code::normal, [ws](beast::error_code) {});
    }
  }
  // Closes that do not complete promptly are abandoned.
  phase_timer_.expires_after(2s);
  phase_timer_.async_wait([this](beast::error_code) { ioc_.stop(); });
}

int Run::run() {
  if (!opt_.history.empty()) {
    history_file_.open(opt_.history, std::ios::binary | std::ios::trunc);
    if (!history_file_) {
      std::cerr << "convlab-load: --history " << opt_.history << ": cannot open for writing\n";
      return 2;
    }
    writer_ = std::make_unique<history::Writer>(&history_file_);
  }
  {
    history::Event meta;
    meta.type = history::EventType::kMeta;
    meta.meta["scenario"] = "real";
    meta.meta["variant"] = "convlab-load";
    meta.meta["strategy"] = std::string(strategy_.name);
    meta.meta["seed"] = std::to_string(opt_.seed);
    meta.meta["clients"] = std::to_string(opt_.clients);
    meta.meta["servers"] = std::to_string(targets_.size());
    meta.meta["docs"] = std::to_string(opt_.docs);
    std::string urls;
    for (const Target& t : targets_) urls += (urls.empty() ? "" : " ") + t.url;
    meta.meta["urls"] = urls;
    meta.meta["rate"] = std::to_string(opt_.rate);
    meta.meta["orders_by_client_clock"] = strategy_.orders_by_client_clock ? "true" : "false";
    // A welcome frame does not say which log index it was made at: its load lines carry none.
    meta.meta["welcome_versions"] = "false";
    if (!opt_.pg_url.empty()) {
      // The change log follows the run as commit events (emit_commits).
      meta.meta["commits"] = "true";
      meta.meta["persistence"] = "changelog";
    }
    start_ = Clock::now();  // t = 0: the meta line
    start_wall_ms_ = wall_ms();
    emit(std::move(meta));
  }
  doc_edits_.resize(opt_.docs);
  Rng seeder(opt_.seed);
  for (std::uint32_t i = 0; i < opt_.clients; ++i) {
    auto c = std::make_unique<Client>();
    c->id = i;
    c->doc = i % opt_.docs;
    c->slot = i / opt_.docs;
    c->rng = seeder.fork();
    c->backoff_rng = seeder.fork();
    // Every strategy spreads round-robin within each document, so its clients sit on every
    // server (the servers forward ot/seq edits to the document's home: they need their peers).
    c->target = (c->slot + c->doc) % targets_.size();
    clients_.push_back(std::move(c));
  }
  // The ramp: connections open at `ramp` per second.
  auto ramp_timer = std::make_shared<net::steady_timer>(ioc_);
  auto next = std::make_shared<std::uint32_t>(0);
  auto open_some = std::make_shared<std::function<void()>>();
  *open_some = [this, ramp_timer, next, open_some] {
    if (!editing_) return;
    const auto due = static_cast<std::uint32_t>(std::min<double>(
        static_cast<double>(clients_.size()), std::floor(static_cast<double>(now_us()) / 1e6 * opt_.ramp) + 1));
    for (; *next < due; ++*next) start_client(*clients_[*next]);
    if (*next < clients_.size()) {
      ramp_timer->expires_after(10ms);
      ramp_timer->async_wait([open_some](beast::error_code ec) {
        if (!ec) (*open_some)();
      });
    } else {
      *open_some = nullptr;  // breaks the cycle once every client is started
    }
  };
  net::post(ioc_, [open_some] { (*open_some)(); });
  auto stop_timer = std::make_shared<net::steady_timer>(ioc_);
  stop_timer->expires_after(std::chrono::microseconds(static_cast<std::int64_t>(opt_.duration_s * 1e6)));
  stop_timer->async_wait([this](beast::error_code ec) {
    if (!ec) stop_editing();
  });
  progress_loop();
  ioc_.run();
  history_file_.close();

  // The summary.
  const std::int64_t steady_from = steady_from_us();
  const double steady_s = stop_us_ > steady_from ? static_cast<double>(stop_us_ - steady_from) / 1e6 : 0.0;
  const double edit_s = static_cast<double>(stop_us_) / 1e6;
  const double durable_per_s = steady_s >= 1.0 ? static_cast<double>(acked_steady_) / steady_s
                                               : static_cast<double>(acked_) / std::max(edit_s, 1e-9);
  std::printf("convlab-load: %s, %u clients on %zu server(s), %u docs, %.2f edits/s per client, %.1f s\n",
              std::string(strategy_.name).c_str(), opt_.clients, targets_.size(), opt_.docs, opt_.rate, edit_s);
  std::printf("  edits %llu, acked %llu, abandoned unacked at a disconnect %llu, deliveries %llu, reconnects %llu\n",
              static_cast<unsigned long long>(edits_), static_cast<unsigned long long>(acked_),
              static_cast<unsigned long long>(abandoned_), static_cast<unsigned long long>(delivered_),
              static_cast<unsigned long long>(reconnects_));
  // Every acknowledgement is a deliver frame too; what is left is other clients' changes.
  const std::uint64_t fanout = delivered_ - ack_frames_;
  std::printf("  durable edits/s %.0f (acks after commit, %s), fan-out deliveries/s %.0f\n",
              durable_per_s, steady_s >= 1.0 ? "steady state" : "whole run",
              static_cast<double>(fanout) / std::max(edit_s, 1e-9));
  std::printf("  steady state acks %llu\n", static_cast<unsigned long long>(acked_steady_));
  const auto latencies = [](const char* what, const Histogram& ack, const Histogram& visible) {
    std::printf("  %s edit-to-ack ms p50 %.1f p99 %.1f max %.1f (%llu)\n", what, ack.quantile_ms(0.5),
                ack.quantile_ms(0.99), ack.max_ms(), static_cast<unsigned long long>(ack.count()));
    std::printf("  %s edit-to-visible ms (edits made while the seer was connected) p50 %.1f p99 %.1f max %.1f (%llu)\n",
                what, visible.quantile_ms(0.5), visible.quantile_ms(0.99), visible.max_ms(),
                static_cast<unsigned long long>(visible.count()));
  };
  if (steady_s > 0) {
    std::printf("  steady state: %.1f s to %.1f s (every client connected at %.1f s, then %.1f s of warm-up)\n",
                static_cast<double>(steady_from) / 1e6, edit_s, static_cast<double>(all_welcomed_us_) / 1e6,
                opt_.warmup_s);
    latencies("steady", ack_steady_ms_, visible_steady_ms_);
  } else {
    std::printf("  steady state: none (typing stopped before every client was connected for --warmup %.1f s)\n",
                opt_.warmup_s);
  }
  latencies("whole run", ack_ms_, visible_ms_);
  if (!drops_.empty()) {
    std::printf("  connection drops (recovered by reconnecting):");
    for (const auto& [k, n] : drops_) std::printf(" %s %llu", k.c_str(), static_cast<unsigned long long>(n));
    std::printf("\n");
  }
  bool ok = errors_.empty();
  if (errors_.empty()) {
    std::printf("  errors: none\n");
  } else {
    std::printf("  errors:");
    for (const auto& [k, n] : errors_) std::printf(" %s %llu", k.c_str(), static_cast<unsigned long long>(n));
    std::printf("\n");
  }
  // This process's CPU (before checking a history): bench/server/run.sh divides it by the edits.
  std::printf("  CPU: %.2f s whole run, %.2f s steady state (convlab-load)\n", cpu_s(), std::max(steady_cpu_s_, 0.0));
  if (!opt_.history.empty()) {
    auto events = history::read_file(opt_.history);
    if (!events) {
      std::printf("  history %s: %s\n", opt_.history.c_str(), events.error().message.c_str());
      ok = false;
    } else {
      const reports::RunMetrics m = reports::check(*events);
      std::printf("  check %s: converged %s, acked edits %llu, lost acked edits %llu, lost acked chars %llu (",
                  opt_.history.c_str(), m.converged ? "yes" : "NO", static_cast<unsigned long long>(m.acked_edits),
                  static_cast<unsigned long long>(m.lost_acked_edits), static_cast<unsigned long long>(m.lost_acked_chars));
      std::uint64_t unexplained = 0;
      const char* sep = "";
      for (const auto& [cause, n] : m.lost_by_cause) {
        std::printf("%s%s %llu", sep, cause.c_str(), static_cast<unsigned long long>(n));
        sep = ", ";
        // A later concurrent write (or one on a skewed clock) overwriting a paragraph is what
        // lww and seq do by design; anything else is an acknowledged edit the system lost.
        if (cause != "concurrent" && cause != "clock_skew") unexplained += n;
      }
      std::printf("), visibility p99 %.1f ms\n", m.visibility_ms.p99);
      for (std::size_t i = 0; i < m.divergent.size() && i < 5; ++i) std::printf("    %s\n", m.divergent[i].c_str());
      if (!m.converged || unexplained > 0) ok = false;
    }
  }
  std::fflush(stdout);
  return ok ? 0 : 1;
}

}  // namespace

int run(const Options& opt) {
  const Strategy* strategy = find_strategy(opt.strategy);
  if (!strategy) {
    std::cerr << "convlab-load: --strategy " << opt.strategy << ": unknown (known: " << strategy_names() << ")\n";
    return 2;
  }
  if (opt.urls.empty()) {
    std::cerr << "convlab-load: --url: at least one server URL is needed\n";
    return 2;
  }
  std::vector<Target> targets;
  net::io_context resolve_ctx;
  tcp::resolver resolver(resolve_ctx);
  for (const std::string& u : opt.urls) {
    auto parsed = boost::urls::parse_uri(u);
    if (!parsed) {
      std::cerr << "convlab-load: --url " << u << ": not a URL (" << parsed.error().message() << ")\n";
      return 2;
    }
    const std::string scheme(parsed->scheme());
    if (scheme != "ws" && scheme != "http") {
      std::cerr << "convlab-load: --url " << u << ": scheme must be ws or http\n";
      return 2;
    }
    Target t;
    t.url = u;
    t.host = std::string(parsed->host());
    t.port = parsed->has_port() ? std::string(parsed->port()) : "80";
    boost::system::error_code ec;
    auto results = resolver.resolve(t.host, t.port, ec);
    if (ec || results.empty()) {
      std::cerr << "convlab-load: --url " << u << ": cannot resolve " << t.host << ": " << ec.message() << "\n";
      return 2;
    }
    t.endpoint = *results.begin();
    targets.push_back(std::move(t));
  }
  Run r(opt, *strategy, std::move(targets));
  return r.run();
}

}  // namespace convlab::load
