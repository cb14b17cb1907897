// workload/json_pull and workload/trace_reader: the DOM-free trace loader (issue 17). It must
// read what a JSON parser reads, refuse what it refuses, and give every patch back as written.
#include "server/core/utf8.hpp"
#include "workload/json_pull.hpp"
#include "workload/trace_reader.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <vector>

namespace convlab {
namespace {

namespace json = boost::json;

// The whole text read as one value by JsonPull (skip + finish).
bool pull_accepts(std::string_view text, std::string* why = nullptr) {
  JsonPull j(text);
  const bool ok = j.skip() && j.finish();
  if (why) *why = j.error();
  return ok;
}

TEST(JsonPull, AcceptsAndRefusesWhatBoostJsonDoes) {
  const std::vector<std::string> texts = {
      R"({})", R"([])", R"( {"a": [1, -2, 3.5e-3, 0, -0, true, false, null, "x"]} )", R"("\u00e9\ud83d\ude00\n\t\/")",
      R"({"a":1,"a":2})", R"([[[[]]]])", "\"caf\xc3\xa9\"", R"(12345678901234567890123)",
      // refused
      R"({)", R"({"a" 1})", R"({"a":1,})", R"([1,])", R"([1 2])", R"({"a":01})", R"([1.])", R"([1e])", R"([-])",
      R"(["\x"])", R"(["\ud800"])", R"(["\udc00"])", R"(["\u12"])", "[\"a\x01\"]", "\"\xc3\"", "\"\xc0\xaf\"",
      "\"\xed\xa0\x80\"", "\"\xf5\x80\x80\x80\"", R"([tru])", R"([nul])", R"({"a":1} x)", R"()", R"( )", R"({1:2})",
      R"(["unterminated)", R"([+1])", R"([.5])",
  };
  for (const std::string& t : texts) {
    boost::system::error_code ec;
    json::parse(t, ec);
    std::string why;
    EXPECT_EQ(pull_accepts(t, &why), !ec) << "text: " << t << "\nJsonPull: " << why << "\nBoost.JSON: " << ec.message();
  }
}

TEST(JsonPull, ErrorsNameLineAndColumn) {
  std::string why;
  EXPECT_FALSE(pull_accepts("{\n  \"a\": [1,\n  2,, 3]}", &why));
  EXPECT_EQ(why, "line 3, column 5: unexpected character, expected a value") << why;
}

TEST(JsonPull, NumbersSayWhetherTheyAreNonNegativeIntegers) {
  for (const auto& [text, want, value] : std::vector<std::tuple<std::string, JsonPull::Num, std::uint64_t>>{
           {"0", JsonPull::Num::kUint, 0},
           {"18446744073709551615", JsonPull::Num::kUint, 18446744073709551615ull},
           {"18446744073709551616", JsonPull::Num::kOther, 0},
           {"-1", JsonPull::Num::kOther, 0},
           {"1.0", JsonPull::Num::kOther, 0},
           {"1e2", JsonPull::Num::kOther, 0},
           {"x", JsonPull::Num::kBad, 0}}) {
    JsonPull j(text);
    std::uint64_t got = 0;
    EXPECT_EQ(j.number(got), want) << text;
    if (want == JsonPull::Num::kUint) {
      EXPECT_EQ(got, value) << text;
    }
  }
}

std::string u8(const std::u32string& s) { return utf8_encode(s); }

TEST(TraceReader, ReadsKeysInAnyOrderSkippingUnknownOnes) {
  const std::string text = R"({"txns": [{"time": "t", "patches": [[0, 0, "h\u00e9"], [2, 0, "\ud83d\ude00"]], "x": {"y": [1]}},
                                       {"patches": [[1, 1, ""]]}, {"patches": []}],
                              "extra": [null, true], "endContent": "h\ud83d\ude00"})";
  auto t = read_trace("f.json", text);
  ASSERT_TRUE(t) << t.error().message;
  ASSERT_FALSE(t->concurrent);
  const SequentialTrace& s = t->sequential;
  EXPECT_EQ(u8(s.end_content), "h\xf0\x9f\x98\x80");
  ASSERT_EQ(s.patches.size(), 3u);
  EXPECT_EQ(s.patch_count, 3u);
  EXPECT_EQ(s.txn_ends, (std::vector<std::uint32_t>{2, 3, 3}));
  EXPECT_EQ(s.patches[0].pos, 0u);
  EXPECT_EQ(s.patches[0].ins, U"h\u00e9");
  EXPECT_EQ(s.patches[1].ins, U"\U0001F600");
  EXPECT_EQ(s.patches[2].pos, 1u);
  EXPECT_EQ(s.patches[2].del, 1u);
  EXPECT_TRUE(s.patches[2].ins.empty());
}

