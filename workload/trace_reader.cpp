#include "workload/trace_reader.hpp"

#include "workload/json_pull.hpp"

#include <limits>
#include <optional>

namespace convlab {

namespace {

using Kind = JsonPull::Kind;

std::string txn_where(std::size_t i) { return "$.txns[" + std::to_string(i) + "]"; }

// One pass over the text; the JSON path of a shape error is built only when one occurs.
class TraceReader {
 public:
  TraceReader(const std::string& file, std::string_view text) : file_(file), j_(text) {}

  Result<AnyTrace> read();

 private:
  // The first error wins; every reading function returns false once it is set.
  bool syntax() {
    if (!err_) err_ = make_error(file_ + ": bad JSON: " + j_.error());
    return false;
  }
  bool shape(const std::string& where, const std::string& problem) {
    if (!err_) err_ = make_error(file_ + ": " + where + ": " + problem);
    return false;
  }
  // The next value is not what the caller wanted: a syntax error when it is not even a
  // value, else a shape error.
  bool unexpected(const std::string& where, const std::string& problem) {
    const Kind k = j_.peek();
    if (k == Kind::kBad || k == Kind::kEnd) {
      j_.skip();  // sets the reader's error
      return syntax();
    }
    return shape(where, problem);
  }
  template <class Where>
  bool text(std::u32string& out, Where where) {
    if (j_.peek() != Kind::kString) return unexpected(where(), "expected a string");
    out.clear();
    return j_.string(out) || syntax();
  }
  template <class Where>
  bool uint(std::uint64_t& out, Where where) {
    if (j_.peek() != Kind::kNumber) return unexpected(where(), "expected a non-negative integer");
    switch (j_.number(out)) {
      case JsonPull::Num::kUint: return true;
      case JsonPull::Num::kOther: return shape(where(), "expected a non-negative integer");
      case JsonPull::Num::kBad: break;
    }
    return syntax();
  }
  bool patches(std::vector<Splice>& out, std::size_t txn);
  bool sequential_txns(SequentialTrace& t);
  bool concurrent_txns(ConcurrentTrace& t, std::vector<std::uint64_t>& agents);

