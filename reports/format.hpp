#pragma once
// What the text and HTML reports share: how a figure is printed and which figures head a table.
#include <string>
#include <utility>
#include <vector>

namespace convlab::reports {

// An integer as is, else 1 decimal from 100 up, else 3 significant digits: "12", "512.3", "0.068".
std::string format_number(double v);

// The metrics report tables lead with, as (flat metric name, column title), in this order.
const std::vector<std::pair<std::string, std::string>>& headline_metrics();

}  // namespace convlab::reports
