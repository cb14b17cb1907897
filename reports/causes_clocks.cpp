// Causes of loss without the durable log (a history from before `commit` events): inferred from
// time and vector clocks. Candidates W for a lost edit E (author a, op k) are the other clients'
// edits of the same paragraph with seen_ops[a] < k. For one (doc, para, a) that set only grows
// with k, so each group is one sweep: candidates enter in order of seen_ops[a], lost edits are
// served in order of k, and a max-tree over time order answers "the latest candidate earlier
// than E with a later clock". With the log, reports/causes.cpp decides instead.
#include "reports/check_detail.hpp"

#include <algorithm>
#include <limits>
#include <span>
#include <tuple>

namespace convlab::reports::detail {

namespace {

// A max-tree over positions 0..n-1 (values start at "absent"), answering: the rightmost
// position below r whose value exceeds x.
class MaxTree {
 public:
  static constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();
  static constexpr std::int64_t kAbsent = std::numeric_limits<std::int64_t>::min();

  explicit MaxTree(std::size_t n) {
    while (size_ < n) size_ *= 2;
    tree_.assign(2 * size_, kAbsent);
  }
  void set(std::size_t i, std::int64_t v) {
    i += size_;
    tree_[i] = v;
    for (i /= 2; i >= 1; i /= 2) tree_[i] = std::max(tree_[2 * i], tree_[2 * i + 1]);
  }
  std::size_t rightmost_above(std::size_t r, std::int64_t x) const { return find(1, 0, size_, r, x); }

