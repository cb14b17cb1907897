// The ot-text-unicode op type: apply, transform, compose, normalize and check, on cases whose
// expected results were taken from the package itself (ot-text-unicode@4.0.0), and as
// properties (TP1, compose agrees with applying in sequence).
#include "server/strategies/ot/text_op.hpp"
#include "tests/strategies/ot/ot_gen.hpp"

#include <boost/json.hpp>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

namespace convlab::ot {
namespace {

// Ops written the way the package writes them.
Op J(std::string_view json) {
  auto op = op_from_json(boost::json::parse(json));
  if (!op) throw std::runtime_error(std::string(json) + ": " + op.error().message);
  return *op;
}
std::string S(const Op& op) { return boost::json::serialize(op_to_json(op)); }

Text doc(std::u32string s) {
  Text t;
  t.ids.resize(s.size());
  t.text = std::move(s);
  return t;
}

TEST(OtOp, ApplyCountsCodePointsNotBytesOrUtf16Units) {
  auto r = apply_op(doc(U"h\u00e9llo\U0001F600x"), J(R"([2,"Z",{"d":1},1,{"d":1}])"));
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->text, U"h\u00e9Zl\U0001F600x");
}

TEST(OtOp, ApplyRefusesOpsThatReadPastTheEnd) {
  EXPECT_FALSE(apply_op(doc(U"abc"), J(R"([4,"x"])")).has_value());
  EXPECT_FALSE(apply_op(doc(U"abc"), J(R"([2,{"d":2}])")).has_value());
  EXPECT_TRUE(apply_op(doc(U"abc"), J(R"([3,"x"])")).has_value());
  // An op may stop before the end of the document: the rest is kept.
  auto r = apply_op(doc(U"abc"), J(R"([{"d":1}])"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->text, U"bc");
}

TEST(OtOp, CheckRefusesWhatThePackageRefuses) {
  EXPECT_FALSE(check(Op{Component::skip(0), Component::insert(U"a")}).has_value());
  EXPECT_FALSE(check(Op{Component::del(0)}).has_value());
  EXPECT_FALSE(check(Op{Component::insert(U"")}).has_value());
  EXPECT_FALSE(check(Op{Component::skip(1), Component::skip(1), Component::insert(U"a")}).has_value());
  EXPECT_FALSE(check(Op{Component::insert(U"a"), Component::skip(1)}).has_value());
  Op bad_ids{Component::insert(U"ab")};
  bad_ids[0].ids.pop_back();
  EXPECT_FALSE(check(bad_ids).has_value());
  // Adjacent inserts and deletes are allowed, only skips must be merged.
  EXPECT_TRUE(check(Op{Component::insert(U"a"), Component::insert(U"b"), Component::del(1), Component::del(2)}).has_value());
  EXPECT_TRUE(check(Op{}).has_value());
}

TEST(OtOp, OpFromJsonRefusesBadShapes) {
  for (const char* bad : {R"({"d":1})", R"([0,"a"])", R"([-1,"a"])", R"([1.5,"a"])", R"([1])", R"([""])",
                          R"([{"d":0}])", R"([{"d":"ab"}])", R"([{"d":1,"x":2}])", R"([true])", R"([null])",
                          R"([[1]])", R"([1,1,"a"])", R"([4294967296,"a"])"}) {
    EXPECT_FALSE(op_from_json(boost::json::parse(bad)).has_value()) << bad;
  }
  EXPECT_EQ(S(J(R"([3.0,"x"])")), R"([3,"x"])");
}

TEST(OtOp, NormalizeMergesDropsEmptiesAndTrimsTheTrailingSkip) {
  Op raw{Component::skip(0), Component::insert(U"a"), Component::insert(U""), Component::skip(1),
         Component::skip(2),  Component::del(0),       Component::del(1),       Component::del(2),
         Component::skip(3)};
  EXPECT_EQ(S(normalize(raw)), R"(["a",3,{"d":3}])");
  EXPECT_EQ(S(normalize(Op{Component::skip(5)})), "[]");
  EXPECT_TRUE(normalize(Op{}).empty());
}

TEST(OtOp, TransformBreaksTiesBySide) {
  EXPECT_EQ(S(transform(J(R"(["a"])"), J(R"(["b"])"), Side::left)), R"(["a"])");
  EXPECT_EQ(S(transform(J(R"(["a"])"), J(R"(["b"])"), Side::right)), R"([1,"a"])");
}

TEST(OtOp, TransformKeepsInsertsInsideADeletedRange) {
  EXPECT_EQ(S(transform(J(R"([1,"x"])"), J(R"([{"d":3}])"), Side::left)), R"(["x"])");
  EXPECT_EQ(S(transform(J(R"([2,"\ud83d\ude00"])"), J(R"([1,{"d":2},"q"])"), Side::left)), R"([1,"😀"])");
  EXPECT_EQ(S(transform(J(R"([2,"\ud83d\ude00"])"), J(R"([1,{"d":2},"q"])"), Side::right)), R"([1,"😀"])");
}

TEST(OtOp, TransformDropsDeletesOfTextAlreadyDeleted) {
  EXPECT_EQ(S(transform(J(R"([{"d":3}])"), J(R"([1,{"d":1}])"), Side::left)), R"([{"d":2}])");
  EXPECT_EQ(S(transform(J(R"([{"d":2}])"), J(R"([{"d":2}])"), Side::left)), "[]");
}

TEST(OtOp, ComposeCancelsDeletedInsertsAndMergesDeletes) {
  EXPECT_EQ(S(compose(J(R"(["abc"])"), J(R"([1,{"d":1}])"))), R"(["ac"])");
  EXPECT_EQ(S(compose(J(R"([{"d":2}])"), J(R"([{"d":1}])"))), R"([{"d":3}])");
  EXPECT_EQ(S(compose(J(R"([2,"x"])"), J(R"([3,"y"])"))), R"([2,"xy"])");
  EXPECT_EQ(S(compose(J("[]"), J("[]"))), "[]");
}

TEST(OtOp, IdsTravelWithTheirCharacters) {
  Op a{Component::insert(U"xy", {CharId{1, 10}, CharId{1, 11}})};
  Op b{Component::skip(1), Component::insert(U"z", {CharId{2, 5}})};
  Op ab = compose(a, b);
  ASSERT_EQ(ab.size(), 1u);
  EXPECT_EQ(ab[0].text, U"xzy");
  EXPECT_EQ(ab[0].ids, (std::vector<CharId>{{1, 10}, {2, 5}, {1, 11}}));
  Op t = transform(a, Op{Component::insert(U"q", {CharId{3, 0}})}, Side::right);
  EXPECT_EQ(t[1].ids, (std::vector<CharId>{{1, 10}, {1, 11}}));
}

TEST(OtOp, FromSpliceInsertsBeforeDeleting) {
  EXPECT_EQ(S(from_splice(2, 1, U"ab", std::vector<CharId>(2))), R"([2,"ab",{"d":1}])");
  EXPECT_EQ(S(from_splice(0, 0, U"", {})), "[]");
  EXPECT_EQ(S(from_splice(0, 3, U"", {})), R"([{"d":3}])");
}

auto rc_below = [](std::uint64_t n) { return *rc::gen::inRange<std::uint64_t>(0, n); };

RC_GTEST_PROP(OtOpProps, Tp1HoldsAndTracksEveryCharacter, ()) {
  testing::IdSource doc_ids{0, 0}, a_ids{1, 0}, b_ids{2, 0};
  const Text d = testing::random_doc(12, doc_ids, rc_below);
  const Op a = testing::random_op(d.text.size(), a_ids, rc_below);
  const Op b = testing::random_op(d.text.size(), b_ids, rc_below);
  const Op a2 = transform(a, b, Side::left);
  const Op b2 = transform(b, a, Side::right);
  RC_ASSERT(check(a2).has_value());
  RC_ASSERT(normalize(a2) == a2);
  auto da = apply_op(d, a);
  auto db = apply_op(d, b);
  RC_ASSERT(da.has_value() && db.has_value());
  auto dab = apply_op(*da, b2);
  auto dba = apply_op(*db, a2);
  RC_ASSERT(dab.has_value() && dba.has_value());
  RC_ASSERT(dab->text == dba->text);
  RC_ASSERT(dab->ids == dba->ids);
}

RC_GTEST_PROP(OtOpProps, ComposeAgreesWithApplyingInSequence, ()) {
  testing::IdSource doc_ids{0, 0}, a_ids{1, 0}, b_ids{2, 0};
  const Text d = testing::random_doc(12, doc_ids, rc_below);
  const Op a = testing::random_op(d.text.size(), a_ids, rc_below);
  auto da = apply_op(d, a);
  RC_ASSERT(da.has_value());
  const Op b = testing::random_op(da->text.size(), b_ids, rc_below);
  const Op ab = compose(a, b);
  RC_ASSERT(normalize(ab) == ab);
  auto seq = apply_op(*da, b);
  auto once = apply_op(d, ab);
  RC_ASSERT(seq.has_value() && once.has_value());
  RC_ASSERT(seq->text == once->text);
  RC_ASSERT(seq->ids == once->ids);
}

RC_GTEST_PROP(OtOpProps, NormalizeKeepsTheEffectAndIsIdempotent, ()) {
  testing::IdSource doc_ids{0, 0}, a_ids{1, 0};
  const Text d = testing::random_doc(12, doc_ids, rc_below);
  const Op raw = testing::random_raw_op(d.text.size(), a_ids, rc_below);
  const Op n = normalize(raw);
  RC_ASSERT(normalize(n) == n);
  RC_ASSERT(check(n).has_value());
  auto r = apply_op(d, n);
  RC_ASSERT(r.has_value());
  // The raw op's effect, applied component by component.
  Text expect;
  std::size_t pos = 0;
  for (const Component& c : raw) {
    if (c.kind == Component::Kind::skip) {
      expect.text += d.text.substr(pos, c.n);
      expect.ids.insert(expect.ids.end(), d.ids.begin() + static_cast<std::ptrdiff_t>(pos),
                        d.ids.begin() + static_cast<std::ptrdiff_t>(pos + c.n));
      pos += c.n;
    } else if (c.kind == Component::Kind::del) {
      pos += c.n;
    } else {
      expect.text += c.text;
      expect.ids.insert(expect.ids.end(), c.ids.begin(), c.ids.end());
    }
  }
  expect.text += d.text.substr(pos);
  expect.ids.insert(expect.ids.end(), d.ids.begin() + static_cast<std::ptrdiff_t>(pos), d.ids.end());
  RC_ASSERT(r->text == expect.text);
  RC_ASSERT(r->ids == expect.ids);
}

}  // namespace
}  // namespace convlab::ot
