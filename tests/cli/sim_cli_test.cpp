// The simulator's command line, run as a user runs it: `convlab run`, `replay`, `check` and
// `validate` on a tiny scenario the test writes (2 s simulated, 2 seeds, 2 strategies): the
// report's fields, exit codes 0/1/2, JUnit output, and replay's determinism.
#include "reports/checkers.hpp"
#include "server/strategies/registry.hpp"
#include "tests/cli/cli_fixture.hpp"

#include <boost/json.hpp>
#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using convlab::cli_test::CliRun;
using convlab::cli_test::CliTest;

class SimCli : public CliTest {};

// 2 s of edits by 4 clients on 2 servers, then 1 s to converge. `expect` is the mapping under
// `"*":` of the one variant, `base`.
std::string tiny_scenario(const std::string& expect) {
  return "name: tiny\n"
         "description: four clients on two servers for two seconds\n"
         "seeds: 2\n"
         "world:\n"
         "  duration_s: 2\n"
         "  quiesce_s: 1\n"
         "  clients: 4\n"
         "  workload: {think_ms: [100, 300]}\n"
         "  servers: {count: 2, propagation: bus, persistence: changelog, ack: after_commit}\n"
         "variants:\n"
         "  base:\n"
         "expect:\n"
         "  base:\n"
         "    \"*\": " + expect + "\n";
}

json::object parse_object(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  EXPECT_FALSE(ec) << ec.message() << "\n" << text;
  if (ec || !v.is_object()) return {};
  return v.get_object();
}

// The value after `name` on the line of stdout that starts with it ("digest   0123...").
std::string field(const std::string& out, const std::string& name) {
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name + " ", 0) != 0) continue;
    const auto v = line.find_first_not_of(' ', name.size());
    return v == std::string::npos ? "" : line.substr(v);
  }
  return "(no " + name + " line)";
}

