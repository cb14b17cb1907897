// `convlab sweep`, `--shard` and `convlab merge`, and `--openmetrics`, run as a user runs them:
// the grid and its curves (polling follows servers x open documents / interval, the bus does
// not), progress on stderr, errors naming the flag, and shards merged into the same bytes as
// one unsharded run.
#include "tests/cli/cli_fixture.hpp"

#include <boost/json.hpp>

#include <filesystem>
#include <map>
#include <tuple>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using convlab::cli_test::CliRun;
using convlab::cli_test::CliTest;
using convlab::cli_test::count_lines;

class SweepCli : public CliTest {};

// 8 clients on 2 documents for 20 s; poll every 1 s or a bus.
std::string polling_scenario() {
  return "name: tiny-polling\n"
         "seeds: 2\n"
         "world:\n"
         "  duration_s: 20\n"
         "  quiesce_s: 1\n"
         "  docs: 2\n"
         "  clients: 8\n"
         "  workload: {think_ms: [500, 1500]}\n"
         "  servers: {count: 2, persistence: changelog, ack: after_commit, poll_interval_ms: 1000}\n"
         "variants:\n"
         "  poll: {servers: {propagation: poll}}\n"
         "  bus: {servers: {propagation: bus}}\n"
         "expect:\n"
         "  bus:\n"
         "    \"*\": {db_queries.poll: \"== 0\"}\n";
}

double mean(const json::object& point, const char* metric) {
  return point.at("metrics").at(metric).at("mean").to_number<double>();
}

TEST_F(SweepCli, GridCurvesAndThePollingArithmetic) {
  const std::string sc = write("polling.yaml", polling_scenario());
  const std::string out = path("sweep");
  const CliRun r = convlab({"sweep", sc, "--vary", "servers=1,2,4", "--vary", "clients=8,16", "--strategy", "lww",
                            "--seeds", "2", "--jobs", "2", "--out", out});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;

  // Progress: stderr is a file here, so one plain line per run, no terminal escapes, with the
  // count, the elapsed time and the estimate.
  EXPECT_EQ(r.err.find('\r'), std::string::npos) << r.err;
  EXPECT_EQ(count_lines(r.err), 24u) << r.err;  // 6 points x 2 variants x 1 strategy x 2 seeds
  EXPECT_NE(r.err.find("[24/24] "), std::string::npos) << r.err;
  EXPECT_TRUE(std::regex_search(r.err, std::regex(R"(\[1/24\] \d+ s elapsed, ~\d+ s left)"))) << r.err;

  boost::system::error_code ec;
  const json::value doc = json::parse(read(out + "/sweep.json"), ec);
  ASSERT_FALSE(ec) << read(out + "/sweep.json");
  EXPECT_EQ(doc.at("scenario").as_string(), "tiny-polling");
  EXPECT_EQ(json::serialize(doc.at("varied")), R"(["servers","clients"])");
  const json::array& points = doc.at("points").as_array();
  ASSERT_EQ(points.size(), 12u);
  // (variant, servers, clients) -> point
  std::map<std::tuple<std::string, std::int64_t, std::int64_t>, json::object> at;
  for (const json::value& v : points) {
    const json::object& p = v.as_object();
    EXPECT_EQ(p.at("strategy").as_string(), "lww");
    for (const char* m : {"db_queries_per_s", "db_polls_per_s", "bus_msgs_per_s", "server_inputs_per_s",
                          "net_bytes_per_s", "mem_doc_bytes_max", "mem_bytes_per_doc", "visibility_ms.p99",
                          "predicted_polls_per_s"}) {
      ASSERT_TRUE(p.at("metrics").as_object().contains(m)) << m << " missing: " << json::serialize(p);
      for (const char* k : {"mean", "lo", "hi", "n"}) EXPECT_TRUE(p.at("metrics").at(m).as_object().contains(k));
    }
    EXPECT_EQ(p.at("metrics").at("db_queries_per_s").at("n").to_number<int>(), 2);
    at[{std::string(p.at("variant").as_string()), p.at("params").at("servers").as_int64(),
        p.at("params").at("clients").as_int64()}] = p;
  }
  ASSERT_EQ(at.size(), 12u) << "every (variant, servers, clients) once";
  for (const std::int64_t clients : {8, 16}) {
    // Polling follows the prediction (an expectation over where clients land, from 2 seeds:
    // within 20%), and grows with the servers.
    for (const std::int64_t servers : {2, 4}) {
      const json::object& p = at.at({"poll", servers, clients});
      const double predicted = mean(p, "predicted_polls_per_s");
      EXPECT_GT(predicted, 0);
      EXPECT_GT(mean(p, "db_polls_per_s"), 0.8 * predicted) << servers << " servers, " << clients << " clients";
      EXPECT_LT(mean(p, "db_polls_per_s"), 1.2 * predicted) << servers << " servers, " << clients << " clients";
    }
    EXPECT_GT(mean(at.at({"poll", 4, clients}), "db_polls_per_s"), 1.5 * mean(at.at({"poll", 2, clients}), "db_polls_per_s"));
    EXPECT_EQ(mean(at.at({"poll", 1, clients}), "db_polls_per_s"), 0) << "a lone server does not poll";
    // The bus: no polls, queries that do not follow the servers, bus messages that do.
    for (const std::int64_t servers : {1, 2, 4}) {
      const json::object& b = at.at({"bus", servers, clients});
      EXPECT_EQ(mean(b, "db_polls_per_s"), 0);
      EXPECT_EQ(mean(b, "predicted_polls_per_s"), 0);
    }
    EXPECT_LT(mean(at.at({"bus", 4, clients}), "db_queries_per_s"), 1.3 * mean(at.at({"bus", 1, clients}), "db_queries_per_s"));
    EXPECT_GT(mean(at.at({"bus", 4, clients}), "bus_msgs_per_s"), 2.0 * mean(at.at({"bus", 2, clients}), "bus_msgs_per_s"));
    EXPECT_GT(mean(at.at({"bus", 4, clients}), "mem_doc_bytes_max"), mean(at.at({"bus", 1, clients}), "mem_doc_bytes_max"));
  }

  const std::string csv = read(out + "/sweep.csv");
  EXPECT_EQ(count_lines(csv), 13u) << csv;
  EXPECT_EQ(csv.rfind("variant,strategy,servers,clients,seeds,predicted_polls_per_s,db_queries_per_s,", 0), 0u) << csv;
  const std::string md = read(out + "/sweep.md");
  for (const char* s : {"## poll — lww", "## bus — lww", "predicted polls/s", "1 − C(n−k, m) / C(n, m)",
                        "visibility p99 ms", "memory"}) {
    EXPECT_NE(md.find(s), std::string::npos) << s << "\n" << md;
  }
}

