// convlab-load: typing clients over real WebSockets against convlab-server (see load/load.hpp).
//
//   convlab-load --url ws://127.0.0.1:PORT [--url ...] [--clients N] [--docs D] [--rate R]
//                [--duration S] [--strategy lww|seq|ot|crdt] [--seed N] [--user-prefix P]
//                [--password W] [--history FILE] [--pg URL] [--ramp C] [--drain S] [--warmup S] [--protocol 1|2]
//                [--quiet]
//
// Exit: 0 no errors (and, with --history, converged with no acknowledged edit lost), 1 errors,
// 2 bad flags.
#include "load/load.hpp"
#include "server/strategies/registry.hpp"

#include <boost/program_options.hpp>

#include <exception>
#include <iostream>
#include <string>

namespace po = boost::program_options;

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
    ("pg", po::value<std::string>(&opt.pg_url),
     "the servers' PostgreSQL URL: their change log goes into the history as commit events (needs --history)")
    ("ramp", po::value<double>(&opt.ramp)->default_value(opt.ramp), "connections opened per second")
    ("drain", po::value<double>(&opt.drain_s)->default_value(opt.drain_s), "longest wait for quiescence after typing, seconds")
    ("warmup", po::value<double>(&opt.warmup_s)->default_value(opt.warmup_s),
     "seconds after every client is connected before the steady state's figures start")
    ("protocol", po::value<int>(&opt.protocol)->default_value(opt.protocol), "2: convlab/2 (frames batched per message), 1: convlab/1")
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
  if (!opt.pg_url.empty() && opt.history.empty()) return bad("pg", "needs --history (the change log goes into it)");
  if (opt.clients == 0) return bad("clients", "must be at least 1");
  if (opt.docs == 0) return bad("docs", "must be at least 1");
  if (!(opt.rate > 0) || opt.rate > 1000) return bad("rate", "must be in (0, 1000] edits per second");
  if (!(opt.duration_s > 0)) return bad("duration", "must be positive");
  if (!(opt.ramp > 0)) return bad("ramp", "must be positive");
  if (!(opt.drain_s >= 0)) return bad("drain", "must not be negative");
  if (!(opt.warmup_s >= 0)) return bad("warmup", "must not be negative");
  if (opt.protocol != 1 && opt.protocol != 2) return bad("protocol", "must be 1 or 2");
  return convlab::load::run(opt);
}
