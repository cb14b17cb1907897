// The table of the server's policies (policies.hpp).
#include "server/core/policies.hpp"

#include "server/core/assert.hpp"

#include <type_traits>

namespace convlab {

namespace {

template <class E, std::size_t N>
std::string_view name_in(const std::array<std::string_view, N>& names, E v) {
  const auto i = static_cast<std::size_t>(v);
  CONVLAB_ASSERT(i < N);
  return names[i];
}

using P = NodePolicies;
using K = PolicyField::Kind;

// A field read and written as a number; the table's ranges keep every value exact.
template <auto Member>
double get_field(const P& p) {
  return static_cast<double>(p.*Member);
}
template <auto Member>
void set_field(P& p, double v) {
  using T = std::remove_reference_t<decltype(p.*Member)>;
  p.*Member = static_cast<T>(v);
}

const PolicyField kFields[] = {
    {"propagation", K::kChoice, kPropagationNames, 0, 0, get_field<&P::propagation>, set_field<&P::propagation>},
    {"poll_interval", K::kTime, {}, 1, kPolicyTimeMsMax, get_field<&P::poll_interval_ms>, set_field<&P::poll_interval_ms>},
    {"anti_entropy", K::kTime, {}, 0, kPolicyTimeMsMax, get_field<&P::anti_entropy_ms>, set_field<&P::anti_entropy_ms>},
    {"persistence", K::kChoice, kPersistenceNames, 0, 0, get_field<&P::persistence>, set_field<&P::persistence>},
    {"snapshot_interval", K::kTime, {}, 1, kPolicyTimeMsMax, get_field<&P::snapshot_interval_ms>, set_field<&P::snapshot_interval_ms>},
    {"snapshot_every_changes", K::kWhole, {}, 1, 1e9, get_field<&P::snapshot_every_changes>, set_field<&P::snapshot_every_changes>},
    {"ack", K::kChoice, kAckNames, 0, 0, get_field<&P::ack>, set_field<&P::ack>},
    {"catch_up", K::kBool, {}, 0, 1, get_field<&P::catch_up>, set_field<&P::catch_up>},
    {"api_read", K::kChoice, kApiReadNames, 0, 0, get_field<&P::api_read>, set_field<&P::api_read>},
    {"api_cache", K::kChoice, kApiCacheNames, 0, 0, get_field<&P::api_cache>, set_field<&P::api_cache>},
    {"check_revocation", K::kBool, {}, 0, 1, get_field<&P::check_revocation>, set_field<&P::check_revocation>},
    {"rate_limit_per_s", K::kNumber, {}, 0, 1e6, get_field<&P::rate_limit_per_s>, set_field<&P::rate_limit_per_s>},
    {"rate_burst", K::kWhole, {}, 1, 1e6, get_field<&P::rate_burst>, set_field<&P::rate_burst>},
    {"rename", K::kChoice, kRenameNames, 0, 0, get_field<&P::rename>, set_field<&P::rename>},
    {"home", K::kChoice, kHomeNames, 0, 0, get_field<&P::home>, set_field<&P::home>},
    {"lease", K::kTime, {}, 4, 3600 * 1000, get_field<&P::lease_ms>, set_field<&P::lease_ms>},
    {"awareness", K::kChoice, kAwarenessNames, 0, 0, get_field<&P::awareness>, set_field<&P::awareness>},
    {"awareness_interval", K::kTime, {}, 1, 60 * 1000, get_field<&P::awareness_interval_ms>, set_field<&P::awareness_interval_ms>},
    {"awareness_idle", K::kTime, {}, 1, kPolicyTimeMsMax, get_field<&P::awareness_idle_ms>, set_field<&P::awareness_idle_ms>},
    {"bus", K::kChoice, kBusNames, 0, 0, get_field<&P::bus>, set_field<&P::bus>},
    {"bus_recovery", K::kChoice, kBusRecoveryNames, 0, 0, get_field<&P::bus_recovery>, set_field<&P::bus_recovery>},
};

}  // namespace

std::string_view name_of(NodePolicies::Propagation v) { return name_in(kPropagationNames, v); }
std::string_view name_of(NodePolicies::Persistence v) { return name_in(kPersistenceNames, v); }
std::string_view name_of(NodePolicies::Ack v) { return name_in(kAckNames, v); }
std::string_view name_of(NodePolicies::ApiRead v) { return name_in(kApiReadNames, v); }
std::string_view name_of(NodePolicies::ApiCache v) { return name_in(kApiCacheNames, v); }
std::string_view name_of(NodePolicies::Rename v) { return name_in(kRenameNames, v); }
std::string_view name_of(NodePolicies::Home v) { return name_in(kHomeNames, v); }
std::string_view name_of(NodePolicies::Awareness v) { return name_in(kAwarenessNames, v); }
std::string_view name_of(NodePolicies::Bus v) { return name_in(kBusNames, v); }
std::string_view name_of(NodePolicies::BusRecovery v) { return name_in(kBusRecoveryNames, v); }

std::span<const PolicyField> policy_fields() { return kFields; }

}  // namespace convlab