TEST_F(SweepCli, BadVaryIsOneLineNamingIt) {
  const std::string sc = write("polling.yaml", polling_scenario());
  expect_usage_error(convlab({"sweep", sc, "--vary", "serverz=1,2"}), "serverz", "unknown setting");
  const CliRun unknown = convlab({"sweep", sc, "--vary", "serverz=1,2"});
  for (const char* key : {"servers.count", "clients", "docs", "servers.poll_interval_ms", "workload.insert_prob"}) {
    EXPECT_NE(unknown.err.find(key), std::string::npos) << "the valid keys are listed: " << unknown.err;
  }
  expect_usage_error(convlab({"sweep", sc, "--vary", "servers=1,x"}), "--vary servers=1,x", "'x' is not a whole number");
  expect_usage_error(convlab({"sweep", sc, "--vary", "servers=1,,2"}), "--vary servers=1,,2", "an empty value");
  expect_usage_error(convlab({"sweep", sc, "--vary", "servers=2000"}), "servers=2000", "must be at most 1024");
  expect_usage_error(convlab({"sweep", sc, "--vary", "count=2"}), "count", "ambiguous");
  expect_usage_error(convlab({"sweep", sc, "--vary", "servers"}), "--vary servers", "expected KEY=V1,V2");
  expect_usage_error(convlab({"sweep", sc, "--vary", "servers=1,1"}), "servers=1,1", "listed twice");
  expect_usage_error(convlab({"sweep", sc, "--vary", "insert_prob=0.5,1.5"}), "insert_prob", "between 0 and 1");
  expect_usage_error(convlab({"sweep", sc}), "sweep", "missing --vary");
  expect_usage_error(convlab({"sweep", sc, "--vary", "servers=2", "--shard", "2/2"}), "--shard 2/2", "0 <= K < N");
  expect_usage_error(convlab({"sweep", sc, "--vary", "servers=2", "--variant", "nope"}), "--variant nope",
                     "variants: poll, bus");
}

