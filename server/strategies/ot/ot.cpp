// The `ot` strategy: server-centric operational transformation in the Jupiter / ot.js /
// ShareDB shape, over the ot-text-unicode op type (text_op.hpp).
//
// The server holds the one true order: revision r is the r-th op it accepted. A client sends
// each op against the last revision it knows, keeps one op in flight and composes later edits
// into a buffer (ot.js Client: synchronized, awaiting confirm, awaiting with buffer). The
// server transforms an incoming op over the ops accepted since its base, applies it, acks the
// sender and broadcasts it. Transforms follow ShareDB: the op not yet in the server's order is
// the `left` side, so at a tie its insert goes first, on the server and on every client alike.
#include "server/strategies/ot/ot.hpp"

#include "server/core/assert.hpp"
#include "server/core/wire.hpp"
#include "server/strategies/ot/codec.hpp"
#include "server/strategies/ot/document.hpp"
#include "server/strategies/ot/text_op.hpp"

#include <deque>
#include <optional>
#include <utility>

namespace convlab {

namespace {

using ot::Op;

template <class T>
const T* as(const ot::Message& m) {
  return std::get_if<T>(&m);
}

class OtClient final : public ClientReplica {
 public:
  explicit OtClient(AgentId agent) : agent_(agent) { doc_.index_ids(); }

  AgentId agent() const override { return agent_; }
  std::optional<bool> acknowledges(std::span<const std::uint8_t> msg) const override {
    // The first byte of an ack and of a remote op, as the codec writes them.
    static const std::uint8_t ack_tag = ot::encode(ot::AckMsg{}).front();
    static const std::uint8_t remote_tag = ot::encode(ot::RemoteMsg{}).front();
    if (msg.empty()) return false;
    if (msg[0] == ack_tag) return true;
    if (msg[0] != remote_tag || !inflight_) return false;
    // Our own op relayed back as a remote op acknowledges it (on_remote).
    Reader r(msg.subspan(1));
    r.varint();  // rev
    return r.varint() == agent_ && r.ok();
  }

  std::vector<Bytes> local_edit(const Splice& e, std::int64_t clock_ms) override {
    CONVLAB_ASSERT(e.pos <= doc_.size() && e.del <= doc_.size() - e.pos);
    CONVLAB_ASSERT(e.ins.size() <= std::uint64_t{0xffffffffu} - next_seq_);
    std::vector<CharId> ids(e.ins.size());
    for (CharId& id : ids) id = CharId{agent_, next_seq_++};
    Op op = ot::from_splice(e.pos, e.del, e.ins, std::move(ids));
    if (op.empty()) return {};  // nothing changed: nothing to tell anyone
    const auto applied = doc_.apply(op);
    CONVLAB_ASSERT(applied.has_value());
    if (!inflight_) {
      inflight_ = std::move(op);
      inflight_clock_ms_ = clock_ms;
      return {send_inflight()};
    }
    unfolded_.push_back(std::move(op));
    buffer_clock_ms_ = clock_ms;
    if (unfolded_.size() >= kFoldBatch) fold_buffer();
    return {};
  }

  Result<std::vector<Bytes>> receive(std::span<const std::uint8_t> bytes) override {
    auto msg = ot::decode(bytes);
    if (!msg) return msg.error();
    if (const auto* ack = as<ot::AckMsg>(*msg)) return on_ack(*ack);
    if (const auto* remote = as<ot::RemoteMsg>(*msg)) return on_remote(*remote);
    if (const auto* welcome = as<ot::WelcomeMsg>(*msg)) return on_welcome(*welcome);
    return make_error("ot client: not a message for a client");
  }

  std::u32string text() const override { return doc_.text(); }
  std::size_t length() const override { return doc_.size(); }
  std::vector<CharId> char_ids() const override { return doc_.ids(); }
  // From the gap buffer and its id index: the simulator's per-edit and per-delivery reads.
  std::u32string text_range(std::size_t pos, std::size_t n) const override { return doc_.text_range(pos, n); }
  std::vector<CharId> char_ids_range(std::size_t pos, std::size_t n) const override {
    return doc_.ids_range(pos, n);
  }
  bool contains(CharId id) const override { return doc_.contains(id); }
  bool indexes_ids() const override { return true; }
  bool synced() const override { return !inflight_; }

 private:
  Bytes send_inflight() const {
    CONVLAB_ASSERT(inflight_.has_value());
    return ot::encode(ot::OpMsg{rev_, inflight_clock_ms_, *inflight_});
  }

