#include "reports/report.hpp"

#include "reports/format.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace convlab::reports {

namespace json = boost::json;

namespace {

// Two-sided 97.5% quantiles of Student's t for 1..30 degrees of freedom.
constexpr double kT975[] = {12.706, 4.303, 2.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                            2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                            2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};

std::string fmt(double v) { return format_number(v); }

std::string fmt_stat(const Stat& s) {
  if (s.n <= 1 || s.hi - s.lo < 1e-12) return fmt(s.mean);
  return fmt(s.mean) + " ±" + fmt((s.hi - s.lo) / 2);
}

json::object metrics_json(const RunMetrics& m) {
  json::object o;
  o["converged"] = m.converged;
  o["convergence_ms"] = m.convergence_ms;
  json::object lost;
  lost["total"] = m.lost_acked_chars;
  for (const auto& [cause, n] : m.lost_by_cause) lost[cause] = n;
  o["lost_acked_chars"] = std::move(lost);
  o["lost_acked_edits"] = m.lost_acked_edits;
  o["causality_reversals"] = m.causality_reversals;
  auto pct = [](const Percentiles& p) {
    json::object v;
    v["p50"] = p.p50;
    v["p99"] = p.p99;
    v["max"] = p.max;
    v["count"] = p.count;
    return v;
  };
  o["visibility_ms"] = pct(m.visibility_ms);
  o["visibility_cross_ms"] = pct(m.visibility_cross_ms);
  o["visibility_others_ms"] = pct(m.visibility_others_ms);
  o["stale_loads"] = m.stale_loads;
  o["served_after_revocation"] = m.served_after_revocation;
  o["read_your_writes_violations"] = m.read_your_writes_violations;
  o["silent_rename_losses"] = m.silent_rename_losses;
  json::object q;
  q["total"] = m.db_queries;
  q["per_s"] = m.db_queries_per_s;
  for (const auto& [kind, n] : m.db_queries_by_kind) q[kind] = n;
  o["db_queries"] = std::move(q);
  o["edits"] = m.edits;
  o["acked_edits"] = m.acked_edits;
  o["msgs_per_edit"] = m.msgs_per_edit;
  o["bytes_per_edit"] = m.bytes_per_edit;
  json::object mem;
  mem["per_doc_bytes"] = m.memory_per_doc_bytes;
  mem["per_replica_bytes"] = m.memory_per_replica_bytes;
  mem["replica_bytes_max"] = m.memory_replica_bytes_max;
  o["memory"] = std::move(mem);
  json::object aw;
  aw["msgs_per_s"] = m.awareness_msgs_per_s;
  aw["bytes_per_s"] = m.awareness_bytes_per_s;
  aw["msgs_per_viewer_s"] = m.awareness_msgs_per_viewer_s;
  aw["bytes_per_viewer_s"] = m.awareness_bytes_per_viewer_s;
  o["awareness"] = std::move(aw);
  if (!m.partitions.empty()) {
    json::object parts;
    parts["imbalance"] = m.partition_imbalance;
    parts["appends_per_s_max"] = m.partition_appends_per_s_max;
    parts["commit_ms_p50_max"] = m.partition_commit_ms_p50_max;
    parts["commit_ms_p99_max"] = m.partition_commit_ms_p99_max;
    json::array each;
    for (const PartitionLoad& p : m.partitions) {
      json::object po;
      po["commits_per_s"] = p.commits_per_s;
      po["appends_per_s"] = p.appends_per_s;
      po["commit_ms_p50"] = p.commit_ms_p50;
      po["commit_ms_p99"] = p.commit_ms_p99;
      each.push_back(std::move(po));
    }
    parts["each"] = std::move(each);
    o["partitions"] = std::move(parts);
  }
  o["events"] = m.events;
  o["sim_seconds"] = m.sim_seconds;
  json::array div;
  for (const auto& d : m.divergent) div.push_back(json::value(d));
  o["divergent"] = std::move(div);
  return o;
}

json::array numbers(const std::vector<double>& xs) {
  json::array a;
  a.reserve(xs.size());
  for (double x : xs) a.emplace_back(x);
  return a;
}

json::object series_json(const SeriesAggregate& s) {
  json::object o;
  o["runs"] = s.runs;
  json::object cdf;
  cdf["percentiles"] = "1..100";
  cdf["runs"] = s.cdf_runs;
  cdf["ms"] = numbers(s.visibility_cdf_ms);
  o["visibility_cdf"] = std::move(cdf);
  json::object div;
  div["bin_ms"] = static_cast<double>(s.divergence.bin_us) / 1000.0;
  div["end_ms"] = static_cast<double>(s.divergence.end_us) / 1000.0;
  div["pending_edits"] = numbers(s.divergence.pending_edits);
  div["lagging_clients"] = numbers(s.divergence.lagging_clients);
  o["divergence"] = std::move(div);
  json::array windows;
  for (const FaultWindowCount& w : s.fault_windows) {
    json::object wo;
    wo["start_ms"] = static_cast<double>(w.window.start_us) / 1000.0;
    wo["end_ms"] = static_cast<double>(w.window.end_us) / 1000.0;
    wo["kind"] = w.window.kind;
    wo["target"] = w.window.target;
    wo["detail"] = w.window.detail;
    wo["ended_by"] = w.window.ended_by;
    wo["runs"] = w.runs;
    windows.push_back(std::move(wo));
  }
  o["fault_windows"] = std::move(windows);
  return o;
}

const std::vector<std::pair<std::string, std::string>>& headline() { return headline_metrics(); }

}  // namespace

