// One declaration of each server policy, read by both files: for every field of the policy table
// (server/core/policies.hpp), a scenario's `servers` section and convlab-server's `policies`
// section accept the same keys and values and give the node the same setting; and a bad value
// is reported in both with the same words, `FILE:LINE:COLUMN: key.path: problem`.
#include "server/core/policies.hpp"
#include "server/net/config.hpp"
#include "sim/scenario.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

namespace convlab {
namespace {

// `KEY: VALUE` as a scenario's servers key: line 4, the value at column 10 + len(KEY).
Result<sim::Scenario> scenario_with(const std::string& key, const std::string& value) {
  return sim::parse_scenario("name: t\n"
                             "world:\n"
                             "  servers:\n"
                             "    " + key + ": " + value + "\n"
                             "variants:\n"
                             "  naive: {}\n",
                             "s.yaml");
}

// `KEY: VALUE` under convlab-server's policies: line 2, the value at column 4 + len(KEY).
Result<void> server_with(const std::string& key, const std::string& value, net::ServerConfig& out) {
  const std::filesystem::path file =
      std::filesystem::temp_directory_path() / ("convlab-policies-" + std::to_string(::getpid()) + ".yaml");
  std::ofstream(file) << "policies:\n  " << key << ": " << value << "\n";
  Result<void> r = net::load_config(file.string(), out);
  std::filesystem::remove(file);
  if (!r) {
    // The file's name, as the server reports it, replaced by a fixed one for comparing.
    std::string m = r.error().message;
    const std::string name = file.string();
    for (std::size_t at = m.find(name); at != std::string::npos; at = m.find(name)) m.replace(at, name.size(), "server.yaml");
    return make_error(m);
  }
  return r;
}

// A value for `f` other than its default, as YAML text, and that value as the table reads it.
std::pair<std::string, double> other_value(const PolicyField& f) {
  const double def = f.get(NodePolicies{});
  switch (f.kind) {
    case PolicyField::Kind::kChoice: {
      const std::size_t i = def == 0 ? 1 : 0;
      return {std::string(f.choices[i]), static_cast<double>(i)};
    }
    case PolicyField::Kind::kBool:
      return {def != 0 ? "false" : "true", def != 0 ? 0 : 1};
    case PolicyField::Kind::kWhole:
    case PolicyField::Kind::kTime:
      return {std::to_string(static_cast<long long>(f.min) + 7), f.min + 7};
    case PolicyField::Kind::kNumber:
      return {"2.5", 2.5};
  }
  return {"", 0};
}

TEST(Policies, EveryFieldReadsTheSameInAScenarioAndTheServerConfig) {
  for (const PolicyField& f : policy_fields()) {
    const std::string key = std::string(f.key) + (f.kind == PolicyField::Kind::kTime ? "_ms" : "");
    const auto [text, value] = other_value(f);
    SCOPED_TRACE(key + ": " + text);
    ASSERT_NE(value, f.get(NodePolicies{}));
    auto sc = scenario_with(key, text);
    ASSERT_TRUE(sc) << sc.error().message;
    EXPECT_EQ(f.get(sc->variants.at(0).config.servers), value);
    net::ServerConfig cfg;
    auto ok = server_with(key, text, cfg);
    ASSERT_TRUE(ok) << ok.error().message;
    EXPECT_EQ(f.get(cfg.node), value);
  }
  // A time in seconds, in both.
  auto sc = scenario_with("poll_interval_s", "1.5");
  ASSERT_TRUE(sc) << sc.error().message;
  EXPECT_EQ(sc->variants.at(0).config.servers.poll_interval_ms, 1500);
  net::ServerConfig cfg;
  ASSERT_TRUE(server_with("poll_interval_s", "1.5", cfg));
  EXPECT_EQ(cfg.node.poll_interval_ms, 1500);
}

TEST(Policies, DefaultsAreTheTablesInBothFiles) {
  const NodePolicies def;
  const sim::ServersSpec scenario_default;
  const NodeConfig server_default = net::ServerConfig{}.node;
  for (const PolicyField& f : policy_fields()) {
    EXPECT_EQ(f.get(scenario_default), f.get(def)) << f.key;
    EXPECT_EQ(f.get(server_default), f.get(def)) << f.key;
  }
}

struct Bad {
  const char* key;
  const char* value;
  const char* problem;  // as both files word it, after the key path
};

TEST(Policies, SameProblemSameFormatInAScenarioAndTheServerConfig) {
  const Bad cases[] = {
      {"propagation", "carrier-pigeon", "unknown value \"carrier-pigeon\" (allowed: poll, bus)"},
      {"persistence", "[1]", "expected one of snapshot, changelog, got a sequence"},
      {"poll_interval_ms", "0", "must be at least 1 ms, got 0 ms"},
      {"anti_entropy_s", "2592001", "must be at most 2592000 s, got 2592001 s"},
      {"snapshot_every_changes", "2.5", "expected an integer, got \"2.5\""},
      {"rate_limit_per_s", "-1", "must not be negative, got -1"},
      {"rate_burst", "\"3\"", "expected an integer, got the string \"3\""},
      {"catch_up", "yes", "expected true or false, got \"yes\""},
  };
  for (const Bad& b : cases) {
    SCOPED_TRACE(b.key);
    const std::string col_s = std::to_string(4 + std::string(b.key).size() + 3);
    const std::string col_c = std::to_string(2 + std::string(b.key).size() + 3);
    auto sc = scenario_with(b.key, b.value);
    ASSERT_FALSE(sc);
    EXPECT_EQ(sc.error().message, "s.yaml:4:" + col_s + ": world.servers." + b.key + ": " + b.problem);
    net::ServerConfig cfg;
    auto ok = server_with(b.key, b.value, cfg);
    ASSERT_FALSE(ok);
    EXPECT_EQ(ok.error().message, "server.yaml:2:" + col_c + ": policies." + b.key + ": " + b.problem);
  }
  // An unknown key: both list the policies (and each file's own keys) it could have been.
  auto sc = scenario_with("propagaton", "bus");
  ASSERT_FALSE(sc);
  EXPECT_NE(sc.error().message.find("s.yaml:4:5: world.servers.propagaton: unknown key (allowed: count, propagation, "
                                    "poll_interval_ms, poll_interval_s,"),
            std::string::npos)
      << sc.error().message;
  net::ServerConfig cfg;
  auto ok = server_with("propagaton", "bus", cfg);
  ASSERT_FALSE(ok);
  EXPECT_NE(ok.error().message.find("server.yaml:2:3: policies.propagaton: unknown key (allowed: propagation, "
                                    "poll_interval_ms, poll_interval_s,"),
            std::string::npos)
      << ok.error().message;
}

}  // namespace
}  // namespace convlab
