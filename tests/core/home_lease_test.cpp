// Leases of single-writer documents' homes (server/core/home_lease.hpp): the store's register
// (claims, renewals, expiry, the append fence) and a node's view of it, then a property: under any
// interleaving of requests, late answers, late appends and clock advances, two homes never both
// commit (each document's log is a run of epochs, each epoch written by one node, in order).
#include "server/core/home_lease.hpp"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <deque>
#include <map>
#include <vector>

namespace convlab {
namespace {

constexpr std::int64_t kLease = 2000;

std::vector<std::uint32_t> docs(std::initializer_list<std::uint32_t> d) { return d; }

TEST(HomeLease, FirstClaimantHoldsAndOthersSeeIt) {
  LeaseRegister reg;
  const LeaseTable a = reg.request(1, docs({0, 3}), 100, kLease);
  ASSERT_EQ(a.leases.size(), 2u);
  EXPECT_EQ(a.leases[0].first, 0u);
  EXPECT_EQ(a.leases[0].second, (DocLease{1, 1, 2100}));
  const LeaseTable b = reg.request(0, docs({0}), 200, kLease);
  ASSERT_EQ(b.leases.size(), 1u);
  EXPECT_EQ(b.leases[0].second.holder, 1u) << "a live lease stays with its holder";
  HomeView view0(0), view1(1);
  view0.update(b);
  view1.update(a);
  EXPECT_EQ(view0.home(0), 1u);
  EXPECT_FALSE(view0.held_epoch(0));
  EXPECT_EQ(view1.held_epoch(0), 1u);
  EXPECT_EQ(view1.home(3), 1u);
  EXPECT_FALSE(view0.home(3)) << "not named in node 0's table";
}

TEST(HomeLease, RenewalKeepsTheLeaseAndItsEpochUntilItLapses) {
  LeaseRegister reg;
  reg.request(0, docs({5}), 0, kLease);
  // Renewed without naming it: every lease the node holds is renewed.
  const LeaseTable t = reg.request(0, {}, 1500, kLease);
  ASSERT_EQ(t.leases.size(), 1u);
  EXPECT_EQ(t.leases[0].second, (DocLease{0, 1, 3500}));
  EXPECT_EQ(reg.request(1, docs({5}), 3400, kLease).leases[0].second.holder, 0u);
  // Then cut off from the store past its lease, and nobody claimed it meanwhile: an expired
  // lease is not renewed but claimed anew, in a new epoch that fences the lapsed one's appends.
  const LeaseTable lapsed = reg.request(0, {}, 9000, kLease);
  ASSERT_EQ(lapsed.leases.size(), 1u);
  EXPECT_EQ(lapsed.leases[0].second, (DocLease{0, 2, 11000}));
  EXPECT_FALSE(reg.may_append(5, 0, 1, 9001));
  EXPECT_TRUE(reg.may_append(5, 0, 2, 9001));
}

TEST(HomeLease, AnExpiredLeaseGoesToTheNextClaimantInANewEpoch) {
  LeaseRegister reg;
  reg.request(0, docs({2}), 0, kLease);
  // Node 0 died: nothing renews its lease. At its expiry, not before, node 1's claim wins.
  EXPECT_EQ(reg.request(1, docs({2}), 1999, kLease).leases[0].second.holder, 0u);
  const LeaseTable t = reg.request(1, docs({2}), 2000, kLease);
  EXPECT_EQ(t.leases[0].second, (DocLease{1, 2, 4000}));
  HomeView v(1);
  v.update(t);
  EXPECT_EQ(v.held_epoch(2), 2u);
  // The deposed home came back: its renewal does not take the lease back.
  const LeaseTable back = reg.request(0, docs({2}), 2500, kLease);
  EXPECT_EQ(back.leases[0].second.holder, 1u);
  HomeView v0(0);
  v0.update(back);
  EXPECT_FALSE(v0.held_epoch(2));
  EXPECT_EQ(v0.home(2), 1u);
}

TEST(HomeLease, TheFenceRefusesADeposedHomesAppend) {
  LeaseRegister reg;
  reg.request(0, docs({0}), 0, kLease);
  EXPECT_TRUE(reg.may_append(0, 0, 1, 10));
  EXPECT_FALSE(reg.may_append(0, 1, 1, 10)) << "not the holder";
  EXPECT_FALSE(reg.may_append(0, 0, 2, 10)) << "not its epoch";
  EXPECT_FALSE(reg.may_append(0, 0, 1, 2000)) << "expired: another node may claim it now";
  EXPECT_FALSE(reg.may_append(7, 0, 1, 10)) << "no lease at all";
  reg.request(1, docs({0}), 2000, kLease);
  EXPECT_FALSE(reg.may_append(0, 0, 1, 2001)) << "deposed";
  EXPECT_TRUE(reg.may_append(0, 1, 2, 2001));
}

TEST(HomeLease, AViewSeesAnExpiredHolderAsNoHome) {
  HomeView v(2);
  EXPECT_FALSE(v.home(0));
  v.update(LeaseTable{3000, {{0, DocLease{1, 1, 3000}}, {1, DocLease{2, 4, 3001}}}});
  EXPECT_FALSE(v.home(0));
  EXPECT_EQ(v.home(1), 2u);
  EXPECT_EQ(v.held_epoch(1), 4u);
  v.update(LeaseTable{3100, {}});
  EXPECT_FALSE(v.home(1)) << "a table replaces the view";
}

// The model of the property: `nodes` nodes, each with its HomeView; answers and appends travel
// with any delay (queues delivered when an action says so) while the store's clock advances.
struct Model {
  LeaseRegister reg;
  std::int64_t now = 0;
  std::vector<HomeView> views;
  std::vector<std::deque<LeaseTable>> answers;  // per node, in flight, in order
  struct Append {
    std::uint32_t doc;
    std::uint64_t epoch;
  };
  std::vector<std::deque<Append>> appends;  // per node, in flight, in order
  std::map<std::uint32_t, std::vector<std::pair<std::uint64_t, NodeId>>> log;  // doc -> (epoch, node)
};

RC_GTEST_PROP(HomeLease, TwoHomesNeverBothCommit, ()) {
  // Few nodes and documents, so that claims, lapses and late appends meet often.
  const auto nodes = *rc::gen::inRange<std::uint32_t>(2, 4);
  const auto doc_count = *rc::gen::inRange<std::uint32_t>(1, 3);
  const auto lease = *rc::gen::inRange<std::int64_t>(1, 3000);
  Model m;
  for (NodeId n = 0; n < nodes; ++n) m.views.emplace_back(n);
  m.answers.resize(nodes);
  m.appends.resize(nodes);
  const auto steps = *rc::gen::inRange(1, 400);
  for (int i = 0; i < steps; ++i) {
    const auto n = *rc::gen::inRange<NodeId>(0, nodes);
    const auto doc = *rc::gen::inRange<std::uint32_t>(0, doc_count);
    switch (*rc::gen::inRange(0, 5)) {
      case 0:  // node n asks about doc (and renews what it holds)
        m.answers[n].push_back(m.reg.request(n, std::vector<std::uint32_t>{doc}, m.now, lease));
        break;
      case 1:  // its oldest answer arrives
        if (!m.answers[n].empty()) {
          m.views[n].update(m.answers[n].front());
          m.answers[n].pop_front();
        }
        break;
      case 2:  // node n believes it is doc's home: it sends an append
        if (auto epoch = m.views[n].held_epoch(doc)) m.appends[n].push_back({doc, *epoch});
        break;
      case 3:  // its oldest append reaches the store
        if (!m.appends[n].empty()) {
          const Model::Append a = m.appends[n].front();
          m.appends[n].pop_front();
          if (m.reg.may_append(a.doc, n, a.epoch, m.now)) m.log[a.doc].emplace_back(a.epoch, n);
        }
        break;
      default:  // time passes: from a tick to twice the lease
        m.now += *rc::gen::inRange<std::int64_t>(lease / 4, 2 * lease + 1);
        break;
    }
  }
  for (const auto& [doc, entries] : m.log) {
    std::map<std::uint64_t, NodeId> writer;
    for (std::size_t k = 0; k < entries.size(); ++k) {
      const auto [epoch, node] = entries[k];
      if (k > 0) RC_ASSERT(entries[k - 1].first <= epoch);  // a deposed home never commits again
      auto [it, fresh] = writer.try_emplace(epoch, node);
      RC_ASSERT(it->second == node);  // one writer per epoch
    }
  }
}

// Liveness: whatever happened before, a node that asks about a document after its holder has
// been silent for a whole lease gets it.
RC_GTEST_PROP(HomeLease, ASilentHoldersDocumentsGoToTheNextClaimant, ()) {
  const auto lease = *rc::gen::inRange<std::int64_t>(1, 3000);
  LeaseRegister reg;
  std::int64_t now = 0;
  const auto before = *rc::gen::container<std::vector<std::pair<NodeId, std::int64_t>>>(
      rc::gen::pair(rc::gen::inRange<NodeId>(0, 3), rc::gen::inRange<std::int64_t>(0, 3000)));
  for (const auto& [n, dt] : before) {
    now += dt;
    reg.request(n, std::vector<std::uint32_t>{0}, now, lease);
  }
  const auto holder = reg.request(0, std::vector<std::uint32_t>{0}, now, lease).leases[0].second.holder;
  const NodeId other = holder == 1 ? 2 : 1;
  const auto t = reg.request(other, std::vector<std::uint32_t>{0}, now + lease, lease);
  RC_ASSERT(t.leases[0].second.holder == other);
}

}  // namespace
}  // namespace convlab
