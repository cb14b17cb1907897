// convlab swarm --seeds A..B [--jobs J] [--out DIR] [--strategy S]... [--shrink|--no-shrink] [--oracle]
//
// Swarm testing of the simulator: each seed draws a whole world (campaigns/swarm.hpp), written as
// scenario YAML and loaded back through the real loader, and runs it under every chosen
// strategy, each run in a child process of its own (`convlab swarm --world YAML --strategy S
// --seed N`, hidden) so that an abort is a recorded failure, not the end of the swarm. A failing
// world is written to DIR/seed-N.yaml and shrunk to DIR/seed-N.min.yaml.
//
// Invariants checked per run:
//   abort       the simulator never aborts (nor hangs: `timeout`)
//   refused     a client replica never refuses a message from its server
//   node_error  no server node logs an error (a stored document whose log does not replay)
//   converged   every replica equals the durable one after the heal (reports::check)
//   crash_loss  persistence changelog + ack after_commit: no character lost to `crash`
//   lost_acked  persistence changelog + ack after_commit, ot and crdt: no character lost at all
//   generator   the drawn world loads back (the loader accepts it, to the same world)
//   oracle      with --oracle: each run has the simulator's ground truth on, and the checker's
//               cause of every lost acknowledged character must be the truth's
#include "campaigns/campaign.hpp"
#include "campaigns/oracle.hpp"
#include "campaigns/swarm.hpp"
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/export.hpp"
#include "cli/measure.hpp"
#include "cli/scenarios.hpp"
#include "cli/subprocess.hpp"
#include "faults/kinds.hpp"
#include "reports/checkers.hpp"
#include "server/strategies/registry.hpp"
#include "sim/scenario.hpp"
#include "sim/world.hpp"

#include <boost/json.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <limits>
#include <atomic>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

namespace convlab::cli {

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kWorldsMax = 10'000'000;
// Shrinking stops after this many candidate runs per failing world.
constexpr std::size_t kShrinkRunsMax = 200;
// The invariants, in the order the summary lists them.
const std::vector<std::string> kInvariants = {"generator", "abort", "timeout", "refused", "node_error",
                                              "converged", "crash_loss", "lost_acked", "oracle", "injected"};

struct Failure {
  std::string strategy;
  std::string invariant;
  std::string detail;
};

// --- the child: one world under one strategy ---

bool has_fault(const sim::WorldConfig& c, const std::string& kind) {
  return std::any_of(c.faults.begin(), c.faults.end(),
                     [&](const sim::FaultSpec& f) { return faults::name(f.kind) == kind; });
}

int child_main(const std::string& yaml, const std::string& strategy_name, std::uint64_t seed, const std::string& inject,
               bool oracle) {
  int code = kExitOk;
  const Strategy* strategy = strategy_or_fail(strategy_name, code);
  if (strategy == nullptr) return code;
  auto sc = sim::parse_scenario(yaml, "world.yaml");
  if (!sc) return fail("swarm: --world: " + sc.error().message);
  const sim::WorldConfig& c = sc->variants.front().config;
  const auto problems = sim::world_problems(c, *strategy);
  if (!problems.empty()) return fail("swarm: --world: " + problems.front());
  // --oracle: with the simulator's ground truth on (the history is the same bytes), the checker's
  // cause of every lost character is held against it.
  const campaigns::OracleRun run = campaigns::run_checked(c, *strategy, seed, sc->name, sc->variants.front().name, oracle);
  const sim::RunOutput& out = run.out;
  const reports::RunMetrics& m = run.metrics;
  boost::json::array failures;
  std::vector<campaigns::SwarmFailure> found = campaigns::swarm_failures(c, *strategy, out, m);
  if (!run.disagreements.empty()) {
    const campaigns::Disagreement& d = run.disagreements.front();
    found.push_back({"oracle", std::to_string(run.disagreements.size()) +
                                   " lost characters whose cause the checker and the ground truth do not agree on; "
                                   "first: doc " + std::to_string(d.doc) + " id " + std::to_string(d.id.agent) + ":" +
                                   std::to_string(d.id.seq) + " checker " + d.checker + ", truth " + d.truth + " (" +
                                   d.why + ")"});
  }
  // A test hook: a world with a scheduled fault of this kind counts as failing.
  if (!inject.empty() && has_fault(c, inject)) found.push_back({"injected", "the world has a " + inject + " fault"});
  for (const campaigns::SwarmFailure& f : found) {
    failures.push_back(boost::json::object{{"invariant", f.invariant}, {"detail", f.detail}});
  }
  boost::json::object line{{"strategy", strategy->name},
                           {"seed", seed},
                           {"edits", m.edits},
                           {"acked_edits", m.acked_edits},
                           {"lost_acked_chars", m.lost_acked_chars},
                           {"digest", out.digest},
                           {"failures", std::move(failures)}};
  std::cout << boost::json::serialize(line) << '\n';
  return kExitOk;
}

// --- the parent ---

struct Settings {
  std::vector<const Strategy*> strategies;
  std::string out_dir;
  bool shrink = true;
  double timeout_s = 120;
  std::string inject;
  bool oracle = false;
};

std::string last_line_with(const std::string& text, const std::string& needle) {
  std::string found;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string l = text.substr(start, end - start);
    if (!l.empty() && (needle.empty() || l.find(needle) != std::string::npos)) found = l;
    start = end + 1;
  }
  return found;
}

