// The `crdt` strategy: replicas and codec around crdt::Doc (doc.hpp).
//
// Client: applies a local edit to its own Doc at once (ids (agent, own counter)) and sends the
// ops; integrates the ops the server relays; counts acknowledgements to know when it is synced.
// Server: integrates each client op, acknowledges it with the new version, relays it to the
// other clients unchanged and logs it as a record. Every replica converges to the same text and
// char ids whatever the interleaving, because Doc::apply commutes under causal delivery.
#include "server/strategies/crdt/crdt.hpp"

#include "server/core/assert.hpp"
#include "server/strategies/crdt/codec.hpp"
#include "server/strategies/crdt/doc.hpp"

#include <memory>
#include <utility>

namespace convlab {

namespace {

using crdt::Doc;
using crdt::Kind;
using crdt::Message;
using crdt::Op;

bool is_scalar(char32_t c) { return c <= 0x10ffff && (c < 0xd800 || c > 0xdfff); }

class CrdtClient final : public ClientReplica {
 public:
  explicit CrdtClient(AgentId agent) : agent_(agent) {}

  AgentId agent() const override { return agent_; }
  std::optional<bool> acknowledges(std::span<const std::uint8_t> msg) const override {
    return !msg.empty() && msg[0] == static_cast<std::uint8_t>(Kind::kAck);
  }

  std::vector<Bytes> local_edit(const Splice& e, std::int64_t /*clock_ms*/) override {
    CONVLAB_ASSERT(e.pos + e.del <= doc_.length());
    std::vector<Bytes> out;
    if (e.del > 0) {
      out.push_back(crdt::encode_op(Op{doc_.local_delete(e.pos, e.del)}));
    }
    if (!e.ins.empty()) {
      for (const char32_t c : e.ins) CONVLAB_ASSERT(is_scalar(c));
      CONVLAB_ASSERT(static_cast<std::uint64_t>(next_seq_) + e.ins.size() <= 0xffffffffu);
      const CharId first{agent_, next_seq_};
      next_seq_ += static_cast<std::uint32_t>(e.ins.size());
      out.push_back(crdt::encode_op(Op{doc_.local_insert(e.pos, e.ins, first)}));
    }
    unacked_ += out.size();
    return out;
  }

  Result<std::vector<Bytes>> receive(std::span<const std::uint8_t> msg) override {
    auto m = crdt::decode(msg);
    if (!m) return m.error();
    switch (m->kind) {
      case Kind::kInsert:
      case Kind::kDelete: {
        auto applied = doc_.apply(m->op);
        if (!applied) return applied.error();
        return std::vector<Bytes>{};
      }
      case Kind::kAck:
        if (unacked_ == 0) return make_error("ack with no edit in flight");
        --unacked_;
        return std::vector<Bytes>{};
      case Kind::kWelcome: {
        auto doc = Doc::from_runs(m->state);
        if (!doc) return doc.error();
        doc_ = std::move(*doc);
        // A reconnecting client finds its own earlier characters in the state and must not
        // reuse their ids.
        if (doc_.next_seq(agent_) > next_seq_) next_seq_ = doc_.next_seq(agent_);
        return std::vector<Bytes>{};
      }
      case Kind::kRecord:
      case Kind::kSnapshot:
        break;
    }
    return make_error("a client does not accept crdt records or snapshots");
  }

  std::u32string text() const override { return doc_.text(); }
  std::size_t length() const override { return doc_.length(); }
  std::vector<CharId> char_ids() const override { return doc_.char_ids(); }
  std::u32string text_range(std::size_t pos, std::size_t n) const override { return doc_.text_range(pos, n); }
  std::vector<CharId> char_ids_range(std::size_t pos, std::size_t n) const override {
    return doc_.char_ids_range(pos, n);
  }
  bool indexes_ids() const override { return true; }
  bool contains(CharId id) const override { return doc_.visible(id); }
  // A tombstone stays one: only a welcome (a new Doc) could bring the character back.
  bool deleted_for_good(CharId id) const override { return doc_.deleted(id); }
  bool synced() const override { return unacked_ == 0; }

