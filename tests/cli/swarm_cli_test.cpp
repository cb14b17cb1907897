// `convlab swarm`: a bounded swarm holds every invariant, an injected failure is found, written
// as a scenario `convlab validate` accepts and shrunk to its core, the output depends on the
// seeds only, and bad flags are one line naming the flag.
#include "tests/cli/cli_fixture.hpp"

#include <string>

#include <regex>

namespace convlab::cli_test {
namespace {

class SwarmCli : public CliTest {};

// The count an invariant's summary line gives ("  converged   0").
std::size_t count_of(const std::string& out, const std::string& invariant) {
  std::smatch m;
  const std::regex line("\n  " + invariant + " +([0-9]+)\n");
  if (!std::regex_search(out, m, line)) {
    ADD_FAILURE() << "no summary line for " << invariant << " in:\n" << out;
    return 1;
  }
  return std::stoul(m[1].str());
}

// The CI swarm: 200 worlds drawn from every knob; every strategy holds every invariant (the
// causes of loss come from the durable log, so an overwrite followed by a crash is no crash loss).
// Under a sanitizer the first 50 (the 200 take ~190 s under ASan); CI's release stage runs the
// 200 on the optimised build (scripts/test.sh).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr int kSwarmWorlds = 50;
#else
constexpr int kSwarmWorlds = 200;
#endif
TEST_F(SwarmCli, BoundedSwarmHoldsTheInvariants) {
  const std::string n = std::to_string(kSwarmWorlds);
  const CliRun r = convlab({"swarm", "--seeds", "1.." + n, "--jobs", "2", "--out", path("swarm"), "--no-shrink"});
  EXPECT_NE(r.out.find(n + " worlds x 4 strategies"), std::string::npos) << r.out;
  for (const char* inv : {"generator", "abort", "timeout", "refused", "node_error", "converged", "crash_loss", "lost_acked"}) {
    EXPECT_EQ(count_of(r.out, inv), 0u) << inv << "\n" << r.out;
  }
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(fs::exists(path("swarm/swarm.txt")));
}

TEST_F(SwarmCli, InjectedFailureIsFoundWrittenAndShrunk) {
  // Every world with a scheduled crash fails: the hook the test has into the child runs.
  const CliRun r = convlab({"swarm", "--seeds", "1..12", "--strategy", "crdt", "--jobs", "2", "--out",
                            path("swarm"), "--inject", "crash"});
  ASSERT_EQ(r.exit_code, 1) << r.out << r.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex("FAIL seed ([0-9]+) crdt injected: "))) << r.out;
  const std::string seed = m[1].str();
  EXPECT_NE(r.out.find("replay: convlab replay " + path("swarm/seed-" + seed + ".yaml") + " --strategy crdt --seed " + seed),
            std::string::npos)
      << r.out;
  EXPECT_GT(count_of(r.out, "injected"), 0u);

  // The failing world and its shrunk form are scenarios the loader takes and replay runs.
  const std::string world = path("swarm/seed-" + seed + ".yaml");
  const std::string min = path("swarm/seed-" + seed + ".min.yaml");
  ASSERT_TRUE(fs::exists(world) && fs::exists(min)) << r.out;
  EXPECT_EQ(convlab({"validate", world, min}).exit_code, 0);
  const CliRun replay = convlab({"replay", min, "--strategy", "crdt", "--seed", seed});
  EXPECT_NE(replay.out.find("digest"), std::string::npos) << replay.err;

  // Shrunk to the core of the failure: one crash, one client, one document, one server.
  const std::string text = read(min);
  std::size_t faults = 0;
  for (std::size_t at = text.find("kind: "); at != std::string::npos; at = text.find("kind: ", at + 1)) ++faults;
  EXPECT_EQ(faults, 1u) << text;
  EXPECT_NE(text.find("kind: crash"), std::string::npos) << text;
  EXPECT_NE(text.find("\n  clients: 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\n  docs: 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\n    count: 1\n"), std::string::npos) << text;

  // The same seeds give the same bytes, whatever the parallelism.
  const CliRun again = convlab({"swarm", "--seeds", "1..12", "--strategy", "crdt", "--jobs", "1", "--out",
                                path("swarm"), "--inject", "crash"});
  EXPECT_EQ(again.out, r.out);
}

TEST_F(SwarmCli, BadFlagsAreOneLineNamingTheFlag) {
  expect_usage_error(convlab({"swarm"}), "--seeds", "required");
  expect_usage_error(convlab({"swarm", "--seeds", "5..1"}), "--seeds", "A <= B");
  expect_usage_error(convlab({"swarm", "--seeds", "1..3", "--jobs", "0"}), "--jobs", "");
  expect_usage_error(convlab({"swarm", "--seeds", "1..3", "--strategy", "nope"}), "nope", "unknown strategy");
  expect_usage_error(convlab({"swarm", "--seeds", "1..3", "--shrink", "--no-shrink"}), "--no-shrink", "one of them");
  expect_usage_error(convlab({"swarm", "--seeds", "1..3", "--timeout", "x"}), "--timeout", "");
  expect_usage_error(convlab({"swarm", "--seeds", "1..3", "--bogus"}), "bogus", "");
}

}  // namespace
}  // namespace convlab::cli_test
