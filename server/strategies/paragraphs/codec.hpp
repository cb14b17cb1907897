#pragma once
// Messages and records of the paragraph strategies, and their two forms: compact binary
// (Writer/Reader varints; character ids run-length encoded, since typed text is mostly runs of
// one author's consecutive counters) and JSON for people and histories.
//
// Binary layout: one tag byte, then the body. Writes in a client message carry no agent (the
// server takes the sender's id from the connection, never from the bytes) and no server fields.
#include "server/core/result.hpp"
#include "server/strategies/paragraphs/model.hpp"

#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <variant>
#include <vector>

namespace convlab::paragraphs {

enum class Tag : std::uint8_t {
  kClientWrites = 1,  // client -> server: a local edit's paragraph writes
  kBroadcast = 2,     // server -> other clients: accepted writes
  kAck = 3,           // server -> sender: one entry per write of a ClientWrites, in order
  kWelcome = 4,       // server -> new client: the whole state
  kRecord = 5,        // change log: accepted writes
  kSnapshot = 6,      // whole state, for restore
};

// Writes as a client sends them: stamp.agent, stamp.seq and stamp.server_ms are not sent.
struct ClientWrites {
  std::vector<Write> writes;
};

// Accepted writes with full stamps (Broadcast and Record share this body).
struct Broadcast {
  std::vector<Write> writes;
};
struct Record {
  std::vector<Write> writes;
};

// The server's answer to one client write: accepted (its seq and the server clock) or, when a
// `lww` write lost, the write that holds the register (a correction).
struct AckEntry {
  std::uint64_t seq = 0;
  std::int64_t server_ms = 0;
  std::optional<Write> winner;  // set: the sender's write lost to this one
  friend bool operator==(const AckEntry&, const AckEntry&) = default;
};
struct Ack {
  std::vector<AckEntry> entries;
};

// The whole state: every register from index 0 up, and the server's version.
struct State {
  std::uint64_t version = 0;
  std::vector<Register> registers;
};
struct Welcome {
  State state;
};
struct Snapshot {
  State state;
};

using Message = std::variant<ClientWrites, Broadcast, Ack, Welcome, Record, Snapshot>;

Bytes encode(const Message& m);
// Broadcast and Record share their body: encode(Record{w}) from the bytes of
// encode(Broadcast{w}) and back, by swapping the tag, without encoding the writes again.
// REQUIRES: `msg` is an encoded Broadcast or Record; `tag` is kBroadcast or kRecord.
Bytes retag_writes(std::span<const std::uint8_t> msg, Tag tag);
// Every field is checked: tag, index < kParagraphsMax, ids matching text, no '\n' in text,
// non-existing paragraphs empty, accepted stamps with seq >= 1, no trailing bytes.
Result<Message> decode(std::span<const std::uint8_t> bytes);

boost::json::value to_json(const Message& m);
// The same checks as decode; an Error names the first bad field.
Result<Message> from_json(const boost::json::value& v);

}  // namespace convlab::paragraphs
