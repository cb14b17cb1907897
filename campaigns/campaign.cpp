#include "campaigns/campaign.hpp"

#include "server/strategies/registry.hpp"
#include "sim/world.hpp"

#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unistd.h>

namespace convlab::campaigns {

namespace {

using Job = RunKey;

std::vector<const Strategy*> strategies_for(const sim::Scenario& sc, const CampaignOptions& o) {
  if (!o.strategies.empty()) return o.strategies;
  std::vector<const Strategy*> out;
  if (sc.strategies.empty()) {
    for (const Strategy* s : strategies()) out.push_back(s);
  } else {
    for (const std::string& name : sc.strategies) {
      if (const Strategy* s = find_strategy(name)) out.push_back(s);
    }
  }
  return out;
}

}  // namespace

Result<std::vector<std::uint64_t>> parse_seeds(const std::string& text) {
  auto number = [](const std::string& s) -> std::optional<std::uint64_t> {
    if (s.empty() || s.size() > 18) return std::nullopt;
    std::uint64_t v = 0;
    for (char ch : s) {
      if (ch < '0' || ch > '9') return std::nullopt;
      v = v * 10 + static_cast<std::uint64_t>(ch - '0');
    }
    return v;
  };
  std::vector<std::uint64_t> out;
  const auto dots = text.find("..");
  if (dots == std::string::npos) {
    auto n = number(text);
    if (!n || *n == 0 || *n > 100000) return make_error("--seeds " + text + ": expected a count 1..100000 or a range A..B");
    for (std::uint64_t s = 1; s <= *n; ++s) out.push_back(s);
    return out;
  }
  auto a = number(text.substr(0, dots));
  auto b = number(text.substr(dots + 2));
  if (!a || !b || *a > *b || *b - *a >= 100000) return make_error("--seeds " + text + ": expected A..B with A <= B and at most 100000 seeds");
  for (std::uint64_t s = *a; s <= *b; ++s) out.push_back(s);
  return out;
}

std::vector<RunKey> campaign_runs(const std::vector<sim::Scenario>& scenarios, const CampaignOptions& o) {
  std::vector<RunKey> runs;
  for (const sim::Scenario& sc : scenarios) {
    std::vector<std::uint64_t> seeds = o.seeds;
    if (seeds.empty()) {
      for (std::uint64_t s = 1; s <= sc.seeds; ++s) seeds.push_back(s);
    }
    for (const sim::Variant& v : sc.variants) {
      if (!o.variant.empty() && v.name != o.variant) continue;
      for (const Strategy* st : strategies_for(sc, o)) {
        for (std::uint64_t seed : seeds) runs.push_back(RunKey{&sc, &v, st, seed});
      }
    }
  }
  return runs;
}

reports::Report run_campaign(const std::vector<sim::Scenario>& scenarios, const CampaignOptions& o) {
  std::vector<Job> jobs = campaign_runs(scenarios, o);
  if (o.shards > 1) {
    std::vector<Job> mine;
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      if (in_shard(i, o.shard, o.shards)) mine.push_back(jobs[i]);
    }
    jobs = std::move(mine);
  }

  std::vector<reports::RunRecord> records(jobs.size());
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> done{0};
  std::mutex progress_mu;
  const bool tty = o.progress && isatty(STDERR_FILENO);
  const auto started = std::chrono::steady_clock::now();
  auto worker = [&] {
    for (;;) {
      const std::size_t i = next.fetch_add(1);
      if (i >= jobs.size()) return;
      const Job& j = jobs[i];
      sim::RunOptions ro;
      ro.strategy = j.strategy;
      ro.seed = j.seed;
      ro.scenario = j.scenario->name;
      ro.variant = j.variant->name;
      reports::Checker checker;
      reports::SeriesCollector series;
      ro.on_event = [&checker, &series](const history::Event& e) {
        checker.add(e);
        series.add(e);
      };
      ro.keep_events = static_cast<bool>(o.on_run);  // an exporter (OpenMetrics) reads the events
      const auto t0 = std::chrono::steady_clock::now();
      sim::RunOutput out = sim::run_world(j.variant->config, ro);
      reports::RunRecord& r = records[i];
      r.metrics = checker.finish();
      r.series = series.finish();
      r.wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      r.scenario = j.scenario->name;
      r.variant = j.variant->name;
      r.strategy = std::string(j.strategy->name);
      r.seed = j.seed;
      r.digest = out.digest;
      r.sim_events = out.sim_events;
      if (out.refused > 0) {
        std::lock_guard lock(progress_mu);
        std::fprintf(stderr, "convlab: %s/%s/%s seed %llu: %llu server messages refused by a client (first: %s)\n",
                     r.scenario.c_str(), r.variant.c_str(), r.strategy.c_str(), static_cast<unsigned long long>(r.seed),
                     static_cast<unsigned long long>(out.refused), out.refusal.c_str());
      }
      if (o.on_run) o.on_run(i, r, out.events);
      const std::size_t n = ++done;
      if (o.progress) {
        std::lock_guard lock(progress_mu);
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        const double left = elapsed / static_cast<double>(n) * static_cast<double>(jobs.size() - n);
        // On a terminal a bar redrawn in place; otherwise one plain line per run (logs, CI).
        std::string bar;
        if (tty) {
          constexpr std::size_t kWidth = 24;
          const std::size_t filled = n * kWidth / jobs.size();
          bar = "|" + std::string(filled, '#') + std::string(kWidth - filled, '.') + "| ";
        }
        std::fprintf(stderr, "%s%s[%zu/%zu] %.0f s elapsed, ~%.0f s left  %s/%s/%s seed %llu%s", tty ? "\r\033[K" : "",
                     bar.c_str(), n, jobs.size(), elapsed, left, r.scenario.c_str(), r.variant.c_str(), r.strategy.c_str(),
                     static_cast<unsigned long long>(r.seed), tty ? "" : "\n");
        std::fflush(stderr);
      }
    }
  };
  const unsigned threads = std::max(1u, std::min<unsigned>(o.jobs, static_cast<unsigned>(jobs.size())));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  if (tty) std::fprintf(stderr, "\r\033[K");
  return make_report(scenarios, o, std::move(records));
}

