// The store over two databases as partitions (server/pg/partitioned.hpp), each in a cluster of
// its own (scripts/pg.sh, twice): every document's rows land in the database the rule of
// server/core/partition.hpp names and nowhere else, reads find them there, what is not a
// document's stays in partition 0, and a store whose rule or order differs from what the
// databases recorded does not open. Without PostgreSQL's binaries the tests skip (and under
// CI=true the skip fails the run, tests/support).
#include "server/pg/partitioned.hpp"
#include "tests/pg/own_cluster.hpp"
#include "tests/pg/pg_fixture.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <mutex>
#include <set>

namespace convlab::pg {
namespace {

using test::Collector;
using test::docs_in;
using test::OwnCluster;

std::size_t rows_in(const std::string& url, const std::string& table) {
  pqxx::connection c(url);
  pqxx::nontransaction n(c);
  return n.exec1("SELECT count(*) FROM " + table)[0].as<std::size_t>();
}

class PgPartitioned : public test::TwoClusters {
 protected:
  void SetUp() override {
    TwoClusters::SetUp();
    if (IsSkipped()) return;
    urls_ = {test::fresh_database(clusters_[0]->url()), test::fresh_database(clusters_[1]->url())};
  }

  PartitionedConfig config(const std::vector<std::string>& urls, PartitionSpec::By by) const {
    PartitionedConfig pc;
    for (const std::string& u : urls) {
      StoreConfig sc;
      sc.url = u;
      sc.node = 1;
      pc.partitions.push_back(sc);
    }
    pc.spec.partitions = static_cast<std::uint32_t>(urls.size());
    pc.spec.by = by;
    pc.spec.organizations = 3;
    pc.spec.org_size = PartitionSpec::OrgSize::kZipf;
    pc.spec.org_exponent = 1.0;
    pc.docs = 8;
    return pc;
  }

  std::vector<std::string> urls_;
};

const std::vector<std::uint32_t> kDocs{0, 1, 2, 3, 4, 5, 6, 7, 1000001, 4000000002U};

TEST_F(PgPartitioned, EachDocumentInThePartitionTheRuleNames) {
  for (const auto by : {PartitionSpec::By::kOrg, PartitionSpec::By::kDoc}) {
    SCOPED_TRACE(std::string(name_of(by)));
    const std::string db = by == PartitionSpec::By::kOrg ? "by_org" : "by_doc";
    // A fresh pair of databases per rule (a database records one rule).
    std::vector<std::string> pair;
    for (int p = 0; p < 2; ++p) {
      pqxx::connection c(clusters_[p]->url());
      pqxx::nontransaction n(c);
      n.exec("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
      n.exec("CREATE DATABASE " + db);
      pair.push_back(test::with_database(clusters_[p]->url(), db));
    }
    const PartitionedConfig pc = config(pair, by);
    const PartitionMap map = by == PartitionSpec::By::kOrg ? PartitionMap(pc.spec, pc.docs) : PartitionMap(pc.spec, 0);
    Collector col;
    std::mutex mu;
    std::map<std::uint32_t, std::size_t> committed;  // partition -> appends
    PartitionHooks ph;
    ph.committed = [&](std::uint32_t partition, std::size_t appends, double) {
      std::lock_guard lock(mu);
      committed[partition] += appends;
    };
    auto opened = open_partitioned(pc, col.hooks(), ph);
    ASSERT_TRUE(opened) << opened.error().message;
    Store& store = **opened;
    std::uint64_t id = 0;
    for (const std::uint32_t doc : kDocs) {
      ASSERT_TRUE(store.claim_strategy(doc, "crdt"));
      store.submit(test::append(++id, doc, {test::record(7, "doc " + std::to_string(doc))}));
    }
    ASSERT_TRUE(col.wait_until([&] { return col.replies.size() == kDocs.size(); }));
    for (const auto& [rid, reply] : col.replies) EXPECT_TRUE(reply.ok) << rid;
    std::set<std::uint32_t> expected[2];
    std::map<std::uint32_t, std::size_t> appends;
    for (const std::uint32_t doc : kDocs) {
      expected[map.route(doc)].insert(doc);
      ++appends[map.route(doc)];
    }
    ASSERT_FALSE(expected[0].empty());
    ASSERT_FALSE(expected[1].empty());
    for (std::uint32_t p = 0; p < 2; ++p) {
      EXPECT_EQ(docs_in(pair[p], "changes", "doc"), expected[p]) << "partition " << p;
      EXPECT_EQ(docs_in(pair[p], "documents", "id"), expected[p]) << "partition " << p;
    }
    {
      std::lock_guard lock(mu);
      EXPECT_EQ(committed, appends);
    }
    // Reads go to the document's partition.
    for (const std::uint32_t doc : kDocs) {
      auto log = store.read_log(doc);
      ASSERT_TRUE(log) << doc;
      ASSERT_EQ(log->size(), 1U) << doc;
      const std::string want = "doc " + std::to_string(doc);
      EXPECT_EQ(std::string(log->front().record.begin(), log->front().record.end()), want) << doc;
      auto page = store.read_history(doc, 0, 10);
      ASSERT_TRUE(page) << doc;
      EXPECT_EQ(page->latest, 1U) << doc;
    }
    // Users and agents are partition 0's only.
    auto user = store.user_id("alice");
    ASSERT_TRUE(user);
    ASSERT_TRUE(store.new_agent(*user));
    EXPECT_EQ(rows_in(pair[0], "users"), 1U);
    EXPECT_EQ(rows_in(pair[1], "users"), 0U);
    EXPECT_EQ(rows_in(pair[0], "agent_users"), 1U);
    EXPECT_EQ(rows_in(pair[1], "agent_users"), 0U);
    EXPECT_TRUE(store.healthy());
  }
}

// The rule is recorded in each database: another rule, or the databases in another order, does
// not open (saying what the database holds); the same rule does.
TEST_F(PgPartitioned, AnotherRuleOrOrderDoesNotOpen) {
  Collector col;
  {
    auto first = open_partitioned(config(urls_, PartitionSpec::By::kOrg), col.hooks());
    ASSERT_TRUE(first) << first.error().message;
  }
  auto other = open_partitioned(config(urls_, PartitionSpec::By::kDoc), col.hooks());
  ASSERT_FALSE(other);
  EXPECT_NE(other.error().message.find("partition 0 ("), std::string::npos) << other.error().message;
  EXPECT_NE(other.error().message.find("holds partition 0 of \"2 partitions by org; 8 documents of 3 organizations, "
                                       "zipf 1\", not partition 0 of \"2 partitions by doc\""),
            std::string::npos)
      << other.error().message;
  auto swapped = open_partitioned(config({urls_[1], urls_[0]}, PartitionSpec::By::kOrg), col.hooks());
  ASSERT_FALSE(swapped);
  EXPECT_NE(swapped.error().message.find("holds partition 1 of"), std::string::npos) << swapped.error().message;
  auto same = open_partitioned(config(urls_, PartitionSpec::By::kOrg), col.hooks());
  EXPECT_TRUE(same) << (same ? "" : same.error().message);
}

}  // namespace
}  // namespace convlab::pg
