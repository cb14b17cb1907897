#pragma once
// convlab-load's engine, internal to load/: the clients and the Run that drives them (declared
// here, defined in load.cpp: connecting, frames, edits, acks and sightings; and in
// load_finish.cpp: progress, quiescence, the durable text, the summary and the checks).
#include "load/load.hpp"

#include "history/history.hpp"
#include "reports/checkers.hpp"
#include "server/core/protocol.hpp"
#include "server/core/result.hpp"
#include "server/core/rng.hpp"
#include "server/pg/store.hpp"
#include "server/strategies/registry.hpp"
#include "workload/durable.hpp"
#include "workload/lost_log.hpp"
#include "workload/observed.hpp"
#include "workload/overruled.hpp"
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
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace convlab::load::detail {


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

using Ws = websocket::stream<beast::tcp_stream>;

// A WebSocket read or write handler whose Beast operation state comes from the thread's
// recycling cache instead of a malloc and free per message.
template <class Handler>
auto recycled(Handler&& h) {
  return net::bind_allocator(net::recycling_allocator<void>(), std::forward<Handler>(h));
}

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
  // Its ops, acknowledgements and sightings (workload/observed.hpp, shared with the simulator).
  workload::ObservedClient obs;
  // Per edit message sent and not yet acknowledged, in order: the ops it completes (a message
  // may carry several composed edits, as OT's buffer; or be one of several for one edit).
  std::deque<std::vector<std::uint32_t>> inflight;
  std::vector<std::uint32_t> unsent_ops;  // edits made whose message has not gone out yet
  std::uint32_t attempts = 0;  // failed connection attempts in a row
  std::int64_t last_frame_us = 0;
  std::int64_t welcomed_at_us = 0;  // when its current connection got its welcome
  std::unique_ptr<net::steady_timer> tick;
  std::unique_ptr<net::steady_timer> caret;  // Options::caret_moves_per_s
  std::uint64_t caret_moves = 0;
  std::unique_ptr<net::steady_timer> retry;
  // API reads (Options::reload_*): their own draws, so a run without them keeps its typing.
  Rng reload_rng{0};
  std::unique_ptr<net::steady_timer> reload;
  bool loading = false;        // an API read in flight: the next one waits (as the simulator's)
  // Options::offline: the link held both ways; the messages that arrived meanwhile, unread.
  bool offline = false;
  std::deque<std::vector<std::uint8_t>> held_in;
  bool login_after_offline = false;  // dropped while offline: logs in again when it is back
  // An API read being adopted (strategies with adopts_loaded_state): the loaded state's welcome
  // and log version; the next connection starts from it with a subscribe (Run::adopt_read).
  std::optional<Bytes> adopt_welcome;
  std::uint64_t adopt_version = 0;
  std::int64_t revoked_us = -1;      // Options::revokes: when POST /logout answered 200
  // Options::revokes: POST /logout sent. The server closes the session (4403) before it answers,
  // so from here on the client does not log in again (a new login would get a fresh token).
  bool revoking = false;
  // Renames (Options::rename_*): their own draws, so a run without them keeps its typing.
  Rng rename_rng{0};
  std::unique_ptr<net::steady_timer> rename;
  std::uint64_t title_version = 0;  // the title version it shows (every title frame raises it)
  std::uint32_t next_rename = 1;    // its rename counter: the history's `op` of a rename
  // Log indexes the server told (kVersion frames, docs/protocol.md): the one announced for the
  // next welcome or acknowledgement, the newest of its own acknowledged writes (sent on API
  // reads), and the newest welcome's (a welcome's `latest` without --pg).
  std::optional<std::uint64_t> next_version;
  std::uint64_t acked_version = 0;
  std::uint64_t known_version = 0;
  // What it has shown: per author (a client id), the highest op seen or, its own, acknowledged
  // (the history's seen and ack lines). A welcome's `latest` is the log's longest prefix among
  // them, once the log is read (Run::emit_reads), as the simulator's counts delivers.
  std::map<std::uint32_t, std::uint32_t> shown;
};

// An API read answered 200, written into the history after the run (Run::emit_reads), when the
// change log tells what the sender had written and, for a cached answer, what the primary held.
struct ApiRead {
  std::uint32_t client = 0, doc = 0;
  std::int32_t server = -1;    // who answered: the client's own server, or -1 (the CDN's choice)
  std::uint64_t version = 0;   // the answer's: the log version it shows
  std::uint64_t latest = 0;    // the answer's: the primary's log length when the server read it
  std::string source;          // "cdn" (X-Cache-Status: HIT), else the answer's ("primary", "replica")
  std::int64_t sent_us = 0, answered_us = 0;
};

