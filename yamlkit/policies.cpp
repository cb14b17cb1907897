// The server policies' keys (yamlkit/policies.hpp), read through the policy table.
#include "yamlkit/policies.hpp"

#include <string>
#include <vector>

namespace convlab::yamlkit {

std::span<const std::string_view> policy_keys() {
  static const std::vector<std::string> owned = [] {
    std::vector<std::string> out;
    for (const PolicyField& f : policy_fields()) {
      if (f.kind == PolicyField::Kind::kTime) {
        out.push_back(std::string(f.key) + "_ms");
        out.push_back(std::string(f.key) + "_s");
      } else {
        out.emplace_back(f.key);
      }
    }
    return out;
  }();
  static const std::vector<std::string_view> keys(owned.begin(), owned.end());
  return keys;
}

bool apply_policy(Ctx& ctx, const Entry& e, NodePolicies& out) {
  for (const PolicyField& f : policy_fields()) {
    bool seconds = false;
    if (f.kind == PolicyField::Kind::kTime ? !is_time_key(e.key, f.key, seconds) : e.key != f.key) continue;
    switch (f.kind) {
      case PolicyField::Kind::kChoice: {
        std::size_t i = 0;
        if (get_choice(ctx, e.value, e.at, f.choices, i)) f.set(out, static_cast<double>(i));
        break;
      }
      case PolicyField::Kind::kBool: {
        bool v = false;
        if (get_bool(ctx, e.value, e.at, v)) f.set(out, v ? 1 : 0);
        break;
      }
      case PolicyField::Kind::kWhole: {
        std::int64_t v = 0;
        if (get_int(ctx, e.value, e.at, static_cast<std::int64_t>(f.min), static_cast<std::int64_t>(f.max), v)) {
          f.set(out, static_cast<double>(v));
        }
        break;
      }
      case PolicyField::Kind::kTime: {
        std::int64_t ms = 0;
        if (get_time(ctx, e.value, e.at, seconds, static_cast<std::int64_t>(f.min), static_cast<std::int64_t>(f.max),
                     ms)) {
          f.set(out, static_cast<double>(ms));
        }
        break;
      }
      case PolicyField::Kind::kNumber: {
        double v = 0;
        if (get_double(ctx, e.value, e.at, f.min, f.max, v)) f.set(out, v);
        break;
      }
    }
    return true;
  }
  return false;
}

}  // namespace convlab::yamlkit