 private:
  AgentId agent_;
  Doc doc_;
  std::uint32_t next_seq_ = 0;
  std::uint64_t unacked_ = 0;  // ops sent and not yet acknowledged
};

class CrdtServer final : public ServerReplica {
 public:
  Result<ServerOutput> receive(AgentId from, std::span<const std::uint8_t> msg,
                               std::int64_t clock_ms) override {
    auto m = crdt::decode(msg);
    if (!m) return m.error();
    if (m->kind != Kind::kInsert && m->kind != Kind::kDelete) {
      return make_error("the crdt server accepts only insert and delete messages from clients");
    }
    auto applied = doc_.apply(m->op);
    if (!applied) return applied.error();
    ++version_;
    ServerOutput out;
    Message ack;
    ack.kind = Kind::kAck;
    ack.version = version_;
    out.to_sender.push_back(crdt::encode(ack));
    // Relay the op exactly as received: it decoded, so re-encoding would give the same bytes.
    out.broadcast.emplace_back(msg.begin(), msg.end());
    Message rec;
    rec.kind = Kind::kRecord;
    rec.version = version_;
    rec.clock_ms = clock_ms;
    rec.from = from;
    rec.op = std::move(m->op);
    out.records.push_back(crdt::encode(rec));
    return out;
  }

  Result<void> apply_record(std::span<const std::uint8_t> record) override {
    auto m = decode_record(record);
    if (!m) return m.error();
    // Ops are idempotent, so a record the snapshot already holds is harmless; a record whose
    // dependencies are missing (a lost log entry) is an Error. The version never goes back:
    // with several servers writing one log, records need not arrive in version order.
    auto applied = doc_.apply(m->op);
    if (!applied) return applied.error();
    if (m->version > version_) version_ = m->version;
    return {};
  }

  Result<std::vector<Bytes>> apply_remote_record(std::span<const std::uint8_t> record) override {
    auto m = decode_record(record);
    if (!m) return m.error();
    const std::size_t items_before = doc_.item_count();
    const std::size_t length_before = doc_.length();
    auto applied = doc_.apply(m->op);
    if (!applied) return applied.error();
    // Only an op that changed something here is news for this server's clients.
    if (doc_.item_count() == items_before && doc_.length() == length_before) return std::vector<Bytes>{};
    ++version_;
    return std::vector<Bytes>{crdt::record_op_bytes(record, *m)};
  }

  Bytes welcome() const override { return state_message(Kind::kWelcome); }
  std::uint64_t version() const override { return version_; }
  std::u32string text() const override { return doc_.text(); }
  std::vector<CharId> char_ids() const override { return doc_.char_ids(); }
  Bytes snapshot() const override { return state_message(Kind::kSnapshot); }

  Result<void> restore(std::span<const std::uint8_t> snapshot) override {
    auto m = crdt::decode(snapshot);
    if (!m) return m.error();
    if (m->kind != Kind::kSnapshot) return make_error("not a crdt snapshot");
    auto doc = Doc::from_runs(m->state);
    if (!doc) return doc.error();
    doc_ = std::move(*doc);
    version_ = m->version;
    return {};
  }

 private:
  static Result<Message> decode_record(std::span<const std::uint8_t> record) {
    auto m = crdt::decode(record);
    if (!m) return m.error();
    if (m->kind != Kind::kRecord) return make_error("not a crdt record");
    return m;
  }

  Bytes state_message(Kind kind) const { return crdt::encode_state(kind, version_, doc_); }

  Doc doc_;
  std::uint64_t version_ = 0;
};

Result<boost::json::value> crdt_to_json(std::span<const std::uint8_t> msg) {
  auto m = crdt::decode(msg);
  if (!m) return m.error();
  return crdt::to_json(*m);
}

Result<Bytes> crdt_from_json(const boost::json::value& v) {
  auto m = crdt::message_from_json(v);
  if (!m) return m.error();
  return crdt::encode(*m);
}

}  // namespace

const Strategy& crdt_strategy() {
  static const Strategy s{
      "crdt",
      "sequence CRDT (yjsmod / FugueMax order): every character keeps its id; replicas converge "
      "without the server transforming anything",
      [](AgentId agent) -> std::unique_ptr<ClientReplica> { return std::make_unique<CrdtClient>(agent); },
      []() -> std::unique_ptr<ServerReplica> { return std::make_unique<CrdtServer>(); },
      &crdt_to_json,
      &crdt_from_json,
      /*multi_master=*/true,
  };
  return s;
}

}  // namespace convlab
