// campaigns/fidelity_html.hpp: the simulator and the real processes side by side, as a page.
#include "campaigns/fidelity_html.hpp"

#include "reports/charts.hpp"
#include "reports/format.hpp"
#include "reports/html.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <utility>

namespace convlab::campaigns {

namespace {

namespace json = boost::json;
namespace html = reports::html;
using reports::charts::field;
using reports::charts::spec_base;
using reports::charts::strategy_scale;
using reports::format_number;

const char* const kSimColour = "#4c78a8";
const char* const kRealColour = "#e45756";

// A figure that JSON can carry (Vega reads null as missing): NaN and infinities become null.
json::value finite(double v) { return std::isfinite(v) ? json::value(v) : json::value(nullptr); }

// "mean [lo, hi]", or the mean alone when the interval is a point (one seed).
std::string mean_interval(const reports::Stat& s) {
  if (s.n < 2 || (s.lo == s.mean && s.hi == s.mean)) return format_number(s.mean);
  return format_number(s.mean) + " [" + format_number(s.lo) + ", " + format_number(s.hi) + "]";
}

// The simulator has a figure and the real run none: a metric real histories have no events for
// (docs/real-faults.md, "Fidelity"), or a real zero.
bool real_zero(const FidelityRow& r) { return r.real.mean == 0 && r.real.min == 0 && r.real.max == 0; }

struct Section {
  std::string scenario;
  std::string variant;
  std::vector<const FidelityRow*> rows;
};

std::vector<Section> sections_of(const std::vector<FidelityRow>& rows) {
  std::vector<Section> out;
  for (const FidelityRow& r : rows) {
    if (out.empty() || out.back().scenario != r.scenario || out.back().variant != r.variant) {
      out.push_back(Section{r.scenario, r.variant, {}});
    }
    out.back().rows.push_back(&r);
  }
  return out;
}

template <typename T>
void add_once(std::vector<T>& v, const T& x) {
  if (std::find(v.begin(), v.end(), x) == v.end()) v.push_back(x);
}

json::array in_order(const std::vector<std::string>& v) {
  json::array a;
  for (const std::string& s : v) a.emplace_back(s);
  return a;
}

// real / simulated per metric on a log scale, a rule at 1; colour the strategy, shape the
// verdict. Only rows with a finite, positive ratio (a log scale has no place for 0 or —).
json::object ratio_spec(const Section& sec, const std::vector<std::string>& strategies, const std::string& title) {
  json::array points;
  std::vector<std::string> metrics;
  double lo = 0.5, hi = 2;  // at least a factor of two either way, so that 1 sits inside
  for (const FidelityRow* r : sec.rows) {
    if (!std::isfinite(r->ratio) || r->ratio <= 0) continue;
    add_once(metrics, r->metric);
    lo = std::min(lo, r->ratio);
    hi = std::max(hi, r->ratio);
    points.push_back(json::object{{"metric", r->metric},
                                  {"strategy", r->strategy},
                                  {"ratio", r->ratio},
                                  {"verdict", fidelity_verdict(*r)},
                                  {"sim", mean_interval(r->sim)},
                                  {"real", mean_interval(r->real)}});
  }
  const int height = std::max(60, 18 * static_cast<int>(metrics.size()));
  json::object s = spec_base(title, 420, height);
  json::object x = field("ratio", "quantitative", "real / simulated (log scale; 1 = the same)");
  x["scale"] = json::object{{"type", "log"}, {"domain", json::array{lo, hi}}};
  json::object y = field("metric", "nominal", "");
  y["sort"] = in_order(metrics);
  json::object color = field("strategy", "nominal", "strategy");
  color["scale"] = strategy_scale(strategies);
  json::object shape = field("verdict", "nominal", "95% intervals");
  shape["scale"] = json::object{{"domain", json::array{"apart", "overlap", "n < 2"}},
                                {"range", json::array{"diamond", "circle", "square"}}};
  json::object one{{"data", json::object{{"values", json::array{json::object{{"ratio", 1}}}}}},
                   {"mark", json::object{{"type", "rule"}, {"color", "#1f2328"}, {"strokeDash", json::array{4, 3}}}},
                   {"encoding", json::object{{"x", json::object{{"field", "ratio"}, {"type", "quantitative"}}}}}};
  json::object dots{
      {"data", json::object{{"values", std::move(points)}}},
      {"mark", json::object{{"type", "point"}, {"filled", true}, {"size", 70}, {"opacity", 0.85}}},
      {"encoding", json::object{{"x", std::move(x)},
                                {"y", std::move(y)},
                                {"color", std::move(color)},
                                {"shape", std::move(shape)},
                                {"tooltip", json::array{field("metric", "nominal", "metric"),
                                                        field("strategy", "nominal", "strategy"),
                                                        field("sim", "nominal", "simulator"),
                                                        field("real", "nominal", "real"),
                                                        field("ratio", "quantitative", "real / sim"),
                                                        field("verdict", "nominal", "intervals")}}}}};
  s["layer"] = json::array{std::move(one), std::move(dots)};
  return s;
}

// One panel per metric both worlds measured: per strategy the simulator's and the real mean
// with their 95% intervals next to each other, each panel on its own scale.
json::object worlds_spec(const Section& sec, const std::vector<std::string>& strategies, const std::string& title,
                         std::size_t& panels) {
  json::array rows;
  std::vector<std::string> metrics;
  for (const FidelityRow* r : sec.rows) {
    if (real_zero(*r) || (r->sim.mean == 0 && r->sim.max == 0)) continue;
    add_once(metrics, r->metric);
    for (const auto& [world, st] : {std::pair{"simulator", &r->sim}, std::pair{"real", &r->real}}) {
      rows.push_back(json::object{{"metric", r->metric},
                                  {"strategy", r->strategy},
                                  {"world", world},
                                  {"mean", finite(st->mean)},
                                  {"lo", finite(st->lo)},
                                  {"hi", finite(st->hi)},
                                  {"text", mean_interval(*st)}});
    }
  }
  panels = metrics.size();
  json::object s = spec_base(title, 0, 0);
  s.erase("width");
  s.erase("height");
  s["data"] = json::object{{"values", std::move(rows)}};
  json::object facet = field("metric", "nominal", "");
  facet["sort"] = in_order(metrics);
  facet["header"] = json::object{{"labelFontSize", 11}, {"labelLimit", 260}, {"title", nullptr}};
  s["facet"] = std::move(facet);
  s["columns"] = 3;
  json::object y = field("strategy", "nominal", "");
  y["sort"] = in_order(strategies);
  json::object color = field("world", "nominal", "world");
  color["scale"] = json::object{{"domain", json::array{"simulator", "real"}}, {"range", json::array{kSimColour, kRealColour}}};
  json::object offset = field("world", "nominal", "");
  offset["sort"] = json::array{"simulator", "real"};
  const json::object common{{"y", y}, {"yOffset", offset}, {"color", color}};
  json::object whisker_enc = common;
  json::object lo = field("lo", "quantitative", "");
  lo["scale"] = json::object{{"zero", false}};
  whisker_enc["x"] = std::move(lo);
  whisker_enc["x2"] = json::object{{"field", "hi"}};
  json::object dot_enc = common;
  dot_enc["x"] = field("mean", "quantitative", "");
  dot_enc["tooltip"] = json::array{field("metric", "nominal", "metric"), field("strategy", "nominal", "strategy"),
                                   field("world", "nominal", "world"), field("text", "nominal", "mean [95% interval]")};
  json::object inner{{"width", 210},
                     {"height", std::max(40, 26 * static_cast<int>(strategies.size()))},
                     {"layer", json::array{json::object{{"mark", json::object{{"type", "rule"}, {"strokeWidth", 2}}},
                                                        {"encoding", std::move(whisker_enc)}},
                                           json::object{{"mark", json::object{{"type", "point"}, {"filled", true}, {"size", 60}}},
                                                        {"encoding", std::move(dot_enc)}}}}};
  s["spec"] = std::move(inner);
  s["resolve"] = json::object{{"scale", json::object{{"x", "independent"}}}};
  return s;
}

const char* const kStyle = R"(
tr.apart td { background: var(--failed); color: var(--failed-fg); }
tr.apart td.verdict { font-weight: 600; }
td.zero { color: var(--muted); }
)";

}  // namespace

