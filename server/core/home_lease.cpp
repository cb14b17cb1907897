// Leases of single-writer documents' homes (home_lease.hpp).
#include "server/core/home_lease.hpp"

#include "server/core/assert.hpp"

#include <algorithm>
#include <set>

namespace convlab {

LeaseTable LeaseRegister::request(NodeId node, std::span<const std::uint32_t> docs, std::int64_t now_ms,
                                  std::int64_t lease_ms) {
  CONVLAB_ASSERT(lease_ms > 0);
  const std::int64_t expires = now_ms + lease_ms;
  std::set<std::uint32_t> named(docs.begin(), docs.end());
  // Renewals: every unexpired lease the node holds. An expired one is not renewed: another node
  // may have read it expired already and be about to claim it; the holder must claim it anew
  // (a new epoch), which fences its appends of the old epoch.
  for (auto& [doc, l] : leases_) {
    if (l.holder != node) continue;
    named.insert(doc);
    if (l.expires_ms > now_ms) l.expires_ms = expires;
  }
  LeaseTable table;
  table.store_now_ms = now_ms;
  for (std::uint32_t doc : named) {
    auto [it, fresh] = leases_.try_emplace(doc);
    DocLease& l = it->second;
    if (fresh || l.expires_ms <= now_ms) {
      l.holder = node;
      ++l.epoch;
      l.expires_ms = expires;
    }
    table.leases.emplace_back(doc, l);
  }
  return table;
}

bool LeaseRegister::may_append(std::uint32_t doc, NodeId node, std::uint64_t epoch, std::int64_t now_ms) const {
  auto it = leases_.find(doc);
  return it != leases_.end() && it->second.holder == node && it->second.epoch == epoch && it->second.expires_ms > now_ms;
}

std::optional<DocLease> LeaseRegister::lease(std::uint32_t doc) const {
  auto it = leases_.find(doc);
  if (it == leases_.end()) return std::nullopt;
  return it->second;
}

void HomeView::update(const LeaseTable& table) {
  store_now_ms_ = table.store_now_ms;
  leases_.clear();
  for (const auto& [doc, l] : table.leases) leases_[doc] = l;
}

std::optional<DocLease> HomeView::lease(std::uint32_t doc) const {
  auto it = leases_.find(doc);
  if (it == leases_.end()) return std::nullopt;
  return it->second;
}

std::optional<NodeId> HomeView::home(std::uint32_t doc) const {
  auto it = leases_.find(doc);
  if (it == leases_.end() || it->second.expires_ms <= store_now_ms_) return std::nullopt;
  return it->second.holder;
}

std::optional<std::uint64_t> HomeView::held_epoch(std::uint32_t doc) const {
  auto it = leases_.find(doc);
  if (it == leases_.end() || it->second.holder != self_ || it->second.expires_ms <= store_now_ms_) return std::nullopt;
  return it->second.epoch;
}

}  // namespace convlab
