#pragma once
// A history: one JSON object per line, in time order, of what clients did and saw and what the
// world did to them (Jepsen style). Simulated runs and real runs write the same format, and
// checkers (reports/) read nothing else. The format is documented in docs/history.md.
//
// Determinism: the writer emits keys in a fixed order and numbers in a fixed form, so the same
// run gives the same bytes; `digest` hashes those bytes.
#include "server/core/result.hpp"
#include "server/core/types.hpp"

#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

namespace convlab::history {

// A run of consecutive character ids from one author: (agent, seq) .. (agent, seq + count - 1).
struct IdRun {
  AgentId agent = 0;
  std::uint32_t seq = 0;
  std::uint32_t count = 0;
  friend bool operator==(const IdRun&, const IdRun&) = default;
};

std::vector<IdRun> compress_ids(const std::vector<CharId>& ids);
std::vector<CharId> expand_ids(const std::vector<IdRun>& runs);

enum class EventType {
  kMeta,     // first line: what ran
  kEdit,     // a client made a local edit
  kAck,      // the server acknowledged a client's edit
  kSeen,     // a client first showed another client's edit
  kLoad,     // a client loaded a document over the API (possibly from a cache or replica)
  kFault,    // a fault began (partition, crash, clock, offline, ...)
  kRecover,  // a fault ended (heal, restart, online)
  kHeal,     // the fault phase ended: everything healed, no new edits from here on
  kCounters, // cumulative counters (database queries by kind, messages, bytes), once a second
  kFinal,    // a replica's text and ids after quiescence
  kRename,   // a client asked to rename a document, or heard the answer (`kind`)
  kCommit,   // the durable state of a document changed: a change-log record committed, or a
             // snapshot replaced what the store holds (what the system decided, in its order)
  kOverruled,  // the server answered a client's register write with the write it kept instead
};

struct Event {
  EventType type = EventType::kEdit;
  std::int64_t t_us = 0;  // simulated (or real) time since the start of the run, microseconds

  // kMeta
  std::map<std::string, std::string> meta;  // scenario, variant, strategy, seed, ...

  // kEdit, kAck, kSeen, kLoad, kFinal
  std::uint32_t client = 0;  // kSeen: the client who saw; kFinal: see `replica`
  std::uint32_t doc = 0;
  std::uint32_t op = 0;      // the client's own edit counter (kEdit, kAck); kSeen: author's op
  std::uint32_t author = 0;  // kSeen: whose edit
  std::int32_t server = -1;  // the server the client was connected to, -1 if none

  // kEdit
  std::int64_t clock_ms = 0;     // the client's own clock reading (what lww stamps)
  std::uint64_t pos = 0;
  std::uint64_t del = 0;
  std::int64_t del_newlines = -1;  // how many of the deleted characters were newlines (-1: not said)
  std::u32string ins;
  std::uint32_t para = 0;        // paragraph index of `pos` in the client's text
  std::vector<IdRun> inserted;   // ids given to the inserted characters
  std::vector<IdRun> deleted;    // ids of the characters this edit deleted on purpose
  std::map<std::uint32_t, std::uint32_t> seen_ops;  // vector clock: author -> highest op shown
  bool offline = false;          // made while the client was offline
  bool stale_base = false;       // the client's document came from a stale load

  // kLoad
  std::uint64_t version = 0;     // version served
  std::uint64_t latest = 0;      // version the primary had at that moment
  std::string source;            // "primary", "replica", "cdn"; suffixes ":missing_own_write",
                                 // ":revoked" (see docs/history.md)

  // kAck (paragraph strategies): the sequence number the server accepted the edit's last write
  // at — its home's order of application (0: none, e.g. ot, crdt, or every write overruled)
  std::uint64_t seq = 0;

  // kRename: client, doc, op (the client's rename counter), server, kind ("request", "ack",
  // "notice"), version (request: the title version it was made on; ack: the new version;
  // notice: the winner's), detail (the title)

  // kCommit: doc, server (whose append or snapshot), version (the record's log index; a
  // snapshot: the log index it is labelled with), writer and op (the client whose edit the record
  // came from and that edit's op; writer -1: not one client's edit, e.g. a snapshot), inserted
  // (the ids the change made visible in the durable text: "added"), deleted (the ids it took out
  // of the durable text: "removed"), taken_us (a snapshot's only, where known: when its server
  // took it — the memory it holds is as of then, though it commits later; -1: not said, "taken")
  std::int32_t writer = -1;
  std::int64_t taken_us = -1;

  // kOverruled: client, doc, op (the client's edit whose write lost), writer and by_op (the edit
  // whose write the server kept; writer -1: no client's, the document's initial text), ids (the
  // characters the losing write carried)
  std::uint32_t by_op = 0;

  // kFault, kRecover, kRename
  std::string kind;              // "partition", "crash", "clock", "offline", ...
  std::string detail;            // human-readable: targets and parameters

  // kCounters
  std::map<std::string, std::uint64_t> counters;

  // kFinal
  std::string replica;           // "client:3", "server:1", "durable"
  std::u32string text;
  std::vector<IdRun> ids;
};

// One line of JSON, no trailing newline.
std::string to_json_line(const Event& e);
Result<Event> from_json_line(const std::string& line);

class Writer {
 public:
  explicit Writer(std::ostream* out) : out_(out) {}  // out may be nullptr: digest only
  void write(const Event& e);
  // FNV-1a 64 over every byte written so far, as 16 hex digits.
  std::string digest() const;
  std::uint64_t events() const { return events_; }

 private:
  std::ostream* out_;
  std::uint64_t hash_ = 0xcbf29ce484222325ull;
  std::uint64_t events_ = 0;
  std::string line_;  // reused for every line
};

// Reads a whole history; errors name the file, line and problem.
Result<std::vector<Event>> read_file(const std::string& path);
// The same from a stream (the fuzz target's input); `path` names it in errors.
Result<std::vector<Event>> read_stream(std::istream& in, const std::string& path);

}  // namespace convlab::history