TEST_F(SimCli, RunWritesEveryPerRunFieldAndTheAggregates) {
  const std::string sc = write("tiny.yaml", tiny_scenario(R"({converged: "== 1", causality_reversals: ">= 0"})"));
  const std::string out = path("out/nested");
  const CliRun r = convlab({"run", sc, "--strategy", "lww", "--strategy", "crdt", "--seeds", "2", "--jobs", "2",
                            "--out", out});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // The seeds and strategies come first, so any run can be replayed.
  EXPECT_LT(r.out.find("seeds 1..2"), r.out.find("tiny [base]")) << r.out;
  EXPECT_NE(r.out.find("strategies lww, crdt"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("4 expectations held, 0 failed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("simulated s per wall s"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("wall time"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(out + "/report.md"));

  const json::object report = parse_object(read(out + "/report.json"));
  ASSERT_TRUE(report.contains("runs")) << read(out + "/report.json");
  const json::array& runs = report.at("runs").as_array();
  ASSERT_EQ(runs.size(), 4u);
  std::set<std::pair<std::string, std::uint64_t>> pairs;
  for (const json::value& v : runs) {
    const json::object& run = v.as_object();
    for (const char* key : {"scenario", "variant", "strategy", "seed", "converged", "convergence_ms",
                            "lost_acked_chars", "causality_reversals", "visibility_ms", "stale_loads",
                            "served_after_revocation", "db_queries", "events", "sim_seconds", "wall_ms", "digest",
                            "lost_acked_edits", "visibility_cross_ms", "read_your_writes_violations",
                            "silent_rename_losses"}) {
      EXPECT_TRUE(run.contains(key)) << key << " missing from " << json::serialize(run);
    }
    if (!run.contains("strategy") || !run.contains("lost_acked_chars")) continue;
    pairs.emplace(std::string(run.at("strategy").as_string()), run.at("seed").to_number<std::uint64_t>());
    const json::object& lost = run.at("lost_acked_chars").as_object();
    for (const char* cause : {"total", "clock_skew", "concurrent", "stale_base", "crash", "unknown"}) {
      EXPECT_TRUE(lost.contains(cause)) << cause << " missing from " << json::serialize(lost);
    }
    const json::object& vis = run.at("visibility_ms").as_object();
    for (const char* p : {"p50", "p99", "max"}) EXPECT_TRUE(vis.contains(p)) << json::serialize(vis);
    EXPECT_TRUE(run.at("db_queries").as_object().contains("total")) << json::serialize(run);
    EXPECT_TRUE(run.at("converged").is_bool());
    EXPECT_EQ(run.at("digest").as_string().size(), 16u);
    EXPECT_GE(run.at("sim_seconds").to_number<double>(), 2.0);
    EXPECT_GT(run.at("events").to_number<double>(), 0.0);
  }
  // Paired runs: every strategy ran on the same seeds.
  const std::set<std::pair<std::string, std::uint64_t>> want = {{"lww", 1}, {"lww", 2}, {"crdt", 1}, {"crdt", 2}};
  EXPECT_EQ(pairs, want);

  const json::array& groups = report.at("aggregates").as_array();
  ASSERT_EQ(groups.size(), 2u);
  for (const json::value& g : groups) {
    EXPECT_EQ(g.at("runs").to_number<int>(), 2);
    const json::object& metrics = g.at("metrics").as_object();
    for (const char* m : {"converged", "lost_acked_chars", "visibility_ms.p99", "stale_loads", "db_queries"}) {
      ASSERT_TRUE(metrics.contains(m)) << m;
      const json::object& s = metrics.at(m).as_object();
      EXPECT_TRUE(s.contains("mean")) << m;
      ASSERT_TRUE(s.contains("ci95")) << m;
      const json::array& ci = s.at("ci95").as_array();
      ASSERT_EQ(ci.size(), 2u);
      EXPECT_LE(ci[0].to_number<double>(), s.at("mean").to_number<double>()) << m;
      EXPECT_GE(ci[1].to_number<double>(), s.at("mean").to_number<double>()) << m;
    }
  }
  EXPECT_EQ(report.at("expectations").as_array().size(), 4u);
  EXPECT_TRUE(report.at("all_held").as_bool());
}

TEST_F(SimCli, RunExitsOneWhenAnExpectationFailsAndJunitSaysWhich) {
  // `edits < 0` cannot hold; `converged == 1` does.
  const std::string sc = write("tiny.yaml", tiny_scenario(R"({converged: "== 1", edits: "< 0"})"));
  const std::string junit = path("ci/junit.xml");
  const CliRun r = convlab({"run", sc, "-s", "lww,crdt", "--seeds", "1..2", "--jobs", "1", "--out", path("out"),
                            "--junit", junit});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("2 expectations held, 2 failed"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(path("out/report.json")));

  namespace pt = boost::property_tree;
  pt::ptree tree;
  std::istringstream xml(read(junit));
  ASSERT_NO_THROW(pt::read_xml(xml, tree)) << read(junit);
  int cases = 0;
  int failures = 0;
  for (const auto& [tag, suite] : tree.get_child("testsuites")) {
    if (tag != "testsuite") continue;
    EXPECT_EQ(suite.get<std::string>("<xmlattr>.name"), "tiny");
    for (const auto& [ctag, tc] : suite) {
      if (ctag != "testcase") continue;
      ++cases;
      EXPECT_EQ(tc.get<std::string>("<xmlattr>.classname"), "tiny");
      if (auto f = tc.get_child_optional("failure")) {
        ++failures;
        const std::string message = f->get<std::string>("<xmlattr>.message");
        EXPECT_NE(message.find("edits < 0"), std::string::npos) << message;  // the expectation
        EXPECT_NE(message.find("mean over seeds was"), std::string::npos) << message;
        EXPECT_NE(message.find(sc + ":14:"), std::string::npos) << message;  // where it was written
      }
    }
  }
  EXPECT_EQ(cases, 4);  // 1 variant x 2 strategies x 2 expectations
  EXPECT_EQ(failures, 2);
  EXPECT_EQ(tree.get<int>("testsuites.<xmlattr>.tests"), 4);
  EXPECT_EQ(tree.get<int>("testsuites.<xmlattr>.failures"), 2);
}

// A failed `all` names the seeds whose own value failed, with each value, on the terminal, in
// report.md, report.json and the JUnit message. The bound is the smallest seed's edits, read
// from a first run, so the seeds above it fail and the one at it holds.
TEST_F(SimCli, FailedAllNamesTheFailingSeedsEverywhere) {
  const CliRun first = convlab({"run", write("probe.yaml", tiny_scenario(R"({edits: ">= 0"})")), "-s", "lww", "--seeds",
                                "3", "--out", path("probe")});
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  std::map<std::uint64_t, std::uint64_t> edits;  // seed -> edits
  const json::object probe = parse_object(read(path("probe/report.json")));
  for (const json::value& v : probe.at("runs").as_array()) {
    edits[v.at("seed").to_number<std::uint64_t>()] = v.at("edits").to_number<std::uint64_t>();
  }
  ASSERT_EQ(edits.size(), 3u);
  std::uint64_t bound = edits.begin()->second;
  for (const auto& [seed, n] : edits) bound = std::min(bound, n);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> failing;  // seeds above the bound, in seed order
  for (const auto& [seed, n] : edits) {
    if (n > bound) failing.emplace_back(seed, n);
  }
  ASSERT_FALSE(failing.empty()) << "three seeds made the same number of edits; the test needs them to differ";

  const std::string expect = "all <= " + std::to_string(bound);
  const std::string sc = write("all.yaml", tiny_scenario("{edits: \"" + expect + "\", converged: \"all == 1\"}"));
  const std::string junit = path("junit.xml");
  const CliRun r = convlab({"run", sc, "-s", "lww", "--seeds", "3", "--out", path("out"), "--junit", junit});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("1 expectation held, 1 failed"), std::string::npos) << r.out;
  std::string named = std::to_string(failing.size()) + " of 3 seeds failed: ";
  for (std::size_t i = 0; i < failing.size(); ++i) {
    named += (i ? ", " : "") + std::string("seed ") + std::to_string(failing[i].first) + " = " +
             std::to_string(failing[i].second);
  }
  EXPECT_NE(r.out.find("FAIL lww: edits " + expect + " (" + named + " (mean "), std::string::npos) << named << "\n" << r.out;
  EXPECT_NE(r.out.find("ok   lww: converged all == 1 (all 3 seeds)"), std::string::npos) << r.out;
  const std::string md = read(path("out/report.md"));
  EXPECT_NE(md.find("**FAILED**: `lww` edits " + expect + " (" + named), std::string::npos) << md;
  const std::string xml = read(junit);
  EXPECT_NE(xml.find("message=\"expected edits all &lt;= " + std::to_string(bound) + ", " + named), std::string::npos)
      << xml;

  const json::object report = parse_object(read(path("out/report.json")));
  const json::object& v = report.at("expectations").as_array().at(0).as_object();
  EXPECT_EQ(v.at("quantifier").as_string(), "all");
  EXPECT_FALSE(v.at("held").as_bool());
  const json::array& seeds = v.at("failed_seeds").as_array();
  ASSERT_EQ(seeds.size(), failing.size());
  for (std::size_t i = 0; i < failing.size(); ++i) {
    EXPECT_EQ(seeds[i].at("seed").to_number<std::uint64_t>(), failing[i].first);
    EXPECT_EQ(seeds[i].at("value").to_number<double>(), static_cast<double>(failing[i].second));
  }
}

TEST_F(SimCli, JunitEscapesWhatItQuotes) {
  std::string yaml = tiny_scenario(R"({converged: "== 1"})");
  yaml.replace(0, yaml.find('\n'), R"(name: "a<b & \"c\"")");
  const std::string sc = write("odd.yaml", yaml);
  const std::string junit = path("junit.xml");
  const CliRun r = convlab({"run", sc, "-s", "seq", "--seeds", "1", "--out", path("out"), "--junit", junit});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  namespace pt = boost::property_tree;
  pt::ptree tree;
  std::istringstream xml(read(junit));
  ASSERT_NO_THROW(pt::read_xml(xml, tree)) << read(junit);
  EXPECT_EQ(tree.get<std::string>("testsuites.testsuite.testcase.<xmlattr>.classname"), "a<b & \"c\"") << read(junit);
}

TEST_F(SimCli, RunRefusesBadInputWithExitTwoAndRunsNothing) {
  const std::string good = write("good.yaml", tiny_scenario(R"({converged: "== 1"})"));
  // Line 5, column 12: the quoted "4".
  const std::string bad = write("bad.yaml", "name: bad\nvariants:\n  naive:\nworld:\n  clients: \"4\"\n");
  const CliRun r = convlab({"run", good, bad, "--out", path("out")});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find(bad + ":5:12: world.clients"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(path("out/report.json"))) << "nothing runs when any scenario is bad";

  expect_usage_error(convlab({"run", good, "--strategy", "paxos", "--out", path("out")}), "paxos",
                     convlab::strategy_names());
  expect_usage_error(convlab({"run", good, "--seeds", "5..2", "--out", path("out")}), "--seeds", "A..B");
  expect_usage_error(convlab({"run", good, "--jobs", "0", "--out", path("out")}), "--jobs", "1..");
  expect_usage_error(convlab({"run", good, "--variant", "fix", "--out", path("out")}), "fix", "no scenario");
  const std::string missing = path("missing.yaml");
  expect_usage_error(convlab({"run", missing, "--out", path("out")}), missing, "cannot open");
  const std::string empty_dir = path("empty");
  fs::create_directories(empty_dir);
  expect_usage_error(convlab({"run", empty_dir, "--out", path("out")}), empty_dir, "no scenario files");
  expect_usage_error(convlab({"run", "--out", path("out")}), "SCENARIO", "missing");
  const std::string twin = write("twin.yaml", read(good));
  expect_usage_error(convlab({"run", good, twin, "--out", path("out")}), twin, "also the name of");
  EXPECT_FALSE(fs::exists(path("out/report.json")));
}

TEST_F(SimCli, RunTakesADirectoryOfScenarios) {
  fs::create_directories(path("dir"));
  write("dir/b.yaml", tiny_scenario(R"({converged: "== 1"})"));
  write("dir/a.yaml", tiny_scenario(R"({converged: "== 1"})").replace(6, 4, "aaaa"));
  write("dir/notes.txt", "not a scenario");
  const CliRun r = convlab({"run", path("dir"), "-s", "seq", "--seeds", "1", "--out", path("out")});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  // Sorted by file name: a.yaml (scenario "aaaa") before b.yaml ("tiny").
  EXPECT_LT(r.out.find("aaaa [base]"), r.out.find("tiny [base]")) << r.out;
  EXPECT_NE(r.out.find("2 expectations held, 0 failed"), std::string::npos) << r.out;
}

TEST_F(SimCli, ReplayReproducesARunAndCheckAgreesWithIt) {
  const std::string sc = write("tiny.yaml", tiny_scenario(R"({converged: "== 1"})"));
  const CliRun run = convlab({"run", sc, "-s", "lww", "--seeds", "2..2", "--out", path("out")});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  const json::object report = parse_object(read(path("out/report.json")));
  ASSERT_TRUE(report.contains("runs"));
  const std::string run_digest(report.at("runs").as_array().at(0).at("digest").as_string());

  const std::string h1 = path("h1.jsonl");
  const std::string h2 = path("h2.jsonl");
  const CliRun a = convlab({"replay", sc, "--strategy", "lww", "--seed", "2", "--history", h1});
  const CliRun b = convlab({"replay", sc, "--strategy", "lww", "--seed", "2", "--variant", "base", "--history", h2});
  ASSERT_EQ(a.exit_code, 0) << a.out << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.out << b.err;
  EXPECT_EQ(field(a.out, "digest"), field(b.out, "digest"));
  EXPECT_EQ(field(a.out, "digest"), run_digest) << "replay reproduces the run of `convlab run`";
  EXPECT_EQ(a.out.substr(0, a.out.find("\nwrote ")), b.out.substr(0, b.out.find("\nwrote ")))
      << "the same metrics, everything but the history file's name";
  const std::string bytes = read(h1);
  EXPECT_FALSE(bytes.empty());
  EXPECT_EQ(bytes, read(h2)) << "the same seed gives byte-identical histories";

  const CliRun other = convlab({"replay", sc, "--strategy", "lww", "--seed", "1"});
  EXPECT_NE(field(other.out, "digest"), field(a.out, "digest")) << "the seed matters";

  const CliRun c = convlab({"check", h1});
  EXPECT_EQ(c.exit_code, a.exit_code) << c.out << c.err;
  for (const char* name : {"converged", "lost acked chars", "lost acked edits", "causality reversals",
                           "visibility ms", "stale loads", "read-your-writes", "db queries", "digest"}) {
    EXPECT_EQ(field(c.out, name), field(a.out, name)) << name << "\nreplay:\n" << a.out << "\ncheck:\n" << c.out;
  }
  EXPECT_EQ(field(c.out, "seed"), "2");
}

// A lost character's line names the client that typed it, not its id's agent: a client takes a
// new agent per session, and on real processes agents are numbered apart from clients (here
// client 2 types as agent 3).
TEST_F(SimCli, CheckNamesTheClientThatTypedALostCharacterNotItsAgent) {
  const std::string h = write("agents.jsonl",
      R"({"t":0,"type":"meta","meta":{"ack":"immediate","clients":"3","commits":"true","docs":"1","end_us":"2000000","heal_us":"1000000","persistence":"changelog","scenario":"agents","seed":"1","servers":"1","strategy":"crdt","variant":"base"}}
{"t":100000,"type":"load","client":2,"doc":0,"server":0,"version":0,"latest":0,"source":"server:0"}
{"t":200000,"type":"edit","client":2,"doc":0,"op":1,"server":0,"clock_ms":200,"pos":0,"del":0,"ins":"abc","para":0,"inserted":[[3,0,3]],"deleted":[],"seen_ops":{},"offline":false,"stale_base":false}
{"t":250000,"type":"ack","client":2,"doc":0,"op":1,"server":0}
{"t":2000000,"type":"final","doc":0,"replica":"durable","text":"","ids":[]}
)");
  const CliRun c = convlab({"check", h});
  EXPECT_NE(c.out.find("lost: doc 0 char (3,0) of client 2's edit 1: crash"), std::string::npos) << c.out << c.err;
  EXPECT_EQ(c.out.find("of client 3"), std::string::npos) << c.out;
}

TEST_F(SimCli, ReplayAndCheckRefuseBadInput) {
  const std::string sc = write("tiny.yaml", tiny_scenario(R"({converged: "== 1"})"));
  expect_usage_error(convlab({"replay", sc, "--strategy", "paxos", "--seed", "1"}), "paxos",
                     convlab::strategy_names());
  expect_usage_error(convlab({"replay", sc, "--seed", "1"}), "--strategy", "required");
  expect_usage_error(convlab({"replay", sc, "--strategy", "ot", "--seed", "x"}), "--seed", "whole number");
  expect_usage_error(convlab({"replay", sc, "--strategy", "ot", "--seed", "1", "--variant", "fix"}), "fix",
                     "no such variant");

  const std::string h = path("h.jsonl");
  ASSERT_EQ(convlab({"replay", sc, "--strategy", "ot", "--seed", "1", "--history", h}).exit_code, 0);
  std::string lines = read(h);
  const auto second = lines.find('\n') + 1;
  lines.insert(second, "{\"t\":1,\"type\":\"nonsense\"}\n");
  const std::string bad = write("bad.jsonl", lines);
  expect_usage_error(convlab({"check", bad}), bad + ":2:", "nonsense");
  const std::string missing = path("none.jsonl");
  expect_usage_error(convlab({"check", missing}), missing, "cannot open");
}

TEST_F(SimCli, ValidatePassesEveryNaiveScenario) {
  const std::string dir = std::string(CONVLAB_SOURCE_DIR) + "/scenarios/naive";
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir)) files += e.path().extension() == ".yaml" ? 1 : 0;
  ASSERT_GT(files, 0u);
  const CliRun r = convlab({"validate", dir});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(convlab::cli_test::count_lines(r.out), files) << r.out;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    EXPECT_EQ(line.rfind("ok " + dir + "/", 0), 0u) << line;
    EXPECT_NE(line.find(" variant"), std::string::npos) << line;
    EXPECT_NE(line.find(" expectation"), std::string::npos) << line;
  }
}

