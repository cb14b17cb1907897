#include "cli/partial.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace convlab::cli {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

// Doubles as their shortest round-trip decimal text: std::from_chars gives back the same bits,
// which a JSON number read by Boost.JSON 1.81 does not promise.
json::value exact(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return json::value(std::string(buf, r.ptr));
}

json::object pct_json(const reports::Percentiles& p) {
  return json::object{{"p50", exact(p.p50)}, {"p99", exact(p.p99)}, {"max", exact(p.max)}, {"count", p.count}};
}

json::object metrics_json(const reports::RunMetrics& m) {
  json::object o;
  o["converged"] = m.converged;
  o["convergence_ms"] = exact(m.convergence_ms);
  json::array div;
  for (const std::string& d : m.divergent) div.emplace_back(d);
  o["divergent"] = std::move(div);
  o["edits"] = m.edits;
  o["acked_edits"] = m.acked_edits;
  o["lost_acked_chars"] = m.lost_acked_chars;
  o["lost_acked_edits"] = m.lost_acked_edits;
  json::object causes;
  for (const auto& [k, v] : m.lost_by_cause) causes[k] = v;
  o["lost_by_cause"] = std::move(causes);
  json::array lost;
  for (const reports::LostChar& l : m.lost) {
    lost.push_back(json::array{l.id.agent, l.id.seq, l.doc, l.author_op, json::value(l.cause), l.by_client, l.by_op,
                               l.author_client});
  }
  o["lost"] = std::move(lost);
  o["causality_reversals"] = m.causality_reversals;
  o["visibility_ms"] = pct_json(m.visibility_ms);
  o["visibility_cross_ms"] = pct_json(m.visibility_cross_ms);
  o["visibility_others_ms"] = pct_json(m.visibility_others_ms);
  o["stale_loads"] = m.stale_loads;
  o["served_after_revocation"] = m.served_after_revocation;
  o["read_your_writes_violations"] = m.read_your_writes_violations;
  o["silent_rename_losses"] = m.silent_rename_losses;
  o["db_queries"] = m.db_queries;
  json::object kinds;
  for (const auto& [k, v] : m.db_queries_by_kind) kinds[k] = v;
  o["db_queries_by_kind"] = std::move(kinds);
  o["db_queries_per_s"] = exact(m.db_queries_per_s);
  o["msgs_per_edit"] = exact(m.msgs_per_edit);
  o["bytes_per_edit"] = exact(m.bytes_per_edit);
  o["db_polls_per_s"] = exact(m.db_polls_per_s);
  o["bus_msgs_per_s"] = exact(m.bus_msgs_per_s);
  o["net_msgs_per_s"] = exact(m.net_msgs_per_s);
  o["net_bytes_per_s"] = exact(m.net_bytes_per_s);
  o["server_inputs_per_s"] = exact(m.server_inputs_per_s);
  o["awareness_msgs_per_s"] = exact(m.awareness_msgs_per_s);
  o["awareness_bytes_per_s"] = exact(m.awareness_bytes_per_s);
  o["awareness_msgs_per_viewer_s"] = exact(m.awareness_msgs_per_viewer_s);
  o["awareness_bytes_per_viewer_s"] = exact(m.awareness_bytes_per_viewer_s);
  json::array parts;
  for (const reports::PartitionLoad& p : m.partitions) {
    parts.push_back(json::object{{"commits_per_s", exact(p.commits_per_s)},
                                 {"appends_per_s", exact(p.appends_per_s)},
                                 {"commit_ms_p50", exact(p.commit_ms_p50)},
                                 {"commit_ms_p99", exact(p.commit_ms_p99)}});
  }
  o["partitions"] = std::move(parts);
  o["partition_imbalance"] = exact(m.partition_imbalance);
  o["partition_appends_per_s_max"] = exact(m.partition_appends_per_s_max);
  o["partition_commit_ms_p50_max"] = exact(m.partition_commit_ms_p50_max);
  o["partition_commit_ms_p99_max"] = exact(m.partition_commit_ms_p99_max);
  o["mem_doc_bytes_max"] = exact(m.mem_doc_bytes_max);
  o["mem_bytes_per_doc"] = exact(m.mem_bytes_per_doc);
  o["memory_per_doc_bytes"] = exact(m.memory_per_doc_bytes);
  o["memory_per_replica_bytes"] = exact(m.memory_per_replica_bytes);
  o["memory_replica_bytes_max"] = exact(m.memory_replica_bytes_max);
  o["events"] = m.events;
  o["sim_seconds"] = exact(m.sim_seconds);
  return o;
}