// A change-log record as emit_commits places it: when its server stamped it and whose edit it is.
struct CommitSeen {
  std::int64_t t_us = 0;
  std::uint32_t doc = 0;
  std::uint64_t version = 0;
  std::int32_t writer = -1;
  std::uint32_t op = 0;
};

class Run {
 public:
  Run(const Options& opt, const Strategy& strategy, std::vector<Target> targets, std::optional<Target> api = {})
      : opt_(opt), strategy_(strategy), targets_(std::move(targets)), api_(std::move(api)), typing_(opt.typing ? *opt.typing : workload::at_rate(opt.rate)),
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
  // Client `id`'s clock: the wall clock, moved by its clock fault (Options::clocks) if any.
  std::int64_t client_clock_ms(std::uint32_t id) const {
    const std::int64_t w = wall_ms();
    const auto it = opt_.clocks.find(id);
    if (it == opt_.clocks.end()) return w;
    const std::int64_t since = w - start_wall_ms_ - it->second.from_ms;
    if (since < 0) return w;
    return w + it->second.offset_ms + since * it->second.drift_ppm / 1'000'000;
  }
  void emit(history::Event e) {
    e.t_us = now_us();
    if ((e.type == history::EventType::kSeen || e.type == history::EventType::kAck) && e.client < clients_.size()) {
      const std::uint32_t author = e.type == history::EventType::kSeen ? e.author : e.client;
      std::uint32_t& top = clients_.at(e.client)->shown[author];
      top = std::max(top, e.op);
    }
    if (writer_) writer_->write(e);
  }
  // A welcome's load line waiting for the change log (with --pg): what its client had shown then.
  struct WelcomeLoad {
    history::Event e;
    std::map<std::uint32_t, std::uint32_t> shown;
    bool versioned = false;  // a version frame came before it (else version and latest stay 0)
  };
  std::vector<WelcomeLoad> welcome_loads_;
  // The servers' change log as `commit` events (--pg), each at its server's clock reading.
  void emit_commits();
  void error(const std::string& kind, const std::string& detail) {
    ++errors_[kind];
    if (errors_[kind] <= 3) std::cerr << "\nconvlab-load: " << kind << ": " << detail << "\n";
  }

  // --- a client's connection ---
  void start_client(Client& cl);
  using HttpDone = std::function<void(const std::string& err, const http::response<http::string_body>& res)>;
  // `session_version` > 0: sent as X-Convlab-Session-Version (the session's last acknowledged write).
  void http_call(const Target& t, http::verb verb, const std::string& path, const std::string& bearer,
                 std::string body, HttpDone done, std::uint64_t session_version = 0);
  void login(Client& cl);
  void open_ws(Client& cl, std::uint64_t gen);
  void read_loop(Client& cl, std::uint64_t gen, std::shared_ptr<Ws> ws, std::shared_ptr<beast::flat_buffer> buf);
  void on_frame(Client& cl, const FrameView& f);
  // The connection is gone (or given up): a fresh login after a backoff, or after `after_ms`
  // when it is not negative.
  void end_session(Client& cl);
  void dropped(Client& cl, std::uint64_t gen, const std::string& kind, const std::string& detail,
               std::int64_t after_ms = -1);
  void send(Client& cl, FrameKind kind, std::span<const std::uint8_t> payload);
  void send_edits(Client& cl, std::vector<Bytes> msgs);
  bool is_ack(const Client& cl, std::span<const std::uint8_t> payload) const;
  // The server acknowledged cl's ops up to `op`.
  void ack_upto(Client& cl, std::uint32_t op);
  void do_write(Client& cl);

  // --- typing, acks, visibility ---
  void schedule_tick(Client& cl, std::int64_t pause_us);
  void tick(Client& cl);
  // One edit of cl's replica: into the history, the edit log and out to its server.
  void make_edit(Client& cl, const Splice& sp, std::uint32_t para);
  // Options::script: a timer per scripted edit, from t = 0.
  void schedule_script();
  // Options::offline and Options::disconnects: a timer per fault, from t = 0.
  void schedule_client_faults();
  void go_online(Client& cl);
  // One WebSocket message from cl's server (read now, or held while offline and let go).
  void on_message(Client& cl, std::uint64_t gen, std::span<const std::uint8_t> data);
  // Options::initial_text: typed into every document through server 0 by a setup user, each
  // acknowledged, before t = 0 (blocking: nothing else runs yet). The setup edits' clock
  // reading, or an error.
  Result<std::int64_t> seed_documents();
  // Presence: an awareness frame every 1 / caret_moves_per_s seconds while typing.
  void schedule_caret(Client& cl);
  void note_acks(Client& cl);
  void note_seen(Client& cl);
  // Writes the recorder's `ack` events and times them.
  void acked(std::vector<workload::Observed>& acks);