std::string format_number(double v) {
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else if (std::fabs(v) >= 100) {
    std::snprintf(buf, sizeof buf, "%.1f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.3g", v);
  }
  return buf;
}

const std::vector<std::pair<std::string, std::string>>& headline_metrics() {
  static const std::vector<std::pair<std::string, std::string>> cols = {
      {"converged", "converged"},
      {"lost_acked_chars", "lost acked"},
      {"causality_reversals", "reversals"},
      {"visibility_ms.p50", "vis p50 ms"},
      {"visibility_ms.p99", "vis p99 ms"},
      {"visibility_cross_ms.p50", "cross p50 ms"},
      {"db_queries_per_s", "db q/s"},
      {"stale_loads", "stale loads"},
      {"convergence_ms", "converge ms"},
  };
  return cols;
}

std::string format_stat(const Stat& s) { return fmt_stat(s); }

std::string format_range(const Stat& s) {
  if (s.min == s.max || std::isnan(s.min)) return fmt(s.min);
  return fmt(s.min) + "–" + fmt(s.max);
}

std::string verdict_summary(const Verdict& v, std::size_t listed) {
  const std::string mean = "mean " + fmt(v.actual);
  auto failing = [&] {
    std::string out;
    std::size_t shown = 0;
    for (const SeedValue& sv : v.failed_seeds) {
      if (shown == listed) break;
      out += (shown ? ", " : "") + std::string("seed ") + std::to_string(sv.seed) + " = " + fmt(sv.value);
      ++shown;
    }
    const std::uint64_t failed = v.seeds - v.seeds_held;
    if (failed > shown) out += ", … " + std::to_string(failed - shown) + " more";
    return out;
  };
  if (v.seeds == 0) return "no run had the metric";
  const std::string of = std::to_string(v.seeds) + (v.seeds == 1 ? " seed" : " seeds");
  if (v.quantifier == "min" || v.quantifier == "max") {
    return v.quantifier + " " + fmt(v.actual) + " at seed " + std::to_string(v.at_seed);
  }
  if (v.quantifier == "all") {
    if (v.seeds > 0 && v.seeds_held == v.seeds) return "all " + of;
    return std::to_string(v.seeds - v.seeds_held) + " of " + of + " failed: " + failing() + " (" + mean + ")";
  }
  if (v.quantifier == "any") {
    if (v.seeds_held > 0) return std::to_string(v.seeds_held) + " of " + of + " held";
    return "no seed of " + std::to_string(v.seeds) + ": " + failing() + " (" + mean + ")";
  }
  return mean;
}

