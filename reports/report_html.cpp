#include "reports/report_html.hpp"

#include "faults/kinds.hpp"
#include "reports/charts.hpp"
#include "reports/format.hpp"
#include "reports/html.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

namespace convlab::reports {

namespace {

namespace json = boost::json;
using charts::field;
using charts::spec_base;
using charts::strategy_scale;

// ---- Colours: one per cause and fault kind, the same in every chart of a page (strategies':
// reports/charts.hpp).

// The scale of a nominal channel over `present` (in the order of `known`, then the rest), each
// value keeping its colour from `colours` whichever subset a chart shows.
json::object subset_scale(const std::vector<std::string>& known, const std::vector<std::string>& colours,
                          const std::set<std::string>& present) {
  json::array domain;
  json::array range;
  for (std::size_t i = 0; i < known.size(); ++i) {
    if (!present.contains(known[i])) continue;
    domain.emplace_back(known[i]);
    range.emplace_back(colours[i]);
  }
  for (const std::string& v : present) {
    if (std::find(known.begin(), known.end(), v) != known.end()) continue;
    domain.emplace_back(v);
    range.emplace_back("#bab0ac");
  }
  return json::object{{"domain", std::move(domain)}, {"range", std::move(range)}};
}

json::object cause_scale(const std::set<std::string>& present) {
  static const std::vector<std::string> known = {"clock_skew", "concurrent", "crash", "db_lost", "stale_base", "unknown"};
  static const std::vector<std::string> colours = {"#e15759", "#f28e2b", "#4e79a7", "#8c6d31", "#b07aa1", "#9d9d9d"};
  return subset_scale(known, colours, present);
}

// Fault windows are shaded as the table of fault kinds says (faults/kinds.hpp), in its legend order.
json::object fault_scale(const std::set<std::string>& present) {
  static const std::pair<std::vector<std::string>, std::vector<std::string>> scale = [] {
    std::vector<const faults::KindInfo*> kinds;
    for (const faults::KindInfo& k : faults::kinds()) kinds.push_back(&k);
    std::sort(kinds.begin(), kinds.end(), [](const auto* a, const auto* b) { return a->legend_rank < b->legend_rank; });
    std::pair<std::vector<std::string>, std::vector<std::string>> out;
    for (const faults::KindInfo* k : kinds) {
      out.first.emplace_back(k->name);
      out.second.emplace_back(k->colour);
    }
    return out;
  }();
  return subset_scale(scale.first, scale.second, present);
}

// The values of `key` in rows (objects).
std::set<std::string> values_of(const json::array& rows, const char* key) {
  std::set<std::string> out;
  for (const json::value& r : rows) out.insert(std::string(r.as_object().at(key).as_string()));
  return out;
}

// Dash patterns per strategy, so lines that coincide stay distinguishable.
json::object strategy_dash(const std::vector<std::string>& strategies) {
  static const std::vector<std::string> known = {"lww", "seq", "ot", "crdt"};
  static const std::vector<json::array> dashes = {json::array{1, 0}, json::array{7, 3}, json::array{2, 2},
                                                  json::array{9, 2, 2, 2}};
  json::array domain;
  json::array range;
  std::size_t next = known.size();
  for (const std::string& st : strategies) {
    auto it = std::find(known.begin(), known.end(), st);
    const std::size_t i = it != known.end() ? static_cast<std::size_t>(it - known.begin()) : next++;
    domain.emplace_back(st);
    range.emplace_back(dashes[i % dashes.size()]);
  }
  return json::object{{"domain", std::move(domain)}, {"range", std::move(range)}};
}

std::string num(double v) { return format_number(v); }

double ms_to_s(std::int64_t us) { return static_cast<double>(us) / 1e6; }

// The visibility-latency CDF per strategy: x the latency (symlog), y the share of pairs at or
// below it.
json::object cdf_spec(json::array rows, const std::vector<std::string>& strategies, const std::string& title) {
  json::object s = spec_base(title, 290, 200);
  s["data"] = json::object{{"values", std::move(rows)}};
  s["mark"] = json::object{{"type", "line"}, {"interpolate", "step-after"}, {"strokeWidth", 2}, {"point", false}};
  json::object x = field("ms", "quantitative", "visibility latency (ms, symlog)");
  x["scale"] = json::object{{"type", "symlog"}};
  // Decades only: symlog's own ticks crowd at the top end. Vega drops those outside the domain.
  x["axis"] = json::object{{"values", json::array{0, 1, 10, 100, 1000, 10000, 100000, 1000000}},
                           {"labelExpr", "datum.value >= 1000 ? datum.value / 1000 + ' s' : datum.value + ''"},
                           {"labelFlush", true}};
  json::object y = field("p", "quantitative", "% of (edit, client) pairs");
  y["scale"] = json::object{{"domain", json::array{0, 100}}};
  json::object color = field("strategy", "nominal", "strategy");
  color["scale"] = strategy_scale(strategies);
  json::object dash = field("strategy", "nominal", "strategy");
  dash["scale"] = strategy_dash(strategies);
  s["encoding"] = json::object{
      {"x", std::move(x)},
      {"y", std::move(y)},
      {"color", std::move(color)},
      {"strokeDash", std::move(dash)},
      {"tooltip", json::array{field("strategy", "nominal", "strategy"), field("p", "quantitative", "percentile"),
                              field("ms", "quantitative", "ms")}}};
  return s;
}

// Lost acknowledged characters per strategy, stacked by cause, with the total's 95% interval.
json::object lost_spec(json::array by_cause, json::array totals, const std::vector<std::string>& strategies,
                       const std::string& title) {
  json::object s = spec_base(title, 190, 200);
  json::object xs = field("strategy", "nominal", "strategy");
  json::array order;
  for (const std::string& st : strategies) order.emplace_back(st);
  xs["sort"] = order;
  xs["axis"] = json::object{{"labelAngle", 0}};
  json::object color = field("cause", "nominal", "cause");
  color["scale"] = cause_scale(values_of(by_cause, "cause"));
  color["legend"] = json::object{{"columns", 3}};
  json::object bars{
      {"data", json::object{{"values", std::move(by_cause)}}},
      {"mark", json::object{{"type", "bar"}, {"width", json::object{{"band", 0.7}}}}},
      {"encoding", json::object{{"x", xs},
                                {"y", json::object{{"field", "chars"}, {"type", "quantitative"}, {"stack", "zero"},
                                                   {"title", "lost acknowledged chars (mean)"}}},
                                {"color", std::move(color)},
                                {"tooltip", json::array{field("strategy", "nominal", "strategy"),
                                                        field("cause", "nominal", "cause"),
                                                        field("chars", "quantitative", "chars (mean)")}}}}};
  json::object ci{
      {"data", json::object{{"values", std::move(totals)}}},
      {"mark", json::object{{"type", "rule"}, {"strokeWidth", 1.5}, {"color", "#1f2328"}}},
      {"encoding", json::object{{"x", xs},
                                {"y", field("lo", "quantitative", "")},
                                {"y2", json::object{{"field", "hi"}}},
                                {"tooltip", json::array{field("strategy", "nominal", "strategy"),
                                                        field("mean", "quantitative", "total (mean)"),
                                                        field("lo", "quantitative", "95% low"),
                                                        field("hi", "quantitative", "95% high")}}}}};
  s["layer"] = json::array{std::move(bars), std::move(ci)};
  return s;
}

// Divergence over time per strategy (or per run), fault windows shaded behind it.
json::object divergence_spec(json::array points, json::array windows, const std::vector<std::string>& strategies,
                             double end_s, const std::string& title, int width) {
  json::object s = spec_base(title, width, 200);
  const bool windows_empty = windows.empty();
  json::object x = field("t", "quantitative", "simulated time (s)");
  x["scale"] = json::object{{"domain", json::array{0, end_s}}, {"nice", false}};
  json::object fill = field("kind", "nominal", "fault");
  fill["scale"] = fault_scale(values_of(windows, "kind"));
  json::object shade{
      {"data", json::object{{"values", std::move(windows)}}},
      {"mark", json::object{{"type", "rect"}}},
      {"encoding", json::object{{"x", json::object{{"field", "start"}, {"type", "quantitative"}}},
                                {"x2", json::object{{"field", "end"}}},
                                {"fill", std::move(fill)},
                                {"opacity", json::object{{"field", "share"}, {"type", "quantitative"},
                                                         {"scale", json::object{{"domain", json::array{0, 1}},
                                                                                {"range", json::array{0.15, 0.6}}}},
                                                         {"legend", nullptr}}},
                                {"tooltip", json::array{field("kind", "nominal", "fault"),
                                                        field("target", "nominal", "target"),
                                                        field("start", "quantitative", "from (s)"),
                                                        field("end", "quantitative", "to (s)"),
                                                        field("runs", "nominal", "in runs")}}}}};
  json::object color = field("strategy", "nominal", "strategy");
  color["scale"] = strategy_scale(strategies);
  json::object dash = field("strategy", "nominal", "strategy");
  dash["scale"] = strategy_dash(strategies);
  json::object line{
      {"data", json::object{{"values", std::move(points)}}},
      {"mark", json::object{{"type", "line"}, {"interpolate", "step-after"}, {"strokeWidth", 1.8}}},
      {"encoding", json::object{{"x", std::move(x)},
                                {"y", field("pending", "quantitative", "pending (edit, client) pairs")},
                                {"color", std::move(color)},
                                {"strokeDash", std::move(dash)},
                                {"tooltip", json::array{field("strategy", "nominal", "strategy"),
                                                        field("t", "quantitative", "bin start (s)"),
                                                        field("pending", "quantitative", "pending pairs"),
                                                        field("lagging", "quantitative", "lagging clients")}}}}};
  // No faults: no shading layer (every layer a page draws has data; tests/reports checks it).
  // The shading uses fill and the lines colour and dash, so the strategy legend is one.
  s["layer"] = windows_empty ? json::array{std::move(line)} : json::array{std::move(shade), std::move(line)};
  return s;
}

void add_cdf_rows(json::array& rows, const std::string& strategy, const std::vector<double>& cdf) {
  for (std::size_t i = 0; i < cdf.size(); ++i) {
    rows.push_back(json::object{{"strategy", strategy}, {"p", static_cast<double>(i + 1)}, {"ms", cdf[i]}});
  }
}

void add_divergence_rows(json::array& rows, const std::string& strategy, const DivergenceSeries& d) {
  for (std::size_t k = 0; k < d.pending_edits.size(); ++k) {
    rows.push_back(json::object{{"strategy", strategy},
                                {"t", ms_to_s(static_cast<std::int64_t>(k) * d.bin_us)},
                                {"pending", d.pending_edits[k]},
                                {"lagging", d.lagging_clients[k]}});
  }
  if (!d.pending_edits.empty()) {  // close the last step at the run's end
    rows.push_back(json::object{{"strategy", strategy},
                                {"t", ms_to_s(d.end_us)},
                                {"pending", d.pending_edits.back()},
                                {"lagging", d.lagging_clients.back()}});
  }
}

json::object window_row(const FaultWindow& w, std::uint64_t runs, std::uint64_t of) {
  return json::object{{"start", ms_to_s(w.start_us)},
                      {"end", ms_to_s(std::max(w.end_us, w.start_us + 100'000))},  // at least 0.1 s: visible
                      {"kind", w.kind},
                      {"target", w.target},
                      {"runs", std::to_string(runs) + " of " + std::to_string(of)},
                      {"share", of == 0 ? 1.0 : static_cast<double>(runs) / static_cast<double>(of)}};
}

const std::vector<std::string>& cause_names() {
  static const std::vector<std::string> c = {"clock_skew", "concurrent", "crash", "db_lost", "stale_base", "unknown"};
  return c;
}

std::string stat_cell(const Stat& s) {
  if (s.n <= 1) return num(s.mean);
  std::string out = num(s.mean);
  if (s.hi - s.lo >= 1e-12) out += "<br><span class=\"ci\">[" + num(s.lo) + ", " + num(s.hi) + "]</span>";
  return out + "<br><span class=\"range\" title=\"min–max over seeds\">" + html::escape(format_range(s)) + "</span>";
}

std::string seeds_text(std::vector<std::uint64_t> seeds) {
  std::sort(seeds.begin(), seeds.end());
  seeds.erase(std::unique(seeds.begin(), seeds.end()), seeds.end());
  std::string out;
  for (std::size_t i = 0; i < seeds.size();) {
    std::size_t j = i;
    while (j + 1 < seeds.size() && seeds[j + 1] == seeds[j] + 1) ++j;
    out += (out.empty() ? "" : ", ") + std::to_string(seeds[i]) + (j > i ? ".." + std::to_string(seeds[j]) : "");
    i = j + 1;
  }
  return out.empty() ? "none" : out;
}

std::string anchor(const std::string& scenario, const std::string& variant = {}) {
  return html::slug("s-" + scenario + (variant.empty() ? "" : "--" + variant));
}

}  // namespace

std::string report_html(const Report& r, const HtmlContext& ctx) {
  html::Page page;
  page.title = "convlab report";
  // What the run holds, in report order.
  std::vector<std::string> strategies;
  std::vector<std::string> scenarios;
  std::vector<std::pair<std::string, std::string>> tables;  // (scenario, variant)
  std::map<std::string, std::vector<std::uint64_t>> seeds;
  for (const RunRecord& run : r.runs) {
    if (std::find(strategies.begin(), strategies.end(), run.strategy) == strategies.end()) strategies.push_back(run.strategy);
    if (std::find(scenarios.begin(), scenarios.end(), run.scenario) == scenarios.end()) scenarios.push_back(run.scenario);
    const auto key = std::make_pair(run.scenario, run.variant);
    if (std::find(tables.begin(), tables.end(), key) == tables.end()) tables.push_back(key);
    seeds[run.scenario].push_back(run.seed);
  }
  const auto held = std::count_if(r.verdicts.begin(), r.verdicts.end(), [](const Verdict& v) { return v.held; });
  const auto failed = static_cast<std::int64_t>(r.verdicts.size()) - held;

  std::string b;
  b += "<h1>convlab report</h1>\n<dl class=\"facts\">";
  b += "<dt>command</dt><dd><code>" + html::escape(ctx.command_line) + "</code></dd>";
  b += "<dt>convlab</dt><dd>" + html::escape(ctx.version) + "</dd>";
  b += "<dt>runs</dt><dd>" + std::to_string(r.runs.size()) + " (" + std::to_string(tables.size()) +
       " scenario variants × " + std::to_string(strategies.size()) + " strategies × seeds)</dd>";
  b += "<dt>expectations</dt><dd>" + std::to_string(held) + " held, " +
       (failed > 0 ? "<b class=\"failed\">&nbsp;" + std::to_string(failed) + " failed&nbsp;</b>" : std::string("0 failed")) +
       "</dd>";
  b += "</dl>\n";
  b += "<p class=\"muted\">Figures are means over seeds; [low, high] is the 95% interval of the mean (Student's t), "
       "and below it min–max over the seeds. An expectation compares the mean over seeds unless it names a quantifier "
       "(min, max, all: every seed, any: some seed). "
       "Visibility: time from an edit to another client first showing it. Divergence: (edit, client) pairs where the "
       "client will show the edit but has not yet, time-averaged per bin; shaded bands are fault windows (darker: in more "
       "seeds). Definitions: docs/history.md. Replay any run with <code>convlab replay SCENARIO --strategy S --seed N "
       "--variant V --out DIR</code>.</p>\n";

  // ---- The verdict matrix.
  b += "<h2 id=\"matrix\">Expectations</h2>\n<p class=\"legend\"><span class=\"held\">all held</span><span "
       "class=\"failed\">some failed</span><span class=\"none\">no expectation</span></p>\n";
  b += "<table class=\"matrix\"><thead><tr><th>scenario — variant</th>";
  for (const std::string& s : strategies) b += "<th>" + html::escape(s) + "</th>";
  b += "</tr></thead><tbody>\n";
  for (const auto& [scenario, variant] : tables) {
    b += "<tr><td><a href=\"#" + anchor(scenario, variant) + "\">" + html::escape(scenario) + "</a> — " +
         html::escape(variant) + "</td>";
    for (const std::string& s : strategies) {
      std::size_t n = 0;
      std::size_t bad = 0;
      std::string tip;
      for (const Verdict& v : r.verdicts) {
        if (v.scenario != scenario || v.variant != variant || v.strategy != s) continue;
        ++n;
        bad += v.held ? 0 : 1;
        tip += (tip.empty() ? "" : "\n") + std::string(v.held ? "held: " : "FAILED: ") + v.metric + " " + v.text +
               " (" + verdict_summary(v) + ")";
      }
      const bool ran = std::any_of(r.groups.begin(), r.groups.end(), [&](const Group& g) {
        return g.scenario == scenario && g.variant == variant && g.strategy == s;
      });
      if (!ran) {
        b += "<td class=\"none\" title=\"not run\"></td>";
      } else if (n == 0) {
        b += "<td class=\"none\" title=\"no expectation\">·</td>";
      } else if (bad == 0) {
        b += "<td class=\"held\" title=\"" + html::escape(tip) + "\">✓ " + std::to_string(n) + "</td>";
      } else {
        b += "<td class=\"failed\" title=\"" + html::escape(tip) + "\">✗ " + std::to_string(bad) + " of " +
             std::to_string(n) + "</td>";
      }
    }
    b += "</tr>\n";
  }
  b += "</tbody></table>\n";

  b += "<nav class=\"toc\">";
  for (const std::string& sc : scenarios) b += "<div><a href=\"#" + anchor(sc) + "\">" + html::escape(sc) + "</a></div>";
  b += "</nav>\n";

  // ---- Per scenario and variant.
  for (const std::string& sc : scenarios) {
    b += "<h2 id=\"" + anchor(sc) + "\">" + html::escape(sc) + "</h2>\n<p class=\"muted\">seeds " +
         html::escape(seeds_text(seeds[sc])) + "</p>\n";
    for (const auto& [scenario, variant] : tables) {
      if (scenario != sc) continue;
      std::vector<const Group*> rows;
      for (const Group& g : r.groups) {
        if (g.scenario == scenario && g.variant == variant) rows.push_back(&g);
      }
      std::vector<std::string> here;
      for (const Group* g : rows) here.push_back(g->strategy);
      const std::string id = anchor(scenario, variant);
      b += "<h3 id=\"" + id + "\">" + html::escape(scenario) + " — " + html::escape(variant) + "</h3>\n";

      // Expectations.
      std::string list;
      for (const Verdict& v : r.verdicts) {
        if (v.scenario != scenario || v.variant != variant) continue;
        list += "<li class=\"" + std::string(v.held ? "" : "failed") + "\">" + (v.held ? "held" : "FAILED") + ": <code>" +
                html::escape(v.strategy) + "</code> " + html::escape(v.metric) + " " + html::escape(v.text) + " (" +
                html::escape(verdict_summary(v)) + ") <span class=\"muted\">" + html::escape(v.where) + "</span></li>";
      }
      if (!list.empty()) b += "<ul class=\"verdicts\">" + list + "</ul>\n";

      // Key figures.
      std::vector<std::pair<std::string, std::string>> metrics = headline_metrics();  // then any metric an expectation names
      for (const Verdict& v : r.verdicts) {
        if (v.scenario != scenario || v.variant != variant) continue;
        if (std::none_of(metrics.begin(), metrics.end(), [&](const auto& m) { return m.first == v.metric; })) {
          metrics.emplace_back(v.metric, v.metric);
        }
      }
      b += "<div class=\"scroll\"><table class=\"figures\"><thead><tr><th>strategy</th>";
      for (const auto& [m, title] : metrics) b += "<th>" + html::escape(title) + "</th>";
      b += "</tr></thead><tbody>";
      for (const Group* g : rows) {
        b += "<tr><td>" + html::escape(g->strategy) + " <span class=\"muted\">(" + std::to_string(g->runs) +
             " seeds)</span></td>";
        for (const auto& [m, title] : metrics) {
          auto it = g->stats.find(m);
          b += "<td>" + (it == g->stats.end() ? std::string("–") : stat_cell(it->second)) + "</td>";
        }
        b += "</tr>";
      }
      b += "</tbody></table></div>\n<div class=\"charts\">";

      // Visibility CDF.
      json::array cdf;
      for (const Group* g : rows) add_cdf_rows(cdf, g->strategy, g->series.visibility_cdf_ms);
      if (cdf.empty()) {
        b += "<p class=\"note\">No visibility pairs: no client showed another's insertion.</p>";
      } else {
        page.charts.push_back({id + "-cdf", cdf_spec(std::move(cdf), here, "visibility latency CDF")});
        b += html::chart_slot(id + "-cdf", "Share of (edit, other client) pairs shown within x ms; quantiles averaged over seeds.");
      }

      // Lost acknowledged characters by cause.
      json::array by_cause;
      json::array totals;
      double lost_any = 0;
      for (const Group* g : rows) {
        for (const std::string& c : cause_names()) {
          auto it = g->stats.find("lost_acked_chars." + c);
          const double v = it == g->stats.end() ? 0.0 : it->second.mean;
          lost_any += v;
          if (v > 0) by_cause.push_back(json::object{{"strategy", g->strategy}, {"cause", c}, {"chars", v}});
        }
        auto it = g->stats.find("lost_acked_chars");
        if (it != g->stats.end()) {
          totals.push_back(json::object{{"strategy", g->strategy},
                                        {"mean", it->second.mean},
                                        {"lo", std::max(0.0, it->second.lo)},
                                        {"hi", it->second.hi}});
        }
      }
      if (lost_any <= 0) {
        b += "<p class=\"note\">No acknowledged character lost under any strategy.</p>";
      } else {
        page.charts.push_back(
            {id + "-lost", lost_spec(std::move(by_cause), std::move(totals), here, "lost acknowledged chars by cause")});
        b += html::chart_slot(id + "-lost", "Mean per run, stacked by cause; the black rule is the total's 95% interval.");
      }

      // Divergence over time, fault windows shaded.
      json::array points;
      double end_s = 0;
      std::map<std::tuple<std::int64_t, std::int64_t, std::string, std::string>, std::pair<FaultWindow, std::uint64_t>> windows;
      std::uint64_t runs_per_strategy = 0;
      for (const Group* g : rows) {
        add_divergence_rows(points, g->strategy, g->series.divergence);
        end_s = std::max(end_s, ms_to_s(g->series.divergence.end_us));
        runs_per_strategy = std::max(runs_per_strategy, g->series.runs);
        for (const FaultWindowCount& w : g->series.fault_windows) {  // the same schedule under every strategy
          auto key = std::make_tuple(w.window.start_us, w.window.end_us, w.window.kind, w.window.target);
          auto& slot = windows.try_emplace(key, w.window, 0).first->second;
          slot.second = std::max(slot.second, w.runs);
        }
      }
      json::array shaded;
      for (const auto& [key, w] : windows) shaded.push_back(window_row(w.first, w.second, runs_per_strategy));
      page.charts.push_back({id + "-div", divergence_spec(std::move(points), std::move(shaded), here, end_s,
                                                          "divergence over time", 440)});
      b += html::chart_slot(id + "-div", "Pending (edit, client) pairs, mean per bin over seeds; shaded: fault windows.");
      b += "</div>\n";
    }
  }
  b += "<p class=\"muted\">Written by convlab " + html::escape(ctx.version) + ".</p>\n";
  page.body = std::move(b);
  return html::page(page);
}

namespace {
// Opacity that keeps the rows of the picked edit (selection "pick" on field "edit") at `on`.
json::object picked(double on) {
  return json::object{{"condition", json::object{{"param", "pick"}, {"empty", true}, {"value", on}}}, {"value", 0.08}};
}
}  // namespace

std::string run_html(const std::vector<history::Event>& events, const RunMetrics& m, const RunSeries& s,
                     const std::string& summary, const std::string& digest, const HtmlContext& ctx) {
  using history::EventType;
  html::Page page;
  std::map<std::string, std::string> meta;
  for (const history::Event& e : events) {
    if (e.type == EventType::kMeta) {
      meta = e.meta;
      break;
    }
  }
  const auto meta_of = [&](const char* k) {
    auto it = meta.find(k);
    return it == meta.end() ? std::string("?") : it->second;
  };
  const std::string strategy = meta_of("strategy");
  page.title = "convlab replay: " + meta_of("scenario") + " / " + meta_of("variant") + " / " + strategy + " / seed " +
               meta_of("seed");

  // ---- Timeline data: edits on their author's lane, sightings on the seer's lane, lost edits
  // marked by cause, faults shaded across every lane.
  constexpr std::size_t kSeenMax = 20000;  // beyond this, every k-th sighting (said on the page)
  std::set<std::uint32_t> clients;
  std::map<std::pair<std::uint32_t, std::uint32_t>, const history::Event*> edit_of;
  std::size_t n_seen = 0;
  for (const history::Event& e : events) {
    if (e.type == EventType::kEdit) {
      clients.insert(e.client);
      edit_of.emplace(std::make_pair(e.client, e.op), &e);
    } else if (e.type == EventType::kSeen) {
      clients.insert(e.client);
      ++n_seen;
    }
  }
  const std::size_t stride = n_seen > kSeenMax ? (n_seen + kSeenMax - 1) / kSeenMax : 1;
  const auto lane = [](std::uint32_t c) { return "client " + std::to_string(c); };
  json::array edits;
  json::array seen;
  std::size_t seen_i = 0;
  for (const history::Event& e : events) {
    if (e.type == EventType::kEdit) {
      std::string ins;
      for (std::size_t i = 0; i < e.ins.size() && i < 24; ++i) {
        const char32_t c = e.ins[i];
        ins += c >= 0x20 && c < 0x7f ? static_cast<char>(c) : (c == U'\n' ? '/' : '?');
      }
      if (e.ins.size() > 24) ins += "…";
      edits.push_back(json::object{{"t", ms_to_s(e.t_us)},
                                   {"lane", lane(e.client)},
                                   {"edit", std::to_string(e.client) + "." + std::to_string(e.op)},
                                   {"doc", e.doc},
                                   {"para", e.para},
                                   {"server", e.server},
                                   {"ins", ins},
                                   {"del", e.del},
                                   {"offline", e.offline}});
    } else if (e.type == EventType::kSeen && e.client != e.author) {
      if (seen_i++ % stride != 0) continue;
      auto it = edit_of.find({e.author, e.op});
      const double latency = it == edit_of.end() ? 0.0 : static_cast<double>(e.t_us - it->second->t_us) / 1000.0;
      seen.push_back(json::object{{"t", ms_to_s(e.t_us)},
                                  {"lane", lane(e.client)},
                                  {"edit", std::to_string(e.author) + "." + std::to_string(e.op)},
                                  {"latency", latency}});
    }
  }
  json::array lost;
  for (const LostEdit& l : m.lost_edits) {
    lost.push_back(json::object{{"t", ms_to_s(l.t_us)},
                                {"lane", lane(l.client)},
                                {"edit", std::to_string(l.client) + "." + std::to_string(l.op)},
                                {"chars", l.chars},
                                {"cause", l.cause},
                                {"by", l.cause == "crash" || l.cause == "unknown"
                                           ? std::string("–")
                                           : std::to_string(l.by_client) + "." + std::to_string(l.by_op)}});
  }
  json::array windows;
  for (const FaultWindow& w : s.fault_windows) windows.push_back(window_row(w, 1, 1));
  json::array lanes;
  for (std::uint32_t c : clients) lanes.emplace_back(lane(c));
  const double end_s = ms_to_s(s.divergence.end_us);

  json::object tl = spec_base("timeline: edits, sightings, faults, losses", 1180,
                              static_cast<int>(std::max<std::size_t>(4, clients.size()) * 34));
  json::object x = field("t", "quantitative", "simulated time (s)");
  x["scale"] = json::object{{"domain", json::array{0, end_s}}, {"nice", false}};
  json::object y = field("lane", "nominal", "");
  y["scale"] = json::object{{"domain", lanes}};
  json::object fill = field("kind", "nominal", "fault");
  fill["scale"] = fault_scale(values_of(windows, "kind"));
  json::object cause = field("cause", "nominal", "lost (cause)");
  cause["scale"] = cause_scale(values_of(lost, "cause"));
  json::object shade{
      {"data", json::object{{"values", windows}}},
      {"mark", json::object{{"type", "rect"}, {"opacity", 0.45}}},
      {"encoding", json::object{{"x", json::object{{"field", "start"}, {"type", "quantitative"}}},
                                {"x2", json::object{{"field", "end"}}},
                                {"fill", fill},
                                {"tooltip", json::array{field("kind", "nominal", "fault"), field("target", "nominal", "target"),
                                                        field("start", "quantitative", "from (s)"),
                                                        field("end", "quantitative", "to (s)")}}}}};
  const bool has_seen = !seen.empty();
  json::object seen_layer{
      {"data", json::object{{"values", std::move(seen)}}},
      {"mark", json::object{{"type", "tick"}, {"thickness", 1}, {"size", 16}}},
      {"encoding", json::object{{"x", x},
                                {"y", y},
                                {"opacity", picked(0.9)},
                                {"color", json::object{{"field", "latency"}, {"type", "quantitative"},
                                                       {"title", "seen after (ms)"},
                                                       {"scale", json::object{{"type", "symlog"}, {"scheme", "viridis"}}}}},
                                {"tooltip", json::array{field("lane", "nominal", "seen by"), field("edit", "nominal", "edit"),
                                                        field("t", "quantitative", "at (s)"),
                                                        field("latency", "quantitative", "after (ms)")}}}}};
  json::object edit_layer{
      {"data", json::object{{"values", std::move(edits)}}},
      // Click an edit: it, its sightings and its loss stay dark, the rest fades (double-click clears).
      {"params", json::array{json::object{
                     {"name", "pick"},
                     {"select", json::object{{"type", "point"}, {"fields", json::array{"edit"}}, {"on", "click"},
                                             {"clear", "dblclick"}}}}}},
      {"mark", json::object{{"type", "point"}, {"filled", true}, {"size", 14}, {"color", "#1f2328"}, {"yOffset", -7},
                            {"cursor", "pointer"}}},
      {"encoding", json::object{{"x", x},
                                {"y", y},
                                {"opacity", picked(1.0)},
                                {"tooltip", json::array{field("lane", "nominal", "by"), field("edit", "nominal", "edit"),
                                                        field("t", "quantitative", "at (s)"), field("doc", "quantitative", "doc"),
                                                        field("para", "quantitative", "paragraph"),
                                                        field("server", "quantitative", "server"),
                                                        field("ins", "nominal", "inserted"),
                                                        field("del", "quantitative", "deleted"),
                                                        field("offline", "nominal", "offline")}}}}};
  json::object lost_layer{
      {"data", json::object{{"values", lost}}},
      {"mark", json::object{{"type", "point"}, {"shape", "triangle-down"}, {"filled", true}, {"size", 90},
                            {"yOffset", -9}, {"stroke", "#1f2328"}, {"strokeWidth", 0.6}}},
      {"encoding", json::object{{"x", x},
                                {"y", y},
                                {"opacity", picked(1.0)},
                                {"fill", cause},
                                {"tooltip", json::array{field("edit", "nominal", "lost edit"), field("cause", "nominal", "cause"),
                                                        field("chars", "quantitative", "chars lost"),
                                                        field("by", "nominal", "overwritten by"),
                                                        field("t", "quantitative", "made at (s)")}}}}};
  json::array layers;
  if (!windows.empty()) layers.push_back(std::move(shade));
  if (has_seen) layers.push_back(std::move(seen_layer));
  layers.push_back(std::move(edit_layer));
  if (!lost.empty()) layers.push_back(std::move(lost_layer));
  tl["layer"] = std::move(layers);
  tl["resolve"] = json::object{{"scale", json::object{{"fill", "independent"}, {"color", "independent"}}},
                               {"legend", json::object{{"fill", "independent"}, {"color", "independent"}}}};
  page.charts.push_back({"timeline", std::move(tl)});

  std::string b;
  b += "<h1>" + html::escape(meta_of("scenario")) + " <span class=\"muted\">— " + html::escape(meta_of("variant")) +
       ", " + html::escape(strategy) + ", seed " + html::escape(meta_of("seed")) + "</span></h1>\n";
  b += "<dl class=\"facts\"><dt>command</dt><dd><code>" + html::escape(ctx.command_line) + "</code></dd>";
  b += "<dt>convlab</dt><dd>" + html::escape(ctx.version) + "</dd>";
  b += "<dt>digest</dt><dd><code>" + html::escape(digest) + "</code> (" + std::to_string(events.size()) +
       " history events)</dd>";
  b += "<dt>converged</dt><dd>" + std::string(m.converged ? "yes" : "<b class=\"failed\">&nbsp;no&nbsp;</b>") + "</dd>";
  b += "<dt>lost acked chars</dt><dd>" + std::to_string(m.lost_acked_chars) + "</dd></dl>\n";
  b += "<p class=\"muted\">One lane per client. Dots: the client's edits (just above the lane). Ticks: when the client "
       "first showed another client's edit, coloured by how long after the edit. Triangles: edits whose acknowledged "
       "characters are missing from the final text, coloured by cause. Shaded bands: fault windows. Click an edit to "
       "see who saw it when; double-click to clear.";
  if (stride > 1) {
    b += " Sightings shown: every " + std::to_string(stride) + "th of " + std::to_string(n_seen) + ".";
  }
  b += "</p>\n" + html::chart_slot("timeline") + "\n<div class=\"charts\">";

  json::array points;
  add_divergence_rows(points, strategy, s.divergence);
  page.charts.push_back({"divergence", divergence_spec(std::move(points), windows, {strategy}, end_s,
                                                       "divergence over time", 620)});
  b += html::chart_slot("divergence", "Pending (edit, client) pairs, time-averaged per bin; shaded: fault windows.");
  if (s.visibility_cdf_ms.empty()) {
    b += "<p class=\"note\">No visibility pairs: no client showed another's insertion.</p>";
  } else {
    json::array cdf;
    add_cdf_rows(cdf, strategy, s.visibility_cdf_ms);
    page.charts.push_back({"cdf", cdf_spec(std::move(cdf), {strategy}, "visibility latency CDF")});
    b += html::chart_slot("cdf", "Share of (edit, other client) pairs shown within x ms.");
  }
  b += "</div>\n<h2>Metrics</h2>\n<pre>" + html::escape(summary) + "</pre>\n";
  if (!m.lost_edits.empty()) {
    constexpr std::size_t kListed = 200;
    b += "<details><summary>Lost edits (" + std::to_string(m.lost_edits.size()) +
         ", in history order)</summary>\n<table><thead><tr><th>edit</th><th>made at (s)</th><th>doc</th><th>chars lost</th>"
         "<th>cause</th><th>overwritten by</th></tr></thead><tbody>";
    for (std::size_t i = 0; i < m.lost_edits.size() && i < kListed; ++i) {
      const LostEdit& l = m.lost_edits[i];
      b += "<tr><td>" + std::to_string(l.client) + "." + std::to_string(l.op) + "</td><td>" + num(ms_to_s(l.t_us)) +
           "</td><td>" + std::to_string(l.doc) + "</td><td>" + std::to_string(l.chars) + "</td><td>" +
           html::escape(l.cause) + "</td><td>" +
           (l.cause == "crash" || l.cause == "unknown"
                ? std::string("–")
                : std::to_string(l.by_client) + "." + std::to_string(l.by_op)) +
           "</td></tr>";
    }
    b += "</tbody></table>\n";
    if (m.lost_edits.size() > kListed) {
      b += "<p class=\"muted\">" + std::to_string(m.lost_edits.size() - kListed) + " more not listed.</p>\n";
    }
    b += "</details>\n";
  }
  page.body = std::move(b);
  return html::page(page);
}

}  // namespace convlab::reports
