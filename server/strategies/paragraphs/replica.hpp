#pragma once
// Client and server replicas of the paragraph-register strategies. `lww` and `seq` are these
// classes with a different Ordering.
//
// Convergence. The server keeps, per register, the winning write under its Ordering; every
// accepted write is broadcast to the other clients and acknowledged to its sender; a `lww`
// write that loses is answered with the current winner (a correction). A client keeps two
// layers: `confirmed`, the merge (under the same Ordering) of everything the server told it,
// and `shown`, which is confirmed except where its own writes are still unacknowledged: there
// the latest pending write stays on screen. When the last pending write to an index is
// answered, the index shows confirmed again. With FIFO links, every client's confirmed
// register ends at the server's winner (it reaches the client as a broadcast, an ack of its own
// write, or a correction), so once all messages are delivered every replica agrees with the
// server. Nobody is told that a write was lost: that is the naive design being studied.
#include "server/core/assert.hpp"
#include "server/core/strategy.hpp"
#include "server/strategies/paragraphs/codec.hpp"
#include "server/strategies/paragraphs/model.hpp"
#include "server/strategies/paragraphs/visible_index.hpp"

#include <deque>
#include <memory>
#include <utility>
#include <vector>

namespace convlab::paragraphs {

// One of this client's register writes that the server did not keep: a `lww` write answered
// with the write that holds the register (a correction).
struct Overruled {
  std::uint64_t counter = 0;    // Stamp::counter of the write that lost
  std::vector<CharId> ids;      // the characters it carried (text and terminating newline) that the kept register lacks
  Stamp winner;                 // the stamp of the write the server kept
};

// One of this client's register writes the server accepted, and the sequence number it was
// accepted at (the server's version after it: the order its home applied it in).
struct Accepted {
  std::uint64_t counter = 0;  // Stamp::counter of the write
  std::uint64_t seq = 0;      // Stamp::seq the server gave it
};

class ParagraphClient final : public ClientReplica {
 public:
  ParagraphClient(Ordering order, AgentId agent);

  // Recorders (the simulator, the load client) ask to be told which writes were overruled; a
  // replica nobody asks keeps nothing. The list grows until taken.
  void keep_overruled(bool on) { keep_overruled_ = on; }
  std::vector<Overruled> take_overruled() { return std::exchange(overruled_, {}); }
  // Likewise the writes the server accepted, each with its sequence number.
  std::vector<Accepted> take_accepted() { return std::exchange(accepted_, {}); }
  // Stamp::counter of this client's newest write (0: none yet); an edit's writes take the
  // counters after the previous edit's.
  std::uint64_t write_counter() const { return write_counter_; }
  // A new replica for an agent that wrote before (a reconnect that keeps its agent) continues
  // its counters, so no two of the agent's writes share a stamp counter.
  // REQUIRES: nothing written yet by this replica.
  void resume_counter(std::uint64_t last) {
    CONVLAB_ASSERT(write_counter_ == 0);
    write_counter_ = last;
  }

  AgentId agent() const override { return agent_; }
  std::optional<bool> acknowledges(std::span<const std::uint8_t> msg) const override {
    return !msg.empty() && msg[0] == static_cast<std::uint8_t>(Tag::kAck);
  }
  // Sends one ClientWrites message per edit that changes anything; `clock_ms` stamps the writes
  // (lww orders by it; seq keeps it for audit).
  std::vector<Bytes> local_edit(const Splice& e, std::int64_t clock_ms) override;
  // Accepts Broadcast, Ack and Welcome. Sends nothing back.
  Result<std::vector<Bytes>> receive(std::span<const std::uint8_t> msg) override;
  std::u32string text() const override { return visible_text(shown_); }
  std::size_t length() const override { return index_.length(); }
  std::vector<CharId> char_ids() const override { return visible_ids(shown_); }
  // From an index over what is shown (VisibleIndex): the simulator's per-edit and per-delivery
  // reads cost O(log paragraphs + characters read), not O(document).
  std::u32string text_range(std::size_t pos, std::size_t n) const override {
    return index_.text_range(shown_, pos, n);
  }
  std::vector<CharId> char_ids_range(std::size_t pos, std::size_t n) const override {
    return index_.ids_range(shown_, pos, n);
  }
  bool contains(CharId id) const override { return index_.contains(shown_, id); }
  bool indexes_ids() const override { return true; }
  bool synced() const override { return pending_.empty(); }

  // For checkers and tests: what is on screen, and what the server is known to hold.
  const std::vector<Register>& registers() const { return shown_; }
  const std::vector<Register>& confirmed() const { return confirmed_; }

 private:
  void grow_to(std::size_t size);
  void settle(std::uint32_t index);  // shows confirmed_ when nothing is pending there
  void show(std::uint32_t index, Register reg);  // every change to shown_ goes through here

  Ordering order_;
  AgentId agent_;
  std::uint32_t next_char_ = 0;      // CharId counter for characters typed here
  std::uint64_t write_counter_ = 0;  // Stamp::counter of this client's last write
  std::vector<Register> shown_;
  VisibleIndex index_;  // over shown_
  std::vector<Register> confirmed_;
  struct SentWrite {
    std::uint32_t index = 0;
    std::uint64_t counter = 0;
    std::vector<CharId> ids;  // only when keep_overruled_
  };
  std::vector<std::uint32_t> pending_count_;  // per index: unacknowledged writes
  std::deque<std::vector<SentWrite>> pending_;  // per sent message: its writes
  bool keep_overruled_ = false;
  std::vector<Overruled> overruled_;
  std::vector<Accepted> accepted_;
};

class ParagraphServer final : public ServerReplica {
 public:
  explicit ParagraphServer(Ordering order) : order_(order) {}

  // Accepts ClientWrites. Replies one Ack to the sender; broadcasts and records the accepted
  // writes (nothing when none was accepted).
  Result<ServerOutput> receive(AgentId from, std::span<const std::uint8_t> msg,
                               std::int64_t clock_ms) override;
  // Accepts Record. Idempotent: a record already reflected in the state changes nothing.
  Result<void> apply_record(std::span<const std::uint8_t> record) override;
  // Accepts Record from another server. Each write is merged under the Ordering; the writes that
  // changed this replica come back as one Broadcast for this server's clients (nothing when none
  // did), and each such change counts as one version.
  Result<std::vector<Bytes>> apply_remote_record(std::span<const std::uint8_t> record) override;
  Bytes welcome() const override;
  std::uint64_t version() const override { return version_; }
  std::u32string text() const override { return visible_text(registers_); }
  std::vector<CharId> char_ids() const override { return visible_ids(registers_); }
  Bytes snapshot() const override;
  Result<void> restore(std::span<const std::uint8_t> snapshot) override;

  const std::vector<Register>& registers() const { return registers_; }

 private:
  Ordering order_;
  std::uint64_t version_ = 0;
  std::vector<Register> registers_;
};

std::unique_ptr<ClientReplica> make_client(Ordering order, AgentId agent);
std::unique_ptr<ServerReplica> make_server(Ordering order);

// For checkers: the paragraph registers behind a replica of `lww` or `seq` (stamps and per-char
// ids), or nullptr when the replica belongs to another strategy.
const ParagraphClient* as_paragraph_client(const ClientReplica& r);
ParagraphClient* as_paragraph_client(ClientReplica& r);
const ParagraphServer* as_paragraph_server(const ServerReplica& r);

// Strategy::to_json / from_json for both strategies.
Result<boost::json::value> message_to_json(std::span<const std::uint8_t> msg);
Result<Bytes> message_from_json(const boost::json::value& v);

}  // namespace convlab::paragraphs