TEST(TraceReader, AConcurrentKindAfterTheTxnsRereadsThem) {
  const std::string text = R"({"txns": [{"parents": [], "agent": 1, "patches": [[0, 0, "ab"]]},
                                       {"parents": [0], "agent": 0, "patches": [[1, 0, "c"]]}],
                              "endContent": "acb", "numAgents": 2, "kind": "concurrent"})";
  auto t = read_trace("f.json", text);
  ASSERT_TRUE(t) << t.error().message;
  ASSERT_TRUE(t->concurrent);
  const ConcurrentTrace& c = t->concurrent_trace;
  EXPECT_EQ(c.num_agents, 2u);
  ASSERT_EQ(c.txns.size(), 2u);
  EXPECT_EQ(c.txns[0].agent, 1u);
  EXPECT_TRUE(c.txns[0].parents.empty());
  EXPECT_EQ(c.txns[1].parents, (std::vector<std::uint32_t>{0}));
  EXPECT_EQ(c.txns[1].patches.at(0).ins, U"c");
  EXPECT_TRUE(t->sequential.patches.empty());
}

void expect_error(const std::string& text, const std::string& wanted) {
  auto t = read_trace("trace.json", text);
  ASSERT_FALSE(t) << text;
  EXPECT_EQ(t.error().message, wanted) << text;
}

TEST(TraceReader, ShapeErrorsNameTheJsonPath) {
  expect_error(R"([])", "trace.json: $: expected an object with endContent and txns");
  expect_error(R"({"txns": []})", "trace.json: $.endContent: missing");
  expect_error(R"({"endContent": 3, "txns": []})", "trace.json: $.endContent: expected a string");
  expect_error(R"({"endContent": ""})", "trace.json: $.txns: expected an array");
  expect_error(R"({"endContent": "", "txns": [{"patches": [[0, 0, "a"]]}, {"patches": [[0, 0]]}]})",
               "trace.json: $.txns[1].patches[0]: expected [pos, delCount, insText]");
  expect_error(R"({"endContent": "", "txns": [{"patches": [[0, 0, "a", 1]]}]})",
               "trace.json: $.txns[0].patches[0]: expected [pos, delCount, insText]");
  expect_error(R"({"endContent": "", "txns": [{"patches": [[0, -1, "a"]]}]})",
               "trace.json: $.txns[0].patches[0][1]: expected a non-negative integer");
  expect_error(R"({"endContent": "", "txns": [{"patches": [[0.5, 0, "a"]]}]})",
               "trace.json: $.txns[0].patches[0][0]: expected a non-negative integer");
  expect_error(R"({"endContent": "", "txns": [{"patches": [[0, 0, 7]]}]})",
               "trace.json: $.txns[0].patches[0][2]: expected a string");
  expect_error(R"({"endContent": "", "txns": [{"time": 1}]})", "trace.json: $.txns[0].patches: expected an array");
  expect_error(R"({"endContent": "", "txns": [3]})", "trace.json: $.txns[0]: expected an object");
  expect_error(R"({"kind": "concurrent", "endContent": "", "numAgents": 1, "txns": [{"parents": [0], "agent": 0, "patches": []}]})",
               "trace.json: $.txns[0].parents: parent 0 is not an earlier transaction");
  expect_error(R"({"kind": "concurrent", "endContent": "", "numAgents": 1, "txns": [{"parents": [], "agent": 1, "patches": []}]})",
               "trace.json: $.txns[0].agent: agent 1 is not below numAgents");
  expect_error(R"({"kind": "concurrent", "endContent": "", "txns": []})", "trace.json: $.numAgents: missing");
  expect_error(R"({"kind": "concurrent", "endContent": "", "numAgents": 1, "txns": [{"parents": [], "patches": []}]})",
               "trace.json: $.txns[0].agent: missing");
}

