// The fidelity page (campaigns/fidelity_html.hpp) on hand-made aggregates: both worlds' means
// and intervals side by side in the table, the ratio, the rows whose intervals are apart flagged,
// and the charts' data (ratio per metric; each world's mean and interval per measured metric).
// That the page renders in a browser: RealRun.FidelityComparesBothWorldsPerMetric opens the page
// a real `convlab fidelity` wrote in headless Chromium (tests/reports/check_pages.cjs).
#include "campaigns/fidelity_html.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

namespace convlab::campaigns {
namespace {

namespace json = boost::json;

reports::Stat stat(double mean, double lo, double hi, std::uint64_t n) { return {mean, lo, hi, n, lo, hi}; }

reports::Group group(const std::string& scenario, const std::string& strategy, std::map<std::string, reports::Stat> stats) {
  reports::Group g;
  g.scenario = scenario;
  g.variant = "naive";
  g.strategy = strategy;
  g.stats = std::move(stats);
  return g;
}

std::vector<FidelityRow> rows() {
  reports::Report sim, real;
  sim.groups.push_back(group("row1", "crdt", {{"visibility_ms.p50", stat(1000, 900, 1100, 3)},
                                              {"visibility_ms.p99", stat(2000, 1900, 2100, 3)},
                                              {"db_queries", stat(40, 38, 42, 3)},
                                              {"lost_acked_chars", stat(0, 0, 0, 3)}}));
  sim.groups.push_back(group("row1", "lww", {{"visibility_ms.p50", stat(100, 100, 100, 1)}}));
  sim.groups.push_back(group("<b>row2</b>", "ot", {{"acked_edits", stat(50, 45, 55, 2)}}));
  real.groups.push_back(group("row1", "crdt", {{"visibility_ms.p50", stat(1050, 950, 1150, 3)},   // overlaps
                                               {"visibility_ms.p99", stat(3000, 2800, 3200, 3)},  // apart
                                               {"db_queries", stat(0, 0, 0, 3)},                  // not measured
                                               {"lost_acked_chars", stat(3, 0, 6, 3)}}));         // sim 0: no ratio
  real.groups.push_back(group("row1", "lww", {{"visibility_ms.p50", stat(300, 300, 300, 1)}}));   // one seed
  real.groups.push_back(group("<b>row2</b>", "ot", {{"acked_edits", stat(48, 44, 52, 2)}}));
  return compare_worlds(sim, real);
}

const reports::HtmlContext kCtx{"convlab fidelity row1.yaml", "test"};

// The page's table row for (strategy, metric): from its <tr> to its </tr>.
std::string table_row(const std::string& page, const std::string& strategy, const std::string& metric) {
  const auto at = page.find("<td>" + strategy + "</td><td>" + metric + "</td>");
  if (at == std::string::npos) return "";
  const auto begin = page.rfind("<tr", at);
  return page.substr(begin, page.find("</tr>", at) - begin);
}

// The charts' specs the page embeds, by chart id.
std::map<std::string, json::object> charts_of(const std::string& page) {
  const std::string open = "<script type=\"application/json\" id=\"convlab-charts\">";
  const auto begin = page.find(open) + open.size();
  const json::value all = json::parse(page.substr(begin, page.find("</script>", begin) - begin));
  std::map<std::string, json::object> out;
  for (const json::value& c : all.as_array()) out[std::string(c.at("id").as_string())] = c.at("spec").as_object();
  return out;
}

TEST(FidelityHtml, BothWorldsSideBySideWithRatioAndFlags) {
  const std::string page = fidelity_html(rows(), kCtx, {"sim/index.html", "real/index.html"});
  EXPECT_NE(page.find("convlab fidelity row1.yaml"), std::string::npos);
  EXPECT_NE(page.find("<a href=\"sim/index.html\">simulator</a>"), std::string::npos);
  EXPECT_NE(page.find("<a href=\"real/index.html\">real processes</a>"), std::string::npos);
  EXPECT_NE(page.find("5 with two seeds or more in both worlds; <b class=\"failed\">&nbsp;2 with intervals apart"),
            std::string::npos);
  // A section per (scenario, variant); names escaped.
  EXPECT_NE(page.find("<h2 id=\"row1-naive\">row1 — naive</h2>"), std::string::npos);
  EXPECT_NE(page.find("&lt;b&gt;row2&lt;/b&gt; — naive"), std::string::npos);
  EXPECT_EQ(page.find("<b>row2</b>"), std::string::npos);

  // Simulated mean [interval] next to real mean [interval], the ratio, the verdict.
  EXPECT_EQ(table_row(page, "crdt", "visibility_ms.p50"),
            "<tr class=\"overlap\"><td>crdt</td><td>visibility_ms.p50</td><td>1000 [900, 1100]</td>"
            "<td>1050 [950, 1150]</td><td>1.05</td><td class=\"verdict\">overlap</td>");
  EXPECT_EQ(table_row(page, "crdt", "visibility_ms.p99"),
            "<tr class=\"apart\"><td>crdt</td><td>visibility_ms.p99</td><td>2000 [1900, 2100]</td>"
            "<td>3000 [2800, 3200]</td><td>1.5</td><td class=\"verdict\">apart</td>");
  // Real 0 where the simulator has a figure: shown as such; no ratio when the simulator says 0.
  EXPECT_NE(table_row(page, "crdt", "db_queries").find("<td class=\"zero\" title=\"0 on real processes\">0</td><td>0</td>"),
            std::string::npos)
      << table_row(page, "crdt", "db_queries");
  EXPECT_NE(table_row(page, "crdt", "lost_acked_chars").find("<td>—</td>"), std::string::npos);
  // One seed: a point, not judged.
  EXPECT_EQ(table_row(page, "lww", "visibility_ms.p50"),
            "<tr class=\"few\"><td>lww</td><td>visibility_ms.p50</td><td>100</td><td>300</td><td>3</td>"
            "<td class=\"verdict\">n &lt; 2</td>");
}

TEST(FidelityHtml, ChartsCarryBothWorldsAndTheRatios) {
  const std::string page = fidelity_html(rows(), kCtx, {"", ""});
  EXPECT_EQ(page.find("each world's report"), std::string::npos);
  const auto charts = charts_of(page);
  ASSERT_TRUE(charts.contains("ratio-row1-naive"));
  ASSERT_TRUE(charts.contains("worlds-row1-naive"));
  ASSERT_TRUE(charts.contains("ratio--b-row2--b--naive"));
  EXPECT_NE(page.find("<div class=\"chart\" id=\"ratio-row1-naive\"></div>"), std::string::npos) << "a slot each";
  EXPECT_NE(page.find("<div class=\"chart\" id=\"worlds-row1-naive\"></div>"), std::string::npos);

  // The ratio chart: one point per row with a finite, positive ratio, its verdict as the shape.
  const json::array& points = charts.at("ratio-row1-naive").at("layer").as_array().at(1).at("data").at("values").as_array();
  std::map<std::string, std::string> verdict;  // "strategy metric" -> verdict
  for (const json::value& p : points) {
    verdict[std::string(p.at("strategy").as_string()) + " " + std::string(p.at("metric").as_string())] =
        std::string(p.at("verdict").as_string());
  }
  EXPECT_EQ(verdict, (std::map<std::string, std::string>{{"crdt visibility_ms.p50", "overlap"},
                                                         {"crdt visibility_ms.p99", "apart"},
                                                         {"lww visibility_ms.p50", "n < 2"}}))
      << "db_queries (ratio 0) and lost_acked_chars (no ratio) have no place on a log scale";

  // Both worlds: a mean and an interval per (metric, strategy, world), only for metrics both
  // worlds measured; a panel per metric.
  const json::object& worlds = charts.at("worlds-row1-naive");
  std::set<std::string> seen;
  for (const json::value& v : worlds.at("data").at("values").as_array()) {
    seen.insert(std::string(v.at("metric").as_string()) + " " + std::string(v.at("strategy").as_string()) + " " +
                std::string(v.at("world").as_string()));
    if (v.at("metric").as_string() == "visibility_ms.p99" && v.at("world").as_string() == "real") {
      EXPECT_EQ(v.at("mean").to_number<double>(), 3000);
      EXPECT_EQ(v.at("lo").to_number<double>(), 2800);
      EXPECT_EQ(v.at("hi").to_number<double>(), 3200);
    }
  }
  EXPECT_EQ(seen, (std::set<std::string>{"visibility_ms.p50 crdt simulator", "visibility_ms.p50 crdt real",
                                         "visibility_ms.p99 crdt simulator", "visibility_ms.p99 crdt real",
                                         "visibility_ms.p50 lww simulator", "visibility_ms.p50 lww real"}));
  EXPECT_EQ(worlds.at("facet").at("field").as_string(), "metric");
  EXPECT_EQ(worlds.at("resolve").at("scale").at("x").as_string(), "independent");
}

TEST(FidelityHtml, SameRowsSameBytes) {
  EXPECT_EQ(fidelity_html(rows(), kCtx, {"a", "b"}), fidelity_html(rows(), kCtx, {"a", "b"}));
  const std::string empty = fidelity_html({}, kCtx, {"", ""});
  EXPECT_NE(empty.find("No metric to compare"), std::string::npos);
}

}  // namespace
}  // namespace convlab::campaigns
