// Differential test: our op type against the real ot-text-unicode (pinned in package-lock.json,
// installed into the build tree by the ot_diff_npm_ci fixture). Cases come from convlab::Rng
// with a fixed seed, go to Node in one batch, and every result must be identical: apply,
// transform on both sides, compose and normalize.
#include "server/core/rng.hpp"
#include "server/core/utf8.hpp"
#include "server/strategies/ot/text_op.hpp"
#include "tests/strategies/ot/ot_gen.hpp"

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace convlab::ot {
namespace {

constexpr std::uint64_t kSeed = 0x07e47c0de;
constexpr int kTransformCases = 6000;
constexpr int kComposeCases = 4000;
constexpr int kNormalizeCases = 2000;

struct Case {
  boost::json::object input;     // what Node gets
  boost::json::object expected;  // what we computed
};

boost::json::value text_json(const Text& t) { return boost::json::string(utf8_encode(t.text)); }

Text apply_ok(const Text& d, const Op& op) {
  auto r = apply_op(d, op);
  if (!r) throw std::runtime_error("generated op does not apply: " + r.error().message);
  return *r;
}

std::vector<Case> make_cases() {
  Rng rng(kSeed);
  auto below = [&](std::uint64_t n) { return rng.below(n); };
  testing::IdSource ids{1, 0};
  std::vector<Case> cases;
  for (int i = 0; i < kTransformCases; ++i) {
    const Text d = testing::random_doc(i % 4 == 0 ? 40 : 12, ids, below);
    const Op a = testing::random_op(d.text.size(), ids, below);
    const Op b = testing::random_op(d.text.size(), ids, below);
    const Side side = rng.chance(0.5) ? Side::left : Side::right;
    Case c;
    c.input = {{"kind", "transform"}, {"doc", text_json(d)}, {"a", op_to_json(a)}, {"b", op_to_json(b)},
               {"side", side == Side::left ? "left" : "right"}};
    c.expected = {{"apply_a", text_json(apply_ok(d, a))},
                  {"apply_b", text_json(apply_ok(d, b))},
                  {"a_left", op_to_json(transform(a, b, Side::left))},
                  {"a_right", op_to_json(transform(a, b, Side::right))},
                  {"b_left", op_to_json(transform(b, a, Side::left))},
                  {"b_right", op_to_json(transform(b, a, Side::right))},
                  {"a_side", op_to_json(transform(a, b, side))}};
    cases.push_back(std::move(c));
  }
  for (int i = 0; i < kComposeCases; ++i) {
    const Text d = testing::random_doc(12, ids, below);
    const Op a = testing::random_op(d.text.size(), ids, below);
    const Text da = apply_ok(d, a);
    const Op b = testing::random_op(da.text.size(), ids, below);
    const Op ab = compose(a, b);
    Case c;
    c.input = {{"kind", "compose"}, {"doc", text_json(d)}, {"a", op_to_json(a)}, {"b", op_to_json(b)}};
    c.expected = {{"apply_ab", text_json(apply_ok(da, b))},
                  {"compose", op_to_json(ab)},
                  {"apply_compose", text_json(apply_ok(d, ab))}};
    cases.push_back(std::move(c));
  }
  for (int i = 0; i < kNormalizeCases; ++i) {
    const Op raw = testing::random_raw_op(12, ids, below);
    Case c;
    c.input = {{"kind", "normalize"}, {"op", op_to_json(raw)}};
    c.expected = {{"normalize", op_to_json(normalize(raw))}};
    cases.push_back(std::move(c));
  }
  return cases;
}

bool on_path(const char* program) {
  const std::string cmd = std::string("command -v ") + program + " >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

TEST(OtDiff, MatchesOtTextUnicodeOnTwelveThousandCases) {
  if (!on_path("node")) GTEST_SKIP() << "node is not on PATH: cannot run the reference ot-text-unicode";
  const std::filesystem::path prefix = CONVLAB_OT_DIFF_PREFIX;
  if (!std::filesystem::exists(prefix / "node_modules" / "ot-text-unicode" / "package.json")) {
    GTEST_SKIP() << "ot-text-unicode is not installed in " << prefix
                 << " (npm is not on PATH, or the ot_diff_npm_ci fixture did not run: run the test through ctest)";
  }

  const std::vector<Case> cases = make_cases();
  ASSERT_GE(cases.size(), 10000u);
  const std::filesystem::path in_path = prefix / "cases.jsonl";
  {
    std::ofstream in(in_path, std::ios::binary | std::ios::trunc);
    for (const Case& c : cases) in << boost::json::serialize(c.input) << '\n';
    ASSERT_TRUE(in.good()) << "could not write " << in_path;
  }
  const std::string cmd = "node '" + std::string(CONVLAB_OT_DIFF_SCRIPT) + "' '" + prefix.string() + "' < '" +
                          in_path.string() + "'";
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr) << "popen failed: " << cmd;
  std::string output;
  char buf[1 << 16];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) output.append(buf, n);
  const int status = pclose(pipe);
  ASSERT_EQ(status, 0) << "node exited with status " << status << ": " << cmd;

  std::vector<std::string> lines;
  for (std::size_t at = 0; at < output.size();) {
    std::size_t nl = output.find('\n', at);
    if (nl == std::string::npos) nl = output.size();
    if (nl > at) lines.push_back(output.substr(at, nl - at));
    at = nl + 1;
  }
  ASSERT_EQ(lines.size(), cases.size()) << "one result per case expected";

  std::size_t mismatches = 0;
  std::size_t first = cases.size();
  for (std::size_t i = 0; i < cases.size(); ++i) {
    boost::system::error_code ec;
    const boost::json::value got = boost::json::parse(lines[i], ec);
    if (ec || got != boost::json::value(cases[i].expected)) {
      if (mismatches++ == 0) first = i;
    }
  }
  EXPECT_EQ(mismatches, 0u) << "first mismatch, case " << first << ":\n  input:    "
                            << (first < cases.size() ? boost::json::serialize(cases[first].input) : "")
                            << "\n  package:  " << (first < cases.size() ? lines[first] : "")
                            << "\n  convlab:  "
                            << (first < cases.size() ? boost::json::serialize(cases[first].expected) : "");
}

}  // namespace
}  // namespace convlab::ot
