// workload/durable: the durable text followed record by record, and the edit each record came
// from — what a history's `commit` lines say.
#include "workload/durable.hpp"

#include "server/core/strategy.hpp"
#include "server/strategies/registry.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace convlab::workload {
namespace {

// Client `agent` edits `text` and its server replica turns each message into records.
struct Author {
  std::unique_ptr<ClientReplica> client;
  std::vector<LogRecord> edit(ServerReplica& server, const Splice& sp, std::uint64_t& index, std::int64_t clock_ms) {
    std::vector<LogRecord> out;
    for (const Bytes& m : client->local_edit(sp, clock_ms)) {
      auto o = server.receive(client->agent(), m, clock_ms);
      EXPECT_TRUE(o.has_value());
      if (!o) continue;
      for (Bytes& r : o->records) out.push_back(LogRecord{++index, client->agent(), std::move(r)});
      for (const Bytes& back : o->to_sender) EXPECT_TRUE(client->receive(back).has_value());
    }
    return out;
  }
};

// A paragraph written over by someone who had not seen it: the record's change removes exactly
// the first author's characters and adds the second's, and each record is named by its edit.
TEST(Durable, AnOverwriteRemovesWhatTheOtherWroteAndNamesTheEdits) {
  const Strategy& seq = *find_strategy("seq");
  auto server = seq.make_server();
  DurableText durable(seq, false, {});
  RecordAuthors authors;
  Author a{seq.make_client(7)};
  Author b{seq.make_client(9)};
  std::uint64_t index = 0;

  const auto ra = a.edit(*server, Splice{0, 0, U"abc"}, index, 1);
  ASSERT_EQ(ra.size(), 1u);
  authors.note_edit(0, 7, 1, CharId{7, 0}, 3, {});
  auto ca = durable.append(ra[0]);
  ASSERT_TRUE(ca.has_value());
  EXPECT_EQ(ca->added, (std::vector<CharId>{{7, 0}, {7, 1}, {7, 2}}));
  EXPECT_TRUE(ca->removed.empty());
  EXPECT_EQ(authors.record(7, *ca), std::make_pair(0u, 1u));

  // b never saw "abc": its write of paragraph 0 carries only its own text.
  const auto rb = b.edit(*server, Splice{0, 0, U"xy"}, index, 2);
  ASSERT_EQ(rb.size(), 1u);
  authors.note_edit(1, 9, 1, CharId{9, 0}, 2, {});
  auto cb = durable.append(rb[0]);
  ASSERT_TRUE(cb.has_value());
  EXPECT_EQ(cb->added, (std::vector<CharId>{{9, 0}, {9, 1}}));
  EXPECT_EQ(cb->removed, (std::vector<CharId>{{7, 0}, {7, 1}, {7, 2}}));
  EXPECT_EQ(authors.record(9, *cb), std::make_pair(1u, 1u));
  EXPECT_EQ(durable.ids(), server->char_ids());
}

// A deletion adds none of its author's characters: the record is the edit whose deletions it made.
TEST(Durable, ADeletionIsNamedByWhatItDeleted) {
  const Strategy& crdt = *find_strategy("crdt");
  auto server = crdt.make_server();
  DurableText durable(crdt, false, {});
  RecordAuthors authors;
  Author a{crdt.make_client(5)};
  std::uint64_t index = 0;
  for (const LogRecord& r : a.edit(*server, Splice{0, 0, U"hello"}, index, 1)) ASSERT_TRUE(durable.append(r).has_value());
  authors.note_edit(0, 5, 1, CharId{5, 0}, 5, {});
  authors.note_edit(0, 5, 2, CharId{5, 5}, 1, {});  // an insert whose record never committed
  const auto del = a.edit(*server, Splice{1, 2, U""}, index, 2);
  authors.note_edit(0, 5, 3, CharId{}, 0, {{5, 1}, {5, 2}});
  ASSERT_EQ(del.size(), 1u);
  auto c = durable.append(del[0]);
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->added.empty());
  EXPECT_EQ(c->removed, (std::vector<CharId>{{5, 1}, {5, 2}}));
  EXPECT_EQ(authors.record(5, *c), std::make_pair(0u, 3u));
  // No author for an agent no client wrote as.
  EXPECT_FALSE(authors.record(1234, *c).has_value());
}

// A record that does not apply on the durable text is an Error and changes nothing.
TEST(Durable, ARecordThatDoesNotApplyIsAnError) {
  const Strategy& crdt = *find_strategy("crdt");
  DurableText durable(crdt, false, {});
  const auto bad = durable.append(LogRecord{1, 5, Bytes{0xff, 0xff, 0xff}});
  EXPECT_FALSE(bad.has_value());
  EXPECT_TRUE(durable.ids().empty());
}

}  // namespace
}  // namespace convlab::workload
