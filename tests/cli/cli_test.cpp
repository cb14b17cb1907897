// The `convlab` command line, run as a user runs it: output, exit codes and the one-line error
// rule (exit 2, one line on stderr naming the file or flag and the problem).
#include "server/strategies/registry.hpp"
#include "tests/cli/cli_fixture.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using convlab::cli_test::CliRun;
using convlab::cli_test::CliTest;
using convlab::cli_test::count_lines;

// A sequential trace with deletes, replacements, non-ASCII text and a transaction of two
// patches in descending order. It ends as "héllo wörld!".
std::string small_trace(const std::string& end_content) {
  return R"({"startContent": "", "endContent": ")" + end_content + R"(", "txns": [
    {"time": "1970-01-01T00:00:00Z", "patches": [[0, 0, "hello world"]]},
    {"time": "1970-01-01T00:00:01Z", "patches": [[1, 1, "é"]]},
    {"time": "1970-01-01T00:00:02Z", "patches": [[7, 1, "ö"], [0, 0, "¡"]]},
    {"time": "1970-01-01T00:00:03Z", "patches": [[12, 0, "!"]]},
    {"time": "1970-01-01T00:00:04Z", "patches": [[0, 1, ""]]}
  ]})";
}

// Agent a types "hello"; then, concurrently, b appends " world" and a deletes the "h".
std::string small_conformance(const std::string& end_content) {
  return R"([{"endContent": ")" + end_content + R"(", "txns": [
    {"span": [0, 5], "parents": [], "agent": "a", "seqStart": 0, "ops": [[0, 0, "hello"]]},
    {"span": [5, 11], "parents": [4], "agent": "b", "seqStart": 0, "ops": [[5, 0, " world"]]},
    {"span": [11, 12], "parents": [4], "agent": "a", "seqStart": 5, "ops": [[0, 1, ""]]}
  ]}])";
}

