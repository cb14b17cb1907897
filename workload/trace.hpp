#pragma once
// Loading the editing traces of ../shared/traces and the conformance histories of
// ../shared/conformance (formats in their SOURCE.md). Every failure is an Error naming the file
// and the problem: missing file, bad gzip, bad JSON, wrong shape.
#include "server/core/result.hpp"
#include "server/core/types.hpp"

#include <boost/json/value.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace convlab {

// Reads a file that is gzip-compressed (detected by its magic bytes) or plain, and parses it
// as JSON.
Result<boost::json::value> load_json_file(const std::string& path);

struct SequentialTrace {
  std::u32string start_content;
  std::u32string end_content;
  // Every patch of every transaction, in order, each against the text left by the previous;
  // transaction i is patches [txn_ends[i-1], txn_ends[i]) (from 0 for the first).
  std::vector<Splice> patches;
  std::vector<std::uint32_t> txn_ends;
  std::uint64_t patch_count = 0;  // patches.size()
};

struct ConcurrentTxn {
  std::vector<std::uint32_t> parents;  // indexes of earlier transactions
  std::uint32_t agent = 0;
  std::vector<Splice> patches;  // positioned against the agent's document after `parents`
};

struct ConcurrentTrace {
  std::u32string end_content;
  std::uint32_t num_agents = 0;
  std::vector<ConcurrentTxn> txns;
};

// A trace file is one or the other: {"kind":"concurrent", ...} or a sequential trace.
struct AnyTrace {
  bool concurrent = false;
  SequentialTrace sequential;
  ConcurrentTrace concurrent_trace;
};

// Reads the file (gunzipped in one zlib pass) and its JSON without a DOM (trace_reader.hpp).
Result<AnyTrace> load_trace(const std::string& path);

// One history of egwalker-conformance.json. Agents are renumbered 0..n-1 in the string order of
// their names, so comparing AgentIds orders them as the names do.
struct ConformanceOp {
  std::uint64_t pos = 0;
  std::uint64_t del = 0;       // delete: del > 0 and ins empty
  std::u32string ins;          // insert: del == 0
};
struct ConformanceTxn {
  AgentId agent = 0;
  std::uint64_t span_start = 0;  // [span_start, span_end): versions this txn's ops take
  std::uint64_t span_end = 0;
  std::uint32_t seq_start = 0;   // the author's sequence number of its first character
  std::vector<std::uint64_t> parents;  // versions (each the last version of an earlier txn)
  std::vector<ConformanceOp> ops;
};
struct ConformanceHistory {
  std::vector<std::string> agent_names;  // index = AgentId
  std::vector<ConformanceTxn> txns;
  std::u32string end_content;
};

Result<std::vector<ConformanceHistory>> load_conformance(const std::string& path);

// Where ../shared is: $CONVLAB_SHARED, or the default compiled in from CMake.
std::string shared_dir();

}  // namespace convlab
