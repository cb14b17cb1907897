#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds (warnings are errors), starts the
# services the tests need (a throwaway PostgreSQL on a free loopback port), runs with ctest what
# must run on the optimised build (below), stops the services, runs every libFuzzer target for a
# short bounded time, then the sanitizer stages (scripts/sanitize.sh, each in its own tree with
# its own PostgreSQL): tsan over the threaded suites, asan (ASan + UBSan) over every test.
# SANITIZE_STAGES chooses them (default "tsan asan"; "asan-ci" is the sans-IO suites only; empty
# runs none). The last line is `N passed, N failed` over all of them (the fuzz targets counted as
# tests, each sanitizer report as a failure).
#
# The release stage builds and runs only what must run on the optimised (-O2, no sanitizer)
# build, because the asan stage builds and runs every test and both do not fit CI's 50 minutes
# (docs/sanitizers.md, "Budget"): `release_tests` below, each with its reason, and the target
# convlab_release_stage (the programs, the benchmarks, and the test programs of those tests;
# warnings are errors in the asan tree too, so the test sources are still held to them).
# RELEASE_SUITE=all builds and runs the whole suite on the release build too (as before), e.g.
# locally without the sanitizer stages.
set -euo pipefail
cd "$(dirname "$0")/.."
release_targets=(convlab_release_stage)
[[ "${RELEASE_SUITE:-}" == all ]] && release_targets=()
scripts/setup.sh ci "${release_targets[@]}"

pgdir="$(mktemp -d /tmp/convlab-pg.XXXXXX)"
stop_services() { scripts/pg.sh stop "$pgdir" >/dev/null 2>&1 || true; rm -rf "$pgdir"; }
trap stop_services EXIT
CONVLAB_PG_URL="$(scripts/pg.sh start "$pgdir")"
export CONVLAB_PG_URL
echo "test: throwaway PostgreSQL at $CONVLAB_PG_URL" >&2

# The whole suite, then every libFuzzer target for FUZZ_SECONDS (default 30) on its corpus
# (scripts/fuzz.sh: its own clang tree, build/fuzz). The last line counts both: ctest's tests
# and the fuzz targets, each a test that passed or failed.
logs="$(mktemp -d /tmp/convlab-test.XXXXXX)"
trap 'stop_services; rm -rf "$logs"' EXIT
# What must run on the optimised build:
#   cli_runs_under_valgrind   valgrind cannot run a sanitized program (disabled in the sanitizer
#                             trees);
#   GoldenDigest              the pinned history digests of the -O2 binary scripts/main.sh runs
#                             (optimisation must not change a simulated history; also under asan);
#   bench_server_run          the benchmark measures the optimised server (also under asan, where
#                             its figures mean nothing);
#   the relayed lww and seq replays of automerge-paper and rustcode: 223 to 296 s each under ASan
#                             (sans-IO, the same code as the other traces' relayed replays, which
#                             the asan stage runs); scripts/sanitize.sh asan leaves them out;
#   SwarmCli.BoundedSwarmHoldsTheInvariants, Oracle.AgreesOnTheShippedScenarios: their full
#                             size (200 worlds, 2 seeds; ~190 and ~180 s under ASan); the asan
#                             stage runs them smaller (50 worlds, 1 seed);
#   ServerLimits.ClientThatNeverReads...: bounds the server's peak resident memory, which only
#                             an unsanitized allocator lets it measure (under ASan freed memory
#                             waits in a quarantine; there it checks the queue's peak only).
# (A parameterised test's ctest name goes on with "  # GetParam() = ...".)
release_tests='^(cli_runs_under_valgrind|bench_server_run|(Pinned/)?GoldenDigest[.].*|Sequential/(Lww|Seq)Trace[.]Relayed/(automerge_paper|rustcode) .*|SwarmCli[.]BoundedSwarmHoldsTheInvariants|Oracle[.]AgreesOnTheShippedScenarios|ServerLimits[.]ClientThatNeverReadsCannotGrowTheServersMemoryPastItsQueueLimit)$'
select=(-R "$release_tests")
[[ "${RELEASE_SUITE:-}" == all ]] && select=()
ctest_rc=0
ctest --preset ci -j 2 --timeout 900 "${select[@]}" 2>&1 | tee "$logs/ctest.log" || ctest_rc=$?
stop_services
fuzz_rc=0
scripts/fuzz.sh "${FUZZ_SECONDS:-30}" 2>&1 | tee "$logs/fuzz.log" || fuzz_rc=$?

# The sanitizer stages, one after the other (each builds with -j 2). Each starts its own
# throwaway PostgreSQL: the suite's was stopped above.
s_passed=0; s_failed=0; s_rc=0
for stage in ${SANITIZE_STAGES-tsan asan}; do
  stage_started=$SECONDS
  rc=0
  env -u CONVLAB_PG_URL scripts/sanitize.sh "$stage" 2>&1 | tee "$logs/sanitize-$stage.log" || rc=$?
  line="$(grep -E "^sanitize $stage: [0-9]+ passed, [0-9]+ failed$" "$logs/sanitize-$stage.log" | tail -1 || true)"
  if [[ -z "$line" ]]; then
    echo "test: scripts/sanitize.sh $stage failed (exit $rc) before counting its tests" >&2
    s_failed=$((s_failed + 1)); s_rc=1
  else
    p="$(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\1/' <<<"$line")"
    f="$(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed$/\2/' <<<"$line")"
    s_passed=$((s_passed + p)); s_failed=$((s_failed + f))
    [[ $rc -eq 0 && $f -eq 0 ]] || s_rc=1
  fi
  echo "test: sanitizer stage $stage took $((SECONDS - stage_started)) s" >&2
done

# "100% tests passed, 0 tests failed out of 517"
summary="$(grep -E '[0-9]+ tests failed out of [0-9]+' "$logs/ctest.log" | tail -1 || true)"
if [[ -z "$summary" ]]; then
  echo "test: ctest printed no summary (exit $ctest_rc)" >&2
  t_failed=1; t_total=1
else
  t_failed="$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$summary")"
  t_total="$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\2/' <<<"$summary")"
fi
f_passed="$(grep -cE '^[a-z_]+ +[0-9]+ +[0-9?]+ +[0-9?]+ ok$' "$logs/fuzz.log" || true)"
f_failed="$(grep -cE '^[a-z_]+ +[0-9]+ +[0-9?]+ +[0-9?]+ CRASH' "$logs/fuzz.log" || true)"
if [[ $fuzz_rc -ne 0 && $f_failed -eq 0 ]]; then
  echo "test: scripts/fuzz.sh failed (exit $fuzz_rc) before running its targets" >&2
  f_failed=1
fi
echo "test: ctest $((t_total - t_failed)) passed, $t_failed failed; fuzz targets $f_passed passed, $f_failed failed; sanitizer stages ($(echo ${SANITIZE_STAGES-tsan asan})) $s_passed passed, $s_failed failed"
echo "$((t_total - t_failed + f_passed + s_passed)) passed, $((t_failed + f_failed + s_failed)) failed"
[[ $ctest_rc -eq 0 && $fuzz_rc -eq 0 && $s_rc -eq 0 && $t_failed -eq 0 && $f_failed -eq 0 && $s_failed -eq 0 ]]