std::string fidelity_verdict(const FidelityRow& row) {
  if (row.apart) return "apart";
  return row.too_few ? "n < 2" : "overlap";
}

std::string fidelity_html(const std::vector<FidelityRow>& rows, const reports::HtmlContext& ctx,
                          const FidelityPageLinks& links) {
  html::Page page;
  page.title = "convlab fidelity";
  page.style = kStyle;
  const std::vector<Section> sections = sections_of(rows);
  const auto apart = std::count_if(rows.begin(), rows.end(), [](const FidelityRow& r) { return r.apart; });
  const auto judged = std::count_if(rows.begin(), rows.end(), [](const FidelityRow& r) { return !r.too_few; });

  std::string b;
  b += "<h1>convlab fidelity: the simulator against real processes</h1>\n<dl class=\"facts\">";
  b += "<dt>command</dt><dd><code>" + html::escape(ctx.command_line) + "</code></dd>";
  b += "<dt>convlab</dt><dd>" + html::escape(ctx.version) + "</dd>";
  b += "<dt>metrics compared</dt><dd>" + std::to_string(rows.size()) + ", " + std::to_string(judged) +
       " with two seeds or more in both worlds; " +
       (apart > 0 ? "<b class=\"failed\">&nbsp;" + std::to_string(apart) + " with intervals apart&nbsp;</b>"
                  : std::string("0 with intervals apart")) +
       "</dd>";
  if (!links.sim.empty() || !links.real.empty()) {
    b += "<dt>each world's report</dt><dd>";
    if (!links.sim.empty()) b += "<a href=\"" + html::escape(links.sim) + "\">simulator</a> ";
    if (!links.real.empty()) b += "<a href=\"" + html::escape(links.real) + "\">real processes</a>";
    b += "</dd>";
  }
  b += "</dl>\n";
  b += "<p class=\"muted\">The same scenarios, strategies and seeds in both worlds. Per metric: the mean over seeds "
       "and its 95% interval (Student's t) in the simulator and on real processes, their ratio (real / simulated), and "
       "whether the intervals overlap; <b>apart</b> marks a disagreement beyond the seeds' spread (both worlds with two "
       "seeds or more). A metric 0 on real processes while the simulator has a figure may be one that real histories "
       "have no events for (messages, bytes, memory, database queries): not measured, not a disagreement "
       "(docs/real-faults.md, \"Fidelity\").</p>\n";
  if (sections.size() > 1) {
    b += "<nav class=\"toc\"><ul>";
    for (const Section& sec : sections) {
      b += "<li><a href=\"#" + html::slug(sec.scenario + "-" + sec.variant) + "\">" + html::escape(sec.scenario) +
           " — " + html::escape(sec.variant) + "</a></li>";
    }
    b += "</ul></nav>\n";
  }

  for (const Section& sec : sections) {
    const std::string id = html::slug(sec.scenario + "-" + sec.variant);
    std::vector<std::string> strategies;
    for (const FidelityRow* r : sec.rows) add_once(strategies, r->strategy);
    const std::size_t sec_apart =
        static_cast<std::size_t>(std::count_if(sec.rows.begin(), sec.rows.end(), [](const FidelityRow* r) { return r->apart; }));
    b += "<h2 id=\"" + id + "\">" + html::escape(sec.scenario) + " — " + html::escape(sec.variant) + "</h2>\n";
    b += "<p>" + std::to_string(sec.rows.size()) + " metrics, " + std::to_string(sec_apart) + " apart.</p>\n";
    b += "<div class=\"charts\">";
    const bool any_ratio = std::any_of(sec.rows.begin(), sec.rows.end(),
                                       [](const FidelityRow* r) { return std::isfinite(r->ratio) && r->ratio > 0; });
    if (any_ratio) {
      const std::string cid = "ratio-" + id;
      b += html::chart_slot(cid, "real / simulated per metric; a diamond where the 95% intervals are apart");
      page.charts.push_back({cid, ratio_spec(sec, strategies, "real / simulated")});
    }
    std::size_t panels = 0;
    json::object worlds = worlds_spec(sec, strategies, "both worlds: mean and 95% interval", panels);
    if (panels > 0) {
      const std::string cid = "worlds-" + id;
      b += html::chart_slot(cid, "per metric both worlds measured: simulator (blue) and real (red) per strategy");
      page.charts.push_back({cid, std::move(worlds)});
    }
    b += "</div>\n";

    b += "<div class=\"scroll\"><table class=\"fidelity\"><thead><tr><th>strategy</th><th>metric</th>"
         "<th>simulator mean [95% interval]</th><th>real mean [95% interval]</th><th>real / sim</th><th>intervals</th>"
         "</tr></thead><tbody>\n";
    for (const FidelityRow* r : sec.rows) {
      const std::string verdict = fidelity_verdict(*r);
      b += std::string("<tr class=\"") + (r->apart ? "apart" : (r->too_few ? "few" : "overlap")) + "\">";
      b += "<td>" + html::escape(r->strategy) + "</td><td>" + html::escape(r->metric) + "</td>";
      b += "<td>" + mean_interval(r->sim) + "</td>";
      b += std::string("<td") + (real_zero(*r) ? " class=\"zero\" title=\"0 on real processes\"" : "") + ">" +
           mean_interval(r->real) + "</td>";
      b += "<td>" + (std::isnan(r->ratio) ? std::string("—") : format_number(r->ratio)) + "</td>";
      b += "<td class=\"verdict\">" + html::escape(verdict) + "</td></tr>\n";
    }
    b += "</tbody></table></div>\n";
  }
  if (sections.empty()) b += "<p class=\"note\">No metric to compare: no (scenario, variant, strategy) ran in both worlds.</p>\n";
  page.body = std::move(b);
  return html::page(page);
}

}  // namespace convlab::campaigns
