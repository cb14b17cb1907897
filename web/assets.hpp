#pragma once
// The charting library the HTML reports inline (Vega, Vega-Lite, vega-embed), copied from
// web/node_modules at build time by web/embed.cmake; versions pinned in web/package-lock.json.
#include <string>
#include <vector>

namespace convlab::web {

struct Asset {
  std::string name;     // npm package: "vega", "vega-lite", "vega-embed"
  std::string version;  // from its package.json
  std::string script;   // the minified UMD build; defines window.vega / vegaLite / vegaEmbed
};

// In load order (vega-lite needs vega; vega-embed needs both).
const std::vector<Asset>& chart_library();

}  // namespace convlab::web
