#!/usr/bin/env bash
# Capacity under a latency objective, server by server, measured by the one client (a benchmark,
# not a test): for each server and shape, run.sh at each per-connection typing rate in turn (from
# the lowest; a server stops at its first rate that misses twice), then the highest offered rate whose
# steady edit-to-visible p99 held the objective. Writes every run to out/runs.jsonl and the table
# to out/table.md (bench/README.md quotes it).
#
#   bench/peer-servers/sweep.sh [SERVER ...]
#   (default: convlab-ot sharedb convlab-crdt hocuspocus y-websocket)
#   SHAPES="1000x500 200x20"   connections x documents (default both)
#   RATES="0.1 0.25 0.5 1 2 5 10 20"   edits/s per connection, ascending
#   P99_MS=50  DURATION=15  WARMUP=5: the objective and run.sh's settings
#   OUT=DIR    where runs.jsonl, table.md and each run's output go (default bench/peer-servers/out)
# A run holds when its steady edit-to-visible p99 <= P99_MS, every measured edit reached the
# observer; unless the client typed under 95% of the offered rate or used more than 80% of a
# core over the steady state (then the client, not the server, is the limit: "client-bound").
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
servers=("$@")
[ "${#servers[@]}" -gt 0 ] || servers=(convlab-ot sharedb convlab-crdt hocuspocus y-websocket)
read -r -a shapes <<<"${SHAPES:-1000x500 200x20}"
read -r -a rates <<<"${RATES:-0.1 0.25 0.5 1 2 5 10 20}"
objective="${P99_MS:-50}"
duration="${DURATION:-15}"
export WARMUP="${WARMUP:-5}"
out="${OUT:-$here/out}"
mkdir -p "$out"
runs="$out/runs.jsonl"
: >"$runs"
echo "== $(date -u +%FT%TZ), $(nproc) CPUs, uptime: $(uptime)"
echo "   objective: steady edit-to-visible p99 <= $objective ms; ${duration} s per run, ${WARMUP} s warm-up"
for shape in "${shapes[@]}"; do
  clients="${shape%x*}"
  docs="${shape#*x}"
  for server in "${servers[@]}"; do
    for rate in "${rates[@]}"; do
     for try in 1 2; do
      log="$out/$server.$clients.$docs.$rate.$try.txt"
      code=0
      "$here/run.sh" "$server" "$clients" "$docs" "$rate" "$duration" >"$log" 2>&1 || code=$?
      line="$(tail -n 1 "$log")"
      if [ "$code" != 0 ] || [[ "$line" != "{"* ]]; then
        echo "   $server $shape $rate/s per connection: run failed (exit $code), see $log"
        line="{\"server\": \"$server\", \"clients\": $clients, \"docs\": $docs, \"rate\": $rate, \"failed\": true}"
      fi
      verdict="$(node -e '
        const o = JSON.parse(process.argv[1]); const obj = +process.argv[2];
        let v;
        if (o.failed) v = "failed";
        else if (o.typed_per_s < 0.95 * o.offered_per_s || o.client_cpu_s > 0.8 * o.steady_s) v = "client-bound";
        else if (o.visible_p99_ms === null || o.unseen_steady > 0 || o.visible_p99_ms > obj) v = "missed";
        else v = "held";
        o.verdict = v; console.log(JSON.stringify(o));' "$line" "$objective")"
      echo "$verdict" >>"$runs"
      node -e '
        const o = JSON.parse(process.argv[1]);
        console.log(`   ${o.server} ${o.clients}/${o.docs} ${o.rate}/s: ${o.verdict}` + (o.failed ? "" :
          ` (offered ${o.offered_per_s}/s, acked ${o.acked_per_s ?? "-"}/s, visible p99 ${o.visible_p99_ms} ms,` +
          ` ${o.unseen_steady} unseen, ack p99 ${o.ack_p99_ms ?? "-"} ms, us/edit server ${o.server_us_per_edit}` +
          ` + pg ${o.pg_us_per_edit}, client ${o.client_cpu_us_per_edit}, loop p99 ${o.client_loop_delay_p99_ms} ms, load ${o.load_avg})`));' "$verdict"
      # A miss is run once more before the server stops climbing (this machine is shared, a
      # single run's p99 is noisy); both runs go to the table's input.
      [[ "$verdict" == *'"verdict":"held"'* ]] && continue 2
     done
     break
    done
  done
done
node "$here/table.mjs" "$runs" "$objective" >"$out/table.md"
cat "$out/table.md"
