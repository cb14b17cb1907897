// Failover of a single-writer document's home in the simulator (home: lease,
// server/core/home_lease.hpp): server 0 crashes for 20 s. With a fixed home nothing of doc 0
// (0 % 2) is acknowledged until it restarts; with a lease the other server takes over whatever
// server 0 held, and every document has its edits acknowledged again within 5 s of the crash
// (the floor), and nothing acknowledged is lost.
#include "reports/checkers.hpp"
#include "server/strategies/registry.hpp"
#include "sim/world.hpp"
#include "tests/sim/worlds.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

namespace convlab::sim {
namespace {

constexpr std::int64_t kCrashMs = 10000;
constexpr std::int64_t kDownMs = 20000;

// The longest stretch of [from_ms, to_ms) in which no edit of `doc` was acknowledged.
std::int64_t longest_unacknowledged_ms(const std::vector<history::Event>& events, std::uint32_t doc,
                                       std::int64_t from_ms, std::int64_t to_ms) {
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::uint32_t> doc_of;  // (client, op) -> doc
  std::vector<std::int64_t> acks{from_ms * 1000, to_ms * 1000};
  for (const history::Event& e : events) {
    if (e.type == history::EventType::kEdit) doc_of[{e.client, e.op}] = e.doc;
    if (e.type != history::EventType::kAck || e.t_us < from_ms * 1000 || e.t_us >= to_ms * 1000) continue;
    auto it = doc_of.find({e.client, e.op});
    if (it != doc_of.end() && it->second == doc) acks.push_back(e.t_us);
  }
  std::sort(acks.begin(), acks.end());
  std::int64_t longest = 0;
  for (std::size_t i = 1; i < acks.size(); ++i) longest = std::max(longest, acks[i] - acks[i - 1]);
  return longest / 1000;
}

struct Outcome {
  std::int64_t unavailable_ms = 0;  // the longer of the two documents'
  std::size_t moved = 0;            // sessions closed because their document's home moved
  reports::RunMetrics metrics;
};

Outcome crash_doc0_home(NodePolicies::Home home, const char* strategy, std::uint64_t seed) {
  WorldConfig c = test::small_world();  // two servers, two documents
  c.duration_ms = 40000;
  c.servers.home = home;
  c.servers.lease_ms = 2000;
  FaultSpec crash;
  crash.kind = FaultKind::kCrash;
  crash.target = "server:0";
  crash.at_ms = kCrashMs;
  crash.for_ms = kDownMs;
  c.faults.push_back(crash);
  const RunOutput out = test::run_checked(c, strategy, seed);
  EXPECT_EQ(out.refused, 0u) << out.refusal;
  EXPECT_EQ(out.node_errors, 0u) << (home == NodePolicies::Home::kLease ? "lease: " : "fixed: ") << out.node_error;
  Outcome result;
  for (std::uint32_t doc : {0u, 1u}) {
    result.unavailable_ms = std::max(result.unavailable_ms, longest_unacknowledged_ms(out.events, doc, kCrashMs, kCrashMs + kDownMs));
  }
  for (const history::Event& e : out.events) {
    if (e.type == history::EventType::kFault && e.kind == "closed" && e.detail == "the document's home moved to node 1") {
      ++result.moved;
    }
  }
  result.metrics = reports::check(out.events);
  return result;
}

TEST(Failover, ALeasedHomesDocumentIsWritableAgainWithinFiveSecondsOfItsCrash) {
  for (const char* s : {"seq", "ot"}) {
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
      SCOPED_TRACE(std::string(s) + " seed " + std::to_string(seed));
      const Outcome fixed = crash_doc0_home(NodePolicies::Home::kFixed, s, seed);
      const Outcome lease = crash_doc0_home(NodePolicies::Home::kLease, s, seed);
      // Fixed: the edits the other server forwards wait for the home's restart.
      EXPECT_GE(fixed.unavailable_ms, kDownMs - 2000);
      // Lease: expiry (2 s after the last renewal at most), the next request (0.5 s), the
      // clients' reconnect (0.5-1.5 s), the load.
      EXPECT_LE(lease.unavailable_ms, 5000);
      EXPECT_GT(lease.moved, 0u) << "a document server 0 held moved to server 1";
      EXPECT_EQ(fixed.moved, 0u);
      for (const Outcome* o : {&fixed, &lease}) {
        EXPECT_TRUE(o->metrics.converged);
        EXPECT_EQ(o->metrics.lost_by_cause.at("crash"), 0u);
        if (std::string(s) == "ot") {
          EXPECT_EQ(o->metrics.lost_acked_chars, 0u);
        }
      }
    }
  }
}

}  // namespace
}  // namespace convlab::sim