  // --- API reads (reloads) ---
  void schedule_reload(Client& cl, std::int64_t pause_us);
  void reload(Client& cl);
  void adopt_read(Client& cl, const boost::json::value& welcome, std::uint64_t version);
  // The reads as `load` events, judged as the simulator judges them (sim/cdn.cpp): a cached
  // answer's `latest` is the change log's length when it was served, and `:missing_own_write`
  // marks a read older than the sender's last acknowledged record. After emit_commits.
  void emit_reads();

  // --- renames ---
  void schedule_rename(Client& cl, std::int64_t pause_us);
  // As the simulator's Clients::rename: the next rename is drawn first; a client not connected
  // lets this one go.
  void rename(Client& cl);
  // A title frame: the version shown, and for the sender's own rename its answer in the history.
  void on_title(Client& cl, const FrameView& f);

  // --- phases ---
  void print_progress(bool final_line);
  void progress_loop();
  void stop_editing();
  void wait_quiet(std::chrono::milliseconds pause = 100ms);
  void read_durable();
  // GET /api/documents/{doc} from server `ti`, then from the next ones while they fail (a server
  // killed under the run); `failed`: what the servers tried so far answered.
  void load_durable(std::uint32_t doc, std::size_t ti = 0, std::string failed = "");
  void durable_read();
  void finish();
  bool quiet() const;

  const Options& opt_;
  const Strategy& strategy_;
  std::vector<Target> targets_;
  std::optional<Target> api_;  // Options::api_url
  workload::TypingConfig typing_;
  net::io_context ioc_{1};
  Clock::time_point start_ = Clock::now();
  std::vector<std::unique_ptr<Client>> clients_;
  workload::EditLog edit_log_;  // every inserting edit, per document and per agent (agents claimed at login)
  workload::RecordAuthors record_authors_;  // the edit each committed record came from (--pg)
  workload::WriteStamps write_stamps_;      // the edit each register write came from (overruled)
  std::int64_t start_wall_ms_ = 0;          // the wall clock at t = 0
  std::int64_t start_monotonic_us_ = 0;     // CLOCK_MONOTONIC at t = 0 (the meta line's start_monotonic_us)

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
  std::uint64_t script_skipped_ = 0;  // scripted edits whose client was not connected
  std::uint64_t edits_ = 0, acked_ = 0, delivered_ = 0, reconnects_ = 0, abandoned_ = 0;
  std::uint64_t adopted_ = 0;  // API reads adopted (adopt_read)
  // The steady state: from warmup_s after every client's first welcome until typing stops.
  std::int64_t steady_from_us() const {
    return all_welcomed_us_ < 0 ? std::numeric_limits<std::int64_t>::max()
                                : all_welcomed_us_ + static_cast<std::int64_t>(opt_.warmup_s * 1e6);
  }
  std::uint64_t acked_steady_ = 0;  // acks that arrived in the steady state
  std::uint64_t welcomed_now_ = 0;
  std::uint64_t ack_frames_ = 0;  // deliver frames that were acknowledgements
  // Presence: awareness frames sent, presence frames (and their bytes) received.
  std::uint64_t caret_moves_ = 0, presence_frames_ = 0, presence_bytes_ = 0;
  Histogram ack_ms_, visible_ms_;
  Histogram ack_steady_ms_, visible_steady_ms_;  // of edits made in the steady state
  std::map<std::string, std::uint64_t> errors_;
  std::map<std::string, std::uint64_t> drops_;  // connection drops by kind (not errors: recovered)
  std::uint32_t durable_pending_ = 0;
  std::uint32_t durable_reads_ = 0;
  std::vector<std::optional<std::pair<std::u32string, std::vector<CharId>>>> durable_;  // per doc, the last read
  std::vector<FrameView> views_;  // the frames of the message being handled
  // API reads: the answered ones, each client's ack times by op (-1: not acknowledged), and
  // the change log as emit_commits read it.
  std::vector<ApiRead> reads_;
  std::vector<std::vector<std::int64_t>> ack_us_;
  std::vector<CommitSeen> commits_;
  bool is_tty_ = isatty(2) != 0;
};


}  // namespace convlab::load::detail
