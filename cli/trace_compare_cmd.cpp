// convlab trace compare [DIR|FILE] [--strategy S]... [--out OUTDIR] [--timeout SEC]
//
// Replays every sequential trace under each strategy, locally and relayed, each replay in a
// child process of its own (`convlab trace replay ... --json`): the peak memory of a row is that
// replay's alone, and a strategy that stops on a failed assertion costs its row, not the report.
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/subprocess.hpp"
#include "cli/table.hpp"
#include "server/strategies/registry.hpp"
#include "workload/trace.hpp"

#include <boost/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#ifndef CONVLAB_VERSION
#define CONVLAB_VERSION "unknown"
#endif

namespace convlab::cli {

namespace po = boost::program_options;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kModes[] = {"local", "relayed"};

// The trace files of DIR (plain or gzip JSON), sorted by name; DIR may also be one file.
Result<std::vector<std::string>> list_traces(const std::string& dir) {
  std::error_code ec;
  if (fs::is_regular_file(dir, ec)) return std::vector<std::string>{dir};
  if (!fs::is_directory(dir, ec)) return make_error(dir + ": no such directory");
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && (name.ends_with(".json.gz") || name.ends_with(".json"))) {
      out.push_back(e.path().string());
    }
  }
  if (ec) return make_error(dir + ": cannot list: " + ec.message());
  if (out.empty()) return make_error(dir + ": no trace files (*.json.gz, *.json) in it");
  std::sort(out.begin(), out.end());
  return out;
}

std::string last_line(const std::string& s) {
  std::string t = s;
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
  const auto nl = t.rfind('\n');
  return nl == std::string::npos ? t : t.substr(nl + 1);
}

// One row of report.json: the child's JSON, or what went wrong with the child.
json::object run_one(const std::string& exe, const std::string& trace, std::string_view strategy,
                     const std::string& mode, double timeout_s) {
  std::vector<std::string> argv = {exe, "trace", "replay", trace, "--strategy", std::string(strategy), "--json"};
  if (mode == "relayed") argv.emplace_back("--relayed");
  const ChildResult c = run_child(argv, timeout_s);

  json::object row;
  auto failed_row = [&](const std::string& why) {
    row["trace"] = trace;
    row["name"] = trace_name(trace);
    row["strategy"] = std::string(strategy);
    row["mode"] = mode;
    row["matched"] = false;
    row["error"] = one_line(why);
    return row;
  };
  if (!c.started) return failed_row(c.err);
  if (c.timed_out) return failed_row("timed out after " + fixed(timeout_s, 0) + " s");
  if (c.signal != 0) {
    return failed_row("crashed (signal " + std::to_string(c.signal) + "): " + last_line(c.err));
  }
  if (c.exit_code == kExitUsage) return failed_row(last_line(c.err));
  boost::system::error_code ec;
  json::value v = json::parse(last_line(c.out), ec);
  if (ec || !v.is_object()) {
    return failed_row("exit " + std::to_string(c.exit_code) + " without a JSON result: " + last_line(c.err));
  }
  return std::move(v.get_object());
}

const json::value* get(const json::object& o, std::string_view k) { return o.if_contains(k); }

double num(const json::object& o, std::string_view k) {
  const json::value* v = get(o, k);
  if (v == nullptr) return 0.0;
  if (v->is_double()) return v->get_double();
  if (v->is_uint64()) return static_cast<double>(v->get_uint64());
  if (v->is_int64()) return static_cast<double>(v->get_int64());
  return 0.0;
}

bool matched(const json::object& o) {
  const json::value* v = get(o, "matched");
  return v != nullptr && v->is_bool() && v->get_bool();
}

std::string mib(double kib) { return fixed(kib / 1024.0, 1); }

