#include "cli/sweep.hpp"

#include "reports/html.hpp"

#include <boost/json.hpp>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

namespace convlab::cli {

namespace json = boost::json;

namespace {

// The numeric scalar settings of a scenario (docs/scenarios.md), by path under `world`.
// Ranges ([min, max]) and lists are not varied.
struct Setting {
  const char* path;
  bool integer;
};
constexpr Setting kSettings[] = {
    {"duration_ms", true},
    {"quiesce_ms", true},
    {"docs", true},
    {"clients", true},
    {"workload.burst_prob", false},
    {"workload.burst_len", true},
    {"workload.burst_gap_ms", true},
    {"workload.same_paragraph_prob", false},
    {"workload.insert_prob", false},
    {"workload.insert_len_max", true},
    {"workload.delete_len_max", true},
    {"workload.newline_prob", false},
    {"workload.organizations", true},
    {"workload.org_exponent", false},
    {"clocks.drift_ppm_max", true},
    {"servers.count", true},
    {"servers.poll_interval_ms", true},
    {"servers.snapshot_interval_ms", true},
    {"servers.snapshot_every_changes", true},
    {"servers.rate_limit_per_s", false},
    {"servers.rate_burst", true},
    {"servers.work_us_per_msg", true},
    {"database.replica_lag_ms", true},
    {"database.partitions", true},
    {"database.work_us_per_append", true},
    {"cdn.ttl_ms", true},
    {"auth.token_lifetime_ms", true},
    {"random_faults.count", true},
    {"random_faults.clock_offset_max_ms", true},
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (const char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string leaf_of(const std::string& path) {
  const auto dot = path.rfind('.');
  return dot == std::string::npos ? path : path.substr(dot + 1);
}

// "x_ms" -> "x_s" (the other spelling of a time key), else empty.
std::string seconds_spelling(const std::string& ms_key) {
  return ends_with(ms_key, "_ms") ? ms_key.substr(0, ms_key.size() - 3) + "_s" : std::string();
}

// The names a setting answers to: its path, its leaf, and for times the _s spellings of both;
// servers.count also answers to "servers".
std::vector<std::string> names_of(const Setting& s) {
  std::vector<std::string> names{s.path, leaf_of(s.path)};
  if (const std::string sec = seconds_spelling(s.path); !sec.empty()) {
    names.push_back(sec);
    names.push_back(leaf_of(sec));
  }
  if (std::string(s.path) == "servers.count") names.push_back("servers");
  return names;
}

bool is_number(const std::string& v, bool integer) {
  if (v.empty()) return false;
  const char* b = v.data() + (v.front() == '-' ? 1 : 0);
  const char* e = v.data() + v.size();
  if (integer) {
    std::uint64_t x = 0;
    const auto r = std::from_chars(b, e, x);
    return r.ec == std::errc() && r.ptr == e;
  }
  double x = 0;
  const auto r = std::from_chars(b, e, x);
  return r.ec == std::errc() && r.ptr == e && std::isfinite(x);
}

// Sets path = value in the mapping `root` (creating mappings on the way when `create`), taking
// out the other spelling of a time key at the leaf. Returns whether it set anything.
bool set_path(YAML::Node root, const std::vector<std::string>& path, const std::string& value, bool create) {
  YAML::Node cur = root;
  for (std::size_t i = 0; i + 1 < path.size(); ++i) {
    if (!cur.IsMap() || !cur[path[i]]) {
      if (!create) return false;
      if (cur.IsNull()) cur = YAML::Node(YAML::NodeType::Map);
      if (!cur[path[i]] || !cur[path[i]].IsMap()) cur[path[i]] = YAML::Node(YAML::NodeType::Map);
    }
    YAML::Node next = cur[path[i]];
    cur.reset(next);
  }
  if (!cur.IsMap()) return false;
  const std::string& leaf = path.back();
  std::string other;
  if (ends_with(leaf, "_ms")) other = seconds_spelling(leaf);
  if (ends_with(leaf, "_s") && !ends_with(leaf, "_per_s")) other = leaf.substr(0, leaf.size() - 2) + "_ms";
  const bool present = cur[leaf] || (!other.empty() && cur[other]);
  if (!present && !create) return false;
  if (!other.empty()) cur.remove(other);
  cur[leaf] = value;
  return true;
}

// "FILE:L:C: " taken off a loader message.
std::string without_place(const std::string& line, const std::string& file) {
  std::string s = line;
  if (s.rfind(file + ":", 0) == 0) s = s.substr(file.size() + 1);
  for (int i = 0; i < 2; ++i) {
    const auto colon = s.find(':');
    if (colon == std::string::npos || colon == 0 ||
        !std::all_of(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(colon), [](char c) { return c >= '0' && c <= '9'; })) {
      return line;
    }
    s = s.substr(colon + 1);
  }
  return s.size() > 0 && s.front() == ' ' ? s.substr(1) : s;
}

// The curves sweep.md and sweep.csv show, in this order (sweep.json has every metric).
struct Column {
  const char* metric;
  const char* title;
};
constexpr Column kColumns[] = {
    {"db_queries_per_s", "db queries/s"},
    {"db_polls_per_s", "polls/s"},
    {"bus_msgs_per_s", "bus msgs/s"},
    {"server_inputs_per_s", "server work (inputs/s)"},
    {"net_bytes_per_s", "wire bytes/s"},
    {"mem_doc_bytes_max", "memory (doc bytes, peak)"},
    {"mem_bytes_per_doc", "bytes/doc"},
    {"visibility_ms.p99", "visibility p99 ms"},
    {"awareness_msgs_per_viewer_s", "presence msgs/s per viewer"},
    {"awareness_bytes_per_viewer_s", "presence bytes/s per viewer"},
    {"partition_imbalance", "partition imbalance (max/mean appends)"},
    {"partition_appends_per_s_max", "busiest partition appends/s"},
    {"partition_commit_ms_p99_max", "busiest partition commit p99 ms"},
};

json::value param_value(const std::string& v) {
  std::int64_t i = 0;
  const auto r = std::from_chars(v.data(), v.data() + v.size(), i);
  if (r.ec == std::errc() && r.ptr == v.data() + v.size()) return json::value(i);
  double d = 0;
  std::from_chars(v.data(), v.data() + v.size(), d);
  return json::value(d);
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (const char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string csv_number(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

}  // namespace

std::string varyable_keys() {
  std::string out;
  for (const Setting& s : kSettings) {
    out += (out.empty() ? "" : ", ") + std::string(s.path);
    if (std::string(s.path) == "servers.count") out += " (or servers)";
  }
  return out + "; a unique last part alone (clients, poll_interval_ms) and _s for _ms also work";
}

Result<Vary> parse_vary(const std::string& arg) {
  const auto eq = arg.find('=');
  if (eq == std::string::npos || eq == 0) {
    return make_error("--vary " + arg + ": expected KEY=V1,V2,... (e.g. servers=1,2,4)");
  }
  Vary v;
  v.key = arg.substr(0, eq);
  std::vector<const Setting*> found;
  for (const Setting& s : kSettings) {
    const auto names = names_of(s);
    if (std::find(names.begin(), names.end(), v.key) != names.end()) found.push_back(&s);
  }
  if (found.empty()) {
    return make_error("--vary " + arg + ": unknown setting '" + v.key + "' (numeric settings: " + varyable_keys() + ")");
  }
  if (found.size() > 1) {
    std::string list;
    for (const Setting* s : found) list += (list.empty() ? "" : ", ") + std::string(s->path);
    return make_error("--vary " + arg + ": '" + v.key + "' is ambiguous (" + list + "); write the whole path");
  }
  const Setting& s = *found.front();
  v.path = split(s.path, '.');
  // Seconds when the key was typed with _s: the YAML gets the key as typed.
  const bool seconds = ends_with(v.key, "_s") && ends_with(s.path, "_ms");
  if (seconds) v.path.back() = seconds_spelling(v.path.back());
  const bool integer = s.integer && !seconds;
  v.values = split(arg.substr(eq + 1), ',');
  for (const std::string& x : v.values) {
    if (!is_number(x, integer)) {
      return make_error("--vary " + arg + ": " + (x.empty() ? std::string("an empty value") : "'" + x + "'") +
                        " is not " + (integer ? "a whole number" : "a number") + " (" + s.path + ")");
    }
  }
  for (std::size_t i = 0; i < v.values.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (v.values[i] == v.values[j]) return make_error("--vary " + arg + ": '" + v.values[i] + "' is listed twice");
    }
  }
  return v;
}

Result<SweepPlan> plan_sweep(const std::string& file, const std::string& yaml_text, const std::vector<Vary>& vary) {
  SweepPlan plan;
  plan.file = file;
  plan.vary = vary;
  auto base = sim::parse_scenario(yaml_text, file);
  if (!base) return base.error();
  plan.name = base->name;
  for (std::size_t i = 0; i < vary.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (vary[i].path == vary[j].path) return make_error("--vary " + vary[i].key + ": the same setting is varied twice");
    }
  }
  YAML::Node original;
  try {
    original = YAML::Load(yaml_text);
  } catch (const std::exception& e) {
    return make_error(file + ": yaml: " + e.what());
  }
  // The grid, first --vary outermost: an odometer over the value indexes.
  std::vector<std::size_t> at(vary.size(), 0);
  for (;;) {
    SweepPoint point;
    YAML::Node root = YAML::Clone(original);
    if (!root["world"] || !root["world"].IsMap()) root["world"] = YAML::Node(YAML::NodeType::Map);
    std::string label;
    for (std::size_t k = 0; k < vary.size(); ++k) {
      const std::string& value = vary[k].values[at[k]];
      point.params.emplace_back(vary[k].key, value);
      label += (label.empty() ? "" : " ") + vary[k].key + "=" + value;
      set_path(root["world"], vary[k].path, value, true);
      if (root["variants"] && root["variants"].IsMap()) {
        for (auto it = root["variants"].begin(); it != root["variants"].end(); ++it) {
          set_path(it->second, vary[k].path, value, false);
        }
      }
    }
    YAML::Emitter out;
    out << root;
    auto sc = sim::parse_scenario(out.c_str(), file);
    if (!sc) {
      const std::string first = sc.error().message.substr(0, sc.error().message.find('\n'));
      return make_error("--vary " + label + ": " + without_place(first, file));
    }
    sc->name = plan.name + (label.empty() ? "" : " [" + label + "]");
    sc->expectations.clear();  // a scenario's expectations are about its own settings
    point.scenario = std::move(*sc);
    plan.points.push_back(std::move(point));
    std::size_t k = vary.size();
    while (k > 0) {
      --k;
      if (++at[k] < vary[k].values.size()) break;
      at[k] = 0;
      if (k == 0) return plan;
    }
    if (vary.empty()) return plan;
  }
}

// The variant filter applied to a plan's points: an Error when no point has the variant.
Result<void> keep_variant(SweepPlan& plan, const std::string& variant) {
  if (variant.empty()) return {};
  std::string known;
  for (const sim::Variant& v : plan.points.front().scenario.variants) known += (known.empty() ? "" : ", ") + v.name;
  for (SweepPoint& p : plan.points) {
    const bool has = std::any_of(p.scenario.variants.begin(), p.scenario.variants.end(),
                                 [&](const sim::Variant& v) { return v.name == variant; });
    if (!has) return make_error("--variant " + variant + ": " + plan.file + " has no such variant (variants: " + known + ")");
  }
  return {};
}

double predicted_polls_per_s(const sim::WorldConfig& c) {
  // A lone server has nobody to learn changes from and does not poll (server/core/node.cpp).
  if (c.servers.propagation != sim::Propagation::kPoll || c.servers.count <= 1 || c.servers.poll_interval_ms <= 0) {
    return 0;
  }
  const std::uint32_t n = c.clients;
  const std::uint32_t servers = c.servers.count;
  double open = 0;  // expected (server, document) pairs with a client
  for (std::uint32_t s = 0; s < servers; ++s) {
    const std::uint32_t m = n / servers + (s < n % servers ? 1 : 0);  // round robin: this server's clients
    for (std::uint32_t d = 0; d < c.docs; ++d) {
      const std::uint32_t k = n / c.docs + (d < n % c.docs ? 1 : 0);  // client i edits doc i % docs
      // The chance that none of the server's m clients (a random m of the n) edits this
      // document: C(n - k, m) / C(n, m).
      double none = 1;
      for (std::uint32_t i = 0; i < m && none > 0; ++i) {
        none *= i + k >= n ? 0.0 : static_cast<double>(n - k - i) / static_cast<double>(n - i);
      }
      open += 1.0 - none;
    }
  }
  return open / (static_cast<double>(c.servers.poll_interval_ms) / 1000.0);
}

namespace {

// One chart per curve and varied setting: the mean over seeds against the setting, one line per
// variant/strategy (and per value of the other varied settings), with the 95% interval as a band.
// The polling curve carries the naive design's prediction as a dashed line beside the measure.
std::string sweep_html(const json::object& root, const SweepPlan& plan) {
  namespace html = reports::html;
  html::Page page;
  page.title = "convlab sweep: " + plan.name;
  std::string body = "<h1>Sweep: " + html::escape(plan.name) + "</h1><p>" + html::escape(plan.file) +
                     " — varied: ";
  for (std::size_t i = 0; i < plan.vary.size(); ++i) body += (i ? ", " : "") + html::escape(plan.vary[i].key);
  body += ". Each point: the mean over seeds, the band its 95% interval (sweep.json holds every "
          "metric).</p>";
  const json::array& points = root.at("points").as_array();
  for (const Vary& v : plan.vary) {
    body += "<h2>Against " + html::escape(v.key) + "</h2><div class=\"charts\">";
    for (const Column& col : kColumns) {
      json::array values;
      const bool polls = std::string_view(col.metric) == "db_polls_per_s";
      for (const json::value& pv : points) {
        const json::object& pt = pv.as_object();
        const json::object& params = pt.at("params").as_object();
        std::string others;
        for (const auto& [k, x] : params) {
          if (k == v.key) continue;
          others += (others.empty() ? "" : ", ") + std::string(k) + "=" + json::serialize(x);
        }
        const std::string series = std::string(pt.at("variant").as_string()) + " / " +
                                   std::string(pt.at("strategy").as_string());
        const json::object& metrics = pt.at("metrics").as_object();
        auto add = [&](const char* metric, const std::string& label) {
          const json::value* m = metrics.if_contains(metric);
          if (m == nullptr) return;
          const json::object& st = m->as_object();
          values.push_back(json::object{{"x", params.at(v.key)},
                                        {"series", label},
                                        {"others", others},
                                        {"mean", st.at("mean")},
                                        {"lo", st.at("lo")},
                                        {"hi", st.at("hi")}});
        };
        add(col.metric, series);
        if (polls && pt.at("variant").as_string() != "bus") add("predicted_polls_per_s", series + " (predicted)");
      }
      const std::string id = html::slug(v.key + "-" + col.metric);
      json::object enc{{"x", json::object{{"field", "x"}, {"type", "quantitative"}, {"title", v.key}}},
                       {"color", json::object{{"field", "series"}, {"type", "nominal"}}},
                       {"detail", json::object{{"field", "others"}}}};
      json::object line_enc = enc;
      line_enc["y"] = json::object{{"field", "mean"}, {"type", "quantitative"}, {"title", col.title}};
      line_enc["tooltip"] = json::array{json::object{{"field", "series"}}, json::object{{"field", "others"}},
                                        json::object{{"field", "x"}}, json::object{{"field", "mean"}},
                                        json::object{{"field", "lo"}}, json::object{{"field", "hi"}}};
      json::object band_enc = enc;
      band_enc["y"] = json::object{{"field", "lo"}, {"type", "quantitative"}};
      band_enc["y2"] = json::object{{"field", "hi"}};
      json::object spec{
          {"$schema", "https://vega.github.io/schema/vega-lite/v5.json"},
          {"width", 300},
          {"height", 180},
          {"title", col.title},
          {"data", json::object{{"values", std::move(values)}}},
          {"layer", json::array{json::object{{"mark", json::object{{"type", "area"}, {"opacity", 0.15}}},
                                             {"encoding", std::move(band_enc)}},
                                json::object{{"mark", json::object{{"type", "line"}, {"point", true}}},
                                             {"encoding", std::move(line_enc)}}}}};
      body += html::chart_slot(id, std::string(col.title) + " against " + v.key);
      page.charts.push_back({id, std::move(spec)});
    }
    body += "</div>";
  }
  page.body = std::move(body);
  page.style = ".charts{display:flex;flex-wrap:wrap;gap:12px}";
  return html::page(page);
}

}  // namespace

SweepFiles sweep_files(const SweepPlan& plan, const std::vector<reports::RunRecord>& records) {
  const std::vector<reports::Group> groups = reports::aggregate(records);
  std::map<std::string, const SweepPoint*> by_name;
  for (const SweepPoint& p : plan.points) by_name[p.scenario.name] = &p;
  auto config_of = [](const SweepPoint& p, const std::string& variant) -> const sim::WorldConfig* {
    for (const sim::Variant& v : p.scenario.variants) {
      if (v.name == variant) return &v.config;
    }
    return nullptr;
  };

  // sweep.json
  json::object root;
  root["format"] = "convlab-sweep-1";
  root["scenario"] = plan.name;
  root["file"] = plan.file;
  json::array varied;
  for (const Vary& v : plan.vary) varied.emplace_back(v.key);
  root["varied"] = std::move(varied);
  root["predicted"] = "predicted_polls_per_s: expected (server, document) pairs with a client, over poll_interval "
                      "(s); a server with m of n clients has a document of k clients open with probability "
                      "1 - C(n-k, m)/C(n, m); 0 without polling or with one server";
  json::array points;
  for (const reports::Group& g : groups) {
    const SweepPoint& p = *by_name.at(g.scenario);
    json::object o;
    json::object params;
    for (const auto& [k, v] : p.params) params[k] = param_value(v);
    o["params"] = std::move(params);
    o["variant"] = g.variant;
    o["strategy"] = g.strategy;
    json::object metrics;
    for (const auto& [name, s] : g.stats) {
      metrics[name] = json::object{{"mean", s.mean}, {"lo", s.lo}, {"hi", s.hi}, {"n", s.n}};
    }
    const sim::WorldConfig* c = config_of(p, g.variant);
    const double predicted = c != nullptr ? predicted_polls_per_s(*c) : 0.0;
    metrics["predicted_polls_per_s"] = json::object{{"mean", predicted}, {"lo", predicted}, {"hi", predicted}, {"n", 0}};
    o["metrics"] = std::move(metrics);
    points.push_back(std::move(o));
  }
  root["points"] = std::move(points);
  SweepFiles files;
  files.json = json::serialize(root) + "\n";
  files.html = sweep_html(root, plan);

  // sweep.csv: one row per point x variant x strategy, mean and interval of each curve.
  std::ostringstream csv;
  csv << "variant,strategy";
  for (const Vary& v : plan.vary) csv << "," << csv_field(v.key);
  csv << ",seeds,predicted_polls_per_s";
  for (const Column& col : kColumns) csv << "," << col.metric << "," << col.metric << "_lo," << col.metric << "_hi";
  csv << "\n";
  for (const reports::Group& g : groups) {
    const SweepPoint& p = *by_name.at(g.scenario);
    csv << csv_field(g.variant) << "," << csv_field(g.strategy);
    for (const auto& [k, v] : p.params) csv << "," << v;
    const sim::WorldConfig* c = config_of(p, g.variant);
    csv << "," << g.runs << "," << csv_number(c != nullptr ? predicted_polls_per_s(*c) : 0.0);
    for (const Column& col : kColumns) {
      const auto it = g.stats.find(col.metric);
      const reports::Stat s = it == g.stats.end() ? reports::Stat{} : it->second;
      csv << "," << csv_number(s.mean) << "," << csv_number(s.lo) << "," << csv_number(s.hi);
    }
    csv << "\n";
  }
  files.csv = csv.str();

  // sweep.md: per variant and strategy, the curves over the grid.
  std::ostringstream md;
  md << "# Sweep: " << plan.name << "\n\n" << plan.file << ", varied: ";
  for (std::size_t i = 0; i < plan.vary.size(); ++i) {
    md << (i ? ", " : "") << "`" << plan.vary[i].key << "` (";
    for (std::size_t j = 0; j < plan.vary[i].values.size(); ++j) md << (j ? ", " : "") << plan.vary[i].values[j];
    md << ")";
  }
  md << ". " << records.size() << " runs. Means over seeds with the half-width of their 95% interval (±); rates "
     << "are per simulated second of the fault phase.\n\n"
     << "**The arithmetic of polling.** Every server polls every document one of its clients has open, once per "
     << "interval, whatever the edit rate: predicted polls/s = servers × active documents / interval, where a "
     << "document is active on a server when one of its clients is connected there: clients connect in random order "
     << "through a round-robin balancer, so a server holding m of the n clients has a document with k of them open "
     << "with probability 1 − C(n−k, m) / C(n, m); summed over servers and documents (a lone server does not "
     << "poll). Measured polls/s scatter around it (where clients land differs by seed) and sit a little under it "
     << "in short runs (the first round comes one interval after the start). A design with a bus polls nothing: "
     << "its queries are the commits, which follow the edits, not the servers.\n\n";
  std::vector<std::pair<std::string, std::string>> tables;  // (variant, strategy), first-appearance order
  for (const reports::Group& g : groups) {
    const auto k = std::make_pair(g.variant, g.strategy);
    if (std::find(tables.begin(), tables.end(), k) == tables.end()) tables.push_back(k);
  }
  for (const auto& [variant, strategy] : tables) {
    md << "## " << variant << " — " << strategy << "\n\n|";
    for (const Vary& v : plan.vary) md << " " << v.key << " |";
    md << " predicted polls/s |";
    for (const Column& col : kColumns) md << " " << col.title << " |";
    md << "\n|";
    for (std::size_t i = 0; i < plan.vary.size() + 1 + std::size(kColumns); ++i) md << "---:|";
    md << "\n";
    for (const reports::Group& g : groups) {
      if (g.variant != variant || g.strategy != strategy) continue;
      const SweepPoint& p = *by_name.at(g.scenario);
      md << "|";
      for (const auto& [k, v] : p.params) md << " " << v << " |";
      const sim::WorldConfig* c = config_of(p, g.variant);
      const double predicted = c != nullptr ? predicted_polls_per_s(*c) : 0.0;
      md << " " << (predicted > 0 ? reports::format_number(predicted) : "—") << " |";
      for (const Column& col : kColumns) {
        const auto it = g.stats.find(col.metric);
        md << " " << (it == g.stats.end() ? "-" : reports::format_stat(it->second)) << " |";
      }
      md << "\n";
    }
    md << "\n";
  }
  files.md = md.str();
  return files;
}

}  // namespace convlab::cli
