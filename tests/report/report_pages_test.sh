#!/usr/bin/env bash
# The HTML reports in a real headless Chromium: `convlab run` on three small scenarios with two
# seeds (one with an expectation that cannot hold, so the matrix and the JUnit file have a
# failure), `convlab replay --out` on two runs, then check_pages.cjs opens every index.html from
# the file system and checks that each chart drew data. Screenshots stay in OUT.
# Usage: report_pages_test.sh CONVLAB SOURCE_DIR OUT
set -euo pipefail
exe="$1"
src="$2"
out="$3"
chromium="${CONVLAB_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
  echo "SKIP: no Chromium at $chromium (Debian package chromium; scripts/setup.sh installs it)"
  exit 77
fi
if [ ! -d "$src/web/node_modules/playwright-core" ]; then
  echo "FAIL: $src/web/node_modules/playwright-core is missing: run npm ci in web/ (scripts/setup.sh does)" >&2
  exit 1
fi
rm -rf "$out"
mkdir -p "$out"

# A copy of the clock-skew scenario whose seq expectation cannot hold.
sed -e 's/^name: clock-skew-lww/name: clock-skew-wrong-expectation/' \
    -e 's/    seq: {causality_reversals: "== 0"}/    seq: {causality_reversals: "> 0"}/' \
    "$src/scenarios/naive/02-clock-skew.yaml" > "$out/wrong-expectation.yaml"
grep -q 'seq: {causality_reversals: "> 0"}' "$out/wrong-expectation.yaml"

set +e
"$exe" run "$src/scenarios/naive/05-snapshot-crash.yaml" "$src/scenarios/mixed/random-faults.yaml" \
  "$out/wrong-expectation.yaml" --seeds 2 --jobs 2 --out "$out/run" --junit "$out/run/junit.xml" > "$out/run.txt" 2>&1
rc=$?
set -e
if [ "$rc" -ne 1 ]; then
  echo "FAIL: convlab run exited $rc, expected 1 (one expectation cannot hold)" >&2
  cat "$out/run.txt" >&2
  exit 1
fi
tail -3 "$out/run.txt"

for spec in "05-snapshot-crash naive/05-snapshot-crash.yaml lww 1" "random-faults mixed/random-faults.yaml crdt 2"; do
  read -r name file strategy seed <<< "$spec"
  set +e
  "$exe" replay "$src/scenarios/$file" --strategy "$strategy" --seed "$seed" --out "$out/replay-$name" > "$out/replay-$name.txt" 2>&1
  rc=$?
  set -e
  if [ "$rc" -gt 1 ]; then
    echo "FAIL: convlab replay $file exited $rc" >&2
    cat "$out/replay-$name.txt" >&2
    exit 1
  fi
done

cd "$out"
node "$src/tests/report/check_pages.cjs" --web "$src/web" --chromium "$chromium" \
  --junit run/junit.xml --report run/report.json \
  run/index.html replay-05-snapshot-crash/index.html replay-random-faults/index.html
