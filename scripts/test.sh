#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds (warnings are errors), starts the
# services the tests need (a throwaway PostgreSQL on a free loopback port), runs every test
# with ctest, stops the services, runs every libFuzzer target for a short bounded time, then the
# sanitizer stages (scripts/sanitize.sh, each in its own tree with its own PostgreSQL): tsan over
# the threaded suites, asan-ci (ASan + UBSan) over the sans-IO suites. SANITIZE_STAGES chooses
# them (default "tsan asan-ci"; "asan" is the whole suite under ASan; empty runs none). The last
# line is `N passed, N failed` over all of them (the fuzz targets counted as tests, each
# sanitizer report as a failure).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh ci

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
ctest_rc=0
ctest --preset ci -j 2 --timeout 900 2>&1 | tee "$logs/ctest.log" || ctest_rc=$?
stop_services
fuzz_rc=0
scripts/fuzz.sh "${FUZZ_SECONDS:-30}" 2>&1 | tee "$logs/fuzz.log" || fuzz_rc=$?

# The sanitizer stages, one after the other (each builds with -j 2). Each starts its own
# throwaway PostgreSQL: the suite's was stopped above.
s_passed=0; s_failed=0; s_rc=0
for stage in ${SANITIZE_STAGES-tsan asan-ci}; do
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
echo "test: ctest $((t_total - t_failed)) passed, $t_failed failed; fuzz targets $f_passed passed, $f_failed failed; sanitizer stages ($(echo ${SANITIZE_STAGES-tsan asan-ci})) $s_passed passed, $s_failed failed"
echo "$((t_total - t_failed + f_passed + s_passed)) passed, $((t_failed + f_failed + s_failed)) failed"
[[ $ctest_rc -eq 0 && $fuzz_rc -eq 0 && $s_rc -eq 0 && $t_failed -eq 0 && $f_failed -eq 0 && $s_failed -eq 0 ]]