TEST(TraceReader, SyntaxErrorsSayBadJsonWithThePlace) {
  expect_error(R"({"endContent": "x", "txns": [)", "trace.json: bad JSON: line 1, column 30: unexpected end of text in an array");
  expect_error("{\"endContent\": \"x\", \"txns\": []}\n,", "trace.json: bad JSON: line 2, column 1: unexpected text after the JSON value");
  // A malformed value where a patch field is expected is a syntax error, not a shape error.
  expect_error(R"({"endContent": "", "txns": [{"patches": [[0, 0, x]]}]})",
               "trace.json: bad JSON: line 1, column 49: unexpected character, expected a value");
}

// Any trace, written by Boost.JSON's serializer (escapes, any code point), reads back exactly,
// whatever unknown keys sit around its fields.
RC_GTEST_PROP(TraceReader, ReadsBackWhatASerializerWrote, ()) {
  const auto txns = *rc::gen::container<std::vector<std::vector<std::tuple<std::uint64_t, std::uint64_t, std::u32string>>>>(
      rc::gen::container<std::vector<std::tuple<std::uint64_t, std::uint64_t, std::u32string>>>(rc::gen::tuple(
          rc::gen::arbitrary<std::uint64_t>(), rc::gen::inRange<std::uint64_t>(0, 1000),
          rc::gen::resize(12, rc::gen::container<std::u32string>(rc::gen::oneOf(
              rc::gen::inRange<char32_t>(0, 0x80), rc::gen::inRange<char32_t>(0x80, 0xd800),
              rc::gen::inRange<char32_t>(0xe000, 0x110000)))))));
  const auto end = *rc::gen::container<std::u32string>(rc::gen::inRange<char32_t>(0x20, 0xd800));
  const bool extras = *rc::gen::arbitrary<bool>();
  json::array jt;
  for (const auto& txn : txns) {
    json::array ps;
    for (const auto& [pos, del, ins] : txn) ps.push_back(json::array{pos, del, json::string(utf8_encode(ins))});
    json::object o;
    if (extras) o["time"] = json::array{1, "x", nullptr, json::object{{"k", -2.5}}};
    o["patches"] = std::move(ps);
    jt.push_back(std::move(o));
  }
  json::object doc;
  if (extras) doc["startContent"] = "";
  doc["txns"] = std::move(jt);
  doc["endContent"] = utf8_encode(end);
  if (extras) doc["kind"] = "sequential";
  auto t = read_trace("p.json", json::serialize(doc));
  RC_ASSERT(t.has_value());
  RC_ASSERT(!t->concurrent);
  const SequentialTrace& s = t->sequential;
  RC_ASSERT(s.end_content == end);
  RC_ASSERT(s.txn_ends.size() == txns.size());
  std::size_t k = 0;
  for (std::size_t i = 0; i < txns.size(); ++i) {
    for (const auto& [pos, del, ins] : txns[i]) {
      RC_ASSERT(k < s.patches.size());
      RC_ASSERT(s.patches[k].pos == pos);
      RC_ASSERT(s.patches[k].del == del);
      RC_ASSERT(s.patches[k].ins == ins);
      ++k;
    }
    RC_ASSERT(s.txn_ends[i] == k);
  }
  RC_ASSERT(s.patches.size() == k);
}

}  // namespace
}  // namespace convlab