reports::Verdict judge(const sim::Expectation& e, const std::vector<reports::SeedValue>& values) {
  reports::Verdict v;
  v.metric = e.metric;
  v.text = e.text;
  v.where = e.where;
  v.quantifier = sim::quantifier_text(e.quantifier);
  v.seeds = values.size();
  if (values.empty()) return v;  // not held: nothing to judge
  std::vector<double> xs;
  xs.reserve(values.size());
  for (const reports::SeedValue& sv : values) {
    xs.push_back(sv.value);
    if (sim::compare(sv.value, e.op, e.value)) {
      ++v.seeds_held;
    } else if ((e.quantifier == sim::Quantifier::kAll || e.quantifier == sim::Quantifier::kAny) &&
               v.failed_seeds.size() < reports::kFailedSeedsKept) {
      v.failed_seeds.push_back(sv);
    }
  }
  const reports::Stat s = reports::stat_of(xs);  // the same arithmetic as the aggregates' mean
  v.actual = s.mean;
  switch (e.quantifier) {
    case sim::Quantifier::kMean:
      v.held = sim::compare(s.mean, e.op, e.value);
      break;
    case sim::Quantifier::kMin:
    case sim::Quantifier::kMax: {
      v.actual = e.quantifier == sim::Quantifier::kMin ? s.min : s.max;
      for (const reports::SeedValue& sv : values) {
        if (sv.value == v.actual || (std::isnan(v.actual) && std::isnan(sv.value))) {
          v.at_seed = sv.seed;
          break;
        }
      }
      v.held = sim::compare(v.actual, e.op, e.value);
      break;
    }
    case sim::Quantifier::kAll:
      v.held = v.seeds_held == v.seeds;
      break;
    case sim::Quantifier::kAny:
      v.held = v.seeds_held > 0;
      break;
  }
  return v;
}

reports::Report make_report(const std::vector<sim::Scenario>& scenarios, const CampaignOptions& o,
                            std::vector<reports::RunRecord> records) {
  reports::Report report;
  report.runs = std::move(records);
  report.groups = reports::aggregate(report.runs);
  // Each run's flat metrics, once: verdicts read them per seed.
  std::vector<std::map<std::string, double>> flat;
  flat.reserve(report.runs.size());
  for (const reports::RunRecord& r : report.runs) flat.push_back(r.metrics.flatten());
  for (const sim::Scenario& sc : scenarios) {
    for (const sim::Expectation& e : sc.expectations) {
      if (!o.variant.empty() && e.variant != o.variant) continue;
      for (const reports::Group& g : report.groups) {
        if (g.scenario != sc.name || g.variant != e.variant) continue;
        if (e.strategy != "*" && e.strategy != g.strategy) continue;
        std::vector<reports::SeedValue> values;  // in run order, as the aggregates take them
        for (std::size_t i = 0; i < report.runs.size(); ++i) {
          const reports::RunRecord& r = report.runs[i];
          if (r.scenario != g.scenario || r.variant != g.variant || r.strategy != g.strategy) continue;
          auto it = flat[i].find(e.metric);
          if (it != flat[i].end()) values.push_back({r.seed, it->second});
        }
        reports::Verdict v = judge(e, values);
        v.scenario = sc.name;
        v.variant = e.variant;
        v.strategy = g.strategy;
        report.verdicts.push_back(std::move(v));
      }
    }
  }
  return report;
}

Result<std::vector<reports::RunRecord>> merge_shards(std::vector<std::vector<reports::RunRecord>> shards,
                                                     std::size_t total) {
  const std::size_t n = shards.size();
  if (n == 0) return make_error("no shards to merge");
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t expected = total / n + (k < total % n ? 1 : 0);
    if (shards[k].size() != expected) {
      return make_error("shard " + std::to_string(k) + "/" + std::to_string(n) + " has " +
                        std::to_string(shards[k].size()) + " runs, expected " + std::to_string(expected) + " of " +
                        std::to_string(total));
    }
  }
  std::vector<reports::RunRecord> out;
  out.reserve(total);
  for (std::size_t i = 0; i < total; ++i) out.push_back(std::move(shards[i % n][i / n]));
  return out;
}

}  // namespace convlab::campaigns
