// The scenario loader's `faults` and `random_faults` sections (sim/scenario_parts.hpp).
#include "sim/scenario_parts.hpp"

#include <algorithm>
#include <array>
#include <set>
#include <span>
#include <string_view>

namespace convlab::sim::loader {

namespace {

// --- node names ----------------------------------------------------------------------------

enum class NodeKind { kClient, kServer, kDb, kBus };

struct NodeName {
  NodeKind kind = NodeKind::kDb;
  std::int64_t index = 0;
};

std::optional<NodeName> parse_node_name(std::string_view s) {
  if (s == "db") return NodeName{NodeKind::kDb, 0};
  if (s == "bus") return NodeName{NodeKind::kBus, 0};
  auto indexed = [&](std::string_view prefix, NodeKind kind) -> std::optional<NodeName> {
    if (s.substr(0, prefix.size()) != prefix) return std::nullopt;
    const std::string_view digits = s.substr(prefix.size());
    if (digits.empty() || digits.size() > 9) return std::nullopt;
    if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
    return NodeName{kind, *parse_int(digits)};
  };
  if (auto c = indexed("client:", NodeKind::kClient)) return c;
  return indexed("server:", NodeKind::kServer);
}

constexpr std::array<EnumName<FaultKind>, 8> kFaultKinds{{{"partition", FaultKind::kPartition},
                                                          {"crash", FaultKind::kCrash},
                                                          {"clock_offset", FaultKind::kClockOffset},
                                                          {"clock_drift", FaultKind::kClockDrift},
                                                          {"offline", FaultKind::kOffline},
                                                          {"disconnect", FaultKind::kDisconnect},
                                                          {"revoke", FaultKind::kRevoke},
                                                          {"flaky", FaultKind::kFlaky}}};
bool get_node(Ctx& ctx, const YAML::Node& n, const Here& at, std::span<const NodeKind> kinds, const char* allowed,
              std::string& out, std::vector<Ref>& refs) {
  if (!n.IsScalar()) {
    ctx.fail(at, std::string("expected a node name (") + allowed + "), got " + kind_of(n));
    return false;
  }
  const std::string& s = n.Scalar();
  const auto name = parse_node_name(s);
  if (!name) {
    ctx.fail(at, quote(s) + " is not a node name (allowed: client:N, server:N, db, bus)");
    return false;
  }
  if (std::find(kinds.begin(), kinds.end(), name->kind) == kinds.end()) {
    ctx.fail(at, quote(s) + " cannot be used here (allowed: " + allowed + ")");
    return false;
  }
  if (name->kind == NodeKind::kClient) refs.push_back(Ref{Ref::Kind::kClient, name->index, at, s});
  if (name->kind == NodeKind::kServer) refs.push_back(Ref{Ref::Kind::kServer, name->index, at, s});
  out = s;
  return true;
}

}  // namespace

void parse_fault(Ctx& ctx, const YAML::Node& n, const Here& at, FaultSpec& f, std::vector<Ref>& refs) {
  static constexpr std::array<std::string_view, 12> all{"kind",    "at_s",   "at_ms",  "for_s", "for_ms",
                                                        "groups",  "one_way", "target", "value", "loss",
                                                        "dup",     "reorder"};
  auto es = entries(ctx, n, at, all, "a fault mapping like {at_s: 10, kind: crash, target: server:0}");
  if (!es) return;
  auto kind_entry = std::find_if(es->begin(), es->end(), [](const Entry& e) { return e.key == "kind"; });
  if (kind_entry == es->end()) {
    ctx.fail(Here{at.line, at.col, at.path + ".kind"},
             "required key is missing (allowed: partition, crash, clock_offset, clock_drift, offline, disconnect, revoke, flaky)");
    return;
  }
  if (!get_enum(ctx, kind_entry->value, kind_entry->at, kFaultKinds, f.kind)) return;

  // Which keys apply to which kind: a `groups` on a crash is a mistake worth naming.
  std::vector<std::string_view> allowed{"kind", "at_s", "at_ms", "for_s", "for_ms"};
  std::vector<NodeKind> targets;
  const char* target_text = "";
  bool needs_value = false;
  switch (f.kind) {
    case FaultKind::kPartition:
      allowed.insert(allowed.end(), {"groups", "one_way"});
      break;
    case FaultKind::kCrash:
      allowed.push_back("target");
      targets = {NodeKind::kServer, NodeKind::kDb};
      target_text = "server:N, db";
      break;
    case FaultKind::kClockOffset:
    case FaultKind::kClockDrift:
      allowed.insert(allowed.end(), {"target", "value"});
      targets = {NodeKind::kClient, NodeKind::kServer};
      target_text = "client:N, server:N";
      needs_value = true;
      break;
    case FaultKind::kOffline:
    case FaultKind::kDisconnect:
    case FaultKind::kRevoke:
      allowed.push_back("target");
      targets = {NodeKind::kClient};
      target_text = "client:N";
      break;
    case FaultKind::kFlaky:
      allowed.insert(allowed.end(), {"loss", "dup", "reorder"});
      break;
  }
  const std::string kind_name(kFaultKinds[static_cast<std::size_t>(f.kind)].name);
  bool has_target = false;
  bool has_value = false;
  bool has_groups = false;
  bool probs_ok = true;
  for (const Entry& e : *es) {
    if (std::find(allowed.begin(), allowed.end(), e.key) == allowed.end()) {
      ctx.fail(e.key_at, "does not apply to kind " + kind_name + " (allowed: " + join(allowed) + ")");
      continue;
    }
    bool s = false;
    if (is_time_key(e.key, "at", s)) {
      if (get_time(ctx, e.value, e.at, s, 0, kTimeMaxMs, f.at_ms)) {
        refs.push_back(Ref{Ref::Kind::kBeforeDuration, f.at_ms, e.at, e.value.Scalar()});
      }
    } else if (is_time_key(e.key, "for", s)) {
      get_time(ctx, e.value, e.at, s, 0, kTimeMaxMs, f.for_ms);
    } else if (e.key == "one_way") {
      get_bool(ctx, e.value, e.at, f.one_way);
    } else if (e.key == "target") {
      has_target = true;
      get_node(ctx, e.value, e.at, targets, target_text, f.target, refs);
    } else if (e.key == "value") {
      has_value = true;
      const std::int64_t limit = f.kind == FaultKind::kClockDrift ? kDriftPpmMax : kTimeMaxMs;
      get_int(ctx, e.value, e.at, -limit, limit, f.value);
    } else if (e.key == "loss") {
      probs_ok = get_prob(ctx, e.value, e.at, f.loss) && probs_ok;
    } else if (e.key == "dup") {
      probs_ok = get_prob(ctx, e.value, e.at, f.dup) && probs_ok;
    } else if (e.key == "reorder") {
      probs_ok = get_prob(ctx, e.value, e.at, f.reorder) && probs_ok;
    } else if (e.key == "groups") {
      has_groups = true;
      if (!e.value.IsSequence() || e.value.size() < 2) {
        ctx.fail(e.at, "expected at least two groups of node names like [[server:0], [server:1, db]], got " +
                           (e.value.IsSequence() ? std::to_string(e.value.size()) + " group(s)" : kind_of(e.value)));
        continue;
      }
      static constexpr std::array<NodeKind, 4> any{NodeKind::kClient, NodeKind::kServer, NodeKind::kDb,
                                                   NodeKind::kBus};
      std::set<std::string> seen;
      f.groups.clear();
      for (std::size_t g = 0; g < e.value.size(); ++g) {
        const YAML::Node group = e.value[g];
        const Here gat = here_of(group, e.at, e.at.path + "[" + std::to_string(g) + "]");
        if (!group.IsSequence() || group.size() == 0) {
          ctx.fail(gat, "expected a non-empty list of node names, got " +
                            (group.IsSequence() ? std::string("an empty list") : kind_of(group)));
          continue;
        }
        std::vector<std::string> names;
        for (std::size_t i = 0; i < group.size(); ++i) {
          const YAML::Node item = group[i];
          const Here iat = here_of(item, gat, gat.path + "[" + std::to_string(i) + "]");
          std::string name;
          if (!get_node(ctx, item, iat, any, "client:N, server:N, db, bus", name, refs)) continue;
          if (!seen.insert(name).second) {
            ctx.fail(iat, name + " is in more than one place in the partition");
            continue;
          }
          names.push_back(name);
        }
        f.groups.push_back(std::move(names));
      }
    }
  }
  if (f.kind == FaultKind::kPartition) {
    if (!has_groups) ctx.fail(Here{at.line, at.col, at.path + ".groups"}, "required for a partition");
    if (f.one_way && has_groups && f.groups.size() != 2) {
      ctx.fail(Here{at.line, at.col, at.path + ".one_way"}, "a one-way partition needs exactly two groups (from, to)");
    }
  }
  if (f.kind == FaultKind::kFlaky && probs_ok && f.loss <= 0 && f.dup <= 0 && f.reorder <= 0) {
    ctx.fail(at, "a flaky fault needs at least one of loss, dup, reorder above 0");
  }
  if (!targets.empty() && !has_target) {
    ctx.fail(Here{at.line, at.col, at.path + ".target"},
             "required for kind " + kind_name + " (allowed: " + target_text + ")");
  }
  if (needs_value && !has_value) {
    ctx.fail(Here{at.line, at.col, at.path + ".value"},
             std::string("required for kind ") + kind_name +
                 (f.kind == FaultKind::kClockDrift ? " (drift in ppm)" : " (offset in ms)"));
  }
}


void apply_random_faults(Ctx& ctx, const YAML::Node& n, const Here& at, RandomFaults& rf, Origins& org) {
  static constexpr std::array<std::string_view, 6> keys{"count",       "kinds",           "duration_ms",
                                                        "duration_s",  "clock_offset_max_ms", "clock_offset_max_s"};
  auto es = entries(ctx, n, at, keys);
  if (!es) return;
  for (const Entry& e : *es) {
    bool s = false;
    if (e.key == "count") {
      if (get_uint(ctx, e.value, e.at, 0, kRandomFaultsMax, rf.count)) org.random_count = e.at;
    } else if (e.key == "kinds") {
      if (!e.value.IsSequence()) {
        ctx.fail(e.at, "expected a list of fault kinds (allowed: partition, crash, clock_offset, clock_drift, offline, disconnect, revoke, flaky), got " +
                           kind_of(e.value));
        continue;
      }
      std::vector<FaultKind> kinds;
      bool good = true;
      for (std::size_t i = 0; i < e.value.size(); ++i) {
        const YAML::Node item = e.value[i];
        const Here iat = here_of(item, e.at, e.at.path + "[" + std::to_string(i) + "]");
        FaultKind k{};
        if (!get_enum(ctx, item, iat, kFaultKinds, k)) {
          good = false;
          continue;
        }
        if (std::find(kinds.begin(), kinds.end(), k) != kinds.end()) {
          ctx.fail(iat, "kind " + item.Scalar() + " is listed twice");
          good = false;
          continue;
        }
        kinds.push_back(k);
      }
      if (good) rf.kinds = std::move(kinds);
    } else if (is_time_key(e.key, "duration", s)) {
      get_range(ctx, e.value, e.at, s, 0, kTimeMaxMs, rf.duration_ms);
    } else if (is_time_key(e.key, "clock_offset_max", s)) {
      get_time(ctx, e.value, e.at, s, 0, kTimeMaxMs, rf.clock_offset_max_ms);
    }
  }
}


}  // namespace convlab::sim::loader