 private:
  std::size_t find(std::size_t node, std::size_t lo, std::size_t hi, std::size_t r, std::int64_t x) const {
    if (lo >= r || tree_[node] <= x) return kNone;
    if (hi - lo == 1) return lo;
    const std::size_t mid = lo + (hi - lo) / 2;
    const std::size_t right = find(2 * node + 1, mid, hi, r, x);
    if (right != kNone) return right;
    return find(2 * node, lo, mid, r, x);
  }
  std::size_t size_ = 1;
  std::vector<std::int64_t> tree_;
};

}  // namespace

void causes_from_clocks(const ParaEdits& by_para, LostGroups& lost_groups, std::optional<std::int64_t> last_crash_us,
                        std::vector<EditInfo>& edits) {
  // Limits the per-chunk table of (seen op, rank) pairs: authors x paragraph edits.
  constexpr std::size_t kChunkEntries = std::size_t{1} << 21;
  for (auto& [para_key, list] : by_para) {
    const auto [doc, para] = para_key;
    auto group_begin = lost_groups.lower_bound({doc, para, 0});
    auto group_end = lost_groups.upper_bound({doc, para, std::numeric_limits<std::uint32_t>::max()});
    if (group_begin == group_end) continue;

    // The paragraph's edits in time order, copied into contiguous arrays.
    struct Cand {
      std::int64_t t_us;
      std::int64_t clock_ms;
      std::uint32_t client;
      std::uint32_t op;
      std::size_t order;
      bool stale_base;
    };
    std::vector<Cand> cands;
    cands.reserve(list.size());
    for (std::size_t idx : list) {
      const Edit& w = *edits[idx].e;
      cands.push_back(Cand{w.t_us, w.clock_ms, w.client, w.op, idx, w.stale_base});
    }
    std::sort(cands.begin(), cands.end(), [](const Cand& x, const Cand& y) {
      return std::tie(x.t_us, x.client, x.op, x.order) < std::tie(y.t_us, y.client, y.op, y.order);
    });
    const std::size_t n = cands.size();

    std::vector<std::pair<std::uint32_t, std::vector<std::size_t>*>> groups;  // (author, lost edits)
    for (auto it = group_begin; it != group_end; ++it) groups.emplace_back(std::get<2>(it->first), &it->second);
    const std::size_t chunk = std::max<std::size_t>(1, kChunkEntries / std::max<std::size_t>(1, n));
    for (std::size_t g0 = 0; g0 < groups.size(); g0 += chunk) {
      const std::size_t g1 = std::min(groups.size(), g0 + chunk);
      // by_seen[g]: (seen_ops[author] or -1, rank) of every other client's edit.
      std::vector<std::vector<std::pair<std::int64_t, std::size_t>>> by_seen(g1 - g0);
      for (auto& v : by_seen) v.reserve(n);
      for (std::size_t rank = 0; rank < n; ++rank) {
        const std::span<const AuthorOp> seen_ops = edits[cands[rank].order].seen_ops;
        auto it = seen_ops.begin();
        for (std::size_t g = g0; g < g1; ++g) {  // authors ascending: a merge walk
          const std::uint32_t author = groups[g].first;
          if (cands[rank].client == author) continue;
          while (it != seen_ops.end() && it->first < author) ++it;
          const std::int64_t s = it != seen_ops.end() && it->first == author ? std::int64_t{it->second} : -1;
          by_seen[g - g0].emplace_back(s, rank);
        }
      }
      for (std::size_t g = g0; g < g1; ++g) {
        auto& cand_order = by_seen[g - g0];
        std::sort(cand_order.begin(), cand_order.end());
        std::vector<std::size_t>& lost_edits = *groups[g].second;
        std::sort(lost_edits.begin(), lost_edits.end(), [&](std::size_t a, std::size_t b) {
          return std::tie(edits[a].e->op, a) < std::tie(edits[b].e->op, b);
        });
        MaxTree clocks(n);
        std::optional<std::size_t> latest_any;    // rank of the latest candidate so far
        std::optional<std::size_t> latest_stale;  // same, among stale-base candidates
        std::size_t next = 0;
        for (std::size_t idx : lost_edits) {
          EditInfo& info = edits[idx];
          const Edit& e = *info.e;
          while (next < cand_order.size() && cand_order[next].first < std::int64_t{e.op}) {
            const std::size_t rank = cand_order[next].second;
            clocks.set(rank, cands[rank].clock_ms);
            latest_any = std::max(latest_any.value_or(rank), rank);
            if (cands[rank].stale_base) latest_stale = std::max(latest_stale.value_or(rank), rank);
            ++next;
          }
          // Edits strictly earlier than E form a prefix of the time order.
          const auto earlier_end = static_cast<std::size_t>(
              std::lower_bound(cands.begin(), cands.end(), e.t_us,
                               [](const Cand& w, std::int64_t t) { return w.t_us < t; }) -
              cands.begin());
          const std::size_t skewed = clocks.rightmost_above(earlier_end, e.clock_ms);
          // Precedence, most specific first. A crash after the edit explains a loss whatever
          // else happened (when both could, the crash is named). Then an edit made at or after
          // E by someone who had not seen E (their write replaced E's); then an earlier edit
          // whose clock read later than E's (last-writer-wins on skewed clocks kept it); then
          // any other concurrent edit of the paragraph.
          const auto at_or_after = [&](const std::optional<std::size_t>& r) {
            return r && cands[*r].t_us >= e.t_us;
          };
          std::optional<std::size_t> blamed;
          if (last_crash_us && *last_crash_us > e.t_us) {
            info.cause = "crash";
          } else if (at_or_after(latest_stale)) {
            info.cause = "stale_base";
            blamed = latest_stale;
          } else if (at_or_after(latest_any)) {
            info.cause = "concurrent";
            blamed = latest_any;
          } else if (skewed != MaxTree::kNone) {
            info.cause = "clock_skew";
            blamed = skewed;
          } else if (latest_stale) {
            info.cause = "stale_base";
            blamed = latest_stale;
          } else if (latest_any) {
            info.cause = "concurrent";
            blamed = latest_any;
          } else {
            info.cause = "unknown";
          }
          if (blamed) {
            info.by_client = cands[*blamed].client;
            info.by_op = cands[*blamed].op;
          }
        }
      }
    }
  }
}

}  // namespace convlab::reports::detail
