// convlab-load: typing clients over real WebSockets against convlab-server (see load/load.hpp).
//
//   convlab-load --url ws://127.0.0.1:PORT [--url ...] [--clients N] [--docs D] [--rate R]
//                [--duration S] [--strategy lww|seq|ot|crdt] [--seed N] [--user-prefix P]
//                [--password W] [--history FILE] [--pg URL] [--db-lost FILE] [--ramp C] [--drain S] [--warmup S] [--protocol 1|2]
//                [--clock-offset I=MS[@S] ...] [--clock-drift I=PPM[@S] ...] [--think-ms MIN..MAX]
//                [--same-paragraph P] [--caret-moves-per-s R] [--reload-ms MIN..MAX [--api-url URL]]
//                [--rename-ms MIN..MAX]
//                [--client-rate I=M ...] [--edit MS,I,POS,DEL,INS ...] [--initial-text TEXT]
//                [--offline I@FROM..TO ...] [--disconnect I@MS ...] [--revoke I@MS ...] [--sticky] [--quiet]
//
// Exit: 0 no errors (and, with --history, converged with no acknowledged edit lost), 1 errors,
// 2 bad flags.
#include "load/load.hpp"
#include "server/core/utf8.hpp"
#include "server/strategies/registry.hpp"

#include <boost/program_options.hpp>

#include <charconv>
#include <exception>
#include <iostream>
#include <optional>
#include <string>

namespace po = boost::program_options;

namespace {

// "I=N[@S]" (client I, a signed number N, from S seconds into the run), or false.
bool client_value(const std::string& s, std::uint32_t& client, std::int64_t& value, std::int64_t& from_ms) {
  const auto eq = s.find('=');
  if (eq == std::string::npos) return false;
  const auto at = s.find('@', eq);
  const std::size_t value_end = at == std::string::npos ? s.size() : at;
  const char* b = s.data();
  const auto [e1, ec1] = std::from_chars(b, b + eq, client);
  const auto [e2, ec2] = std::from_chars(b + eq + 1, b + value_end, value);
  from_ms = 0;
  if (at != std::string::npos) {
    double from_s = -1;
    const auto [e3, ec3] = std::from_chars(b + at + 1, b + s.size(), from_s);
    if (ec3 != std::errc() || e3 != b + s.size() || !(from_s >= 0) || from_s > 1e7) return false;
    from_ms = static_cast<std::int64_t>(from_s * 1000);
  }
  return ec1 == std::errc() && e1 == b + eq && ec2 == std::errc() && e2 == b + value_end;
}

// "MIN..MAX" milliseconds, 1 <= MIN <= MAX <= one hour, nothing else around them; or nothing.
std::optional<std::pair<std::int64_t, std::int64_t>> ms_range(const std::string& v) {
  const auto dots = v.find("..");
  if (dots == std::string::npos) return std::nullopt;
  std::int64_t lo = -1, hi = -1;
  const auto [e1, ec1] = std::from_chars(v.data(), v.data() + dots, lo);
  const auto [e2, ec2] = std::from_chars(v.data() + dots + 2, v.data() + v.size(), hi);
  if (ec1 != std::errc() || e1 != v.data() + dots || ec2 != std::errc() || e2 != v.data() + v.size()) return std::nullopt;
  if (lo < 1 || hi < lo || hi > 3'600'000) return std::nullopt;
  return std::make_pair(lo, hi);
}

}  // namespace

