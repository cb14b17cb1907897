#include "faults/real/proxy_control.hpp"

#include <charconv>
#include <map>
#include <vector>

namespace convlab::faults::real {

namespace {

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' || line[i] == '\n')) ++i;
    const std::size_t start = i;
    while (i < line.size() && !(line[i] == ' ' || line[i] == '\t' || line[i] == '\r' || line[i] == '\n')) ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

template <class T>
bool number(std::string_view w, T& out) {
  const auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), out);
  return ec == std::errc() && end == w.data() + w.size();
}

constexpr std::int64_t kLatencyMaxMs = 600'000;

}  // namespace

std::string_view cut_name(Cut c) {
  switch (c) {
    case Cut::kNone: return "none";
    case Cut::kBoth: return "both";
    case Cut::kUp: return "up";
    case Cut::kDown: return "down";
  }
  return "none";
}

Result<ProxyCommand> parse_command(std::string_view line) {
  const std::vector<std::string_view> w = words(line);
  if (w.empty()) return make_error("empty command (partition both|up|down, heal, latency MIN_MS MAX_MS [SEED], cut, stats)");
  ProxyCommand c;
  const auto arity = [&](std::size_t lo, std::size_t hi, const char* usage) -> Result<void> {
    if (w.size() - 1 < lo || w.size() - 1 > hi) return make_error(std::string("usage: ") + usage);
    return {};
  };
  if (w[0] == "partition") {
    if (auto ok = arity(1, 1, "partition both|up|down"); !ok) return ok.error();
    c.kind = ProxyCommand::Kind::kPartition;
    if (w[1] == "both") c.cut = Cut::kBoth;
    else if (w[1] == "up") c.cut = Cut::kUp;
    else if (w[1] == "down") c.cut = Cut::kDown;
    else return make_error("partition: direction '" + std::string(w[1]) + "' is not both, up or down");
    return c;
  }
  if (w[0] == "heal" || w[0] == "cut" || w[0] == "stats") {
    if (auto ok = arity(0, 0, "heal | cut | stats (no arguments)"); !ok) return ok.error();
    c.kind = w[0] == "heal" ? ProxyCommand::Kind::kHeal : w[0] == "cut" ? ProxyCommand::Kind::kCut : ProxyCommand::Kind::kStats;
    return c;
  }
  if (w[0] == "latency") {
    if (auto ok = arity(2, 3, "latency MIN_MS MAX_MS [SEED]"); !ok) return ok.error();
    c.kind = ProxyCommand::Kind::kLatency;
    if (!number(w[1], c.min_ms) || !number(w[2], c.max_ms) || c.min_ms < 0 || c.max_ms < c.min_ms ||
        c.max_ms > kLatencyMaxMs) {
      return make_error("latency: want 0 <= MIN_MS <= MAX_MS <= " + std::to_string(kLatencyMaxMs) + ", got '" +
                        std::string(w[1]) + " " + std::string(w[2]) + "'");
    }
    if (w.size() == 4) {
      if (!number(w[3], c.seed)) return make_error("latency: SEED '" + std::string(w[3]) + "' is not an unsigned integer");
      c.has_seed = true;
    }
    return c;
  }
  return make_error("unknown command '" + std::string(w[0]) + "' (partition, heal, latency, cut, stats)");
}

std::string format_stats(const ProxyStats& s) {
  return "open=" + std::to_string(s.open) + " accepted=" + std::to_string(s.accepted) + " reset=" + std::to_string(s.reset) +
         " up_bytes=" + std::to_string(s.up_bytes) + " down_bytes=" + std::to_string(s.down_bytes) +
         " queued_up=" + std::to_string(s.queued_up) + " queued_down=" + std::to_string(s.queued_down) +
         " partition=" + std::string(cut_name(s.partition)) + " latency=" + std::to_string(s.latency_min_ms) + ".." +
         std::to_string(s.latency_max_ms);
}

Result<ProxyStats> parse_stats(std::string_view answer) {
  std::vector<std::string_view> w = words(answer);
  if (!w.empty() && w[0] == "ok") w.erase(w.begin());
  std::map<std::string_view, std::string_view> kv;
  for (std::string_view x : w) {
    const auto eq = x.find('=');
    if (eq == std::string_view::npos) return make_error("stats: '" + std::string(x) + "' is not key=value");
    kv[x.substr(0, eq)] = x.substr(eq + 1);
  }
  ProxyStats s;
  const std::pair<std::string_view, std::uint64_t*> counters[] = {
      {"open", &s.open},         {"accepted", &s.accepted},       {"reset", &s.reset},
      {"up_bytes", &s.up_bytes}, {"down_bytes", &s.down_bytes},   {"queued_up", &s.queued_up},
      {"queued_down", &s.queued_down}};
  for (const auto& [key, field] : counters) {
    const auto it = kv.find(key);
    if (it == kv.end() || !number(it->second, *field)) return make_error("stats: no number for '" + std::string(key) + "'");
  }
  const auto p = kv.find("partition");
  if (p == kv.end()) return make_error("stats: no partition");
  if (p->second == "both") s.partition = Cut::kBoth;
  else if (p->second == "up") s.partition = Cut::kUp;
  else if (p->second == "down") s.partition = Cut::kDown;
  const auto l = kv.find("latency");
  if (l != kv.end()) {
    const auto dots = l->second.find("..");
    if (dots == std::string_view::npos || !number(l->second.substr(0, dots), s.latency_min_ms) ||
        !number(l->second.substr(dots + 2), s.latency_max_ms)) {
      return make_error("stats: latency '" + std::string(l->second) + "' is not MIN..MAX");
    }
  }
  return s;
}

}  // namespace convlab::faults::real
