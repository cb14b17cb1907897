#pragma once
// The YAML validation kit of the scenario loader and convlab-server's configuration file: where
// a value is in the file (Here), the
// problems found so far (Ctx, which words them `file:line:column: key.path: problem`, in file
// order, at most kProblemsMax), and one reader per kind of scalar, range or mapping. Each
// reader checks what it reads against the limits it is given and reports a precise problem
// instead of throwing ("abc" where an integer is needed, "3" in quotes, 2.5 ms, an unknown key
// with the allowed ones listed); it returns false and leaves `out` alone when it failed.
//
// Nothing here throws (yaml-cpp's exceptions are caught at the loaders' edge: load_text) or
// knows what a scenario or a server is. Used by sim/scenario*.cpp and server/net/config.cpp; the
// server policies' keys, which both files have, by yamlkit/policies.hpp.
#include "server/core/result.hpp"

#include <yaml-cpp/yaml.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace convlab::yamlkit {

constexpr std::size_t kProblemsMax = 20;  // problems listed before "... more problems not shown"
constexpr std::size_t kTextMaxBytes = 1 << 20;

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
  Error error() const;

 private:
  std::string file_;
  std::vector<Problem> problems_;
};

Here here_of(const YAML::Node& node, const Here& fallback, std::string path);
// "nothing", "a mapping", "a sequence", or the scalar quoted: what was found instead.
std::string kind_of(const YAML::Node& n);
std::string join(std::span<const std::string_view> items);
std::string quote(std::string_view s);
std::string fmt_double(double v);
bool ends_with(std::string_view s, std::string_view suffix);

// --- scalars
std::optional<std::int64_t> parse_int(std::string_view s);
std::optional<double> parse_double(std::string_view s);
// A plain (unquoted) scalar, or an error saying what was found instead.
bool plain_scalar(Ctx& ctx, const YAML::Node& n, const Here& at, const char* expected);
std::string range_problem(double got, double min, double max, const char* unit);
bool get_int(Ctx& ctx, const YAML::Node& n, const Here& at, std::int64_t min, std::int64_t max, std::int64_t& out);
template <class U>
bool get_uint(Ctx& ctx, const YAML::Node& n, const Here& at, std::int64_t min, std::int64_t max, U& out) {
  std::int64_t v = 0;
  if (!get_int(ctx, n, at, min, max, v)) return false;
  out = static_cast<U>(v);
  return true;
}
bool get_double(Ctx& ctx, const YAML::Node& n, const Here& at, double min, double max, double& out);
bool get_prob(Ctx& ctx, const YAML::Node& n, const Here& at, double& out);
// A time: `seconds` for keys ending in _s (decimals allowed, whole milliseconds), otherwise an
// integer of milliseconds. Limits are in milliseconds and reported in the key's own unit.
bool get_time(Ctx& ctx, const YAML::Node& n, const Here& at, bool seconds, std::int64_t min_ms, std::int64_t max_ms,
              std::int64_t& out_ms);
bool get_bool(Ctx& ctx, const YAML::Node& n, const Here& at, bool& out);

template <class E>
struct EnumName {
  std::string_view name;
  E value;
};

// One of a fixed set of names: `index` of the name given.
bool get_choice(Ctx& ctx, const YAML::Node& n, const Here& at, std::span<const std::string_view> names,
                std::size_t& index);

// One of a fixed set of names.
template <class E>
bool get_enum(Ctx& ctx, const YAML::Node& n, const Here& at, std::span<const EnumName<E>> names, E& out) {
  std::vector<std::string_view> allowed;
  for (const auto& e : names) allowed.push_back(e.name);
  std::size_t i = 0;
  if (!get_choice(ctx, n, at, allowed, i)) return false;
  out = names[i].value;
  return true;
}

template <class E, std::size_t N>
bool get_enum(Ctx& ctx, const YAML::Node& n, const Here& at, const std::array<EnumName<E>, N>& names, E& out) {
  return get_enum(ctx, n, at, std::span<const EnumName<E>>(names), out);
}

// A UTF-8 string of at most kTextMaxBytes.
bool get_string(Ctx& ctx, const YAML::Node& n, const Here& at, std::string& out);

// --- mappings

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
                                          std::span<const std::string_view> allowed, const char* what = "a mapping");
// "think" matches think_ms and think_s; sets `seconds` for the latter.
bool is_time_key(const std::string& key, std::string_view base, bool& seconds);
// A range [min, max] of times (get_time), min <= max; into any type with `min` and `max`.
bool get_range(Ctx& ctx, const YAML::Node& n, const Here& at, bool seconds, std::int64_t min_ms, std::int64_t max_ms,
               std::int64_t& out_min, std::int64_t& out_max);
template <class Range>
bool get_range(Ctx& ctx, const YAML::Node& n, const Here& at, bool seconds, std::int64_t min_ms, std::int64_t max_ms,
               Range& out) {
  return get_range(ctx, n, at, seconds, min_ms, max_ms, out.min, out.max);
}

// --- files

// The text of a file of at most `max_bytes`, or `FILE:1:1: (file): problem`.
Result<std::string> read_text(const std::string& path, std::size_t max_bytes);
// Parses YAML text; a syntax error is reported in `ctx` (key path "yaml").
std::optional<YAML::Node> load_text(Ctx& ctx, const std::string& text);
// What an exception out of yaml-cpp (or anything else) says, as one problem line of `file`.
Error exception_error(const std::string& file, const std::exception& e);

}  // namespace convlab::yamlkit
