#include "reports/html.hpp"

#include "web/assets.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include <stdexcept>

namespace convlab::reports::html {

namespace {

namespace json = boost::json;

// JSON inside a <script> element: '<' only ever appears in strings, where \u003c means the same,
// so no "</script>" or "<!--" can end or confuse the element.
std::string script_json(const json::value& v) {
  const std::string s = json::serialize(v);
  std::string out;
  out.reserve(s.size());
  for (const char c : s) {
    if (c == '<') {
      out += "\\u003c";
    } else {
      out += c;
    }
  }
  return out;
}

constexpr std::string_view kStyle = R"css(
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #ffffff; --panel: #f6f8fa;
        --held: #d8f3dc; --held-fg: #1b5e20; --failed: #ffd7d5; --failed-fg: #a0111f; --none: #eef1f4; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
       color: var(--fg); background: var(--bg); }
main { max-width: 1440px; margin: 0 auto; padding: 20px 28px 60px; }
h1 { font-size: 26px; margin: 8px 0 4px; }
h2 { font-size: 20px; margin: 36px 0 8px; padding-top: 12px; border-top: 2px solid var(--line); }
h3 { font-size: 16px; margin: 22px 0 6px; }
a { color: #0b5cad; text-decoration: none; }
a:hover { text-decoration: underline; }
code, pre { font: 12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { background: var(--panel); padding: 8px 10px; border-radius: 6px; overflow-x: auto; white-space: pre-wrap; }
.muted { color: var(--muted); }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 10px 0; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; }
table { border-collapse: collapse; margin: 8px 0 12px; }
th, td { border: 1px solid var(--line); padding: 3px 8px; text-align: right; white-space: nowrap; }
th { background: var(--panel); font-weight: 600; }
td:first-child, th:first-child { text-align: left; }
.matrix td { text-align: center; min-width: 64px; }
.matrix td:first-child { text-align: left; }
.held { background: var(--held); color: var(--held-fg); }
.failed { background: var(--failed); color: var(--failed-fg); font-weight: 600; }
.none { background: var(--none); color: var(--muted); }
.legend span { display: inline-block; padding: 1px 8px; margin-right: 6px; border-radius: 4px; }
.charts { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
figure { margin: 0; display: table; }
figcaption { display: table-caption; caption-side: bottom; color: var(--muted); font-size: 12px; padding: 0 4px; }
.scroll { overflow-x: auto; }
table.figures td { vertical-align: top; }
.ci, .range { color: var(--muted); font-size: 11.5px; }
.note { color: var(--muted); font-style: italic; padding: 6px 0; max-width: 420px; }
details summary { cursor: pointer; font-weight: 600; margin: 14px 0 6px; }
ul.verdicts { margin: 4px 0; padding-left: 18px; }
nav.toc { columns: 3 260px; font-size: 13px; }
.chart-error { color: var(--failed-fg); }
)css";

// Embeds every chart; records views and errors in window.convlabCharts for tests and tools.
constexpr std::string_view kEmbed = R"js(
(function () {
  var charts = JSON.parse(document.getElementById('convlab-charts').textContent);
  var state = window.convlabCharts = { expected: charts.length, views: {}, specs: {}, errors: [] };
  var options = { renderer: 'svg', actions: { export: true, source: true, compiled: false, editor: false } };
  state.ready = Promise.all(charts.map(function (c) {
    var el = document.getElementById(c.id);
    if (!el) { state.errors.push(c.id + ': no element'); return null; }
    return vegaEmbed(el, c.spec, options).then(function (r) { state.views[c.id] = r.view; state.specs[c.id] = r.vgSpec; })
      .catch(function (e) {
        state.errors.push(c.id + ': ' + e);
        el.className += ' chart-error';
        el.textContent = 'chart failed: ' + e;
      });
  }));
})();
)js";

bool valid_id(const std::string& id) {
  if (id.empty()) return false;
  for (const char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string slug(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) c = '-';
  }
  return out;
}

std::string chart_slot(const std::string& id, std::string_view caption) {
  std::string s = "<figure><div class=\"chart\" id=\"" + escape(id) + "\"></div>";
  if (!caption.empty()) s += "<figcaption>" + escape(caption) + "</figcaption>";
  return s + "</figure>";
}

std::string page(const Page& p) {
  json::array charts;
  for (const Chart& c : p.charts) {
    // A programming error, not bad input: ids are made by the caller.
    if (!valid_id(c.id)) throw std::invalid_argument("html::page: chart id '" + c.id + "' is not [A-Za-z0-9_-]+");
    json::object o;
    o["id"] = c.id;
    o["spec"] = c.spec;
    charts.push_back(std::move(o));
  }
  std::string out;
  out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  out += "<title>" + escape(p.title) + "</title>\n<style>";
  out += kStyle;
  out += p.style;
  out += "</style>\n</head>\n<body>\n<main>\n";
  out += p.body;
  out += "\n</main>\n";
  for (const web::Asset& a : web::chart_library()) {
    out += "<script data-library=\"" + escape(a.name) + "@" + escape(a.version) + "\">\n" + a.script + "\n</script>\n";
  }
  out += "<script type=\"application/json\" id=\"convlab-charts\">" + script_json(charts) + "</script>\n";
  out += "<script>";
  out += kEmbed;
  out += "</script>\n</body>\n</html>\n";
  return out;
}

}  // namespace convlab::reports::html
