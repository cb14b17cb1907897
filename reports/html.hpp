#pragma once
// A self-contained HTML page with Vega-Lite charts: every script (Vega, Vega-Lite, vega-embed,
// web/assets.hpp) and style inline, no network, so the file opens offline from disk.
//
// Use: write the body as HTML, put `chart_slot(id)` where each chart goes, and pass one Chart
// per slot with its Vega-Lite spec (https://vega.github.io/vega-lite/docs/spec.html; data
// inline under "data": {"values": [...]}). For example:
//
//   html::Page p;
//   p.title = "scaling";
//   p.body = "<h1>Scaling</h1>" + html::chart_slot("rss", "resident memory per server count");
//   p.charts.push_back({"rss", spec});   // spec: a boost::json::object
//   write_file("out/index.html", html::page(p));
//
// In the browser every chart is embedded with vega-embed; `window.convlabCharts` records the
// result for tests: {expected: N, views: {id: vega.View}, specs: {id: compiled Vega spec},
// errors: [...], ready: Promise}.
// Deterministic: the same Page gives the same bytes.
#include <boost/json/object.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace convlab::reports::html {

struct Chart {
  std::string id;            // unique in the page: letters, digits, '-' and '_' only
  boost::json::object spec;  // a Vega-Lite spec
};

struct Page {
  std::string title;         // plain text
  std::string body;          // HTML, with a chart_slot(id) for each chart
  std::vector<Chart> charts;
  std::string style;         // extra CSS after the built-in style sheet
};

// The whole document.
std::string page(const Page& p);

// `text` escaped for HTML text and attribute values (& < > " ').
std::string escape(std::string_view text);

// An id usable in chart_slot and as a URL fragment: every character other than a letter,
// digit, '-' or '_' replaced by '-'.
std::string slug(std::string_view text);

// The element a chart renders into; `caption` (plain text) is shown under it when not empty.
std::string chart_slot(const std::string& id, std::string_view caption = {});

}  // namespace convlab::reports::html
