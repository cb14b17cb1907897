// workload/seen: the "seen" bookkeeping the simulator and the load client share.
#include "workload/seen.hpp"

#include "server/core/strategy.hpp"
#include "server/strategies/registry.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace convlab::workload {
namespace {

TEST(Seen, OpOfNamesTheEditAnIdWasInsertedBy) {
  // Ops 1, 2 and 4 inserted from seqs 1, 5 and 9 (op 3 deleted only: no ref).
  const std::vector<EditRef> refs{{1, 1}, {5, 2}, {9, 4}};
  EXPECT_FALSE(op_of(refs, 0).has_value());
  EXPECT_EQ(op_of(refs, 1), 1u);
  EXPECT_EQ(op_of(refs, 4), 1u);
  EXPECT_EQ(op_of(refs, 5), 2u);
  EXPECT_EQ(op_of(refs, 8), 2u);
  EXPECT_EQ(op_of(refs, 9), 4u);
  EXPECT_EQ(op_of(refs, 1000), 4u);
  EXPECT_FALSE(op_of({}, 7).has_value());
}

TEST(Seen, CatchUpTakesOthersEditsOnceEach) {
  std::vector<DocEdit> doc{{0, 1, 10, 1, 1}, {1, 1, 11, 1, 2}, {0, 2, 10, 2, 1}, {2, 1, 12, 1, 1}};
  Unseen u;
  u.catch_up(doc, 0);
  EXPECT_EQ(u.edits, (std::vector<std::uint32_t>{1, 3}));
  EXPECT_EQ(u.scanned, 4u);
  u.catch_up(doc, 0);  // nothing new
  EXPECT_EQ(u.edits, (std::vector<std::uint32_t>{1, 3}));
  doc.push_back({1, 2, 11, 3, 1});
  doc.push_back({0, 3, 10, 3, 1});
  u.catch_up(doc, 0);
  EXPECT_EQ(u.edits, (std::vector<std::uint32_t>{1, 3, 4}));
  EXPECT_EQ(u.scanned, 6u);
}

// On real crdt replicas: an edit shows while any of its characters does; once all are deleted
// (tombstones) it is gone for good; a replica that never had it neither shows it nor has it gone.
TEST(Seen, ShowsAndGoneForGoodOnCrdtReplicas) {
  const Strategy* s = find_strategy("crdt");
  ASSERT_NE(s, nullptr);
  auto server = s->make_server();
  auto author = s->make_client(1);
  const auto edit = [&](const Splice& sp) {
    for (const Bytes& m : author->local_edit(sp, 0)) ASSERT_TRUE(server->receive(1, m, 0).has_value());
  };
  AgentId next_agent = 2;
  const auto reader = [&] {  // a client that starts from the server's state now
    auto r = s->make_client(next_agent++);
    EXPECT_TRUE(r->receive(server->welcome()).has_value());
    return r;
  };
  edit(Splice{0, 0, U"abc"});
  const std::vector<CharId> ids = author->char_ids();
  ASSERT_EQ(ids.size(), 3u);
  const DocEdit e{0, 1, ids[0].agent, ids[0].seq, 3};

  const auto all = reader();
  EXPECT_TRUE(shows(*all, e));
  EXPECT_FALSE(gone_for_good(*all, e));

  edit(Splice{0, 2, U""});  // two of the three deleted: it still shows
  const auto one = reader();
  EXPECT_EQ(one->text(), U"c");
  EXPECT_TRUE(shows(*one, e));
  EXPECT_FALSE(gone_for_good(*one, e));

  edit(Splice{0, 1, U""});  // all three deleted
  const auto none = reader();
  EXPECT_EQ(none->text(), U"");
  EXPECT_FALSE(shows(*none, e));
  EXPECT_TRUE(gone_for_good(*none, e));

  const auto never = s->make_client(next_agent++);
  EXPECT_FALSE(shows(*never, e));
  EXPECT_FALSE(gone_for_good(*never, e));
}

}  // namespace
}  // namespace convlab::workload