json::array doubles_json(const std::vector<double>& xs) {
  json::array a;
  for (const double x : xs) a.push_back(exact(x));
  return a;
}

// The run's chart series (reports/series.hpp), so a merged report draws the same charts.
json::object series_json(const reports::RunSeries& s) {
  json::object o;
  o["visibility_cdf_ms"] = doubles_json(s.visibility_cdf_ms);
  json::object d;
  d["bin_us"] = s.divergence.bin_us;
  d["end_us"] = s.divergence.end_us;
  d["pending_edits"] = doubles_json(s.divergence.pending_edits);
  d["lagging_clients"] = doubles_json(s.divergence.lagging_clients);
  o["divergence"] = std::move(d);
  json::array windows;
  for (const reports::FaultWindow& w : s.fault_windows) {
    windows.push_back(json::object{{"start_us", w.start_us}, {"end_us", w.end_us}, {"kind", w.kind},
                                   {"target", w.target}, {"detail", w.detail}, {"ended_by", w.ended_by}});
  }
  o["fault_windows"] = std::move(windows);
  return o;
}

json::object record_json(const reports::RunRecord& r) {
  json::object o;
  o["scenario"] = r.scenario;
  o["variant"] = r.variant;
  o["strategy"] = r.strategy;
  o["seed"] = r.seed;
  o["digest"] = r.digest;
  o["sim_events"] = r.sim_events;
  o["wall_ms"] = exact(r.wall_ms);
  o["metrics"] = metrics_json(r.metrics);
  o["series"] = series_json(r.series);
  return o;
}

// Reading: every accessor names the path of the value it could not read.
class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  const json::value* at(const json::object& o, const std::string& path, const char* key) {
    const json::value* v = o.if_contains(key);
    if (v == nullptr) fail(path + "." + key, "missing");
    return v;
  }
  std::string str(const json::object& o, const std::string& path, const char* key) {
    const json::value* v = at(o, path, key);
    if (v == nullptr) return {};
    if (!v->is_string()) return fail(path + "." + key, "expected a string"), std::string();
    return std::string(v->get_string());
  }
  std::uint64_t u64(const json::object& o, const std::string& path, const char* key) {
    const json::value* v = at(o, path, key);
    if (v == nullptr) return 0;
    return u64_of(*v, path + "." + key);
  }
  std::uint64_t u64_of(const json::value& v, const std::string& path) {
    if (v.is_uint64()) return v.get_uint64();
    if (v.is_int64() && v.get_int64() >= 0) return static_cast<std::uint64_t>(v.get_int64());
    fail(path, "expected an unsigned integer");
    return 0;
  }
  std::uint32_t u32_of(const json::value& v, const std::string& path) {
    const std::uint64_t x = u64_of(v, path);
    if (x > UINT32_MAX) fail(path, "out of range for a 32-bit unsigned integer");
    return static_cast<std::uint32_t>(x);
  }
  double dbl(const json::object& o, const std::string& path, const char* key) {
    const json::value* v = at(o, path, key);
    return v == nullptr ? 0.0 : dbl_of(*v, path + "." + key);
  }
  double dbl_of(const json::value& v, const std::string& path) {
    if (!v.is_string()) return fail(path, "expected a number written as a string"), 0.0;
    const auto s = v.get_string();
    double d = 0;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), d);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size()) fail(path, "not a number: " + std::string(s));
    return d;
  }
  // Calls fn(element, its path) for each element of the array `key`, stopping at the first
  // element that is not an object (named as the problem) or at the first failure.
  template <class Fn>
  void each_object(const json::object& o, const std::string& path, const char* key, Fn fn) {
    const json::array* a = arr(o, path, key);
    if (a == nullptr) return;
    for (std::size_t i = 0; i < a->size() && ok(); ++i) {
      const std::string item = path + "." + key + "[" + std::to_string(i) + "]";
      if (!(*a)[i].is_object()) return fail(item, "expected an object");
      fn((*a)[i].get_object(), item);
    }
  }
  bool boolean(const json::object& o, const std::string& path, const char* key) {
    const json::value* v = at(o, path, key);
    if (v == nullptr) return false;
    if (!v->is_bool()) return fail(path + "." + key, "expected true or false"), false;
    return v->get_bool();
  }
  const json::object* obj(const json::object& o, const std::string& path, const char* key) {
    const json::value* v = at(o, path, key);
    if (v == nullptr) return nullptr;
    if (!v->is_object()) return fail(path + "." + key, "expected an object"), nullptr;
    return &v->get_object();
  }
  std::int64_t i64(const json::object& o, const std::string& path, const char* key) {
    const json::value* v = at(o, path, key);
    if (v == nullptr) return 0;
    if (v->is_int64()) return v->get_int64();
    if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
      return static_cast<std::int64_t>(v->get_uint64());
    }
    return fail(path + "." + key, "expected an integer"), 0;
  }
  std::vector<double> doubles(const json::object& o, const std::string& path, const char* key) {
    std::vector<double> xs;
    const json::array* a = arr(o, path, key);
    if (a == nullptr) return xs;
    for (std::size_t i = 0; i < a->size() && ok(); ++i) {
      xs.push_back(dbl_of((*a)[i], path + "." + key + "[" + std::to_string(i) + "]"));
    }
    return xs;
  }
  const json::array* arr(const json::object& o, const std::string& path, const char* key) {
    const json::value* v = at(o, path, key);
    if (v == nullptr) return nullptr;
    if (!v->is_array()) return fail(path + "." + key, "expected an array"), nullptr;
    return &v->get_array();
  }
  void fail(const std::string& path, const std::string& problem) {
    if (error_.empty()) error_ = file_ + ": " + path + ": " + problem;
  }

 private:
  std::string file_;
  std::string error_;
};

