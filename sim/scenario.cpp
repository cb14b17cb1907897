// Scenario loader: YAML text in, a validated Scenario or one error line per problem out.
//
// How it works: `world` is applied on top of a default WorldConfig, then each variant's mapping
// is applied on top of a copy of that, by the same code, so "only the keys present overwrite"
// and "nested mappings merge" hold by construction. Checks that span several keys (node names
// against the counts, times against the duration) can only be made once a variant is fully
// merged, so the parsers record where each such value was written (`Ref`) and every variant is
// checked at the end.
//
// The parts: the YAML kit (yamlkit/kit.hpp), the `world` section (sim/scenario_world.cpp), the
// `faults` sections (sim/scenario_faults.cpp); here the top level and the expectations.
//
// Nothing throws out of the loader: yaml-cpp's exceptions are caught at the edge, and every
// scalar is converted by hand (std::from_chars) so that "abc", "3" in quotes, or "2.5" where an
// integer is needed each get their own precise message instead of a BadConversion.
#include "sim/scenario.hpp"

#include "reports/checkers.hpp"
#include "server/strategies/registry.hpp"
#include "sim/calibration.hpp"
#include "sim/scenario_parts.hpp"
#include "yamlkit/guarded.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <exception>
#include <filesystem>
#include <optional>
#include <string_view>
#include <utility>

namespace convlab::sim {
namespace {

using namespace loader;  // NOLINT(google-build-using-namespace): the loader's own kit

// --- expectations --------------------------------------------------------------------------

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0u : 1u)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string unknown_metric(const std::string& name) {
  const std::vector<std::string>& names = reports::metric_names();
  std::vector<std::pair<std::size_t, std::string>> close;
  const std::size_t limit = std::max<std::size_t>(3, name.size() / 3);
  for (const std::string& m : names) {
    std::size_t d = edit_distance(name, m);
    if (m.size() > name.size() && m.compare(0, name.size(), name) == 0 && m[name.size()] == '.') d = 1;
    if (d <= limit) close.emplace_back(d, m);
  }
  std::sort(close.begin(), close.end());
  std::string out = "unknown metric " + quote(name) + " (";
  if (!close.empty()) {
    out += "close: ";
    for (std::size_t i = 0; i < close.size() && i < 4; ++i) out += (i ? ", " : "") + close[i].second;
    out += "; ";
  }
  return out + "`convlab validate --metrics` lists them all)";
}

// The allowed quantifiers, for error messages.
constexpr const char* kQuantifiers = "mean (the default), all, any, min, max";

std::string comparison_problem(const std::string& text) {
  // A leading word that is not a quantifier gets its own message; anything else is malformed.
  std::string_view v = text;
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  std::size_t n = 0;
  while (n < v.size() && (std::isalpha(static_cast<unsigned char>(v[n])) || v[n] == '_')) ++n;
  const std::string word(v.substr(0, n));
  if (!word.empty() && word != "mean" && word != "all" && word != "any" && word != "min" && word != "max") {
    return "unknown quantifier " + quote(word) + " in " + quote(text) + " (quantifiers: " + kQuantifiers +
           "; e.g. \"all == 0\")";
  }
  return "malformed comparison " + quote(text) +
         ": expected \"OP NUMBER\" like \">= 1000\" (operators: <, <=, ==, !=, >=, >), optionally after a "
         "quantifier over seeds like \"all >= 1\" (quantifiers: " +
         kQuantifiers + ")";
}

void parse_expect(Ctx& ctx, const YAML::Node& n, const Here& at, Scenario& sc, bool strategies_given) {
  auto variants = entries(ctx, n, at, {}, "a mapping of variant -> strategy -> metric -> \"OP NUMBER\"");
  if (!variants) return;
  std::vector<std::string_view> variant_names;
  for (const Variant& v : sc.variants) variant_names.push_back(v.name);
  for (const Entry& ve : *variants) {
    if (std::find(variant_names.begin(), variant_names.end(), ve.key) == variant_names.end()) {
      ctx.fail(ve.key_at, "no variant " + quote(ve.key) + " (variants: " + join(variant_names) + ")");
      continue;
    }
    auto strategies = entries(ctx, ve.value, ve.at, {}, "a mapping of strategy (or \"*\") -> metric -> \"OP NUMBER\"");
    if (!strategies) continue;
    for (const Entry& se : *strategies) {
      if (se.key != "*") {
        if (find_strategy(se.key) == nullptr) {
          ctx.fail(se.key_at, "unknown strategy " + quote(se.key) + " (known: " + strategy_names() + ", or \"*\" for all)");
          continue;
        }
        if (strategies_given && std::find(sc.strategies.begin(), sc.strategies.end(), se.key) == sc.strategies.end()) {
          std::vector<std::string_view> listed(sc.strategies.begin(), sc.strategies.end());
          ctx.fail(se.key_at, "strategy " + se.key + " is not run by this scenario (strategies: " + join(listed) + ")");
          continue;
        }
      }
      auto metrics = entries(ctx, se.value, se.at, {}, "a mapping of metric -> \"OP NUMBER\"");
      if (!metrics) continue;
      for (const Entry& me : *metrics) {
        const std::vector<std::string>& names = reports::metric_names();
        if (!std::binary_search(names.begin(), names.end(), me.key)) {
          ctx.fail(me.key_at, unknown_metric(me.key));
          continue;
        }
        if (!me.value.IsScalar()) {
          ctx.fail(me.at, "expected a comparison \"[QUANTIFIER] OP NUMBER\" like \">= 1000\" or \"all == 0\", got " +
                              kind_of(me.value));
          continue;
        }
        const auto cmp = parse_comparison(me.value.Scalar());
        if (!cmp) {
          ctx.fail(me.at, comparison_problem(me.value.Scalar()));
          continue;
        }
        Expectation x;
        x.variant = ve.key;
        x.strategy = se.key;
        x.metric = me.key;
        x.quantifier = cmp->quantifier;
        x.op = cmp->op;
        x.value = cmp->value;
        x.where = ctx.where(me.at);
        x.text = me.value.Scalar();
        sc.expectations.push_back(std::move(x));
      }
    }
  }
}

// --- top level -----------------------------------------------------------------------------

// `calibration: FILE` (a fragment `convlab calibrate` wrote; relative paths from the scenario's
// directory) applied to `base`. A problem inside the fragment comes back as the fragment's own
// FILE:LINE:COLUMN lines; a path that does not lead to a file is a problem of the scenario.
std::optional<Error> include_calibration(Ctx& ctx, const Entry& e, const std::string& file, WorldConfig& base) {
  std::string rel;
  if (!get_string(ctx, e.value, e.at, rel)) return std::nullopt;
  if (rel.empty()) {
    ctx.fail(e.at, "expected the path of a calibration fragment (`convlab calibrate --out FILE` writes one), got \"\"");
    return std::nullopt;
  }
  std::filesystem::path p(rel);
  if (p.is_relative()) p = std::filesystem::path(file).parent_path() / p;
  const std::string path = p.lexically_normal().string();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    ctx.fail(e.at, "no calibration fragment at " + quote(path) + " (`convlab calibrate --out FILE` writes one)");
    return std::nullopt;
  }
  auto c = load_calibration(path);
  if (!c) return c.error();
  apply_calibration(*c, base);
  base.calibration = path;
  return std::nullopt;
}

