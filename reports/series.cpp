#include "reports/series.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <tuple>
#include <utility>

namespace convlab::reports {

namespace {

using history::Event;
using history::EventType;

std::optional<std::int64_t> meta_us(const Event& meta, const char* key) {
  auto it = meta.meta.find(key);
  if (it == meta.meta.end() || it->second.empty()) return std::nullopt;
  std::int64_t v = 0;
  const std::string& s = it->second;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

// Adds the interval [a, b) to time-weighted bins: `partial` gets the microseconds of the
// interval inside its first and last bins, `full` a difference array of whole bins.
class BinAccumulator {
 public:
  BinAccumulator(std::int64_t bin_us, std::int64_t end_us, std::size_t bins)
      : bin_us_(bin_us), end_us_(end_us), partial_(bins, 0), full_(bins + 1, 0) {}

  void add(std::int64_t a, std::int64_t b) {
    a = std::max<std::int64_t>(a, 0);
    b = std::min(b, end_us_);
    if (b <= a) return;
    const auto ka = static_cast<std::size_t>(a / bin_us_);
    const auto kb = static_cast<std::size_t>((b - 1) / bin_us_);  // the bin holding b's last instant
    if (ka == kb) {
      partial_[ka] += b - a;
      return;
    }
    partial_[ka] += static_cast<std::int64_t>(ka + 1) * bin_us_ - a;
    partial_[kb] += b - static_cast<std::int64_t>(kb) * bin_us_;
    full_[ka + 1] += 1;
    full_[kb] -= 1;
  }

  // Mean count over each bin.
  std::vector<double> means() const {
    std::vector<double> out(partial_.size(), 0.0);
    std::int64_t whole = 0;
    for (std::size_t k = 0; k < partial_.size(); ++k) {
      whole += full_[k];
      const std::int64_t start = static_cast<std::int64_t>(k) * bin_us_;
      const std::int64_t len = std::min(bin_us_, end_us_ - start);
      const std::int64_t covered = partial_[k] + whole * len;
      out[k] = len > 0 ? static_cast<double>(covered) / static_cast<double>(len) : 0.0;
    }
    return out;
  }

 private:
  std::int64_t bin_us_;
  std::int64_t end_us_;
  std::vector<std::int64_t> partial_;
  std::vector<std::int64_t> full_;
};

double nearest_rank(const std::vector<double>& sorted, std::uint64_t pct) {
  const std::uint64_t n = sorted.size();
  std::uint64_t rank = (pct * n + 99) / 100;
  if (rank < 1) rank = 1;
  return sorted[static_cast<std::size_t>(rank - 1)];
}

}  // namespace

std::string fault_target(const std::string& detail) {
  std::string out;
  std::size_t i = 0;
  while (i < detail.size()) {
    while (i < detail.size() && detail[i] == ' ') ++i;
    std::size_t j = i;
    while (j < detail.size() && detail[j] != ' ') ++j;
    const std::string token = detail.substr(i, j - i);
    if (!token.empty() && token.find('=') == std::string::npos) out += (out.empty() ? "" : " ") + token;
    i = j;
  }
  return out;
}

void SeriesCollector::add(const Event& e) {
  switch (e.type) {
    case EventType::kMeta:
    case EventType::kSeen:
    case EventType::kFault:
    case EventType::kRecover:
    case EventType::kHeal:
      events_.push_back(e);
      break;
    case EventType::kEdit: {
      Event slim;
      slim.type = e.type;
      slim.t_us = e.t_us;
      slim.client = e.client;
      slim.op = e.op;
      slim.doc = e.doc;
      // series_of asks only whether the edit inserted anything.
      if (!e.inserted.empty()) slim.inserted.push_back(e.inserted.front());
      events_.push_back(std::move(slim));
      break;
    }
    default:
      break;
  }
}

RunSeries series_of(const std::vector<Event>& events) {
  RunSeries s;
  const Event* meta = nullptr;
  std::int64_t last_t = 0;
  std::map<std::pair<std::uint32_t, std::uint32_t>, const Event*> edit_of;  // (client, op)
  for (const Event& e : events) {
    last_t = std::max(last_t, e.t_us);
    if (e.type == EventType::kMeta && meta == nullptr) meta = &e;
    if (e.type == EventType::kEdit) edit_of.emplace(std::make_pair(e.client, e.op), &e);
  }
  const std::int64_t end_us = std::max<std::int64_t>(0, (meta ? meta_us(*meta, "end_us") : std::nullopt).value_or(last_t));

  // ---- Fault windows: each fault ends at the first later unused recover of the same kind and
  // detail, else at the first heal after it, else at the end of the run.
  {
    std::vector<std::size_t> ends;  // recover and heal events, in order
    for (std::size_t i = 0; i < events.size(); ++i) {
      if (events[i].type == EventType::kRecover || events[i].type == EventType::kHeal) ends.push_back(i);
    }
    std::vector<bool> used(ends.size(), false);
    for (std::size_t i = 0; i < events.size(); ++i) {
      const Event& f = events[i];
      if (f.type != EventType::kFault) continue;
      FaultWindow w{f.t_us, end_us, f.kind, fault_target(f.detail), f.detail, "end"};
      bool ended = false;
      for (std::size_t j = static_cast<std::size_t>(std::upper_bound(ends.begin(), ends.end(), i) - ends.begin());
           j < ends.size() && !ended; ++j) {
        const Event& r = events[ends[j]];
        if (r.type == EventType::kRecover && !used[j] && r.kind == f.kind && r.detail == f.detail) {
          used[j] = true;
          w.end_us = r.t_us;
          w.ended_by = "recover";
          ended = true;
        } else if (r.type == EventType::kHeal) {
          w.end_us = r.t_us;
          w.ended_by = "heal";
          ended = true;
        }
      }
      s.fault_windows.push_back(std::move(w));
    }
  }

  // ---- Visibility pairs: the same ones visibility_ms counts.
  struct Pair {
    std::uint32_t seer;
    std::int64_t from_us;
    std::int64_t to_us;
  };
  std::vector<Pair> pairs;
  std::vector<double> ms;
  for (const Event& e : events) {
    if (e.type != EventType::kSeen || e.client == e.author) continue;
    auto it = edit_of.find({e.author, e.op});
    if (it == edit_of.end()) continue;
    const Event& edit = *it->second;
    if (edit.inserted.empty() || edit.doc != e.doc) continue;
    ms.push_back(static_cast<double>(e.t_us - edit.t_us) / 1000.0);
    pairs.push_back(Pair{e.client, edit.t_us, e.t_us});
  }
  if (!ms.empty()) {
    std::sort(ms.begin(), ms.end());
    s.visibility_cdf_ms.reserve(100);
    for (std::uint64_t p = 1; p <= 100; ++p) s.visibility_cdf_ms.push_back(nearest_rank(ms, p));
  }

  // ---- Divergence over time.
  DivergenceSeries& d = s.divergence;
  d.end_us = end_us;
  d.bin_us = kBaseBinUs;
  while (static_cast<std::size_t>((end_us + d.bin_us - 1) / d.bin_us) > kBinsMax) d.bin_us *= 2;
  const auto bins = static_cast<std::size_t>((end_us + d.bin_us - 1) / d.bin_us);
  BinAccumulator pending(d.bin_us, end_us, bins);
  for (const Pair& p : pairs) pending.add(p.from_us, p.to_us);
  d.pending_edits = pending.means();
  // A client lags while any of its pairs is pending: the union of its intervals.
  std::sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) {
    return std::tie(a.seer, a.from_us, a.to_us) < std::tie(b.seer, b.from_us, b.to_us);
  });
  BinAccumulator lagging(d.bin_us, end_us, bins);
  for (std::size_t i = 0; i < pairs.size();) {
    const std::uint32_t seer = pairs[i].seer;
    std::int64_t from = pairs[i].from_us;
    std::int64_t to = pairs[i].to_us;
    for (++i; i < pairs.size() && pairs[i].seer == seer; ++i) {
      if (pairs[i].from_us > to) {
        lagging.add(from, to);
        from = pairs[i].from_us;
      }
      to = std::max(to, pairs[i].to_us);
    }
    lagging.add(from, to);
  }
  d.lagging_clients = lagging.means();
  return s;
}

