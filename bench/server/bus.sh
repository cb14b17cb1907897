#!/usr/bin/env bash
# NOTIFY against Redis as the servers' bus (a benchmark, not a test; docs/scenarios.md, "Redis as
# the bus"): bench/server/run.sh with BUS=notify and BUS=redis in turn, same shape (two servers,
# the same clients, rate, documents and seed), REPEAT pairs alternating so that a machine's load
# falls on both alike. Prints per run, then the median of each side and their ratio (redis /
# notify): durable edits/s, steady edit-to-visible p50/p99 (every seer: with the clients spread
# over both servers, about half the sightings are of edits made on the other server, which
# crossed the bus), and steady-state CPU per acknowledged edit of each process from /proc
# (server 0, server 1, PostgreSQL, Redis, all).
#
#   bench/server/bus.sh [CLIENTS] [RATE] [DURATION_S] [DOCS]
#   (defaults: 200 clients, 5 edits/s each, 20 s, 20 documents)
#   REPEAT=3       pairs of runs (default 2)
#   STRATEGY=crdt  the servers' strategy (default crdt)
#   BUILD, COMMIT_INTERVAL_MS, PROTOCOL, COALESCE_MS: passed to run.sh as they are.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
clients="${1:-200}"
rate="${2:-5}"
duration="${3:-20}"
docs="${4:-20}"
repeat="${REPEAT:-2}"
strategy="${STRATEGY:-crdt}"
number='^[0-9]+([.][0-9]+)?$'
for v in "$clients" "$rate" "$duration" "$docs" "$repeat"; do
  [[ "$v" =~ $number ]] || { echo "bus.sh: '$v' is not a number (see the usage at the top of $0)" >&2; exit 2; }
done
log="$(mktemp -d /tmp/convlab-bus.XXXX)"
echo "== $clients connections on 2 servers, $docs documents, $rate edits/s each, $strategy, ${duration} s per run," \
     "$repeat pair(s); run.sh output in $log"

# One line per run: bus durable p50 p99 server0 server1 postgres redis all (CPU: us per steady edit).
summary() {
  awk -v bus="$1" '
    /^  durable edits\/s / {durable = $3}
    /^  steady edit-to-visible / {for (i = 1; i < NF; ++i) {if ($i == "p50") p50 = $(i + 1); if ($i == "p99") p99 = $(i + 1)}}
    /^   (server 0|server 1|postgres|redis|all) +whole run/ {
      name = ($1 == "server") ? "server" $2 : $1
      cpu[name] = $(NF - 1)  # us/edit in the steady state
    }
    END {printf "%s %s %s %s %s %s %s %s %s\n", bus, durable + 0, p50 + 0, p99 + 0, cpu["server0"] + 0,
         cpu["server1"] + 0, cpu["postgres"] + 0, cpu["redis"] + 0, cpu["all"] + 0}' "$2"
}

: >"$log/runs"
for r in $(seq 1 "$repeat"); do
  for bus in notify redis; do
    out="$log/$bus.$r.out"
    if ! BUS="$bus" SERVERS=2 "$here/run.sh" "$clients" "$rate" "$duration" "$strategy" "$docs" >"$out" 2>&1; then
      echo "bus.sh: run $r with BUS=$bus failed; its output: $out" >&2
      exit 1
    fi
    summary "$bus" "$out" | tee -a "$log/runs"
  done
done

echo
echo "== medians over $repeat run(s) each; CPU in us per steady-state acknowledged edit (user+sys from /proc)"
awk '
  function median(bus, col,   n, i, j, t, v) {
    n = 0
    for (i = 1; i <= rows; ++i) if (b[i] == bus) v[++n] = x[i, col]
    for (i = 1; i <= n; ++i) for (j = i + 1; j <= n; ++j) if (v[j] < v[i]) {t = v[i]; v[i] = v[j]; v[j] = t}
    return n == 0 ? 0 : (n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2)
  }
  {rows++; b[rows] = $1; for (c = 2; c <= NF; ++c) x[rows, c] = $c}
  END {
    split("durable edits/s|visible p50 ms|visible p99 ms|server 0 us/edit|server 1 us/edit|postgres us/edit|redis us/edit|all us/edit", names, "|")
    printf "   %-28s %10s %10s %8s\n", "", "notify", "redis", "ratio"
    for (c = 2; c <= 9; ++c) {
      n = median("notify", c); r = median("redis", c)
      printf "   %-28s %10.1f %10.1f %8s\n", names[c - 1], n, r, (n > 0 ? sprintf("%.2f", r / n) : "-")
    }
  }' "$log/runs"
echo "   ($(nproc) CPUs; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg))"
