#include "workload/trace.hpp"

#include "workload/trace_reader.hpp"

#include "server/core/utf8.hpp"

#include <boost/json/parse.hpp>
#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>

namespace convlab {
namespace json = boost::json;

namespace {

// The whole file, sized once from fstat.
Result<std::string> read_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return make_error(path + ": cannot open file");
  std::string out;
  struct stat st {};
  if (::fstat(::fileno(f), &st) == 0 && st.st_size > 0) out.reserve(static_cast<std::size_t>(st.st_size));
  char buf[1 << 16];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  const bool bad = std::ferror(f) != 0;
  std::fclose(f);
  if (bad) return make_error(path + ": read error");
  return out;
}

// Inflates every gzip member of raw into one buffer, sized from the last member's ISIZE
// trailer (the uncompressed size modulo 2^32) and grown if that was short. The trailer is
// untrusted: the size taken from it is capped at deflate's largest ratio (1032:1), so a corrupt
// file cannot make it allocate gigabytes.
Result<std::string> gunzip(const std::string& path, const std::string& raw) {
  std::string out;
  if (raw.size() >= 18) {
    const auto* t = reinterpret_cast<const unsigned char*>(raw.data() + raw.size() - 4);
    const std::size_t isize = static_cast<std::size_t>(t[0]) | static_cast<std::size_t>(t[1]) << 8 |
                              static_cast<std::size_t>(t[2]) << 16 | static_cast<std::size_t>(t[3]) << 24;
    out.resize(std::min(isize, raw.size() * 1032));
  }
  if (out.size() < 4096) out.resize(4096);
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return make_error(path + ": bad gzip data: cannot start zlib");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  std::size_t in_left = raw.size();
  std::size_t used = 0;
  while (true) {
    if (used == out.size()) out.resize(out.size() * 2);
    const auto in_chunk = static_cast<uInt>(std::min<std::size_t>(in_left, 1u << 30));
    const auto out_chunk = static_cast<uInt>(std::min<std::size_t>(out.size() - used, 1u << 30));
    zs.avail_in = in_chunk;
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + used);
    zs.avail_out = out_chunk;
    const int rc = inflate(&zs, Z_NO_FLUSH);
    in_left -= in_chunk - zs.avail_in;
    used += out_chunk - zs.avail_out;
    if (rc == Z_STREAM_END) {
      // Another member may follow (concatenated gzip files); anything else is an error.
      if (in_left == 0) break;
      if (in_left < 2 || zs.next_in[0] != 0x1f || zs.next_in[1] != 0x8b) {
        inflateEnd(&zs);
        return make_error(path + ": bad gzip data: trailing bytes after the compressed data");
      }
      inflateReset(&zs);
      continue;
    }
    if (rc == Z_BUF_ERROR && in_left == 0 && zs.avail_out > 0) {
      inflateEnd(&zs);
      return make_error(path + ": bad gzip data: truncated");
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      const std::string why = zs.msg != nullptr ? zs.msg : "zlib error " + std::to_string(rc);
      inflateEnd(&zs);
      return make_error(path + ": bad gzip data: " + why);
    }
  }
  inflateEnd(&zs);
  out.resize(used);
  return out;
}

// The file's text: gunzipped when it starts with gzip's magic bytes.
Result<std::string> read_text(const std::string& path) {
  auto raw = read_file(path);
  if (!raw) return raw.error();
  if (raw->size() >= 2 && static_cast<unsigned char>((*raw)[0]) == 0x1f && static_cast<unsigned char>((*raw)[1]) == 0x8b) {
    return gunzip(path, *raw);
  }
  return raw;
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

}  // namespace

Result<json::value> load_json_file(const std::string& path) {
  auto text = read_text(path);
  if (!text) return text.error();
  boost::system::error_code ec;
  json::value v = json::parse(*text, ec);
  if (ec) return make_error(path + ": bad JSON: " + ec.message());
  return v;
}

Result<AnyTrace> load_trace(const std::string& path) {
  auto text = read_text(path);
  if (!text) return text.error();
  return read_trace(path, *text);
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
