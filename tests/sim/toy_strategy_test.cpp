// "Adding a strategy is one folder and one registry line" (DESIGN.md, Seams): a fifth strategy
// defined here, outside server/strategies, is registered at run time and runs a simulated world
// end to end. The toy: the whole document is one register; the home orders writes and the last
// one wins (single writer per document, as seq and ot).
#include "reports/checkers.hpp"
#include "server/strategies/registry.hpp"
#include "sim/world.hpp"
#include "tests/sim/worlds.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>

namespace convlab::toy {
namespace {

// A message: its tag, then the whole document (code point, agent, seq per character).
enum class Tag : std::uint8_t { kEdit = 1, kAck = 2, kState = 3 };

struct State {
  std::u32string text;
  std::vector<CharId> ids;
};

void put32(Bytes& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

std::uint32_t get32(std::span<const std::uint8_t> in, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(in[at + i]) << (8 * i);
  return v;
}

Bytes encode(Tag tag, const State& s) {
  Bytes out{static_cast<std::uint8_t>(tag)};
  put32(out, static_cast<std::uint32_t>(s.text.size()));
  for (std::size_t i = 0; i < s.text.size(); ++i) {
    put32(out, static_cast<std::uint32_t>(s.text[i]));
    put32(out, s.ids[i].agent);
    put32(out, s.ids[i].seq);
  }
  return out;
}

Result<std::pair<Tag, State>> decode(std::span<const std::uint8_t> in) {
  if (in.size() < 5 || in[0] < 1 || in[0] > 3) return make_error("toy: not a toy message");
  const std::uint32_t n = get32(in, 1);
  if (in.size() != 5 + static_cast<std::size_t>(n) * 12) return make_error("toy: bad length");
  State s;
  for (std::uint32_t i = 0; i < n; ++i) {
    const std::size_t at = 5 + static_cast<std::size_t>(i) * 12;
    s.text.push_back(static_cast<char32_t>(get32(in, at)));
    s.ids.push_back(CharId{get32(in, at + 4), get32(in, at + 8)});
  }
  return std::make_pair(static_cast<Tag>(in[0]), std::move(s));
}

class Client final : public ClientReplica {
 public:
  explicit Client(AgentId agent) : agent_(agent) {}
  AgentId agent() const override { return agent_; }
  std::vector<Bytes> local_edit(const Splice& e, std::int64_t) override {
    const auto pos = static_cast<std::ptrdiff_t>(e.pos);
    const auto del = static_cast<std::ptrdiff_t>(e.del);
    s_.text.replace(e.pos, e.del, e.ins);
    s_.ids.erase(s_.ids.begin() + pos, s_.ids.begin() + pos + del);
    std::vector<CharId> fresh;
    for (std::size_t i = 0; i < e.ins.size(); ++i) fresh.push_back(CharId{agent_, next_seq_++});
    s_.ids.insert(s_.ids.begin() + pos, fresh.begin(), fresh.end());
    ++in_flight_;
    return {encode(Tag::kEdit, s_)};
  }
  Result<std::vector<Bytes>> receive(std::span<const std::uint8_t> msg) override {
    auto m = decode(msg);
    if (!m) return m.error();
    if (m->first == Tag::kEdit) return make_error("toy client: an edit from the server");
    if (m->first == Tag::kAck) {
      if (in_flight_ == 0) return make_error("toy client: an ack with nothing in flight");
      --in_flight_;
    }
    // While its own writes are in flight, this replica shows them: they come after what the
    // server sent so far, and their acks bring the state back.
    if (in_flight_ == 0) s_ = std::move(m->second);
    return std::vector<Bytes>{};
  }
  std::u32string text() const override { return s_.text; }
  std::size_t length() const override { return s_.text.size(); }
  std::vector<CharId> char_ids() const override { return s_.ids; }
  bool synced() const override { return in_flight_ == 0; }

 private:
  AgentId agent_;
  State s_;
  std::uint32_t next_seq_ = 1;
  std::size_t in_flight_ = 0;
};

class Server final : public ServerReplica {
 public:
  Result<ServerOutput> receive(AgentId, std::span<const std::uint8_t> msg, std::int64_t) override {
    auto m = decode(msg);
    if (!m) return m.error();
    if (m->first != Tag::kEdit) return make_error("toy server: not an edit");
    s_ = std::move(m->second);
    ++version_;
    ServerOutput out;
    out.to_sender.push_back(encode(Tag::kAck, s_));
    out.broadcast.push_back(encode(Tag::kState, s_));
    out.records.push_back(encode(Tag::kState, s_));
    return out;
  }
  Result<void> apply_record(std::span<const std::uint8_t> record) override {
    auto m = decode(record);
    if (!m) return m.error();
    s_ = std::move(m->second);
    ++version_;
    return {};
  }
  Result<std::vector<Bytes>> apply_remote_record(std::span<const std::uint8_t> record) override {
    if (auto ok = apply_record(record); !ok) return ok.error();
    return std::vector<Bytes>{Bytes(record.begin(), record.end())};
  }
  Bytes welcome() const override { return encode(Tag::kState, s_); }
  std::uint64_t version() const override { return version_; }
  std::u32string text() const override { return s_.text; }
  std::vector<CharId> char_ids() const override { return s_.ids; }
  Bytes snapshot() const override { return encode(Tag::kState, s_); }
  Result<void> restore(std::span<const std::uint8_t> snapshot) override { return apply_record(snapshot); }

 private:
  State s_;
  std::uint64_t version_ = 0;
};

Result<boost::json::value> to_json(std::span<const std::uint8_t> msg) {
  auto m = decode(msg);
  if (!m) return m.error();
  boost::json::array chars;
  for (std::size_t i = 0; i < m->second.text.size(); ++i) {
    chars.push_back(boost::json::array{static_cast<std::uint32_t>(m->second.text[i]), m->second.ids[i].agent,
                                       m->second.ids[i].seq});
  }
  return boost::json::value{{"tag", static_cast<int>(m->first)}, {"chars", std::move(chars)}};
}

Result<Bytes> from_json(const boost::json::value& v) {
  try {
    State s;
    for (const auto& c : v.at("chars").as_array()) {
      s.text.push_back(static_cast<char32_t>(c.at(0).to_number<std::uint32_t>()));
      s.ids.push_back(CharId{c.at(1).to_number<std::uint32_t>(), c.at(2).to_number<std::uint32_t>()});
    }
    const auto tag = v.at("tag").to_number<int>();
    if (tag < 1 || tag > 3) return make_error("toy: bad tag");
    return encode(static_cast<Tag>(tag), s);
  } catch (const std::exception& e) {
    return make_error(std::string("toy: ") + e.what());
  }
}

const Strategy& toy_strategy() {
  static const Strategy s{
      "toy",
      "test only: the whole document is one register, the home's last write wins",
      [](AgentId agent) -> std::unique_ptr<ClientReplica> { return std::make_unique<Client>(agent); },
      []() -> std::unique_ptr<ServerReplica> { return std::make_unique<Server>(); },
      &to_json,
      &from_json,
      /*multi_master=*/false,
      /*adopts_loaded_state=*/false,
      /*orders_by_client_clock=*/false,
  };
  return s;
}

TEST(ToyStrategy, RegistersFromOutsideAndRunsAWorld) {
  ASSERT_EQ(find_strategy("toy"), nullptr);
  ASSERT_TRUE(register_strategy(toy_strategy()).has_value());
  EXPECT_FALSE(register_strategy(toy_strategy()).has_value()) << "a name is registered once";
  ASSERT_EQ(find_strategy("toy"), &toy_strategy());
  EXPECT_EQ(strategy_names(), "lww, seq, ot, crdt, toy");

  sim::RunOptions o;
  o.strategy = find_strategy("toy");
  o.seed = 11;
  o.scenario = "toy";
  o.variant = "v";
  const sim::WorldConfig c = sim::test::small_world();  // two servers: doc 1 is forwarded to its home
  ASSERT_TRUE(sim::world_problems(c, *o.strategy).empty());
  const sim::RunOutput r = sim::run_world(c, o);
  EXPECT_EQ(r.refused, 0u) << r.refusal;
  EXPECT_EQ(r.node_errors, 0u) << r.node_error;
  const reports::RunMetrics m = reports::check(r.events);
  EXPECT_GT(m.edits, 20u);
  EXPECT_TRUE(m.converged);
  EXPECT_TRUE(m.divergent.empty()) << m.divergent.front();
}

}  // namespace
}  // namespace convlab::toy
