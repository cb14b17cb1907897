#include "reports/openmetrics.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <cstdlib>

namespace convlab::reports {

namespace {

using history::Event;
using history::EventType;

// Upper bounds of the visibility histogram, seconds.
constexpr std::array<double, 12> kVisibilityBucketsS{0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 2.5, 5, 10, 30, 60};

std::string escape(const std::string& v) {
  std::string out;
  for (const char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string labels_text(const Labels& labels, const Labels& extra = {}) {
  std::string out = "{";
  bool first = true;
  for (const Labels* ls : {&labels, &extra}) {
    for (const auto& [k, v] : *ls) {
      out += (first ? "" : ",") + k + "=\"" + escape(v) + "\"";
      first = false;
    }
  }
  return out + "}";
}

// Seconds since the epoch with millisecond precision (Prometheus keeps milliseconds).
std::string stamp(std::int64_t t_us) {
  const std::int64_t ms = kOpenMetricsEpochS * 1000 + t_us / 1000;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%lld.%03lld", static_cast<long long>(ms / 1000), static_cast<long long>(ms % 1000));
  return buf;
}

// The shortest text that reads back as `v`.
std::string number(double v) {
  char buf[48];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

struct CounterName {
  std::string family;  // without _total
  std::string kind;    // the `kind` label, or empty
  bool gauge = false;
  std::string help;
};

std::string sanitize(const std::string& s) {
  std::string out;
  for (const char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    out += ok ? c : '_';
  }
  return out;
}

CounterName counter_name(const std::string& name) {
  if (name.rfind("db.", 0) == 0) {
    return {"convlab_sim_db_queries", name.substr(3), false, "Database queries sent by the servers, by kind."};
  }
  if (name == "net.msgs") return {"convlab_sim_net_messages", "", false, "Messages sent to clients and by clients."};
  if (name == "net.bytes") return {"convlab_sim_net_bytes", "", false, "Bytes of client messages on the wire."};
  if (name == "bus.msgs") return {"convlab_sim_bus_messages", "", false, "Records the bus delivered to servers."};
  if (name == "srv.inputs") {
    return {"convlab_sim_server_inputs", "", false,
            "Inputs the servers handled: client frames, bus records, store replies, node messages."};
  }
  if (name == "awareness.msgs") return {"convlab_sim_awareness_messages", "", false, "Presence frames the servers sent."};
  if (name == "awareness.bytes") return {"convlab_sim_awareness_bytes", "", false, "Bytes of the presence frames the servers sent."};
  if (name == "awareness.viewers") return {"convlab_sim_awareness_viewers", "", true, "Clients that move carets."};
  if (name == "mem.doc_bytes") {
    return {"convlab_sim_mem_doc_bytes", "", true, "Snapshot bytes of every document every server holds."};
  }
  if (name == "mem.docs_loaded") return {"convlab_sim_mem_docs_loaded", "", true, "Documents loaded, summed over servers."};
  // partition.P.commits and .appends count; partition.P.commit_us_p50 and _p99 are samples.
  const bool gauge = name.rfind("mem.", 0) == 0 || (name.rfind("partition.", 0) == 0 && name.find(".commit_us_") != std::string::npos);
  return {"convlab_sim_" + sanitize(name), "", gauge, "History counter " + name + "."};
}

}  // namespace

std::string label_name(const std::string& key) { return sanitize(key); }

OpenMetricsRun openmetrics_run(const std::vector<Event>& events, const RunMetrics& metrics, const Labels& labels) {
  OpenMetricsRun run;
  auto family = [&](const std::string& name, const char* type, const std::string& help) -> std::string& {
    OpenMetricsRun::Family& f = run.families[name];
    f.type = type;
    f.help = help;
    return f.samples;
  };

  // Counters: every name of every `counters` event, each series in time order.
  std::map<std::string, std::string> series;  // sample lines per history counter name
  std::int64_t end_us = 0;
  // Visibility pairs, observed at the `seen` time.
  std::map<std::pair<std::uint32_t, std::uint32_t>, const Event*> edits;  // (client, op) -> edit
  std::vector<std::pair<std::int64_t, double>> seen_pairs;                // (t_us, seconds)
  for (const Event& e : events) {
    end_us = std::max(end_us, e.t_us);
    if (e.type == EventType::kMeta) {
      // When the run ended, as the checkers read it (docs/history.md), else the last event.
      auto it = e.meta.find("end_us");
      if (it != e.meta.end()) end_us = std::max<std::int64_t>(end_us, std::strtoll(it->second.c_str(), nullptr, 10));
    }
    if (e.type == EventType::kEdit && !e.ins.empty()) edits[{e.client, e.op}] = &e;
    if (e.type == EventType::kSeen && e.client != e.author) {
      auto it = edits.find({e.author, e.op});
      if (it != edits.end() && it->second->doc == e.doc) {
        seen_pairs.emplace_back(e.t_us, static_cast<double>(e.t_us - it->second->t_us) / 1e6);
      }
    }
  }
  std::vector<const Event*> samples;
  for (const Event& e : events) {
    if (e.type == EventType::kCounters) samples.push_back(&e);
  }
  for (const Event* e : samples) {
    for (const auto& [name, value] : e->counters) {
      const CounterName cn = counter_name(name);
      const Labels extra = cn.kind.empty() ? Labels{} : Labels{{"kind", cn.kind}};
      series[name] += cn.family + (cn.gauge ? "" : "_total") + labels_text(labels, extra) + " " +
                      std::to_string(value) + " " + stamp(e->t_us) + "\n";
    }
  }
  for (const auto& [name, lines] : series) {
    const CounterName cn = counter_name(name);
    family(cn.family, cn.gauge ? "gauge" : "counter", cn.help) += lines;
  }

  // The visibility histogram, cumulative at every counters sample and at the end of the run (the
  // quiescence after the heal has no counters, but its pairs count).
  std::vector<std::int64_t> hist_us;
  for (const Event* e : samples) hist_us.push_back(e->t_us);
  if (hist_us.empty() || hist_us.back() < end_us) hist_us.push_back(end_us);
  {
    std::string& h = family("convlab_sim_visibility_seconds", "histogram",
                            "Time from an edit to another client showing it.");
    std::size_t next = 0;
    std::array<std::uint64_t, kVisibilityBucketsS.size()> counts{};
    std::uint64_t total = 0;
    double sum = 0;
    std::sort(seen_pairs.begin(), seen_pairs.end());
    for (const std::int64_t at_us : hist_us) {
      for (; next < seen_pairs.size() && seen_pairs[next].first <= at_us; ++next) {
        const double v = seen_pairs[next].second;
        for (std::size_t b = 0; b < kVisibilityBucketsS.size(); ++b) counts[b] += v <= kVisibilityBucketsS[b] ? 1 : 0;
        ++total;
        sum += v;
      }
      const std::string ts = stamp(at_us);
      for (std::size_t b = 0; b < kVisibilityBucketsS.size(); ++b) {
        h += "convlab_sim_visibility_seconds_bucket" + labels_text(labels, {{"le", number(kVisibilityBucketsS[b])}}) +
             " " + std::to_string(counts[b]) + " " + ts + "\n";
      }
      h += "convlab_sim_visibility_seconds_bucket" + labels_text(labels, {{"le", "+Inf"}}) + " " +
           std::to_string(total) + " " + ts + "\n";
      h += "convlab_sim_visibility_seconds_count" + labels_text(labels) + " " + std::to_string(total) + " " + ts + "\n";
      h += "convlab_sim_visibility_seconds_sum" + labels_text(labels) + " " + number(sum) + " " + ts + "\n";
    }
  }

  // The checkers' verdicts, once, at the end of the run.
  const std::string ts = stamp(end_us);
  const std::string ls = labels_text(labels);
  auto gauge = [&](const char* name, const char* help, double v) {
    family(name, "gauge", help) += std::string(name) + ls + " " + number(v) + " " + ts + "\n";
  };
  gauge("convlab_sim_lost_acked_edits", "Acknowledged edits whose effect is gone (checkers).",
        static_cast<double>(metrics.lost_acked_edits));
  gauge("convlab_sim_lost_acked_chars", "Acknowledged characters missing from the final text (checkers).",
        static_cast<double>(metrics.lost_acked_chars));
  gauge("convlab_sim_converged", "1 when every replica converged to the durable text (checkers).",
        metrics.converged ? 1.0 : 0.0);
  gauge("convlab_sim_divergent_replicas", "Replicas whose final text differs (checkers; at most 20 listed).",
        static_cast<double>(metrics.divergent.size()));
  gauge("convlab_sim_visibility_p99_seconds", "p99 of edit-to-seen time over the run (checkers).",
        metrics.visibility_ms.p99 / 1000.0);
  return run;
}

std::string openmetrics_text(const std::vector<OpenMetricsRun>& runs) {
  std::map<std::string, OpenMetricsRun::Family> all;
  for (const OpenMetricsRun& r : runs) {
    for (const auto& [name, f] : r.families) {
      OpenMetricsRun::Family& a = all[name];
      a.type = f.type;
      a.help = f.help;
      a.samples += f.samples;
    }
  }
  std::string out;
  for (const auto& [name, f] : all) {
    out += "# TYPE " + name + " " + f.type + "\n# HELP " + name + " " + f.help + "\n" + f.samples;
  }
  return out + "# EOF\n";
}

}  // namespace convlab::reports
