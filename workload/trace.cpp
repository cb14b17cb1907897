#include "workload/trace.hpp"

#include "server/core/utf8.hpp"

#include <boost/iostreams/copy.hpp>
#include <boost/iostreams/filter/gzip.hpp>
#include <boost/iostreams/filtering_streambuf.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace convlab {
namespace json = boost::json;

namespace {

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(path + ": cannot open file");
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return make_error(path + ": read error");
  return std::move(buf).str();
}

Result<std::string> gunzip(const std::string& path, const std::string& raw) {
  try {
    std::istringstream src(raw);
    boost::iostreams::filtering_streambuf<boost::iostreams::input> in;
    in.push(boost::iostreams::gzip_decompressor());
    in.push(src);
    std::ostringstream out;
    boost::iostreams::copy(in, out);
    return std::move(out).str();
  } catch (const std::exception& e) {
    return make_error(path + ": bad gzip data: " + e.what());
  }
}

// Shape errors name the file and the JSON path of the problem.
struct Shape {
  const std::string& file;
  Error at(const std::string& where, const std::string& problem) const {
    return make_error(file + ": " + where + ": " + problem);
  }
};

Result<std::u32string> get_text(const Shape& sh, const json::value& v, const std::string& where) {
  if (!v.is_string()) return sh.at(where, "expected a string");
  const auto& s = v.get_string();
  auto t = utf8_decode(std::string_view(s.data(), s.size()));
  if (!t) return sh.at(where, t.error().message);
  return std::move(*t);
}

Result<std::uint64_t> get_uint(const Shape& sh, const json::value& v, const std::string& where) {
  if (v.is_uint64()) return v.get_uint64();
  if (v.is_int64() && v.get_int64() >= 0) return static_cast<std::uint64_t>(v.get_int64());
  return sh.at(where, "expected a non-negative integer");
}

const json::value* field(const json::object& o, std::string_view key) { return o.if_contains(key); }

Result<std::vector<Splice>> get_patches(const Shape& sh, const json::object& txn, const std::string& where) {
  const json::value* p = field(txn, "patches");
  if (!p || !p->is_array()) return sh.at(where + ".patches", "expected an array");
  std::vector<Splice> out;
  out.reserve(p->get_array().size());
  std::size_t k = 0;
  for (const auto& pv : p->get_array()) {
    const std::string pw = where + ".patches[" + std::to_string(k++) + "]";
    if (!pv.is_array() || pv.get_array().size() != 3) return sh.at(pw, "expected [pos, delCount, insText]");
    const auto& a = pv.get_array();
    auto pos = get_uint(sh, a[0], pw + "[0]");
    if (!pos) return pos.error();
    auto del = get_uint(sh, a[1], pw + "[1]");
    if (!del) return del.error();
    auto ins = get_text(sh, a[2], pw + "[2]");
    if (!ins) return ins.error();
    out.push_back(Splice{*pos, *del, std::move(*ins)});
  }
  return out;
}

}  // namespace

Result<json::value> load_json_file(const std::string& path) {
  auto raw = read_file(path);
  if (!raw) return raw.error();
  std::string text = std::move(*raw);
  if (text.size() >= 2 && static_cast<unsigned char>(text[0]) == 0x1f && static_cast<unsigned char>(text[1]) == 0x8b) {
    auto plain = gunzip(path, text);
    if (!plain) return plain.error();
    text = std::move(*plain);
  }
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return make_error(path + ": bad JSON: " + ec.message());
  return v;
}