Result<Scenario> parse_impl(const std::string& text, const std::string& file) {
  Ctx ctx(file);
  const std::optional<YAML::Node> loaded = load_text(ctx, text);
  if (!loaded) return ctx.error();
  const YAML::Node& root = *loaded;
  const Here top{0, 0, ""};
  if (!root.IsMap()) {
    ctx.fail(here_of(root, top, "(top level)"),
             "expected a scenario: a mapping with name, world, variants and expect, got " + kind_of(root));
    return ctx.error();
  }
  static constexpr std::array<std::string_view, 9> keys{"name",  "row",      "description", "strategies", "seeds",
                                                        "world", "variants", "expect",      "calibration"};
  auto es = entries(ctx, root, here_of(root, top, ""), keys);
  if (!es) return ctx.error();
  auto find = [&](std::string_view key) -> const Entry* {
    for (const Entry& e : *es) {
      if (e.key == key) return &e;
    }
    return nullptr;
  };
  const Here root_at = here_of(root, top, "");

  Scenario sc;
  sc.file = file;
  if (const Entry* e = find("name")) {
    if (get_string(ctx, e->value, e->at, sc.name) && sc.name.empty()) ctx.fail(e->at, "must not be empty");
  } else {
    ctx.fail(Here{root_at.line, root_at.col, "name"}, "required key is missing");
  }
  if (const Entry* e = find("row")) get_uint(ctx, e->value, e->at, 1, kRowMax, sc.row);
  if (const Entry* e = find("description")) get_string(ctx, e->value, e->at, sc.description);
  if (const Entry* e = find("seeds")) get_uint(ctx, e->value, e->at, 1, kSeedsMax, sc.seeds);

  const Entry* strategies = find("strategies");
  if (strategies != nullptr) {
    const YAML::Node& list = strategies->value;
    if (!list.IsSequence() || list.size() == 0) {
      ctx.fail(strategies->at, "expected a non-empty list of strategies (known: " + strategy_names() + "), got " +
                                   (list.IsSequence() ? std::string("an empty list") : kind_of(list)));
    } else {
      for (std::size_t i = 0; i < list.size(); ++i) {
        const YAML::Node item = list[i];
        const Here iat = here_of(item, strategies->at, strategies->at.path + "[" + std::to_string(i) + "]");
        if (!item.IsScalar() || find_strategy(item.Scalar()) == nullptr) {
          ctx.fail(iat, "unknown strategy " + (item.IsScalar() ? quote(item.Scalar()) : kind_of(item)) +
                            " (known: " + strategy_names() + ")");
          continue;
        }
        if (std::find(sc.strategies.begin(), sc.strategies.end(), item.Scalar()) != sc.strategies.end()) {
          ctx.fail(iat, "strategy " + item.Scalar() + " is listed twice");
          continue;
        }
        sc.strategies.push_back(item.Scalar());
      }
    }
  } else {
    for (const Strategy* s : convlab::strategies()) sc.strategies.emplace_back(s->name);
  }

  WorldConfig base;
  Origins base_origins;
  // The measured costs go under the world: what the world or a variant writes replaces them.
  if (const Entry* e = find("calibration")) {
    if (auto fragment_error = include_calibration(ctx, *e, file, base)) return *fragment_error;
  }
  if (const Entry* e = find("world")) {
    if (!e->value.IsNull()) apply_world(ctx, e->value, e->at, base, base_origins);
  }

  std::vector<Origins> origins;
  if (const Entry* e = find("variants")) {
    auto vs = entries(ctx, e->value, e->at, {}, "a mapping of variant name -> overrides of world");
    if (vs && e->value.size() == 0) ctx.fail(e->at, "at least one variant is needed, e.g. naive: {} and fix: {...}");
    if (vs) {
      for (const Entry& ve : *vs) {
        if (ve.key.empty()) {
          ctx.fail(ve.key_at, "a variant needs a name");
          continue;
        }
        Variant v{ve.key, base};
        Origins org = base_origins;
        // `fix:` with nothing after it: a variant that is the base world as it is.
        if (!ve.value.IsNull()) apply_world(ctx, ve.value, ve.at, v.config, org);
        sc.variants.push_back(std::move(v));
        origins.push_back(std::move(org));
      }
    }
  } else {
    ctx.fail(Here{root_at.line, root_at.col, "variants"},
             "required key is missing: at least one variant, e.g. variants: {naive: {}}");
  }
  // Cross-key checks only on values that parsed: otherwise a bad count would cascade.
  if (ctx.ok()) {
    for (std::size_t i = 0; i < sc.variants.size(); ++i) check_variant(ctx, sc.variants[i], origins[i]);
  }
  if (const Entry* e = find("expect")) parse_expect(ctx, e->value, e->at, sc, strategies != nullptr);

  if (!ctx.ok()) return ctx.error();
  return sc;
}

}  // namespace

