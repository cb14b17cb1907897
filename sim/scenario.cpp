// Scenario loader: YAML text in, a validated Scenario or one error line per problem out.
//
// How it works: `world` is applied on top of a default WorldConfig, then each variant's mapping
// is applied on top of a copy of that, by the same code, so "only the keys present overwrite"
// and "nested mappings merge" hold by construction. Checks that span several keys (node names
// against the counts, times against the duration) can only be made once a variant is fully
// merged, so the parsers record where each such value was written (`Ref`) and every variant is
// checked at the end.
//
// Nothing throws out of this file: yaml-cpp's exceptions are caught at the edge, and every
// scalar is converted by hand (std::from_chars) so that "abc", "3" in quotes, or "2.5" where an
// integer is needed each get their own precise message instead of a BadConversion.
#include "sim/scenario.hpp"

#include "reports/checkers.hpp"
#include "server/core/utf8.hpp"
#include "server/strategies/registry.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <exception>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
#include <span>
#include <sstream>
#include <string_view>
#include <system_error>
#include <utility>

namespace convlab::sim {
namespace {

// Limits on everything (TigerBeetle style): a typo of a few zeros must not ask the simulator
// for a billion clients or a century of virtual time.
constexpr std::int64_t kTimeMaxMs = 30LL * 24 * 3600 * 1000;  // 30 days
constexpr std::int64_t kClientsMax = 100000;
constexpr std::int64_t kServersMax = 1024;
constexpr std::int64_t kDocsMax = 100000;
constexpr std::int64_t kDriftPpmMax = 1000000;
constexpr std::int64_t kBurstLenMax = 10000;
constexpr std::int64_t kEditLenMax = 100000;
constexpr std::int64_t kSnapshotEveryMax = 1000000000;
constexpr std::int64_t kRandomFaultsMax = 10000;
constexpr std::int64_t kSeedsMax = 100000;
constexpr std::int64_t kRowMax = 1000;
constexpr std::int64_t kScriptPosMax = 1000000000;
constexpr double kRateMultiplierMax = 1e6;
constexpr std::size_t kTextMaxBytes = 1 << 20;
constexpr std::size_t kProblemsMax = 20;
constexpr std::size_t kFileMaxBytes = 16 << 20;

// A place in the file (0-based, as yaml-cpp gives it) and the key path that leads there.
struct Here {
  int line = 0;
  int col = 0;
  std::string path;
};

struct Problem {
  int line = 0;
  int col = 0;
  std::string text;  // "KEY_PATH: problem"
};

class Ctx {
 public:
  explicit Ctx(std::string file) : file_(std::move(file)) {}

  void fail(const Here& at, const std::string& problem) {
    problems_.push_back(Problem{at.line, at.col, at.path + ": " + problem});
  }
  bool ok() const { return problems_.empty(); }
  std::size_t count() const { return problems_.size(); }
  const std::string& file() const { return file_; }

  std::string where(const Here& at) const {
    return file_ + ":" + std::to_string(at.line + 1) + ":" + std::to_string(at.col + 1);
  }

  // One line per problem, in file order, duplicates removed (a base value that is wrong for
  // two variants is reported once per variant only when the messages differ).
  Error error() const {
    std::vector<Problem> sorted = problems_;
    std::stable_sort(sorted.begin(), sorted.end(), [](const Problem& a, const Problem& b) {
      return std::pair(a.line, a.col) < std::pair(b.line, b.col);
    });
    std::string out;
    std::set<std::string> seen;
    std::size_t n = 0;
    for (const Problem& p : sorted) {
      std::string line = where(Here{p.line, p.col, {}}) + ": " + p.text;
      if (!seen.insert(line).second) continue;
      if (n == kProblemsMax) {
        out += "\n" + file_ + ": ... more problems not shown";
        break;
      }
      if (!out.empty()) out += "\n";
      out += line;
      ++n;
    }
    return make_error(out);
  }

