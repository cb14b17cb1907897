#include "cli/scenarios.hpp"

#include "cli/common.hpp"
#include "cli/partial.hpp"
#include "server/strategies/registry.hpp"
#include "sim/world.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <thread>

namespace convlab::cli {

namespace fs = std::filesystem;

Result<std::vector<std::string>> scenario_files(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (const std::string& arg : args) {
    std::error_code ec;
    if (!fs::is_directory(arg, ec)) {
      out.push_back(arg);
      continue;
    }
    std::vector<std::string> inside;
    for (const auto& e : fs::directory_iterator(arg, ec)) {
      if (e.path().extension() == ".yaml" && e.is_regular_file()) inside.push_back(e.path().string());
    }
    if (ec) return make_error(arg + ": cannot list the directory: " + ec.message());
    if (inside.empty()) return make_error(arg + ": no scenario files (*.yaml) in the directory");
    std::sort(inside.begin(), inside.end());
    out.insert(out.end(), inside.begin(), inside.end());
  }
  return out;
}

Loaded load_scenarios(const std::vector<std::string>& files) {
  Loaded l;
  for (const std::string& f : files) {
    auto sc = sim::load_scenario(f);
    if (sc) {
      l.scenarios.push_back(std::move(*sc));
      continue;
    }
    std::stringstream ss(sc.error().message);
    for (std::string line; std::getline(ss, line);) {
      if (!line.empty()) l.problems.push_back(line);
    }
  }
  return l;
}

std::vector<const Strategy*> strategies_of(const sim::Scenario& sc, const std::vector<const Strategy*>& chosen) {
  if (!chosen.empty()) return chosen;
  std::vector<const Strategy*> out;
  if (sc.strategies.empty()) {
    const auto all = strategies();
    out.assign(all.begin(), all.end());
    return out;
  }
  for (const std::string& name : sc.strategies) {
    if (const Strategy* s = find_strategy(name)) out.push_back(s);
  }
  return out;
}

std::vector<std::string> world_problem_lines(const sim::Scenario& sc, const std::vector<const Strategy*>& strategies,
                                             const std::string& variant) {
  std::vector<std::string> out;
  for (const sim::Variant& v : sc.variants) {
    if (!variant.empty() && v.name != variant) continue;
    for (const Strategy* s : strategies) {
      for (const std::string& p : sim::world_problems(v.config, *s)) {
        out.push_back(sc.file + ": variant " + v.name + ", strategy " + std::string(s->name) + ": " + p);
      }
    }
  }
  return out;
}

int fail_lines(const std::vector<std::string>& lines) {
  for (const std::string& l : lines) std::cerr << one_line(l) << '\n';
  std::cerr << std::flush;
  return kExitUsage;
}

bool parse_strategies(const std::vector<std::string>& values, std::vector<const Strategy*>& out, int& exit_code) {
  for (const std::string& arg : values) {
    std::stringstream ss(arg);
    for (std::string name; std::getline(ss, name, ',');) {
      const Strategy* s = strategy_or_fail(name, exit_code);
      if (s == nullptr) return false;
      if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
    }
  }
  return true;
}

Result<std::uint64_t> parse_uint(const std::string& flag, const std::string& text, std::uint64_t lo, std::uint64_t hi) {
  const std::string problem =
      flag + " " + text + ": expected a whole number " + std::to_string(lo) + ".." + std::to_string(hi);
  if (text.empty() || text.size() > 19) return make_error(problem);
  std::uint64_t v = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return make_error(problem);
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v < lo || v > hi) return make_error(problem);
  return v;
}

bool campaign_flags(const std::string& command, const boost::program_options::variables_map& vm,
                    campaigns::CampaignOptions& options, int& exit_code) {
  constexpr std::uint64_t kJobsMax = 4096;
  options.progress = true;
  if (vm.count("strategy") &&
      !parse_strategies(vm["strategy"].as<std::vector<std::string>>(), options.strategies, exit_code)) {
    return false;
  }
  const auto bad = [&](const std::string& problem) {
    exit_code = fail(command + ": " + problem);
    return false;
  };
  if (vm.count("seeds")) {
    auto seeds = campaigns::parse_seeds(vm["seeds"].as<std::string>());
    if (!seeds) return bad(seeds.error().message);
    options.seeds = std::move(*seeds);
  }
  options.jobs = std::max(1u, std::thread::hardware_concurrency());
  if (vm.count("jobs")) {
    auto jobs = parse_uint("--jobs", vm["jobs"].as<std::string>(), 1, kJobsMax);
    if (!jobs) return bad(jobs.error().message);
    options.jobs = static_cast<unsigned>(*jobs);
  }
  if (vm.count("variant")) {
    options.variant = vm["variant"].as<std::string>();
    if (options.variant.empty()) return bad("--variant: expected a variant name");
  }
  if (vm.count("shard")) {
    auto shard = parse_shard(vm["shard"].as<std::string>());
    if (!shard) return bad(shard.error().message);
    options.shard = shard->first;
    options.shards = shard->second;
  }
  return true;
}

