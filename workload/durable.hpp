#pragma once
// The durable text of one document as the store holds it, followed change by change: what a
// history's `commit` events say (docs/history.md). Each committed record, and each snapshot that
// replaces what the store holds, is replayed through the strategy's own server replica — as a
// server loading the document would — and the change is reported as the character ids it made
// visible and those it took away. The simulator feeds it from its store; a reader of a real
// server's change log can feed it the same way.
#include "server/core/node.hpp"
#include "server/core/result.hpp"
#include "server/core/strategy.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace convlab::workload {

struct DurableChange {
  std::vector<CharId> added;    // ids visible after the change and not before, sorted
  std::vector<CharId> removed;  // ids visible before the change and not after, sorted
};

class DurableText {
 public:
  // The document as first stored: a snapshot at log index `snapshot_index` (none: empty).
  // REQUIRES: the snapshot restores (the caller made it with the same strategy).
  DurableText(const Strategy& strategy, bool has_snapshot, std::span<const std::uint8_t> snapshot,
              std::uint64_t snapshot_index);

  // `record` committed at the end of the log. An Error (and nothing changed) when it does not
  // apply on the durable state: a log that does not replay.
  Result<DurableChange> append(const LogRecord& record);

  // A snapshot replaced what the store holds: the durable state is now the snapshot and the
  // log's records after its index. An Error (and nothing changed) when that does not recover.
  Result<DurableChange> replace(bool has_snapshot, std::span<const std::uint8_t> snapshot, std::uint64_t snapshot_index,
                                std::span<const LogRecord> log);

  // The visible ids now, sorted.
  const std::vector<CharId>& ids() const { return ids_; }

 private:
  DurableChange diff_to_current();

  const Strategy& strategy_;
  std::unique_ptr<ServerReplica> replica_;
  std::vector<CharId> ids_;  // sorted
};

}  // namespace convlab::workload