// One world under one strategy in a child process: its failures (none when every invariant held).
std::vector<Failure> run_one(const Settings& st, const std::string& yaml, const Strategy& strategy, std::uint64_t seed) {
  std::vector<std::string> argv = {self_exe(), "swarm", "--world", yaml, "--strategy", std::string(strategy.name),
                                   "--seed", std::to_string(seed)};
  if (!st.inject.empty()) argv.insert(argv.end(), {"--inject", st.inject});
  if (st.oracle) argv.push_back("--oracle");
  const ChildResult r = run_child(argv, st.timeout_s);
  const std::string s(strategy.name);
  if (!r.started) return {{s, "abort", "could not start the child: " + r.err}};
  if (r.timed_out) return {{s, "timeout", "still running after " + fixed(st.timeout_s, 0) + " s"}};
  if (r.exit_code == 0) {
    boost::system::error_code ec;
    const boost::json::value v = boost::json::parse(last_line_with(r.out, ""), ec);
    if (!ec && v.is_object() && v.as_object().contains("failures")) {
      std::vector<Failure> out;
      for (const auto& f : v.at("failures").as_array()) {
        out.push_back({s, std::string(f.at("invariant").as_string()), std::string(f.at("detail").as_string())});
      }
      return out;
    }
  }
  // The simulator stopped: a replica that refused its server's message says so on stderr.
  const std::string refused = last_line_with(r.err, "refused a");
  if (!refused.empty()) return {{s, "refused", refused}};
  std::string why = last_line_with(r.err, "assertion failed");
  if (why.empty()) why = last_line_with(r.err, "");
  if (r.signal != 0) why += (why.empty() ? "" : " ") + std::string("(signal ") + std::to_string(r.signal) + ")";
  if (r.signal == 0) why += (why.empty() ? "" : " ") + std::string("(exit ") + std::to_string(r.exit_code) + ")";
  return {{s, "abort", why}};
}

struct WorldResult {
  std::uint64_t seed = 0;
  std::vector<Failure> failures;
  std::string yaml_path;
  std::string min_path;
  std::string shrink_note;  // what shrinking kept of the world
};

std::string world_name(std::uint64_t seed) { return "swarm-" + std::to_string(seed); }

std::string replay_line(const std::string& path, const std::string& strategy, std::uint64_t seed) {
  return "convlab replay " + path + " --strategy " + strategy + " --seed " + std::to_string(seed);
}

std::string size_note(const sim::WorldConfig& c) {
  return std::to_string(c.clients) + " clients, " + std::to_string(c.servers.count) + " servers, " +
         std::to_string(c.docs) + " docs, " + std::to_string(c.faults.size()) + " faults, " +
         std::to_string(c.random_faults.count) + " random faults, " + std::to_string(c.duration_ms) + " ms";
}

// Checks that the world's YAML loads back to the same world. Empty when it does.
std::string generator_problem(const std::string& yaml, const std::string& file, const sim::WorldConfig& c) {
  auto sc = sim::parse_scenario(yaml, file);
  if (!sc) return "the loader refused the drawn world: " + sc.error().message;
  if (sc->variants.size() != 1) return "the drawn world has " + std::to_string(sc->variants.size()) + " variants";
  const sim::WorldConfig& back = sc->variants.front().config;
  if (campaigns::world_yaml(back, "x", "") != campaigns::world_yaml(c, "x", "")) return "the world read back differs from the drawn one";
  for (const Strategy* s : strategies()) {
    const auto p = sim::world_problems(back, *s);
    if (!p.empty()) return "the drawn world cannot run under " + std::string(s->name) + ": " + p.front();
  }
  return "";
}

