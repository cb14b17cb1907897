#include "workload/concurrent.hpp"

#include "server/strategies/crdt/doc.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

namespace convlab {

namespace {

using crdt::Doc;
using crdt::Op;

constexpr std::uint32_t kNoTxn = 0xffffffffu;

struct TxnPlan {
  std::vector<std::uint32_t> parents;  // indexes of earlier transactions
  AgentId agent = 0;
};

// Makes transaction i on `doc` (whose state is exactly the merge of its parents) and returns
// the ops it produced.
using RunTxn = std::function<Result<std::vector<Op>>(std::size_t i, Doc& doc)>;

// One replica per agent. Its state is always the causal closure of `head`, the last
// transaction it made (or empty), which is what makes the reuse check cheap.
struct Replica {
  Doc doc;
  std::vector<char> applied;  // by transaction index
  std::uint32_t head = kNoTxn;
};

class Merger {
 public:
  Merger(const std::vector<TxnPlan>& plan, std::size_t agents) : plan_(plan), replicas_(agents), mark_(plan.size(), 0) {}

  Result<std::u32string> run(const RunTxn& run_txn) {
    ops_.resize(plan_.size());
    for (std::size_t i = 0; i < plan_.size(); ++i) {
      const TxnPlan& t = plan_[i];
      for (const std::uint32_t p : t.parents) {
        if (p >= i) return make_error("txn " + std::to_string(i) + " has parent " + std::to_string(p) + ", not an earlier txn");
      }
      if (t.agent >= replicas_.size()) return make_error("txn " + std::to_string(i) + " has an unknown agent");
      Replica& r = replicas_[t.agent];
      if (r.applied.empty()) r.applied.assign(plan_.size(), 0);
      auto up = bring_up(r, t.parents);
      if (!up) return up.error();
      auto ops = run_txn(i, r.doc);
      if (!ops) return make_error("txn " + std::to_string(i) + ": " + ops.error().message);
      ops_[i] = std::move(*ops);
      r.applied[i] = 1;
      r.head = static_cast<std::uint32_t>(i);
    }
    // The result: every transaction, applied in index order (a causal order) to a new replica.
    Doc all;
    for (std::size_t i = 0; i < plan_.size(); ++i) {
      for (const Op& op : ops_[i]) {
        auto ok = all.apply(op);
        if (!ok) return make_error("merging txn " + std::to_string(i) + ": " + ok.error().message);
      }
    }
    return all.text();
  }