  // Composes the edits made since the buffer was last composed into it. Composing each edit
  // into the buffer at once would copy the whole buffer per keystroke while an ack is late (a
  // client that never hears back composes a document-sized op 260k times in automerge-paper);
  // composing a batch pairwise copies each edit O(log batch) times and the buffer once per
  // batch. Only the representation changes: the buffer's effect is the same either way, and
  // the op that is sent is the one remote ops were transformed against.
  void fold_buffer() {
    if (unfolded_.empty()) return;
    while (unfolded_.size() > 1) {
      std::vector<Op> next;
      next.reserve((unfolded_.size() + 1) / 2);
      for (std::size_t i = 0; i + 1 < unfolded_.size(); i += 2) next.push_back(ot::compose(unfolded_[i], unfolded_[i + 1]));
      if (unfolded_.size() % 2 == 1) next.push_back(std::move(unfolded_.back()));
      unfolded_ = std::move(next);
    }
    buffer_ = buffer_ ? ot::compose(*buffer_, unfolded_.front()) : std::move(unfolded_.front());
    unfolded_.clear();
  }

  Result<std::vector<Bytes>> on_ack(const ot::AckMsg& ack) {
    if (!inflight_) return make_error("ot client: ack with no op in flight");
    if (ack.rev != rev_)
      return make_error("ot client: ack for revision " + std::to_string(ack.rev) + ", expected " + std::to_string(rev_));
    fold_buffer();
    ++rev_;
    inflight_ = std::move(buffer_);
    inflight_clock_ms_ = buffer_clock_ms_;
    buffer_.reset();
    if (inflight_ && inflight_->empty()) inflight_.reset();  // edits that cancelled out: nothing to send
    if (!inflight_) return std::vector<Bytes>{};
    return std::vector<Bytes>{send_inflight()};
  }

  Result<std::vector<Bytes>> on_remote(const ot::RemoteMsg& m) {
    // Through a server that is not the document's home, our own op comes back as a remote op
    // (apply_remote_record cannot tell clients apart): it acknowledges the op in flight, which
    // is the only op of ours the server can have applied since our last acknowledgement.
    if (m.author == agent_ && inflight_) return on_ack(ot::AckMsg{m.rev});
    if (m.rev != rev_)
      return make_error("ot client: remote op for revision " + std::to_string(m.rev) + ", expected " +
                        std::to_string(rev_));
    fold_buffer();  // changes no text: it only composes what is pending
    // The op was made on the server's document of revision rev_: ours minus what is pending.
    std::int64_t server_len = static_cast<std::int64_t>(doc_.size());
    if (inflight_) server_len -= ot::length_delta(*inflight_);
    if (buffer_) server_len -= ot::length_delta(*buffer_);
    CONVLAB_ASSERT(server_len >= 0);
    if (ot::input_length(m.op) > static_cast<std::uint64_t>(server_len))
      return make_error("ot client: remote op reads " + std::to_string(ot::input_length(m.op)) +
                        " characters of a document of " + std::to_string(server_len));
    // Transform the server's op over our pending ops, and our pending ops over it; commit only
    // once the result is known to apply.
    Op incoming = m.op;
    std::optional<Op> inflight = inflight_;
    std::optional<Op> buffer = buffer_;
    if (inflight) {
      Op mine = ot::transform(*inflight, incoming, ot::Side::left);
      incoming = ot::transform(incoming, *inflight, ot::Side::right);
      inflight = std::move(mine);
    }
    if (buffer) {
      Op mine = ot::transform(*buffer, incoming, ot::Side::left);
      incoming = ot::transform(incoming, *buffer, ot::Side::right);
      buffer = std::move(mine);
    }
    if (auto ok = doc_.apply(incoming); !ok) return make_error("ot client: " + ok.error().message);
    inflight_ = std::move(inflight);
    buffer_ = std::move(buffer);
    ++rev_;
    return std::vector<Bytes>{};
  }

  Result<std::vector<Bytes>> on_welcome(const ot::WelcomeMsg& m) {
    // Loading a document over unacknowledged edits would lose them; a reconnecting client
    // with pending edits is not supported.
    if (inflight_) return make_error("ot client: welcome while local edits are unacknowledged");
    doc_ = ot::Document(m.text, m.ids);
    doc_.index_ids();
    rev_ = m.rev;
    return std::vector<Bytes>{};
  }