bool same_failure(const std::vector<Failure>& fs, const Failure& f) {
  return std::any_of(fs.begin(), fs.end(), [&](const Failure& g) { return g.invariant == f.invariant; });
}

WorldResult run_world_seed(const Settings& st, std::uint64_t seed) {
  WorldResult res;
  res.seed = seed;
  const sim::WorldConfig c = campaigns::draw_world(seed);
  const std::string file = "seed-" + std::to_string(seed) + ".yaml";
  const std::string yaml = campaigns::world_yaml(
      c, world_name(seed), "convlab swarm world of seed " + std::to_string(seed) + " (" + size_note(c) + ")");
  const std::string problem = generator_problem(yaml, file, c);
  if (!problem.empty()) {
    res.failures.push_back({"*", "generator", problem});
  } else {
    for (const Strategy* s : st.strategies) {
      auto f = run_one(st, yaml, *s, seed);
      res.failures.insert(res.failures.end(), f.begin(), f.end());
    }
  }
  if (res.failures.empty()) return res;
  res.yaml_path = (fs::path(st.out_dir) / file).string();
  write_file(res.yaml_path, yaml);
  if (!st.shrink || res.failures.front().invariant == "generator") return res;

  // Shrink against the first failure: the same invariant under the same strategy.
  const Failure target = res.failures.front();
  const Strategy* strategy = find_strategy(target.strategy);
  sim::WorldConfig cur = c;
  std::string min_detail = target.detail;
  std::size_t tries = 0;
  bool progress = true;
  while (progress && tries < kShrinkRunsMax) {
    progress = false;
    for (const sim::WorldConfig& cand : campaigns::shrink_steps(cur)) {
      if (tries >= kShrinkRunsMax) break;
      const std::string text = campaigns::world_yaml(cand, world_name(seed) + "-min", "");
      if (!generator_problem(text, file, cand).empty()) continue;  // a shrink step the loader refuses: skip it
      ++tries;
      const std::vector<Failure> got = run_one(st, text, *strategy, seed);
      if (same_failure(got, target)) {
        cur = cand;
        for (const Failure& g : got) {
          if (g.invariant == target.invariant) min_detail = g.detail;
        }
        progress = true;
        break;
      }
    }
  }
  res.min_path = (fs::path(st.out_dir) / ("seed-" + std::to_string(seed) + ".min.yaml")).string();
  res.shrink_note = size_note(cur) + " after " + std::to_string(tries) + " runs";
  write_file(res.min_path,
             campaigns::world_yaml(cur, world_name(seed) + "-min",
                             "convlab swarm world of seed " + std::to_string(seed) + ", shrunk (" + size_note(cur) +
                                 ")\n" + target.strategy + " " + target.invariant + ": " + one_line(min_detail) +
                                 "\nreplay: " + replay_line(res.min_path, target.strategy, seed)));
  return res;
}

void print_help(const po::options_description& desc) {
  std::cout << "usage: convlab swarm --seeds A..B [--jobs J] [--out DIR] [--strategy NAME]...\n"
               "                     [--shrink | --no-shrink] [--timeout S] [--oracle]\n\n"
               "Swarm testing of the simulator: each seed draws a whole world (clients, servers, documents,\n"
               "propagation, persistence, acks, API reads, CDN, replicas, rate limits, clocks, reloads,\n"
               "renames, which fault kinds occur and how many), writes it as scenario YAML, loads it back\n"
               "and runs it under every strategy, each run in a child process. Invariants: the simulator\n"
               "never aborts (abort, timeout); a client never refuses its server's message (refused);\n"
               "every run converges after the heal (converged); with persistence changelog and ack\n"
               "after_commit nothing is lost to a crash (crash_loss), and ot and crdt lose nothing\n"
               "(lost_acked); the drawn world loads back (generator). With --oracle, each run also has the\n"
               "simulator's ground truth on and the checker's cause of every lost acknowledged character\n"
               "must be the truth's (oracle; about twice the run time).\n"
               "A failing world is written to DIR/seed-N.yaml with a replay command, and shrunk (faults,\n"
               "clients, documents, servers, duration, knobs) while the same invariant still fails under\n"
               "the same strategy, to DIR/seed-N.min.yaml. The summary is on stdout and in DIR/swarm.txt;\n"
               "progress on stderr.\n\n"
               "strategies: " << strategy_names() << " (default: all)\n"
               "Exit: 0 every invariant held, 1 some failed, 2 bad input or flags.\n\n"
            << desc;
}

}  // namespace