Stat stat_of(const std::vector<double>& xs) {
  Stat s;
  s.n = xs.size();
  if (xs.empty()) return s;
  double sum = 0;
  for (double x : xs) sum += x;
  s.mean = sum / static_cast<double>(xs.size());
  s.min = s.max = xs.front();
  for (double x : xs) {
    if (std::isnan(x)) {
      s.min = s.max = x;
      break;
    }
    s.min = std::min(s.min, x);
    s.max = std::max(s.max, x);
  }
  if (xs.size() < 2) {
    s.lo = s.hi = s.mean;
    return s;
  }
  double ss = 0;
  for (double x : xs) ss += (x - s.mean) * (x - s.mean);
  const double sd = std::sqrt(ss / static_cast<double>(xs.size() - 1));
  const std::size_t df = xs.size() - 1;
  const double t = df <= 30 ? kT975[df - 1] : 1.96;
  const double half = t * sd / std::sqrt(static_cast<double>(xs.size()));
  s.lo = s.mean - half;
  s.hi = s.mean + half;
  return s;
}

bool Report::all_held() const {
  return std::all_of(verdicts.begin(), verdicts.end(), [](const Verdict& v) { return v.held; });
}

std::vector<Group> aggregate(const std::vector<RunRecord>& runs) {
  std::vector<Group> groups;
  std::map<std::string, std::map<std::string, std::vector<double>>> values;  // key -> metric -> xs
  std::vector<std::string> order;
  std::map<std::string, Group> proto;
  for (const RunRecord& r : runs) {
    const std::string key = r.scenario + "\x1f" + r.variant + "\x1f" + r.strategy;
    if (!proto.contains(key)) {
      order.push_back(key);
      proto[key] = Group{r.scenario, r.variant, r.strategy, {}, 0, {}};
    }
    ++proto[key].runs;
    for (const auto& [name, v] : r.metrics.flatten()) values[key][name].push_back(v);
  }
  std::map<std::string, std::vector<const RunSeries*>> series;
  for (const RunRecord& r : runs) series[r.scenario + "\x1f" + r.variant + "\x1f" + r.strategy].push_back(&r.series);
  for (const std::string& key : order) {
    Group g = proto[key];
    for (const auto& [name, xs] : values[key]) g.stats[name] = stat_of(xs);
    g.series = merge_series(series[key]);
    groups.push_back(std::move(g));
  }
  return groups;
}

std::string to_json(const Report& r) {
  json::object root;
  root["format"] = "convlab-report-1";
  json::array runs;
  for (const RunRecord& run : r.runs) {
    json::object o;
    o["scenario"] = run.scenario;
    o["variant"] = run.variant;
    o["strategy"] = run.strategy;
    o["seed"] = run.seed;
    json::object m = metrics_json(run.metrics);
    for (auto& [k, v] : m) o[k] = v;
    o["digest"] = run.digest;
    o["sim_events"] = run.sim_events;
    o["wall_ms"] = run.wall_ms;
    runs.push_back(std::move(o));
  }
  root["runs"] = std::move(runs);
  json::array groups;
  for (const Group& g : r.groups) {
    json::object o;
    o["scenario"] = g.scenario;
    o["variant"] = g.variant;
    o["strategy"] = g.strategy;
    o["runs"] = g.runs;
    json::object stats;
    for (const auto& [name, s] : g.stats) {
      json::object so;
      so["mean"] = s.mean;
      so["ci95"] = json::array{s.lo, s.hi};
      so["min"] = s.min;
      so["max"] = s.max;
      stats[name] = std::move(so);
    }
    o["metrics"] = std::move(stats);
    o["series"] = series_json(g.series);
    groups.push_back(std::move(o));
  }
  root["aggregates"] = std::move(groups);
  json::array verdicts;
  for (const Verdict& v : r.verdicts) {
    json::object o;
    o["scenario"] = v.scenario;
    o["variant"] = v.variant;
    o["strategy"] = v.strategy;
    o["metric"] = v.metric;
    o["expect"] = v.text;
    o["quantifier"] = v.quantifier;
    o["actual"] = v.actual;
    o["held"] = v.held;
    o["where"] = v.where;
    o["seeds"] = v.seeds;
    o["seeds_held"] = v.seeds_held;
    if (v.quantifier == "min" || v.quantifier == "max") o["at_seed"] = v.at_seed;
    if (v.quantifier == "all" || v.quantifier == "any") {
      json::array failed;
      for (const SeedValue& sv : v.failed_seeds) failed.push_back(json::object{{"seed", sv.seed}, {"value", sv.value}});
      o["failed_seeds"] = std::move(failed);
    }
    verdicts.push_back(std::move(o));
  }
  root["expectations"] = std::move(verdicts);
  root["all_held"] = r.all_held();
  return json::serialize(root) + "\n";
}

