#pragma once
// What the checkers keep of a history, shared by reports/checkers.cpp and the causes of loss
// (from the durable log: reports/causes.cpp; from clocks: reports/causes_clocks.cpp). Internal
// to reports/.
#include "history/history.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace convlab::reports::detail {

using history::IdRun;

// An edit as the checkers keep it: its fields, and its ids and vector clock as ranges of the
// checker's pools (no per-edit allocation).
struct Edit {
  std::int64_t t_us = 0;
  std::int64_t clock_ms = 0;
  std::uint32_t client = 0;
  std::uint32_t op = 0;
  std::uint32_t doc = 0;
  std::uint32_t para = 0;
  std::int32_t server = -1;
  bool stale_base = false;
  // Inserts a newline or deletes something (which may be one): it may split or join paragraphs,
  // rewriting the registers of those after it.
  bool structural = false;
  std::uint32_t inserted_begin = 0, inserted_count = 0;  // in State::runs
  std::uint32_t deleted_begin = 0, deleted_count = 0;    // in State::runs
  std::uint32_t seen_begin = 0, seen_count = 0;          // in State::seen_ops, by author
};

struct Seen {
  std::int64_t t_us = 0;
  std::uint32_t client = 0;
  std::uint32_t doc = 0;
  std::uint32_t author = 0;
  std::uint32_t op = 0;
  std::int32_t server = -1;
};

// A change of a document's durable text (a `commit` event).
struct Commit {
  std::int64_t t_us = 0;
  std::uint32_t doc = 0;
  std::int32_t writer = -1;  // the client whose edit made it, -1 if none
  std::uint32_t op = 0;
  std::uint64_t index = 0;   // the log index (a snapshot: its label)
  std::int32_t server = -1;  // the server whose append or snapshot it was (-1: not said)
  // A snapshot: when its server took it (its memory as of then; the line's `taken`), else t_us.
  std::int64_t taken_us = 0;
  std::uint32_t added_begin = 0, added_count = 0;      // in State::runs
  std::uint32_t removed_begin = 0, removed_count = 0;  // in State::runs
};

// A register write the server did not keep, answered with the write it kept (an `overruled` event).
struct Overruling {
  std::uint32_t doc = 0;
  std::uint32_t client = 0;   // whose write lost
  std::uint32_t op = 0;
  std::int32_t by_client = -1;  // whose write the server kept; -1: the initial text
  std::uint32_t by_op = 0;
  std::uint32_t ids_begin = 0, ids_count = 0;  // in State::runs: the ids the losing write carried
};

struct Ack {
  std::int64_t t_us = 0;
  std::uint32_t client = 0;
  std::uint32_t op = 0;
  std::int32_t server = -1;
  std::uint64_t seq = 0;  // the line's `seq` (0: none)
};

struct Rename {
  std::uint32_t doc = 0;
  std::uint32_t client = 0;
  std::uint32_t op = 0;
  std::uint64_t version = 0;
  enum class Kind : std::uint8_t { kRequest, kAck, kOther } kind = Kind::kOther;
};

struct Final {
  std::u32string text;
  std::vector<IdRun> ids;
};

using AuthorOp = std::pair<std::uint32_t, std::uint32_t>;  // seen_ops entry: author -> op

// The highest op of `author` in a vector clock sorted by author.
inline std::optional<std::uint32_t> seen_op(std::span<const AuthorOp> clock, std::uint32_t author) {
  auto it = std::lower_bound(clock.begin(), clock.end(), author,
                             [](const AuthorOp& x, std::uint32_t a) { return x.first < a; });
  if (it == clock.end() || it->first != author) return std::nullopt;
  return it->second;
}

struct EditInfo {
  const Edit* e = nullptr;
  std::span<const IdRun> inserted;
  std::span<const IdRun> deleted;
  std::span<const AuthorOp> seen_ops;
  std::size_t order = 0;        // position among the edits, in history order
  bool acked = false;
  std::int64_t ack_us = 0;
  // When a server is first known to have applied it: its `ack`, or another client's `seen` of it
  // (a client shows another's edit only once its server delivered it), if earlier; an edit
  // whose ack never came (its author reloaded first) can still be known applied. Max: unknown.
  std::int64_t applied_us = std::numeric_limits<std::int64_t>::max();
  // Its `ack`'s `seq` (paragraph strategies): where the server that applied it put it in its
  // order of application (0: not told).
  std::uint64_t seq = 0;
  std::int32_t ack_server = -1;  // the server its `ack` came through
  bool judged = false;          // its document has a reference (durable or server finals)
  std::vector<CharId> lost;     // acked, inserted, absent from the reference, not deleted on purpose
  bool any_present = false;     // some inserted char is in the reference
  bool deleted_restored = false;  // some char it deleted on purpose is in the reference
  std::string cause;
  std::uint32_t by_client = 0;
  std::uint32_t by_op = 0;
  std::map<std::string, std::uint64_t> cause_chars;  // from the log: lost characters per cause
  // From the log: the cause of each of `lost` (same order), and the edit blamed (index into the
  // edits), when it names one.
  std::vector<std::string> lost_causes;
  std::vector<std::optional<std::size_t>> lost_by;
};

