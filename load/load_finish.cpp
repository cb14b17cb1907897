// convlab-load, the end of a run: progress lines, stopping the typing, waiting for quiescence,
// the durable text and the change log into the history, the summary and the history's check; and
// run(), the entry point.
#include "load/run.hpp"

namespace convlab::load {
namespace detail {

bool Run::quiet() const {
  const std::int64_t t = now_us();
  for (const auto& c : clients_) {
    if (c->revoked_us >= 0 && !c->welcomed) continue;  // revoked and closed: gone for good
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
    if (c->reload) c->reload->cancel();
    if (c->rename) c->rename->cancel();
  }
  history::Event heal;
  heal.type = history::EventType::kHeal;
  emit(std::move(heal));
  quiet_deadline_us_ = now_us() + static_cast<std::int64_t>(opt_.drain_s * 1e6);
  wait_quiet();
}

void Run::wait_quiet(std::chrono::milliseconds pause) {
  phase_timer_.expires_after(pause);
  phase_timer_.async_wait([this](beast::error_code ec) {
    if (ec) return;
    if (!quiet() && now_us() < quiet_deadline_us_) return wait_quiet();
    if (!quiet()) {
      std::size_t missing = 0;
      for (const auto& c : clients_) missing += (!c->welcomed || !c->replica->synced()) ? 1 : 0;
      error("not_quiet", std::to_string(missing) + " clients not connected or not synced after " +
                             std::to_string(opt_.drain_s) + " s");
    }
    read_durable();
  });
}

void Run::read_durable() {
  ++durable_reads_;
  durable_.assign(opt_.docs, std::nullopt);
  durable_pending_ = opt_.docs;
  for (std::uint32_t d = 0; d < opt_.docs; ++d) load_durable(d);
}

// Quiet is not caught up: a server that learns of other servers' commits by polling the log
// sends its clients nothing until its next poll, so half a second of silence can come before
// the last of them. The run ends when every connected client shows its document's durable
// text, or when the drain's time is up (the checker then judges what they show).
void Run::durable_read() {
  std::size_t behind = 0;
  for (const auto& c : clients_) {
    const auto& durable = durable_[c->doc];
    if (c->welcomed && durable && c->replica->text() != durable->first) ++behind;
  }
  const bool failed = std::any_of(durable_.begin(), durable_.end(), [](const auto& d) { return !d.has_value(); });
  if (behind > 0 && !failed && now_us() < quiet_deadline_us_) return wait_quiet(250ms);
  const double after_s = static_cast<double>(now_us() - stop_us_) / 1e6;
  if (behind == 0) {
    std::printf("caught up: every client shows the durable text %.1f s after typing stopped (%u reads of it)\n",
                after_s, durable_reads_);
  } else {
    std::printf("not caught up: %zu clients differ from the durable text %.1f s after typing stopped\n", behind,
                after_s);
  }
  std::fflush(stdout);
  for (std::uint32_t doc = 0; doc < opt_.docs; ++doc) {
    if (!durable_[doc]) continue;
    history::Event e;
    e.type = history::EventType::kFinal;
    e.replica = "durable";
    e.doc = doc;
    e.text = durable_[doc]->first;
    e.ids = history::compress_ids(durable_[doc]->second);
    emit(std::move(e));
  }
  finish();
}

// GET /api/documents/{doc} from the first server that answers (every server reads PostgreSQL; one
// may have been killed): the durable state, as a strategy welcome; a fresh replica shows its text
// and ids.
void Run::load_durable(std::uint32_t doc, std::size_t ti, std::string failed) {
  const Target& t = targets_[ti];
  std::string token;
  for (const auto& c : clients_) {
    if (!c->token.empty() && c->revoked_us < 0) token = c->token;
  }
  auto done = [this, doc, ti, failed](const std::string& err,
                                      std::optional<std::pair<std::u32string, std::vector<CharId>>> got) {
    if (!err.empty()) {
      const std::string tried = failed + (failed.empty() ? "" : "; ") + "server " + std::to_string(ti) + ": " + err;
      if (ti + 1 < targets_.size()) return load_durable(doc, ti + 1, tried);
      error("durable", "GET /api/documents/" + std::to_string(doc) + ": " + tried);
    }
    durable_[doc] = std::move(got);
    if (--durable_pending_ == 0) durable_read();
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
  // A document's log is in one database; read from several (partitions), it must be in one only.
  auto logs = pg::read_change_logs(opt_.pg_urls.front(), opt_.docs);
  if (!logs) return error("change_log", logs.error().message);
  std::vector<std::size_t> holder(opt_.docs, 0);
  for (std::size_t k = 1; k < opt_.pg_urls.size(); ++k) {
    auto more = pg::read_change_logs(opt_.pg_urls[k], opt_.docs);
    if (!more) return error("change_log", opt_.pg_urls[k] + ": " + more.error().message);
    for (std::uint32_t doc = 0; doc < opt_.docs; ++doc) {
      if ((*more)[doc].empty()) continue;
      if (!(*logs)[doc].empty()) {
        return error("change_log", "document " + std::to_string(doc) + " has change-log rows in --pg " +
                                       std::to_string(holder[doc]) + " and --pg " + std::to_string(k));
      }
      (*logs)[doc] = std::move((*more)[doc]);
      holder[doc] = k;
    }
  }
  // The databases lost during the run (--db-lost, from the runner of real processes), in time
  // order: each one's change log at the loss and how much of it the restore kept.
  std::vector<workload::LostDatabase> losses;
  for (const std::string& path : opt_.db_lost) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) return error("db_lost", path + ": cannot read");
    auto lost = workload::read_lost_database(text.str());
    if (!lost) return error("db_lost", path + ": " + lost.error().message);
    losses.push_back(std::move(*lost));
  }
  std::stable_sort(losses.begin(), losses.end(),
                   [](const auto& a, const auto& b) { return a.at_monotonic_us < b.at_monotonic_us; });
  for (std::uint32_t doc = 0; doc < logs->size(); ++doc) {
    // Documents start empty on the real server; the log replays from there.
    workload::DurableText durable(strategy_, false, {});
    // `log`'s records from `from` on committed, each line at its accepting server's stamp (its
    // wall clock, on this machine), but not after `until_us` (a record of a lost database was
    // committed before the loss, whatever its server's clock read).
    const auto replay = [&](const std::vector<LogRecord>& log, std::size_t from, std::int64_t until_us) {
      for (std::size_t i = from; i < log.size(); ++i) {
        const LogRecord& rec = log[i];
        auto change = durable.append(rec);
        if (!change) {
          error("change_log", "document " + std::to_string(doc) + ": " + change.error().message);
          return false;
        }
        // The change log does not say which server appended it: server -1.
        workload::CommitLines lines =
            workload::commit_lines(doc, rec.index, -1, rec.author, *change, write_stamps_, record_authors_);
        // These lines come after the run, in log order, each at that time.
        lines.commit.t_us = std::min(until_us, std::max<std::int64_t>(0, (rec.server_ms - start_wall_ms_) * 1000));
        writer_->write(lines.commit);
        commits_.push_back(CommitSeen{lines.commit.t_us, doc, rec.index, lines.commit.writer, lines.commit.op});
        for (history::Event& o : lines.overruled) {
          o.t_us = lines.commit.t_us;
          writer_->write(o);
        }
      }
      return true;
    };
    // The log as the durable text now holds it (records replayed so far).
    std::vector<LogRecord> held;
    for (const workload::LostDatabase& lost : losses) {
      static const std::vector<LogRecord> kNone;
      const std::vector<LogRecord>& at_loss = doc < lost.logs.size() ? lost.logs[doc] : kNone;
      const std::uint64_t kept = doc < lost.restored.size() ? lost.restored[doc] : 0;
      const std::int64_t loss_us = lost.at_monotonic_us - start_monotonic_us_;
      if (at_loss.size() < held.size()) {
        return error("db_lost", "document " + std::to_string(doc) + ": the log at the loss is shorter than the one restored before it");
      }
      if (!replay(at_loss, held.size(), loss_us)) return;
      // The store restored from its backups: its durable state is the log's first `kept`
      // records (nothing without a backup). One commit line with no writer, at the loss's
      // instant, when that changed the durable text: the checker names what it took db_lost.
      const std::span<const LogRecord> restored(at_loss.data(), static_cast<std::size_t>(kept));
      auto change = durable.replace(false, {}, 0, restored);
      if (!change) return error("db_lost", "document " + std::to_string(doc) + ": the restored log does not replay: " + change.error().message);
      if (!change->added.empty() || !change->removed.empty()) {
        workload::CommitLines lines = workload::commit_lines(doc, kept, -1, std::nullopt, *change, write_stamps_, record_authors_);
        lines.commit.t_us = std::max<std::int64_t>(0, loss_us);
        writer_->write(lines.commit);
      }
      held.assign(restored.begin(), restored.end());
    }
    // The log at the end: what the last restore kept, then the records committed on it.
    const std::vector<LogRecord>& log = (*logs)[doc];
    for (std::size_t i = 0; i < held.size(); ++i) {
      if (i >= log.size() || log[i].record != held[i].record || log[i].author != held[i].author) {
        return error("db_lost", "document " + std::to_string(doc) + ": record " + std::to_string(i + 1) +
                                    " of the log at the end is not the restored one");
      }
    }
    if (!replay(log, held.size(), std::numeric_limits<std::int64_t>::max())) return;
  }
}

void Run::finish() {
  if (writer_ && !opt_.pg_urls.empty()) emit_commits();
  emit_reads();
  for (const auto& c : clients_) {
    if (!c->welcomed && c->revoked_us >= 0) continue;  // its access revoked: no replica at the end
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
  if (opt_.caret_moves_per_s > 0 || presence_frames_ > 0) {
    // Presence under the simulator's counter names (sim/servers.cpp counts them where the server
    // sends them; here where the viewers receive them), so the checkers report the same
    // awareness metrics per second of the editing phase and per viewer.
    history::Event e;
    e.type = history::EventType::kCounters;
    e.counters["awareness.moves"] = caret_moves_;
    e.counters["awareness.msgs"] = presence_frames_;
    e.counters["awareness.bytes"] = presence_bytes_;
    e.counters["awareness.viewers"] = opt_.clients;
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
  std::optional<std::int64_t> initial_clock_ms;
  if (!opt_.initial_text.empty()) {
    auto seeded = seed_documents();
    if (!seeded) {
      std::cerr << "convlab-load: " << seeded.error().message << "\n";
      return 1;
    }
    initial_clock_ms = *seeded;
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
    meta.meta["overwrites"] = strategy_.overwrites ? "true" : "false";
    // Welcomes say their log index (kVersion frames, asked for in the hello): their load lines
    // carry it. (A server that sends none leaves version 0: `drops` counts welcome_without_version.)
    if (!opt_.pg_urls.empty()) {
      // The change log follows the run as commit events (emit_commits).
      meta.meta["commits"] = "true";
      meta.meta["persistence"] = "changelog";
    }
    // The initial text went through the strategy as an edit stamped at this clock reading
    // (seed_documents), as the simulator's does.
    if (initial_clock_ms) meta.meta["initial_clock_ms"] = std::to_string(*initial_clock_ms);
    // Clients whose typing rate is raised (a flood): checkers leave them out of
    // visibility_others_ms, as the simulator's meta line says (sim/world.cpp).
    std::string fast;
    for (const auto& [c, m] : opt_.rate_multipliers) {
      if (m > 1.0) fast += (fast.empty() ? "" : ",") + std::to_string(c);
    }
    if (!fast.empty()) meta.meta["fast_clients"] = fast;
    start_ = Clock::now();  // t = 0: the meta line
    start_wall_ms_ = wall_ms();
    // Where t = 0 is on this machine's monotonic clock (steady_clock: CLOCK_MONOTONIC, one for
    // every process, never stepped as the wall clock can be): a runner of real processes places
    // its fault windows by it.
    start_monotonic_us_ = std::chrono::duration_cast<std::chrono::microseconds>(start_.time_since_epoch()).count();
    meta.meta["start_monotonic_us"] = std::to_string(start_monotonic_us_);
    emit(std::move(meta));
    if (initial_clock_ms) {
      // The setup took a while before t = 0: a runner that times faults from here reads it.
      std::cerr << "convlab-load: initial text typed into " << opt_.docs << " documents; t = 0 at monotonic "
                << start_monotonic_us_ << " us" << std::endl;
    }
  }
  edit_log_.set_docs(opt_.docs);
  Rng seeder(opt_.seed);
  for (std::uint32_t i = 0; i < opt_.clients; ++i) {
    auto c = std::make_unique<Client>();
    c->id = i;
    c->doc = i % opt_.docs;
    c->slot = i / opt_.docs;
    c->obs = workload::ObservedClient(i, c->doc, writer_ != nullptr);
    c->rng = seeder.fork();
    c->backoff_rng = seeder.fork();
    // Every strategy spreads round-robin within each document, so its clients sit on every
    // server (the servers forward ot/seq edits to the document's home: they need their peers).
    c->target = (c->slot + c->doc) % targets_.size();
    clients_.push_back(std::move(c));
  }
  if (opt_.reload_max_ms > 0) {
    // API reads: each client's first half a second plus a draw after the start, as the
    // simulator's after its arrival; their own seeds (the typing keeps its draws).
    Rng reload_seeder(opt_.seed ^ 0x72656c6f6164ULL);  // "reload"
    ack_us_.resize(clients_.size());
    for (auto& c : clients_) {
      c->reload_rng = reload_seeder.fork();
      schedule_reload(*c, 500'000 + 1000 * c->reload_rng.between(opt_.reload_min_ms, opt_.reload_max_ms));
    }
  }
  if (opt_.rename_max_ms > 0) {
    // Renames: half a second plus a draw after the start, as the simulator's after a client's
    // arrival; their own seeds (the typing and the reads keep their draws).
    Rng rename_seeder(opt_.seed ^ 0x72656e616d65ULL);  // "rename"
    for (auto& c : clients_) {
      c->rename_rng = rename_seeder.fork();
      schedule_rename(*c, 500'000 + 1000 * c->rename_rng.between(opt_.rename_min_ms, opt_.rename_max_ms));
    }
  }
  schedule_script();
  schedule_client_faults();
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
  if (adopted_ > 0) std::printf("  API reads adopted (a new session from the loaded state) %llu\n", static_cast<unsigned long long>(adopted_));
  // Every acknowledgement is a deliver frame too; what is left is other clients' changes.
  const std::uint64_t fanout = delivered_ - ack_frames_;
  std::printf("  durable edits/s %.0f (acks after commit, %s), fan-out deliveries/s %.0f\n",
              durable_per_s, steady_s >= 1.0 ? "steady state" : "whole run",
              static_cast<double>(fanout) / std::max(edit_s, 1e-9));
  std::printf("  steady state acks %llu\n", static_cast<unsigned long long>(acked_steady_));
  if (opt_.caret_moves_per_s > 0 || presence_frames_ > 0) {
    const double per_s = 1.0 / std::max(edit_s, 1e-9);
    std::printf("  presence: caret moves sent %llu, presence frames received %llu (%.1f/s per client), bytes %llu "
                "(%.0f/s per client)\n",
                static_cast<unsigned long long>(caret_moves_), static_cast<unsigned long long>(presence_frames_),
                static_cast<double>(presence_frames_) * per_s / opt_.clients,
                static_cast<unsigned long long>(presence_bytes_),
                static_cast<double>(presence_bytes_) * per_s / opt_.clients);
  }
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
  if (opt_.reload_max_ms > 0) {
    std::size_t cdn = 0;
    for (const ApiRead& r : reads_) cdn += r.source == "cdn" ? 1 : 0;
    std::printf("  API reads answered %zu (from the CDN's cache %zu)%s%s\n", reads_.size(), cdn,
                api_ ? " through " : "", api_ ? api_->url.c_str() : "");
  }
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

}  // namespace detail

using detail::Run;
using detail::Target;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;


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
  std::vector<std::string> urls = opt.urls;
  if (!opt.api_url.empty()) urls.push_back(opt.api_url);  // the last: the API reads' (--api-url)
  for (const std::string& u : urls) {
    const char* flag = !opt.api_url.empty() && &u == &urls.back() ? "--api-url " : "--url ";
    auto parsed = boost::urls::parse_uri(u);
    if (!parsed) {
      std::cerr << "convlab-load: " << flag << u << ": not a URL (" << parsed.error().message() << ")\n";
      return 2;
    }
    const std::string scheme(parsed->scheme());
    if (scheme != "ws" && scheme != "http") {
      std::cerr << "convlab-load: " << flag << u << ": scheme must be ws or http\n";
      return 2;
    }
    Target t;
    t.url = u;
    t.host = std::string(parsed->host());
    t.port = parsed->has_port() ? std::string(parsed->port()) : "80";
    boost::system::error_code ec;
    auto results = resolver.resolve(t.host, t.port, ec);
    if (ec || results.empty()) {
      std::cerr << "convlab-load: " << flag << u << ": cannot resolve " << t.host << ": " << ec.message() << "\n";
      return 2;
    }
    t.endpoint = *results.begin();
    targets.push_back(std::move(t));
  }
  std::optional<Target> api;
  if (!opt.api_url.empty()) {
    api = std::move(targets.back());
    targets.pop_back();
  }
  Run r(opt, *strategy, std::move(targets), std::move(api));
  return r.run();
}

}  // namespace convlab::load
