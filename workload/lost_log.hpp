#pragma once
// What a real run's lost database held, for the history (a `db_lost` fault on real processes,
// docs/real-faults.md "Losing the database"): the runner of real processes reads each document's
// change log once the servers are stopped and before the cluster is destroyed, then how many of
// its records the restored cluster kept (none without a backup), and writes both here;
// convlab-load reads it after the run and writes the history's `commit` lines as the simulator
// does — the records committed before the loss, then at the loss's instant one `commit` with no
// writer per document whose durable text the restore changed (docs/history.md), then the records
// committed on the restored database.
//
// The file is text, one item a line, in this order:
//   convlab-db-lost 1
//   at_monotonic_us US          the loss's instant on CLOCK_MONOTONIC (convlab-load's meta line
//                               gives its t = 0 on the same clock)
//   record DOC INDEX AUTHOR CLIENT_MS SERVER_MS HEX      one per change-log record at the loss,
//                                                        in (doc, index) order
//   restored DOC RECORDS        one per document: the restored log's length
#include "server/core/node.hpp"
#include "server/core/result.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace convlab::workload {

struct LostDatabase {
  std::int64_t at_monotonic_us = 0;
  std::vector<std::vector<LogRecord>> logs;  // per document: its change log at the loss
  std::vector<std::uint64_t> restored;       // per document: how many of those records came back
};

std::string write_lost_database(const LostDatabase& lost);
// An Error naming the line that does not parse, or a restored length longer than the log.
Result<LostDatabase> read_lost_database(std::string_view text);

}  // namespace convlab::workload
