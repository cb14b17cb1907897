#pragma once
// Which of other clients' edits a client's replica shows: the bookkeeping behind the history's
// "seen" events and edit-to-visible latency. The observed client (workload/observed.hpp), which
// the simulator and the real load client share, counts a sighting with these, so a simulated run
// and a real one mean the same by "visible".
#include "server/core/types.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace convlab {
class ClientReplica;
}

namespace convlab::workload {

// One of an author's edits that inserted characters: its ids start at (agent, seq_start) and go
// on up to the next such edit's start.
struct EditRef {
  std::uint32_t seq_start = 0;
  std::uint32_t op = 0;
};

// The op of the edit that inserted (agent, seq), from the agent's EditRefs in the order made
// (seq_start ascending); nullopt for a seq before the first of them.
std::optional<std::uint32_t> op_of(const std::vector<EditRef>& refs, std::uint32_t seq);

// An edit of a document that inserted characters, in the order its document's edits were made: a
// client shows it once its replica shows any of the ids (agent, seq .. seq + count - 1).
struct DocEdit {
  std::uint32_t author = 0;
  std::uint32_t op = 0;
  AgentId agent = 0;
  std::uint32_t seq = 0;
  std::uint32_t count = 0;
};

// Whether `replica` shows any character of `e`.
bool shows(const ClientReplica& replica, const DocEdit& e);

// Whether every character of `e` is deleted for good in `replica`
// (ClientReplica::deleted_for_good): it cannot show there until the replica's state is replaced.
bool gone_for_good(const ClientReplica& replica, const DocEdit& e);

// The (author, op) pairs a client has shown: per author, one bit per op (ops are numbered from
// 1 without gaps), instead of a tree node per pair.
class SeenSet {
 public:
  // False when (author, op) was already in.
  bool insert(std::uint32_t author, std::uint32_t op);
  bool contains(std::uint32_t author, std::uint32_t op) const;

 private:
  std::vector<std::pair<std::uint32_t, std::vector<bool>>> bits_;  // sorted by author
};

// A client's edits by others that it has not shown yet, as indexes into its document's DocEdits
// (ascending), and how far into that list it has looked.
struct Unseen {
  std::vector<std::uint32_t> edits;
  std::size_t scanned = 0;

  // Takes in the document's edits made since the last call, except `self`'s own.
  void catch_up(const std::vector<DocEdit>& doc_edits, std::uint32_t self);
};

}  // namespace convlab::workload
