#pragma once
// The server policies (server/core/policies.hpp) as keys of a YAML mapping: a scenario's
// `servers` section and convlab-server's `policies` section both read them here, so each key,
// value and range is spelled, checked and reported the same in both files.
#include "server/core/policies.hpp"
#include "yamlkit/kit.hpp"

#include <span>
#include <string_view>

namespace convlab::yamlkit {

// Every policy's keys in the table's order (a time: KEY_ms, then KEY_s).
std::span<const std::string_view> policy_keys();

// When `e` names a policy, reads its value into `out` (or reports the problem) and returns
// true; false when the key is none of the policies' (the caller's own key).
bool apply_policy(Ctx& ctx, const Entry& e, NodePolicies& out);

}  // namespace convlab::yamlkit