namespace {
// Groups by scenario then variant, keeping the report's order.
template <class F>
void for_each_table(const Report& r, F&& f) {
  std::vector<std::pair<std::string, std::string>> keys;
  for (const Group& g : r.groups) {
    auto k = std::make_pair(g.scenario, g.variant);
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
  }
  for (const auto& [scenario, variant] : keys) {
    std::vector<const Group*> rows;
    for (const Group& g : r.groups) {
      if (g.scenario == scenario && g.variant == variant) rows.push_back(&g);
    }
    f(scenario, variant, rows);
  }
}

std::string cell(const Group& g, const std::string& metric) {
  auto it = g.stats.find(metric);
  return it == g.stats.end() ? "-" : fmt_stat(it->second);
}

// The mean ± half-width, then min–max over the seeds when there are several.
std::string cell_with_range(const Group& g, const std::string& metric) {
  auto it = g.stats.find(metric);
  if (it == g.stats.end()) return "-";
  if (it->second.n <= 1) return fmt_stat(it->second);
  return fmt_stat(it->second) + " (" + format_range(it->second) + ")";
}
}  // namespace

namespace {
// A partitioned world's load per partition, each figure the mean over the group's seeds: one
// Markdown list item, or nothing when the runs were not partitioned.
std::string partition_line(const Report& r, const Group& g) {
  std::vector<PartitionLoad> sum;
  std::size_t runs = 0;
  for (const RunRecord& run : r.runs) {
    if (run.scenario != g.scenario || run.variant != g.variant || run.strategy != g.strategy) continue;
    const std::vector<PartitionLoad>& parts = run.metrics.partitions;
    if (parts.empty()) continue;
    sum.resize(std::max(sum.size(), parts.size()));
    for (std::size_t p = 0; p < parts.size(); ++p) {
      sum[p].commits_per_s += parts[p].commits_per_s;
      sum[p].appends_per_s += parts[p].appends_per_s;
      sum[p].commit_ms_p99 += parts[p].commit_ms_p99;
    }
    ++runs;
  }
  if (runs == 0) return "";
  const auto mean = [&](double total) { return fmt(total / static_cast<double>(runs)); };
  std::string appends, commits, p99;
  for (const PartitionLoad& p : sum) {
    appends += (appends.empty() ? "" : " · ") + mean(p.appends_per_s);
    commits += (commits.empty() ? "" : " · ") + mean(p.commits_per_s);
    p99 += (p99.empty() ? "" : " · ") + mean(p.commit_ms_p99);
  }
  const auto it = g.stats.find("partition_imbalance");
  const std::string imbalance = it == g.stats.end() ? "" : "imbalance " + fmt_stat(it->second) + "; ";
  return "- partitions of `" + g.strategy + "` (0 · 1 · …, means over seeds): " + imbalance + "appends/s " + appends +
         "; commits/s " + commits + "; commit p99 ms " + p99 + "\n";
}
}  // namespace

std::string to_markdown(const Report& r) {
  std::ostringstream md;
  md << "# convlab report\n\n";
  const std::size_t held = static_cast<std::size_t>(std::count_if(r.verdicts.begin(), r.verdicts.end(), [](const Verdict& v) { return v.held; }));
  md << r.runs.size() << " runs; expectations: " << held << " held, " << (r.verdicts.size() - held) << " failed.\n\n";
  md << "Figures are means over seeds with the half-width of their 95% interval (±), then the smallest and largest "
        "value over the seeds (min–max). An expectation compares the mean unless it names another quantifier "
        "(min, max, all, any).\n\n";
  for_each_table(r, [&](const std::string& scenario, const std::string& variant, const std::vector<const Group*>& rows) {
    md << "## " << scenario << " — " << variant << "\n\n| strategy |";
    for (const auto& [metric, title] : headline()) md << " " << title << " |";
    md << "\n|---|";
    for (std::size_t i = 0; i < headline().size(); ++i) md << "---:|";
    md << "\n";
    for (const Group* g : rows) {
      md << "| " << g->strategy << " (" << g->runs << " seeds) |";
      for (const auto& [metric, title] : headline()) md << " " << cell_with_range(*g, metric) << " |";
      md << "\n";
    }
    md << "\n";
    for (const Group* g : rows) md << partition_line(r, *g);
    for (const Verdict& v : r.verdicts) {
      if (v.scenario != scenario || v.variant != variant) continue;
      md << "- " << (v.held ? "held" : "**FAILED**") << ": `" << v.strategy << "` " << v.metric << " " << v.text
         << " (" << verdict_summary(v) << ") — " << v.where << "\n";
    }
    md << "\n";
  });
  return md.str();
}

