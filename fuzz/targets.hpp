#pragma once
// The fuzz targets (docs/fuzzing.md): one function per parser of untrusted input, each taking
// one input of any bytes. A target returns normally for any input; a broken property it checks
// (a refused op that changed the document, two codecs that disagree) stops the process through
// FUZZ_CHECK, and so does a crash or a sanitizer's finding. The same functions run under
// libFuzzer (fuzz/entry.cpp, preset `fuzz`) and, compiled without it, in the normal suite's
// replay test (tests/fuzz/replay_test.cpp), which runs every file of fuzz/corpus/NAME/ and
// fuzz/regressions/NAME/ through them.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>

namespace convlab::fuzz {

using Input = std::span<const std::uint8_t>;

void frames(Input in);       // a client's WebSocket message, binary or JSON, convlab/1 or /2
void frames_diff(Input in);  // the binary and JSON frame codecs agree on every client frame
void peer_wire(Input in);    // a peer's /node message
void replica(Input in);      // a client's messages to a server replica of each strategy
void jwt(Input in);          // a bearer token, and claims signed with the server's secret
void http_request(Input in);  // an HTTP request's bytes: its token and Origin
void scenario(Input in);     // a scenario YAML file
void history(Input in);      // a history (JSON lines)

struct Target {
  std::string_view name;
  void (*run)(Input);
};

inline constexpr Target kTargets[] = {
    {"frames", frames},   {"frames_diff", frames_diff}, {"peer_wire", peer_wire}, {"replica", replica},
    {"jwt", jwt},         {"http_request", http_request}, {"scenario", scenario},   {"history", history},
};

inline const Target* find_target(std::string_view name) {
  for (const Target& t : kTargets) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

[[noreturn]] inline void check_failed(const char* what, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: fuzz property broken: %s\n", file, line, what);
  std::abort();
}

}  // namespace convlab::fuzz

// A property of the target's output: stops the run (libFuzzer keeps the input) when false.
#define FUZZ_CHECK(cond, what) \
  ((cond) ? static_cast<void>(0) : ::convlab::fuzz::check_failed(what " (" #cond ")", __FILE__, __LINE__))