Result<AnyTrace> load_trace(const std::string& path) {
  auto doc = load_json_file(path);
  if (!doc) return doc.error();
  const Shape sh{path};
  if (!doc->is_object()) return sh.at("$", "expected an object with endContent and txns");
  const auto& o = doc->get_object();
  const json::value* end = field(o, "endContent");
  if (!end) return sh.at("$.endContent", "missing");
  auto end_text = get_text(sh, *end, "$.endContent");
  if (!end_text) return end_text.error();
  const json::value* txns = field(o, "txns");
  if (!txns || !txns->is_array()) return sh.at("$.txns", "expected an array");

  AnyTrace out;
  const json::value* kind = field(o, "kind");
  out.concurrent = kind && kind->is_string() && kind->get_string() == "concurrent";
  if (!out.concurrent) {
    SequentialTrace& t = out.sequential;
    t.end_content = std::move(*end_text);
    if (const json::value* start = field(o, "startContent")) {
      auto s = get_text(sh, *start, "$.startContent");
      if (!s) return s.error();
      t.start_content = std::move(*s);
    }
    t.txns.reserve(txns->get_array().size());
    std::size_t i = 0;
    for (const auto& tv : txns->get_array()) {
      const std::string where = "$.txns[" + std::to_string(i++) + "]";
      if (!tv.is_object()) return sh.at(where, "expected an object");
      auto patches = get_patches(sh, tv.get_object(), where);
      if (!patches) return patches.error();
      t.patch_count += patches->size();
      t.txns.push_back(TraceTxn{std::move(*patches)});
    }
    return out;
  }

  ConcurrentTrace& t = out.concurrent_trace;
  t.end_content = std::move(*end_text);
  const json::value* agents = field(o, "numAgents");
  if (!agents) return sh.at("$.numAgents", "missing");
  auto n_agents = get_uint(sh, *agents, "$.numAgents");
  if (!n_agents) return n_agents.error();
  if (*n_agents == 0 || *n_agents > 1'000'000) return sh.at("$.numAgents", "out of range 1..1000000");
  t.num_agents = static_cast<std::uint32_t>(*n_agents);
  std::size_t i = 0;
  for (const auto& tv : txns->get_array()) {
    const std::string where = "$.txns[" + std::to_string(i) + "]";
    if (!tv.is_object()) return sh.at(where, "expected an object");
    const auto& to = tv.get_object();
    ConcurrentTxn txn;
    const json::value* parents = field(to, "parents");
    if (!parents || !parents->is_array()) return sh.at(where + ".parents", "expected an array");
    for (const auto& pv : parents->get_array()) {
      auto p = get_uint(sh, pv, where + ".parents");
      if (!p) return p.error();
      if (*p >= i) return sh.at(where + ".parents", "parent " + std::to_string(*p) + " is not an earlier transaction");
      txn.parents.push_back(static_cast<std::uint32_t>(*p));
    }
    const json::value* agent = field(to, "agent");
    if (!agent) return sh.at(where + ".agent", "missing");
    auto a = get_uint(sh, *agent, where + ".agent");
    if (!a) return a.error();
    if (*a >= t.num_agents) return sh.at(where + ".agent", "agent " + std::to_string(*a) + " is not below numAgents");
    txn.agent = static_cast<std::uint32_t>(*a);
    auto patches = get_patches(sh, to, where);
    if (!patches) return patches.error();
    txn.patches = std::move(*patches);
    t.txns.push_back(std::move(txn));
    ++i;
  }
  return out;
}

