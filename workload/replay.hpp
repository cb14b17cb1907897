#pragma once
// Replaying a sequential trace through any strategy, the two ways the tests and benchmarks need:
// locally (one client replica takes every edit) and relayed (client A's messages go through the
// server replica to a second client B, and acknowledgements go back to A).
#include "server/core/strategy.hpp"
#include "workload/trace.hpp"

#include <cstdint>
#include <string>

namespace convlab {

struct ReplayResult {
  std::u32string text;          // client A's text (local) or client B's text (relayed)
  std::uint64_t patches = 0;
  std::uint64_t messages = 0;   // messages that crossed the wire (relayed only)
  std::uint64_t wire_bytes = 0; // their encoded size
};

// Every patch goes to one client replica as a local edit; messages it emits are dropped.
// An Error if a patch does not fit the document (the trace is broken).
Result<ReplayResult> replay_local(const Strategy& s, const SequentialTrace& t);

// Client A makes the edits; every message goes A -> server -> B and the server's replies go
// back to A, delivered at once and in order. Errors if any replica refuses a message, or if A,
// the server and B do not end with the same text.
Result<ReplayResult> replay_relayed(const Strategy& s, const SequentialTrace& t);

}  // namespace convlab