reports::Percentiles read_pct(Reader& rd, const json::object& o, const std::string& path, const char* key) {
  reports::Percentiles p;
  const json::object* x = rd.obj(o, path, key);
  if (x == nullptr) return p;
  const std::string here = path + "." + key;
  p.p50 = rd.dbl(*x, here, "p50");
  p.p99 = rd.dbl(*x, here, "p99");
  p.max = rd.dbl(*x, here, "max");
  p.count = rd.u64(*x, here, "count");
  return p;
}

reports::RunMetrics read_metrics(Reader& rd, const json::object& o, const std::string& path) {
  reports::RunMetrics m;
  m.converged = rd.boolean(o, path, "converged");
  m.convergence_ms = rd.dbl(o, path, "convergence_ms");
  if (const json::array* div = rd.arr(o, path, "divergent")) {
    for (const json::value& d : *div) {
      if (!d.is_string()) return rd.fail(path + ".divergent", "expected strings"), m;
      m.divergent.emplace_back(d.get_string());
    }
  }
  m.edits = rd.u64(o, path, "edits");
  m.acked_edits = rd.u64(o, path, "acked_edits");
  m.lost_acked_chars = rd.u64(o, path, "lost_acked_chars");
  m.lost_acked_edits = rd.u64(o, path, "lost_acked_edits");
  if (const json::object* causes = rd.obj(o, path, "lost_by_cause")) {
    for (const auto& kv : *causes) m.lost_by_cause[std::string(kv.key())] = rd.u64_of(kv.value(), path + ".lost_by_cause");
  }
  if (const json::array* lost = rd.arr(o, path, "lost")) {
    for (const json::value& l : *lost) {
      const std::string here = path + ".lost";
      if (!l.is_array() || l.get_array().size() != 8 || !l.get_array()[4].is_string()) {
        return rd.fail(here, "expected [agent, seq, doc, op, cause, by_client, by_op, client]"), m;
      }
      const json::array& a = l.get_array();
      reports::LostChar c;
      c.id.agent = rd.u32_of(a[0], here);
      c.id.seq = rd.u32_of(a[1], here);
      c.doc = rd.u32_of(a[2], here);
      c.author_op = rd.u32_of(a[3], here);
      c.cause = std::string(a[4].get_string());
      c.by_client = rd.u32_of(a[5], here);
      c.by_op = rd.u32_of(a[6], here);
      c.author_client = rd.u32_of(a[7], here);
      m.lost.push_back(std::move(c));
    }
  }
  m.causality_reversals = rd.u64(o, path, "causality_reversals");
  m.visibility_ms = read_pct(rd, o, path, "visibility_ms");
  m.visibility_cross_ms = read_pct(rd, o, path, "visibility_cross_ms");
  m.visibility_others_ms = read_pct(rd, o, path, "visibility_others_ms");
  m.stale_loads = rd.u64(o, path, "stale_loads");
  m.served_after_revocation = rd.u64(o, path, "served_after_revocation");
  m.read_your_writes_violations = rd.u64(o, path, "read_your_writes_violations");
  m.silent_rename_losses = rd.u64(o, path, "silent_rename_losses");
  m.db_queries = rd.u64(o, path, "db_queries");
  if (const json::object* kinds = rd.obj(o, path, "db_queries_by_kind")) {
    for (const auto& kv : *kinds) m.db_queries_by_kind[std::string(kv.key())] = rd.u64_of(kv.value(), path + ".db_queries_by_kind");
  }
  m.db_queries_per_s = rd.dbl(o, path, "db_queries_per_s");
  m.msgs_per_edit = rd.dbl(o, path, "msgs_per_edit");
  m.bytes_per_edit = rd.dbl(o, path, "bytes_per_edit");
  m.db_polls_per_s = rd.dbl(o, path, "db_polls_per_s");
  m.bus_msgs_per_s = rd.dbl(o, path, "bus_msgs_per_s");
  m.net_msgs_per_s = rd.dbl(o, path, "net_msgs_per_s");
  m.net_bytes_per_s = rd.dbl(o, path, "net_bytes_per_s");
  m.server_inputs_per_s = rd.dbl(o, path, "server_inputs_per_s");
  m.awareness_msgs_per_s = rd.dbl(o, path, "awareness_msgs_per_s");
  m.awareness_bytes_per_s = rd.dbl(o, path, "awareness_bytes_per_s");
  m.awareness_msgs_per_viewer_s = rd.dbl(o, path, "awareness_msgs_per_viewer_s");
  m.awareness_bytes_per_viewer_s = rd.dbl(o, path, "awareness_bytes_per_viewer_s");
  rd.each_object(o, path, "partitions", [&](const json::object& po, const std::string& item) {
    reports::PartitionLoad p;
    p.commits_per_s = rd.dbl(po, item, "commits_per_s");
    p.appends_per_s = rd.dbl(po, item, "appends_per_s");
    p.commit_ms_p50 = rd.dbl(po, item, "commit_ms_p50");
    p.commit_ms_p99 = rd.dbl(po, item, "commit_ms_p99");
    m.partitions.push_back(p);
  });
  m.partition_imbalance = rd.dbl(o, path, "partition_imbalance");
  m.partition_appends_per_s_max = rd.dbl(o, path, "partition_appends_per_s_max");
  m.partition_commit_ms_p50_max = rd.dbl(o, path, "partition_commit_ms_p50_max");
  m.partition_commit_ms_p99_max = rd.dbl(o, path, "partition_commit_ms_p99_max");
  m.mem_doc_bytes_max = rd.dbl(o, path, "mem_doc_bytes_max");
  m.mem_bytes_per_doc = rd.dbl(o, path, "mem_bytes_per_doc");
  m.memory_per_doc_bytes = rd.dbl(o, path, "memory_per_doc_bytes");
  m.memory_per_replica_bytes = rd.dbl(o, path, "memory_per_replica_bytes");
  m.memory_replica_bytes_max = rd.dbl(o, path, "memory_replica_bytes_max");
  m.events = rd.u64(o, path, "events");
  m.sim_seconds = rd.dbl(o, path, "sim_seconds");
  return m;
}

}  // namespace

