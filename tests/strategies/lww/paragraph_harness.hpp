#pragma once
// Test support shared by the lww and seq tests: a small network of one server and N clients
// with a FIFO queue per link, driven step by step (by RapidCheck or by hand), plus the
// sequential-trace replay check. Everything here is deterministic: no clocks, no threads.
#include "server/core/strategy.hpp"
#include "server/strategies/paragraphs/codec.hpp"
#include "server/strategies/paragraphs/replica.hpp"
#include "workload/replay.hpp"
#include "workload/trace.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

namespace convlab::testing {

// "" when the message survives binary and JSON round trips byte for byte, else what broke.
inline std::string round_trip_problem(const Strategy& s, const Bytes& msg) {
  auto m = paragraphs::decode(msg);
  if (!m) return "decode: " + m.error().message;
  if (paragraphs::encode(*m) != msg) return "binary re-encoding differs";
  auto j = s.to_json(msg);
  if (!j) return "to_json: " + j.error().message;
  auto back = s.from_json(*j);
  if (!back) return "from_json: " + back.error().message;
  if (*back != msg) return "JSON round trip differs";
  return {};
}

// One server and N clients with a FIFO queue per link. Every step returns "" or the problem,
// so both gtest tests and RapidCheck properties (RC_ASSERT) can check it.
class Net {
 public:
  Net(const Strategy& s, std::size_t clients) : s_(s), server_(s.make_server()), up_(clients), down_(clients) {
    for (std::size_t i = 0; i < clients; ++i) clients_.push_back(s.make_client(static_cast<AgentId>(i)));
  }

  // A client that joins now: its first message is the server's welcome.
  void add_client() {
    clients_.push_back(s_.make_client(static_cast<AgentId>(clients_.size())));
    up_.emplace_back();
    down_.emplace_back();
    down_.back().push_back(server_->welcome());
  }
  // Client c reloads: the server's current welcome reaches it ahead of its queue (pending writes
  // and messages in flight stay as they are).
  std::string welcome(std::size_t c) {
    auto out = clients_[c]->receive(server_->welcome());
    if (!out) return "client " + std::to_string(c) + " refused a welcome: " + out.error().message;
    return {};
  }

  ClientReplica& client(std::size_t i) { return *clients_[i]; }
  ServerReplica& server() { return *server_; }
  std::size_t size() const { return clients_.size(); }
  bool can_up(std::size_t c) const { return !up_[c].empty(); }
  bool can_down(std::size_t c) const { return !down_[c].empty(); }

  std::string edit(std::size_t c, const Splice& e, std::int64_t clock_ms) {
    for (Bytes& m : clients_[c]->local_edit(e, clock_ms)) {
      if (std::string p = check(m); !p.empty()) return p;
      up_[c].push_back(std::move(m));
    }
    return {};
  }

  // Client c's oldest message reaches the server; replies and broadcasts are queued.
  std::string deliver_up(std::size_t c, std::int64_t server_ms) {
    if (up_[c].empty()) return "nothing to deliver";
    Bytes m = std::move(up_[c].front());
    up_[c].pop_front();
    auto out = server_->receive(static_cast<AgentId>(c), m, server_ms);
    if (!out) return "server refused: " + out.error().message;
    for (Bytes& x : out->to_sender) {
      if (std::string p = check(x); !p.empty()) return p;
      down_[c].push_back(std::move(x));
    }
    for (Bytes& x : out->broadcast) {
      if (std::string p = check(x); !p.empty()) return p;
      for (std::size_t o = 0; o < clients_.size(); ++o) {
        if (o != c) down_[o].push_back(x);
      }
    }
    for (Bytes& r : out->records) {
      if (std::string p = check(r); !p.empty()) return p;
      records.push_back(std::move(r));
    }
    return {};
  }

  // The server's oldest message to client c reaches it.
  std::string deliver_down(std::size_t c) {
    if (down_[c].empty()) return "nothing to deliver";
    Bytes m = std::move(down_[c].front());
    down_[c].pop_front();
    auto out = clients_[c]->receive(m);
    if (!out) return "client " + std::to_string(c) + " refused: " + out.error().message;
    for (Bytes& x : *out) up_[c].push_back(std::move(x));
    return {};
  }