TEST_F(CliTest, HelpListsTheSubcommandsAndStrategies) {
  const CliRun r = convlab({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* cmd : {"trace replay", "trace conformance", "trace compare"}) {
    EXPECT_NE(r.out.find(cmd), std::string::npos) << cmd << " missing from:\n" << r.out;
  }
  EXPECT_NE(r.out.find(convlab::strategy_names()), std::string::npos) << r.out;

  const CliRun t = convlab({"trace", "--help"});
  EXPECT_EQ(t.exit_code, 0);
  for (const char* cmd : {"replay", "conformance", "compare"}) {
    EXPECT_NE(t.out.find(cmd), std::string::npos) << cmd << " missing from:\n" << t.out;
  }
  const CliRun rh = convlab({"trace", "replay", "--help"});
  EXPECT_EQ(rh.exit_code, 0);
  EXPECT_NE(rh.out.find("--strategy"), std::string::npos) << rh.out;
  EXPECT_NE(rh.out.find("--relayed"), std::string::npos) << rh.out;
}

TEST_F(CliTest, VersionPrintsTheProjectVersion) {
  const CliRun r = convlab({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.rfind("convlab ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find('.'), std::string::npos) << r.out;
}

TEST_F(CliTest, MissingFileExitsTwoNamingTheFile) {
  const std::string p = path("no-such-trace.json.gz");
  expect_usage_error(convlab({"trace", "replay", p, "--strategy", "crdt"}), p, "cannot open");
  expect_usage_error(convlab({"trace", "conformance", p}), p, "cannot open");
}

TEST_F(CliTest, CorruptGzipExitsTwoNamingTheFile) {
  // The gzip magic and header, then bytes that are not a deflate stream.
  std::string bytes = {'\x1f', '\x8b', '\x08', '\x00', '\x00', '\x00', '\x00', '\x00', '\x00', '\x03'};
  bytes += "this is not deflate data at all";
  const std::string p = write("corrupt.json.gz", bytes);
  expect_usage_error(convlab({"trace", "replay", p, "--strategy", "crdt"}), p, "gzip");
}

TEST_F(CliTest, BadJsonExitsTwoNamingTheFile) {
  const std::string p = write("bad.json", R"({"endContent": "x", "txns": [)");
  expect_usage_error(convlab({"trace", "replay", p, "--strategy", "ot"}), p, "bad JSON");
}

TEST_F(CliTest, WrongShapeExitsTwoNamingTheFileAndTheField) {
  const std::string no_end = write("no-end.json", R"({"txns": []})");
  expect_usage_error(convlab({"trace", "replay", no_end, "--strategy", "seq"}), no_end, "endContent");
  const std::string bad_patch =
      write("bad-patch.json", R"({"endContent": "x", "txns": [{"patches": [[0, 0]]}]})");
  expect_usage_error(convlab({"trace", "replay", bad_patch, "--strategy", "seq"}), bad_patch, "patches[0]");
  const std::string not_array = write("not-array.json", R"({"endContent": "x"})");
  expect_usage_error(convlab({"trace", "conformance", not_array}), not_array, "expected an array");
}

TEST_F(CliTest, UnknownStrategyExitsTwoListingTheKnownOnes) {
  const std::string p = write("t.json", small_trace("héllo wörld!"));
  expect_usage_error(convlab({"trace", "replay", p, "--strategy", "paxos"}), "paxos", convlab::strategy_names());
  expect_usage_error(convlab({"trace", "compare", p, "--strategy", "crdt,paxos", "--out", path("out")}), "paxos",
                     convlab::strategy_names());
}

TEST_F(CliTest, UnknownFlagOrCommandExitsTwoNamingIt) {
  const std::string p = write("t.json", small_trace("héllo wörld!"));
  expect_usage_error(convlab({"trace", "replay", p, "--strategy", "crdt", "--frobnicate"}), "--frobnicate",
                     "unrecognised");
  expect_usage_error(convlab({"--frobnicate"}), "--frobnicate", "unknown option");
  expect_usage_error(convlab({"trace", "replay", p}), "--strategy", "required");
  expect_usage_error(convlab({"trace", "replay", p, "--strategy", "crdt", "--runs", "many"}), "--runs", "invalid");
  expect_usage_error(convlab({"trace", "frobnicate"}), "frobnicate", "unknown command");
}

TEST_F(CliTest, SmallTraceReplaysAndMatchesUnderEveryStrategy) {
  const std::string p = write("t.json", small_trace("héllo wörld!"));
  for (const convlab::Strategy* s : convlab::strategies()) {
    const std::string name(s->name);
    for (const bool relayed : {false, true}) {
      std::vector<std::string> args = {"trace", "replay", p, "--strategy", name};
      if (relayed) args.emplace_back("--relayed");
      const CliRun r = convlab(args);
      EXPECT_EQ(r.exit_code, 0) << name << (relayed ? " relayed" : " local") << "\n" << r.out << r.err;
      EXPECT_NE(r.out.find("matched    yes"), std::string::npos) << name << "\n" << r.out;
      EXPECT_NE(r.out.find("patches    6"), std::string::npos) << name << "\n" << r.out;
      EXPECT_NE(r.out.find("length     12 code points"), std::string::npos) << name << "\n" << r.out;
    }
  }
}

TEST_F(CliTest, WrongEndContentExitsOneAndShowsTheDifference) {
  const std::string p = write("t.json", small_trace("hello wörld!"));
  for (const convlab::Strategy* s : convlab::strategies()) {
    const CliRun r = convlab({"trace", "replay", p, "--strategy", std::string(s->name)});
    EXPECT_EQ(r.exit_code, 1) << s->name << "\n" << r.out << r.err;
    EXPECT_NE(r.out.find("first difference at code point 1"), std::string::npos) << s->name << "\n" << r.out;
  }
}

TEST_F(CliTest, JsonOutputCarriesTheMeasures) {
  const std::string p = write("t.json", small_trace("héllo wörld!"));
  const CliRun r = convlab({"trace", "replay", p, "--strategy", "crdt", "--relayed", "--json", "--runs", "3"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(count_lines(r.out), 1u) << r.out;
  EXPECT_NE(r.out.find(R"("matched":true)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(R"("mode":"relayed")"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(R"("runs":3)"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(R"("messages":0,)"), std::string::npos) << "a relayed replay sends messages: " << r.out;
}

TEST_F(CliTest, ConcurrentTraceReplaysOnlyUnderCrdt) {
  const std::string p = write("c.json", R"({"kind": "concurrent", "endContent": "ab", "numAgents": 2, "txns": [
    {"parents": [], "agent": 0, "time": "2020-01-01T00:00:00Z", "numChildren": 1, "patches": [[0, 0, "a"]]},
    {"parents": [0], "agent": 1, "time": "2020-01-01T00:00:01Z", "numChildren": 0, "patches": [[1, 0, "b"]]}
  ]})");
  expect_usage_error(convlab({"trace", "replay", p, "--strategy", "ot"}), p, "only under crdt");
  const CliRun r = convlab({"trace", "replay", p, "--strategy", "crdt"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("matched    yes"), std::string::npos) << r.out;
}

TEST_F(CliTest, ConformanceCountsPassedAndFailed) {
  const CliRun ok = convlab({"trace", "conformance", write("good.json", small_conformance("ello world"))});
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("1 passed, 0 failed"), std::string::npos) << ok.out;

  const CliRun bad = convlab({"trace", "conformance", write("bad.json", small_conformance("hello world"))});
  EXPECT_EQ(bad.exit_code, 1) << bad.out << bad.err;
  EXPECT_NE(bad.out.find("0 passed, 1 failed"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("first failure: history 0"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("\"hello world\""), std::string::npos) << "expected text missing: " << bad.out;
}

TEST_F(CliTest, CompareWritesReportsAndExitsZeroWhenAllMatch) {
  const std::string traces = path("traces");
  fs::create_directories(traces);
  {
    std::ofstream(traces + "/small.json") << small_trace("héllo wörld!");
  }
  const std::string out = path("out");
  const CliRun r = convlab({"trace", "compare", traces, "--out", out});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::size_t n = convlab::strategies().size();
  EXPECT_NE(r.out.find(std::to_string(2 * n) + " of " + std::to_string(2 * n) + " replays matched"),
            std::string::npos)
      << r.out;
  for (const convlab::Strategy* s : convlab::strategies()) {
    EXPECT_NE(r.out.find("small  " + std::string(s->name)), std::string::npos) << s->name << "\n" << r.out;
  }
  EXPECT_TRUE(fs::exists(out + "/report.json"));
  EXPECT_TRUE(fs::exists(out + "/report.md"));
  std::ifstream j(out + "/report.json");
  std::stringstream js;
  js << j.rdbuf();
  EXPECT_NE(js.str().find(R"("all_matched":true)"), std::string::npos) << js.str();
}

TEST_F(CliTest, CompareExitsOneWhenATraceDoesNotMatch) {
  const std::string traces = path("traces");
  fs::create_directories(traces);
  {
    std::ofstream(traces + "/wrong.json") << small_trace("wrong");
  }
  const CliRun r = convlab({"trace", "compare", traces, "--strategy", "seq", "--out", path("out")});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("0 of 2 replays matched"), std::string::npos) << r.out;
}

TEST_F(CliTest, CompareOfAMissingDirectoryExitsTwo) {
  const std::string d = path("nowhere");
  expect_usage_error(convlab({"trace", "compare", d, "--out", path("out")}), d, "no such directory");
}

}  // namespace
