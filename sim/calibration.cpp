// The calibration fragment (sim/calibration.hpp): read through the YAML kit, so a bad key or
// value is reported as FILE:LINE:COLUMN like any scenario problem.
#include "sim/calibration.hpp"

#include "yamlkit/guarded.hpp"
#include "yamlkit/kit.hpp"

#include <yaml-cpp/yaml.h>

#include <array>
#include <cstdio>
#include <exception>
#include <optional>
#include <sstream>
#include <string_view>

namespace convlab::sim {
namespace {

using namespace yamlkit;  // NOLINT(google-build-using-namespace): the loader's kit

constexpr std::int64_t kUsMax = 60LL * 1000 * 1000;  // a minute: no measured cost is near it
constexpr std::int64_t kCountMax = 100000;
constexpr double kCpusMin = 0.05;  // the least share of one core a calibration reports
constexpr double kCpusMax = 4096;
constexpr std::size_t kFileMaxBytes = 1 << 20;

// [min, max] microseconds, min <= max.
bool get_range_us(Ctx& ctx, const YAML::Node& n, const Here& at, RangeUs& out) {
  if (!n.IsSequence() || n.size() != 2) {
    ctx.fail(at, "expected a range [min, max] of microseconds, got " +
                     (n.IsSequence() ? "a sequence of " + std::to_string(n.size()) : kind_of(n)));
    return false;
  }
  RangeUs r;
  const YAML::Node lo = n[0];
  const YAML::Node hi = n[1];
  const bool a = get_int(ctx, lo, here_of(lo, at, at.path + "[0]"), 0, kUsMax, r.min);
  const bool b = get_int(ctx, hi, here_of(hi, at, at.path + "[1]"), 0, kUsMax, r.max);
  if (!a || !b) return false;
  if (r.min > r.max) {
    ctx.fail(at, "range has min > max: [" + lo.Scalar() + ", " + hi.Scalar() + "]");
    return false;
  }
  out = r;
  return true;
}

void parse_measured(Ctx& ctx, const YAML::Node& n, const Here& at, Calibration::Measured& m) {
  static constexpr std::array<std::string_view, 6> keys{"strategy", "servers", "clients", "docs", "rate_per_client",
                                                        "seconds"};
  auto es = entries(ctx, n, at, keys);
  if (!es) return;
  for (const Entry& e : *es) {
    if (e.key == "strategy") get_string(ctx, e.value, e.at, m.strategy);
    if (e.key == "servers") get_uint(ctx, e.value, e.at, 1, kCountMax, m.servers);
    if (e.key == "clients") get_uint(ctx, e.value, e.at, 1, kCountMax, m.clients);
    if (e.key == "docs") get_uint(ctx, e.value, e.at, 1, kCountMax, m.docs);
    if (e.key == "rate_per_client") get_double(ctx, e.value, e.at, 0, 1e6, m.rate_per_client);
    if (e.key == "seconds") get_double(ctx, e.value, e.at, 0, 1e6, m.seconds);
  }
}

Result<Calibration> parse_impl(const std::string& text, const std::string& file) {
  Ctx ctx(file);
  const std::optional<YAML::Node> loaded = load_text(ctx, text);
  if (!loaded) return ctx.error();
  const YAML::Node& root = *loaded;
  const Here top{0, 0, ""};
  static constexpr std::array<std::string_view, 1> top_keys{"calibration"};
  if (!root.IsMap()) {
    ctx.fail(here_of(root, top, "(top level)"),
             "expected a calibration fragment: a mapping with the one key `calibration` (convlab calibrate writes it), "
             "got " + kind_of(root));
    return ctx.error();
  }
  auto tops = entries(ctx, root, here_of(root, top, ""), top_keys,
                      "a calibration fragment: a mapping with the one key `calibration` (convlab calibrate writes it)");
  if (!tops) return ctx.error();
  if (tops->empty()) {
    ctx.fail(here_of(root, top, "calibration"), "required key is missing");
    return ctx.error();
  }
  const Entry& cal = tops->front();
  static constexpr std::array<std::string_view, 9> keys{
      "measured_with", "server_work_us_per_frame", "server_work_us_per_read", "commit_us",        "commit_interval_us",
      "notify_us",     "db_round_trip_us",         "host_cpus",               "host_us_per_frame"};
  auto es = entries(ctx, cal.value, cal.at, keys);
  if (!es) return ctx.error();
  Calibration c;
  std::array<bool, keys.size()> seen{};
  for (const Entry& e : *es) {
    for (std::size_t k = 0; k < keys.size(); ++k) seen[k] = seen[k] || e.key == keys[k];
    if (e.key == "measured_with") {
      parse_measured(ctx, e.value, e.at, c.measured);
    } else if (e.key == "server_work_us_per_frame") {
      get_int(ctx, e.value, e.at, 0, kUsMax, c.server_work_us_per_frame);
    } else if (e.key == "server_work_us_per_read") {
      get_int(ctx, e.value, e.at, 0, kUsMax, c.server_work_us_per_read);
    } else if (e.key == "commit_us") {
      get_range_us(ctx, e.value, e.at, c.commit_us);
    } else if (e.key == "commit_interval_us") {
      get_int(ctx, e.value, e.at, 0, kUsMax, c.commit_interval_us);
    } else if (e.key == "notify_us") {
      get_range_us(ctx, e.value, e.at, c.notify_us);
    } else if (e.key == "db_round_trip_us") {
      get_range_us(ctx, e.value, e.at, c.db_round_trip_us);
    } else if (e.key == "host_cpus") {
      get_double(ctx, e.value, e.at, kCpusMin, kCpusMax, c.host_cpus);
    } else if (e.key == "host_us_per_frame") {
      get_int(ctx, e.value, e.at, 0, kUsMax, c.host_us_per_frame);
    }
  }
  // Every measured figure is needed: a fragment without one would leave a guess in its place.
  for (std::size_t k = 1; k < keys.size(); ++k) {
    if (!seen[k]) ctx.fail(Here{cal.key_at.line, cal.key_at.col, "calibration." + std::string(keys[k])}, "required key is missing");
  }
  if (!ctx.ok()) return ctx.error();
  return c;
}

std::string range_text(RangeUs r) { return "[" + std::to_string(r.min) + ", " + std::to_string(r.max) + "]"; }

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

Result<Calibration> parse_calibration(const std::string& yaml_text, const std::string& file) {
  return guarded_parse<Calibration>(file, [&] { return parse_impl(yaml_text, file); });
}

Result<Calibration> load_calibration(const std::string& path) {
  auto text = read_text(path, kFileMaxBytes);
  if (!text) return text.error();
  return parse_calibration(*text, path);
}

std::string format_calibration(const Calibration& c) {
  const Calibration::Measured& m = c.measured;
  std::ostringstream o;
  o << "# The real server's costs on the machine that ran `convlab calibrate`; a scenario includes\n"
       "# this with `calibration: FILE` (docs/scenarios.md, \"Calibration\"). Microseconds.\n"
       "calibration:\n"
    << "  measured_with: {strategy: " << m.strategy << ", servers: " << m.servers << ", clients: " << m.clients
    << ", docs: " << m.docs << ", rate_per_client: " << number_text(m.rate_per_client)
    << ", seconds: " << number_text(m.seconds) << "}\n"
    << "  server_work_us_per_frame: " << c.server_work_us_per_frame << "  # server CPU per client frame\n"
    << "  server_work_us_per_read: " << c.server_work_us_per_read << "  # server CPU per store read (poll)\n"
    << "  commit_us: " << range_text(c.commit_us) << "  # one group-commit transaction, BEGIN to COMMIT\n"
    << "  commit_interval_us: " << c.commit_interval_us << "  # least time between two transactions' starts\n"
    << "  notify_us: " << range_text(c.notify_us) << "  # commit to NOTIFY arrival at another server\n"
    << "  db_round_trip_us: " << range_text(c.db_round_trip_us) << "  # a store read, request to reply\n"
    << "  host_cpus: " << number_text(c.host_cpus)
    << "  # cores the measured processes got (their CPU and the idle time over the run), shared by every process below\n"
    << "  host_us_per_frame: " << c.host_us_per_frame << "  # CPU per client frame of the rest of it (load, PostgreSQL)\n";
  return o.str();
}

void apply_calibration(const Calibration& c, WorldConfig& cfg) {
  cfg.servers.work_us_per_msg = c.server_work_us_per_frame;
  cfg.servers.work_us_per_read = c.server_work_us_per_read;
  cfg.servers.host_cpus = c.host_cpus;
  cfg.servers.host_us_per_frame = c.host_us_per_frame;
  cfg.database.commit_us = c.commit_us;
  cfg.database.commit_interval_us = c.commit_interval_us;
  // The simulated bus and store links are drawn per hop: a notification crosses two (database
  // -> bus -> server), a read goes and comes back.
  cfg.network.server_bus_us = RangeUs{c.notify_us.min / 2, c.notify_us.max / 2};
  cfg.network.server_db_us = RangeUs{c.db_round_trip_us.min / 2, c.db_round_trip_us.max / 2};
}

}  // namespace convlab::sim
