#include "cli/common.hpp"

#include "server/core/utf8.hpp"
#include "server/strategies/registry.hpp"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <sstream>

namespace convlab::cli {

namespace po = boost::program_options;

std::string one_line(std::string_view message) {
  std::string out(message);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

int fail(std::string_view message) {
  std::cerr << "convlab: " << one_line(message) << '\n' << std::flush;
  return kExitUsage;
}

bool parse_options(const std::string& command, const std::vector<std::string>& args,
                   const po::options_description& desc, const po::positional_options_description& pos,
                   po::variables_map& vm, int& exit_code) {
  try {
    po::store(po::command_line_parser(args).options(desc).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    exit_code = fail(command + ": " + e.what() + " (see convlab " + command + " --help)");
    return false;
  }
  return true;
}

const Strategy* strategy_or_fail(std::string_view name, int& exit_code) {
  const Strategy* s = find_strategy(name);
  if (s == nullptr) {
    exit_code = fail("unknown strategy '" + std::string(name) + "' (known: " + strategy_names() + ")");
  }
  return s;
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

std::string excerpt(const std::u32string& s, std::size_t from, std::size_t max) {
  if (from > s.size()) from = s.size();
  const std::size_t n = std::min(max, s.size() - from);
  std::string out = from > 0 ? "…" : "";
  out += utf8_encode(std::u32string_view(s).substr(from, n));
  if (from + n < s.size()) out += "…";
  return out;
}

std::size_t first_difference(const std::u32string& a, const std::u32string& b) {
  const auto [ia, ib] = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
  return static_cast<std::size_t>(ia - a.begin());
}

std::string command_line(const std::string& command, const std::vector<std::string>& args) {
  std::string out = "convlab " + command;
  for (const std::string& a : args) {
    const bool plain = !a.empty() && std::all_of(a.begin(), a.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             std::string_view("-_./=:,+@%").find(c) != std::string_view::npos;
    });
    if (plain) {
      out += " " + a;
      continue;
    }
    out += " '";
    for (const char c : a) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    out += "'";
  }
  return out;
}

std::string line(const std::string& name, const std::string& value) {
  return name + std::string(name.size() < 22 ? 22 - name.size() : 1, ' ') + value + '\n';
}

bool one_positional(const std::string& command, const std::string& what, const po::variables_map& vm,
                    std::string& out, int& code) {
  if (!vm.count("positional")) {
    code = fail(command + ": missing " + what + " (see convlab " + command + " --help)");
    return false;
  }
  const auto& v = vm["positional"].as<std::vector<std::string>>();
  if (v.size() != 1) {
    code = fail(command + ": expected one " + what + ", got " + std::to_string(v.size()) + " (see convlab " +
                command + " --help)");
    return false;
  }
  out = v.front();
  return true;
}

}  // namespace convlab::cli
