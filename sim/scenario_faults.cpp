// The scenario loader's `faults` and `random_faults` sections (sim/scenario_parts.hpp). Which
// kinds exist, which keys each takes, what its target may name, what its value is and its own
// checks all come from the table of fault kinds (faults/kinds.hpp); this file reads the keys
// and words the problems.
#include "faults/kinds.hpp"
#include "sim/scenario_parts.hpp"

#include <algorithm>
#include <set>
#include <span>
#include <string_view>

namespace convlab::sim::loader {

namespace {

// --- node names ----------------------------------------------------------------------------

struct NodeName {
  std::uint8_t kind = faults::kDbNode;  // one of faults::NodeKinds
  std::int64_t index = 0;
};

std::optional<NodeName> parse_node_name(std::string_view s) {
  if (s == "db") return NodeName{faults::kDbNode, 0};
  if (s == "bus") return NodeName{faults::kBusNode, 0};
  auto indexed = [&](std::string_view prefix, std::uint8_t kind) -> std::optional<NodeName> {
    if (s.substr(0, prefix.size()) != prefix) return std::nullopt;
    const std::string_view digits = s.substr(prefix.size());
    if (digits.empty() || digits.size() > 9) return std::nullopt;
    if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
    return NodeName{kind, *parse_int(digits)};
  };
  if (auto c = indexed("client:", faults::kClientNode)) return c;
  return indexed("server:", faults::kServerNode);
}

constexpr std::uint8_t kAnyNode = faults::kClientNode | faults::kServerNode | faults::kDbNode | faults::kBusNode;

// "client:N, server:N, db, bus", or the part of it `kinds` allows.
std::string nodes_text(std::uint8_t kinds) {
  std::string out;
  const auto add = [&](std::uint8_t bit, const char* text) {
    if ((kinds & bit) == 0) return;
    if (!out.empty()) out += ", ";
    out += text;
  };
  add(faults::kClientNode, "client:N");
  add(faults::kServerNode, "server:N");
  add(faults::kDbNode, "db");
  add(faults::kBusNode, "bus");
  return out;
}

// A node name for a fault: parsed here, checked against the counts per variant (Ref).
bool get_node(Ctx& ctx, const YAML::Node& n, const Here& at, std::uint8_t kinds, std::string& out,
              std::vector<Ref>& refs) {
  const std::string allowed = nodes_text(kinds);
  if (!n.IsScalar()) {
    ctx.fail(at, "expected a node name (" + allowed + "), got " + kind_of(n));
    return false;
  }
  const std::string& s = n.Scalar();
  const auto name = parse_node_name(s);
  if (!name) {
    ctx.fail(at, quote(s) + " is not a node name (allowed: " + nodes_text(kAnyNode) + ")");
    return false;
  }
  if ((name->kind & kinds) == 0) {
    ctx.fail(at, quote(s) + " cannot be used here (allowed: " + allowed + ")");
    return false;
  }
  if (name->kind == faults::kClientNode) refs.push_back(Ref{Ref::Kind::kClient, name->index, at, s});
  if (name->kind == faults::kServerNode) refs.push_back(Ref{Ref::Kind::kServer, name->index, at, s});
  out = s;
  return true;
}

// --- the table, as the loader reads it -----------------------------------------------------

constexpr std::array<std::string_view, 5> kEveryKindKeys{"kind", "at_s", "at_ms", "for_s", "for_ms"};

// Every key a fault may have: those of every kind, then each kind's own in table order.
const std::vector<std::string_view>& all_keys() {
  static const std::vector<std::string_view> keys = [] {
    std::vector<std::string_view> k(kEveryKindKeys.begin(), kEveryKindKeys.end());
    for (const faults::KindInfo& kind : faults::kinds()) {
      for (std::string_view key : kind.keys) {
        if (std::find(k.begin(), k.end(), key) == k.end()) k.push_back(key);
      }
    }
    return k;
  }();
  return keys;
}

const std::vector<EnumName<FaultKind>>& kind_names() {
  static const std::vector<EnumName<FaultKind>> names = [] {
    std::vector<EnumName<FaultKind>> out;
    for (const faults::KindInfo& kind : faults::kinds()) out.push_back({kind.name, kind.kind});
    return out;
  }();
  return names;
}

bool get_kind(Ctx& ctx, const YAML::Node& n, const Here& at, FaultKind& out) {
  return get_enum(ctx, n, at, std::span<const EnumName<FaultKind>>(kind_names()), out);
}

}  // namespace

void parse_fault(Ctx& ctx, const YAML::Node& n, const Here& at, FaultSpec& f, std::vector<Ref>& refs) {
  auto es = entries(ctx, n, at, all_keys(), "a fault mapping like {at_s: 10, kind: crash, target: server:0}");
  if (!es) return;
  auto kind_entry = std::find_if(es->begin(), es->end(), [](const Entry& e) { return e.key == "kind"; });
  if (kind_entry == es->end()) {
    ctx.fail(Here{at.line, at.col, at.path + ".kind"}, "required key is missing (allowed: " + faults::names_list() + ")");
    return;
  }
  if (!get_kind(ctx, kind_entry->value, kind_entry->at, f.kind)) return;
  f.where = ctx.where(at);

  // Which keys apply to which kind: a `groups` on a crash is a mistake worth naming.
  const faults::KindInfo& kind = faults::info(f.kind);
  std::vector<std::string_view> allowed(kEveryKindKeys.begin(), kEveryKindKeys.end());
  allowed.insert(allowed.end(), kind.keys.begin(), kind.keys.end());
  const std::string kind_name(kind.name);
  faults::Given given;
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
      given.target = true;
      get_node(ctx, e.value, e.at, kind.targets, f.target, refs);
    } else if (e.key == "value") {
      given.value = true;
      const std::int64_t limit = kind.value == faults::ValueUnit::kDriftPpm ? kDriftPpmMax : kTimeMaxMs;
      get_int(ctx, e.value, e.at, -limit, limit, f.value);
    } else if (e.key == "loss") {
      given.probabilities_parsed = get_prob(ctx, e.value, e.at, f.loss) && given.probabilities_parsed;
    } else if (e.key == "dup") {
      given.probabilities_parsed = get_prob(ctx, e.value, e.at, f.dup) && given.probabilities_parsed;
    } else if (e.key == "reorder") {
      given.probabilities_parsed = get_prob(ctx, e.value, e.at, f.reorder) && given.probabilities_parsed;
    } else if (e.key == "groups") {
      given.groups = true;
      if (!e.value.IsSequence() || e.value.size() < 2) {
        ctx.fail(e.at, "expected at least two groups of node names like [[server:0], [server:1, db]], got " +
                           (e.value.IsSequence() ? std::to_string(e.value.size()) + " group(s)" : kind_of(e.value)));
        continue;
      }
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
          if (!get_node(ctx, item, iat, kAnyNode, name, refs)) continue;
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
  // The kind's own checks, placed at the fault (the key they are about in the path).
  if (kind.check != nullptr) {
    std::vector<faults::Problem> problems;
    kind.check(f, given, problems);
    for (const faults::Problem& p : problems) {
      ctx.fail(Here{at.line, at.col, p.key.empty() ? at.path : at.path + "." + std::string(p.key)}, p.text);
    }
  }
  if (kind.targets != faults::kNoNode && !given.target) {
    ctx.fail(Here{at.line, at.col, at.path + ".target"},
             "required for kind " + kind_name + " (allowed: " + nodes_text(kind.targets) + ")");
  }
  if (kind.value != faults::ValueUnit::kNone && !given.value) {
    ctx.fail(Here{at.line, at.col, at.path + ".value"},
             "required for kind " + kind_name +
                 (kind.value == faults::ValueUnit::kDriftPpm ? " (drift in ppm)" : " (offset in ms)"));
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
        ctx.fail(e.at, "expected a list of fault kinds (allowed: " + faults::names_list() + "), got " + kind_of(e.value));
        continue;
      }
      std::vector<FaultKind> kinds;
      bool good = true;
      for (std::size_t i = 0; i < e.value.size(); ++i) {
        const YAML::Node item = e.value[i];
        const Here iat = here_of(item, e.at, e.at.path + "[" + std::to_string(i) + "]");
        FaultKind k{};
        if (!get_kind(ctx, item, iat, k)) {
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
