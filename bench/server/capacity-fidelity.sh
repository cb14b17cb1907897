#!/usr/bin/env bash
# Capacity, simulator against reality (issue 15, item 4; a benchmark, not a test): for one
# server and for two, the highest durable edits/s whose edit-to-visible p99 stays under 50 ms,
# as the calibrated simulator predicts it and as bench/server/sweep.sh measures it at the same
# shape (connections, documents, rates), and their ratio. The floor: within 25%.
#
#   bench/server/capacity-fidelity.sh [CLIENTS] [DOCS] [RATE ...]
#   (defaults: 1000 clients, 500 documents, rates 2 5 8 10 12 15 edits/s per client)
#   FRAGMENT=FILE       a calibration fragment to use (default: `convlab calibrate` first)
#   SERVER_COUNTS="1 2" the server counts compared (default "1 2")
#   DURATION=15         seconds of typing per run, both worlds (default 15)
#   P99_MS=50           the objective (default 50)
#   STRATEGY=crdt       the strategy (default crdt)
#   BUILD=build/ci      which build's binaries
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
build="${BUILD:-$here/build/ci}"
convlab="$build/cli/convlab"
[ -x "$convlab" ] || { echo "capacity-fidelity.sh: $convlab is missing: cmake --build $build --target convlab" >&2; exit 2; }
clients="${1:-1000}"
docs="${2:-500}"
shift $(($# >= 2 ? 2 : $#))
rates=("$@")
[ "${#rates[@]}" -gt 0 ] || rates=(2 5 8 10 12 15)
counts="${SERVER_COUNTS:-1 2}"
duration="${DURATION:-15}"
objective="${P99_MS:-50}"
strategy="${STRATEGY:-crdt}"
number='^[0-9]+([.][0-9]+)?$'
for v in "$clients" "$docs" "$duration" "$objective" "${rates[@]}"; do
  [[ "$v" =~ $number ]] || { echo "capacity-fidelity.sh: '$v' is not a number (see the usage at the top of $0)" >&2; exit 2; }
done
work="$(mktemp -d /tmp/convlab-capacity.XXXX)"
t0=$(date +%s)
echo "== $clients connections, $docs documents, $strategy, ${duration} s per run, objective: edit-to-visible p99 under $objective ms"
echo "   work dir: $work; $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg)"

fragment="${FRAGMENT:-}"
if [ -z "$fragment" ]; then
  fragment="$work/calibration.yaml"
  echo "== calibration: $convlab calibrate --strategy $strategy --out $fragment"
  "$convlab" calibrate --strategy "$strategy" --out "$fragment"
fi
fragment="$(realpath "$fragment")"
echo "== the calibration used ($fragment):"
sed 's/^/   /' "$fragment"

# The simulator at one rate: prints "durable_edits_per_s visible_p99_ms".
sim_run() {  # servers rate
  local n="$1" rate="$2" dir="$work/sim-$1-$2"
  mkdir -p "$dir"
  # The load client's think time at RATE (workload::at_rate): uniform in [mean/2, 3 mean/2].
  read -r lo hi < <(awk -v r="$rate" 'BEGIN {m = 1000 / r; printf "%d %d\n", m / 2 + 0.5, m * 1.5 + 0.5}')
  cat >"$dir/capacity.yaml" <<EOF
name: capacity-$n-servers-rate-$rate
calibration: $fragment
strategies: [$strategy]
seeds: 1
world:
  duration_s: $duration
  quiesce_s: 5
  clients: $clients
  docs: $docs
  workload: {think_ms: [$lo, $hi]}
  network: {client_server_ms: [0, 0]}
  servers: {count: $n}
variants:
  real-shape: {}
EOF
  "$convlab" run "$dir/capacity.yaml" --out "$dir" >"$dir/run.txt" 2>&1 || true
  python3 - "$dir/report.json" "$duration" <<'EOF'
import json, sys
runs = json.load(open(sys.argv[1]))["runs"]
r = runs[0]
print(round(r["acked_edits"] / float(sys.argv[2])), r["visibility_ms"]["p99"])
EOF
}

summary=()
for n in $counts; do
  echo "== $n server(s): the calibrated simulator"
  printf '%8s %9s %15s %15s  %s\n' "edits/s" "offered" "durable edits/s" "visible p99 ms" "objective"
  best_sim=0
  for rate in "${rates[@]}"; do
    read -r durable p99 < <(sim_run "$n" "$rate")
    verdict="$(awk -v p="$p99" -v o="$objective" 'BEGIN {print (p + 0 < o + 0 ? "held" : "missed")}')"
    printf '%8s %9s %15s %15s  %s\n' "$rate" "$((clients * ${rate%.*}))" "$durable" "$p99" "$verdict"
    if [ "$verdict" = held ] && [ "$durable" -gt "$best_sim" ]; then best_sim="$durable"; fi
  done
  echo "== $n server(s): real processes, SERVERS=$n DURATION=$duration bench/server/sweep.sh $clients $docs ${rates[*]}"
  SERVERS="$n" DURATION="$duration" P99_MS="$objective" STRATEGY="$strategy" BUILD="$build" \
    "$here/bench/server/sweep.sh" "$clients" "$docs" "${rates[@]}" | tee "$work/real-$n.txt"
  best_real="$(awk '/^highest durable edits\/s/ {for (i = 1; i <= NF; ++i) if ($i == "ms:") print $(i + 1)}' "$work/real-$n.txt")"
  [[ "$best_real" =~ ^[0-9]+$ ]] || best_real=0
  summary+=("$(awk -v n="$n" -v s="$best_sim" -v r="$best_real" 'BEGIN {
    if (r == 0) {
      printf "%d server(s): simulator %d, real none of the rates held the objective: no ratio, NOT within 25%%", n, s
      exit
    }
    ratio = s / r
    printf "%d server(s): simulator %d, real %d durable edits/s under the objective: ratio %.2f, %s",
      n, s, r, ratio, (ratio >= 0.75 && ratio <= 1.25 ? "within 25%" : "NOT within 25%") }')")
done
echo "== capacity, simulator / real"
for line in "${summary[@]}"; do echo "   $line"; done
echo "   wall time $(($(date +%s) - t0)) s; load average $(cut -d' ' -f1-3 /proc/loadavg)"
