// The leases of single-writer documents' homes in PostgreSQL (home: lease; the rules of
// server/core/home_lease.hpp's LeaseRegister as SQL, server/pg/store_sql.cpp): the first claimant
// holds a document, a live lease stays with its holder, an expired one goes to the next claimant
// in a new epoch, and an append commits only under its node's current lease. Expiry is made by
// moving the lease's expiry into the past, not by waiting.
#include "server/pg/store.hpp"
#include "tests/pg/pg_fixture.hpp"

#include <gtest/gtest.h>

namespace convlab::pg {
namespace {

constexpr std::int64_t kLeaseMs = 600000;  // far longer than the test: nothing expires by itself

StoreRequest lease_request(std::uint64_t id, NodeId node, std::vector<std::uint32_t> docs) {
  StoreRequest r;
  r.kind = StoreRequest::Kind::kLease;
  r.id = id;
  r.node = node;
  r.lease_docs = std::move(docs);
  r.lease_ms = kLeaseMs;
  r.purpose = "lease";
  return r;
}

StoreRequest fenced_append(std::uint64_t id, NodeId node, std::uint32_t doc, std::uint64_t epoch) {
  StoreRequest r = test::append(id, doc, {test::record(node, "x")});
  r.node = node;
  r.lease_epoch = epoch;
  return r;
}

StoreReply answer(Store& store, test::Collector& col, StoreRequest r) {
  const std::uint64_t id = r.id;
  store.submit(std::move(r));
  EXPECT_TRUE(col.wait_until([&] { return col.replies.contains(id); }));
  std::lock_guard lock(col.mu);
  return col.replies[id];
}

TEST(PgStoreLease, ClaimRenewExpireAndFence) {
  CONVLAB_PG_URL_OR_SKIP(url);
  test::Collector ca, cb;
  auto a = test::open_store(url, ca, 1);
  auto b = test::open_store(url, cb, 2);
  ASSERT_TRUE(a && b);

  // Node 1 loads doc 9 first: it holds it, epoch 1; node 2 reads the same lease.
  StoreReply r = answer(*a, ca, lease_request(1, 1, {9}));
  ASSERT_TRUE(r.ok);
  ASSERT_EQ(r.leases.leases.size(), 1u);
  EXPECT_EQ(r.leases.leases[0].first, 9u);
  EXPECT_EQ(r.leases.leases[0].second.holder, 1u);
  EXPECT_EQ(r.leases.leases[0].second.epoch, 1u);
  EXPECT_GT(r.leases.leases[0].second.expires_ms, r.leases.store_now_ms);
  r = answer(*b, cb, lease_request(2, 2, {9}));
  ASSERT_EQ(r.leases.leases.size(), 1u);
  EXPECT_EQ(r.leases.leases[0].second.holder, 1u) << "a live lease stays with its holder";

  // Only the holder's append of its epoch commits.
  EXPECT_FALSE(answer(*b, cb, fenced_append(3, 2, 9, 1)).ok) << "not the holder";
  EXPECT_FALSE(answer(*a, ca, fenced_append(4, 1, 9, 2)).ok) << "not its epoch";
  EXPECT_TRUE(answer(*a, ca, fenced_append(5, 1, 9, 1)).ok);

  // A renewal names nothing and keeps the lease (and what node 1 holds is in the answer).
  r = answer(*a, ca, lease_request(6, 1, {}));
  ASSERT_EQ(r.leases.leases.size(), 1u);
  EXPECT_EQ(r.leases.leases[0].second.epoch, 1u);

  // Node 1 stops renewing (killed): its lease expires, and node 2's next request claims it.
  {
    pqxx::connection c(url);
    pqxx::work w(c);
    w.exec("UPDATE doc_leases SET expires = now() - interval '1 second' WHERE doc = 9");
    w.commit();
  }
  r = answer(*b, cb, lease_request(7, 2, {9}));
  ASSERT_EQ(r.leases.leases.size(), 1u);
  EXPECT_EQ(r.leases.leases[0].second.holder, 2u);
  EXPECT_EQ(r.leases.leases[0].second.epoch, 2u);
  // The deposed home's append is fenced; the new home's commits after the old one's record.
  EXPECT_FALSE(answer(*a, ca, fenced_append(8, 1, 9, 1)).ok) << "two homes never both commit";
  const StoreReply ok = answer(*b, cb, fenced_append(9, 2, 9, 2));
  EXPECT_TRUE(ok.ok);
  EXPECT_EQ(ok.first_index, 2u);
  // The deposed home reads that it lost the document.
  r = answer(*a, ca, lease_request(10, 1, {9}));
  ASSERT_EQ(r.leases.leases.size(), 1u);
  EXPECT_EQ(r.leases.leases[0].second.holder, 2u);
  // An append without a lease epoch is not fenced (home: fixed, multi-master strategies).
  EXPECT_TRUE(answer(*a, ca, test::append(11, 9, {test::record(1, "y")})).ok);
}

}  // namespace
}  // namespace convlab::pg
