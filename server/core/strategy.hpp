#pragma once
// The shape every conflict strategy has (DESIGN.md, Seams): a client replica, a server replica
// and a codec. Replicas are sans-IO: bytes and local edits in, bytes out. They never read a
// clock (callers pass readings in), never block, never draw randomness.
//
// Messages are opaque bytes produced by the strategy's own codec; each strategy also gives every
// message a JSON form for people and histories.
#include "server/core/result.hpp"
#include "server/core/types.hpp"

#include <boost/json/value.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace convlab {

class ClientReplica {
 public:
  virtual ~ClientReplica() = default;

  virtual AgentId agent() const = 0;

  // Applies an edit the user made here and returns what must go to the server now, in order
  // (possibly nothing: OT holds edits back while one is in flight). `clock_ms` is this client's
  // own clock reading; `lww` stamps writes with it, the others keep it for audit only.
  // REQUIRES: e.pos + e.del <= length().
  virtual std::vector<Bytes> local_edit(const Splice& e, std::int64_t clock_ms) = 0;

  // Applies a message from the server and returns what must go back to the server now.
  // Bytes that do not decode, or that do not fit this replica's state, are an Error and leave
  // the replica unchanged.
  virtual Result<std::vector<Bytes>> receive(std::span<const std::uint8_t> msg) = 0;

  virtual std::u32string text() const = 0;
  virtual std::size_t length() const = 0;
  // The identity of every visible character, in document order (same length as text()).
  virtual std::vector<CharId> char_ids() const = 0;

  // Parts of the above, for callers that need a few characters of a long document (the
  // simulator, once per edit). The defaults copy everything and cut; strategies with an index
  // override them. REQUIRES: pos + n <= length().
  virtual std::u32string text_range(std::size_t pos, std::size_t n) const { return text().substr(pos, n); }
  virtual std::vector<CharId> char_ids_range(std::size_t pos, std::size_t n) const {
    const std::vector<CharId> all = char_ids();
    return {all.begin() + static_cast<std::ptrdiff_t>(pos), all.begin() + static_cast<std::ptrdiff_t>(pos + n)};
  }
  // True when the visible character `id` is in this replica. The default scans char_ids();
  // a strategy that overrides it with an index lookup says so with indexes_ids(), and the
  // simulator then asks per id instead of scanning the document on every delivery.
  virtual bool contains(CharId id) const {
    for (const CharId& c : char_ids()) {
      if (c == id) return true;
    }
    return false;
  }
  virtual bool indexes_ids() const { return false; }
  // True when `id` was in this replica and was deleted, and nothing but a new state (a welcome)
  // can make it visible here again (a tombstone of a sequence CRDT). The simulator then stops
  // asking about it until the replica's state is replaced. The default, false, is always
  // correct, only slower.
  virtual bool deleted_for_good(CharId id) const {
    (void)id;
    return false;
  }

  // True when the server has acknowledged every local edit.
  virtual bool synced() const = 0;

  // Whether `msg`, a message from the server not yet received, acknowledges this replica's
  // oldest message in flight, told without decoding all of it (the load client times acks per
  // frame). nullopt: this strategy cannot tell cheaply; ask its JSON form.
  virtual std::optional<bool> acknowledges(std::span<const std::uint8_t> msg) const {
    (void)msg;
    return std::nullopt;
  }
};

// What a server replica produces for one incoming message.
struct ServerOutput {
  std::vector<Bytes> to_sender;  // replies to the sender: acknowledgement, correction
  std::vector<Bytes> broadcast;  // to every other client of the document
  std::vector<Bytes> records;    // to append to the document's change log, in order
};

class ServerReplica {
 public:
  virtual ~ServerReplica() = default;

  // Handles one message from client `from`; `clock_ms` is the server's clock reading (kept in
  // records for audit; `seq` never orders by it). Bad bytes or a message that does not fit the
  // document are an Error and leave the replica unchanged.
  virtual Result<ServerOutput> receive(AgentId from, std::span<const std::uint8_t> msg,
                                       std::int64_t clock_ms) = 0;

  // Re-applies a record this replica produced earlier (recovery: snapshot plus log tail).
  virtual Result<void> apply_record(std::span<const std::uint8_t> record) = 0;

  // Applies a record that another server's replica of the same document produced (cross-server
  // propagation through the change log or the bus) and returns what this server's clients must
  // receive to see it, in order. Records arrive in change-log order; for strategies that are not
  // multi-master, only the document's home server produces them.
  virtual Result<std::vector<Bytes>> apply_remote_record(std::span<const std::uint8_t> record) = 0;

  // A message that brings a new or reconnecting client to the current state.
  virtual Bytes welcome() const = 0;

  // How many changes this replica has accepted; strictly increasing.
  virtual std::uint64_t version() const = 0;

  virtual std::u32string text() const = 0;
  virtual std::vector<CharId> char_ids() const = 0;

  virtual Bytes snapshot() const = 0;
  virtual Result<void> restore(std::span<const std::uint8_t> snapshot) = 0;
};

struct Strategy {
  std::string_view name;
  std::string_view summary;
  std::unique_ptr<ClientReplica> (*make_client)(AgentId agent);
  std::unique_ptr<ServerReplica> (*make_server)();
  // The JSON form of any message or record of this strategy, and back.
  Result<boost::json::value> (*to_json)(std::span<const std::uint8_t> msg);
  Result<Bytes> (*from_json)(const boost::json::value& v);
  // True when replicas of one document on several servers may each accept client messages and
  // exchange records in any order and still converge (lww, crdt). Otherwise one home server per
  // document orders its changes and the others forward edits to it.
  bool multi_master = false;
  // True when a client that starts from any welcome, however old, can take the server's later
  // messages on top of it (state-based registers: lww, seq). The simulator's page reload (show
  // what the API served, then subscribe to changes) needs it; other clients reload nothing.
  bool adopts_loaded_state = false;
  // True when the server decides between two writes by the clients' clock readings (lww): a
  // write can lose to an older one whose clock read later. Checkers name such losses
  // `clock_skew` or `concurrent` only for these strategies (meta `orders_by_client_clock`).
  bool orders_by_client_clock = false;
  // True when a client's write replaces text its author had not seen (state-based registers:
  // lww, seq): a concurrent write can take acknowledged characters out of a server's memory.
  // ot and crdt keep every concurrent insert. Checkers read it as meta `overwrites`.
  bool overwrites = false;
};

}  // namespace convlab
