#!/usr/bin/env bash
# bench/server/run.sh end to end with a tiny load (one server and two), so that the benchmark
# does not rot between the times someone measures with it: it must exit 0, report no errors, a
# steady state with acknowledged edits, CPU per edit for every process and the floor's verdict;
# and bench/server/sweep.sh's table and best rate on top of it.
#   bench_server_run_test.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
src="$1"
build="$2"
. "$src/tests/support/skip.sh"
if ! command -v pg_ctl >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  skip_or_fail "PostgreSQL's server binaries are not installed (Debian package postgresql-15; scripts/setup.sh installs them)"
fi
fail=0
for servers in 1 2; do
  out="$(SERVERS="$servers" BUILD="$build" "$src/bench/server/run.sh" 20 4 4 crdt 4 2>&1)"
  code=$?
  check() {  # description, extended regex the output must match
    if ! grep -Eq "$2" <<<"$out"; then
      echo "FAIL (SERVERS=$servers): $1: no line matches /$2/"
      fail=1
    fi
  }
  if [ "$code" -ne 0 ]; then
    echo "FAIL (SERVERS=$servers): run.sh exited $code"
    fail=1
  fi
  check "no errors" '^  errors: none$'
  check "a steady state" '^  steady state: [0-9.]+ s to [0-9.]+ s'
  check "steady-state acknowledgements" '^  steady state acks [1-9][0-9]*$'
  check "steady latencies" '^  steady edit-to-ack ms p50 [0-9.]+ p99 [0-9.]+ max [0-9.]+ \([1-9][0-9]*\)$'
  check "the load client's CPU per edit" '^   convlab-load +whole run +[0-9.]+ s = +[1-9][0-9]* us/edit +steady state +[0-9.]+ s = +[0-9]+ us/edit$'
  check "PostgreSQL's CPU per edit" '^   postgres +whole run +[0-9.]+ s = +[1-9][0-9]* us/edit'
  check "every server's CPU" "^   server $((servers - 1)) +whole run +[0-9.]+ s = +[1-9][0-9]* us/edit"
  check "the total" '^   all +whole run +[0-9.]+ s = +[1-9][0-9]* us/edit +steady state +[0-9.]+ s = +[1-9][0-9]* us/edit$'
  # 20 connections cannot meet a floor set at 1,000: the verdict must say so, with the figures.
  check "the floor's verdict" '^   this run: 20 connections, [1-9][0-9]* durable edits/s, steady edit-to-visible p99 [0-9.]+ ms: not met$'
  if [ "$fail" -ne 0 ]; then
    echo "--- output (SERVERS=$servers)"
    echo "$out"
    exit 1
  fi
  echo "SERVERS=$servers: ok"
  grep -E '^   (convlab-load|server|postgres|all) ' <<<"$out"
done
echo "bench/server/run.sh: ok with one and two servers"

# bench/server/sweep.sh on top of it: a row per rate and the best rate that held the objective;
# with an objective no run can hold, it must say so rather than name a rate. (Objectives far from
# any real p99, so that a busy CI machine cannot flip the verdicts.)
out="$(P99_MS=5000 DURATION=4 SERVERS=1 BUILD="$build" "$src/bench/server/sweep.sh" 20 4 2 4 2>&1)"
code=$?
for want in '^ +2 +40 +[1-9][0-9]* +[0-9.]+ +[0-9.]+ +[1-9][0-9]* +held$' \
            '^ +4 +80 +[1-9][0-9]* +[0-9.]+ +[0-9.]+ +[1-9][0-9]* +held$' \
            '^highest durable edits/s with steady edit-to-visible p99 under 5000 ms: [1-9][0-9]* \(at [24] edits/s per client\)$'; do
  grep -Eq "$want" <<<"$out" || { echo "FAIL (sweep): no line matches /$want/"; echo "$out"; exit 1; }
done
[ "$code" -eq 0 ] || { echo "FAIL (sweep): exit $code"; echo "$out"; exit 1; }
out="$(P99_MS=0.0001 DURATION=4 SERVERS=1 BUILD="$build" "$src/bench/server/sweep.sh" 20 4 4 2>&1)"
for want in '^ +4 +80 +[1-9][0-9]* +[0-9.]+ +[0-9.]+ +[1-9][0-9]* +missed$' \
            '^highest durable edits/s with steady edit-to-visible p99 under 0.0001 ms: none of these rates held it$'; do
  grep -Eq "$want" <<<"$out" || { echo "FAIL (sweep, unreachable objective): no line matches /$want/"; echo "$out"; exit 1; }
done
echo "bench/server/sweep.sh: ok (a row per rate, the best rate held, none when nothing holds)"
