// The splice -> paragraph-writes translation shared by lww and seq (paragraphs/model.hpp).
#include "server/strategies/paragraphs/model.hpp"
#include "server/strategies/paragraphs/replica.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "tests/strategies/lww/paragraph_properties.hpp"

namespace convlab::paragraphs {
namespace {

constexpr AgentId kAlice = 7;

// A client whose document is `text`, typed in one edit by kAlice (ids {7, 0}, {7, 1}, ...).
ParagraphClient typed(const std::u32string& text) {
  ParagraphClient c(Ordering::kClientClock, kAlice);
  c.local_edit(Splice{0, 0, text}, 1);
  EXPECT_TRUE(c.text() == text);
  return c;
}

std::vector<ParagraphEdit> plan(const ParagraphClient& c, Splice e, AgentId agent = 9) {
  std::uint32_t next = 100;
  return plan_splice(c.registers(), e, agent, next);
}

Paragraph para(std::u32string text, std::vector<CharId> ids, CharId term) {
  return Paragraph{true, std::move(text), std::move(ids), term};
}

// Ids of "aa\nbb\ncc" typed by kAlice: a=0,1 \n=2 b=3,4 \n=5 c=6,7.
CharId A(std::uint32_t s) { return CharId{kAlice, s}; }
CharId B(std::uint32_t s) { return CharId{9, s}; }

TEST(ParagraphPlan, TypingInsideAParagraphWritesOnlyThatParagraph) {
  auto c = typed(U"aa\nbb\ncc");
  auto w = plan(c, Splice{4, 0, U"x"});
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0], (ParagraphEdit{1, para(U"bxb", {A(3), B(100), A(4)}, A(5))}));
}

TEST(ParagraphPlan, EditAtStartAndAtEnd) {
  auto c = typed(U"aa\nbb\ncc");
  auto start = plan(c, Splice{0, 1, U"x"});
  ASSERT_EQ(start.size(), 1u);
  EXPECT_EQ(start[0], (ParagraphEdit{0, para(U"xa", {B(100), A(1)}, A(2))}));

  auto end = plan(c, Splice{8, 0, U"z"});
  ASSERT_EQ(end.size(), 1u);
  EXPECT_EQ(end[0], (ParagraphEdit{2, para(U"ccz", {A(6), A(7), B(100)}, kSyntheticBreak)}));
}

TEST(ParagraphPlan, InsertedNewlineRewritesEveryLaterParagraph) {
  auto c = typed(U"aa\nbb\ncc");
  auto w = plan(c, Splice{1, 0, U"\n"});
  // "a" "a" "bb" "cc": index 0 is cut, and 1, 2 and a new 3 take the shifted paragraphs.
  ASSERT_EQ(w.size(), 4u);
  EXPECT_EQ(w[0], (ParagraphEdit{0, para(U"a", {A(0)}, B(100))}));
  EXPECT_EQ(w[1], (ParagraphEdit{1, para(U"a", {A(1)}, A(2))}));
  EXPECT_EQ(w[2], (ParagraphEdit{2, para(U"bb", {A(3), A(4)}, A(5))}));
  EXPECT_EQ(w[3], (ParagraphEdit{3, para(U"cc", {A(6), A(7)}, kSyntheticBreak)}));
}

TEST(ParagraphPlan, NewlineAtEndAddsOneParagraph) {
  auto c = typed(U"aa\nbb");
  auto w = plan(c, Splice{5, 0, U"\nd"});
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0], (ParagraphEdit{1, para(U"bb", {A(3), A(4)}, B(100))}));
  EXPECT_EQ(w[1], (ParagraphEdit{2, para(U"d", {B(101)}, kSyntheticBreak)}));
}

TEST(ParagraphPlan, DeletedNewlineJoinsAndMarksTheLastIndexGone) {
  auto c = typed(U"aa\nbb\ncc");
  auto w = plan(c, Splice{2, 1, U""});
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0], (ParagraphEdit{0, para(U"aabb", {A(0), A(1), A(3), A(4)}, A(5))}));
  EXPECT_EQ(w[1], (ParagraphEdit{1, para(U"cc", {A(6), A(7)}, kSyntheticBreak)}));
  EXPECT_EQ(w[2], (ParagraphEdit{2, Paragraph{}}));
}

