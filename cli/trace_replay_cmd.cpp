// convlab trace replay FILE --strategy S [--relayed] [--runs N] [--json]
// convlab trace conformance [FILE]
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/measure.hpp"
#include "server/strategies/registry.hpp"
#include "workload/concurrent.hpp"
#include "workload/replay.hpp"
#include "workload/trace.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>

namespace convlab::cli {

namespace po = boost::program_options;
namespace json = boost::json;

std::string trace_name(const std::string& path) {
  std::string name = std::filesystem::path(path).filename().string();
  for (const std::string_view ext : {".gz", ".json"}) {
    if (name.size() > ext.size() && name.ends_with(ext)) name.resize(name.size() - ext.size());
  }
  return name;
}

namespace {

// What one `trace replay` measured; printed for people, or as one JSON line for `compare`
// and bench/peers/run.sh.
struct Measured {
  std::string trace;
  std::string kind;      // sequential | concurrent
  std::string strategy;
  std::string mode;      // local | relayed | merge
  std::uint64_t patches = 0;
  std::uint64_t length = 0;
  std::uint64_t end_length = 0;
  bool matched = false;
  std::size_t first_difference = 0;
  std::string expected_excerpt;
  std::string got_excerpt;
  std::string error;     // the replay itself failed (a replica refused a message, ...)
  double load_ms = 0;    // reading, gunzipping and parsing the file into patches
  std::vector<double> ms;  // each replay, the trace already loaded
  std::uint64_t messages = 0;
  std::uint64_t wire_bytes = 0;
  std::uint64_t rss_after_load_kib = 0;       // resident once the trace is loaded
  std::uint64_t peak_rss_after_load_kib = 0;  // the peak so far (parsing the JSON)
  std::uint64_t peak_rss_kib = 0;             // the peak at the end (loading and replaying)
};

json::object to_json(const Measured& m) {
  json::object o;
  o["trace"] = m.trace;
  o["name"] = trace_name(m.trace);
  o["kind"] = m.kind;
  o["strategy"] = m.strategy;
  o["mode"] = m.mode;
  o["patches"] = m.patches;
  o["length"] = m.length;
  o["end_length"] = m.end_length;
  o["matched"] = m.matched;
  if (!m.matched && m.error.empty()) {
    o["first_difference"] = m.first_difference;
    o["expected"] = m.expected_excerpt;
    o["got"] = m.got_excerpt;
  }
  if (!m.error.empty()) o["error"] = m.error;
  o["load_ms"] = m.load_ms;
  o["runs"] = m.ms.size();
  json::array ms;
  for (double x : m.ms) ms.emplace_back(x);
  o["ms"] = std::move(ms);
  o["ms_median"] = m.ms.empty() ? 0.0 : median(m.ms);
  o["messages"] = m.messages;
  o["wire_bytes"] = m.wire_bytes;
  o["rss_after_load_kib"] = m.rss_after_load_kib;
  o["peak_rss_after_load_kib"] = m.peak_rss_after_load_kib;
  o["peak_rss_kib"] = m.peak_rss_kib;
  return o;
}

void print_human(const Measured& m) {
  std::cout << "trace      " << m.trace << " (" << m.kind << ")\n"
            << "strategy   " << m.strategy << " (" << m.mode << ")\n"
            << "patches    " << m.patches << '\n'
            << "length     " << m.length << " code points (endContent: " << m.end_length << ")\n";
  if (!m.error.empty()) {
    std::cout << "matched    no: " << one_line(m.error) << '\n';
  } else if (m.matched) {
    std::cout << "matched    yes\n";
  } else {
    std::cout << "matched    no: first difference at code point " << m.first_difference << "\n"
              << "  expected " << json::serialize(json::string(m.expected_excerpt)) << "\n"
              << "  got      " << json::serialize(json::string(m.got_excerpt)) << '\n';
  }
  if (m.mode == "relayed") {
    std::cout << "messages   " << m.messages << " (" << m.wire_bytes << " wire bytes, "
              << fixed(m.patches ? static_cast<double>(m.wire_bytes) / static_cast<double>(m.patches) : 0.0, 1)
              << " per edit)\n";
  }
  std::cout << "load       " << fixed(m.load_ms, 1) << " ms (read, gunzip, JSON into patches)\n";
  if (!m.ms.empty()) {
    std::cout << "replay     " << fixed(median(m.ms), 1) << " ms";
    if (m.ms.size() > 1) std::cout << " (median of " << m.ms.size() << " runs)";
    std::cout << '\n';
  }
  std::cout << "peak RSS   " << fixed(static_cast<double>(m.peak_rss_kib) / 1024.0, 1) << " MiB ("
            << fixed(static_cast<double>(m.rss_after_load_kib) / 1024.0, 1) << " MiB after loading the trace)\n";
}

void compare_texts(Measured& m, const std::u32string& got, const std::u32string& expected) {
  m.length = got.size();
  m.end_length = expected.size();
  m.matched = got == expected;
  if (!m.matched) {
    m.first_difference = first_difference(expected, got);
    const std::size_t from = m.first_difference > 20 ? m.first_difference - 20 : 0;
    m.expected_excerpt = excerpt(expected, from, 60);
    m.got_excerpt = excerpt(got, from, 60);
  }
}

void print_replay_help(const po::options_description& desc) {
  std::cout << "usage: convlab trace replay FILE --strategy NAME [--relayed] [--runs N] [--json]\n\n"
               "Replays an editing trace (gzip or plain JSON) through one strategy and checks the\n"
               "final text against its endContent. Sequential traces replay on one client (local)\n"
               "or through client -> server -> second client (--relayed); a concurrent trace\n"
               "(\"kind\": \"concurrent\") merges under crdt only. Prints the load time (read,\n"
               "gunzip, parse) and the replay time (median of --runs) separately.\n"
               "Strategies: " << strategy_names() << "\n"
               "Exit: 0 matched, 1 did not match, 2 bad input or flags.\n\n"
            << desc;
}

}  // namespace

int trace_replay(const std::vector<std::string>& args) {
  po::options_description desc("options");
  desc.add_options()
      ("help,h", "show this help")
      ("strategy,s", po::value<std::string>(), "strategy to replay under (required)")
      ("relayed", "replay through the server to a second client (encode, decode, apply)")
      ("runs", po::value<unsigned>()->default_value(1), "replay this many times; time is the median")
      ("json", "print one JSON object instead of the table")
      ("file", po::value<std::vector<std::string>>(), "trace file");
  po::positional_options_description pos;
  pos.add("file", -1);
  po::variables_map vm;
  int code = kExitOk;
  if (!parse_options("trace replay", args, desc, pos, vm, code)) return code;
  if (vm.count("help")) {
    print_replay_help(desc);
    return kExitOk;
  }
  if (!vm.count("file")) return fail("trace replay: missing FILE (see convlab trace replay --help)");
  const auto& files = vm["file"].as<std::vector<std::string>>();
  if (files.size() != 1) return fail("trace replay: expected one FILE, got " + std::to_string(files.size()));
  if (!vm.count("strategy")) {
    return fail("trace replay: --strategy is required (known: " + strategy_names() + ")");
  }
  const Strategy* s = strategy_or_fail(vm["strategy"].as<std::string>(), code);
  if (s == nullptr) return code;
  const unsigned runs = vm["runs"].as<unsigned>();
  if (runs == 0) return fail("trace replay: --runs must be at least 1");
  const bool relayed = vm.count("relayed") > 0;
  const std::string& path = files.front();

  const Stopwatch load_sw;
  auto loaded = load_trace(path);
  if (!loaded) return fail(loaded.error().message);

  Measured m;
  m.load_ms = load_sw.elapsed_ms();
  m.trace = path;
  m.strategy = std::string(s->name);
  m.kind = loaded->concurrent ? "concurrent" : "sequential";
  m.rss_after_load_kib = current_rss_kib();
  m.peak_rss_after_load_kib = std::max(peak_rss_kib(), m.rss_after_load_kib);

  if (loaded->concurrent) {
    if (s->name != "crdt") {
      return fail(path + ": a concurrent trace replays only under crdt (merge_concurrent_trace), not under " +
                  std::string(s->name));
    }
    if (relayed) return fail(path + ": --relayed applies to sequential traces only");
    m.mode = "merge";
    const ConcurrentTrace& t = loaded->concurrent_trace;
    for (const ConcurrentTxn& txn : t.txns) m.patches += txn.patches.size();
    for (unsigned r = 0; r < runs; ++r) {
      const Stopwatch sw;
      auto merged = merge_concurrent_trace(t);
      m.ms.push_back(sw.elapsed_ms());
      if (!merged) {
        m.error = merged.error().message;
        m.matched = false;
        m.end_length = t.end_content.size();
        break;
      }
      compare_texts(m, *merged, t.end_content);
      if (!m.matched) break;
    }
  } else {
    m.mode = relayed ? "relayed" : "local";
    const SequentialTrace& t = loaded->sequential;
    for (unsigned r = 0; r < runs; ++r) {
      const Stopwatch sw;
      auto res = relayed ? replay_relayed(*s, t) : replay_local(*s, t);
      m.ms.push_back(sw.elapsed_ms());
      if (!res) {
        m.error = res.error().message;
        m.matched = false;
        m.end_length = t.end_content.size();
        m.patches = t.patch_count;
        break;
      }
      m.patches = res->patches;
      m.messages = res->messages;
      m.wire_bytes = res->wire_bytes;
      compare_texts(m, res->text, t.end_content);
      if (!m.matched) break;
    }
  }
  // ru_maxrss is updated lazily; the resident set now can be a little above it.
  m.peak_rss_kib = std::max(peak_rss_kib(), current_rss_kib());

  if (vm.count("json")) {
    std::cout << json::serialize(to_json(m)) << '\n';
  } else {
    print_human(m);
  }
  return m.matched ? kExitOk : kExitMismatch;
}

int trace_conformance(const std::vector<std::string>& args) {
  po::options_description desc("options");
  desc.add_options()
      ("help,h", "show this help")
      ("file", po::value<std::vector<std::string>>(), "conformance file");
  po::positional_options_description pos;
  pos.add("file", -1);
  po::variables_map vm;
  int code = kExitOk;
  if (!parse_options("trace conformance", args, desc, pos, vm, code)) return code;
  if (vm.count("help")) {
    std::cout << "usage: convlab trace conformance [FILE]\n\n"
                 "Merges every history of a conformance file (a JSON array of {txns, endContent}, see\n"
                 "shared/conformance/SOURCE.md) with the crdt strategy and compares each result with\n"
                 "its endContent. FILE defaults to <shared>/conformance/egwalker-conformance.json.\n"
                 "Prints \"N passed, N failed\" and the first failure. Exit: 0 all passed, 1 some\n"
                 "failed, 2 bad input or flags.\n\n"
              << desc;
    return kExitOk;
  }
  std::string path = shared_dir() + "/conformance/egwalker-conformance.json";
  if (vm.count("file")) {
    const auto& files = vm["file"].as<std::vector<std::string>>();
    if (files.size() != 1) return fail("trace conformance: expected one FILE, got " + std::to_string(files.size()));
    path = files.front();
  }
  auto histories = load_conformance(path);
  if (!histories) return fail(histories.error().message);

  std::size_t passed = 0;
  std::size_t failed = 0;
  std::size_t first_failure = 0;
  std::string first_detail;
  for (std::size_t i = 0; i < histories->size(); ++i) {
    const ConformanceHistory& h = (*histories)[i];
    auto got = merge_conformance(h);
    std::string detail;
    if (!got) {
      detail = "  error    " + one_line(got.error().message);
    } else if (*got != h.end_content) {
      const std::size_t at = first_difference(h.end_content, *got);
      const std::size_t from = at > 20 ? at - 20 : 0;
      detail = "  first difference at code point " + std::to_string(at) + "\n  expected " +
               json::serialize(json::string(excerpt(h.end_content, from, 60))) + "\n  got      " +
               json::serialize(json::string(excerpt(*got, from, 60)));
    }
    if (detail.empty()) {
      ++passed;
    } else {
      if (failed == 0) {
        first_failure = i;
        first_detail = std::move(detail);
      }
      ++failed;
    }
  }
  std::cout << passed << " passed, " << failed << " failed\n";
  if (failed > 0) {
    std::cout << "first failure: history " << first_failure << " of " << path << '\n' << first_detail << '\n';
  }
  return failed == 0 ? kExitOk : kExitMismatch;
}

}  // namespace convlab::cli