Partial make_partial(std::string kind, std::string spec, const campaigns::CampaignOptions& options, std::uint64_t total,
                     std::vector<reports::RunRecord> runs) {
  Partial p;
  p.kind = std::move(kind);
  p.spec = std::move(spec);
  p.shard = options.shard;
  p.shards = options.shards;
  p.total = total;
  p.runs = std::move(runs);
  return p;
}

std::string partial_to_json(const Partial& p) {
  json::object root;
  root["format"] = "convlab-partial-2";
  root["kind"] = p.kind;
  root["spec"] = json::parse(p.spec);
  root["shard"] = p.shard;
  root["shards"] = p.shards;
  root["total"] = p.total;
  json::array runs;
  for (const reports::RunRecord& r : p.runs) runs.push_back(record_json(r));
  root["runs"] = std::move(runs);
  return json::serialize(root) + "\n";
}

namespace {
reports::RunSeries read_series(Reader& rd, const json::object& o, const std::string& path) {
  reports::RunSeries s;
  s.visibility_cdf_ms = rd.doubles(o, path, "visibility_cdf_ms");
  if (const json::object* d = rd.obj(o, path, "divergence")) {
    const std::string dp = path + ".divergence";
    s.divergence.bin_us = rd.i64(*d, dp, "bin_us");
    s.divergence.end_us = rd.i64(*d, dp, "end_us");
    s.divergence.pending_edits = rd.doubles(*d, dp, "pending_edits");
    s.divergence.lagging_clients = rd.doubles(*d, dp, "lagging_clients");
  }
  rd.each_object(o, path, "fault_windows", [&](const json::object& w, const std::string& wp) {
    reports::FaultWindow f;
    f.start_us = rd.i64(w, wp, "start_us");
    f.end_us = rd.i64(w, wp, "end_us");
    f.kind = rd.str(w, wp, "kind");
    f.target = rd.str(w, wp, "target");
    f.detail = rd.str(w, wp, "detail");
    f.ended_by = rd.str(w, wp, "ended_by");
    s.fault_windows.push_back(std::move(f));
  });
  return s;
}
}  // namespace

