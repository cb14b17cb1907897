#!/usr/bin/env bash
# Capacity under a latency objective (a benchmark, not a test): bench/server/run.sh at each
# typing rate in turn, one table row per run, then the highest durable edits/s whose steady
# edit-to-visible p99 stayed under the objective. What a capacity plan asks of this machine:
# "how many edits per second can it carry before the tail passes P99_MS?"
#
#   bench/server/sweep.sh [CLIENTS] [DOCS] [RATE ...]
#   (defaults: 1000 clients, 500 documents, rates 2 5 10 15 20 edits/s per client)
#   P99_MS=50      the objective on steady edit-to-visible p99 (default 50, issue 4's floor)
#   DURATION=15    seconds of typing per run (default 15)
#   REPEAT=2       runs per rate (default 1): p99 on this VM varies up to 2x between runs
#   STRATEGY=crdt  the servers' strategy (default crdt)
#   SERVERS, BUILD, COMMIT_INTERVAL_MS, PROTOCOL, COALESCE_MS: passed to run.sh as they are.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
clients="${1:-1000}"
docs="${2:-500}"
shift $(($# >= 2 ? 2 : $#))
rates=("$@")
[ "${#rates[@]}" -gt 0 ] || rates=(2 5 10 15 20)
objective="${P99_MS:-50}"
duration="${DURATION:-15}"
repeat="${REPEAT:-1}"
strategy="${STRATEGY:-crdt}"
number='^[0-9]+([.][0-9]+)?$'
for v in "$clients" "$docs" "$objective" "$duration" "$repeat" "${rates[@]}"; do
  [[ "$v" =~ $number ]] || { echo "sweep.sh: '$v' is not a number (see the usage at the top of $0)" >&2; exit 2; }
done

log="$(mktemp -d /tmp/convlab-sweep.XXXX)"
echo "== $clients connections, $docs documents, $strategy, ${duration} s per run, $repeat run(s) per rate," \
  "objective: steady edit-to-visible p99 under $objective ms; run.sh output in $log"
printf '%8s %9s %15s %17s %13s %14s  %s\n' "edits/s" "offered" "durable edits/s" "visible p99 ms" "ack p99 ms" "CPU us/edit" "objective"
printf '%8s %9s %15s %17s %13s %14s\n' "(client)" "(all)" "(steady)" "(steady)" "(steady)" "(steady, all)"
p99() {  # the steady state's p99 of edit-to-visible or edit-to-ack, from run.sh's output $1
  awk -v what="$2" '$0 ~ "^  steady " what " " {for (i = 1; i < NF; ++i) if ($i == "p99") print $(i + 1)}' "$1"
}
best=0
best_rate=""
for rate in "${rates[@]}"; do
  for k in $(seq 1 "$repeat"); do
    out="$log/rate$rate.run$k.txt"
    code=0
    "$here/run.sh" "$clients" "$rate" "$duration" "$strategy" "$docs" >"$out" 2>&1 || code=$?
    durable="$(awk '/^  durable edits\/s / {print $3}' "$out")"
    vis="$(p99 "$out" edit-to-visible)"
    ack="$(p99 "$out" edit-to-ack)"
    cpu="$(awk '/^   all +whole run/ {print $(NF - 1)}' "$out")"
    verdict="$(awk -v p="${vis:-}" -v o="$objective" -v c="$code" 'BEGIN {
      if (c != 0) print "run failed (exit " c ")"; else if (p == "") print "no steady state";
      else print (p + 0 < o + 0 ? "held" : "missed") }')"
    printf '%8s %9s %15s %17s %13s %14s  %s\n' "$rate" "$(awk -v c="$clients" -v r="$rate" 'BEGIN {print c * r}')" \
      "${durable:--}" "${vis:--}" "${ack:--}" "${cpu:--}" "$verdict"
    if [ "$verdict" = held ] && [ "${durable:-0}" -gt "$best" ]; then
      best="$durable"
      best_rate="$rate"
    fi
  done
done
if [ -n "$best_rate" ]; then
  echo "highest durable edits/s with steady edit-to-visible p99 under $objective ms: $best (at $best_rate edits/s per client)"
else
  echo "highest durable edits/s with steady edit-to-visible p99 under $objective ms: none of these rates held it"
fi