// The comparison table: one row per (trace, strategy), local and relayed side by side.
Table make_table(const std::vector<std::string>& traces, const std::vector<const Strategy*>& strategies,
                 const std::map<std::string, json::object>& results) {
  Table t;
  t.header = {"trace",        "strategy", "matched",      "local ms", "relayed ms", "messages",
              "B/edit",       "base MiB", "local MiB",    "relayed MiB"};
  t.right_align = {false, false, false, true, true, true, true, true, true, true};
  for (const std::string& tr : traces) {
    for (const Strategy* s : strategies) {
      const std::string key = tr + '\n' + std::string(s->name);
      const json::object& lo = results.at(key + "\nlocal");
      const json::object& re = results.at(key + "\nrelayed");
      std::string ok = "yes";
      if (!matched(lo) && !matched(re)) {
        ok = "NO";
      } else if (!matched(lo)) {
        ok = "NO (local)";
      } else if (!matched(re)) {
        ok = "NO (relayed)";
      }
      auto ms = [](const json::object& o) { return get(o, "ms_median") ? fixed(num(o, "ms_median"), 1) : "-"; };
      auto rss = [](const json::object& o) { return get(o, "peak_rss_kib") ? mib(num(o, "peak_rss_kib")) : "-"; };
      const double patches = num(re, "patches");
      t.rows.push_back({trace_name(tr), std::string(s->name), ok, ms(lo), ms(re),
                        get(re, "messages") ? fixed(num(re, "messages"), 0) : "-",
                        patches > 0 ? fixed(num(re, "wire_bytes") / patches, 1) : "-",
                        get(lo, "rss_after_load_kib") ? mib(num(lo, "rss_after_load_kib")) : "-", rss(lo),
                        rss(re)});
    }
  }
  return t;
}

std::string problems_text(const std::vector<json::object>& rows) {
  std::string out;
  for (const json::object& r : rows) {
    if (matched(r)) continue;
    const json::value* err = get(r, "error");
    std::string why;
    if (err != nullptr && err->is_string()) {
      why = std::string(err->get_string());
    } else {
      why = "text differs from endContent at code point " + fixed(num(r, "first_difference"), 0);
    }
    const auto str = [&](std::string_view k) {
      const json::value* v = get(r, k);
      return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
    };
    out += "- " + str("name") + " / " + str("strategy") + " / " + str("mode") + ": " + why + '\n';
  }
  return out;
}

void print_compare_help(const po::options_description& desc) {
  std::cout << "usage: convlab trace compare [DIR|FILE] [--strategy NAME]... [--out OUTDIR]\n\n"
               "Replays every trace in DIR (default <shared>/traces/sequential_traces) under each\n"
               "strategy (default: all of " << strategy_names() << "), locally and relayed, each replay\n"
               "in a child process; prints the comparison table and writes OUTDIR/report.json and\n"
               "OUTDIR/report.md. ms: replay only (loading excluded); base MiB: resident after loading\n"
               "the trace; local/relayed MiB: peak resident (ru_maxrss) of that replay's process.\n"
               "Exit: 0 all matched, 1 some did not, 2 bad input or flags.\n\n"
            << desc;
}

}  // namespace

