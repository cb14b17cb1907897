#include "workload/seen.hpp"

#include "server/core/strategy.hpp"

#include <algorithm>
#include <iterator>

namespace convlab::workload {

std::optional<std::uint32_t> op_of(const std::vector<EditRef>& refs, std::uint32_t seq) {
  auto it = std::upper_bound(refs.begin(), refs.end(), seq,
                             [](std::uint32_t s, const EditRef& r) { return s < r.seq_start; });
  if (it == refs.begin()) return std::nullopt;
  return std::prev(it)->op;
}

bool shows(const ClientReplica& replica, const DocEdit& e) {
  for (std::uint32_t k = 0; k < e.count; ++k) {
    if (replica.contains(CharId{e.agent, e.seq + k})) return true;
  }
  return false;
}

bool gone_for_good(const ClientReplica& replica, const DocEdit& e) {
  for (std::uint32_t k = 0; k < e.count; ++k) {
    if (!replica.deleted_for_good(CharId{e.agent, e.seq + k})) return false;
  }
  return true;
}

void Unseen::catch_up(const std::vector<DocEdit>& doc_edits, std::uint32_t self) {
  for (; scanned < doc_edits.size(); ++scanned) {
    if (doc_edits[scanned].author != self) edits.push_back(static_cast<std::uint32_t>(scanned));
  }
}

}  // namespace convlab::workload