  AgentId agent_;
  std::uint32_t next_seq_ = 0;  // seq of the next character this client types
  std::uint64_t rev_ = 0;       // server revision our document includes, minus pending ops
  ot::Document doc_;
  std::optional<Op> inflight_;  // sent at rev_, not yet acknowledged
  std::int64_t inflight_clock_ms_ = 0;
  std::optional<Op> buffer_;  // edits after inflight_, composed, not yet sent
  std::vector<Op> unfolded_;  // edits after buffer_, not yet composed into it (fold_buffer)
  static constexpr std::size_t kFoldBatch = 1024;
  std::int64_t buffer_clock_ms_ = 0;
};

class OtServer final : public ServerReplica {
 public:
  Result<ServerOutput> receive(AgentId from, std::span<const std::uint8_t> bytes, std::int64_t clock_ms) override {
    auto msg = ot::decode(bytes);
    if (!msg) return msg.error();
    const auto* m = as<ot::OpMsg>(*msg);
    if (m == nullptr) return make_error("ot server: not a message for the server");
    auto op = rebase(m->base, m->op);
    if (!op) return op.error();
    ot::RecordMsg rec{rev_, from, m->client_clock_ms, clock_ms, std::move(*op)};
    ServerOutput out;
    out.to_sender.push_back(ot::encode(ot::AckMsg{rev_}));
    out.broadcast.push_back(ot::encode(ot::RemoteMsg{rev_, from, rec.op}));
    out.records.push_back(ot::encode(rec));
    commit(std::move(rec), record_body(out.records.back()));
    return out;
  }

  Result<void> apply_record(std::span<const std::uint8_t> bytes) override {
    auto msg = ot::decode(bytes);
    if (!msg) return msg.error();
    const auto* rec = as<ot::RecordMsg>(*msg);
    if (rec == nullptr) return make_error("ot server: not a record");
    return apply_decoded(*rec, bytes);
  }

  // A follower server applies the home server's records in change-log order; its clients see
  // each one as a remote op (its author takes it as the acknowledgement of its op in flight).
  Result<std::vector<Bytes>> apply_remote_record(std::span<const std::uint8_t> bytes) override {
    auto msg = ot::decode(bytes);
    if (!msg) return msg.error();
    const auto* rec = as<ot::RecordMsg>(*msg);
    if (rec == nullptr) return make_error("ot server: not a record");
    if (auto ok = apply_decoded(*rec, bytes); !ok) return ok.error();
    return std::vector<Bytes>{ot::encode(ot::RemoteMsg{rec->rev, rec->author, rec->op})};
  }

  Bytes welcome() const override { return ot::encode(ot::WelcomeMsg{rev_, doc_.text(), doc_.ids()}); }
  std::uint64_t version() const override { return rev_; }
  std::u32string text() const override { return doc_.text(); }
  std::vector<CharId> char_ids() const override { return doc_.ids(); }

  Bytes snapshot() const override {
    // Up to kHistoryMax records, each encoded once when it was committed (bodies_).
    return ot::encode_snapshot(rev_, doc_.text(), doc_.ids(), history_.size(),
                               std::span<const std::uint8_t>(bodies_).subspan(bodies_begin_));
  }

  Result<void> restore(std::span<const std::uint8_t> bytes) override {
    auto msg = ot::decode(bytes);
    if (!msg) return msg.error();
    const auto* s = as<ot::SnapshotMsg>(*msg);
    if (s == nullptr) return make_error("ot server: not a snapshot");
    if (s->history.size() > s->rev) return make_error("ot server: snapshot history longer than its revision");
    // Walk the history back from the document to recover each op's starting length; any op
    // that could not have applied makes the snapshot inconsistent.
    std::deque<Entry> history;
    Bytes bodies;
    std::int64_t len = static_cast<std::int64_t>(s->text.size());
    std::uint64_t rev = s->rev;
    for (auto it = s->history.rbegin(); it != s->history.rend(); ++it) {
      --rev;
      if (it->rev != rev) return make_error("ot server: snapshot history out of order");
      len -= ot::length_delta(it->op);
      if (len < 0 || ot::input_length(it->op) > static_cast<std::uint64_t>(len))
        return make_error("ot server: snapshot history does not fit its document");
      history.push_front(Entry{*it, static_cast<std::uint64_t>(len), 0});
    }
    for (Entry& e : history) {
      const std::size_t before = bodies.size();
      ot::append_record_body(bodies, e.rec);
      e.body_bytes = bodies.size() - before;
    }
    doc_ = ot::Document(s->text, s->ids);
    rev_ = s->rev;
    history_ = std::move(history);
    bodies_ = std::move(bodies);
    bodies_begin_ = 0;
    return {};
  }

 private:
  struct Entry {
    ot::RecordMsg rec;
    std::uint64_t len_before = 0;  // document length the op applied to
    std::size_t body_bytes = 0;    // its share of bodies_
  };

