#pragma once
// The node alone (sans-IO): a NodeIo that records what a Node asks of the world, and a store the
// test answers from when it chooses. Nothing happens unless the test plays it: a store reply, a
// bus record, a timer firing, a message from another node, a crash (a new Node on the same
// store). No threads, no clock, no sockets.
#include "server/core/node.hpp"
#include "server/core/protocol.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace convlab::node_test {

// Records every call; the clock is the test's to move.
class ScriptedIo final : public NodeIo {
 public:
  std::int64_t clock_ms = 1'000'000;
  std::vector<std::pair<ConnId, Frame>> frames;
  std::vector<std::pair<ConnId, std::string>> closed;
  std::deque<StoreRequest> requests;  // not yet answered, in the order the node sent them
  std::vector<std::pair<NodeId, NodeMessage>> messages;
  std::vector<std::pair<std::int64_t, std::uint64_t>> timers;  // (delay_ms, timer)
  std::vector<HttpResponse> responses;
  std::vector<std::string> errors;
  std::vector<std::pair<ConnId, std::size_t>> acks;
  std::vector<ReplicaChange> changes;

  std::int64_t now_ms() override { return clock_ms; }
  void send(ConnId conn, const Frame& frame) override { frames.emplace_back(conn, frame); }
  void close(ConnId conn, const std::string& reason) override { closed.emplace_back(conn, reason); }
  void store(StoreRequest request) override { requests.push_back(std::move(request)); }
  void to_node(NodeId node, NodeMessage message) override { messages.emplace_back(node, std::move(message)); }
  void start_timer(std::int64_t delay_ms, std::uint64_t timer) override { timers.emplace_back(delay_ms, timer); }
  void respond(const HttpResponse& response) override { responses.push_back(response); }
  void log_error(const std::string& message) override { errors.push_back(message); }
  void acknowledged(ConnId conn, std::uint32_t, std::size_t count) override { acks.emplace_back(conn, count); }
  void observe_replica(std::uint32_t, const ServerReplica*, ReplicaChange change, AgentId, std::span<const std::uint8_t>,
                       std::uint64_t) override {
    changes.push_back(change);
  }

  StoreRequest take_request() {
    EXPECT_FALSE(requests.empty());
    StoreRequest r = std::move(requests.front());
    requests.pop_front();
    return r;
  }
  // The frames sent to `conn` since the last call (they are taken out).
  std::vector<Frame> take_frames(ConnId conn) {
    std::vector<Frame> out;
    std::vector<std::pair<ConnId, Frame>> rest;
    for (auto& [c, f] : frames) {
      if (c == conn) {
        out.push_back(std::move(f));
      } else {
        rest.emplace_back(c, std::move(f));
      }
    }
    frames = std::move(rest);
    return out;
  }
};

// The durable state: change logs and snapshots per document, and the records published on the
// bus when appends with `notify` commit.
class FakeStore {
 public:
  struct Stored {
    std::vector<LogRecord> log;  // log[i].index == i + 1
    bool has_snapshot = false;
    Bytes snapshot;
    std::uint64_t snapshot_index = 0;
  };
  std::map<std::uint32_t, Stored> docs;
  std::vector<std::pair<std::uint32_t, LogRecord>> published;
  // home: lease: the leases on the store's clock, which the test moves.
  LeaseRegister leases;
  std::int64_t clock_ms = 0;

  // What the store answers to `r` (and does: an append commits unless `ok` is false).
  StoreReply answer(const StoreRequest& r, bool ok = true) {
    StoreReply reply;
    reply.id = r.id;
    reply.ok = ok;
    if (!ok) return reply;
    if (r.kind == StoreRequest::Kind::kLease) {
      reply.leases = leases.request(r.node, r.lease_docs, clock_ms, r.lease_ms);
      return reply;
    }
    Stored& d = docs[r.doc];
    switch (r.kind) {
      case StoreRequest::Kind::kLease:
        return reply;
      case StoreRequest::Kind::kAppend:
        if ((r.lease_epoch != 0 && !leases.may_append(r.doc, r.node, r.lease_epoch, clock_ms)) ||
            (r.expect_first_index != 0 && r.expect_first_index != d.log.size() + 1)) {
          reply.ok = false;
          return reply;
        }
        reply.first_index = d.log.size() + 1;
        for (LogRecord rec : r.records) {
          rec.index = d.log.size() + 1;
          if (r.notify) published.emplace_back(r.doc, rec);
          d.log.push_back(std::move(rec));
        }
        return reply;
      case StoreRequest::Kind::kReadLog:
        for (const LogRecord& rec : d.log) {
          if (rec.index > r.after) reply.records.push_back(rec);
        }
        return reply;
      case StoreRequest::Kind::kWriteSnapshot:
        if (!d.has_snapshot || r.after >= d.snapshot_index) {
          d.has_snapshot = true;
          d.snapshot = r.snapshot;
          d.snapshot_index = r.after;
        }
        return reply;
      case StoreRequest::Kind::kLoad:
        if (r.upto > 0) {
          // A past version: the records up to it, no snapshot (the fake keeps no first content).
          reply.latest = d.log.size();
          for (const LogRecord& rec : d.log) {
            if (rec.index <= r.upto) reply.records.push_back(rec);
          }
          return reply;
        }
        reply.has_snapshot = d.has_snapshot;
        reply.snapshot = d.snapshot;
        reply.snapshot_index = d.snapshot_index;
        reply.latest = d.log.size();
        for (const LogRecord& rec : d.log) {
          if (rec.index > d.snapshot_index) reply.records.push_back(rec);
        }
        return reply;
    }
    return reply;
  }
};

// An edit of `agent`'s client on connection `conn` of node `from`, forwarded to `doc`'s home.
inline NodeMessage forward_edit(NodeId from, ConnId conn, AgentId agent, std::uint32_t doc, Bytes payload = {}) {
  return NodeMessage{NodeMessage::Kind::kForwardEdit, from, conn, agent, doc, 0, std::move(payload), {}};
}

inline Bytes frame_bytes(FrameKind kind, std::uint32_t doc, Bytes payload = {}) {
  return encode_frame(Frame{kind, doc, std::move(payload), {}});
}

}  // namespace convlab::node_test
