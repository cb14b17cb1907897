// crdt::Doc: ordering of concurrent inserts, idempotence, errors on missing dependencies, and
// two properties: a single document behaves like a string under splices, and replicas that
// exchange ops in any causal order, duplicates included, converge.
#include "server/strategies/crdt/doc.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

namespace convlab::crdt {
namespace {

std::u32string U(const char* s) {
  std::u32string out;
  for (; *s != 0; ++s) out.push_back(static_cast<char32_t>(*s));
  return out;
}

// Applies `op` and fails the test if the doc refuses it.
void must_apply(Doc& d, const Op& op) {
  auto r = d.apply(op);
  ASSERT_TRUE(r) << r.error().message;
}

TEST(CrdtDoc, LocalEditsBehaveLikeASplice) {
  Doc d;
  d.local_insert(0, U("hello"), CharId{0, 0});
  d.local_insert(5, U(" world"), CharId{0, 5});
  d.local_delete(0, 1);
  d.local_insert(0, U("J"), CharId{0, 11});
  EXPECT_TRUE(d.text() == U("Jello world"));
  EXPECT_EQ(d.length(), 11u);
  EXPECT_EQ(d.item_count(), 12u);  // the deleted 'h' stays as a tombstone
  const std::vector<CharId> ids = d.char_ids();
  ASSERT_EQ(ids.size(), 11u);
  EXPECT_EQ(ids[0], (CharId{0, 11}));
  EXPECT_EQ(ids[1], (CharId{0, 1}));
  d.check_invariants();
}

TEST(CrdtDoc, LocalInsertOpCarriesNeighboursIncludingTombstones) {
  Doc d;
  d.local_insert(0, U("abc"), CharId{0, 0});
  d.local_delete(1, 1);  // "ac", b is a tombstone between them
  const InsertOp op = d.local_insert(1, U("x"), CharId{0, 3});
  // originLeft is the visible 'a'; originRight is the next item, the tombstone 'b'.
  ASSERT_TRUE(op.left.has_value());
  ASSERT_TRUE(op.right.has_value());
  EXPECT_EQ(*op.left, (CharId{0, 0}));
  EXPECT_EQ(*op.right, (CharId{0, 1}));
  EXPECT_TRUE(d.text() == U("axc"));
}

TEST(CrdtDoc, ConcurrentInsertsAtOnePlaceAreOrderedByAgentOnEveryReplica) {
  Doc base;
  const InsertOp root = base.local_insert(0, U("[]"), CharId{9, 0});
  for (int order = 0; order < 2; ++order) {
    Doc a;
    Doc b;
    Doc c;
    must_apply(a, root);
    must_apply(b, root);
    must_apply(c, root);
    const InsertOp from_b = b.local_insert(1, U("B"), CharId{1, 0});
    const InsertOp from_a = a.local_insert(1, U("A"), CharId{0, 0});
    const InsertOp from_c = c.local_insert(1, U("C"), CharId{2, 0});
    std::vector<Op> ops{from_a, from_b, from_c};
    if (order == 1) std::reverse(ops.begin(), ops.end());
    Doc r;
    must_apply(r, root);
    for (const Op& op : ops) must_apply(r, op);
    must_apply(a, from_c);
    must_apply(a, from_b);
    // A tie (same originLeft and originRight) puts the lower agent first, whatever arrives first.
    EXPECT_TRUE(r.text() == U("[ABC]")) << "order " << order;
    EXPECT_TRUE(a.text() == U("[ABC]"));
    EXPECT_EQ(a.char_ids(), r.char_ids());
  }
}

TEST(CrdtDoc, ConcurrentRunsTypedCharByCharDoNotInterleave) {
  // Two users type words at the same place, one character per op (as editors send them); the
  // merged text must keep each word whole (Fugue's non-interleaving), in either delivery order.
  Doc a;
  Doc b;
  std::vector<Op> ops_a;
  std::vector<Op> ops_b;
  const std::u32string wa = U("hello");
  const std::u32string wb = U("WORLD");
  for (std::uint32_t i = 0; i < 5; ++i) {
    ops_a.push_back(a.local_insert(i, wa.substr(i, 1), CharId{0, i}));
    ops_b.push_back(b.local_insert(i, wb.substr(i, 1), CharId{1, i}));
  }
  Doc ab = a;
  for (const Op& op : ops_b) must_apply(ab, op);
  Doc ba = b;
  for (const Op& op : ops_a) must_apply(ba, op);
  EXPECT_TRUE(ab.text() == U("helloWORLD"));
  EXPECT_TRUE(ba.text() == U("helloWORLD"));
  EXPECT_EQ(ab.char_ids(), ba.char_ids());

  // Typing backwards (each char inserted before the previous one) must not interleave either.
  Doc c;
  Doc e;
  std::vector<Op> ops_c;
  std::vector<Op> ops_e;
  for (std::uint32_t i = 0; i < 4; ++i) {
    ops_c.push_back(c.local_insert(0, U("abcd").substr(3 - i, 1), CharId{0, i}));
    ops_e.push_back(e.local_insert(0, U("WXYZ").substr(3 - i, 1), CharId{1, i}));
  }
  ASSERT_TRUE(c.text() == U("abcd"));
  for (const Op& op : ops_e) must_apply(c, op);
  for (const Op& op : ops_c) must_apply(e, op);
  EXPECT_TRUE(c.text() == e.text());
  EXPECT_TRUE(c.text() == U("abcdWXYZ") || c.text() == U("WXYZabcd")) << "interleaved";
}

TEST(CrdtDoc, InsertBetweenConcurrentRunScansPastChildren) {
  // a inserts "x" after 'L'; b concurrently inserts "y" after 'L' and then "z" after 'y'.
  // yjsmod puts b's whole subtree after a's or before it, never x between y and z.
  Doc base;
  const InsertOp root = base.local_insert(0, U("LR"), CharId{5, 0});
  Doc a;
  Doc b;
  must_apply(a, root);
  must_apply(b, root);
  const InsertOp x = a.local_insert(1, U("x"), CharId{0, 0});
  const InsertOp y = b.local_insert(1, U("y"), CharId{1, 0});
  const InsertOp z = b.local_insert(2, U("z"), CharId{1, 1});
  must_apply(a, y);
  must_apply(a, z);
  must_apply(b, x);
  EXPECT_TRUE(a.text() == U("LxyzR"));
  EXPECT_TRUE(b.text() == a.text());
}

TEST(CrdtDoc, DeletesAreIdempotentAndCommute) {
  Doc a;
  const InsertOp ins = a.local_insert(0, U("abcdef"), CharId{0, 0});
  Doc b;
  must_apply(b, ins);
  const DeleteOp da = a.local_delete(1, 3);  // bcd
  const DeleteOp db = b.local_delete(2, 3);  // cde, concurrently
  must_apply(a, db);
  must_apply(a, db);  // duplicate
  must_apply(b, da);
  must_apply(b, da);
  EXPECT_TRUE(a.text() == U("af"));
  EXPECT_TRUE(b.text() == U("af"));
  EXPECT_EQ(a.char_ids(), b.char_ids());
  ASSERT_EQ(da.ranges.size(), 1u);
  EXPECT_EQ(da.ranges[0].len, 3u);  // consecutive ids travel as one range
  a.check_invariants();
}

TEST(CrdtDoc, DuplicateAndPartlyDuplicateInsertsAreNoOps) {
  Doc a;
  const InsertOp op = a.local_insert(0, U("abc"), CharId{0, 0});
  Doc b;
  must_apply(b, op);
  must_apply(b, op);
  EXPECT_TRUE(b.text() == U("abc"));
  EXPECT_EQ(b.item_count(), 3u);
  // The same op again but longer (the sender's later chars): only the new ones are added.
  InsertOp longer = op;
  longer.text = U("abcde");
  must_apply(b, longer);
  EXPECT_TRUE(b.text() == U("abcde"));
  b.check_invariants();
}

TEST(CrdtDoc, MissingDependenciesAreErrorsAndLeaveTheDocUnchanged) {
  Doc a;
  a.local_insert(0, U("abc"), CharId{0, 0});
  const std::u32string before = a.text();
  const std::vector<CharId> ids_before = a.char_ids();

  InsertOp unknown_left{CharId{1, 0}, CharId{7, 7}, std::nullopt, U("x")};
  EXPECT_FALSE(a.apply(unknown_left));
  InsertOp unknown_right{CharId{1, 0}, std::nullopt, CharId{7, 7}, U("x")};
  EXPECT_FALSE(a.apply(unknown_right));
  InsertOp reversed{CharId{1, 0}, CharId{0, 2}, CharId{0, 0}, U("x")};  // right before left
  EXPECT_FALSE(a.apply(reversed));
  InsertOp empty{CharId{1, 0}, std::nullopt, std::nullopt, U("")};
  EXPECT_FALSE(a.apply(empty));
  InsertOp overflow{CharId{1, 0xfffffffeu}, std::nullopt, std::nullopt, U("xy")};
  EXPECT_FALSE(a.apply(overflow));
  // One unknown target makes the whole delete fail, including the known ones.
  DeleteOp partly{{IdRange{CharId{0, 0}, 1}, IdRange{CharId{3, 0}, 1}}};
  EXPECT_FALSE(a.apply(partly));
  DeleteOp too_long{{IdRange{CharId{0, 1}, 5}}};
  EXPECT_FALSE(a.apply(too_long));

  EXPECT_TRUE(a.text() == before);
  EXPECT_EQ(a.char_ids(), ids_before);
  EXPECT_EQ(a.item_count(), 3u);
  a.check_invariants();
}

TEST(CrdtDoc, StateRunsRoundTrip) {
  Doc a;
  a.local_insert(0, U("hello world"), CharId{0, 0});
  a.local_delete(0, 2);
  auto runs = a.to_runs();
  auto c = Doc::from_runs(runs);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(c->text() == a.text());
  EXPECT_EQ(c->char_ids(), a.char_ids());
  EXPECT_EQ(c->to_runs(), runs);
  EXPECT_EQ(c->next_seq(0), 11u);
  c->check_invariants();
  // A restored doc keeps integrating: same op, same result.
  const InsertOp more = a.local_insert(3, U("XY"), CharId{0, 12});
  must_apply(*c, more);
  EXPECT_TRUE(c->text() == a.text());

  // States that cannot be: duplicate ids, an origin on the wrong side or unknown.
  std::vector<StateRun> dup = runs;
  dup.push_back(dup.front());
  EXPECT_FALSE(Doc::from_runs(dup));
  std::vector<StateRun> bad_left{StateRun{CharId{0, 0}, CharId{0, 1}, std::nullopt, false, U("a")},
                                 StateRun{CharId{0, 1}, std::nullopt, std::nullopt, false, U("b")}};
  EXPECT_FALSE(Doc::from_runs(bad_left));
  std::vector<StateRun> unknown{StateRun{CharId{0, 0}, std::nullopt, CharId{4, 4}, false, U("a")}};
  EXPECT_FALSE(Doc::from_runs(unknown));
}

TEST(CrdtDoc, MemoryIsAccountedAndModest) {
  Doc d;
  for (std::uint32_t i = 0; i < 10000; ++i) d.local_insert(i, U("x"), CharId{0, i});
  EXPECT_GE(d.memory_bytes(), 10000u * 20u);  // at least the items themselves
  EXPECT_LE(d.memory_bytes(), 10000u * 80u);
}

// ---- properties -------------------------------------------------------------------------------

// (kind, a, b): kind 0 insert, 1 delete; a picks the position, b the length.
using EditGen = std::tuple<int, int, int>;

RC_GTEST_PROP(CrdtDocProperty, OneDocBehavesLikeAStringUnderSplices, ()) {
  const auto edits = *rc::gen::container<std::vector<EditGen>>(
      rc::gen::tuple(rc::gen::inRange(0, 3), rc::gen::inRange(0, 1 << 20), rc::gen::inRange(0, 40)));
  Doc d;
  std::u32string model;
  std::uint32_t seq = 0;
  for (const auto& [kind, a, b] : edits) {
    if (kind != 1 || model.empty()) {
      const std::size_t pos = static_cast<std::size_t>(a) % (model.size() + 1);
      std::u32string text;
      for (int i = 0; i <= b; ++i) text.push_back(static_cast<char32_t>(U'a' + (seq + static_cast<std::uint32_t>(i)) % 26));
      d.local_insert(pos, text, CharId{3, seq});
      seq += static_cast<std::uint32_t>(text.size());
      model.insert(pos, text);
    } else {
      const std::size_t pos = static_cast<std::size_t>(a) % model.size();
      const std::size_t n = 1 + static_cast<std::size_t>(b) % std::min<std::size_t>(8, model.size() - pos);
      d.local_delete(pos, n);
      model.erase(pos, n);
    }
  }
  RC_ASSERT(d.text() == model);
  RC_ASSERT(d.length() == model.size());
  d.check_invariants();
  // Ranges (read a run of visible slots at a time) match the whole text and ids.
  const std::vector<CharId> ids = d.char_ids();
  const std::size_t from = *rc::gen::inRange<std::size_t>(0, model.size() + 1);
  const std::size_t n = *rc::gen::inRange<std::size_t>(0, model.size() - from + 1);
  RC_ASSERT(d.text_range(from, n) == model.substr(from, n));
  RC_ASSERT(d.char_ids_range(from, n) ==
            std::vector<CharId>(ids.begin() + static_cast<std::ptrdiff_t>(from),
                                ids.begin() + static_cast<std::ptrdiff_t>(from + n)));
  // Every id ever given out is either visible or a tombstone.
  for (std::uint32_t s = 0; s < seq; ++s) {
    const CharId id{3, s};
    RC_ASSERT(d.contains(id));
    RC_ASSERT(d.visible(id) != d.deleted(id));
  }
  RC_ASSERT(!d.deleted(CharId{3, seq}));
  auto copy = Doc::from_runs(d.to_runs());
  RC_ASSERT(copy.has_value());
  RC_ASSERT(copy->text() == model);
  RC_ASSERT(copy->char_ids() == d.char_ids());
  copy->check_invariants();
}

// (kind, replica, a, b): kind 0 insert, 1 delete, 2 deliver one op (possibly a duplicate).
using ActionGen = std::tuple<int, int, int, int>;

RC_GTEST_PROP(CrdtDocProperty, ReplicasConvergeUnderAnyCausalDeliveryWithDuplicates, ()) {
  const int n = *rc::gen::inRange(2, 5);
  const auto actions = *rc::gen::container<std::vector<ActionGen>>(
      rc::gen::tuple(rc::gen::inRange(0, 3), rc::gen::inRange(0, n), rc::gen::inRange(0, 1 << 20),
                     rc::gen::inRange(0, 1 << 20)));
  struct Logged {
    Op op;
    std::vector<char> deps;  // ops its author had applied when making it
  };
  std::vector<Logged> log;
  std::vector<Doc> docs(static_cast<std::size_t>(n));
  std::vector<std::vector<char>> applied(static_cast<std::size_t>(n));
  std::vector<std::uint32_t> seq(static_cast<std::size_t>(n), 0);
  auto record = [&](std::size_t r, Op op) {
    Logged l{std::move(op), applied[r]};
    log.push_back(std::move(l));
    for (auto& ap : applied) ap.resize(log.size(), 0);
    applied[r][log.size() - 1] = 1;
  };
  for (const auto& [kind, rep, a, b] : actions) {
    const auto r = static_cast<std::size_t>(rep);
    Doc& d = docs[r];
    if (kind == 0 || (kind == 1 && d.length() == 0)) {
      const std::size_t pos = static_cast<std::size_t>(a) % (d.length() + 1);
      std::u32string text;
      for (int i = 0; i <= b % 3; ++i) text.push_back(static_cast<char32_t>(U'A' + rep * 8 + i));
      record(r, d.local_insert(pos, text, CharId{static_cast<AgentId>(rep), seq[r]}));
      seq[r] += static_cast<std::uint32_t>(text.size());
    } else if (kind == 1) {
      const std::size_t pos = static_cast<std::size_t>(a) % d.length();
      const std::size_t len = 1 + static_cast<std::size_t>(b) % std::min<std::size_t>(3, d.length() - pos);
      record(r, d.local_delete(pos, len));
    } else {
      // Any op whose dependencies this replica has: new ones and ones it already applied.
      std::vector<std::size_t> ready;
      for (std::size_t k = 0; k < log.size(); ++k) {
        bool ok = true;
        for (std::size_t j = 0; j < log[k].deps.size() && ok; ++j) ok = log[k].deps[j] == 0 || applied[r][j] != 0;
        if (ok) ready.push_back(k);
      }
      if (ready.empty()) continue;
      const std::size_t k = ready[static_cast<std::size_t>(a) % ready.size()];
      auto res = d.apply(log[k].op);
      RC_ASSERT(res.has_value());
      applied[r][k] = 1;
    }
  }
  // Deliver everything, in log order (a causal order), duplicates included.
  for (std::size_t r = 0; r < docs.size(); ++r) {
    for (const Logged& l : log) RC_ASSERT(docs[r].apply(l.op).has_value());
    docs[r].check_invariants();
  }
  for (std::size_t r = 1; r < docs.size(); ++r) {
    RC_ASSERT(docs[r].text() == docs[0].text());
    RC_ASSERT(docs[r].char_ids() == docs[0].char_ids());
  }
}

}  // namespace
}  // namespace convlab::crdt
