// The YAML validation kit (yamlkit/kit.hpp).
#include "yamlkit/kit.hpp"

#include "server/core/utf8.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <set>
#include <system_error>
#include <utility>

namespace convlab::yamlkit {

Error Ctx::error() const {
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

bool get_choice(Ctx& ctx, const YAML::Node& n, const Here& at, std::span<const std::string_view> names,
                std::size_t& index) {
  if (!n.IsScalar()) {
    ctx.fail(at, "expected one of " + join(names) + ", got " + kind_of(n));
    return false;
  }
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (n.Scalar() == names[i]) {
      index = i;
      return true;
    }
  }
  ctx.fail(at, "unknown value " + quote(n.Scalar()) + " (allowed: " + join(names) + ")");
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

std::optional<std::vector<Entry>> entries(Ctx& ctx, const YAML::Node& map, const Here& at,
                                          std::span<const std::string_view> allowed, const char* what) {
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
               std::int64_t& out_min, std::int64_t& out_max) {
  if (!n.IsSequence() || n.size() != 2) {
    ctx.fail(at, std::string("expected a range [min, max] of ") + (seconds ? "seconds" : "milliseconds") + ", got " +
                     (n.IsSequence() ? "a sequence of " + std::to_string(n.size()) : kind_of(n)));
    return false;
  }
  std::int64_t lo_ms = 0;
  std::int64_t hi_ms = 0;
  const YAML::Node lo = n[0];
  const YAML::Node hi = n[1];
  const bool a = get_time(ctx, lo, here_of(lo, at, at.path + "[0]"), seconds, min_ms, max_ms, lo_ms);
  const bool b = get_time(ctx, hi, here_of(hi, at, at.path + "[1]"), seconds, min_ms, max_ms, hi_ms);
  if (!a || !b) return false;
  if (lo_ms > hi_ms) {
    ctx.fail(at, "range has min > max: [" + lo.Scalar() + ", " + hi.Scalar() + "]");
    return false;
  }
  out_min = lo_ms;
  out_max = hi_ms;
  return true;
}

// --- files ---------------------------------------------------------------------------------

Result<std::string> read_text(const std::string& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(path + ":1:1: (file): cannot open the file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return make_error(path + ":1:1: (file): cannot read the file");
  std::string s = text.str();
  if (s.size() > max_bytes) return make_error(path + ":1:1: (file): larger than " + std::to_string(max_bytes) + " bytes");
  return s;
}

std::optional<YAML::Node> load_text(Ctx& ctx, const std::string& text) {
  try {
    return YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    const int line = e.mark.is_null() ? 0 : std::max(0, e.mark.line);
    const int col = e.mark.is_null() ? 0 : std::max(0, e.mark.column);
    ctx.fail(Here{line, col, "yaml"}, e.msg);
    return std::nullopt;
  }
}

Error exception_error(const std::string& file, const std::exception& e) {
  if (const auto* y = dynamic_cast<const YAML::Exception*>(&e)) {
    const int line = y->mark.is_null() ? 0 : std::max(0, y->mark.line);
    const int col = y->mark.is_null() ? 0 : std::max(0, y->mark.column);
    return make_error(file + ":" + std::to_string(line + 1) + ":" + std::to_string(col + 1) + ": yaml: " + y->msg);
  }
  return make_error(file + ":1:1: (file): cannot load: " + e.what());
}

}  // namespace convlab::yamlkit
