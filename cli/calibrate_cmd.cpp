// convlab calibrate [--out FILE] [--servers N] [--clients N] [--docs N] [--rate R] [--seconds S]
//                   [--poll-seconds S] [--strategy S]
//
// The real server's costs on this machine (realrun/calibrate.hpp), measured on real processes
// (a throwaway PostgreSQL, convlab-server, convlab-load, psql), written as a calibration
// fragment (sim/calibration.hpp) that scenarios include with `calibration: FILE`. Progress on
// stderr, the fragment on stdout or in FILE. Ctrl-C stops every process it started.
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/export.hpp"
#include "cli/real.hpp"
#include "realrun/calibrate.hpp"
#include "server/strategies/registry.hpp"
#include "sim/calibration.hpp"

#include <boost/program_options.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>

namespace convlab::cli {

namespace fs = std::filesystem;
namespace po = boost::program_options;

namespace {

std::atomic<bool> g_stop{false};
void on_stop_signal(int) { g_stop = true; }

}  // namespace

int calibrate_cmd(const std::vector<std::string>& args) {
  realrun::CalibrateOptions o;
  po::options_description desc("options");
  desc.add_options()
      ("help,h", "show this help")
      ("out,o", po::value<std::string>(), "write the fragment here (default: stdout)")
      ("servers", po::value<std::uint32_t>(&o.servers)->default_value(o.servers), "convlab-servers (1..4)")
      ("clients", po::value<std::uint32_t>(&o.clients)->default_value(o.clients), "typing clients (1..2000)")
      ("docs", po::value<std::uint32_t>(&o.docs)->default_value(o.docs), "documents (1..1000)")
      ("rate", po::value<double>(&o.rate)->default_value(o.rate), "edits/s per client while measuring frames")
      ("seconds", po::value<double>(&o.seconds)->default_value(o.seconds), "seconds measured under typing (1..120)")
      ("poll-seconds", po::value<double>(&o.poll_seconds)->default_value(o.poll_seconds),
       "seconds measured while polling (1..120)")
      ("strategy", po::value<std::string>(&o.strategy)->default_value(o.strategy), "the servers' strategy");
  po::variables_map vm;
  int code = kExitOk;
  if (!parse_options("calibrate", args, desc, po::positional_options_description{}, vm, code)) return code;
  if (vm.count("help")) {
    std::cout << "usage: convlab calibrate [--out FILE] [options]\n\n"
                 "Measures this machine's real server (a throwaway PostgreSQL, convlab-server,\n"
                 "convlab-load, psql): server CPU per client frame and per poll, group-commit time,\n"
                 "commit to NOTIFY delay, a store read's round trip; writes them as a calibration\n"
                 "fragment that a scenario includes with `calibration: FILE`.\n\n"
              << desc;
    return kExitOk;
  }
  if (o.servers < 1 || o.servers > 4) return fail("calibrate: --servers: expected 1..4, got " + std::to_string(o.servers));
  if (o.clients < 1 || o.clients > 2000) return fail("calibrate: --clients: expected 1..2000, got " + std::to_string(o.clients));
  if (o.docs < 1 || o.docs > 1000) return fail("calibrate: --docs: expected 1..1000, got " + std::to_string(o.docs));
  if (!(o.rate > 0) || o.rate > 100) return fail("calibrate: --rate: expected (0, 100] edits/s per client");
  if (!(o.seconds >= 1) || o.seconds > 120) return fail("calibrate: --seconds: expected 1..120");
  if (!(o.poll_seconds >= 1) || o.poll_seconds > 120) return fail("calibrate: --poll-seconds: expected 1..120");
  if (find_strategy(o.strategy) == nullptr) {
    return fail("calibrate: --strategy: unknown strategy '" + o.strategy + "' (known: " + strategy_names() + ")");
  }
  const std::string out = vm.count("out") ? vm["out"].as<std::string>() : "";

  char tmpl[] = "/tmp/convlab-calibrate.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return fail("calibrate: cannot make a directory under /tmp for the logs");
  const std::string dir = tmpl;

  const StopSignals stop_signals(on_stop_signal);

  const auto t0 = std::chrono::steady_clock::now();
  const auto progress = [](const std::string& line) { std::cerr << "convlab calibrate: " << line << '\n' << std::flush; };
  progress("logs in " + dir);
  auto c = realrun::calibrate(o, real_programs(), dir, g_stop, progress);
  if (!c) {
    if (g_stop) {
      progress("interrupted; every process it started is stopped");
      return 130;
    }
    return fail("calibrate: " + c.error().message + " (logs in " + dir + ")");
  }
  const std::string text = sim::format_calibration(*c);
  const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  progress("done in " + fixed(wall_s, 1) + " s");
  if (out.empty()) {
    std::cout << text;
  } else {
    std::error_code ec;
    if (fs::path(out).has_parent_path()) fs::create_directories(fs::path(out).parent_path(), ec);
    if (!write_file(out, text)) return fail("calibrate: " + out + ": cannot write");
    progress("wrote " + out);
  }
  std::error_code ec;
  fs::remove_all(dir, ec);  // every figure is in the fragment
  return kExitOk;
}

}  // namespace convlab::cli
