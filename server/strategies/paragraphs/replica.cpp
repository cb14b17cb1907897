#include "server/strategies/paragraphs/replica.hpp"

#include "server/core/assert.hpp"
#include "server/core/sort_ids.hpp"

#include <algorithm>
#include <string>
#include <type_traits>

namespace convlab::paragraphs {

namespace {

// Every write's index must be at most the register count at that point (the count grows by one
// for a write just past the end). An honest sender only names indexes it learned from the server
// or just past its end, so this never refuses one, and a hostile index cannot grow a replica
// by more than one register per write. Checked before anything changes.
Result<void> check_indexes(const std::vector<Write>& writes, std::size_t size) {
  for (const Write& w : writes) {
    if (w.index > size) {
      return make_error("write to paragraph " + std::to_string(w.index) +
                        " past the document's end (" + std::to_string(size) + " paragraphs)");
    }
    if (w.index == size) ++size;
  }
  return {};
}

// Replaces `reg` with the write when the write wins under `order`.
void merge(Ordering order, Register& reg, const Paragraph& value, const Stamp& stamp) {
  if (beats(order, stamp, reg.stamp)) reg = Register{value, stamp};
}
void merge(Ordering order, Register& reg, Paragraph&& value, const Stamp& stamp) {
  if (beats(order, stamp, reg.stamp)) reg = Register{std::move(value), stamp};
}

}  // namespace

// --------------------------------------------------------------------------------------------
// Client

ParagraphClient::ParagraphClient(Ordering order, AgentId agent) : order_(order), agent_(agent) {}

void ParagraphClient::grow_to(std::size_t size) {
  CONVLAB_ASSERT(size <= kParagraphsMax);
  if (shown_.size() < size) {
    shown_.resize(size);
    index_.grow_to(size);
  }
  if (confirmed_.size() < size) confirmed_.resize(size);
  if (pending_count_.size() < size) pending_count_.resize(size, 0);
  CONVLAB_ASSERT(shown_.size() == confirmed_.size() && shown_.size() == pending_count_.size());
}

void ParagraphClient::settle(std::uint32_t index) {
  if (pending_count_[index] == 0) show(index, confirmed_[index]);
}

void ParagraphClient::show(std::uint32_t index, Register reg) {
  if (shown_[index].stamp == reg.stamp && shown_[index].value == reg.value) return;
  index_.set(index, shown_[index].value, reg.value);
  shown_[index] = std::move(reg);
}

std::vector<Bytes> ParagraphClient::local_edit(const Splice& e, std::int64_t clock_ms) {
  CONVLAB_ASSERT(e.pos + e.del <= length());
  std::vector<ParagraphEdit> edits = plan_splice(shown_, e, agent_, next_char_);
  if (edits.empty()) return {};

  ClientWrites msg;
  msg.writes.reserve(edits.size());
  std::vector<SentWrite> sent;
  sent.reserve(edits.size());
  for (ParagraphEdit& pe : edits) {
    const Stamp stamp{clock_ms, agent_, ++write_counter_, 0, 0};
    SentWrite w{pe.index, stamp.counter, {}};
    if (keep_overruled_) {
      w.ids = pe.value.ids;
      if (pe.value.exists) w.ids.push_back(pe.value.term);  // {0,0} is client 0's first id, not "none"
    }
    sent.push_back(std::move(w));
    msg.writes.push_back(Write{pe.index, std::move(pe.value), stamp});
  }
  Bytes out = encode(msg);
  // Optimistic: the user sees the edit at once; the server's answer settles it later.
  for (Write& w : msg.writes) {
    grow_to(std::size_t{w.index} + 1);
    show(w.index, Register{std::move(w.value), w.stamp});
    ++pending_count_[w.index];
  }
  pending_.push_back(std::move(sent));
  return {std::move(out)};
}

Result<std::vector<Bytes>> ParagraphClient::receive(std::span<const std::uint8_t> bytes) {
  auto decoded = decode(bytes);
  if (!decoded) return decoded.error();
  Message& m = *decoded;

  if (auto* b = std::get_if<Broadcast>(&m)) {
    // No check_indexes here: the server is the authority on the document's paragraphs. A client
    // that missed writes (it subscribed with a stale load and no catch-up) may be told of a
    // paragraph past its end; the registers between stay empty until their writes come, as a
    // naive client's array would, and the divergence is the checker's to see.
    for (Write& w : b->writes) {
      grow_to(std::size_t{w.index} + 1);
      merge(order_, confirmed_[w.index], std::move(w.value), w.stamp);
      settle(w.index);
    }
    return std::vector<Bytes>{};
  }

  if (auto* a = std::get_if<Ack>(&m)) {
    if (pending_.empty()) return make_error("ack with no write in flight");
    std::vector<SentWrite>& sent = pending_.front();
    if (a->entries.size() != sent.size()) {
      return make_error("ack has " + std::to_string(a->entries.size()) + " entries for " +
                        std::to_string(sent.size()) + " writes");
    }
    for (std::size_t j = 0; j < sent.size(); ++j) {
      if (a->entries[j].winner && a->entries[j].winner->index != sent[j].index) {
        return make_error("correction for paragraph " + std::to_string(a->entries[j].winner->index) +
                          " answers a write to paragraph " + std::to_string(sent[j].index));
      }
    }
    for (std::size_t j = 0; j < sent.size(); ++j) {
      const std::uint32_t i = sent[j].index;
      CONVLAB_ASSERT(i < pending_count_.size() && pending_count_[i] > 0);
      --pending_count_[i];
      const AckEntry& e = a->entries[j];
      if (e.winner) {
        if (keep_overruled_) {
          // What the refusal took out of that register: the ids the write carried that the
          // register the server kept does not hold (a split or join carries characters the
          // winner may hold too; those stayed).
          const Paragraph& kept = e.winner->value;
          std::vector<CharId> held = kept.ids;
          if (kept.exists) held.push_back(kept.term);
          sort_char_ids(held);
          std::vector<CharId>& ids = sent[j].ids;
          std::erase_if(ids, [&](const CharId& id) { return std::binary_search(held.begin(), held.end(), id); });
          overruled_.push_back(Overruled{sent[j].counter, std::move(ids), e.winner->stamp});
        }
        merge(order_, confirmed_[i], e.winner->value, e.winner->stamp);
        settle(i);
        continue;
      }
      if (keep_overruled_) accepted_.push_back(Accepted{sent[j].counter, e.seq});
      if (pending_count_[i] == 0) {
        // This was the latest write here, so it is still what shown_ holds. An earlier write
        // to the same index needs no merge: the later one (or its correction) supersedes it.
        CONVLAB_ASSERT(shown_[i].stamp.agent == agent_ && shown_[i].stamp.seq == 0);
        Stamp stamp = shown_[i].stamp;
        stamp.seq = e.seq;
        stamp.server_ms = e.server_ms;
        merge(order_, confirmed_[i], shown_[i].value, stamp);
      }
      settle(i);
    }
    pending_.pop_front();
    return std::vector<Bytes>{};
  }

  if (auto* w = std::get_if<Welcome>(&m)) {
    std::vector<Register>& regs = w->state.registers;
    grow_to(regs.size());
    for (std::size_t i = 0; i < confirmed_.size(); ++i) {
      confirmed_[i] = i < regs.size() ? std::move(regs[i]) : Register{};
      settle(static_cast<std::uint32_t>(i));
    }
    return std::vector<Bytes>{};
  }

  return make_error("not a message for a client of this strategy");
}

// --------------------------------------------------------------------------------------------
// Server

Result<ServerOutput> ParagraphServer::receive(AgentId from, std::span<const std::uint8_t> bytes,
                                              std::int64_t clock_ms) {
  auto decoded = decode(bytes);
  if (!decoded) return decoded.error();
  auto* in = std::get_if<ClientWrites>(&*decoded);
  if (in == nullptr) return make_error("not a message for the server of this strategy");
  if (auto ok = check_indexes(in->writes, registers_.size()); !ok) return ok.error();

  Ack ack;
  Broadcast accepted;
  for (Write& w : in->writes) {
    if (registers_.size() == w.index) registers_.emplace_back();
    Register& reg = registers_[w.index];
    // The sender is whoever the connection says, never what the bytes claim.
    const Stamp stamp{w.stamp.clock_ms, from, w.stamp.counter, version_ + 1, clock_ms};
    if (beats(order_, stamp, reg.stamp)) {
      ++version_;
      reg = Register{w.value, stamp};
      ack.entries.push_back(AckEntry{stamp.seq, stamp.server_ms, std::nullopt});
      accepted.writes.push_back(Write{w.index, std::move(w.value), stamp});
    } else {
      // Only lww can lose: the sender's screen must be told what holds the register.
      CONVLAB_ASSERT(order_ == Ordering::kClientClock);
      ack.entries.push_back(AckEntry{0, 0, Write{w.index, reg.value, reg.stamp}});
    }
  }

  ServerOutput out;
  out.to_sender.push_back(encode(ack));
  if (!accepted.writes.empty()) {
    out.broadcast.push_back(encode(accepted));
    out.records.push_back(retag_writes(out.broadcast.back(), Tag::kRecord));  // same writes
  }
  return out;
}

Result<void> ParagraphServer::apply_record(std::span<const std::uint8_t> bytes) {
  auto decoded = decode(bytes);
  if (!decoded) return decoded.error();
  auto* rec = std::get_if<Record>(&*decoded);
  if (rec == nullptr) return make_error("not a record of this strategy");
  if (auto ok = check_indexes(rec->writes, registers_.size()); !ok) return ok.error();
  for (Write& w : rec->writes) {
    if (registers_.size() == w.index) registers_.emplace_back();
    merge(order_, registers_[w.index], std::move(w.value), w.stamp);
    version_ = std::max(version_, w.stamp.seq);
  }
  return {};
}

Result<std::vector<Bytes>> ParagraphServer::apply_remote_record(std::span<const std::uint8_t> bytes) {
  auto decoded = decode(bytes);
  if (!decoded) return decoded.error();
  auto* rec = std::get_if<Record>(&*decoded);
  if (rec == nullptr) return make_error("not a record of this strategy");
  if (auto ok = check_indexes(rec->writes, registers_.size()); !ok) return ok.error();
  // Each winning write's content moves into its register; only when some write lost (rare)
  // is the record decoded once more to broadcast the ones that won.
  const std::size_t writes = rec->writes.size();
  std::vector<bool> won(writes, false);
  std::size_t changed = 0;
  for (std::size_t i = 0; i < writes; ++i) {
    Write& w = rec->writes[i];
    if (registers_.size() == w.index) registers_.emplace_back();
    Register& reg = registers_[w.index];
    if (!beats(order_, w.stamp, reg.stamp)) continue;
    reg = Register{std::move(w.value), w.stamp};
    version_ = std::max(version_ + 1, w.stamp.seq);
    won[i] = true;
    ++changed;
  }
  std::vector<Bytes> out;
  if (changed == writes && writes > 0) {
    // Every write changed this replica (the usual case): the broadcast is the record's own
    // writes, so its bytes are the record's under the broadcast tag (records are written by
    // encode(), so these are the bytes encode(changed) would give).
    out.push_back(retag_writes(bytes, Tag::kBroadcast));
  } else if (changed > 0) {
    auto again = decode(bytes);
    CONVLAB_ASSERT(again.has_value());
    Broadcast b;
    std::vector<Write>& all = std::get<Record>(*again).writes;
    for (std::size_t i = 0; i < writes; ++i) {
      if (won[i]) b.writes.push_back(std::move(all[i]));
    }
    out.push_back(encode(b));
  }
  return out;
}

Bytes ParagraphServer::welcome() const { return encode(Welcome{State{version_, registers_}}); }

Bytes ParagraphServer::snapshot() const { return encode(Snapshot{State{version_, registers_}}); }

Result<void> ParagraphServer::restore(std::span<const std::uint8_t> bytes) {
  auto decoded = decode(bytes);
  if (!decoded) return decoded.error();
  auto* snap = std::get_if<Snapshot>(&*decoded);
  if (snap == nullptr) return make_error("not a snapshot of this strategy");
  version_ = snap->state.version;
  registers_ = std::move(snap->state.registers);
  return {};
}

// --------------------------------------------------------------------------------------------

std::unique_ptr<ClientReplica> make_client(Ordering order, AgentId agent) {
  return std::make_unique<ParagraphClient>(order, agent);
}

std::unique_ptr<ServerReplica> make_server(Ordering order) {
  return std::make_unique<ParagraphServer>(order);
}

const ParagraphClient* as_paragraph_client(const ClientReplica& r) {
  return dynamic_cast<const ParagraphClient*>(&r);
}

ParagraphClient* as_paragraph_client(ClientReplica& r) { return dynamic_cast<ParagraphClient*>(&r); }

const ParagraphServer* as_paragraph_server(const ServerReplica& r) {
  return dynamic_cast<const ParagraphServer*>(&r);
}

Result<boost::json::value> message_to_json(std::span<const std::uint8_t> msg) {
  auto decoded = decode(msg);
  if (!decoded) return decoded.error();
  return to_json(*decoded);
}

Result<Bytes> message_from_json(const boost::json::value& v) {
  auto m = from_json(v);
  if (!m) return m.error();
  return encode(*m);
}

}  // namespace convlab::paragraphs
