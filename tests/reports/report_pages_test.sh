#!/usr/bin/env bash
# The HTML reports in a real headless Chromium: `convlab run` on three small scenarios with two
# seeds (one with an expectation that cannot hold, so the matrix and the JUnit file have a
# failure), `convlab replay --out` on two runs, then check_pages.cjs opens every index.html from
# the file system and checks that each chart drew data; likewise a small `convlab sweep`'s page. Screenshots stay in OUT.
# Usage: report_pages_test.sh CONVLAB SOURCE_DIR OUT
set -euo pipefail
exe="$1"
src="$2"
out="$3"
chromium="${CONVLAB_CHROMIUM:-/usr/bin/chromium}"
. "$src/tests/support/skip.sh"
if [ ! -x "$chromium" ]; then
  skip_or_fail "no Chromium at $chromium (Debian package chromium; scripts/setup.sh installs it)"
fi
if [ ! -d "$src/web/node_modules/playwright-core" ]; then
  echo "FAIL: $src/web/node_modules/playwright-core is missing: run npm ci in web/ (scripts/setup.sh does)" >&2
  exit 1
fi
rm -rf "$out"
mkdir -p "$out"

# A copy of the clock-skew scenario whose seq expectation cannot hold in any seed (a failed
# `all`, whose messages name the seeds).
sed -e 's/^name: clock-skew-lww/name: clock-skew-wrong-expectation/' \
    -e 's/    seq: {causality_reversals: "all == 0"}/    seq: {causality_reversals: "all > 0"}/' \
    "$src/scenarios/naive/02-clock-skew.yaml" > "$out/wrong-expectation.yaml"
grep -q 'seq: {causality_reversals: "all > 0"}' "$out/wrong-expectation.yaml"

# run_convlab LOG MAX_EXIT ARGS...: convlab ARGS with output to LOG; fails (showing LOG) when it
# exits above MAX_EXIT, and leaves its exit code in $rc.
run_convlab() {
  local log="$1" max="$2"
  shift 2
  set +e
  "$exe" "$@" > "$log" 2>&1
  rc=$?
  set -e
  if [ "$rc" -gt "$max" ]; then
    echo "FAIL: convlab $* exited $rc" >&2
    cat "$log" >&2
    exit 1
  fi
}

run_convlab "$out/run.txt" 1 run "$src/scenarios/naive/05-snapshot-crash.yaml" "$src/scenarios/mixed/random-faults.yaml" \
  "$out/wrong-expectation.yaml" --seeds 2 --jobs 2 --out "$out/run" --junit "$out/run/junit.xml"
if [ "$rc" -ne 1 ]; then
  echo "FAIL: convlab run exited $rc, expected 1 (one expectation cannot hold)" >&2
  exit 1
fi
tail -3 "$out/run.txt"

for spec in "05-snapshot-crash naive/05-snapshot-crash.yaml lww 1" "random-faults mixed/random-faults.yaml crdt 2"; do
  read -r name file strategy seed <<< "$spec"
  run_convlab "$out/replay-$name.txt" 1 replay "$src/scenarios/$file" --strategy "$strategy" --seed "$seed" \
    --out "$out/replay-$name"
done

# A small capacity sweep: its page plots every scaling curve against each varied setting.
run_convlab "$out/sweep.txt" 0 sweep "$src/scenarios/sweep/polling-load.yaml" --vary servers=2,4 \
  --vary clients=16,32 --strategy lww --seeds 1 --jobs 2 --out "$out/sweep"

cd "$out"
node "$src/tests/reports/check_pages.cjs" --web "$src/web" --chromium "$chromium" \
  --junit run/junit.xml --report run/report.json \
  run/index.html replay-05-snapshot-crash/index.html replay-random-faults/index.html sweep/index.html
