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

bool SeenSet::insert(std::uint32_t author, std::uint32_t op) {
  auto it = std::lower_bound(bits_.begin(), bits_.end(), author,
                             [](const auto& e, std::uint32_t a) { return e.first < a; });
  if (it == bits_.end() || it->first != author) it = bits_.emplace(it, author, std::vector<bool>{});
  std::vector<bool>& b = it->second;
  if (b.size() <= op) b.resize(std::max<std::size_t>(op + 1, b.size() * 2));
  if (b[op]) return false;
  b[op] = true;
  return true;
}

bool SeenSet::contains(std::uint32_t author, std::uint32_t op) const {
  auto it = std::lower_bound(bits_.begin(), bits_.end(), author,
                             [](const auto& e, std::uint32_t a) { return e.first < a; });
  return it != bits_.end() && it->first == author && op < it->second.size() && it->second[op];
}

void Unseen::catch_up(const std::vector<DocEdit>& doc_edits, std::uint32_t self) {
  for (; scanned < doc_edits.size(); ++scanned) {
    if (doc_edits[scanned].author != self) edits.push_back(static_cast<std::uint32_t>(scanned));
  }
}

}  // namespace convlab::workload
