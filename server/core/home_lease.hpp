#pragma once
// Failover of a single-writer document's home (ot, seq): a lease per document, held in the
// store, sans-IO. Under the `home: lease` policy a document's home is not `doc % nodes` but the
// node that holds its lease; a holder that dies stops renewing, its leases expire, and a live
// node that serves the document claims it. Multi-master strategies (lww, crdt) have no home and
// no lease.
//
// Two halves, both clock-free (times are passed in, in ms):
// - LeaseRegister is the store's side: the table of leases, claims and renewals judged on the
//   store's clock, and the fence every append of a single-writer document passes: it commits
//   only when its node holds the document's lease, in the epoch it names, unexpired. A deposed
//   home's append fails, and the node drops the document (Node::reset_doc), so two homes can
//   never both commit. The simulator's database runs this class; PostgreSQL runs the same rules
//   as SQL (server/pg).
// - HomeView is the node's side: what the latest lease table it read says, and the holder of
//   every document it asked about.
//
// The protocol. Every lease_ms / 4 a node sends one kLease request to the store (StoreRequest)
// naming the single-writer documents it has loaded or is loading; so does a node about to load
// one. The store renews every lease the node holds, grants it each named document whose lease
// is absent or expired (a new epoch), and answers with the lease of every document named or
// held. A document's first loader becomes its home; a node that sees a document's holder change
// drops it (its clients reconnect and load it again, from or through the new home).
// Bound: a holder killed at time t renewed last at t - lease_ms / 4 at worst, so its leases
// expire by t + lease_ms; a node serving the document claims it at its next request, within
// lease_ms / 4 more (plus one store round trip): the document has a live home again within
// 1.25 lease_ms + a round trip, and its clients reconnect and load it there.
#include "server/core/types.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <vector>

namespace convlab {

using NodeId = std::uint32_t;

struct DocLease {
  NodeId holder = 0;
  std::uint64_t epoch = 0;       // counts the document's grants, from 1: a claim makes a new epoch
  std::int64_t expires_ms = 0;   // in the store's clock

  bool operator==(const DocLease&) const = default;
};

// The answer to a lease request: the store's clock when it answered and the leases it named.
struct LeaseTable {
  std::int64_t store_now_ms = 0;
  std::vector<std::pair<std::uint32_t, DocLease>> leases;  // by document, ascending
};

class LeaseRegister {
 public:
  // `node` renews every lease it holds (unexpired) and claims `docs`: each whose lease is absent
  // or expired is granted to it in a new epoch; the others stay with their holder. Answers with
  // the leases of `docs` and of every document `node` holds.
  // REQUIRES: lease_ms > 0.
  LeaseTable request(NodeId node, std::span<const std::uint32_t> docs, std::int64_t now_ms, std::int64_t lease_ms);

  // Whether an append of `doc` by `node` under lease `epoch` may commit at `now_ms`: the node
  // holds the document's lease in that epoch and it has not expired. The fence.
  bool may_append(std::uint32_t doc, NodeId node, std::uint64_t epoch, std::int64_t now_ms) const;

  std::optional<DocLease> lease(std::uint32_t doc) const;

 private:
  std::map<std::uint32_t, DocLease> leases_;
};

class HomeView {
 public:
  explicit HomeView(NodeId self) : self_(self) {}

  // A lease table arrived: it replaces the view (a document it does not name is one this node
  // no longer asked about). The caller ignores an answer older than one already read.
  void update(const LeaseTable& table);

  // The lease of `doc` as last read, if the store named it.
  std::optional<DocLease> lease(std::uint32_t doc) const;
  // The live holder of `doc` as of the latest table: nullopt when the store named no lease, or
  // one that had expired at the store's clock when it answered.
  std::optional<NodeId> home(std::uint32_t doc) const;
  // This node holds `doc`'s lease, and the epoch its appends carry.
  std::optional<std::uint64_t> held_epoch(std::uint32_t doc) const;

 private:
  NodeId self_;
  std::int64_t store_now_ms_ = 0;
  std::map<std::uint32_t, DocLease> leases_;
};

}  // namespace convlab
