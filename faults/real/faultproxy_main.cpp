// convlab-faultproxy: the TCP fault proxy (faults/real/proxy.hpp) as a process.
//
//   convlab-faultproxy --target HOST:PORT [--listen IP:PORT] [--hold-limit BYTES] [--seed N]
//
// Its first stdout line is "listening IP:PORT control IP:PORT"; control lines (partition
// both|up|down, heal, latency MIN_MS MAX_MS [SEED], cut, stats) go to the control port, one per
// line, each answered with one line ("ok ..." or "error: ..."), e.g. `echo stats | nc -q1 127.0.0.1 C`.
// Runs until SIGTERM or SIGINT. Exit: 0 stopped by a signal, 1 cannot start, 2 bad flags.
#include "faults/real/proxy.hpp"

#include <boost/program_options.hpp>

#include <csignal>
#include <cstdio>
#include <exception>
#include <iostream>
#include <string>

namespace po = boost::program_options;

namespace {

bool split_host_port(const std::string& s, std::string& host, std::uint16_t& port) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  try {
    const unsigned long p = std::stoul(s.substr(colon + 1));
    if (p > 65535) return false;
    port = static_cast<std::uint16_t>(p);
  } catch (const std::exception&) {
    return false;
  }
  host = s.substr(0, colon);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string target, listen = "127.0.0.1:0";
  convlab::faults::real::ProxyOptions opt;
  po::options_description desc("convlab-faultproxy options");
  desc.add_options()
    ("help", "this text")
    ("target", po::value<std::string>(&target), "where connections go: HOST:PORT")
    ("listen", po::value<std::string>(&listen)->default_value(listen), "where clients connect: IP:PORT (0: any free port)")
    ("hold-limit", po::value<std::size_t>(&opt.hold_limit)->default_value(opt.hold_limit),
     "bytes held per connection and direction during a partition before the proxy stops reading (the sender then blocks)")
    ("seed", po::value<std::uint64_t>(&opt.seed)->default_value(opt.seed), "seed of the latency draws");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "convlab-faultproxy: " << e.what() << "\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << "usage: convlab-faultproxy --target HOST:PORT [options]\n" << desc
              << "First stdout line: listening IP:PORT control IP:PORT. Control lines, one per line:\n"
                 "  partition both|up|down   hold bytes in that direction (up: client -> target)\n"
                 "  heal                     deliver what was held, in order\n"
                 "  latency MIN_MS MAX_MS [SEED]  delay each chunk by a seeded draw, order kept\n"
                 "  cut                      reset every open connection\n"
                 "  stats                    counters, queued bytes, the partition and latency\n";
    return 0;
  }
  if (!split_host_port(target, opt.target_host, opt.target_port) || opt.target_port == 0) {
    std::cerr << "convlab-faultproxy: --target: want HOST:PORT, got '" << target << "'\n";
    return 2;
  }
  if (!split_host_port(listen, opt.listen_host, opt.listen_port)) {
    std::cerr << "convlab-faultproxy: --listen: want IP:PORT, got '" << listen << "'\n";
    return 2;
  }
  opt.control = true;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before the proxy's thread starts: it inherits the mask
  try {
    convlab::faults::real::FaultProxy proxy(opt);
    std::printf("listening %s:%u control %s:%u\n", opt.listen_host.c_str(), proxy.port(), opt.listen_host.c_str(),
                proxy.control_port());
    std::fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
  } catch (const std::exception& e) {
    std::cerr << "convlab-faultproxy: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