 private:
  // The transactions in the closure of `parents` that `r` lacks, ascending; sets
  // `reached_head` when r.head is in that closure.
  std::vector<std::uint32_t> missing(const Replica& r, const std::vector<std::uint32_t>& parents, bool& reached_head) {
    ++stamp_;
    reached_head = r.head == kNoTxn;
    std::vector<std::uint32_t> out;
    std::vector<std::uint32_t> stack(parents.begin(), parents.end());
    while (!stack.empty()) {
      const std::uint32_t x = stack.back();
      stack.pop_back();
      if (mark_[x] == stamp_) continue;
      mark_[x] = stamp_;
      if (r.applied[x] != 0) {
        // r's state is closed under parents, so nothing behind x is missing.
        if (x == r.head) reached_head = true;
        continue;
      }
      out.push_back(x);
      for (const std::uint32_t p : plan_[x].parents) stack.push_back(p);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  Result<void> bring_up(Replica& r, const std::vector<std::uint32_t>& parents) {
    bool reached_head = false;
    std::vector<std::uint32_t> todo = missing(r, parents, reached_head);
    if (!reached_head) {
      // r holds something outside the parents' closure (its agent's transactions are not
      // totally ordered): start over from the empty document.
      r.doc = Doc();
      std::fill(r.applied.begin(), r.applied.end(), 0);
      r.head = kNoTxn;
      todo = missing(r, parents, reached_head);
    }
    for (const std::uint32_t x : todo) {
      for (const Op& op : ops_[x]) {
        auto ok = r.doc.apply(op);
        if (!ok) return make_error("replaying txn " + std::to_string(x) + ": " + ok.error().message);
      }
      r.applied[x] = 1;
    }
    return {};
  }

  const std::vector<TxnPlan>& plan_;
  std::vector<Replica> replicas_;
  std::vector<std::vector<Op>> ops_;
  std::vector<std::uint32_t> mark_;  // == stamp_: visited in the current search
  std::uint32_t stamp_ = 0;
};

}  // namespace

Result<std::u32string> merge_concurrent_trace(const ConcurrentTrace& t) {
  std::vector<TxnPlan> plan(t.txns.size());
  for (std::size_t i = 0; i < t.txns.size(); ++i) {
    plan[i].parents = t.txns[i].parents;
    plan[i].agent = t.txns[i].agent;
  }
  std::vector<std::uint32_t> next_seq(t.num_agents, 0);
  Merger merger(plan, t.num_agents);
  return merger.run([&](std::size_t i, Doc& doc) -> Result<std::vector<Op>> {
    const ConcurrentTxn& txn = t.txns[i];
    std::vector<Op> ops;
    for (const Splice& p : txn.patches) {
      if (p.pos > doc.length() || p.del > doc.length() - p.pos) return make_error("patch does not fit the document");
      if (p.del > 0) ops.emplace_back(doc.local_delete(p.pos, p.del));
      if (!p.ins.empty()) {
        std::uint32_t& seq = next_seq[txn.agent];
        if (static_cast<std::uint64_t>(seq) + p.ins.size() > 0xfffffffeu) return make_error("agent seq overflow");
        ops.emplace_back(doc.local_insert(p.pos, p.ins, CharId{txn.agent, seq}));
        seq += static_cast<std::uint32_t>(p.ins.size());
      }
    }
    return ops;
  });
}

Result<std::u32string> merge_conformance(const ConformanceHistory& h) {
  // Parents are versions; each names the transaction whose span holds it.
  std::vector<std::pair<std::uint64_t, std::uint32_t>> starts;  // (span_start, txn)
  for (std::size_t i = 0; i < h.txns.size(); ++i) {
    if (h.txns[i].span_end <= h.txns[i].span_start) return make_error("txn " + std::to_string(i) + " has an empty span");
    starts.emplace_back(h.txns[i].span_start, static_cast<std::uint32_t>(i));
  }
  std::sort(starts.begin(), starts.end());
  auto txn_of = [&](std::uint64_t v) -> std::optional<std::uint32_t> {
    auto it = std::upper_bound(starts.begin(), starts.end(), std::make_pair(v, kNoTxn));
    if (it == starts.begin()) return std::nullopt;
    const std::uint32_t i = (it - 1)->second;
    if (v >= h.txns[i].span_end) return std::nullopt;
    return i;
  };
  std::vector<TxnPlan> plan(h.txns.size());
  for (std::size_t i = 0; i < h.txns.size(); ++i) {
    plan[i].agent = h.txns[i].agent;
    for (const std::uint64_t v : h.txns[i].parents) {
      const auto p = txn_of(v);
      if (!p) return make_error("txn " + std::to_string(i) + ": parent version " + std::to_string(v) + " is in no txn");
      if (v + 1 != h.txns[*p].span_end) return make_error("txn " + std::to_string(i) + ": parent version is not the end of a txn");
      plan[i].parents.push_back(*p);
    }
  }
  Merger merger(plan, h.agent_names.size());
  return merger.run([&](std::size_t i, Doc& doc) -> Result<std::vector<Op>> {
    const ConformanceTxn& txn = h.txns[i];
    std::vector<Op> ops;
    // Each inserted or deleted character takes one seq of its author, in op order.
    std::uint64_t seq = txn.seq_start;
    for (const ConformanceOp& op : txn.ops) {
      if (op.pos > doc.length()) return make_error("op position past the end");
      if (op.del > 0) {
        if (op.del > doc.length() - op.pos) return make_error("delete past the end");
        ops.emplace_back(doc.local_delete(op.pos, op.del));
        seq += op.del;
      } else if (!op.ins.empty()) {
        if (seq + op.ins.size() > 0xfffffffeu) return make_error("seq overflow");
        for (std::size_t k = 0; k < op.ins.size(); ++k) {
          if (doc.contains(CharId{txn.agent, static_cast<std::uint32_t>(seq + k)})) return make_error("char id used twice");
        }
        ops.emplace_back(doc.local_insert(op.pos, op.ins, CharId{txn.agent, static_cast<std::uint32_t>(seq)}));
        seq += op.ins.size();
      }
    }
    return ops;
  });
}

}  // namespace convlab