int trace_compare(const std::vector<std::string>& args) {
  po::options_description desc("options");
  desc.add_options()
      ("help,h", "show this help")
      ("strategy,s", po::value<std::vector<std::string>>(), "strategy to include; repeat or comma-separate")
      ("out,o", po::value<std::string>()->default_value("out/compare"), "directory for report.json and report.md")
      ("timeout", po::value<double>()->default_value(600.0), "seconds one replay may take (0: no limit)")
      ("dir", po::value<std::vector<std::string>>(), "trace directory or one trace file");
  po::positional_options_description pos;
  pos.add("dir", -1);
  po::variables_map vm;
  int code = kExitOk;
  if (!parse_options("trace compare", args, desc, pos, vm, code)) return code;
  if (vm.count("help")) {
    print_compare_help(desc);
    return kExitOk;
  }
  std::string dir = shared_dir() + "/traces/sequential_traces";
  if (vm.count("dir")) {
    const auto& d = vm["dir"].as<std::vector<std::string>>();
    if (d.size() != 1) return fail("trace compare: expected one DIR, got " + std::to_string(d.size()));
    dir = d.front();
  }
  std::vector<const Strategy*> chosen;
  if (vm.count("strategy")) {
    for (const std::string& arg : vm["strategy"].as<std::vector<std::string>>()) {
      std::stringstream ss(arg);
      for (std::string name; std::getline(ss, name, ',');) {
        const Strategy* s = strategy_or_fail(name, code);
        if (s == nullptr) return code;
        if (std::find(chosen.begin(), chosen.end(), s) == chosen.end()) chosen.push_back(s);
      }
    }
  } else {
    const auto all = strategies();
    chosen.assign(all.begin(), all.end());
  }
  const double timeout_s = vm["timeout"].as<double>();
  if (timeout_s < 0) return fail("trace compare: --timeout must not be negative");
  const std::string out_dir = vm["out"].as<std::string>();

  auto traces = list_traces(dir);
  if (!traces) return fail(traces.error().message);
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) return fail(out_dir + ": cannot create the output directory: " + ec.message());
  const std::string exe = self_exe();
  if (exe.empty()) return fail("cannot find the convlab executable (/proc/self/exe)");

  const bool progress = isatty(STDERR_FILENO) == 1;
  const std::size_t total = traces->size() * chosen.size() * 2;
  std::size_t done = 0;
  std::map<std::string, json::object> results;
  std::vector<json::object> rows;
  for (const std::string& tr : *traces) {
    for (const Strategy* s : chosen) {
      for (const std::string mode : kModes) {
        ++done;
        if (progress) {
          std::cerr << "\r\033[K[" << done << '/' << total << "] " << trace_name(tr) << ' ' << s->name << ' '
                    << mode << std::flush;
        }
        json::object row = run_one(exe, tr, s->name, mode, timeout_s);
        results[tr + '\n' + std::string(s->name) + '\n' + mode] = row;
        rows.push_back(std::move(row));
      }
    }
  }
  if (progress) std::cerr << "\r\033[K" << std::flush;

  const bool all_matched = std::all_of(rows.begin(), rows.end(), [](const json::object& r) { return matched(r); });
  const Table table = make_table(*traces, chosen, results);
  const std::string problems = problems_text(rows);
  std::size_t n_matched = 0;
  for (const auto& r : rows) n_matched += matched(r) ? 1 : 0;

  json::object report;
  report["convlab_version"] = CONVLAB_VERSION;
  report["traces"] = dir;
  json::array names;
  for (const Strategy* s : chosen) names.emplace_back(std::string(s->name));
  report["strategies"] = std::move(names);
  report["replays"] = rows.size();
  report["matched"] = n_matched;
  report["all_matched"] = all_matched;
  json::array arr;
  for (auto& r : rows) arr.emplace_back(std::move(r));
  report["results"] = std::move(arr);

  const std::string json_path = out_dir + "/report.json";
  const std::string md_path = out_dir + "/report.md";
  {
    std::ofstream f(json_path);
    f << json::serialize(report) << '\n';
    if (!f) return fail(json_path + ": cannot write");
  }
  {
    std::ofstream f(md_path);
    f << "# convlab trace compare\n\n"
      << "Traces: `" << dir << "`. convlab " << CONVLAB_VERSION << ". " << n_matched << " of " << total
      << " replays matched endContent.\n\n"
      << "- *local*: one client replica takes every patch as a local edit.\n"
      << "- *relayed*: client A's messages go through the server replica to client B (encode, decode, "
         "apply); *messages* and *B/edit* (wire bytes per patch) count that traffic.\n"
      << "- *ms*: the replay alone, trace loading excluded. *base MiB*: resident set after loading the "
         "trace; *local/relayed MiB*: peak resident set (ru_maxrss) of the process that replayed.\n\n"
      << table.markdown();
    if (!problems.empty()) f << "\n## Did not match\n\n" << problems;
    if (!f) return fail(md_path + ": cannot write");
  }

  std::cout << table.text();
  if (!problems.empty()) std::cout << "\ndid not match:\n" << problems;
  std::cout << '\n' << n_matched << " of " << total << " replays matched; wrote " << json_path << " and " << md_path
            << '\n';
  return all_matched ? kExitOk : kExitMismatch;
}

}  // namespace convlab::cli
