#pragma once
// The `crdt` strategy's messages, their compact binary form (server/core/wire.hpp varints) and
// their JSON form. Every message starts with one kind byte.
//
//   insert   client -> server, server -> other clients: InsertOp
//   delete   client -> server, server -> other clients: DeleteOp
//   ack      server -> sender: the server version after the sender's op
//   welcome  server -> new client: version + full state (tombstones included)
//   record   server -> change log: version, clock, author and the op
//   snapshot server -> store: version + full state
//
// Decoding is for untrusted bytes: every field is bounded, counts are checked against the bytes
// left, and anything malformed is an Error. Decoding checks syntax only; whether an op fits a
// document is Doc::apply's business.
#include "server/core/result.hpp"
#include "server/strategies/crdt/doc.hpp"

#include <boost/json/value.hpp>

#include <cstdint>
#include <span>
#include <vector>

namespace convlab::crdt {

enum class Kind : std::uint8_t {
  kInsert = 1,
  kDelete = 2,
  kAck = 3,
  kWelcome = 4,
  kRecord = 5,
  kSnapshot = 6,
};

struct Message {
  Kind kind = Kind::kAck;
  Op op;                         // insert, delete, record
  std::uint64_t version = 0;     // ack, welcome, record, snapshot
  std::int64_t clock_ms = 0;     // record
  AgentId from = 0;              // record
  std::vector<StateRun> state;   // welcome, snapshot
  friend bool operator==(const Message&, const Message&) = default;
};

Message op_message(const Op& op);

Bytes encode(const Message& m);
// encode(op_message(op)) without copying the op.
Bytes encode_op(const Op& op);
Result<Message> decode(std::span<const std::uint8_t> bytes);
// The welcome or snapshot (`kind`) of `doc` at `version`: the bytes of encode() of that Message
// with state = doc.to_runs(), without building the runs.
Bytes encode_state(Kind kind, std::uint64_t version, const Doc& doc);
// encode_op(m.op) for `m` = decode(record) of a record: the record's own op bytes when they are
// already in that form (every varint minimal, as encode writes them), else encoded anew.
Bytes record_op_bytes(std::span<const std::uint8_t> record, const Message& m);

boost::json::value to_json(const Message& m);
Result<Message> message_from_json(const boost::json::value& v);

}  // namespace convlab::crdt