int swarm_cmd(const std::vector<std::string>& args) {
  po::options_description desc("options");
  desc.add_options()
      ("help,h", "show this help")
      ("seeds", po::value<std::string>(), "A..B (or N: 1..N): one world per seed (required)")
      ("jobs,j", po::value<std::string>(), "worlds in parallel (default: the number of cores)")
      ("out,o", po::value<std::string>()->default_value("out/swarm"), "directory for failing worlds and swarm.txt")
      ("strategy,s", po::value<std::vector<std::string>>(), "strategy to run; repeat or comma-separate")
      ("shrink", "shrink failing worlds (the default)")
      ("no-shrink", "do not shrink failing worlds")
      ("oracle", "also hold the checker's causes of loss against the simulator's ground truth")
      ("timeout", po::value<std::string>(), "seconds one run may take before it counts as hung (default 120)");
  po::options_description hidden;
  hidden.add_options()
      ("world", po::value<std::string>(), "")
      ("seed", po::value<std::string>(), "")
      ("inject", po::value<std::string>(), "");
  po::options_description all;
  all.add(desc).add(hidden);
  po::variables_map vm;
  int code = kExitOk;
  if (!parse_options("swarm", args, all, po::positional_options_description{}, vm, code)) return code;
  if (vm.count("help")) {
    print_help(desc);
    return kExitOk;
  }
  const std::string inject = vm.count("inject") ? vm["inject"].as<std::string>() : "";
  if (!inject.empty()) {
    if (faults::find(inject) == nullptr) return fail("swarm: --inject: unknown fault kind " + inject);
  }

  // The child: one world, one strategy, one JSON line.
  if (vm.count("world")) {
    if (!vm.count("strategy") || vm["strategy"].as<std::vector<std::string>>().size() != 1) {
      return fail("swarm: --world needs exactly one --strategy");
    }
    if (!vm.count("seed")) return fail("swarm: --world needs --seed");
    auto seed = parse_uint("--seed", vm["seed"].as<std::string>(), 0, std::numeric_limits<std::int64_t>::max());
    if (!seed) return fail("swarm: " + seed.error().message);
    return child_main(vm["world"].as<std::string>(), vm["strategy"].as<std::vector<std::string>>().front(), *seed, inject,
                      vm.count("oracle") != 0);
  }
  if (vm.count("seed")) return fail("swarm: --seed: only with --world (did you mean --seeds A..B?)");

  if (!vm.count("seeds")) return fail("swarm: --seeds is required (A..B, e.g. --seeds 1..300)");
  auto seeds = campaigns::parse_seeds(vm["seeds"].as<std::string>());
  if (!seeds) return fail("swarm: " + seeds.error().message);
  if (seeds->size() > kWorldsMax) return fail("swarm: --seeds: at most " + std::to_string(kWorldsMax) + " worlds");
  unsigned jobs = std::max(1u, std::thread::hardware_concurrency());
  if (vm.count("jobs")) {
    auto j = parse_uint("--jobs", vm["jobs"].as<std::string>(), 1, 1024);
    if (!j) return fail("swarm: " + j.error().message);
    jobs = static_cast<unsigned>(*j);
  }
  if (vm.count("shrink") && vm.count("no-shrink")) return fail("swarm: --shrink and --no-shrink: give one of them");
  Settings st;
  st.shrink = !vm.count("no-shrink");
  st.inject = inject;
  st.oracle = vm.count("oracle") != 0;
  if (vm.count("timeout")) {
    auto t = parse_uint("--timeout", vm["timeout"].as<std::string>(), 1, 86400);
    if (!t) return fail("swarm: " + t.error().message);
    st.timeout_s = static_cast<double>(*t);
  }
  if (vm.count("strategy")) {
    if (!parse_strategies(vm["strategy"].as<std::vector<std::string>>(), st.strategies, code)) return code;
  } else {
    st.strategies.assign(strategies().begin(), strategies().end());
  }
  st.out_dir = vm["out"].as<std::string>();
  if (st.out_dir.empty()) return fail("swarm: --out: expected a directory");
  std::error_code ec;
  fs::create_directories(st.out_dir, ec);
  if (ec || !fs::is_directory(st.out_dir)) {
    return fail(st.out_dir + ": cannot create the output directory" + (ec ? ": " + ec.message() : ""));
  }
  // An aborting child would otherwise write a core file per failure.
  const rlimit no_core{0, 0};
  setrlimit(RLIMIT_CORE, &no_core);

  std::string names;
  for (const Strategy* s : st.strategies) names += (names.empty() ? "" : ", ") + std::string(s->name);
  std::string head = "convlab swarm: seeds " + seeds_text(*seeds) + ", " + std::to_string(seeds->size()) +
                     (seeds->size() == 1 ? " world" : " worlds") + " x " + std::to_string(st.strategies.size()) +
                     " strategies (" + names + ")" + (st.shrink ? ", shrinking" : "") + "\n";
  std::cout << head << std::flush;
  std::cerr << "convlab swarm: " << jobs << (jobs == 1 ? " job" : " jobs") << ", out " << st.out_dir << '\n';

  std::vector<WorldResult> results(seeds->size());
  std::atomic<std::size_t> next{0};
  std::size_t done = 0;
  std::size_t failed_worlds = 0;
  std::mutex mu;
  const bool tty = isatty(STDERR_FILENO);
  const Stopwatch clock;
  auto worker = [&] {
    for (;;) {
      const std::size_t i = next.fetch_add(1);
      if (i >= seeds->size()) return;
      WorldResult r = run_world_seed(st, (*seeds)[i]);
      std::lock_guard lock(mu);
      ++done;
      failed_worlds += r.failures.empty() ? 0 : 1;
      const double elapsed = clock.elapsed_ms() / 1000.0;
      const double left = elapsed / static_cast<double>(done) * static_cast<double>(seeds->size() - done);
      std::string bar;
      if (tty) {
        constexpr std::size_t kWidth = 24;
        const std::size_t filled = done * kWidth / seeds->size();
        bar = "|" + std::string(filled, '#') + std::string(kWidth - filled, '.') + "| ";
      }
      std::string what = r.failures.empty() ? "ok" : "FAIL";
      for (const Failure& f : r.failures) what += " " + f.strategy + ":" + f.invariant;
      std::fprintf(stderr, "%s%s[%zu/%zu] %.0f s elapsed, ~%.0f s left, %zu failing worlds  seed %llu %s%s",
                   tty ? "\r\033[K" : "", bar.c_str(), done, seeds->size(), elapsed, left, failed_worlds,
                   static_cast<unsigned long long>(r.seed), what.c_str(), tty ? "" : "\n");
      std::fflush(stderr);
      results[i] = std::move(r);
    }
  };
  const unsigned threads = std::max(1u, std::min<unsigned>(jobs, static_cast<unsigned>(seeds->size())));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  if (tty) std::fprintf(stderr, "\r\033[K");

  // The summary, in seed order: the same seeds give the same bytes.
  std::string text;
  std::map<std::string, std::size_t> per_invariant;
  std::size_t failed_runs = 0;
  for (const WorldResult& r : results) {
    for (const Failure& f : r.failures) {
      ++per_invariant[f.invariant];
      ++failed_runs;
      text += "FAIL seed " + std::to_string(r.seed) + " " + f.strategy + " " + f.invariant + ": " + one_line(f.detail) + "\n";
      if (f.strategy != "*") text += "  replay: " + replay_line(r.yaml_path, f.strategy, r.seed) + "\n";
    }
    if (!r.min_path.empty()) {
      text += "  shrunk: " + r.min_path + " (" + r.shrink_note + "); replay: " +
              replay_line(r.min_path, r.failures.front().strategy, r.seed) + "\n";
    }
  }
  const std::size_t runs = seeds->size() * st.strategies.size();
  text += "summary: " + std::to_string(seeds->size()) + " worlds, " + std::to_string(runs) + " runs, " +
          std::to_string(failed_runs) + " failed runs in " + std::to_string(failed_worlds) + " worlds\n";
  for (const std::string& inv : kInvariants) {
    if (inv == "injected" && st.inject.empty()) continue;
    text += "  " + inv + std::string(inv.size() < 12 ? 12 - inv.size() : 1, ' ') + std::to_string(per_invariant[inv]) + "\n";
  }
  std::cout << text;
  const std::string summary_path = (fs::path(st.out_dir) / "swarm.txt").string();
  if (!write_file(summary_path, head + text)) return fail(summary_path + ": cannot write");
  std::cerr << "convlab swarm: " << fixed(clock.elapsed_ms() / 1000.0, 1) << " s wall time; wrote " << summary_path << '\n';
  return failed_runs == 0 ? kExitOk : kExitMismatch;
}

}  // namespace convlab::cli
