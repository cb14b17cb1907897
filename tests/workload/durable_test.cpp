// workload/durable: the durable text followed record by record, and the edit each record came
// from — what a history's `commit` lines say.
#include "workload/durable.hpp"

#include "workload/overruled.hpp"

#include "server/core/strategy.hpp"
#include "server/strategies/registry.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <iterator>
#include <string_view>
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

// lww, two servers: each accepted a write of paragraph 0 from a client that had not seen the
// other's, and the store committed the later clock's record first. Replayed in that order the
// earlier clock's write is refused: its commit adds nothing, is still named by its edit (from the
// write's stamp, not guessed), and an `overruled` line says whose write the register kept.
TEST(Durable, AWriteTheDurableOrderRefusedIsNamedWithItsHolder) {
  const Strategy& lww = *find_strategy("lww");
  auto server_a = lww.make_server();
  auto server_b = lww.make_server();
  DurableText durable(lww, false, {});
  RecordAuthors authors;
  WriteStamps stamps;
  Author a{lww.make_client(7)};
  Author b{lww.make_client(9)};
  std::uint64_t index_a = 0;
  std::uint64_t index_b = 0;
  const auto ra = a.edit(*server_a, Splice{0, 0, U"abc"}, index_a, 10);
  note_writes(*a.client, stamps, 0, 1);
  const auto rb = b.edit(*server_b, Splice{0, 0, U"xy"}, index_b, 20);
  note_writes(*b.client, stamps, 1, 4);
  ASSERT_EQ(ra.size(), 1u);
  ASSERT_EQ(rb.size(), 1u);

  auto cb = durable.append(LogRecord{1, 9, rb[0].record});
  ASSERT_TRUE(cb.has_value());
  EXPECT_TRUE(cb->refused.empty());
  const CommitLines lb = commit_lines(0, 1, 1, AgentId{9}, *cb, stamps, authors);
  EXPECT_EQ(lb.commit.writer, 1);
  EXPECT_EQ(lb.commit.op, 4u);
  EXPECT_TRUE(lb.overruled.empty());

  auto ca = durable.append(LogRecord{2, 7, ra[0].record});
  ASSERT_TRUE(ca.has_value());
  EXPECT_TRUE(ca->added.empty());
  EXPECT_TRUE(ca->removed.empty());
  ASSERT_EQ(ca->refused.size(), 1u);
  // The three characters it typed (and the paragraph's end mark it carried, not a character).
  const std::vector<CharId>& refused = ca->refused[0].ids;
  ASSERT_GE(refused.size(), 3u);
  EXPECT_EQ(std::vector<CharId>(refused.begin(), refused.begin() + 3), (std::vector<CharId>{{7, 0}, {7, 1}, {7, 2}}));
  EXPECT_EQ(ca->refused[0].holder.agent, 9u);
  const CommitLines la = commit_lines(0, 2, 0, AgentId{7}, *ca, stamps, authors);
  EXPECT_EQ(la.commit.type, history::EventType::kCommit);
  EXPECT_EQ(la.commit.writer, 0);
  EXPECT_EQ(la.commit.op, 1u);
  EXPECT_EQ(la.commit.version, 2u);
  ASSERT_EQ(la.overruled.size(), 1u);
  const history::Event& o = la.overruled[0];
  EXPECT_EQ(o.type, history::EventType::kOverruled);
  EXPECT_EQ(o.client, 0u);
  EXPECT_EQ(o.op, 1u);
  EXPECT_EQ(o.writer, 1);
  EXPECT_EQ(o.by_op, 4u);
  EXPECT_EQ(history::compress_ids(refused), o.ids);
  // The other order: the later clock overwrites, nothing is refused.
  DurableText other(lww, false, {});
  ASSERT_TRUE(other.append(LogRecord{1, 7, ra[0].record}).has_value());
  auto over = other.append(LogRecord{2, 9, rb[0].record});
  ASSERT_TRUE(over.has_value());
  EXPECT_TRUE(over->refused.empty());
  EXPECT_EQ(over->removed, (std::vector<CharId>{{7, 0}, {7, 1}, {7, 2}}));
}

