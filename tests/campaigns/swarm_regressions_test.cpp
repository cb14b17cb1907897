// Every world in swarm_worlds/ once broke a swarm invariant or the checker's agreement with the
// simulator's ground truth (its comment says which and how): it is run under the strategy and
// seed of its `replay:` line, with the ground truth on, and must now hold all of them.
#include "campaigns/oracle.hpp"
#include "campaigns/swarm.hpp"
#include "reports/checkers.hpp"
#include "server/strategies/registry.hpp"
#include "sim/scenario.hpp"
#include "sim/world.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace convlab {
namespace {

std::vector<std::string> world_files() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(CONVLAB_SWARM_WORLDS)) {
    if (e.path().extension() == ".yaml") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class SwarmWorld : public testing::TestWithParam<std::string> {};

TEST_P(SwarmWorld, HoldsEveryInvariant) {
  std::ifstream f(GetParam());
  std::stringstream text;
  text << f.rdbuf();
  // "# replay: convlab replay FILE --strategy S --seed N", as the swarm writes it.
  std::smatch m;
  const std::string yaml = text.str();
  ASSERT_TRUE(std::regex_search(yaml, m, std::regex("--strategy ([a-z]+) --seed ([0-9]+)")))
      << GetParam() << ": no replay line";
  const Strategy* strategy = find_strategy(m[1].str());
  ASSERT_NE(strategy, nullptr);
  const std::uint64_t seed = std::stoull(m[2].str());
  auto sc = sim::load_scenario(GetParam());
  ASSERT_TRUE(sc.has_value()) << sc.error().message;
  const sim::WorldConfig& c = sc->variants.front().config;
  ASSERT_TRUE(sim::world_problems(c, *strategy).empty());
  // With the ground truth on, as `convlab swarm --oracle` runs it: the checker must agree too.
  const campaigns::OracleRun r = campaigns::run_with_oracle(c, *strategy, seed, sc->name, "swarm");
  for (const campaigns::SwarmFailure& fail : campaigns::swarm_failures(c, *strategy, r.out, r.metrics)) {
    ADD_FAILURE() << GetParam() << ": " << strategy->name << " seed " << seed << ": " << fail.invariant << ": "
                  << fail.detail;
  }
  for (std::size_t i = 0; i < std::min<std::size_t>(r.disagreements.size(), 5); ++i) {
    const campaigns::Disagreement& d = r.disagreements[i];
    ADD_FAILURE() << GetParam() << ": " << strategy->name << " seed " << seed << ": oracle: doc " << d.doc << " id "
                  << d.id.agent << ":" << d.id.seq << " checker " << d.checker << ", truth " << d.truth << " (" << d.why
                  << ")";
  }
  EXPECT_TRUE(r.disagreements.empty()) << r.disagreements.size() << " disagreements with the ground truth";
}

INSTANTIATE_TEST_SUITE_P(Worlds, SwarmWorld, testing::ValuesIn(world_files()), [](const auto& p) {
  std::string name = std::filesystem::path(p.param).stem().string();
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
});

}  // namespace
}  // namespace convlab
