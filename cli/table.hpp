#pragma once
// A small text table: aligned columns for the terminal, or a GitHub Markdown table.
#include <string>
#include <vector>

namespace convlab::cli {

struct Table {
  std::vector<std::string> header;
  std::vector<bool> right_align;  // per column; missing entries mean left
  std::vector<std::vector<std::string>> rows;

  std::string text() const;
  std::string markdown() const;
};

}  // namespace convlab::cli