  // Delivers everything, in a fixed order, until every queue is empty.
  std::string drain(std::int64_t server_ms) {
    bool moved = true;
    while (moved) {
      moved = false;
      for (std::size_t c = 0; c < clients_.size(); ++c) {
        while (can_up(c)) {
          if (std::string p = deliver_up(c, server_ms); !p.empty()) return p;
          moved = true;
        }
        while (can_down(c)) {
          if (std::string p = deliver_down(c); !p.empty()) return p;
          moved = true;
        }
      }
    }
    return {};
  }

  // "" when every client shows exactly the server's registers (text, ids and stamps) and has
  // nothing pending. Meaningful once every queue is empty.
  std::string divergence() const {
    const auto* server = paragraphs::as_paragraph_server(*server_);
    if (server == nullptr) return "not a paragraph server";
    for (std::size_t c = 0; c < clients_.size(); ++c) {
      const auto* client = paragraphs::as_paragraph_client(*clients_[c]);
      if (client == nullptr) return "not a paragraph client";
      const std::string who = "client " + std::to_string(c);
      if (!client->synced()) return who + " still has writes in flight";
      if (client->registers() != server->registers()) return who + ": registers differ from the server's";
      if (client->text() != server->text()) return who + ": text differs from the server's";
      if (client->char_ids() != server->char_ids()) return who + ": char ids differ from the server's";
    }
    return {};
  }

  bool check_codec = true;
  std::vector<Bytes> records;

 private:
  std::string check(const Bytes& m) const { return check_codec ? round_trip_problem(s_, m) : std::string(); }

  const Strategy& s_;
  std::unique_ptr<ServerReplica> server_;
  std::vector<std::unique_ptr<ClientReplica>> clients_;
  std::vector<std::deque<Bytes>> up_, down_;
};

// The sequential traces every strategy must reproduce; a test checks that no file in the folder
// is missing from this list, so a new trace is never skipped silently.
inline const std::vector<std::string>& sequential_trace_names() {
  static const std::vector<std::string> names = {
      "automerge-paper", "friendsforever_flat", "json-crdt-blog-post",
      "json-crdt-patch", "rustcode",            "sveltecomponent",
  };
  return names;
}

// gtest names allow no '-'.
inline std::string trace_test_name(const ::testing::TestParamInfo<std::string>& p) {
  std::string n = p.param;
  std::replace(n.begin(), n.end(), '-', '_');
  return n;
}

inline std::string sequential_trace_dir() { return shared_dir() + "/traces/sequential_traces"; }

enum class ReplayMode { kLocal, kRelayed };

inline void replay_trace_and_check(const Strategy& s, const std::string& name, ReplayMode mode) {
  const std::string path = sequential_trace_dir() + "/" + name + ".json.gz";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " is absent (set CONVLAB_SHARED)";
  auto trace = load_trace(path);
  ASSERT_TRUE(trace.has_value()) << trace.error().message;
  ASSERT_FALSE(trace->concurrent);
  const SequentialTrace& t = trace->sequential;
  auto r = mode == ReplayMode::kLocal ? replay_local(s, t) : replay_relayed(s, t);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->patches, t.patch_count);
  EXPECT_TRUE(r->text == t.end_content) << name << ": replayed text differs from endContent";
  if (mode == ReplayMode::kRelayed) {
    std::cout << "[ info ] " << s.name << " " << name << " relayed: " << r->messages << " messages, "
              << r->wire_bytes << " wire bytes\n";
  }
}

inline void expect_every_trace_listed() {
  const std::string dir = sequential_trace_dir();
  if (!std::filesystem::is_directory(dir)) GTEST_SKIP() << dir << " is absent (set CONVLAB_SHARED)";
  std::size_t seen = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string file = entry.path().filename().string();
    const std::string suffix = ".json.gz";
    if (!entry.is_regular_file() || file.size() <= suffix.size() ||
        file.compare(file.size() - suffix.size(), suffix.size(), suffix) != 0) {
      continue;
    }
    ++seen;
    const std::string name = file.substr(0, file.size() - suffix.size());
    const auto& names = sequential_trace_names();
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name << " is not replayed";
  }
  EXPECT_EQ(seen, sequential_trace_names().size());
}

}  // namespace convlab::testing