  const std::string& file_;
  JsonPull j_;
  std::optional<Error> err_;
};

// [[pos, delCount, insText], ...], appended to out.
bool TraceReader::patches(std::vector<Splice>& out, std::size_t txn) {
  auto where = [&] { return txn_where(txn) + ".patches"; };
  if (j_.peek() != Kind::kArray) return unexpected(where(), "expected an array");
  j_.begin_array();
  std::size_t k = 0;
  while (j_.element()) {
    auto pw = [&] { return where() + "[" + std::to_string(k) + "]"; };
    const char* const triple = "expected [pos, delCount, insText]";
    if (j_.peek() != Kind::kArray) return unexpected(pw(), triple);
    j_.begin_array();
    Splice& s = out.emplace_back();
    if (!j_.element()) return j_.failed() ? syntax() : shape(pw(), triple);
    if (!uint(s.pos, [&] { return pw() + "[0]"; })) return false;
    if (!j_.element()) return j_.failed() ? syntax() : shape(pw(), triple);
    if (!uint(s.del, [&] { return pw() + "[1]"; })) return false;
    if (!j_.element()) return j_.failed() ? syntax() : shape(pw(), triple);
    if (!text(s.ins, [&] { return pw() + "[2]"; })) return false;
    if (j_.element()) return shape(pw(), triple);
    if (j_.failed()) return syntax();
    ++k;
  }
  return !j_.failed() || syntax();
}

bool TraceReader::sequential_txns(SequentialTrace& t) {
  if (j_.peek() != Kind::kArray) return unexpected("$.txns", "expected an array");
  j_.begin_array();
  t.patches.clear();
  t.txn_ends.clear();
  // No per-patch growth: a patch and its transaction take some 60 bytes of text in the traces
  // here; capacity never touched costs address space, not memory.
  t.patches.reserve(j_.remaining() / 32);
  t.txn_ends.reserve(j_.remaining() / 32);
  std::size_t i = 0;
  std::string_view key;
  while (j_.element()) {
    if (j_.peek() != Kind::kObject) return unexpected(txn_where(i), "expected an object");
    j_.begin_object();
    const std::size_t first = t.patches.size();
    bool have_patches = false;
    while (j_.member(key)) {
      if (key == "patches") {
        t.patches.resize(first);  // a repeated key: the last one counts
        if (!patches(t.patches, i)) return false;
        have_patches = true;
      } else if (!j_.skip()) {
        return syntax();
      }
    }
    if (j_.failed()) return syntax();
    if (!have_patches) return shape(txn_where(i) + ".patches", "expected an array");
    if (t.patches.size() > std::numeric_limits<std::uint32_t>::max()) return shape(txn_where(i), "more than 2^32-1 patches");
    t.txn_ends.push_back(static_cast<std::uint32_t>(t.patches.size()));
    ++i;
  }
  if (j_.failed()) return syntax();
  t.patch_count = t.patches.size();
  return true;
}

// Each transaction's agent goes to agents (checked against numAgents once that is known).
bool TraceReader::concurrent_txns(ConcurrentTrace& t, std::vector<std::uint64_t>& agents) {
  if (j_.peek() != Kind::kArray) return unexpected("$.txns", "expected an array");
  j_.begin_array();
  t.txns.clear();
  agents.clear();
  std::size_t i = 0;
  std::string_view key;
  while (j_.element()) {
    const std::string where = txn_where(i);
    if (j_.peek() != Kind::kObject) return unexpected(where, "expected an object");
    j_.begin_object();
    ConcurrentTxn& txn = t.txns.emplace_back();
    bool have_parents = false;
    bool have_patches = false;
    std::optional<std::uint64_t> agent;
    while (j_.member(key)) {
      if (key == "parents") {
        if (j_.peek() != Kind::kArray) return unexpected(where + ".parents", "expected an array");
        j_.begin_array();
        txn.parents.clear();
        while (j_.element()) {
          std::uint64_t p = 0;
          if (!uint(p, [&] { return where + ".parents"; })) return false;
          if (p >= i) return shape(where + ".parents", "parent " + std::to_string(p) + " is not an earlier transaction");
          txn.parents.push_back(static_cast<std::uint32_t>(p));
        }
        if (j_.failed()) return syntax();
        have_parents = true;
      } else if (key == "agent") {
        std::uint64_t a = 0;
        if (!uint(a, [&] { return where + ".agent"; })) return false;
        agent = a;
      } else if (key == "patches") {
        txn.patches.clear();
        if (!patches(txn.patches, i)) return false;
        have_patches = true;
      } else if (!j_.skip()) {
        return syntax();
      }
    }
    if (j_.failed()) return syntax();
    if (!have_parents) return shape(where + ".parents", "expected an array");
    if (!agent) return shape(where + ".agent", "missing");
    if (!have_patches) return shape(where + ".patches", "expected an array");
    agents.push_back(*agent);
    ++i;
  }
  return !j_.failed() || syntax();
}

Result<AnyTrace> TraceReader::read() {
  AnyTrace out;
  if (j_.peek() != Kind::kObject) {
    unexpected("$", "expected an object with endContent and txns");
    return *err_;
  }
  j_.begin_object();
  bool have_end = false;
  bool have_txns = false;
  bool txns_read_as_concurrent = false;
  std::size_t txns_at = 0;
  std::u32string end;
  std::u32string start;
  // numAgents matters only to a concurrent trace, which may say so after it: kept, checked last.
  enum class Agents : std::uint8_t { kMissing, kBad, kValue } agents_state = Agents::kMissing;
  std::uint64_t num_agents = 0;
  std::vector<std::uint64_t> agents;
  std::string_view key;
  while (j_.member(key)) {
    bool ok = true;
    if (key == "endContent") {
      ok = text(end, [] { return std::string("$.endContent"); });
      have_end = true;
    } else if (key == "startContent") {
      ok = text(start, [] { return std::string("$.startContent"); });
    } else if (key == "kind") {
      if (j_.peek() == Kind::kString) {
        std::u32string kind;
        ok = j_.string(kind) || syntax();
        out.concurrent = kind == U"concurrent";
      } else {
        out.concurrent = false;
        ok = j_.skip() || syntax();
      }
    } else if (key == "numAgents") {
      agents_state = Agents::kBad;
      if (j_.peek() == Kind::kNumber) {
        const JsonPull::Num n = j_.number(num_agents);
        if (n == JsonPull::Num::kBad) return syntax(), *err_;
        if (n == JsonPull::Num::kUint) agents_state = Agents::kValue;
      } else {
        ok = j_.skip() || syntax();
      }
    } else if (key == "txns") {
      // Read as the kind said so far (a sequential trace usually never says); read again
      // below if "kind" comes after and says otherwise.
      have_txns = true;
      txns_at = j_.offset();
      txns_read_as_concurrent = out.concurrent;
      ok = out.concurrent ? concurrent_txns(out.concurrent_trace, agents) : sequential_txns(out.sequential);
    } else {
      ok = j_.skip() || syntax();
    }
    if (!ok) return *err_;
  }
  if (j_.failed() || !j_.finish()) return syntax(), *err_;
  if (!have_end) return shape("$.endContent", "missing"), *err_;
  if (!have_txns) return shape("$.txns", "expected an array"), *err_;

  if (!out.concurrent) {
    if (txns_read_as_concurrent) {
      j_.seek(txns_at);
      if (!sequential_txns(out.sequential)) return *err_;
      out.concurrent_trace = ConcurrentTrace{};
    }
    out.sequential.end_content = std::move(end);
    out.sequential.start_content = std::move(start);
    return out;
  }

  ConcurrentTrace& t = out.concurrent_trace;
  t.end_content = std::move(end);
  if (agents_state == Agents::kMissing) return shape("$.numAgents", "missing"), *err_;
  if (agents_state == Agents::kBad) return shape("$.numAgents", "expected a non-negative integer"), *err_;
  if (num_agents == 0 || num_agents > 1'000'000) return shape("$.numAgents", "out of range 1..1000000"), *err_;
  t.num_agents = static_cast<std::uint32_t>(num_agents);
  if (!txns_read_as_concurrent) {
    out.sequential = SequentialTrace{};
    j_.seek(txns_at);
    if (!concurrent_txns(t, agents)) return *err_;
  }
  for (std::size_t i = 0; i < t.txns.size(); ++i) {
    if (agents[i] >= t.num_agents) {
      return shape(txn_where(i) + ".agent", "agent " + std::to_string(agents[i]) + " is not below numAgents"), *err_;
    }
    t.txns[i].agent = static_cast<std::uint32_t>(agents[i]);
  }
  return out;
}

}  // namespace

Result<AnyTrace> read_trace(const std::string& file, std::string_view text) {
  return TraceReader(file, text).read();
}

}  // namespace convlab
