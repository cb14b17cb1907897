// Node and its store: loading a document (recover_replica), the replies to every store request
// (on_store: loads, appends committed or failed, log reads, snapshot writes), committed records
// from the bus or the log applied in log order (accept, drain, apply; the gap's catch-up), and
// snapshots. API reads' loads are answered in node_api.cpp.
#include "server/core/node.hpp"

#include "server/core/assert.hpp"

namespace convlab {

Result<std::uint64_t> recover_replica(ServerReplica& replica, bool has_snapshot, std::span<const std::uint8_t> snapshot,
                                      std::uint64_t snapshot_index, std::span<const LogRecord> records) {
  std::uint64_t applied = 0;
  if (has_snapshot) {
    if (auto ok = replica.restore(snapshot); !ok) return make_error("snapshot: " + ok.error().message);
    applied = snapshot_index;
  }
  for (const LogRecord& r : records) {
    if (r.index <= applied) continue;
    if (auto ok = replica.apply_record(r.record); !ok) {
      return make_error("record " + std::to_string(r.index) + " does not apply: " + ok.error().message);
    }
    applied = r.index;
  }
  return applied;
}

void Node::begin_load(std::uint32_t doc) {
  Doc& d = docs_.at(doc);
  d.loading = true;
  if (leased()) {
    // Its home first: the lease is read (claimed when nobody holds it), then the load.
    d.awaiting_lease = true;
    return ask_leases();
  }
  request_load(doc);
}

void Node::request_load(std::uint32_t doc) {
  StoreRequest req;
  req.kind = StoreRequest::Kind::kLoad;
  req.id = next_request_++;
  req.doc = doc;
  req.purpose = "load";
  requests_[req.id] = {req.kind, doc};
  io_.store(std::move(req));
}

void Node::mark_applied(Doc& d, std::uint64_t index) {
  if (index <= d.applied) return;
  d.ahead.insert(index);
  while (d.ahead.contains(d.applied + 1)) {
    d.ahead.erase(d.applied + 1);
    ++d.applied;
  }
}

void Node::accept_remote(std::uint32_t doc, const LogRecord& record) {
  Doc& d = docs_.at(doc);
  if (d.loading || record.index <= d.applied || d.ahead.contains(record.index)) return;
  if (!bus_versioned()) {
    // Unversioned pub/sub: what arrives is applied at once, and a gap before it is never read
    // from the log. The index is still noted (mark_applied keeps it `ahead` of the gap), so this
    // node never labels a snapshot with a version its replica lacks part of.
    apply_remote(doc, d, record);
    release_forward_replies(doc);
    return;
  }
  if (record.index != d.applied + 1 && d.pending_remote.size() >= config_.pending_remote_max) {
    // Past the gap and no room: the log has it.
    d.remote_dropped = true;
    return request_catch_up(doc, "catchup");
  }
  d.pending_remote.emplace(record.index, record);
  drain_remote(doc);
  if (!d.pending_remote.empty()) request_catch_up(doc, "catchup");
}

void Node::drain_remote(std::uint32_t doc) {
  Doc& d = docs_.at(doc);
  while (!d.pending_remote.empty()) {
    auto it = d.pending_remote.begin();
    if (it->first <= d.applied || d.ahead.contains(it->first)) {
      d.pending_remote.erase(it);
      continue;
    }
    if (it->first != d.applied + 1) return;  // a gap: wait for catch-up
    apply_remote(doc, d, it->second);
    d.pending_remote.erase(it);
    release_forward_replies(doc);
  }
}

void Node::apply_remote(std::uint32_t doc, Doc& d, const LogRecord& record) {
  auto msgs = d.replica->apply_remote_record(record.record);
  // A record the log holds but this replica refuses means the replicas have split; the
  // convergence checker will show it. Skip it rather than stop the node.
  if (msgs) deliver_local(doc, record.author, std::move(*msgs));
  io_.observe_replica(doc, d.replica.get(), NodeIo::ReplicaChange::kRecord, record.author, record.record, record.index);
  anchor_own_record(doc, record.author, record.index);
  d.dirty = true;
  mark_applied(d, record.index);
}

void Node::request_catch_up(std::uint32_t doc, const char* purpose) {
  Doc& d = docs_.at(doc);
  if (d.catching_up || d.loading) return;
  d.catching_up = true;
  StoreRequest req;
  req.kind = StoreRequest::Kind::kReadLog;
  req.id = next_request_++;
  req.doc = doc;
  req.after = d.applied;
  req.purpose = purpose;
  requests_[req.id] = {req.kind, doc};
  io_.store(std::move(req));
}

void Node::maybe_snapshot(std::uint32_t doc) {
  Doc& d = docs_.at(doc);
  // A snapshot labelled with log index `applied` must hold exactly the log up to there: not
  // while records of this node are uncommitted or committed out of order.
  if (d.changes_since_snapshot < config_.snapshot_every_changes || !d.ahead.empty() || d.uncommitted > 0) return;
  if (write_snapshot(doc)) d.changes_since_snapshot = 0;
}

bool Node::write_snapshot(std::uint32_t doc) {
  if (snapshot_writes_ >= config_.snapshot_writes_max) {
    io_.log_error("document " + std::to_string(doc) + ": snapshot not written now: too many snapshot writes waiting "
                  "for the store");
    return false;
  }
  ++snapshot_writes_;
  const Doc& d = docs_.at(doc);
  StoreRequest req;
  req.kind = StoreRequest::Kind::kWriteSnapshot;
  req.id = next_request_++;
  req.doc = doc;
  req.after = d.applied;
  req.snapshot = d.replica->snapshot();
  req.purpose = "snapshot";
  requests_[req.id] = {req.kind, doc};
  io_.store(std::move(req));
  return true;
}

void Node::forget_requests(std::uint32_t doc) {
  std::erase_if(requests_, [&](const auto& kv) {
    if (kv.second.second != doc) return false;
    if (kv.second.first == StoreRequest::Kind::kWriteSnapshot) --snapshot_writes_;
    return true;
  });
}

void Node::on_store(const StoreReply& reply) {
  const CloseOverloaded closing{*this};
  if (http_.contains(reply.id)) return http_loaded(reply);
  if (reply.id == lease_request_ && lease_request_ != 0) return on_leases(reply);
  auto rq = requests_.find(reply.id);
  if (rq == requests_.end()) return;
  const auto [kind, doc] = rq->second;
  requests_.erase(rq);
  Doc& d = docs_.at(doc);
  switch (kind) {
    case StoreRequest::Kind::kLoad: {
      // A failed read is no document at all, not an empty one: installing it would welcome
      // clients to an empty text and append their edits after a log this replica never had.
      if (!reply.ok) return refuse_doc(doc, "the store failed to read it", "");
      d.replica = strategy_.make_server();
      // The store holds only snapshots and records replicas wrote: they should always apply.
      auto applied = recover_replica(*d.replica, reply.has_snapshot, reply.snapshot, reply.snapshot_index, reply.records);
      if (!applied) return refuse_doc(doc, "its stored log does not replay", applied.error().message);
      io_.observe_replica(doc, d.replica.get(), NodeIo::ReplicaChange::kLoaded, 0, {}, *applied);
      d.applied = *applied;
      d.assigned = d.applied;
      d.loading = false;
      auto waiting = std::move(d.waiting);
      d.waiting.clear();
      for (auto& [conn, frame] : waiting) on_frame(conn, frame);
      auto forwards = std::move(d.waiting_forwards);
      d.waiting_forwards.clear();
      for (const NodeMessage& m : forwards) on_node(m);
      return;
    }
    case StoreRequest::Kind::kAppend: {
      auto ap = appends_.find(reply.id);
      CONVLAB_ASSERT(ap != appends_.end());
      PendingAppend pending = std::move(ap->second);
      appends_.erase(ap);
      d.uncommitted -= pending.records;
      if (!reply.ok) {
        // Not durable. What was held is never acknowledged, and this replica is ahead of the
        // log: start the document over from what is durable. So is every other document with
        // appends in flight: a failed append may be a connection the database's crash broke,
        // and its transactions in flight went with it; a later edit of such a replica would
        // commit on top of a record the log never got (a log that no longer replays).
        std::vector<std::uint32_t> ahead{doc};
        for (const auto& [other, od] : docs_) {
          if (other != doc && od.uncommitted > 0) ahead.push_back(other);
        }
        for (std::uint32_t k : ahead) reset_doc(k, "a change did not commit");
        return;
      }
      for (std::size_t i = 0; i < pending.records; ++i) {
        const std::uint64_t index = reply.first_index + i;
        // A single-writer document's log has no other writer: the index is the one predicted.
        CONVLAB_ASSERT(strategy_.multi_master || index <= d.assigned);
        mark_applied(d, index);
      }
      d.changes_since_snapshot += pending.records;
      if (pending.forward_reply) io_.to_node(pending.forward_to, std::move(*pending.forward_reply));
      if (pending.local_slot && conns_.contains(pending.local_slot->first)) {
        fill(pending.local_slot->first, doc, pending.local_slot->second, std::move(pending.local_replies),
             reply.first_index + pending.records - 1);
      }
      drain_remote(doc);
      maybe_snapshot(doc);
      return;
    }
    case StoreRequest::Kind::kReadLog: {
      d.catching_up = false;
      if (reply.ok) {
        for (const LogRecord& r : reply.records) {
          if (r.index <= d.applied || d.ahead.contains(r.index)) continue;
          if (d.pending_remote.empty() && r.index == d.applied + 1) {
            // Next in line with nothing waiting: applied as drain_remote would, without
            // queueing a copy first.
            apply_remote(doc, d, r);
            release_forward_replies(doc);
            continue;
          }
          if (r.index != d.applied + 1 && d.pending_remote.size() >= config_.pending_remote_max) {
            d.remote_dropped = true;  // past the gap and no room: read again below
            continue;
          }
          d.pending_remote.emplace(r.index, r);
        }
        drain_remote(doc);
        if (d.remote_dropped) {
          d.remote_dropped = false;
          request_catch_up(doc, "catchup");
        }
      }
      auto hellos = std::move(d.hello_waiting);
      d.hello_waiting.clear();
      auto held = std::move(d.held_frames);
      d.held_frames.clear();
      for (ConnId conn : hellos) welcome(conn, doc);
      for (auto& [conn, frame] : held) on_frame(conn, frame);
      return;
    }
    case StoreRequest::Kind::kLease:
      return;  // answered by on_leases, never through requests_
    case StoreRequest::Kind::kWriteSnapshot:
      CONVLAB_ASSERT(snapshot_writes_ > 0);
      --snapshot_writes_;
      return;
  }
}

void Node::on_bus(std::uint32_t doc, const LogRecord& record) {
  const CloseOverloaded closing{*this};
  auto it = docs_.find(doc);
  if (it == docs_.end()) return;  // not loaded here: it will load from the store when needed
  accept_remote(doc, record);
}

}  // namespace convlab