TEST(ParagraphPlan, MultiParagraphDelete) {
  auto c = typed(U"aa\nbb\ncc\ndd");
  auto w = plan(c, Splice{1, 9, U""});  // "a" + "d"
  ASSERT_EQ(w.size(), 4u);
  EXPECT_EQ(w[0], (ParagraphEdit{0, para(U"ad", {A(0), A(10)}, kSyntheticBreak)}));
  for (std::uint32_t i = 1; i < 4; ++i) EXPECT_EQ(w[i], (ParagraphEdit{i, Paragraph{}}));
}

TEST(ParagraphPlan, UnchangedDocumentSendsNothing) {
  // A splice that changes nothing sends nothing; retyping the same text is a change (new ids).
  auto c = typed(U"aa\nbb");
  EXPECT_TRUE(plan(c, Splice{0, 0, U""}).empty());
  EXPECT_EQ(plan(c, Splice{3, 2, U"bb"}).size(), 1u);
}

TEST(ParagraphPlan, FirstEditOfAnEmptyDocument) {
  ParagraphClient c(Ordering::kClientClock, kAlice);
  auto w = plan(c, Splice{0, 0, U"x\ny"});
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0], (ParagraphEdit{0, para(U"x", {B(100)}, B(101))}));
  EXPECT_EQ(w[1], (ParagraphEdit{1, para(U"y", {B(102)}, kSyntheticBreak)}));
  // Deleting everything leaves one empty paragraph that still exists.
  auto d = typed(U"ab");
  auto e = plan(d, Splice{0, 2, U""});
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0], (ParagraphEdit{0, para(U"", {}, kSyntheticBreak)}));
}

TEST(ParagraphPlan, HolesLeftByConcurrentDeletesAreSkipped) {
  // Registers 0 and 2 exist, 1 does not: the visible text is "aa\ncc".
  std::vector<Register> regs(3);
  regs[0].value = para(U"aa", {A(0), A(1)}, A(2));
  regs[2].value = para(U"cc", {A(6), A(7)}, kSyntheticBreak);
  EXPECT_TRUE(visible_text(regs) == U"aa\ncc");
  EXPECT_EQ(visible_length(regs), 5u);
  std::uint32_t next = 0;
  auto w = plan_splice(regs, Splice{3, 1, U""}, 9, next);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0], (ParagraphEdit{2, para(U"c", {A(7)}, kSyntheticBreak)}));
  next = 0;
  auto nl = plan_splice(regs, Splice{5, 0, U"\n"}, 9, next);  // appends after index 2
  ASSERT_EQ(nl.size(), 2u);
  EXPECT_EQ(nl[1].index, 3u);
}

// Any sequence of splices on one client gives the text a plain splice gives, and every
// character keeps the identity it was typed with.
RC_GTEST_PROP(ParagraphPlan, SplicesPreserveTextAndIdentities, ()) {
  ParagraphClient c(Ordering::kServerSequence, 3);
  std::u32string text;
  std::vector<CharId> ids;
  std::uint32_t next = 0;
  const int steps = *rc::gen::inRange(1, 60);
  for (int i = 0; i < steps; ++i) {
    const Splice e = convlab::testing::gen_splice(text.size());
    text.replace(e.pos, e.del, e.ins);
    std::vector<CharId> fresh;
    for (std::size_t k = 0; k < e.ins.size(); ++k) fresh.push_back(CharId{3, next++});
    ids.erase(ids.begin() + static_cast<std::ptrdiff_t>(e.pos),
              ids.begin() + static_cast<std::ptrdiff_t>(e.pos + e.del));
    ids.insert(ids.begin() + static_cast<std::ptrdiff_t>(e.pos), fresh.begin(), fresh.end());
    const auto msgs = c.local_edit(e, i);
    RC_ASSERT(msgs.size() <= 1u);
    RC_ASSERT(c.text() == text);
    RC_ASSERT(c.char_ids() == ids);
  }
}

}  // namespace
}  // namespace convlab::paragraphs
