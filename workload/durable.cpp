#include "workload/durable.hpp"

#include "server/core/assert.hpp"

#include <algorithm>
#include <iterator>

namespace convlab::workload {

namespace {

std::vector<CharId> sorted_ids(const ServerReplica& r) {
  std::vector<CharId> ids = r.char_ids();
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace

DurableText::DurableText(const Strategy& strategy, bool has_snapshot, std::span<const std::uint8_t> snapshot,
                         std::uint64_t snapshot_index)
    : strategy_(strategy), replica_(strategy.make_server()) {
  (void)snapshot_index;
  if (has_snapshot) {
    const auto ok = replica_->restore(snapshot);
    CONVLAB_ASSERT(ok.has_value());
  }
  ids_ = sorted_ids(*replica_);
}

DurableChange DurableText::diff_to_current() {
  std::vector<CharId> now = sorted_ids(*replica_);
  DurableChange c;
  std::set_difference(now.begin(), now.end(), ids_.begin(), ids_.end(), std::back_inserter(c.added));
  std::set_difference(ids_.begin(), ids_.end(), now.begin(), now.end(), std::back_inserter(c.removed));
  ids_ = std::move(now);
  return c;
}

Result<DurableChange> DurableText::append(const LogRecord& record) {
  if (auto ok = replica_->apply_record(record.record); !ok) {
    return make_error("record " + std::to_string(record.index) + " does not apply: " + ok.error().message);
  }
  return diff_to_current();
}

Result<DurableChange> DurableText::replace(bool has_snapshot, std::span<const std::uint8_t> snapshot,
                                           std::uint64_t snapshot_index, std::span<const LogRecord> log) {
  auto fresh = strategy_.make_server();
  if (auto ok = recover_replica(*fresh, has_snapshot, snapshot, snapshot_index, log); !ok) return ok.error();
  replica_ = std::move(fresh);
  return diff_to_current();
}

}  // namespace convlab::workload