Result<Scenario> parse_scenario(const std::string& yaml_text, const std::string& file) {
  return guarded_parse<Scenario>(file, [&] { return parse_impl(yaml_text, file); });
}

Result<Scenario> load_scenario(const std::string& path) {
  auto text = read_text(path, kFileMaxBytes);
  if (!text) return text.error();
  return parse_scenario(*text, path);
}

bool compare(double actual, CompareOp op, double expected) {
  switch (op) {
    case CompareOp::kLt:
      return actual < expected;
    case CompareOp::kLe:
      return actual <= expected;
    case CompareOp::kEq:
      return actual == expected;
    case CompareOp::kNe:
      return actual != expected;
    case CompareOp::kGe:
      return actual >= expected;
    case CompareOp::kGt:
      return actual > expected;
  }
  return false;
}

std::optional<Comparison> parse_comparison(std::string_view s) {
  auto trim = [](std::string_view& v) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  };
  trim(s);
  Comparison c;
  static constexpr std::array<std::pair<std::string_view, Quantifier>, 5> quantifiers{{{"mean", Quantifier::kMean},
                                                                                       {"all", Quantifier::kAll},
                                                                                       {"any", Quantifier::kAny},
                                                                                       {"min", Quantifier::kMin},
                                                                                       {"max", Quantifier::kMax}}};
  for (const auto& [word, q] : quantifiers) {
    if (s.substr(0, word.size()) != word) continue;
    c.quantifier = q;
    s.remove_prefix(word.size());
    trim(s);
    break;
  }
  static constexpr std::array<std::pair<std::string_view, CompareOp>, 6> ops{{{"<=", CompareOp::kLe},
                                                                              {">=", CompareOp::kGe},
                                                                              {"==", CompareOp::kEq},
                                                                              {"!=", CompareOp::kNe},
                                                                              {"<", CompareOp::kLt},
                                                                              {">", CompareOp::kGt}}};
  for (const auto& [text, op] : ops) {
    if (s.substr(0, text.size()) != text) continue;
    std::string_view rest = s.substr(text.size());
    trim(rest);
    const auto v = parse_double(rest);
    if (!v) return std::nullopt;
    c.op = op;
    c.value = *v;
    return c;
  }
  return std::nullopt;
}

const char* quantifier_text(Quantifier q) {
  switch (q) {
    case Quantifier::kMean:
      return "mean";
    case Quantifier::kMin:
      return "min";
    case Quantifier::kMax:
      return "max";
    case Quantifier::kAll:
      return "all";
    case Quantifier::kAny:
      return "any";
  }
  return "?";
}

const char* op_text(CompareOp op) {
  switch (op) {
    case CompareOp::kLt:
      return "<";
    case CompareOp::kLe:
      return "<=";
    case CompareOp::kEq:
      return "==";
    case CompareOp::kNe:
      return "!=";
    case CompareOp::kGe:
      return ">=";
    case CompareOp::kGt:
      return ">";
  }
  return "?";
}

}  // namespace convlab::sim