#include "campaigns/oracle.hpp"

#include "sim/world.hpp"

#include <algorithm>
#include <map>
#include <tuple>

namespace convlab::campaigns {

std::vector<Disagreement> compare_causes(const std::vector<reports::LostChar>& checker,
                                         const std::vector<sim::TruthChar>& truth) {
  struct Side {
    const reports::LostChar* c = nullptr;
    const sim::TruthChar* t = nullptr;
  };
  std::map<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>, Side> all;
  for (const reports::LostChar& c : checker) all[{c.doc, c.id.agent, c.id.seq}].c = &c;
  for (const sim::TruthChar& t : truth) all[{t.doc, t.id.agent, t.id.seq}].t = &t;
  std::vector<Disagreement> out;
  for (const auto& [key, side] : all) {
    const std::string c = side.c ? side.c->cause : "none";
    const std::string t = side.t ? side.t->cause : "none";
    // Both undecided is a finding too: every lost character must have a named cause.
    if (c == t && c != "unknown") continue;
    Disagreement d;
    d.doc = std::get<0>(key);
    d.id = CharId{std::get<1>(key), std::get<2>(key)};
    d.checker = c;
    d.truth = t;
    if (side.t) {
      d.why = "author " + std::to_string(side.t->author) + "." + std::to_string(side.t->author_op) + ", truth: " +
              side.t->why;
      if (side.t->by_client >= 0) d.why += " (by " + std::to_string(side.t->by_client) + "." + std::to_string(side.t->by_op) + ")";
    }
    if (side.c) {
      d.why += std::string(d.why.empty() ? "" : "; ") + "checker by " + std::to_string(side.c->by_client) + "." +
               std::to_string(side.c->by_op);
    }
    out.push_back(std::move(d));
  }
  return out;
}

OracleRun run_checked(const sim::WorldConfig& config, const Strategy& strategy, std::uint64_t seed,
                      const std::string& scenario, const std::string& variant, bool oracle) {
  sim::RunOptions ro;
  ro.strategy = &strategy;
  ro.seed = seed;
  ro.scenario = scenario;
  ro.variant = variant;
  ro.keep_events = false;
  ro.oracle = oracle;
  reports::Checker checker;
  checker.list_all_lost(oracle);
  ro.on_event = [&checker](const history::Event& e) { checker.add(e); };
  sim::RunOutput out = sim::run_world(config, ro);
  OracleRun r;
  r.metrics = checker.finish();
  r.truth = std::move(out.truth);
  r.digest = out.digest;
  if (oracle) r.disagreements = compare_causes(r.metrics.lost, r.truth);
  r.out = std::move(out);
  return r;
}

OracleRun run_with_oracle(const sim::WorldConfig& config, const Strategy& strategy, std::uint64_t seed,
                          const std::string& scenario, const std::string& variant) {
  return run_checked(config, strategy, seed, scenario, variant, true);
}

}  // namespace convlab::campaigns