std::string seeds_text(const std::vector<std::uint64_t>& seeds) {
  if (seeds.empty()) return "none";
  bool contiguous = true;
  for (std::size_t i = 1; i < seeds.size(); ++i) contiguous = contiguous && seeds[i] == seeds[i - 1] + 1;
  if (contiguous) {
    return seeds.size() == 1 ? std::to_string(seeds.front())
                             : std::to_string(seeds.front()) + ".." + std::to_string(seeds.back());
  }
  std::string out;
  for (const std::uint64_t s : seeds) out += (out.empty() ? "" : ",") + std::to_string(s);
  return out;
}

namespace {
std::string num(double v) {
  if (std::fabs(v) < 1e15 && v == std::floor(v)) return fixed(v, 0);
  return fixed(v, std::fabs(v) >= 100 ? 1 : 3);
}
std::string pct(const reports::Percentiles& p) {
  return "p50 " + num(p.p50) + "  p99 " + num(p.p99) + "  max " + num(p.max) + "  (" + std::to_string(p.count) +
         " pairs)";
}
}  // namespace

std::string metrics_text(const reports::RunMetrics& m) {
  std::ostringstream o;
  const auto line = [&](const std::string& name, const std::string& value) {
    o << name << std::string(name.size() < 22 ? 22 - name.size() : 1, ' ') << value << '\n';
  };
  line("converged", m.converged ? "yes, " + num(m.convergence_ms) + " ms after the heal" : "NO");
  std::string causes;
  for (const auto& [cause, n] : m.lost_by_cause) causes += (causes.empty() ? "" : ", ") + cause + " " + std::to_string(n);
  line("lost acked chars", std::to_string(m.lost_acked_chars) + (causes.empty() ? "" : " (" + causes + ")"));
  line("lost acked edits", std::to_string(m.lost_acked_edits));
  line("causality reversals", std::to_string(m.causality_reversals));
  line("visibility ms", pct(m.visibility_ms));
  line("cross-server vis ms", pct(m.visibility_cross_ms));
  line("others' vis ms", pct(m.visibility_others_ms));
  line("stale loads", std::to_string(m.stale_loads));
  line("served after revoke", std::to_string(m.served_after_revocation));
  line("read-your-writes", std::to_string(m.read_your_writes_violations) + " violations");
  line("silent rename losses", std::to_string(m.silent_rename_losses));
  std::string kinds;
  for (const auto& [kind, n] : m.db_queries_by_kind) kinds += (kinds.empty() ? "" : ", ") + kind + " " + std::to_string(n);
  line("db queries", std::to_string(m.db_queries) + (kinds.empty() ? "" : " (" + kinds + ")") + ", " +
                         num(m.db_queries_per_s) + " per s in the fault phase");
  line("edits", std::to_string(m.edits) + " (" + std::to_string(m.acked_edits) + " acknowledged)");
  line("per edit", num(m.msgs_per_edit) + " messages, " + num(m.bytes_per_edit) + " bytes");
  if (m.awareness_msgs_per_s > 0) {
    line("presence", num(m.awareness_msgs_per_s) + " frames/s, " + num(m.awareness_bytes_per_s) + " bytes/s; per viewer " +
                         num(m.awareness_msgs_per_viewer_s) + " frames/s, " + num(m.awareness_bytes_per_viewer_s) +
                         " bytes/s");
  }
  for (std::size_t p = 0; p < m.partitions.size(); ++p) {
    const reports::PartitionLoad& l = m.partitions[p];
    line("partition " + std::to_string(p), num(l.commits_per_s) + " commits/s, " + num(l.appends_per_s) +
                                               " appends/s, commit p50 " + num(l.commit_ms_p50) + " ms, p99 " +
                                               num(l.commit_ms_p99) + " ms");
  }
  if (!m.partitions.empty()) line("imbalance", num(m.partition_imbalance) + " (busiest partition's appends/s over the mean)");
  line("history", std::to_string(m.events) + " events over " + num(m.sim_seconds) + " simulated s");
  for (const std::string& d : m.divergent) o << "divergent: " << d << '\n';
  constexpr std::size_t kLostShown = 10;
  for (std::size_t i = 0; i < m.lost.size() && i < kLostShown; ++i) {
    const reports::LostChar& l = m.lost[i];
    o << "lost: doc " << l.doc << " char (" << l.id.agent << "," << l.id.seq << ") of client " << l.author_client
      << "'s edit " << l.author_op << ": " << l.cause;
    // crash, db_lost and unknown blame no edit; every other cause names the edit that replaced it.
    if (l.cause != "crash" && l.cause != "db_lost" && l.cause != "unknown") o << ", replaced by client " << l.by_client << "'s edit " << l.by_op;
    o << '\n';
  }
  if (m.lost_acked_chars > kLostShown && !m.lost.empty()) {
    o << "lost: ... " << (m.lost_acked_chars - std::min<std::uint64_t>(kLostShown, m.lost.size())) << " more\n";
  }
  return o.str();
}

}  // namespace convlab::cli