int main(int argc, char** argv) {
  convlab::load::Options opt;
  po::options_description desc("convlab-load options");
  desc.add_options()
    ("help", "this text")
    ("url", po::value<std::vector<std::string>>(&opt.urls), "server URL ws://HOST:PORT (repeat: one per node, in node-id order)")
    ("clients", po::value<std::uint32_t>(&opt.clients)->default_value(opt.clients), "WebSocket connections (typing clients)")
    ("docs", po::value<std::uint32_t>(&opt.docs)->default_value(opt.docs), "documents; client i edits doc i % docs")
    ("rate", po::value<double>(&opt.rate)->default_value(opt.rate), "mean edits per second per client")
    ("duration", po::value<double>(&opt.duration_s)->default_value(opt.duration_s), "seconds of typing (ramp included)")
    ("strategy", po::value<std::string>(&opt.strategy)->default_value(opt.strategy), "lww|seq|ot|crdt (the servers' strategy)")
    ("seed", po::value<std::uint64_t>(&opt.seed)->default_value(opt.seed), "seed of the typing workload")
    ("user-prefix", po::value<std::string>(&opt.user_prefix)->default_value(opt.user_prefix), "client i logs in as PREFIX<i>")
    ("password", po::value<std::string>(&opt.password)->default_value(opt.password), "password for every login")
    ("history", po::value<std::string>(&opt.history), "write the run's history here (docs/history.md) and check it")
    ("pg", po::value<std::vector<std::string>>(&opt.pg_urls)->composing(),
     "the servers' PostgreSQL URL: their change log goes into the history as commit events (needs --history); "
     "repeated: every partition's database, each document's log read from the one that holds it")
    ("db-lost", po::value<std::vector<std::string>>(&opt.db_lost)->composing(),
     "FILE: a database lost during the run (written by `convlab run --real` at a db_lost fault): its change log "
     "at the loss and what the restore kept go into the history's commit lines (needs --pg; read after the run)")
    ("ramp", po::value<double>(&opt.ramp)->default_value(opt.ramp), "connections opened per second")
    ("drain", po::value<double>(&opt.drain_s)->default_value(opt.drain_s), "longest wait after typing for every client to show the durable text, seconds")
    ("warmup", po::value<double>(&opt.warmup_s)->default_value(opt.warmup_s),
     "seconds after every client is connected before the steady state's figures start")
    ("protocol", po::value<int>(&opt.protocol)->default_value(opt.protocol), "2: convlab/2 (frames batched per message), 1: convlab/1")
    ("clock-offset", po::value<std::vector<std::string>>(),
     "I=MS[@S]: client I's clock runs MS milliseconds ahead (negative: behind) of the wall clock (from S seconds "
     "into the run; default 0); its edits carry that clock (lww orders by it). Repeat for several clients")
    ("clock-drift", po::value<std::vector<std::string>>(),
     "I=PPM[@S]: client I's clock gains PPM millionths of the time since S seconds into the run (default 0; "
     "negative PPM: loses). Repeat for several clients")
    ("think-ms", po::value<std::string>(),
     "MIN..MAX: each client's pause between edits, uniform in [MIN, MAX] ms (a scenario's workload.think_ms; "
     "instead of --rate)")
    ("same-paragraph", po::value<double>(),
     "chance in [0, 1] that an edit goes to the document's shared first paragraph (workload.same_paragraph_prob)")
    ("caret-moves-per-s", po::value<double>(&opt.caret_moves_per_s)->default_value(0),
     "presence: caret moves per second per client while typing, an awareness frame each (default 0: none)")
    ("reload-ms", po::value<std::string>(),
     "MIN..MAX: each client reads its document over the API (GET /api/documents/{id}, a page reload) every "
     "[MIN, MAX] ms, uniform (a scenario's workload.reload_ms); each answer is a load event in the history. "
     "Needs --history and --pg (the change log judges the reads)")
    ("rename-ms", po::value<std::string>(),
     "MIN..MAX: each client renames its document every [MIN, MAX] ms, uniform, on the title version it shows (a "
     "scenario's workload.rename_ms); each rename and its answer is a rename event in the history")
    ("api-url", po::value<std::string>(&opt.api_url),
     "http://HOST:PORT the API reads go to (a CDN in front of the servers, scripts/cdn.sh); default: each "
     "client's own server")
    ("client-rate", po::value<std::vector<std::string>>(),
     "I=M: client I types M times as fast (its pauses divided by M, M in (0, 1000000]; a scenario's client_overrides "
     "rate_multiplier). Repeat for several clients")
    ("edit", po::value<std::vector<std::string>>(),
     "MS,I,POS,DEL,INS: a scripted edit: MS ms after the start client I deletes DEL characters at POS and inserts "
     "INS (the rest of the value, UTF-8; may be empty), POS and DEL clamped to its text (a scenario's script). "
     "Repeat for several; with any, no client types the workload")
    ("initial-text", po::value<std::string>(&opt.initial_text),
     "every document's first content (a scenario's initial_text), typed by a setup user through the first server "
     "before the clients connect")
    ("offline", po::value<std::vector<std::string>>(),
     "I@FROM..TO: client I is offline from FROM to TO ms after the start (a scenario's offline fault): its link held "
     "both ways, it keeps typing; at TO what was held goes both ways. Repeat for several")
    ("disconnect", po::value<std::vector<std::string>>(),
     "I@MS: client I's connection is closed MS ms after the start (a scenario's disconnect fault); it logs in again "
     "at once (the next server, or the same with --sticky). Repeat for several")
    ("revoke", po::value<std::vector<std::string>>(),
     "I@MS: client I's token is revoked MS ms after the start through its server's POST /logout (a scenario's revoke "
     "fault); the client does not log in again, its API reads served after it are marked :revoked. Repeat for several")
    ("sticky", "a client that lost its connection tries the server it had again (a sticky balancer), not the next one")
    ("quiet", "no progress line");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "convlab-load: " << e.what() << "\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << "usage: convlab-load --url ws://HOST:PORT [--url ...] [options]\n" << desc
              << "strategies: " << convlab::strategy_names() << "\n"
              << "Exit: 0 no errors (and the history converged, no acknowledged edit lost), 1 errors, 2 bad flags.\n";
    return 0;
  }
  opt.progress = vm.count("quiet") == 0;
  auto bad = [](const std::string& flag, const std::string& why) {
    std::cerr << "convlab-load: --" << flag << ": " << why << "\n";
    return 2;
  };
  if (!opt.pg_urls.empty() && opt.history.empty()) return bad("pg", "needs --history (the change log goes into it)");
  if (!opt.db_lost.empty() && opt.pg_urls.size() != 1) return bad("db-lost", "needs one --pg (the database that was lost)");
  if (opt.clients == 0) return bad("clients", "must be at least 1");
  if (opt.docs == 0) return bad("docs", "must be at least 1");
  if (!(opt.rate > 0) || opt.rate > 1000) return bad("rate", "must be in (0, 1000] edits per second");
  if (!(opt.duration_s > 0)) return bad("duration", "must be positive");
  if (!(opt.caret_moves_per_s >= 0) || opt.caret_moves_per_s > 1000) {
    return bad("caret-moves-per-s", "must be in [0, 1000] moves per second");
  }
  if (!(opt.ramp > 0)) return bad("ramp", "must be positive");
  if (!(opt.drain_s >= 0)) return bad("drain", "must not be negative");
  if (!(opt.warmup_s >= 0)) return bad("warmup", "must not be negative");
  if (opt.protocol != 1 && opt.protocol != 2) return bad("protocol", "must be 1 or 2");
  if (vm.count("think-ms") || vm.count("same-paragraph")) {
    convlab::workload::TypingConfig t = convlab::workload::at_rate(opt.rate);
    if (vm.count("think-ms")) {
      const auto range = ms_range(vm["think-ms"].as<std::string>());
      if (!range) return bad("think-ms", "want MIN..MAX with 1 <= MIN <= MAX ms, got '" + vm["think-ms"].as<std::string>() + "'");
      t.think_ms = {range->first, range->second};
    }
    if (vm.count("same-paragraph")) {
      const double p = vm["same-paragraph"].as<double>();
      if (!(p >= 0 && p <= 1)) return bad("same-paragraph", "must be in [0, 1]");
      t.same_paragraph_prob = p;
    }
    opt.typing = t;
  }
  if (vm.count("reload-ms")) {
    const std::string v = vm["reload-ms"].as<std::string>();
    const auto range = ms_range(v);
    if (!range) return bad("reload-ms", "want MIN..MAX with 1 <= MIN <= MAX ms, got '" + v + "'");
    const auto [lo, hi] = *range;
    if (opt.history.empty() || opt.pg_urls.empty()) {
      return bad("reload-ms", "needs --history and --pg (the change log says what each read missed)");
    }
    opt.reload_min_ms = lo;
    opt.reload_max_ms = hi;
  }
  if (vm.count("rename-ms")) {
    const std::string v = vm["rename-ms"].as<std::string>();
    const auto range = ms_range(v);
    if (!range) return bad("rename-ms", "want MIN..MAX with 1 <= MIN <= MAX ms, got '" + v + "'");
    opt.rename_min_ms = range->first;
    opt.rename_max_ms = range->second;
  }
  if (!opt.api_url.empty() && opt.reload_max_ms == 0) return bad("api-url", "needs --reload-ms (only API reads go there)");
  for (const char* flag : {"clock-offset", "clock-drift"}) {
    if (!vm.count(flag)) continue;
    const bool drift = std::string(flag) == "clock-drift";
    for (const std::string& v : vm[flag].as<std::vector<std::string>>()) {
      std::uint32_t client = 0;
      std::int64_t value = 0, from_ms = 0;
      if (!client_value(v, client, value, from_ms)) return bad(flag, "want CLIENT=NUMBER[@SECONDS], got '" + v + "'");
      if (client >= opt.clients) return bad(flag, "client " + std::to_string(client) + " is not below --clients");
      constexpr std::int64_t kLimit = 10LL * 365 * 86'400'000;  // ten years of ms; a million ppm
      if (value > kLimit || value < -kLimit || (drift && (value <= -1'000'000 || value > 1'000'000))) {
        return bad(flag, "'" + v + "' is out of range");
      }
      auto& c = opt.clocks[client];
      (drift ? c.drift_ppm : c.offset_ms) = value;
      c.from_ms = from_ms;  // one start per client: offset and drift given together share it
    }
  }
  if (vm.count("client-rate")) {
    for (const std::string& v : vm["client-rate"].as<std::vector<std::string>>()) {
      const auto eq = v.find('=');
      std::uint32_t client = 0;
      double m = 0;
      const char* b = v.data();
      bool ok = eq != std::string::npos;
      if (ok) {
        const auto [e1, ec1] = std::from_chars(b, b + eq, client);
        const auto [e2, ec2] = std::from_chars(b + eq + 1, b + v.size(), m);
        ok = ec1 == std::errc() && e1 == b + eq && ec2 == std::errc() && e2 == b + v.size();
      }
      if (!ok) return bad("client-rate", "want CLIENT=MULTIPLIER, got '" + v + "'");
      if (client >= opt.clients) return bad("client-rate", "client " + std::to_string(client) + " is not below --clients");
      if (!(m > 0) || m > 1e6) return bad("client-rate", "'" + v + "': the multiplier must be in (0, 1000000]");
      opt.rate_multipliers[client] = m;
    }
  }
  if (vm.count("edit")) {
    for (const std::string& v : vm["edit"].as<std::vector<std::string>>()) {
      // Four numbers, then the inserted text (commas and all).
      convlab::load::Options::ScriptedEdit ed;
      std::size_t at = 0;
      bool ok = true;
      auto number = [&](auto& out) {
        const auto comma = v.find(',', at);
        if (comma == std::string::npos) return false;
        const auto [e, ec] = std::from_chars(v.data() + at, v.data() + comma, out);
        if (ec != std::errc() || e != v.data() + comma) return false;
        at = comma + 1;
        return true;
      };
      ok = number(ed.at_ms) && number(ed.client) && number(ed.pos) && number(ed.del);
      if (!ok || ed.at_ms < 0) return bad("edit", "want MS,CLIENT,POS,DEL,INSERTED with MS >= 0, got '" + v + "'");
      if (ed.client >= opt.clients) return bad("edit", "'" + v + "': client " + std::to_string(ed.client) + " is not below --clients");
      ed.ins = v.substr(at);
      if (!convlab::utf8_decode(ed.ins)) return bad("edit", "'" + v + "': the inserted text is not valid UTF-8");
      opt.script.push_back(std::move(ed));
    }
    // Scripted edits after typing stops would find the clients draining: refused.
    for (const auto& ed : opt.script) {
      if (ed.at_ms >= static_cast<std::int64_t>(opt.duration_s * 1000)) {
        return bad("edit", "an edit at " + std::to_string(ed.at_ms) + " ms is not before --duration's end");
      }
    }
  }
  // "I@REST": the client and what follows the '@'.
  auto client_at = [&](const std::string& v, std::uint32_t& client, std::string& rest) {
    const auto at = v.find('@');
    if (at == std::string::npos) return false;
    const auto [e, ec] = std::from_chars(v.data(), v.data() + at, client);
    rest = v.substr(at + 1);
    return ec == std::errc() && e == v.data() + at;
  };
  const auto limit_ms = static_cast<std::int64_t>(opt.duration_s * 1000);
  if (vm.count("offline")) {
    for (const std::string& v : vm["offline"].as<std::vector<std::string>>()) {
      convlab::load::Options::Offline o;
      std::string rest;
      bool ok = client_at(v, o.client, rest);
      const auto dots = rest.find("..");
      if (ok && dots != std::string::npos) {
        const char* b = rest.data();
        const auto [e1, ec1] = std::from_chars(b, b + dots, o.from_ms);
        const auto [e2, ec2] = std::from_chars(b + dots + 2, b + rest.size(), o.to_ms);
        ok = ec1 == std::errc() && e1 == b + dots && ec2 == std::errc() && e2 == b + rest.size();
      } else {
        ok = false;
      }
      if (!ok || o.from_ms < 0 || o.to_ms <= o.from_ms) {
        return bad("offline", "want CLIENT@FROM..TO with 0 <= FROM < TO ms, got '" + v + "'");
      }
      if (o.client >= opt.clients) return bad("offline", "client " + std::to_string(o.client) + " is not below --clients");
      if (o.to_ms > limit_ms) return bad("offline", "'" + v + "' ends after --duration's end");
      for (const auto& p : opt.offline) {
        if (p.client == o.client && p.from_ms < o.to_ms && o.from_ms < p.to_ms) {
          return bad("offline", "'" + v + "' overlaps another offline of client " + std::to_string(o.client));
        }
      }
      opt.offline.push_back(o);
    }
  }
  for (const char* flag : {"disconnect", "revoke"}) {
    if (!vm.count(flag)) continue;
    auto& into = std::string(flag) == "revoke" ? opt.revokes : opt.disconnects;
    for (const std::string& v : vm[flag].as<std::vector<std::string>>()) {
      convlab::load::Options::Disconnect d;
      std::string rest;
      bool ok = client_at(v, d.client, rest);
      if (ok) {
        const auto [e, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), d.at_ms);
        ok = ec == std::errc() && e == rest.data() + rest.size() && d.at_ms >= 0;
      }
      if (!ok) return bad(flag, "want CLIENT@MS with MS >= 0, got '" + v + "'");
      if (d.client >= opt.clients) return bad(flag, "client " + std::to_string(d.client) + " is not below --clients");
      if (d.at_ms >= limit_ms) return bad(flag, "'" + v + "' is not before --duration's end");
      into.push_back(d);
    }
  }
  opt.sticky = vm.count("sticky") != 0;
  if (!convlab::utf8_decode(opt.initial_text)) return bad("initial-text", "not valid UTF-8");
  return convlab::load::run(opt);
}
