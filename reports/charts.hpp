#pragma once
// The parts every report page's Vega-Lite charts share (reports/report_html.cpp, the fidelity
// page of campaigns/fidelity_html.cpp): a spec's frame and style, a field encoding, and the
// strategies' colours, so a strategy has the same colour on every page.
#include <boost/json/object.hpp>

#include <string>
#include <vector>

namespace convlab::reports::charts {

// A Vega-Lite v6 spec with its title, size and the pages' axis and legend style.
boost::json::object spec_base(const std::string& title, int width, int height);
// {"field": name, "type": type, "title": title}
boost::json::object field(const std::string& name, const std::string& type, const std::string& title);
// The colour scale of the strategies: known ones (lww, seq, ot, crdt) keep their colour whatever
// the subset shown; others take the next ones of the palette.
boost::json::object strategy_scale(const std::vector<std::string>& strategies);

}  // namespace convlab::reports::charts
