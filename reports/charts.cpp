// reports/charts.hpp: what the report pages' charts share.
#include "reports/charts.hpp"

#include <boost/json.hpp>

#include <algorithm>

namespace convlab::reports::charts {

namespace json = boost::json;

namespace {

const std::vector<std::string>& palette() {
  static const std::vector<std::string> p = {"#d6404e", "#f28e2b", "#4c78a8", "#59a14f",
                                             "#b07aa1", "#9c755f", "#76b7b2", "#edc948"};
  return p;
}

}  // namespace

// Known strategies keep their colour whatever the run's subset; others take the next ones.
json::object strategy_scale(const std::vector<std::string>& strategies) {
  static const std::vector<std::string> known = {"lww", "seq", "ot", "crdt"};
  json::array domain;
  json::array range;
  std::size_t next = known.size();
  for (const std::string& s : strategies) {
    auto it = std::find(known.begin(), known.end(), s);
    const std::size_t i = it != known.end() ? static_cast<std::size_t>(it - known.begin()) : next++;
    domain.emplace_back(s);
    range.emplace_back(palette()[i % palette().size()]);
  }
  return json::object{{"domain", std::move(domain)}, {"range", std::move(range)}};
}

json::object spec_base(const std::string& title, int width, int height) {
  return json::object{{"$schema", "https://vega.github.io/schema/vega-lite/v6.json"},
                      {"title", json::object{{"text", title}, {"anchor", "start"}, {"fontSize", 13}}},
                      {"width", width},
                      {"height", height},
                      {"config", json::object{{"view", json::object{{"stroke", "#d1d9e0"}}},
                                              {"axis", json::object{{"labelFontSize", 11}, {"titleFontSize", 11}}},
                                              {"legend", json::object{{"labelFontSize", 11}, {"titleFontSize", 11}, {"orient", "bottom"},
                                                                {"direction", "horizontal"}}}}}};
}

json::object field(const std::string& name, const std::string& type, const std::string& title) {
  return json::object{{"field", name}, {"type", type}, {"title", title}};
}

}  // namespace convlab::reports::charts
