#pragma once
// RapidCheck bodies shared by the lww and seq tests. Call them inside RC_GTEST_PROP.
#include "tests/strategies/index_check.hpp"
#include "tests/strategies/lww/paragraph_harness.hpp"

#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <algorithm>

namespace convlab::testing {

// A random splice that fits `len`: short deletes, short inserts over a tiny alphabet with
// newlines, so paragraphs split, join and collide often.
inline Splice gen_splice(std::size_t len) {
  Splice e;
  e.pos = *rc::gen::inRange<std::uint64_t>(0, len + 1);
  e.del = *rc::gen::inRange<std::uint64_t>(0, std::min<std::uint64_t>(len - e.pos, 6) + 1);
  const int n = *rc::gen::inRange(0, 5);
  for (int i = 0; i < n; ++i) e.ins.push_back(*rc::gen::element(U'a', U'b', U'\n'));
  return e;
}

// 2-4 clients edit at random with random clocks (skewed per client when `skewed`, and jittered
// so a client's own clock can run backwards); RapidCheck interleaves the links (FIFO on each).
// Once everything is delivered, every client must equal the server, and the server's records
// and snapshot must rebuild it exactly.
inline void random_session_converges(const Strategy& s, bool skewed) {
  const auto n = *rc::gen::inRange<std::size_t>(2, 5);
  Net net(s, n);
  std::vector<std::int64_t> skew(n, 0);
  if (skewed) {
    for (auto& k : skew) k = *rc::gen::inRange<std::int64_t>(-3000, 3001);
  }
  std::int64_t now_ms = 10'000;
  const int steps = *rc::gen::inRange(1, 120);
  for (int i = 0; i < steps; ++i) {
    now_ms += *rc::gen::inRange(0, 40);
    const auto c = *rc::gen::inRange<std::size_t>(0, n);
    const int kind = *rc::gen::inRange(0, 3);
    if (kind == 0) {
      const Splice e = gen_splice(net.client(c).length());
      const std::int64_t clock = now_ms + skew[c] + *rc::gen::inRange<std::int64_t>(-20, 21);
      RC_ASSERT(net.edit(c, e, clock) == "");
    } else if (kind == 1 && net.can_up(c)) {
      RC_ASSERT(net.deliver_up(c, now_ms) == "");
    } else if (net.can_down(c)) {
      RC_ASSERT(net.deliver_down(c) == "");
    }
    RC_ASSERT(net.client(c).char_ids().size() == net.client(c).length());
    RC_ASSERT(net.client(c).text().size() == net.client(c).length());
  }
  RC_ASSERT(net.drain(now_ms) == "");
  RC_ASSERT(net.divergence() == "");

  // Recovery: the change log alone, and the snapshot, rebuild the server.
  const auto* server = paragraphs::as_paragraph_server(net.server());
  RC_ASSERT(server != nullptr);
  auto rebuilt = s.make_server();
  for (const Bytes& r : net.records) RC_ASSERT(rebuilt->apply_record(r).has_value());
  RC_ASSERT(paragraphs::as_paragraph_server(*rebuilt)->registers() == server->registers());
  RC_ASSERT(rebuilt->version() == server->version());
  auto restored = s.make_server();
  RC_ASSERT(restored->restore(net.server().snapshot()).has_value());
  RC_ASSERT(paragraphs::as_paragraph_server(*restored)->registers() == server->registers());
  RC_ASSERT(restored->version() == server->version());
  // A client joining now sees the server's text.
  auto late = s.make_client(static_cast<AgentId>(n));
  RC_ASSERT(late->receive(net.server().welcome()).has_value());
  RC_ASSERT(late->text() == net.server().text());
}

// A random session as above, with clients joining late and reloading (a welcome over their
// state): after every step, every client's index (length, ranges, contains) must answer what
// the defaults answer from its registers. Concurrent writes make lww and seq show one id at two
// paragraphs and leave holes in the register row; both are probed.
inline void random_session_index_agrees(const Strategy& s, bool skewed) {
  const auto n = *rc::gen::inRange<std::size_t>(2, 5);
  Net net(s, n);
  std::vector<std::int64_t> skew(n + 2, 0);
  if (skewed) {
    for (auto& k : skew) k = *rc::gen::inRange<std::int64_t>(-3000, 3001);
  }
  std::int64_t now_ms = 10'000;
  const int steps = *rc::gen::inRange(1, 120);
  // Each edit inserts at most 4 characters: ids past these were never typed.
  const std::vector<CharId> probes = id_probes(static_cast<std::uint32_t>(n + 2), 4 * static_cast<std::uint32_t>(steps) + 2);
  auto check_all = [&] {
    for (std::size_t c = 0; c < net.size(); ++c) {
      const std::string p = index_mismatch(net.client(c), probes);
      RC_ASSERT(p == "");
    }
  };
  check_all();
  for (int i = 0; i < steps; ++i) {
    now_ms += *rc::gen::inRange(0, 40);
    const auto c = *rc::gen::inRange<std::size_t>(0, net.size());
    const int kind = *rc::gen::inRange(0, 10);
    if (kind <= 3) {
      const Splice e = gen_splice(net.client(c).length());
      const std::int64_t clock = now_ms + skew[c] + *rc::gen::inRange<std::int64_t>(-20, 21);
      RC_ASSERT(net.edit(c, e, clock) == "");
    } else if (kind <= 5 && net.can_up(c)) {
      RC_ASSERT(net.deliver_up(c, now_ms) == "");
    } else if (kind <= 7 && net.can_down(c)) {
      RC_ASSERT(net.deliver_down(c) == "");
    } else if (kind == 8 && net.size() < n + 2) {
      net.add_client();
    } else if (kind == 9) {
      RC_ASSERT(net.welcome(c) == "");
    }
    check_all();
  }
  RC_ASSERT(net.drain(now_ms) == "");
  check_all();
}

// Arbitrary bytes into every entry point that takes untrusted input: never a crash, and a
// refusal leaves the replica as it was.
inline void arbitrary_bytes_are_refused_cleanly(const Strategy& s, const std::vector<std::uint8_t>& junk) {
  // Replicas with some state, so a bad message has something to damage.
  Net net(s, 2);
  net.check_codec = false;
  RC_ASSERT(net.edit(0, Splice{0, 0, U"ab\ncd"}, 5) == "");
  RC_ASSERT(net.drain(1) == "");
  RC_ASSERT(net.edit(1, Splice{1, 0, U"x"}, 6) == "");  // leaves one write in flight

  const auto before_text = net.client(1).text();
  const auto before_ids = net.client(1).char_ids();
  const bool before_synced = net.client(1).synced();

  if (!net.client(1).receive(junk)) {
    RC_ASSERT(net.client(1).text() == before_text);
    RC_ASSERT(net.client(1).char_ids() == before_ids);
    RC_ASSERT(net.client(1).synced() == before_synced);
  }
  // Each entry point may accept the bytes (a mutated message can still be valid), so the state
  // to compare with is taken just before each call.
  Bytes before = net.server().snapshot();
  if (!net.server().receive(0, junk, 9)) RC_ASSERT(net.server().snapshot() == before);
  before = net.server().snapshot();
  if (!net.server().apply_record(junk)) RC_ASSERT(net.server().snapshot() == before);
  before = net.server().snapshot();
  if (!net.server().apply_remote_record(junk)) RC_ASSERT(net.server().snapshot() == before);
  before = net.server().snapshot();
  if (!net.server().restore(junk)) RC_ASSERT(net.server().snapshot() == before);
  (void)s.to_json(junk);
}

}  // namespace convlab::testing