Result<Partial> partial_from_json(const std::string& text, const std::string& file) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return make_error(file + ": not JSON: " + ec.message());
  if (!v.is_object()) return make_error(file + ": expected a JSON object (a convlab partial result)");
  const json::object& root = v.get_object();
  Reader rd(file);
  Partial p;
  if (rd.str(root, "$", "format") != "convlab-partial-2" && rd.ok()) {
    return make_error(file + ": $.format: expected \"convlab-partial-2\" (written by convlab run|sweep --shard)");
  }
  p.kind = rd.str(root, "$", "kind");
  if (rd.ok() && p.kind != "run" && p.kind != "sweep") rd.fail("$.kind", "expected \"run\" or \"sweep\"");
  if (const json::object* spec = rd.obj(root, "$", "spec")) p.spec = json::serialize(*spec);
  const std::uint64_t shard = rd.u64(root, "$", "shard");
  const std::uint64_t shards = rd.u64(root, "$", "shards");
  if (rd.ok() && (shards == 0 || shards > 100000 || shard >= shards)) rd.fail("$.shard", "expected 0 <= shard < shards <= 100000");
  p.shard = static_cast<std::uint32_t>(shard);
  p.shards = static_cast<std::uint32_t>(shards);
  p.total = rd.u64(root, "$", "total");
  rd.each_object(root, "$", "runs", [&](const json::object& o, const std::string& path) {
    reports::RunRecord r;
    r.scenario = rd.str(o, path, "scenario");
    r.variant = rd.str(o, path, "variant");
    r.strategy = rd.str(o, path, "strategy");
    r.seed = rd.u64(o, path, "seed");
    r.digest = rd.str(o, path, "digest");
    r.sim_events = rd.u64(o, path, "sim_events");
    r.wall_ms = rd.dbl(o, path, "wall_ms");
    if (const json::object* m = rd.obj(o, path, "metrics")) r.metrics = read_metrics(rd, *m, path + ".metrics");
    if (const json::object* se = rd.obj(o, path, "series")) r.series = read_series(rd, *se, path + ".series");
    p.runs.push_back(std::move(r));
  });
  if (!rd.ok()) return make_error(rd.error());
  return p;
}