SeriesAggregate merge_series(const std::vector<const RunSeries*>& runs) {
  SeriesAggregate a;
  a.runs = runs.size();
  // Visibility: mean of each percentile over the runs that have one.
  for (const RunSeries* r : runs) {
    if (r->visibility_cdf_ms.empty()) continue;
    if (a.visibility_cdf_ms.empty()) a.visibility_cdf_ms.assign(r->visibility_cdf_ms.size(), 0.0);
    for (std::size_t i = 0; i < a.visibility_cdf_ms.size() && i < r->visibility_cdf_ms.size(); ++i) {
      a.visibility_cdf_ms[i] += r->visibility_cdf_ms[i];
    }
    ++a.cdf_runs;
  }
  for (double& v : a.visibility_cdf_ms) v /= static_cast<double>(a.cdf_runs);

  // Divergence: merge each run into the widest bin, then average bin by bin.
  std::int64_t bin_us = 0;
  std::int64_t end_us = 0;
  for (const RunSeries* r : runs) {
    bin_us = std::max(bin_us, r->divergence.bin_us);
    end_us = std::max(end_us, r->divergence.end_us);
  }
  a.divergence.bin_us = bin_us;
  a.divergence.end_us = end_us;
  if (bin_us > 0) {
    const auto bins = static_cast<std::size_t>((end_us + bin_us - 1) / bin_us);
    std::vector<double> pending(bins, 0.0);
    std::vector<double> lagging(bins, 0.0);
    std::vector<std::uint64_t> reach(bins, 0);
    for (const RunSeries* r : runs) {
      const DivergenceSeries& d = r->divergence;
      if (d.bin_us <= 0) continue;
      const auto factor = static_cast<std::size_t>(bin_us / d.bin_us);
      for (std::size_t k = 0; k * factor < d.pending_edits.size(); ++k) {
        double wp = 0;
        double wl = 0;
        std::int64_t len = 0;
        for (std::size_t j = k * factor; j < (k + 1) * factor && j < d.pending_edits.size(); ++j) {
          const std::int64_t start = static_cast<std::int64_t>(j) * d.bin_us;
          const std::int64_t l = std::min(d.bin_us, d.end_us - start);
          wp += d.pending_edits[j] * static_cast<double>(l);
          wl += d.lagging_clients[j] * static_cast<double>(l);
          len += l;
        }
        if (len <= 0 || k >= bins) continue;
        pending[k] += wp / static_cast<double>(len);
        lagging[k] += wl / static_cast<double>(len);
        ++reach[k];
      }
    }
    for (std::size_t k = 0; k < bins; ++k) {
      if (reach[k] == 0) continue;
      pending[k] /= static_cast<double>(reach[k]);
      lagging[k] /= static_cast<double>(reach[k]);
    }
    a.divergence.pending_edits = std::move(pending);
    a.divergence.lagging_clients = std::move(lagging);
  }

  // Fault windows: the distinct ones, with how many runs had each.
  std::map<std::tuple<std::int64_t, std::int64_t, std::string, std::string>, FaultWindowCount> windows;
  for (const RunSeries* r : runs) {
    std::vector<std::tuple<std::int64_t, std::int64_t, std::string, std::string>> mine;
    for (const FaultWindow& w : r->fault_windows) {
      auto key = std::make_tuple(w.start_us, w.end_us, w.kind, w.target);
      if (std::find(mine.begin(), mine.end(), key) != mine.end()) continue;  // once per run
      mine.push_back(key);
      auto [it, fresh] = windows.try_emplace(key, FaultWindowCount{w, 0});
      ++it->second.runs;
    }
  }
  for (auto& [key, w] : windows) a.fault_windows.push_back(std::move(w));
  return a;
}

}  // namespace convlab::reports
