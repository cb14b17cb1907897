// The checkers' rates and memory peak from `counters`, and the OpenMetrics text of one
// hand-written history: series, timestamps on the fixed epoch, the cumulative visibility
// histogram and the end-of-run verdicts.
#include "reports/checkers.hpp"
#include "reports/openmetrics.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace convlab::reports {
namespace {

using history::Event;
using history::EventType;

constexpr std::int64_t kS = 1000000;  // microseconds

Event counters(std::int64_t t_us, std::map<std::string, std::uint64_t> c) {
  Event e;
  e.type = EventType::kCounters;
  e.t_us = t_us;
  e.counters = std::move(c);
  return e;
}

// Two clients on one document: client 0 types at 0.1 s, client 1 shows it at 0.3 s (0.2 s) and
// client 0's second edit at 1.5 s shows at 3.5 s (2 s). Counters at 1 s and 2 s; heal at 2 s.
std::vector<Event> history() {
  std::vector<Event> h;
  Event meta;
  meta.type = EventType::kMeta;
  meta.meta = {{"heal_us", std::to_string(2 * kS)}, {"end_us", std::to_string(4 * kS)}};
  h.push_back(meta);
  auto edit = [](std::int64_t t, std::uint32_t op) {
    Event e;
    e.type = EventType::kEdit;
    e.t_us = t;
    e.client = 0;
    e.op = op;
    e.ins = U"a";
    e.inserted = {{0, op, 1}};
    return e;
  };
  auto seen = [](std::int64_t t, std::uint32_t op) {
    Event e;
    e.type = EventType::kSeen;
    e.t_us = t;
    e.client = 1;
    e.author = 0;
    e.op = op;
    return e;
  };
  h.push_back(edit(kS / 10, 1));
  h.push_back(seen(3 * kS / 10, 1));
  h.push_back(counters(kS, {{"db.poll", 4}, {"db.commit", 1}, {"bus.msgs", 2}, {"srv.inputs", 10},
                            {"net.bytes", 100}, {"net.msgs", 3}, {"mem.doc_bytes", 300}, {"mem.docs_loaded", 2}}));
  h.push_back(edit(3 * kS / 2, 2));
  h.push_back(counters(2 * kS, {{"db.poll", 8}, {"db.commit", 2}, {"bus.msgs", 6}, {"srv.inputs", 30},
                                {"net.bytes", 400}, {"net.msgs", 7}, {"mem.doc_bytes", 250}, {"mem.docs_loaded", 1}}));
  h.push_back(seen(7 * kS / 2, 2));
  return h;
}

TEST(CounterMetrics, RatesOverTheFaultPhaseAndTheMemoryPeak) {
  const RunMetrics m = check(history());
  EXPECT_DOUBLE_EQ(m.db_polls_per_s, 4.0);  // 8 polls over a 2 s fault phase
  EXPECT_DOUBLE_EQ(m.db_queries_per_s, 5.0);
  EXPECT_DOUBLE_EQ(m.bus_msgs_per_s, 3.0);
  EXPECT_DOUBLE_EQ(m.server_inputs_per_s, 15.0);
  EXPECT_DOUBLE_EQ(m.net_bytes_per_s, 200.0);
  EXPECT_DOUBLE_EQ(m.net_msgs_per_s, 3.5);
  EXPECT_DOUBLE_EQ(m.mem_doc_bytes_max, 300.0);  // the peak, not the last sample
  EXPECT_DOUBLE_EQ(m.mem_bytes_per_doc, 150.0);  // that sample's bytes per loaded document
  EXPECT_EQ(m.flatten().count("server_inputs_per_s"), 1u);
}

TEST(OpenMetrics, SeriesStampsHistogramAndVerdicts) {
  const std::vector<Event> h = history();
  const std::string text =
      openmetrics_text({openmetrics_run(h, check(h), {{"scenario", "s"}, {"variant", "v"}, {"strategy", "lww"},
                                                       {"seed", "1"}})});
  const std::string ls = R"(scenario="s",variant="v",strategy="lww",seed="1")";
  // Families once each, sorted, counters with _total and a kind label for db.<kind>.
  EXPECT_NE(text.find("# TYPE convlab_sim_db_queries counter\n"), std::string::npos) << text;
  EXPECT_NE(text.find("convlab_sim_db_queries_total{" + ls + ",kind=\"poll\"} 4 1767225601.000\n"), std::string::npos);
  EXPECT_NE(text.find("convlab_sim_db_queries_total{" + ls + ",kind=\"poll\"} 8 1767225602.000\n"), std::string::npos);
  EXPECT_LT(text.find("kind=\"commit\"} 2 1767225602.000"), text.find("kind=\"poll\"} 4 "))
      << "a series' samples stay together, series in name order";
  EXPECT_NE(text.find("# TYPE convlab_sim_mem_doc_bytes gauge\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nconvlab_sim_mem_doc_bytes{" + ls + "} 300 1767225601.000\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("convlab_sim_mem_doc_bytes_total"), std::string::npos) << "a gauge has no _total";
  // Visibility: 0.2 s seen by 1 s; the 2 s pair at 3.5 s, after the last counters sample, is in
  // the sample at the run's end (meta end_us, 4 s).
  EXPECT_NE(text.find("convlab_sim_visibility_seconds_bucket{" + ls + ",le=\"0.1\"} 0 1767225601.000\n"), std::string::npos);
  EXPECT_NE(text.find("convlab_sim_visibility_seconds_bucket{" + ls + ",le=\"0.25\"} 1 1767225601.000\n"), std::string::npos);
  EXPECT_NE(text.find("convlab_sim_visibility_seconds_bucket{" + ls + ",le=\"+Inf\"} 1 1767225602.000\n"), std::string::npos);
  EXPECT_NE(text.find("convlab_sim_visibility_seconds_sum{" + ls + "} 0.2 1767225602.000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("convlab_sim_visibility_seconds_bucket{" + ls + ",le=\"2\"} 2 1767225604.000\n"), std::string::npos);
  EXPECT_NE(text.find("convlab_sim_visibility_seconds_bucket{" + ls + ",le=\"1\"} 1 1767225604.000\n"), std::string::npos);
  EXPECT_NE(text.find("convlab_sim_visibility_seconds_count{" + ls + "} 2 1767225604.000\n"), std::string::npos);
  // The checkers' verdicts at the end of the run.
  EXPECT_NE(text.find("convlab_sim_visibility_p99_seconds{" + ls + "} 2 1767225604.000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("convlab_sim_lost_acked_edits{" + ls + "} 0 1767225604.000\n"), std::string::npos);
  EXPECT_EQ(text.substr(text.size() - 6), "# EOF\n");
  EXPECT_EQ(text, openmetrics_text({openmetrics_run(h, check(h), {{"scenario", "s"}, {"variant", "v"},
                                                                   {"strategy", "lww"}, {"seed", "1"}})}));
}

TEST(OpenMetrics, LabelValuesAreEscaped) {
  const std::vector<Event> h = history();
  const std::string text = openmetrics_text({openmetrics_run(h, check(h), {{"scenario", "a\"b\\c\nd"}})});
  EXPECT_NE(text.find(R"(scenario="a\"b\\c\nd")"), std::string::npos) << text;
  EXPECT_EQ(label_name("servers.poll_interval_ms"), "servers_poll_interval_ms");
}

}  // namespace
}  // namespace convlab::reports