std::string comparison_table(const Report& r) {
  std::ostringstream out;
  for_each_table(r, [&](const std::string& scenario, const std::string& variant, const std::vector<const Group*>& rows) {
    out << scenario << " [" << variant << "]\n";
    std::vector<std::vector<std::string>> table;
    std::vector<std::string> head = {"strategy"};
    for (const auto& [metric, title] : headline()) head.push_back(title);
    table.push_back(head);
    for (const Group* g : rows) {
      std::vector<std::string> row = {g->strategy};
      for (const auto& [metric, title] : headline()) row.push_back(cell(*g, metric));
      table.push_back(row);
    }
    std::vector<std::size_t> width(head.size(), 0);
    for (const auto& row : table) {
      for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
    }
    for (const auto& row : table) {
      out << "  ";
      for (std::size_t i = 0; i < row.size(); ++i) {
        const std::string pad(width[i] - row[i].size(), ' ');
        out << (i == 0 ? row[i] + pad : pad + row[i]) << (i + 1 < row.size() ? "  " : "\n");
      }
    }
    for (const Verdict& v : r.verdicts) {
      if (v.scenario != scenario || v.variant != variant) continue;
      out << "  " << (v.held ? "ok  " : "FAIL") << " " << v.strategy << ": " << v.metric << " " << v.text << " ("
          << verdict_summary(v) << ")" << (v.held ? "" : "  at " + v.where) << "\n";
    }
    out << "\n";
  });
  return out.str();
}

namespace {
// Text for an XML attribute or element: the five special characters escaped, and control
// characters other than tab and newline (not allowed in XML 1.0) replaced by a space; a newline
// becomes a character reference.
std::string xml_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (c == '\n') {
          out += "&#10;";  // kept through attribute-value normalisation
        } else if (static_cast<unsigned char>(c) < 0x20 && c != '\t') {
          out += ' ';
        } else {
          out += c;
        }
    }
  }
  return out;
}
}  // namespace

std::string to_junit(const Report& r) {
  std::vector<std::string> scenarios;  // in first-appearance order
  for (const Verdict& v : r.verdicts) {
    if (std::find(scenarios.begin(), scenarios.end(), v.scenario) == scenarios.end()) scenarios.push_back(v.scenario);
  }
  const auto failed = [](const Verdict& v) { return !v.held; };
  std::ostringstream x;
  x << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  x << "<testsuites name=\"convlab\" tests=\"" << r.verdicts.size() << "\" failures=\""
    << std::count_if(r.verdicts.begin(), r.verdicts.end(), failed) << "\">\n";
  for (const std::string& sc : scenarios) {
    std::vector<const Verdict*> cases;
    for (const Verdict& v : r.verdicts) {
      if (v.scenario == sc) cases.push_back(&v);
    }
    const auto n_failed = std::count_if(cases.begin(), cases.end(), [](const Verdict* v) { return !v->held; });
    x << "  <testsuite name=\"" << xml_escape(sc) << "\" tests=\"" << cases.size() << "\" failures=\"" << n_failed
      << "\">\n";
    for (const Verdict* v : cases) {
      const std::string name = v->variant + " / " + v->strategy + ": " + v->metric + " " + v->text;
      x << "    <testcase classname=\"" << xml_escape(sc) << "\" name=\"" << xml_escape(name) << "\"";
      if (v->held) {
        x << "/>\n";
        continue;
      }
      const std::string seen = v->quantifier == "mean" ? "mean over seeds was " + fmt(v->actual) : verdict_summary(*v);
      const std::string message = "expected " + v->metric + " " + v->text + ", " + seen + " (" + v->variant + " / " +
                                  v->strategy + ") at " + v->where;
      x << ">\n      <failure type=\"expectation\" message=\"" << xml_escape(message) << "\">"
        << xml_escape(v->where + ": " + message) << "</failure>\n    </testcase>\n";
    }
    x << "  </testsuite>\n";
  }
  x << "</testsuites>\n";
  return x.str();
}

}  // namespace convlab::reports