  // The op made at `base`, transformed over everything accepted since, checked against the
  // document. Changes nothing.
  Result<Op> rebase(std::uint64_t base, const Op& op) const {
    if (base > rev_)
      return make_error("ot server: op based on revision " + std::to_string(base) + " but the document is at " +
                        std::to_string(rev_));
    const std::uint64_t oldest = rev_ - history_.size();
    if (base < oldest)
      return make_error("ot server: op based on revision " + std::to_string(base) + ", older than the history kept (" +
                        std::to_string(oldest) + "); reload");
    const std::size_t first = static_cast<std::size_t>(base - oldest);
    const std::uint64_t len_at_base = first == history_.size() ? doc_.size() : history_[first].len_before;
    if (ot::input_length(op) > len_at_base)
      return make_error("ot server: op reads " + std::to_string(ot::input_length(op)) +
                        " characters of a document of " + std::to_string(len_at_base) + " at revision " +
                        std::to_string(base));
    Op out = op;
    for (std::size_t i = first; i < history_.size(); ++i) out = ot::transform(out, history_[i].rec.op, ot::Side::left);
    // Transformation keeps an op that fitted its base fitting the current document; checked
    // anyway, because these bytes came from outside.
    if (ot::input_length(out) > doc_.size()) return make_error("ot server: transformed op does not fit the document");
    return out;
  }

  // The snapshot form of a record (its body) inside the bytes encode(RecordMsg) gives: all but
  // the tag. Records reach apply_record as encode() wrote them (the change log), so the body of
  // one that decodes is what append_record_body would write.
  static std::span<const std::uint8_t> record_body(std::span<const std::uint8_t> record) {
    CONVLAB_ASSERT(!record.empty());
    return record.subspan(1);
  }

  // `rec` decoded from `bytes`: applied when it is the next revision and fits the document.
  Result<void> apply_decoded(const ot::RecordMsg& rec, std::span<const std::uint8_t> bytes) {
    if (rec.rev != rev_)
      return make_error("ot server: record of revision " + std::to_string(rec.rev) + " on a document at revision " +
                        std::to_string(rev_));
    if (ot::input_length(rec.op) > doc_.size())
      return make_error("ot server: record op reads past the end of the document");
    commit(rec, record_body(bytes));
    return {};
  }

  void commit(ot::RecordMsg rec, std::span<const std::uint8_t> body) {
    CONVLAB_ASSERT(rec.rev == rev_);
    const std::uint64_t len_before = doc_.size();
    const auto applied = doc_.apply(rec.op);
    CONVLAB_ASSERT(applied.has_value());
    bodies_.insert(bodies_.end(), body.begin(), body.end());
    history_.push_back(Entry{std::move(rec), len_before, body.size()});
    if (history_.size() > ot::kHistoryMax) {
      bodies_begin_ += history_.front().body_bytes;
      history_.pop_front();
      // Drop the bytes of records gone from the history once they are half the buffer.
      if (bodies_begin_ > bodies_.size() / 2) {
        bodies_.erase(bodies_.begin(), bodies_.begin() + static_cast<std::ptrdiff_t>(bodies_begin_));
        bodies_begin_ = 0;
      }
    }
    ++rev_;
  }

  std::uint64_t rev_ = 0;
  ot::Document doc_;
  // The last ops accepted (at most kHistoryMax), for transforming ops made on older revisions.
  std::deque<Entry> history_;
  // The snapshot form of history_'s records, one after another, from bodies_begin_ on: a
  // snapshot (every 100 changes in the simulator) copies them instead of encoding them again.
  Bytes bodies_;
  std::size_t bodies_begin_ = 0;
};

std::unique_ptr<ClientReplica> make_client(AgentId agent) { return std::make_unique<OtClient>(agent); }
std::unique_ptr<ServerReplica> make_server() { return std::make_unique<OtServer>(); }

Result<boost::json::value> to_json(std::span<const std::uint8_t> bytes) {
  auto msg = ot::decode(bytes);
  if (!msg) return msg.error();
  return ot::to_json(*msg);
}

Result<Bytes> from_json(const boost::json::value& v) {
  auto msg = ot::from_json(v);
  if (!msg) return msg.error();
  // A message that encodes must decode: JSON is held to the same checks as bytes.
  Bytes b = ot::encode(*msg);
  auto back = ot::decode(b);
  if (!back) return back.error();
  return b;
}

}  // namespace

const Strategy& ot_strategy() {
  static const Strategy s{
      "ot",
      "operational transformation: the server orders ops and transforms late ones (Jupiter / ShareDB, "
      "ot-text-unicode ops)",
      &make_client,
      &make_server,
      &to_json,
      &from_json,
      /*multi_master=*/false,  // one home server orders the ops; the others forward to it
  };
  return s;
}

}  // namespace convlab
