#pragma once
// The messages and records of the `ot` strategy, their compact binary form (Writer/Reader of
// server/core/wire.hpp) and their JSON form (Boost.JSON). Ops appear in JSON exactly as
// ot-text-unicode writes them; the ids of inserted characters go beside the op as runs
// [agent, first seq, count] (a typed word is one run).
//
// Every `rev` is the server revision an op applies at: the op of revision r turns the
// document of revision r into that of revision r + 1.
#include "server/core/result.hpp"
#include "server/core/types.hpp"
#include "server/strategies/ot/text_op.hpp"

#include <boost/json/value.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace convlab::ot {

// Client -> server: an op made against server revision `base`.
struct OpMsg {
  std::uint64_t base = 0;
  std::int64_t client_clock_ms = 0;  // the client's clock at its latest edit in the op (audit only)
  Op op;
  friend bool operator==(const OpMsg&, const OpMsg&) = default;
};

// Server -> sender: your op was applied at revision `rev`.
struct AckMsg {
  std::uint64_t rev = 0;
  friend bool operator==(const AckMsg&, const AckMsg&) = default;
};

// Server -> other clients: `author`'s op, as the server applied it at revision `rev`.
struct RemoteMsg {
  std::uint64_t rev = 0;
  AgentId author = 0;
  Op op;
  friend bool operator==(const RemoteMsg&, const RemoteMsg&) = default;
};

// Server -> new client: the document at revision `rev`.
struct WelcomeMsg {
  std::uint64_t rev = 0;
  std::u32string text;
  std::vector<CharId> ids;  // same size as text
  friend bool operator==(const WelcomeMsg&, const WelcomeMsg&) = default;
};

// Change log entry: the op the server applied at `rev`, who sent it, both clocks.
struct RecordMsg {
  std::uint64_t rev = 0;
  AgentId author = 0;
  std::int64_t client_clock_ms = 0;
  std::int64_t server_clock_ms = 0;
  Op op;
  friend bool operator==(const RecordMsg&, const RecordMsg&) = default;
};

// A server replica's state: the document at `rev` and the records of the history it keeps
// (revisions rev - history.size() .. rev - 1, in order).
struct SnapshotMsg {
  std::uint64_t rev = 0;
  std::u32string text;
  std::vector<CharId> ids;
  std::vector<RecordMsg> history;
  friend bool operator==(const SnapshotMsg&, const SnapshotMsg&) = default;
};

using Message = std::variant<OpMsg, AckMsg, RemoteMsg, WelcomeMsg, RecordMsg, SnapshotMsg>;

// Most records a snapshot may carry; a decoder refuses more (a limit on everything).
inline constexpr std::uint64_t kHistoryMax = 1u << 16;

Bytes encode(const Message& m);
// For a server that snapshots often: appends to `out` the bytes a record takes inside a
// snapshot, and gives encode(SnapshotMsg{rev, text, ids, history}) from `records` such records
// appended one after another (`bodies`), so a snapshot never re-encodes its history.
// REQUIRES: records <= kHistoryMax.
void append_record_body(Bytes& out, const RecordMsg& m);
Bytes encode_snapshot(std::uint64_t rev, const std::u32string& text, const std::vector<CharId>& ids,
                      std::size_t records, std::span<const std::uint8_t> bodies);
// Untrusted bytes: an Error for anything truncated, trailing, over a limit, or an op that
// check() refuses. Never allocates more than the input's size justifies.
Result<Message> decode(std::span<const std::uint8_t> bytes);

boost::json::value to_json(const Message& m);
// An Error for any shape encode/decode would not produce.
Result<Message> from_json(const boost::json::value& v);

}  // namespace convlab::ot