 private:
  std::string file_;
  std::vector<Problem> problems_;
};

Here here_of(const YAML::Node& node, const Here& fallback, std::string path) {
  const YAML::Mark m = node.Mark();
  if (m.is_null() || m.line < 0 || m.column < 0) return Here{fallback.line, fallback.col, std::move(path)};
  return Here{m.line, m.column, std::move(path)};
}

std::string kind_of(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return "nothing";
  if (n.IsMap()) return "a mapping";
  if (n.IsSequence()) return "a sequence";
  return "\"" + n.Scalar() + "\"";
}

std::string join(std::span<const std::string_view> items) {
  std::string out;
  for (std::string_view s : items) {
    if (!out.empty()) out += ", ";
    out += s;
  }
  return out;
}

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string fmt_double(double v) {
  // Whole numbers as integers: "must be at most 100000", not "1e+05".
  if (std::fabs(v) < 1e15 && v == std::trunc(v)) return std::to_string(static_cast<std::int64_t>(v));
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  if (r.ec != std::errc()) return "?";
  return std::string(buf, r.ptr);
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// --- scalars -------------------------------------------------------------------------------

std::optional<std::int64_t> parse_int(std::string_view s) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  std::int64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<double> parse_double(std::string_view s) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  double v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

// A plain (unquoted) scalar, or an error saying what was found instead.
bool plain_scalar(Ctx& ctx, const YAML::Node& n, const Here& at, const char* expected) {
  if (!n.IsScalar()) {
    ctx.fail(at, std::string("expected ") + expected + ", got " + kind_of(n));
    return false;
  }
  if (n.Tag() == "!") {  // quoted: "3" is a string, not a number
    ctx.fail(at, std::string("expected ") + expected + ", got the string " + quote(n.Scalar()));
    return false;
  }
  return true;
}

std::string range_problem(double got, double min, double max, const char* unit) {
  const std::string u = unit[0] != '\0' ? std::string(" ") + unit : std::string();
  if (got < min) {
    if (min == 0) return "must not be negative, got " + fmt_double(got) + u;
    return "must be at least " + fmt_double(min) + u + ", got " + fmt_double(got) + u;
  }
  return "must be at most " + fmt_double(max) + u + ", got " + fmt_double(got) + u;
}

bool get_int(Ctx& ctx, const YAML::Node& n, const Here& at, std::int64_t min, std::int64_t max, std::int64_t& out) {
  if (!plain_scalar(ctx, n, at, "an integer")) return false;
  const auto v = parse_int(n.Scalar());
  if (!v) {
    ctx.fail(at, "expected an integer, got " + quote(n.Scalar()));
    return false;
  }
  if (*v < min || *v > max) {
    ctx.fail(at, range_problem(static_cast<double>(*v), static_cast<double>(min), static_cast<double>(max), ""));
    return false;
  }
  out = *v;
  return true;
}

template <class U>
bool get_uint(Ctx& ctx, const YAML::Node& n, const Here& at, std::int64_t min, std::int64_t max, U& out) {
  std::int64_t v = 0;
  if (!get_int(ctx, n, at, min, max, v)) return false;
  out = static_cast<U>(v);
  return true;
}

bool get_double(Ctx& ctx, const YAML::Node& n, const Here& at, double min, double max, double& out) {
  if (!plain_scalar(ctx, n, at, "a number")) return false;
  const auto v = parse_double(n.Scalar());
  if (!v) {
    ctx.fail(at, "expected a number, got " + quote(n.Scalar()));
    return false;
  }
  if (*v < min || *v > max) {
    ctx.fail(at, range_problem(*v, min, max, ""));
    return false;
  }
  out = *v;
  return true;
}

bool get_prob(Ctx& ctx, const YAML::Node& n, const Here& at, double& out) {
  double v = 0;
  if (!plain_scalar(ctx, n, at, "a probability (a number from 0 to 1)")) return false;
  const auto p = parse_double(n.Scalar());
  if (!p) {
    ctx.fail(at, "expected a probability (a number from 0 to 1), got " + quote(n.Scalar()));
    return false;
  }
  v = *p;
  if (v < 0 || v > 1) {
    ctx.fail(at, "probability must be between 0 and 1, got " + fmt_double(v));
    return false;
  }
  out = v;
  return true;
}

// A time: `seconds` for keys ending in _s (decimals allowed, whole milliseconds), otherwise an
// integer of milliseconds. Limits are in milliseconds and reported in the key's own unit.
bool get_time(Ctx& ctx, const YAML::Node& n, const Here& at, bool seconds, std::int64_t min_ms, std::int64_t max_ms,
              std::int64_t& out_ms) {
  if (!seconds) {
    if (!plain_scalar(ctx, n, at, "an integer of milliseconds")) return false;
    const auto v = parse_int(n.Scalar());
    if (!v) {
      ctx.fail(at, "expected an integer of milliseconds, got " + quote(n.Scalar()));
      return false;
    }
    if (*v < min_ms || *v > max_ms) {
      ctx.fail(at, range_problem(static_cast<double>(*v), static_cast<double>(min_ms), static_cast<double>(max_ms), "ms"));
      return false;
    }
    out_ms = *v;
    return true;
  }
  if (!plain_scalar(ctx, n, at, "a number of seconds")) return false;
  const auto v = parse_double(n.Scalar());
  if (!v) {
    ctx.fail(at, "expected a number of seconds, got " + quote(n.Scalar()));
    return false;
  }
  const double min_s = static_cast<double>(min_ms) / 1000.0;
  const double max_s = static_cast<double>(max_ms) / 1000.0;
  if (*v < min_s || *v > max_s) {
    ctx.fail(at, range_problem(*v, min_s, max_s, "s"));
    return false;
  }
  const double ms = *v * 1000.0;
  const double whole = std::round(ms);
  if (std::fabs(ms - whole) > 1e-6) {
    ctx.fail(at, "finer than a millisecond: " + n.Scalar() + " s");
    return false;
  }
  out_ms = static_cast<std::int64_t>(whole);
  return true;
}

bool get_bool(Ctx& ctx, const YAML::Node& n, const Here& at, bool& out) {
  if (!plain_scalar(ctx, n, at, "true or false")) return false;
  const std::string& s = n.Scalar();
  if (s == "true" || s == "True" || s == "TRUE") {
    out = true;
    return true;
  }
  if (s == "false" || s == "False" || s == "FALSE") {
    out = false;
    return true;
  }
  ctx.fail(at, "expected true or false, got " + quote(s));
  return false;
}

template <class E>
struct EnumName {
  std::string_view name;
  E value;
};

template <class E, std::size_t N>
bool get_enum(Ctx& ctx, const YAML::Node& n, const Here& at, const std::array<EnumName<E>, N>& names, E& out) {
  std::array<std::string_view, N> allowed{};
  for (std::size_t i = 0; i < N; ++i) allowed[i] = names[i].name;
  if (!n.IsScalar()) {
    ctx.fail(at, "expected one of " + join(allowed) + ", got " + kind_of(n));
    return false;
  }
  for (const auto& e : names) {
    if (n.Scalar() == e.name) {
      out = e.value;
      return true;
    }
  }
  ctx.fail(at, "unknown value " + quote(n.Scalar()) + " (allowed: " + join(allowed) + ")");
  return false;
}

bool get_string(Ctx& ctx, const YAML::Node& n, const Here& at, std::string& out) {
  if (!n.IsScalar()) {
    ctx.fail(at, "expected a string, got " + kind_of(n));
    return false;
  }
  const std::string& s = n.Scalar();
  if (s.size() > kTextMaxBytes) {
    ctx.fail(at, "longer than " + std::to_string(kTextMaxBytes) + " bytes");
    return false;
  }
  auto decoded = utf8_decode(s);
  if (!decoded) {
    ctx.fail(at, "not valid UTF-8: " + decoded.error().message);
    return false;
  }
  out = s;
  return true;
}

// --- mappings ------------------------------------------------------------------------------

struct Entry {
  std::string key;
  YAML::Node value;
  Here at;      // the value (falls back to the key when the value is empty)
  Here key_at;  // the key
};

// The entries of a mapping in file order. Keys must be scalars, unique, and (when `allowed` is
// not empty) among `allowed`; `x_s` and `x_ms` for the same time may not both be given. Bad
// entries are reported and left out, so the caller can go on and find more problems.
std::optional<std::vector<Entry>> entries(Ctx& ctx, const YAML::Node& map, const Here& at,
                                          std::span<const std::string_view> allowed, const char* what = "a mapping") {
  if (!map.IsMap()) {
    ctx.fail(at, std::string("expected ") + what + ", got " + kind_of(map));
    return std::nullopt;
  }
  std::vector<Entry> out;
  for (auto it = map.begin(); it != map.end(); ++it) {
    const YAML::Node key = it->first;
    const YAML::Node value = it->second;
    const Here key_here = here_of(key, at, at.path);
    if (!key.IsScalar()) {
      ctx.fail(key_here, "a key must be a plain name, got " + kind_of(key));
      continue;
    }
    const std::string name = key.Scalar();
    const std::string path = at.path.empty() ? name : at.path + "." + name;
    const Here key_at{key_here.line, key_here.col, path};
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      ctx.fail(key_at, "unknown key (allowed: " + join(allowed) + ")");
      continue;
    }
    auto dup = std::find_if(out.begin(), out.end(), [&](const Entry& e) { return e.key == name; });
    if (dup != out.end()) {
      ctx.fail(key_at, "duplicate key (first at line " + std::to_string(dup->key_at.line + 1) + ")");
      continue;
    }
    if (ends_with(name, "_s")) {
      const std::string ms = name.substr(0, name.size() - 2) + "_ms";
      if (std::any_of(out.begin(), out.end(), [&](const Entry& e) { return e.key == ms; })) {
        ctx.fail(key_at, "give " + name + " or " + ms + ", not both");
        continue;
      }
    } else if (ends_with(name, "_ms")) {
      const std::string s = name.substr(0, name.size() - 3) + "_s";
      if (std::any_of(out.begin(), out.end(), [&](const Entry& e) { return e.key == s; })) {
        ctx.fail(key_at, "give " + s + " or " + name + ", not both");
        continue;
      }
    }
    // `key:` with nothing after it: yaml-cpp marks the empty value at the next token, often the
    // next line; the key is where the reader should look.
    const Here value_at = value.IsNull() ? key_at : here_of(value, key_at, path);
    out.push_back(Entry{name, value, value_at, key_at});
  }
  return out;
}

// "think" matches think_ms and think_s; sets `seconds` for the latter.
bool is_time_key(const std::string& key, std::string_view base, bool& seconds) {
  if (key.size() == base.size() + 3 && key.compare(0, base.size(), base) == 0 && ends_with(key, "_ms")) {
    seconds = false;
    return true;
  }
  if (key.size() == base.size() + 2 && key.compare(0, base.size(), base) == 0 && ends_with(key, "_s")) {
    seconds = true;
    return true;
  }
  return false;
}

bool get_range(Ctx& ctx, const YAML::Node& n, const Here& at, bool seconds, std::int64_t min_ms, std::int64_t max_ms,
               RangeMs& out) {
  if (!n.IsSequence() || n.size() != 2) {
    ctx.fail(at, std::string("expected a range [min, max] of ") + (seconds ? "seconds" : "milliseconds") + ", got " +
                     (n.IsSequence() ? "a sequence of " + std::to_string(n.size()) : kind_of(n)));
    return false;
  }
  RangeMs r;
  const YAML::Node lo = n[0];
  const YAML::Node hi = n[1];
  const bool a = get_time(ctx, lo, here_of(lo, at, at.path + "[0]"), seconds, min_ms, max_ms, r.min);
  const bool b = get_time(ctx, hi, here_of(hi, at, at.path + "[1]"), seconds, min_ms, max_ms, r.max);
  if (!a || !b) return false;
  if (r.min > r.max) {
    ctx.fail(at, "range has min > max: [" + lo.Scalar() + ", " + hi.Scalar() + "]");
    return false;
  }
  out = r;
  return true;
}

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

// A value whose validity depends on other keys of the merged variant: checked per variant.
struct Ref {
  enum class Kind { kClient, kServer, kBeforeDuration } kind;
  std::int64_t value = 0;
  Here at;
  std::string text;  // as written
};

struct Origins {
  std::vector<Ref> faults;
  std::vector<Ref> overrides;
  std::vector<Ref> script;
  std::optional<Here> random_count;
};

// --- world ---------------------------------------------------------------------------------

constexpr std::array<EnumName<Propagation>, 2> kPropagations{{{"poll", Propagation::kPoll}, {"bus", Propagation::kBus}}};
constexpr std::array<EnumName<Persistence>, 2> kPersistences{
    {{"snapshot", Persistence::kSnapshot}, {"changelog", Persistence::kChangeLog}}};
constexpr std::array<EnumName<Ack>, 2> kAcks{{{"immediate", Ack::kImmediate}, {"after_commit", Ack::kAfterCommit}}};
constexpr std::array<EnumName<Balancer>, 2> kBalancers{
    {{"round_robin", Balancer::kRoundRobin}, {"sticky", Balancer::kSticky}}};
constexpr std::array<EnumName<FaultKind>, 8> kFaultKinds{{{"partition", FaultKind::kPartition},
                                                          {"crash", FaultKind::kCrash},
                                                          {"clock_offset", FaultKind::kClockOffset},
                                                          {"clock_drift", FaultKind::kClockDrift},
                                                          {"offline", FaultKind::kOffline},
                                                          {"disconnect", FaultKind::kDisconnect},
                                                          {"revoke", FaultKind::kRevoke},
                                                          {"flaky", FaultKind::kFlaky}}};
constexpr std::array<EnumName<ApiRead>, 4> kApiReads{{{"replica", ApiRead::kReplica},
                                                      {"primary", ApiRead::kPrimary},
                                                      {"session_primary", ApiRead::kSessionPrimary},
                                                      {"fenced", ApiRead::kFenced}}};
constexpr std::array<EnumName<ApiCache>, 2> kApiCaches{{{"public", ApiCache::kPublic}, {"no_store", ApiCache::kNoStore}}};
constexpr std::array<EnumName<Rename>, 2> kRenames{{{"lww", Rename::kLww}, {"notice", Rename::kNotice}}};
constexpr double kRateLimitMax = 1e6;
constexpr std::int64_t kRateBurstMax = 1000000;
constexpr std::int64_t kWorkUsMax = 60LL * 1000 * 1000;  // a minute of CPU per frame

constexpr std::array<std::string_view, 19> kWorldKeys{
    "duration_s", "duration_ms",      "quiesce_s", "quiesce_ms", "docs",   "initial_text",
    "clients",    "balancer",         "workload",  "clocks",     "client_overrides",
    "servers",    "network",          "database",  "cdn",        "auth",   "faults",
    "random_faults", "script"};

// An optional periodic action: [0, 0] is off; otherwise the shortest pause is at least 1 ms
// (a pause of 0 would repeat the action forever at one instant of virtual time).
void get_period(Ctx& ctx, const Entry& e, bool seconds, RangeMs& out) {
  RangeMs r;
  if (!get_range(ctx, e.value, e.at, seconds, 0, kTimeMaxMs, r)) return;
  if (r.max > 0 && r.min < 1) {
    ctx.fail(e.at, "the shortest pause must be at least 1 ms ([0, 0] turns it off)");
    return;
  }
  out = r;
}

void apply_workload(Ctx& ctx, const YAML::Node& n, const Here& at, Workload& w) {
  static constexpr std::array<std::string_view, 15> keys{
      "think_ms",    "think_s",        "burst_prob",     "burst_len",    "burst_gap_ms", "burst_gap_s",
      "same_paragraph_prob", "insert_prob", "insert_len_max", "delete_len_max", "newline_prob",
      "reload_ms",   "reload_s",       "rename_ms",      "rename_s"};
  auto es = entries(ctx, n, at, keys);
  if (!es) return;
  for (const Entry& e : *es) {
    bool s = false;
    if (is_time_key(e.key, "think", s)) {
      RangeMs r;
      if (get_range(ctx, e.value, e.at, s, 0, kTimeMaxMs, r)) {
        // A think time of 0 would let a client edit forever at one instant of virtual time.
        if (r.min < 1) {
          ctx.fail(e.at, "the shortest think time must be at least 1 ms");
        } else {
          w.think_ms = r;
        }
      }
    } else if (is_time_key(e.key, "burst_gap", s)) {
      get_time(ctx, e.value, e.at, s, 0, kTimeMaxMs, w.burst_gap_ms);
    } else if (is_time_key(e.key, "reload", s)) {
      get_period(ctx, e, s, w.reload_ms);
    } else if (is_time_key(e.key, "rename", s)) {
      get_period(ctx, e, s, w.rename_ms);
    } else if (e.key == "burst_prob") {
      get_prob(ctx, e.value, e.at, w.burst_prob);
    } else if (e.key == "burst_len") {
      get_uint(ctx, e.value, e.at, 1, kBurstLenMax, w.burst_len);
    } else if (e.key == "same_paragraph_prob") {
      get_prob(ctx, e.value, e.at, w.same_paragraph_prob);
    } else if (e.key == "insert_prob") {
      get_prob(ctx, e.value, e.at, w.insert_prob);
    } else if (e.key == "insert_len_max") {
      get_uint(ctx, e.value, e.at, 1, kEditLenMax, w.insert_len_max);
    } else if (e.key == "delete_len_max") {
      get_uint(ctx, e.value, e.at, 1, kEditLenMax, w.delete_len_max);
    } else if (e.key == "newline_prob") {
      get_prob(ctx, e.value, e.at, w.newline_prob);
    }
  }
}

void apply_clocks(Ctx& ctx, const YAML::Node& n, const Here& at, ClockSpec& c) {
  static constexpr std::array<std::string_view, 3> keys{"offset_ms", "offset_s", "drift_ppm_max"};
  auto es = entries(ctx, n, at, keys);
  if (!es) return;
  for (const Entry& e : *es) {
    bool s = false;
    if (is_time_key(e.key, "offset", s)) {
      get_range(ctx, e.value, e.at, s, -kTimeMaxMs, kTimeMaxMs, c.offset_ms);
    } else if (e.key == "drift_ppm_max") {
      get_int(ctx, e.value, e.at, 0, kDriftPpmMax, c.drift_ppm_max);
    }
  }
}

void apply_servers(Ctx& ctx, const YAML::Node& n, const Here& at, ServersSpec& sv) {
  static constexpr std::array<std::string_view, 19> keys{
      "count",     "propagation", "poll_interval_ms", "poll_interval_s", "anti_entropy_ms", "anti_entropy_s",
      "persistence", "snapshot_interval_s",
      "snapshot_interval_ms", "snapshot_every_changes", "ack", "catch_up", "api_read", "api_cache",
      "check_revocation", "rate_limit_per_s", "rate_burst", "work_us_per_msg", "rename"};
  auto es = entries(ctx, n, at, keys);
  if (!es) return;
  for (const Entry& e : *es) {
    bool s = false;
    if (e.key == "count") {
      get_uint(ctx, e.value, e.at, 1, kServersMax, sv.count);
    } else if (e.key == "propagation") {
      get_enum(ctx, e.value, e.at, kPropagations, sv.propagation);
    } else if (is_time_key(e.key, "poll_interval", s)) {
      get_time(ctx, e.value, e.at, s, 1, kTimeMaxMs, sv.poll_interval_ms);
    } else if (is_time_key(e.key, "anti_entropy", s)) {
      get_time(ctx, e.value, e.at, s, 0, kTimeMaxMs, sv.anti_entropy_ms);
    } else if (e.key == "persistence") {
      get_enum(ctx, e.value, e.at, kPersistences, sv.persistence);
    } else if (is_time_key(e.key, "snapshot_interval", s)) {
      get_time(ctx, e.value, e.at, s, 1, kTimeMaxMs, sv.snapshot_interval_ms);
    } else if (e.key == "snapshot_every_changes") {
      get_uint(ctx, e.value, e.at, 1, kSnapshotEveryMax, sv.snapshot_every_changes);
    } else if (e.key == "ack") {
      get_enum(ctx, e.value, e.at, kAcks, sv.ack);
    } else if (e.key == "catch_up") {
      get_bool(ctx, e.value, e.at, sv.catch_up);
    } else if (e.key == "api_read") {
      get_enum(ctx, e.value, e.at, kApiReads, sv.api_read);
    } else if (e.key == "api_cache") {
      get_enum(ctx, e.value, e.at, kApiCaches, sv.api_cache);
    } else if (e.key == "check_revocation") {
      get_bool(ctx, e.value, e.at, sv.check_revocation);
    } else if (e.key == "rate_limit_per_s") {
      get_double(ctx, e.value, e.at, 0, kRateLimitMax, sv.rate_limit_per_s);
    } else if (e.key == "rate_burst") {
      get_uint(ctx, e.value, e.at, 1, kRateBurstMax, sv.rate_burst);
    } else if (e.key == "work_us_per_msg") {
      get_int(ctx, e.value, e.at, 0, kWorkUsMax, sv.work_us_per_msg);
    } else if (e.key == "rename") {
      get_enum(ctx, e.value, e.at, kRenames, sv.rename);
    }
  }
}

void apply_network(Ctx& ctx, const YAML::Node& n, const Here& at, NetworkSpec& net) {
  static constexpr std::array<std::string_view, 6> keys{"client_server_ms", "client_server_s", "server_db_ms",
                                                        "server_db_s",      "server_bus_ms",   "server_bus_s"};
  auto es = entries(ctx, n, at, keys);
  if (!es) return;
  for (const Entry& e : *es) {
    bool s = false;
    if (is_time_key(e.key, "client_server", s)) {
      get_range(ctx, e.value, e.at, s, 0, kTimeMaxMs, net.client_server_ms);
    } else if (is_time_key(e.key, "server_db", s)) {
      get_range(ctx, e.value, e.at, s, 0, kTimeMaxMs, net.server_db_ms);
    } else if (is_time_key(e.key, "server_bus", s)) {
      get_range(ctx, e.value, e.at, s, 0, kTimeMaxMs, net.server_bus_ms);
    }
  }
}

void apply_database(Ctx& ctx, const YAML::Node& n, const Here& at, DatabaseSpec& db) {
  static constexpr std::array<std::string_view, 4> keys{"commit_ms", "commit_s", "replica_lag_ms", "replica_lag_s"};
  auto es = entries(ctx, n, at, keys);
  if (!es) return;
  for (const Entry& e : *es) {
    bool s = false;
    if (is_time_key(e.key, "commit", s)) get_range(ctx, e.value, e.at, s, 0, kTimeMaxMs, db.commit_ms);
    if (is_time_key(e.key, "replica_lag", s)) get_time(ctx, e.value, e.at, s, 0, kTimeMaxMs, db.replica_lag_ms);
  }
}

void apply_cdn(Ctx& ctx, const YAML::Node& n, const Here& at, CdnSpec& cdn) {
  static constexpr std::array<std::string_view, 2> keys{"ttl_ms", "ttl_s"};
  auto es = entries(ctx, n, at, keys);
  if (!es) return;
  for (const Entry& e : *es) {
    bool s = false;
    if (is_time_key(e.key, "ttl", s)) get_time(ctx, e.value, e.at, s, 0, kTimeMaxMs, cdn.ttl_ms);
  }
}

void apply_auth(Ctx& ctx, const YAML::Node& n, const Here& at, AuthSpec& auth) {
  static constexpr std::array<std::string_view, 2> keys{"token_lifetime_ms", "token_lifetime_s"};
  auto es = entries(ctx, n, at, keys);
  if (!es) return;
  for (const Entry& e : *es) {
    bool s = false;
    if (is_time_key(e.key, "token_lifetime", s)) get_time(ctx, e.value, e.at, s, 1, kTimeMaxMs, auth.token_lifetime_ms);
  }
}

// A node name for a fault: parsed here, checked against the counts per variant (Ref).
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

// A list of mappings, each parsed by `item`; replaces the whole list (lists never merge).
template <class T, class F>
void apply_list(Ctx& ctx, const YAML::Node& n, const Here& at, std::vector<T>& out, std::vector<Ref>& refs, F item) {
  if (!n.IsSequence()) {
    ctx.fail(at, "expected a list, got " + kind_of(n));
    return;
  }
  std::vector<T> list;
  std::vector<Ref> list_refs;
  for (std::size_t i = 0; i < n.size(); ++i) {
    const YAML::Node node = n[i];
    const Here iat = here_of(node, at, at.path + "[" + std::to_string(i) + "]");
    T value{};
    item(node, iat, value, list_refs);
    list.push_back(std::move(value));
  }
  out = std::move(list);
  refs = std::move(list_refs);
}

void parse_override(Ctx& ctx, const YAML::Node& n, const Here& at, ClientOverride& o, std::vector<Ref>& refs) {
  static constexpr std::array<std::string_view, 5> keys{"client", "clock_offset_ms", "clock_offset_s", "drift_ppm",
                                                        "rate_multiplier"};
  auto es = entries(ctx, n, at, keys, "a mapping like {client: 0, clock_offset_ms: 5000}");
  if (!es) return;
  bool has_client = false;
  for (const Entry& e : *es) {
    bool s = false;
    if (e.key == "client") {
      has_client = true;
      std::int64_t c = 0;
      if (get_int(ctx, e.value, e.at, 0, kClientsMax - 1, c)) {
        o.client = static_cast<std::uint32_t>(c);
        refs.push_back(Ref{Ref::Kind::kClient, c, e.at, e.value.Scalar()});
      }
    } else if (is_time_key(e.key, "clock_offset", s)) {
      get_time(ctx, e.value, e.at, s, -kTimeMaxMs, kTimeMaxMs, o.clock_offset_ms);
    } else if (e.key == "drift_ppm") {
      get_int(ctx, e.value, e.at, -kDriftPpmMax, kDriftPpmMax, o.drift_ppm);
    } else if (e.key == "rate_multiplier") {
      double r = 0;
      if (get_double(ctx, e.value, e.at, 0, kRateMultiplierMax, r)) {
        if (r <= 0) {
          ctx.fail(e.at, "must be greater than 0, got " + e.value.Scalar());
        } else {
          o.rate_multiplier = r;
        }
      }
    }
  }
  if (!has_client) ctx.fail(Here{at.line, at.col, at.path + ".client"}, "required key is missing");
}

void parse_edit(Ctx& ctx, const YAML::Node& n, const Here& at, WorldConfig::ScriptedEdit& ed, std::vector<Ref>& refs) {
  static constexpr std::array<std::string_view, 6> keys{"at_ms", "at_s", "client", "pos", "del", "ins"};
  auto es = entries(ctx, n, at, keys, "a mapping like {at_ms: 100, client: 0, pos: 2, del: 0, ins: \"X\"}");
  if (!es) return;
  bool has_client = false;
  for (const Entry& e : *es) {
    bool s = false;
    if (is_time_key(e.key, "at", s)) {
      if (get_time(ctx, e.value, e.at, s, 0, kTimeMaxMs, ed.at_ms)) {
        refs.push_back(Ref{Ref::Kind::kBeforeDuration, ed.at_ms, e.at, e.value.Scalar()});
      }
    } else if (e.key == "client") {
      has_client = true;
      std::int64_t c = 0;
      if (get_int(ctx, e.value, e.at, 0, kClientsMax - 1, c)) {
        ed.client = static_cast<std::uint32_t>(c);
        refs.push_back(Ref{Ref::Kind::kClient, c, e.at, e.value.Scalar()});
      }
    } else if (e.key == "pos") {
      get_uint(ctx, e.value, e.at, 0, kScriptPosMax, ed.pos);
    } else if (e.key == "del") {
      get_uint(ctx, e.value, e.at, 0, kScriptPosMax, ed.del);
    } else if (e.key == "ins") {
      get_string(ctx, e.value, e.at, ed.ins);
    }
  }
  if (!has_client) ctx.fail(Here{at.line, at.col, at.path + ".client"}, "required key is missing");
  if (ctx.ok() && ed.del == 0 && ed.ins.empty()) ctx.fail(at, "an edit must delete or insert something");
}

// Applies a `world` mapping, or a variant's overrides, on top of `cfg`: only the keys present
// change; nested mappings merge key by key; lists (faults, client_overrides, script) replace.
void apply_world(Ctx& ctx, const YAML::Node& n, const Here& at, WorldConfig& cfg, Origins& org) {
  auto es = entries(ctx, n, at, kWorldKeys);
  if (!es) return;
  for (const Entry& e : *es) {
    bool s = false;
    if (is_time_key(e.key, "duration", s)) {
      get_time(ctx, e.value, e.at, s, 1, kTimeMaxMs, cfg.duration_ms);
    } else if (is_time_key(e.key, "quiesce", s)) {
      get_time(ctx, e.value, e.at, s, 0, kTimeMaxMs, cfg.quiesce_ms);
    } else if (e.key == "docs") {
      get_uint(ctx, e.value, e.at, 1, kDocsMax, cfg.docs);
    } else if (e.key == "initial_text") {
      get_string(ctx, e.value, e.at, cfg.initial_text);
    } else if (e.key == "clients") {
      get_uint(ctx, e.value, e.at, 1, kClientsMax, cfg.clients);
    } else if (e.key == "balancer") {
      get_enum(ctx, e.value, e.at, kBalancers, cfg.balancer);
    } else if (e.key == "workload") {
      apply_workload(ctx, e.value, e.at, cfg.workload);
    } else if (e.key == "clocks") {
      apply_clocks(ctx, e.value, e.at, cfg.client_clocks);
    } else if (e.key == "client_overrides") {
      apply_list(ctx, e.value, e.at, cfg.client_overrides, org.overrides,
                 [&](const YAML::Node& item, const Here& iat, ClientOverride& o, std::vector<Ref>& refs) {
                   parse_override(ctx, item, iat, o, refs);
                 });
      // One override per client: two would silently shadow each other.
      std::set<std::uint32_t> seen;
      for (std::size_t i = 0; i < org.overrides.size(); ++i) {
        const Ref& r = org.overrides[i];
        if (!seen.insert(static_cast<std::uint32_t>(r.value)).second) {
          ctx.fail(r.at, "client " + r.text + " already has an override");
        }
      }
    } else if (e.key == "servers") {
      apply_servers(ctx, e.value, e.at, cfg.servers);
    } else if (e.key == "network") {
      apply_network(ctx, e.value, e.at, cfg.network);
    } else if (e.key == "database") {
      apply_database(ctx, e.value, e.at, cfg.database);
    } else if (e.key == "cdn") {
      apply_cdn(ctx, e.value, e.at, cfg.cdn);
    } else if (e.key == "auth") {
      apply_auth(ctx, e.value, e.at, cfg.auth);
    } else if (e.key == "faults") {
      apply_list(ctx, e.value, e.at, cfg.faults, org.faults,
                 [&](const YAML::Node& item, const Here& iat, FaultSpec& f, std::vector<Ref>& refs) {
                   parse_fault(ctx, item, iat, f, refs);
                 });
    } else if (e.key == "random_faults") {
      apply_random_faults(ctx, e.value, e.at, cfg.random_faults, org);
    } else if (e.key == "script") {
      apply_list(ctx, e.value, e.at, cfg.script, org.script,
                 [&](const YAML::Node& item, const Here& iat, WorldConfig::ScriptedEdit& ed, std::vector<Ref>& refs) {
                   parse_edit(ctx, item, iat, ed, refs);
                 });
    }
  }
}

// The checks that span keys, made on a fully merged variant. The error points at the value
// that is out of bounds (in `world` or in the variant, wherever it was written).
void check_variant(Ctx& ctx, const Variant& v, const Origins& org) {
  const WorldConfig& c = v.config;
  const std::string in = " in variant " + quote(v.name);
  auto check = [&](const Ref& r) {
    switch (r.kind) {
      case Ref::Kind::kClient:
        if (r.value >= c.clients) {
          ctx.fail(r.at, r.text + ": no such client" + in + ", which has " + std::to_string(c.clients) +
                             " client(s) (client:0..client:" + std::to_string(c.clients - 1) + ")");
        }
        break;
      case Ref::Kind::kServer:
        if (r.value >= c.servers.count) {
          ctx.fail(r.at, r.text + ": no such server" + in + ", which has " + std::to_string(c.servers.count) +
                             " server(s) (server:0..server:" + std::to_string(c.servers.count - 1) + ")");
        }
        break;
      case Ref::Kind::kBeforeDuration:
        if (r.value >= c.duration_ms) {
          ctx.fail(r.at, "at " + std::to_string(r.value) + " ms is not before the end of the run" + in + " (duration " +
                             std::to_string(c.duration_ms) + " ms)");
        }
        break;
    }
  };
  for (const Ref& r : org.faults) check(r);
  for (const Ref& r : org.overrides) check(r);
  for (const Ref& r : org.script) check(r);
  if (c.random_faults.count > 0 && c.random_faults.kinds.empty()) {
    const Here at = org.random_count.value_or(Here{});
    ctx.fail(at, "random faults need `kinds`" + in +
                     " (allowed: partition, crash, clock_offset, clock_drift, offline, disconnect, revoke, flaky)");
  }
}

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

Result<Scenario> parse_impl(const std::string& text, const std::string& file) {
  Ctx ctx(file);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    const int line = e.mark.is_null() ? 0 : std::max(0, e.mark.line);
    const int col = e.mark.is_null() ? 0 : std::max(0, e.mark.column);
    ctx.fail(Here{line, col, "yaml"}, e.msg);
    return ctx.error();
  }
  const Here top{0, 0, ""};
  if (!root.IsMap()) {
    ctx.fail(here_of(root, top, "(top level)"),
             "expected a scenario: a mapping with name, world, variants and expect, got " + kind_of(root));
    return ctx.error();
  }
  static constexpr std::array<std::string_view, 8> keys{"name",  "row",   "description", "strategies",
                                                        "seeds", "world", "variants",    "expect"};
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
  // yaml-cpp throws on more than syntax (bad_alloc, its own InvalidNode on misuse): none of it
  // may escape, and each still names the file.
  try {
    return parse_impl(yaml_text, file);
  } catch (const YAML::Exception& e) {
    const int line = e.mark.is_null() ? 0 : std::max(0, e.mark.line);
    const int col = e.mark.is_null() ? 0 : std::max(0, e.mark.column);
    return make_error(file + ":" + std::to_string(line + 1) + ":" + std::to_string(col + 1) + ": yaml: " + e.msg);
  } catch (const std::exception& e) {
    return make_error(file + ":1:1: (file): cannot load: " + e.what());
  } catch (...) {
    return make_error(file + ":1:1: (file): cannot load: unknown error");
  }
}

Result<Scenario> load_scenario(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(path + ":1:1: (file): cannot open the file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return make_error(path + ":1:1: (file): cannot read the file");
  std::string s = text.str();
  if (s.size() > kFileMaxBytes) {
    return make_error(path + ":1:1: (file): larger than " + std::to_string(kFileMaxBytes) + " bytes");
  }
  return parse_scenario(s, path);
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
