// convlab_bench: replays shared/traces/sequential_traces/automerge-paper.json.gz through `crdt`
// and `ot`, locally (one replica takes every edit) and relayed (client A encodes, the server
// replica decodes and re-encodes, client B decodes and applies).
//
// The trace is loaded once, before the replays' timing; NAME/load times load_trace itself and
// NAME/load/dom the Boost.JSON DOM the loader used before (issue 17). Counters:
//   edits/s              patches replayed per second of wall time
//   wire_B/edit          encoded bytes on the wire per patch (relayed)
//   heap_B/live_char     heap bytes a client replica holds after the whole trace, per character
//                        of the final text (glibc mallinfo2, measured once outside the timing)
//   doc_B/live_char      crdt only: crdt::Doc::memory_bytes() (its structures by capacity) per
//                        character of the final text, tombstones included in the numerator
//
// CONVLAB_BENCH_TRACE=path replays another trace instead.
#include "server/strategies/crdt/doc.hpp"
#include "server/strategies/registry.hpp"
#include "workload/replay.hpp"
#include "workload/trace.hpp"

#include <benchmark/benchmark.h>
#include <malloc.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

namespace {

using convlab::SequentialTrace;
using convlab::Strategy;

// Heap bytes in use by this process now.
double heap_in_use() {
  const struct mallinfo2 mi = mallinfo2();
  return static_cast<double>(mi.uordblks + mi.hblkhd);
}

// Heap bytes one client replica holds after taking every patch of `t`, per live character.
double heap_per_live_char(const Strategy& s, const SequentialTrace& t) {
  malloc_trim(0);
  const double before = heap_in_use();
  auto client = s.make_client(0);
  std::int64_t clock_ms = 0;
  for (const convlab::Splice& p : t.patches) client->local_edit(p, ++clock_ms);
  const double after = heap_in_use();
  const std::size_t live = client->length();
  return live > 0 ? (after - before) / static_cast<double>(live) : 0.0;
}

// crdt::Doc::memory_bytes() after the whole trace, per live character.
double crdt_doc_bytes_per_live_char(const SequentialTrace& t) {
  convlab::crdt::Doc doc;
  std::uint32_t seq = 0;
  for (const convlab::Splice& p : t.patches) {
    if (p.del > 0) doc.local_delete(p.pos, p.del);
    if (!p.ins.empty()) {
      doc.local_insert(p.pos, p.ins, convlab::CharId{0, seq});
      seq += static_cast<std::uint32_t>(p.ins.size());
    }
  }
  if (doc.text() != t.end_content) return -1.0;  // shows as a negative counter: look here
  return doc.length() > 0 ? static_cast<double>(doc.memory_bytes()) / static_cast<double>(doc.length()) : 0.0;
}

// load_trace: the file read, gunzipped and parsed into patches, as `convlab trace replay` does
// before replaying. `dom` is the file read, gunzipped and parsed into a Boost.JSON DOM alone
// (load_json_file, how traces were loaded before issue 17): the cost the pull reader removed.
void load(benchmark::State& state, const std::string* path, const SequentialTrace* expect, bool dom) {
  for (auto _ : state) {
    if (dom) {
      auto v = convlab::load_json_file(*path);
      if (!v) {
        state.SkipWithError(v.error().message.c_str());
        return;
      }
      benchmark::DoNotOptimize(v->kind());
      continue;
    }
    auto t = convlab::load_trace(*path);
    if (!t || t->concurrent || t->sequential.patch_count != expect->patch_count ||
        t->sequential.end_content != expect->end_content) {
      state.SkipWithError("load_trace did not give the trace loaded first");
      return;
    }
    benchmark::DoNotOptimize(t->sequential.patches.data());
  }
  state.counters["patches/s"] =
      benchmark::Counter(static_cast<double>(expect->patch_count), benchmark::Counter::kIsIterationInvariantRate);
}

void replay(benchmark::State& state, const Strategy* s, const SequentialTrace* t, bool relayed) {
  for (auto _ : state) {
    auto r = relayed ? convlab::replay_relayed(*s, *t) : convlab::replay_local(*s, *t);
    if (!r) {
      state.SkipWithError(("replay failed: " + r.error().message).c_str());
      return;
    }
    if (r->text != t->end_content) {
      state.SkipWithError("replay did not reproduce endContent");
      return;
    }
    if (relayed) state.counters["wire_B/edit"] = static_cast<double>(r->wire_bytes) / static_cast<double>(r->patches);
    benchmark::DoNotOptimize(r->text.data());
  }
  state.counters["edits/s"] =
      benchmark::Counter(static_cast<double>(t->patch_count), benchmark::Counter::kIsIterationInvariantRate);
  if (!relayed) state.counters["heap_B/live_char"] = heap_per_live_char(*s, *t);
  if (!relayed && s->name == "crdt") state.counters["doc_B/live_char"] = crdt_doc_bytes_per_live_char(*t);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;

  std::string path = convlab::shared_dir() + "/traces/sequential_traces/automerge-paper.json.gz";
  if (const char* env = std::getenv("CONVLAB_BENCH_TRACE"); env != nullptr && *env != '\0') path = env;
  auto loaded = convlab::load_trace(path);
  if (!loaded || loaded->concurrent) {
    std::cerr << "convlab_bench: skipping every benchmark: "
              << (loaded ? path + ": a concurrent trace; the replay benchmarks need a sequential one"
                         : loaded.error().message)
              << '\n';
    return 0;
  }
  static const SequentialTrace trace = std::move(loaded->sequential);
  std::string name = path.substr(path.find_last_of('/') + 1);
  if (const auto dot = name.find('.'); dot != std::string::npos) name.resize(dot);

  static const std::string trace_path = path;
  for (const bool dom : {false, true}) {
    benchmark::RegisterBenchmark((name + (dom ? "/load/dom" : "/load")).c_str(), load, &trace_path, &trace, dom)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  for (const char* strategy : {"crdt", "ot"}) {
    const Strategy* s = convlab::find_strategy(strategy);
    if (s == nullptr) {
      std::cerr << "convlab_bench: no strategy named " << strategy << " (known: " << convlab::strategy_names()
                << ")\n";
      return 2;
    }
    for (const bool relayed : {false, true}) {
      benchmark::RegisterBenchmark((name + "/" + strategy + (relayed ? "/relayed" : "/local")).c_str(), replay, s,
                                   &trace, relayed)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