// The whole document's ids before and after `record`, diffed as multisets: what DurableText's
// change must be, however it finds it.
DurableChange whole_document_change(ServerReplica& reference, const LogRecord& record) {
  std::vector<CharId> before = reference.char_ids();
  EXPECT_TRUE(reference.apply_record(record.record).has_value());
  std::vector<CharId> after = reference.char_ids();
  std::sort(before.begin(), before.end());
  std::sort(after.begin(), after.end());
  DurableChange c;
  std::set_difference(after.begin(), after.end(), before.begin(), before.end(), std::back_inserter(c.added));
  std::set_difference(before.begin(), before.end(), after.begin(), after.end(), std::back_inserter(c.removed));
  return c;
}

// Paragraph strategies diff a record register by register (issue 17, item 4): over random typing
// — newlines typed and deleted, paragraphs split, joined and emptied, the last paragraph deleted
// and appended to, concurrent writes, two lww servers whose records lose to each other — every
// change is the whole-document diff's, and the ids read afterwards are the replica's.
TEST(Durable, ParagraphRecordsChangeWhatTheWholeDocumentDiffSays) {
  for (const char* name : {"seq", "lww"}) {
    SCOPED_TRACE(name);
    const Strategy& strategy = *find_strategy(name);
    std::vector<std::unique_ptr<ServerReplica>> servers;
    servers.push_back(strategy.make_server());
    servers.push_back(strategy.make_server());
    DurableText durable(strategy, false, {});
    auto reference = strategy.make_server();
    struct Typist {
      std::unique_ptr<ClientReplica> client;
      std::size_t server = 0;
      std::deque<Bytes> inbox;
    };
    std::vector<Typist> typists;
    for (AgentId a = 1; a <= 4; ++a) typists.push_back(Typist{strategy.make_client(a), a % 2 == 0 ? 1u : 0u, {}});
    std::uint64_t state = 20261207;  // a fixed LCG: the same cases every run
    const auto draw = [&state](std::uint64_t n) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      return (state >> 33) % n;
    };
    std::uint64_t index = 0;
    std::size_t refused = 0;
    for (int step = 0; step < 3000; ++step) {
      Typist& t = typists[draw(typists.size())];
      if (!t.inbox.empty() && draw(3) != 0) {
        EXPECT_TRUE(t.client->receive(t.inbox.front()).has_value());
        t.inbox.pop_front();
        continue;
      }
      const std::size_t len = t.client->length();
      const std::size_t pos = draw(len + 1);
      const std::size_t del = len == pos ? 0 : draw(std::min<std::size_t>(len - pos, 12) + 1);
      std::u32string ins;
      for (std::uint64_t k = draw(6); k > 0; --k) ins.push_back(draw(4) == 0 ? U'\n' : static_cast<char32_t>(U'a' + draw(26)));
      if (del == 0 && ins.empty()) continue;
      // The second server's clients' clocks run 200 ms behind: under lww their writes lose to
      // the first's recent ones.
      const std::int64_t clock_ms = step - (t.server == 1 ? 200 : 0);
      for (const Bytes& m : t.client->local_edit(Splice{pos, del, ins}, clock_ms)) {
        auto o = servers[t.server]->receive(t.client->agent(), m, clock_ms);
        ASSERT_TRUE(o.has_value());
        for (const Bytes& back : o->to_sender) t.inbox.push_back(back);
        for (Typist& other : typists) {
          if (&other != &t && other.server == t.server) {
            for (const Bytes& b : o->broadcast) other.inbox.push_back(b);
          }
        }
        for (Bytes& r : o->records) {
          const LogRecord rec{++index, t.client->agent(), std::move(r)};
          const DurableChange want = whole_document_change(*reference, rec);
          auto got = durable.append(rec);
          ASSERT_TRUE(got.has_value());
          EXPECT_EQ(got->added, want.added) << "record " << rec.index;
          EXPECT_EQ(got->removed, want.removed) << "record " << rec.index;
          refused += got->refused.size();
          if (step % 97 == 0) {
            EXPECT_EQ(durable.ids(), reference->char_ids()) << "record " << rec.index;
          }
        }
      }
    }
    EXPECT_GT(index, 500u);
    EXPECT_EQ(durable.ids(), reference->char_ids());
    // lww's two servers wrote registers the other had written: some writes lost in the log.
    if (std::string_view(name) == "lww") {
      EXPECT_GT(refused, 0u);
    }
  }
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