Result<std::vector<ConformanceHistory>> load_conformance(const std::string& path) {
  auto doc = load_json_file(path);
  if (!doc) return doc.error();
  const Shape sh{path};
  if (!doc->is_array()) return sh.at("$", "expected an array of histories");
  std::vector<ConformanceHistory> out;
  std::size_t h = 0;
  for (const auto& hv : doc->get_array()) {
    const std::string hw = "$[" + std::to_string(h++) + "]";
    if (!hv.is_object()) return sh.at(hw, "expected an object");
    const auto& ho = hv.get_object();
    ConformanceHistory hist;
    const json::value* end = field(ho, "endContent");
    if (!end) return sh.at(hw + ".endContent", "missing");
    auto end_text = get_text(sh, *end, hw + ".endContent");
    if (!end_text) return end_text.error();
    hist.end_content = std::move(*end_text);
    const json::value* txns = field(ho, "txns");
    if (!txns || !txns->is_array()) return sh.at(hw + ".txns", "expected an array");
    // Agents are renumbered in the string order of their names (std::set iterates sorted).
    std::set<std::string> names;
    for (const auto& tv : txns->get_array()) {
      if (!tv.is_object()) continue;
      const json::value* a = field(tv.get_object(), "agent");
      if (a && a->is_string()) names.insert(std::string(a->get_string()));
    }
    hist.agent_names.assign(names.begin(), names.end());
    std::size_t i = 0;
    for (const auto& tv : txns->get_array()) {
      const std::string w = hw + ".txns[" + std::to_string(i++) + "]";
      if (!tv.is_object()) return sh.at(w, "expected an object");
      const auto& to = tv.get_object();
      ConformanceTxn txn;
      const json::value* a = field(to, "agent");
      if (!a || !a->is_string()) return sh.at(w + ".agent", "expected a string");
      const auto it = std::lower_bound(hist.agent_names.begin(), hist.agent_names.end(), std::string(a->get_string()));
      txn.agent = static_cast<AgentId>(it - hist.agent_names.begin());
      const json::value* span = field(to, "span");
      if (!span || !span->is_array() || span->get_array().size() != 2) return sh.at(w + ".span", "expected [start, end]");
      auto s0 = get_uint(sh, span->get_array()[0], w + ".span[0]");
      if (!s0) return s0.error();
      auto s1 = get_uint(sh, span->get_array()[1], w + ".span[1]");
      if (!s1) return s1.error();
      if (*s1 < *s0) return sh.at(w + ".span", "end before start");
      txn.span_start = *s0;
      txn.span_end = *s1;
      const json::value* seq = field(to, "seqStart");
      if (!seq) return sh.at(w + ".seqStart", "missing");
      auto sq = get_uint(sh, *seq, w + ".seqStart");
      if (!sq) return sq.error();
      if (*sq > 0xffffffffull) return sh.at(w + ".seqStart", "above 2^32-1");
      txn.seq_start = static_cast<std::uint32_t>(*sq);
      const json::value* parents = field(to, "parents");
      if (!parents || !parents->is_array()) return sh.at(w + ".parents", "expected an array");
      for (const auto& pv : parents->get_array()) {
        auto p = get_uint(sh, pv, w + ".parents");
        if (!p) return p.error();
        txn.parents.push_back(*p);
      }
      const json::value* ops = field(to, "ops");
      if (!ops || !ops->is_array()) return sh.at(w + ".ops", "expected an array");
      std::size_t k = 0;
      for (const auto& ov : ops->get_array()) {
        const std::string ow = w + ".ops[" + std::to_string(k++) + "]";
        if (!ov.is_array() || ov.get_array().size() != 3) return sh.at(ow, "expected [pos, delCount, insText]");
        const auto& arr = ov.get_array();
        auto pos = get_uint(sh, arr[0], ow + "[0]");
        if (!pos) return pos.error();
        auto del = get_uint(sh, arr[1], ow + "[1]");
        if (!del) return del.error();
        auto ins = get_text(sh, arr[2], ow + "[2]");
        if (!ins) return ins.error();
        if ((*del > 0) == !ins->empty()) return sh.at(ow, "expected either a delete or an insert");
        txn.ops.push_back(ConformanceOp{*pos, *del, std::move(*ins)});
      }
      hist.txns.push_back(std::move(txn));
    }
    out.push_back(std::move(hist));
  }
  return out;
}

std::string shared_dir() {
  if (const char* env = std::getenv("CONVLAB_SHARED"); env && *env) return env;
  if (const char* env = std::getenv("CONVLAB_SHARED_DEFAULT"); env && *env) return env;
  return CONVLAB_SHARED_DEFAULT;
}

}  // namespace convlab
