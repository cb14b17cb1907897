// convlab oracle SCENARIO... [--strategy S]... [--seeds N|A..B] [--variant V] [--list N]
// The checker's cause of every lost acknowledged character held against the simulator's ground
// truth (campaigns/oracle.hpp), over scenarios × variants × strategies × seeds.
#include "campaigns/campaign.hpp"
#include "campaigns/oracle.hpp"
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/scenarios.hpp"
#include "server/strategies/registry.hpp"
#include "sim/world.hpp"

#include <iostream>
#include <map>

namespace convlab::cli {

namespace po = boost::program_options;

int oracle_cmd(const std::vector<std::string>& args) {
  po::options_description desc("options");
  desc.add_options()
      ("help,h", "show this help")
      ("strategy,s", po::value<std::vector<std::string>>(), "strategy (repeat or comma-separate; default: the scenario's)")
      ("seeds", po::value<std::string>(), "N (1..N) or A..B (default: 1..10)")
      ("variant", po::value<std::string>(), "only this variant")
      ("list", po::value<std::string>(), "print at most this many disagreements per run (default 5)")
      ("positional", po::value<std::vector<std::string>>(), "scenario files or directories");
  po::positional_options_description pos;
  pos.add("positional", -1);
  po::variables_map vm;
  int code = kExitOk;
  if (!parse_options("oracle", args, desc, pos, vm, code)) return code;
  if (vm.count("help")) {
    std::cout << "usage: convlab oracle SCENARIO... [--strategy NAME]... [--seeds N|A..B] [--variant V] [--list N]\n\n"
                 "Runs each scenario variant under each strategy and seed with the simulator's ground truth\n"
                 "on (docs/history.md, \"Ground truth\"), and compares the checker's cause of every lost\n"
                 "acknowledged character with the truth's. Prints each run's disagreements (a character\n"
                 "both call `unknown` counts: every loss must have a named cause), then their\n"
                 "count per (checker cause -> truth cause) and in total.\n"
                 "Exit: 0 no disagreement, 1 some, 2 bad input or flags.\n\n"
              << desc;
    return kExitOk;
  }
  if (!vm.count("positional")) return fail("oracle: missing SCENARIO (see convlab oracle --help)");
  auto files = scenario_files(vm["positional"].as<std::vector<std::string>>());
  if (!files) return fail("oracle: " + files.error().message);
  Loaded loaded = load_scenarios(*files);
  if (!loaded.problems.empty()) return fail_lines(loaded.problems);
  std::vector<const Strategy*> chosen;
  if (vm.count("strategy") && !parse_strategies(vm["strategy"].as<std::vector<std::string>>(), chosen, code)) return code;
  std::vector<std::uint64_t> seeds;
  for (std::uint64_t s = 1; s <= 10; ++s) seeds.push_back(s);
  if (vm.count("seeds")) {
    auto parsed = campaigns::parse_seeds(vm["seeds"].as<std::string>());
    if (!parsed) return fail("oracle: --seeds: " + parsed.error().message);
    seeds = std::move(*parsed);
  }
  std::uint64_t list = 5;
  if (vm.count("list")) {
    auto n = parse_uint("--list", vm["list"].as<std::string>(), 0, 1'000'000);
    if (!n) return fail("oracle: " + n.error().message);
    list = *n;
  }
  const std::string only = vm.count("variant") ? vm["variant"].as<std::string>() : "";

  std::map<std::pair<std::string, std::string>, std::uint64_t> pairs;
  std::map<std::string, std::uint64_t> checker_causes;
  std::map<std::string, std::uint64_t> truth_causes;
  std::uint64_t runs = 0;
  std::uint64_t lost = 0;
  std::uint64_t total = 0;
  for (const sim::Scenario& sc : loaded.scenarios) {
    const auto strategies = strategies_of(sc, chosen);
    const auto problems = world_problem_lines(sc, strategies, only);
    if (!problems.empty()) return fail_lines(problems);
    for (const sim::Variant& v : sc.variants) {
      if (!only.empty() && v.name != only) continue;
      for (const Strategy* st : strategies) {
        for (std::uint64_t seed : seeds) {
          const campaigns::OracleRun r = campaigns::run_with_oracle(v.config, *st, seed, sc.name, v.name);
          ++runs;
          lost += r.truth.size();
          for (const reports::LostChar& c : r.metrics.lost) ++checker_causes[c.cause];
          for (const sim::TruthChar& t : r.truth) ++truth_causes[t.cause];
          if (r.disagreements.empty()) continue;
          total += r.disagreements.size();
          std::cout << sc.name << " " << v.name << " " << st->name << " seed " << seed << ": "
                    << r.disagreements.size() << " disagreement(s)\n";
          for (std::size_t i = 0; i < r.disagreements.size(); ++i) {
            const campaigns::Disagreement& d = r.disagreements[i];
            ++pairs[{d.checker, d.truth}];
            if (i < list) {
              std::cout << "  doc " << d.doc << " id " << d.id.agent << ":" << d.id.seq << "  checker " << d.checker
                        << "  truth " << d.truth << "  (" << d.why << ")\n";
            }
          }
        }
      }
    }
  }
  std::cout << "runs " << runs << ", lost acknowledged characters (truth) " << lost << "\n";
  std::cout << "causes, checker:";
  for (const auto& [c, n] : checker_causes) std::cout << " " << c << " " << n;
  std::cout << "\ncauses, truth:  ";
  for (const auto& [c, n] : truth_causes) std::cout << " " << c << " " << n;
  std::cout << "\n";
  for (const auto& [p, n] : pairs) std::cout << "checker " << p.first << " -> truth " << p.second << ": " << n << "\n";
  std::cout << "disagreements " << total << "\n";
  return total == 0 ? kExitOk : kExitMismatch;
}

}  // namespace convlab::cli