TEST_F(SweepCli, SweepShardsMergeToTheSameBytes) {
  const std::string sc = write("polling.yaml", polling_scenario());
  const std::vector<std::string> grid = {"sweep", sc, "--vary", "servers=2,4", "--vary", "poll_interval_ms=500,1000",
                                         "--strategy", "lww,crdt", "--seeds", "2", "--jobs", "2"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = grid;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  ASSERT_EQ(convlab(with({"--out", path("full")})).exit_code, 0);
  ASSERT_EQ(convlab(with({"--shard", "0/1", "--out", path("one/0")})).exit_code, 0);
  for (const char* k : {"0", "1", "2"}) {
    const CliRun r = convlab(with({"--shard", std::string(k) + "/3", "--out", path(std::string("three/") + k)}));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(fs::exists(path(std::string("three/") + k + "/partial.json")));
    EXPECT_FALSE(fs::exists(path(std::string("three/") + k + "/sweep.json"))) << "a shard writes only its partial";
  }
  ASSERT_EQ(convlab({"merge", path("one/0"), "--out", path("m1")}).exit_code, 0);
  // Shards in any order.
  const CliRun m3 = convlab({"merge", path("three/2"), path("three/0"), path("three/1"), "--out", path("m3")});
  ASSERT_EQ(m3.exit_code, 0) << m3.err;
  const std::string full = read(path("full/sweep.json"));
  ASSERT_FALSE(full.empty());
  EXPECT_EQ(read(path("m1/sweep.json")), full);
  EXPECT_EQ(read(path("m3/sweep.json")), full);
  EXPECT_EQ(read(path("m3/sweep.csv")), read(path("full/sweep.csv")));
  EXPECT_EQ(read(path("m3/sweep.md")), read(path("full/sweep.md")));

  expect_usage_error(convlab({"merge", path("three/0"), path("three/1"), "--out", path("bad")}), "merge",
                     "missing shard(s) 2 of 3");
  expect_usage_error(convlab({"merge", path("three/0"), path("three/0"), path("three/1"), "--out", path("bad")}),
                     "partial.json", "also in");
  expect_usage_error(convlab({"merge", path("three/0"), path("one/0"), "--out", path("bad")}), "partial.json",
                     "not a shard of the same grid");
  expect_usage_error(convlab({"merge", path("full"), "--out", path("bad")}), "partial.json", "cannot open");
}

// report.json holds each run's wall_ms, a measurement; everything else must match byte for byte.
std::string without_wall_ms(const std::string& s) {
  return std::regex_replace(s, std::regex(R"("wall_ms":[^,}]*)"), "\"wall_ms\":0");
}

TEST_F(SweepCli, RunShardsMergeToTheSameReport) {
  const std::string sc = write("polling.yaml", polling_scenario());
  const std::vector<std::string> run = {"run", sc, "--strategy", "lww,seq", "--seeds", "3", "--jobs", "2"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = run;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  ASSERT_EQ(convlab(with({"--out", path("full")})).exit_code, 0);
  ASSERT_EQ(convlab(with({"--shard", "0/1", "--out", path("one/0")})).exit_code, 0);
  for (const char* k : {"0", "1", "2"}) {
    ASSERT_EQ(convlab(with({"--shard", std::string(k) + "/3", "--out", path(std::string("three/") + k)})).exit_code, 0);
  }
  const CliRun m1 = convlab({"merge", path("one/0"), "--out", path("m1")});
  const CliRun m3 = convlab({"merge", path("three/0"), path("three/1"), path("three/2"), "--out", path("m3")});
  ASSERT_EQ(m1.exit_code, 0) << m1.err;
  ASSERT_EQ(m3.exit_code, 0) << m3.err;
  EXPECT_NE(m3.out.find("ok   lww: db_queries.poll == 0"), std::string::npos) << "verdicts come back: " << m3.out;
  const std::string full = without_wall_ms(read(path("full/report.json")));
  ASSERT_NE(full.find("\"runs\""), std::string::npos);
  EXPECT_EQ(without_wall_ms(read(path("m1/report.json"))), full);
  EXPECT_EQ(without_wall_ms(read(path("m3/report.json"))), full);
  EXPECT_EQ(read(path("m3/report.md")), read(path("full/report.md")));
}

// A partitioned world (docs/scenarios.md, "Partitions"): the sweep over Zipf's exponent has the
// partition columns, sharding by organization grows more uneven as the exponent grows, and each
// run's per-partition figures survive a shard's partial.json into the merged report.
TEST_F(SweepCli, PartitionSweepAndMergedPartitions) {
  const std::string sc = write("partition.yaml",
                               "name: tiny-partition\n"
                               "seeds: 1\n"
                               "world:\n"
                               "  duration_s: 5\n"
                               "  quiesce_s: 2\n"
                               "  docs: 24\n"
                               "  clients: 24\n"
                               "  workload: {think_ms: [200, 400], organizations: 6, org_size: zipf}\n"
                               "  servers: {count: 1, propagation: bus, persistence: changelog, ack: after_commit}\n"
                               "  database: {partitions: 3}\n"
                               "variants:\n"
                               "  naive: {database: {partition_by: org}}\n"
                               "  fix: {database: {partition_by: doc}}\n");
  const CliRun r = convlab({"sweep", sc, "--vary", "workload.org_exponent=0,2", "--strategy", "crdt", "--out",
                            path("sweep")});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string md = read(path("sweep/sweep.md"));
  EXPECT_NE(md.find("partition imbalance (max/mean appends)"), std::string::npos) << md;
  EXPECT_NE(md.find("busiest partition commit p99 ms"), std::string::npos) << md;
  boost::system::error_code ec;
  const json::value doc = json::parse(read(path("sweep/sweep.json")), ec);
  ASSERT_FALSE(ec);
  std::map<std::pair<std::string, double>, double> imbalance;  // (variant, exponent) -> imbalance
  for (const json::value& v : doc.at("points").as_array()) {
    const json::object& p = v.as_object();
    imbalance[{std::string(p.at("variant").as_string()), p.at("params").at("workload.org_exponent").to_number<double>()}] =
        mean(p, "partition_imbalance");
  }
  ASSERT_EQ(imbalance.size(), 4u);
  // Exponent 2: organization 0 owns 13 of the 24 documents, all on partition 0.
  EXPECT_GT(imbalance.at({"naive", 2.0}), 1.5);
  EXPECT_GT(imbalance.at({"naive", 2.0}), imbalance.at({"naive", 0.0}) + 0.3);
  EXPECT_LT(imbalance.at({"fix", 2.0}), 1.5);
  EXPECT_EQ(imbalance.at({"fix", 2.0}), imbalance.at({"fix", 0.0})) << "by document, the organizations do not matter";

  const std::vector<std::string> run = {"run", sc, "--strategy", "crdt", "--seeds", "2"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = run;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  ASSERT_EQ(convlab(with({"--out", path("full")})).exit_code, 0);
  for (const char* k : {"0", "1"}) {
    ASSERT_EQ(convlab(with({"--shard", std::string(k) + "/2", "--out", path(std::string("two/") + k)})).exit_code, 0);
  }
  const CliRun m = convlab({"merge", path("two/0"), path("two/1"), "--out", path("m")});
  ASSERT_EQ(m.exit_code, 0) << m.err;
  const std::string full = without_wall_ms(read(path("full/report.json")));
  EXPECT_NE(full.find("\"partitions\":{\"imbalance\""), std::string::npos) << full.substr(0, 2000);
  EXPECT_EQ(without_wall_ms(read(path("m/report.json"))), full);
  const std::string report_md = read(path("full/report.md"));
  EXPECT_NE(report_md.find("- partitions of `crdt`"), std::string::npos) << report_md;
  EXPECT_EQ(read(path("m/report.md")), report_md);
}

// The verdict lines of a run's or merge's stdout ("  ok   ..." / "  FAIL ...").
std::string verdict_lines(const std::string& out) {
  std::string lines;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("  ok   ", 0) == 0 || line.rfind("  FAIL ", 0) == 0) lines += line + "\n";
  }
  return lines;
}

// Quantified expectations, one failing per seed, come out of a merge exactly as from one run:
// the merge judges the same per-seed values in the same order.
TEST_F(SweepCli, ShardsMergeToTheSameQuantifiedVerdicts) {
  std::string yaml = polling_scenario();
  yaml += "  poll:\n"
          "    \"*\": {db_queries.poll: \"all > 0\", edits: \"min > 0\", visibility_ms.p99: \"any < 0\",\n"
          "          acked_edits: \"max >= 1\", lost_acked_chars: \"all >= 0\", converged: \"mean <= 1\"}\n";
  const std::string sc = write("polling.yaml", yaml);
  const std::vector<std::string> run = {"run", sc, "--strategy", "lww,crdt", "--seeds", "3", "--jobs", "2"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = run;
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  const CliRun full = convlab(with({"--out", path("full"), "--junit", path("full.xml")}));
  ASSERT_EQ(full.exit_code, 1) << "any < 0 cannot hold: " << full.out << full.err;
  for (const char* k : {"0", "1"}) {
    ASSERT_EQ(convlab(with({"--shard", std::string(k) + "/2", "--out", path(std::string("two/") + k)})).exit_code, 0);
  }
  const CliRun m = convlab({"merge", path("two/1"), path("two/0"), "--out", path("m")});
  EXPECT_EQ(m.exit_code, 1) << m.out << m.err;
  const std::string lines = verdict_lines(full.out);
  EXPECT_NE(lines.find("FAIL lww: visibility_ms.p99 any < 0 (no seed of 3: seed 1 = "), std::string::npos) << lines;
  EXPECT_NE(lines.find("ok   crdt: lost_acked_chars all >= 0 (all 3 seeds)"), std::string::npos) << lines;
  EXPECT_NE(lines.find("ok   crdt: acked_edits max >= 1 (max "), std::string::npos) << lines;
  EXPECT_NE(lines.find("ok   lww: edits min > 0 (min "), std::string::npos) << lines;
  EXPECT_EQ(verdict_lines(m.out), lines);
  EXPECT_EQ(without_wall_ms(read(path("m/report.json"))), without_wall_ms(read(path("full/report.json"))));
  EXPECT_EQ(read(path("m/report.md")), read(path("full/report.md")));
}

TEST_F(SweepCli, OpenMetricsIsDeterministicAndLabelled) {
  const std::string sc = write("polling.yaml", polling_scenario());
  for (const char* name : {"a.om", "b.om"}) {
    const CliRun r = convlab({"run", sc, "--strategy", "lww", "--seeds", "1", "--jobs", "2", "--out", path("out"),
                              "--openmetrics", path(name)});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  const std::string a = read(path("a.om"));
  EXPECT_EQ(a, read(path("b.om"))) << "same seed, same bytes";
  ASSERT_GT(a.size(), 6u);
  EXPECT_EQ(a.substr(a.size() - 6), "# EOF\n");
  EXPECT_NE(a.find("# TYPE convlab_sim_db_queries counter\n"), std::string::npos);
  // The first counters sample, at simulated second 1, on the fixed epoch.
  EXPECT_NE(a.find("convlab_sim_db_queries_total{scenario=\"tiny-polling\",variant=\"poll\",strategy=\"lww\",seed=\"1\","
                   "kind=\"poll\"} "),
            std::string::npos);
  EXPECT_NE(a.find(" 1767225601.000\n"), std::string::npos);
  EXPECT_NE(a.find("# TYPE convlab_sim_visibility_seconds histogram\n"), std::string::npos);
  EXPECT_NE(a.find("convlab_sim_lost_acked_edits{scenario=\"tiny-polling\",variant=\"bus\""), std::string::npos);

  const CliRun s = convlab({"sweep", sc, "--vary", "servers=2,3", "--strategy", "lww", "--seeds", "1", "--out",
                            path("sw"), "--openmetrics", path("sw.om")});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  const std::string om = read(path("sw.om"));
  EXPECT_NE(om.find("{scenario=\"tiny-polling\",variant=\"poll\",strategy=\"lww\",seed=\"1\",servers=\"3\"}"),
            std::string::npos)
      << "a sweep labels each series with its settings";
}

}  // namespace
