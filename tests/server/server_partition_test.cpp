// convlab-server on several PostgreSQL databases as partitions (issue 18, item 2; docs/scenarios.md,
// "Partitions"): two clusters of the test's own (scripts/pg.sh, twice, tests/pg/own_cluster.hpp),
// one real server with `partitions: {by: doc | org, databases: [...]}`, real WebSocket clients
// editing several documents. Each document's change-log rows must be in the database that
// PartitionMap::route names and in no other (checked with SQL on each cluster), the documents
// read back through GET /api/documents, and /metrics counts commits on each partition. A bad
// partition configuration exits 2 naming the key. Without PostgreSQL's binaries the cluster tests
// skip (and under CI=true the skip fails the run, tests/support).
#include "server/core/partition.hpp"
#include "tests/pg/own_cluster.hpp"
#include "tests/server/server_fixture.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <set>

namespace convlab::test {
namespace {

using pg::test::OwnCluster;

std::u32string ascii32(const std::string& s) { return std::u32string(s.begin(), s.end()); }

std::string partition_series(const std::string& name, std::uint32_t p) {
  return name + "{partition=\"" + std::to_string(p) + "\"}";
}

class ServerPartition : public pg::test::TwoClusters {
 protected:
  // A new database `db` in each cluster (dropped first if a previous run left it): partition 0's
  // URL first.
  static std::vector<std::string> fresh_pair(const std::string& db) {
    std::vector<std::string> urls;
    for (int p = 0; p < 2; ++p) {
      pqxx::connection c(clusters_[p]->url());
      pqxx::nontransaction n(c);
      n.exec("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
      n.exec("CREATE DATABASE " + db);
      urls.push_back(pg::test::with_database(clusters_[p]->url(), db));
    }
    return urls;
  }
};

// One rule on a fresh pair of databases: what the server routes where, checked from outside.
struct Case {
  std::string name;
  std::string yaml;       // the partitions mapping's body, after `by`
  PartitionSpec spec;     // the same rule, for PartitionMap
  std::uint32_t docs = 0;
};

TEST_F(ServerPartition, EachDocumentCommittedInThePartitionTheRuleNames) {
  const Strategy& crdt = *find_strategy("crdt");
  const std::vector<std::uint32_t> docs{1, 2, 3, 4, 5, 6, 7, 1000003};
  PartitionSpec by_doc;
  by_doc.partitions = 2;
  by_doc.by = PartitionSpec::By::kDoc;
  PartitionSpec by_org = by_doc;
  by_org.by = PartitionSpec::By::kOrg;
  by_org.organizations = 2;
  by_org.org_size = PartitionSpec::OrgSize::kUniform;
  const std::vector<Case> cases{
      {"by_doc", "doc", by_doc, 0},
      // Documents 0..5 of two organizations of three (0-2 on partition 0, 3-5 on 1); past them
      // doc % 2.
      {"by_org", "org\n  organizations: 2\n  org_size: uniform\n  docs: 6", by_org, 6},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::vector<std::string> urls = fresh_pair("t_server_partition_" + c.name);
    const PartitionMap map(c.spec, c.docs);
    std::set<std::uint32_t> expected[2];
    for (const std::uint32_t doc : docs) expected[map.route(doc)].insert(doc);
    // The documents are spread over both partitions: a server that put everything in partition 0
    // fails below.
    ASSERT_FALSE(expected[0].empty());
    ASSERT_FALSE(expected[1].empty());

    // `database` left out: partition 0 is the home database.
    const std::string yaml = "listen: 127.0.0.1:0\n"
                             "strategy: crdt\n"
                             "jwt:\n"
                             "  secret: \"" + std::string(kSecret) + "\"\n"
                             "users:\n"
                             "  alice: alice-pw\n"
                             "  bob: bob-pw\n"
                             "partitions:\n"
                             "  by: " + c.yaml + "\n"
                             "  databases: [\"" + urls[0] + "\", \"" + urls[1] + "\"]\n";
    START_SERVER(server, yaml);
    auto alice = login(server.port(), "alice", "alice-pw");
    auto bob = login(server.port(), "bob", "bob-pw");
    ASSERT_TRUE(alice && bob);
    // Alice and Bob on every document, on connections of their own; each types its line.
    std::map<std::uint32_t, std::u32string> want;
    for (const std::uint32_t doc : docs) {
      Editor a(server.port(), *alice, crdt, doc);
      Editor b(server.port(), *bob, crdt, doc);
      ASSERT_TRUE(a.open());
      ASSERT_TRUE(b.open());
      const std::u32string first = U"doc " + ascii32(std::to_string(doc)) + U" by alice.";
      a.insert(0, first);
      ASSERT_TRUE(a.sync());
      ASSERT_TRUE(b.wait_text(first));
      b.insert(first.size(), U" and bob.");
      ASSERT_TRUE(b.sync());
      ASSERT_TRUE(a.wait_text(first + U" and bob."));
      want[doc] = first + U" and bob.";
    }
    // Each document's change log and row are in its partition only.
    for (std::uint32_t p = 0; p < 2; ++p) {
      EXPECT_EQ(pg::test::docs_in(urls[p], "changes", "doc"), expected[p]) << "partition " << p;
      EXPECT_EQ(pg::test::docs_in(urls[p], "documents", "id"), expected[p]) << "partition " << p;
      pqxx::connection conn(urls[p]);
      pqxx::nontransaction n(conn);
      const pqxx::row layout = n.exec1("SELECT partition, layout FROM partition_layout");
      EXPECT_EQ(layout[0].as<std::uint32_t>(), p);
      EXPECT_EQ(layout[1].as<std::string>(), describe(c.spec, c.docs));
      // Users are the home database's (partition 0) only.
      EXPECT_EQ(n.exec1("SELECT count(*) FROM users")[0].as<int>(), p == 0 ? 2 : 0) << "partition " << p;
    }
    // Read back through the HTTP API, each from its partition.
    for (const std::uint32_t doc : docs) {
      EXPECT_EQ(document_text(server.port(), alice->token, doc), utf8_encode(want[doc])) << doc;
    }
    // Commits counted on both partitions, at least one append per edit of their documents.
    const std::string m = http_request(server.port(), http::verb::get, "/metrics").body;
    for (std::uint32_t p = 0; p < 2; ++p) {
      EXPECT_GE(metric(m, partition_series("convlab_partition_commits_total", p)), 1) << m;
      EXPECT_GE(metric(m, partition_series("convlab_partition_appends_total", p)), 2.0 * static_cast<double>(expected[p].size())) << m;
      EXPECT_GE(metric(m, partition_series("convlab_partition_commit_seconds_count", p)), 1) << m;
    }
    EXPECT_EQ(metric(m, partition_series("convlab_partition_commits_total", 2)), -1) << "two partitions only";
    // Every partition transaction is one of the store's too (polled: a scrape may fall between
    // the store's two hooks of one commit).
    double commits = 0;
    double all = -1;
    for (int i = 0; i < 50 && commits != all; ++i) {
      if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      const std::string now = http_request(server.port(), http::verb::get, "/metrics").body;
      commits = 0;
      for (std::uint32_t p = 0; p < 2; ++p) commits += metric(now, partition_series("convlab_partition_commits_total", p));
      all = metric(now, "convlab_commit_seconds_count");
    }
    EXPECT_EQ(commits, all);
    // The exposition with the partition series still lints clean (promtool: scripts/setup.sh).
    const auto [rc, said] = promtool_lint(m);
    EXPECT_EQ(rc, 0) << said;
    EXPECT_EQ(said, "") << "promtool lint findings";
    EXPECT_NE(server.stderr_text().find("convlab-server: 2 partitions (" + describe(c.spec, c.docs) + ")"),
              std::string::npos)
        << server.stderr_text();
    EXPECT_EQ(server.stop(), 0) << server.stderr_text();
  }
}

// The databases record the rule: a server listing them in the other order does not start
// (exit 1, naming the partition and what it holds).
TEST_F(ServerPartition, DatabasesInAnotherOrderDoNotStart) {
  const std::vector<std::string> urls = fresh_pair("t_server_partition_order");
  const std::string head = "listen: 127.0.0.1:0\njwt: {secret: \"" + std::string(kSecret) + "\"}\nlab_password: p\n";
  {
    START_SERVER(first, head + "partitions: {by: doc, databases: [\"" + urls[0] + "\", \"" + urls[1] + "\"]}\n");
    EXPECT_EQ(first.stop(), 0);
  }
  ServerProcess swapped(head + "partitions: {by: doc, databases: [\"" + urls[1] + "\", \"" + urls[0] + "\"]}\n");
  EXPECT_FALSE(swapped.started());
  EXPECT_EQ(swapped.wait(), 1);
  EXPECT_NE(swapped.stderr_text().find("partitions: partition 0 ("), std::string::npos) << swapped.stderr_text();
  EXPECT_NE(swapped.stderr_text().find("holds partition 1 of \"2 partitions by doc\""), std::string::npos)
      << swapped.stderr_text();
}

// A bad partition configuration exits 2 before connecting anywhere, naming the key (and, in the
// file, where it is).
TEST(ServerPartitionConfig, BadPartitionsExitTwoNamingTheKey) {
  const std::string head = "listen: 127.0.0.1:0\njwt: {secret: \"" + std::string(kSecret) + "\"}\nlab_password: p\n";
  ServerProcess bad(head +
                    "partitions:\n"
                    "  by: shard\n"
                    "  org_exponent: 11\n"
                    "  databases: [\"postgresql://a/x\"]\n"
                    "  replicas: 2\n");
  EXPECT_FALSE(bad.started());
  EXPECT_EQ(bad.wait(), 2);
  const std::string err = bad.stderr_text();
  EXPECT_TRUE(std::regex_search(err, std::regex(R"(server\.yaml:5:7: partitions\.by: unknown value "shard" \(allowed: org, doc\))")))
      << err;
  EXPECT_TRUE(std::regex_search(err, std::regex(R"(server\.yaml:6:17: partitions\.org_exponent: )"))) << err;
  EXPECT_TRUE(std::regex_search(err, std::regex(R"(server\.yaml:7:14: partitions\.databases: expected 2 to 1024 databases, got 1)")))
      << err;
  EXPECT_TRUE(std::regex_search(err, std::regex(R"(server\.yaml:8:3: partitions\.replicas: unknown key)"))) << err;

  ServerProcess dup(head + "partitions: {by: doc, databases: [\"postgresql://a/x\", \"postgresql://a/x\"]}\n");
  EXPECT_EQ(dup.wait(), 2);
  EXPECT_TRUE(std::regex_search(dup.stderr_text(),
                                std::regex(R"(server\.yaml:4:55: partitions\.databases\[1\]: duplicate database)")))
      << dup.stderr_text();

  ServerProcess orgs(head + "partitions:\n  by: org\n  organizations: 5\n  docs: 4\n  databases: [a, b]\n");
  EXPECT_EQ(orgs.wait(), 2);
  EXPECT_TRUE(std::regex_search(orgs.stderr_text(),
                                std::regex(R"(server\.yaml:6:18: partitions\.organizations: 5 organizations need at least as many documents \(partitions\.docs\), which is 4)")))
      << orgs.stderr_text();

  ServerProcess missing(head + "partitions: {databases: [a, b]}\n");
  EXPECT_EQ(missing.wait(), 2);
  EXPECT_TRUE(std::regex_search(missing.stderr_text(), std::regex(R"(server\.yaml:4:1: partitions: by: required)")))
      << missing.stderr_text();

  // home: lease fences each document's home in one database: refused with partitions.
  ServerProcess lease(head + "policies: {home: lease}\npartitions: {by: doc, databases: [a, b]}\n");
  EXPECT_EQ(lease.wait(), 2);
  EXPECT_TRUE(std::regex_search(lease.stderr_text(),
                                std::regex(R"(server\.yaml:5:1: partitions: not supported with policies\.home: lease)")))
      << lease.stderr_text();

  ServerProcess other_home(head + "database: c\npartitions: {by: doc, databases: [a, b]}\n");
  EXPECT_EQ(other_home.wait(), 2);
  EXPECT_NE(other_home.stderr_text().find("partitions: database is not partitions.databases[0]"), std::string::npos)
      << other_home.stderr_text();

  // The flags: a rule that is neither, one database only, a rule without databases.
  ServerProcess flag(head, {"--partition-by", "hash", "--partition-url", "a", "--partition-url", "b"});
  EXPECT_EQ(flag.wait(), 2);
  EXPECT_NE(flag.stderr_text().find("--partition-by: expected org or doc, got 'hash'"), std::string::npos)
      << flag.stderr_text();
  ServerProcess one(head, {"--partition-by", "doc", "--partition-url", "a"});
  EXPECT_EQ(one.wait(), 2);
  EXPECT_NE(one.stderr_text().find("partitions.databases: expected 2 to 1024 databases, got 1 (or --partition-url, repeated)"),
            std::string::npos)
      << one.stderr_text();
  ServerProcess no_rule(head, {"--partition-url", "a", "--partition-url", "b"});
  EXPECT_EQ(no_rule.wait(), 2);
  EXPECT_NE(no_rule.stderr_text().find("partitions.by: required (org or doc; or --partition-by)"), std::string::npos)
      << no_rule.stderr_text();
  ServerProcess no_urls(head + "database: x\n", {"--partition-by", "org"});
  EXPECT_EQ(no_urls.wait(), 2);
  EXPECT_NE(no_urls.stderr_text().find("partitions.by: without partitions.databases"), std::string::npos)
      << no_urls.stderr_text();
}

}  // namespace
}  // namespace convlab::test