TEST_F(SimCli, ValidateReportsEveryProblemAndListsMetrics) {
  const std::string good = write("good.yaml", tiny_scenario(R"({converged: "== 1"})"));
  const CliRun ok = convlab({"validate", good});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.out, "ok " + good + " (1 variant, 1 expectation)\n");

  const std::string bad = write("bad.yaml", "name: bad\nvariants:\n  naive:\nworld:\n  clients: \"4\"\n");
  const CliRun r = convlab({"validate", good, bad});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.out.find("ok " + good), std::string::npos) << r.out;
  EXPECT_NE(r.err.find(bad + ":5:12: world.clients"), std::string::npos) << r.err;

  const CliRun m = convlab({"validate", "--metrics"});
  EXPECT_EQ(m.exit_code, 0) << m.err;
  std::string want;
  for (const std::string& name : convlab::reports::metric_names()) want += name + "\n";
  EXPECT_EQ(m.out, want);
}

TEST_F(SimCli, HelpListsTheSimulatorCommands) {
  const CliRun r = convlab({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* cmd : {"run SCENARIO", "replay SCENARIO", "check HISTORY", "validate SCENARIO"}) {
    EXPECT_NE(r.out.find(cmd), std::string::npos) << cmd << " missing from:\n" << r.out;
  }
  const std::map<std::string, std::vector<std::string>> flags = {
      {"run", {"--strategy", "--seeds", "--jobs", "--out", "--variant", "--junit"}},
      {"replay", {"--strategy", "--seed", "--variant", "--history"}},
      {"check", {"HISTORY"}},
      {"validate", {"--metrics"}},
  };
  for (const auto& [cmd, names] : flags) {
    const CliRun h = convlab({cmd, "--help"});
    EXPECT_EQ(h.exit_code, 0) << cmd;
    for (const std::string& f : names) EXPECT_NE(h.out.find(f), std::string::npos) << cmd << ": " << f << "\n" << h.out;
  }
}

}  // namespace