using Key = std::pair<std::uint32_t, std::uint32_t>;  // (client, op)

// Looks up an edit by (client, op); nullptr when the history has none.
using FindEdit = std::function<EditInfo*(std::uint32_t client, std::uint32_t op)>;

// A state a client loaded: when, the log index it was served as of, and whether it came from
// the API (the durable text as of `version`: primary, replica or CDN) or a server's welcome.
struct Load {
  std::int64_t t_us = 0;
  std::uint64_t version = 0;
  bool api = false;
};

// What a run's history says about its durable log, for causes_from_log.
struct LogFacts {
  std::span<const Commit> commits;  // in history order
  std::span<const IdRun> runs;      // the pool the commits' and overrulings' runs index
  std::span<const Overruling> overruled;  // in history order
  bool orders_by_client_clock = false;  // meta: the strategy decides writes by client clocks
  bool overwrites = false;              // meta: a write can replace text its author had not seen
  bool snapshot_persistence = false;    // meta: durable only through snapshots (not per change)
  bool ack_after_commit = false;        // meta `ack`: edits are acknowledged once committed
  std::optional<std::int64_t> initial_clock_ms;  // meta: the clock reading the initial text is stamped with
  std::vector<std::int64_t> crash_us;   // when crash faults (and db_lost ones) began, ascending
  // When db_lost faults began, ascending: a commit with no writer at that instant is the store
  // restored from its backups (or emptied), not a snapshot.
  std::vector<std::int64_t> db_lost_us;
  // When a server's memory of a document may have been lost, ascending: a server's crash fault
  // or a db_lost began, or a client's connection closed because its document started over or
  // moved (`closed` "a change did not commit", "the document's home started over", "… moved").
  // Not a crash of the database: a server whose change then did not commit says so with its
  // `closed` lines. (A document started over with no session open leaves no line: nothing
  // marks it, and no acknowledged character of that server is at stake there then.)
  std::vector<std::int64_t> memory_loss_us;
  // Partition windows [begin, end) (a commit across one fails): in the order they began.
  std::vector<std::pair<std::int64_t, std::int64_t>> partitions;
  // When documents' homes moved (`closed` "the document's home moved to node N"), ascending. A
  // move while a partition is open can leave the old home numbering writes on its side until the
  // partition ends, beside the new home's numbering: two orders, and an ack does not say whose.
  std::vector<std::int64_t> home_moved_us;
  // client -> each state it loaded (a welcome, an API read), in time order
  std::map<std::uint32_t, std::vector<Load>> loads;
  // Whether `loads` holds every welcome (meta `welcome_versions` not false): a client's
  // reconnection shows in it.
  bool loads_complete = true;
  // Whether acks carry the server's `seq` (some ack has one: a paragraph strategy's history from a
  // recorder that writes it): then an acknowledged edit without one had no write accepted (every
  // write overruled, or none sent) and replaced no register.
  bool acks_numbered = false;
  // (client, author, op) -> when the client first showed that edit of another client's (`seen`).
  std::map<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>, std::int64_t> shown;
  // doc -> the ids every server's final replica of it holds (sorted; docs with no server final
  // absent): what stayed in the servers' memory to the end.
  std::map<std::uint32_t, std::vector<CharId>> held_at_end;
  // Edits of each (doc, para), in history order (indexes into `edits`).
  const std::map<std::pair<std::uint32_t, std::uint32_t>, std::vector<std::size_t>>* by_para = nullptr;
};

// Edits of each (doc, para) (indexes into the edits), and the lost edits of each (doc, para,
// author).
using ParaEdits = std::map<std::pair<std::uint32_t, std::uint32_t>, std::vector<std::size_t>>;
using LostGroups = std::map<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>, std::vector<std::size_t>>;

// Fills cause, by_client, by_op and cause_chars of every edit with lost characters from the
// durable log (docs/history.md, "Causes of loss").
void causes_from_log(const LogFacts& log, std::vector<EditInfo>& edits, const FindEdit& find_edit);

// Without the durable log: fills cause, by_client and by_op of the edits in `lost_groups` from
// time and vector clocks (reports/causes_clocks.cpp); a crash after an edit names "crash".
void causes_from_clocks(const ParaEdits& by_para, LostGroups& lost_groups, std::optional<std::int64_t> last_crash_us,
                        std::vector<EditInfo>& edits);

}  // namespace convlab::reports::detail
