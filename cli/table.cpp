#include "cli/table.hpp"

#include <algorithm>

namespace convlab::cli {

namespace {

// Display width in code points (the tables hold ASCII plus an occasional "…").
std::size_t width(const std::string& s) {
  std::size_t n = 0;
  for (const char c : s) {
    if ((static_cast<unsigned char>(c) & 0xc0) != 0x80) ++n;
  }
  return n;
}

std::string pad(const std::string& s, std::size_t w, bool right) {
  const std::size_t n = width(s);
  const std::string fill(w > n ? w - n : 0, ' ');
  return right ? fill + s : s + fill;
}

}  // namespace

std::string Table::text() const {
  std::vector<std::size_t> w(header.size(), 0);
  for (std::size_t c = 0; c < header.size(); ++c) w[c] = width(header[c]);
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size() && c < w.size(); ++c) w[c] = std::max(w[c], width(row[c]));
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (std::size_t c = 0; c < w.size(); ++c) {
      const bool right = c < right_align.size() && right_align[c];
      if (c > 0) out += "  ";
      out += pad(c < cells.size() ? cells[c] : "", w[c], right);
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + '\n';
  };
  std::string out = line(header);
  std::vector<std::string> rule;
  for (const std::size_t x : w) rule.emplace_back(x, '-');
  out += line(rule);
  for (const auto& row : rows) out += line(row);
  return out;
}

std::string Table::markdown() const {
  auto line = [](const std::vector<std::string>& cells, std::size_t n) {
    std::string out = "|";
    for (std::size_t c = 0; c < n; ++c) {
      std::string cell = c < cells.size() ? cells[c] : "";
      std::replace(cell.begin(), cell.end(), '|', '/');
      out += ' ' + cell + " |";
    }
    return out + '\n';
  };
  std::string out = line(header, header.size());
  out += '|';
  for (std::size_t c = 0; c < header.size(); ++c) {
    out += (c < right_align.size() && right_align[c]) ? " ---: |" : " --- |";
  }
  out += '\n';
  for (const auto& row : rows) out += line(row, header.size());
  return out;
}

}  // namespace convlab::cli
