#!/usr/bin/env bash
# One sanitizer stage of CI (scripts/test.sh runs tsan and asan after the release stage and the
# fuzz stage), usable alone:
#   scripts/sanitize.sh asan   every test under AddressSanitizer + UndefinedBehaviorSanitizer
#                              (PostgreSQL, server, load, e2e included), but the relayed lww and seq
#                              replays of the two longest traces and bench_server_run, which the
#                              release stage runs (scripts/test.sh says why); two tests run smaller
#                              here; cli_runs_under_valgrind is disabled here
#   scripts/sanitize.sh asan-ci  the `asan-ci` suites (the sans-IO ones: core, node, strategies,
#                              history, workload, JWT) under ASan + UBSan: a quick subset
#   scripts/sanitize.sh tsan   the threaded suites (ctest labels threaded, e2e, real-faults: the
#                              server, the PostgreSQL store, the load client end to end, the fault
#                              proxy) under ThreadSanitizer
# Builds only what those tests run (target convlab_test_binaries, or the threaded suites' own
# binaries) in build/asan or build/tsan, starts a throwaway PostgreSQL unless CONVLAB_PG_URL is
# set, and runs ctest with the preset's sanitizer options (CMakePresets.json: halt at the first
# finding, the suppressions of tests/support/sanitizers/). Every report a sanitizer writes goes to
# build/<preset>/sanitizer-logs/, the reports of child processes (convlab-server, convlab-load)
# included, whose exit status a test may not see: each report is printed and counts as a failure.
# The last line: "sanitize STAGE: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-}"
stage="$preset"
case "$preset" in
  asan)
    # The relayed lww and seq replays of the two longest traces take 223 to 296 s each under
    # ASan here: the release stage runs them (their local replays, and the relayed replays of the
    # four other traces, stay here). bench_server_run measures the optimised server: the release
    # stage runs it, and the tsan stage runs it sanitized.
    targets=(convlab_test_binaries)
    select=(-E '^(Sequential/(Lww|Seq)Trace[.]Relayed/(automerge_paper|rustcode) |bench_server_run$)')
    ;;
  asan-ci)
    # The sans-IO suites, less the same four replays.
    preset=asan
    stage=asan-ci
    targets=(convlab_asan_ci_binaries)
    select=(-L '^asan-ci$' -E '^Sequential/(Lww|Seq)Trace[.]Relayed/(automerge_paper|rustcode) ')
    ;;
  tsan)
    targets=(server_tests server_presence_tests server_redis_tests server_partition_tests pg_store_tests pg_crash_tests pg_partitioned_tests e2e_tests
             staleness_tests faults_real_tests)
    select=(-L '^(threaded|e2e|real-faults)$')
    ;;
  *)
    echo "usage: scripts/sanitize.sh asan|asan-ci|tsan" >&2
    exit 2
    ;;
esac

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
started=$SECONDS
cmake --preset "$preset" "${launcher[@]}" >/dev/null
build_args=()
for t in "${targets[@]}"; do build_args+=(--target "$t"); done
# Two jobs, as scripts/setup.sh: two cores, and g++ on a test file takes ~1 GB (more with ASan).
cmake --build --preset "$preset" -j 2 "${build_args[@]}"
built=$SECONDS
echo "sanitize $stage: built in $((built - started)) s" >&2

pgdir=""
stop_services() {
  if [ -n "$pgdir" ]; then
    scripts/pg.sh stop "$pgdir" >/dev/null 2>&1 || true
    rm -rf "$pgdir"
  fi
}
trap stop_services EXIT
if [ -z "${CONVLAB_PG_URL:-}" ]; then
  pgdir="$(mktemp -d /tmp/convlab-pg.XXXXXX)"
  CONVLAB_PG_URL="$(scripts/pg.sh start "$pgdir")"
  export CONVLAB_PG_URL
  echo "sanitize $stage: throwaway PostgreSQL at $CONVLAB_PG_URL" >&2
fi

logs="build/$preset/sanitizer-logs"
rm -rf "$logs"
mkdir -p "$logs"
set +e
ctest --preset "$preset" -j 2 --timeout 900 "${select[@]}" 2>&1 | tee "build/$preset/ctest.log"
set -e
echo "sanitize $stage: tests ran in $((SECONDS - built)) s" >&2

# ctest's "NN% tests passed, F tests failed out of T" (no line: nothing ran, a failure).
summary="$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "build/$preset/ctest.log" | tail -1 || true)"
if [ -z "$summary" ]; then
  echo "sanitize $stage: ctest printed no summary line" >&2
  passed=0
  failed=1
else
  failed="$(sed -E 's/.* ([0-9]+) tests? failed out of.*/\1/' <<<"$summary")"
  total="$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$summary")"
  passed=$((total - failed))
fi
reports=0
for f in "$logs"/*; do
  [ -e "$f" ] || continue
  reports=$((reports + 1))
  echo "---- sanitizer report $f" >&2
  cat "$f" >&2
done
if [ "$reports" -gt 0 ]; then
  echo "sanitize $stage: $reports sanitizer report(s) in $logs, each counted as a failure" >&2
fi
echo "sanitize $stage: $passed passed, $((failed + reports)) failed"
[ "$failed" -eq 0 ] && [ "$reports" -eq 0 ]
