// campaigns/fidelity.hpp: the simulator's aggregates next to the real processes'.
#include "campaigns/fidelity.hpp"

#include <cmath>
#include <limits>
#include <map>
#include <sstream>
#include <tuple>

namespace convlab::campaigns {

std::vector<FidelityRow> compare_worlds(const reports::Report& sim, const reports::Report& real) {
  using Key = std::tuple<std::string, std::string, std::string>;
  std::map<Key, const reports::Group*> real_groups;
  for (const reports::Group& g : real.groups) real_groups[{g.scenario, g.variant, g.strategy}] = &g;
  std::vector<FidelityRow> rows;
  for (const reports::Group& g : sim.groups) {
    const auto it = real_groups.find({g.scenario, g.variant, g.strategy});
    if (it == real_groups.end()) continue;
    for (const auto& [metric, s] : g.stats) {
      const auto r = it->second->stats.find(metric);
      if (r == it->second->stats.end()) continue;
      if (s.mean == 0 && r->second.mean == 0 && s.max == 0 && r->second.max == 0) continue;
      FidelityRow row{g.scenario, g.variant, g.strategy, metric, s, r->second};
      row.ratio = s.mean == 0 ? std::numeric_limits<double>::quiet_NaN() : r->second.mean / s.mean;
      row.too_few = s.n < 2 || r->second.n < 2;
      row.apart = !row.too_few && (s.hi < r->second.lo || r->second.hi < s.lo);
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

std::string fidelity_table(const std::vector<FidelityRow>& rows) {
  std::ostringstream out;
  std::string section;
  std::size_t apart = 0, judged = 0;
  for (const FidelityRow& r : rows) {
    const std::string here = r.scenario + " [" + r.variant + "]";
    if (here != section) {
      section = here;
      out << "\n" << here << "\n\n";
      out << "| strategy | metric | simulator mean [95% interval] | real mean [95% interval] | real / sim | |\n";
      out << "|---|---|---|---|---|---|\n";
    }
    const std::string ratio = std::isnan(r.ratio) ? "—" : reports::format_number(r.ratio);
    const char* flag = r.apart ? "**apart**" : (r.too_few ? "n < 2" : "overlap");
    out << "| " << r.strategy << " | " << r.metric << " | " << reports::format_stat(r.sim) << " | "
        << reports::format_stat(r.real) << " | " << ratio << " | " << flag << " |\n";
    apart += r.apart ? 1 : 0;
    judged += r.too_few ? 0 : 1;
  }
  out << "\n" << rows.size() << " metrics compared, " << judged << " with two seeds or more in both worlds; " << apart
      << " with intervals apart\n";
  return out.str();
}

}  // namespace convlab::campaigns
