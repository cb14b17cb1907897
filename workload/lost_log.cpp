// The lost database's file (workload/lost_log.hpp).
#include "workload/lost_log.hpp"

#include <charconv>
#include <sstream>

namespace convlab::workload {

namespace {

constexpr std::string_view kHeader = "convlab-db-lost 1";

template <class T>
bool parse(std::string_view s, T& out) {
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    const std::size_t j = line.find(' ', i);
    const std::size_t end = j == std::string_view::npos ? line.size() : j;
    out.push_back(line.substr(i, end - i));
    i = end + 1;
  }
  return out;
}

int nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::string write_lost_database(const LostDatabase& lost) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::ostringstream out;
  out << kHeader << "\nat_monotonic_us " << lost.at_monotonic_us << '\n';
  for (std::size_t d = 0; d < lost.logs.size(); ++d) {
    for (const LogRecord& r : lost.logs[d]) {
      out << "record " << d << ' ' << r.index << ' ' << r.author << ' ' << r.client_ms << ' ' << r.server_ms << ' ';
      for (const std::uint8_t b : r.record) out << kHex[b >> 4] << kHex[b & 15];
      out << '\n';
    }
  }
  for (std::size_t d = 0; d < lost.restored.size(); ++d) out << "restored " << d << ' ' << lost.restored[d] << '\n';
  return out.str();
}

Result<LostDatabase> read_lost_database(std::string_view text) {
  LostDatabase lost;
  std::size_t line_no = 0, at = 0;
  bool header = false, instant = false;
  while (at < text.size()) {
    const std::size_t nl = text.find('\n', at);
    const std::string_view line = text.substr(at, (nl == std::string_view::npos ? text.size() : nl) - at);
    at = nl == std::string_view::npos ? text.size() : nl + 1;
    ++line_no;
    const auto bad = [&](const std::string& why) {
      return make_error("line " + std::to_string(line_no) + ": " + why + ": \"" + std::string(line.substr(0, 80)) + "\"");
    };
    if (!header) {
      if (line != kHeader) return bad("not a lost database's file (it starts with \"" + std::string(kHeader) + "\")");
      header = true;
      continue;
    }
    const auto w = words(line);
    if (w.empty() || line.empty()) continue;
    if (w[0] == "at_monotonic_us") {
      if (w.size() != 2 || !parse(w[1], lost.at_monotonic_us)) return bad("at_monotonic_us takes one whole number");
      instant = true;
    } else if (w[0] == "record") {
      std::uint32_t doc = 0;
      LogRecord r;
      if (w.size() != 7 || !parse(w[1], doc) || !parse(w[2], r.index) || !parse(w[3], r.author) ||
          !parse(w[4], r.client_ms) || !parse(w[5], r.server_ms) || w[6].size() % 2 != 0) {
        return bad("a record is: record DOC INDEX AUTHOR CLIENT_MS SERVER_MS HEX");
      }
      for (std::size_t i = 0; i < w[6].size(); i += 2) {
        const int hi = nibble(w[6][i]), lo = nibble(w[6][i + 1]);
        if (hi < 0 || lo < 0) return bad("the payload is not lower-case hex");
        r.record.push_back(static_cast<std::uint8_t>(hi * 16 + lo));
      }
      if (lost.logs.size() <= doc) lost.logs.resize(static_cast<std::size_t>(doc) + 1);
      auto& log = lost.logs[doc];
      if (r.index != log.size() + 1) return bad("document " + std::to_string(doc) + "'s records are not 1, 2, 3, ... in order");
      log.push_back(std::move(r));
    } else if (w[0] == "restored") {
      std::uint32_t doc = 0;
      std::uint64_t n = 0;
      if (w.size() != 3 || !parse(w[1], doc) || !parse(w[2], n)) return bad("restored takes DOC RECORDS");
      if (lost.restored.size() <= doc) lost.restored.resize(static_cast<std::size_t>(doc) + 1, 0);
      const std::size_t had = doc < lost.logs.size() ? lost.logs[doc].size() : 0;
      if (n > had) return bad("document " + std::to_string(doc) + " restored with more records than it had at the loss");
      lost.restored[doc] = n;
    } else {
      return bad("unknown item");
    }
  }
  if (!header) return make_error("line 1: empty; a lost database's file starts with \"" + std::string(kHeader) + "\"");
  if (!instant) return make_error("no at_monotonic_us line");
  return lost;
}

}  // namespace convlab::workload
