#pragma once
// What the node's tests share (node_test.cpp, node_lease_test.cpp): a node with its ScriptedIo,
// a client with the strategy's real client replica, and its hello.
#include "server/core/node.hpp"
#include "server/core/protocol.hpp"
#include "server/strategies/registry.hpp"
#include "tests/core/scripted_io.hpp"

#include <gtest/gtest.h>

#include <climits>
#include <map>
#include <memory>
#include <string>

namespace convlab::node_test {

inline const Strategy& strategy(const char* name) {
  const Strategy* s = find_strategy(name);
  EXPECT_NE(s, nullptr) << name;
  return *s;
}

// A node with its ScriptedIo (declared first: it outlives the node).
struct Rig {
  ScriptedIo io;
  std::unique_ptr<Node> node;
  Rig(const NodeConfig& config, const Strategy& s) : node(std::make_unique<Node>(config, s, io)) {}
  // Answers every store request the node has made, and those the answers cause, in order.
  void play_store(FakeStore& store) {
    while (!io.requests.empty()) node->on_store(store.answer(io.take_request()));
  }
};

// A client of one document, with the strategy's real client replica.
struct Client {
  ConnId conn = 0;
  std::uint32_t doc = 0;
  std::unique_ptr<ClientReplica> replica;

  Client(const Strategy& s, ConnId c, AgentId agent, std::uint32_t d) : conn(c), doc(d), replica(s.make_client(agent)) {}

  // Applies the frames the node sent this client; returns how many of each kind were there.
  std::map<FrameKind, int> receive(ScriptedIo& io) {
    std::map<FrameKind, int> kinds;
    for (const Frame& f : io.take_frames(conn)) {
      ++kinds[f.kind];
      if (f.kind == FrameKind::kWelcome || f.kind == FrameKind::kDeliver) {
        auto back = replica->receive(f.payload);
        EXPECT_TRUE(back.has_value()) << (back ? "" : back.error().message);
      }
    }
    return kinds;
  }
  // A local edit, sent as the edit frames the node receives.
  void type(Node& node, std::uint64_t pos, std::u32string text) {
    for (Bytes& m : replica->local_edit(Splice{pos, 0, std::move(text)}, 1000)) {
      node.on_frame(conn, frame_bytes(FrameKind::kEdit, doc, std::move(m)));
    }
  }
};

// Connects and sends hello; the caller plays the load.
inline void hello(Node& node, const Client& c, std::uint32_t user = 1) {
  node.on_connect(c.conn, c.replica->agent(), Token{user, INT64_MAX});
  node.on_frame(c.conn, frame_bytes(FrameKind::kHello, c.doc));
}

}  // namespace convlab::node_test