namespace {
json::object spec_common(const SpecOptions& o) {
  json::object spec;
  json::array strategies;
  for (const std::string& s : o.strategies) strategies.emplace_back(s);
  spec["strategies"] = std::move(strategies);
  json::array seeds;
  for (const std::uint64_t s : o.seeds) seeds.emplace_back(s);
  spec["seeds"] = std::move(seeds);
  spec["variant"] = o.variant;
  return spec;
}
}  // namespace

SpecOptions spec_options(const campaigns::CampaignOptions& o) {
  SpecOptions s;
  for (const Strategy* st : o.strategies) s.strategies.emplace_back(st->name);
  s.seeds = o.seeds;
  s.variant = o.variant;
  return s;
}

std::string run_spec(const std::vector<std::pair<std::string, std::string>>& files, const SpecOptions& o) {
  json::object spec = spec_common(o);
  json::array scenarios;
  for (const auto& [file, yaml] : files) scenarios.push_back(json::object{{"file", file}, {"yaml", yaml}});
  spec["scenarios"] = std::move(scenarios);
  return json::serialize(spec);
}

std::string sweep_spec(const std::string& file, const std::string& yaml, const std::vector<std::string>& vary,
                       const SpecOptions& o) {
  json::object spec = spec_common(o);
  spec["file"] = file;
  spec["yaml"] = yaml;
  json::array v;
  for (const std::string& a : vary) v.emplace_back(a);
  spec["vary"] = std::move(v);
  return json::serialize(spec);
}

Result<std::pair<std::uint32_t, std::uint32_t>> parse_shard(const std::string& text) {
  const std::string problem = "--shard " + text +
                              ": expected K/N with 0 <= K < N <= 100000 (K counts from 0, like Kubernetes' "
                              "JOB_COMPLETION_INDEX)";
  const auto slash = text.find('/');
  if (slash == std::string::npos) return make_error(problem);
  std::uint32_t k = 0;
  std::uint32_t n = 0;
  const char* b = text.data();
  const char* e = text.data() + text.size();
  const auto r1 = std::from_chars(b, b + slash, k);
  const auto r2 = std::from_chars(b + slash + 1, e, n);
  if (slash == 0 || r1.ec != std::errc() || r1.ptr != b + slash || r2.ec != std::errc() || r2.ptr != e ||
      slash + 1 == text.size() || n == 0 || n > 100000 || k >= n) {
    return make_error(problem);
  }
  return std::make_pair(k, n);
}

Result<std::vector<Partial>> read_partials(const std::vector<std::string>& dirs) {
  std::vector<Partial> out;
  std::vector<std::string> from;
  for (const std::string& dir : dirs) {
    const std::string file = (fs::path(dir) / kPartialFile).string();
    std::ifstream f(file, std::ios::binary);
    if (!f) return make_error(file + ": cannot open (is " + dir + " the --out of a run or sweep with --shard?)");
    std::stringstream ss;
    ss << f.rdbuf();
    auto p = partial_from_json(ss.str(), file);
    if (!p) return p.error();
    if (!out.empty()) {
      const Partial& first = out.front();
      if (p->kind != first.kind) {
        return make_error(file + ": a " + p->kind + " shard, but " + from.front() + " is a " + first.kind + " shard");
      }
      if (p->spec != first.spec || p->total != first.total || p->shards != first.shards) {
        return make_error(file + ": not a shard of the same grid as " + from.front() +
                          " (what ran, its size or the shard count differ)");
      }
    }
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (out[i].shard == p->shard) {
        return make_error(file + ": shard " + std::to_string(p->shard) + "/" + std::to_string(p->shards) +
                          " is also in " + from[i]);
      }
    }
    out.push_back(std::move(*p));
    from.push_back(file);
  }
  if (out.empty()) return make_error("no shard directories given");
  if (out.size() != out.front().shards) {
    std::string missing;
    for (std::uint32_t k = 0; k < out.front().shards; ++k) {
      if (std::none_of(out.begin(), out.end(), [&](const Partial& p) { return p.shard == k; })) {
        missing += (missing.empty() ? "" : ", ") + std::to_string(k);
      }
    }
    return make_error("missing shard(s) " + missing + " of " + std::to_string(out.front().shards));
  }
  std::sort(out.begin(), out.end(), [](const Partial& a, const Partial& b) { return a.shard < b.shard; });
  return out;
}

}  // namespace convlab::cli
