#!/usr/bin/env bash
# One run of one server under the one measuring client (client.mjs): a throwaway PostgreSQL
# (scripts/pg.sh, the same settings for every server), the server, the client; CPU seconds of the
# server and of PostgreSQL (the postmaster and its children) from /proc/PID/stat over the
# client's steady state, the server's RSS growth per document. Prints the client's progress, a
# summary, and last one JSON line (the client's figures and these).
#
#   bench/peer-servers/run.sh SERVER [CLIENTS] [DOCS] [RATE] [DURATION_S]
#   SERVER: convlab-ot convlab-crdt sharedb hocuspocus y-websocket
#   (defaults: 200 connections, 20 documents, 2 edits/s per connection, 20 s)
#   WARMUP=5    seconds of typing before the steady state (default 5)
#   DRAIN=5     seconds after typing for what is on its way (default 5)
#   BUILD=build/ci    whose convlab-server (default build/ci)
#   COMMIT_INTERVAL_MS=N  convlab-server's --commit-interval-ms (default: the server's, 8)
#   METRICS=FILE      convlab-server's /metrics, read as the client ends, written to FILE
#   PG_DIR=DIR  use the running cluster of scripts/pg.sh start DIR (a fresh database in it)
#               instead of a cluster of its own (the test does, to stay short)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
server="${1:-}"
clients="${2:-200}"
docs="${3:-20}"
rate="${4:-2}"
duration="${5:-20}"
warmup="${WARMUP:-5}"
drain="${DRAIN:-5}"
build="${BUILD:-$repo/build/ci}"
case "$server" in
  convlab-ot|convlab-crdt|sharedb|hocuspocus|y-websocket) ;;
  *) echo "run.sh: SERVER must be convlab-ot, convlab-crdt, sharedb, hocuspocus or y-websocket, got '$server'" >&2; exit 2 ;;
esac
number='^[0-9]+([.][0-9]+)?$'
for v in "$clients" "$docs" "$rate" "$duration" "$warmup" "$drain"; do
  [[ "$v" =~ $number ]] || { echo "run.sh: '$v' is not a number (see the usage at the top of $0)" >&2; exit 2; }
done
[ -d "$here/node_modules" ] || { echo "run.sh: $here/node_modules is missing: (cd $here && npm ci) or scripts/setup.sh" >&2; exit 2; }
if [[ "$server" == convlab-* ]]; then
  bin="$build/server/app/convlab-server"
  [ -x "$bin" ] || { echo "run.sh: $bin is missing: cmake --build $build --target convlab-server" >&2; exit 2; }
fi

work="$(mktemp -d /tmp/convlab-peersrv.XXXX)"
chmod 755 "$work"  # the cluster below it belongs to postgres
spid=""
cleanup() {
  [ -n "$spid" ] && { kill -TERM "$spid" 2>/dev/null || true; wait "$spid" 2>/dev/null || true; }
  "$repo/scripts/pg.sh" stop "$work/pg" || true
  rm -rf "$work/pg/data"  # the cluster (tens of MB a run); the logs stay in $work
}
trap cleanup EXIT
if [ -n "${PG_DIR:-}" ]; then
  # A running cluster (scripts/pg.sh start PG_DIR; the tests share one): a fresh database in it.
  [ -f "$PG_DIR/port" ] || { echo "run.sh: PG_DIR=$PG_DIR has no running cluster (no $PG_DIR/port)" >&2; exit 2; }
  pgdata="$PG_DIR/data"
  db="run_$(basename "$work" | tr -dc 'a-zA-Z0-9' | tr 'A-Z' 'a-z')"
  (cd "$here" && node -e 'const pg = require("pg"); const c = new pg.Client({connectionString: process.argv[1]});
    c.connect().then(() => c.query(`CREATE DATABASE ${process.argv[2]}`)).then(() => c.end())
     .catch((e) => { console.error(`run.sh: CREATE DATABASE: ${e.message}`); process.exit(1); });' \
    "postgresql://convlab@127.0.0.1:$(cat "$PG_DIR/port")/postgres" "$db")
  pg_url="postgresql://convlab@127.0.0.1:$(cat "$PG_DIR/port")/$db"
else
  pgdata="$work/pg/data"
  pg_url="$("$repo/scripts/pg.sh" start "$work/pg")"
fi

case "$server" in
  convlab-*)
    cmd=("$bin" --listen 127.0.0.1:0 --node-id 0 --nodes 1 --pg-url "$pg_url" --strategy "${server#convlab-}"
         --jwt-secret bench-secret-bench-secret-bench-secret-42 --lab-password lab
         ${COMMIT_INTERVAL_MS:+--commit-interval-ms "$COMMIT_INTERVAL_MS"}) ;;
  *) cmd=(env PG_URL="$pg_url" PORT=0 node "$here/$server-server.mjs") ;;
esac
echo "== server: ${cmd[*]}"
"${cmd[@]}" >"$work/server.out" 2>"$work/server.err" &
spid=$!
for _ in $(seq 1 600); do
  grep -q '^listening ' "$work/server.out" 2>/dev/null && break
  kill -0 "$spid" 2>/dev/null || break
  sleep 0.1
done
port="$(awk '/^listening / {n = split($2, a, ":"); print a[n]; exit}' "$work/server.out")"
[ -n "$port" ] || { echo "run.sh: $server did not start:"; cat "$work/server.err"; exit 1; }
# `node` under `env` is the server's pid itself (env execs it).
url="ws://127.0.0.1:$port"
[[ "$server" == convlab-* ]] && url="$url/ws"

tck="$(getconf CLK_TCK)"
cpu_s() {  # user+sys seconds of the given pids, from /proc/PID/stat (fields 14 and 15)
  for p in "$@"; do cat "/proc/$p/stat" 2>/dev/null; done | sed 's/.*) //' |
    awk -v t="$tck" '{s += $12 + $13} END {printf "%.3f", s / t}'
}
pm="$(head -n1 "$pgdata/postmaster.pid")"
pg_cpu() { cpu_s "$pm" $(ps -o pid= --ppid "$pm" 2>/dev/null); }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$spid/status"; }
snapshot() { echo "$(cpu_s "$spid") $(pg_cpu) $(rss_kib)"; }
rss0="$(rss_kib)"

ccmd=(node "$here/client.mjs" --proto "$server" --url "$url" --clients "$clients" --docs "$docs" --rate "$rate"
      --duration "$duration" --warmup "$warmup" --drain "$drain")
echo "== client: ${ccmd[*]}"
set +e
"${ccmd[@]}" 2>"$work/client.err" | while IFS= read -r line; do
  printf '%s\n' "$line"
  case "$line" in
    "steady state begins") snapshot >"$work/cpu.begin" ;;
    "typing stops") snapshot >"$work/cpu.end" ;;
  esac
done >"$work/client.out"
code=${PIPESTATUS[0]}
set -e
# METRICS=FILE: convlab-server's /metrics as the run ends (its ack, commit and batch histograms).
if [ -n "${METRICS:-}" ] && [[ "$server" == convlab-* ]]; then
  curl -s "http://127.0.0.1:$port/metrics" >"$METRICS" || echo "run.sh: could not read /metrics" >&2
fi
cat "$work/client.out"
[ "$code" = 0 ] || { echo "run.sh: the client failed (exit $code):"; cat "$work/client.err"; exit 1; }
[ -s "$work/cpu.end" ] && [ -s "$work/cpu.begin" ] || { echo "run.sh: no steady state was sampled"; exit 1; }
read -r s0 p0 _ <"$work/cpu.begin"
read -r s1 p1 rss1 <"$work/cpu.end"
ack="after commit"
case "$server" in
  hocuspocus) ack="after the in-memory apply, before storage (stores debounced 2 s, at most 10 s)" ;;
  y-websocket) ack="none (each update echoed to every connection; its INSERT not awaited)" ;;
esac
tail -n 1 "$work/client.out" | node -e '
  const [s0, s1, p0, p1, rss0, rss1, docs, server, ack, load] = process.argv.slice(1);
  const o = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const n = o.edits_steady, per = (a, b) => n ? Math.round(1e6 * (b - a) / n) : null;
  o.server = server; o.acknowledged = ack;
  o.server_cpu_s = +(s1 - s0).toFixed(3); o.pg_cpu_s = +(p1 - p0).toFixed(3);
  o.server_cpu_since_start_s = +s1;  // start-up and connections included
  o.server_us_per_edit = per(+s0, +s1); o.pg_us_per_edit = per(+p0, +p1);
  o.server_pg_us_per_edit = o.server_us_per_edit + o.pg_us_per_edit;
  o.rss_idle_mib = +(rss0 / 1024).toFixed(1); o.rss_end_mib = +(rss1 / 1024).toFixed(1);
  o.kib_per_doc = Math.round((rss1 - rss0) / docs);
  o.load_avg = load;
  console.log(`== ${server}: ${o.clients} connections, ${o.docs} documents, ${o.rate} edits/s each: ` +
    `offered ${o.offered_per_s}/s, typed ${o.typed_per_s}/s, acked ${o.acked_per_s ?? "-"}/s; ` +
    `edit-to-visible p50 ${o.visible_p50_ms} p99 ${o.visible_p99_ms} ms (${o.visible_steady} of ${o.measured_steady} seen); ` +
    `ack p99 ${o.ack_p99_ms ?? "-"} ms; CPU us/edit server ${o.server_us_per_edit} + PostgreSQL ${o.pg_us_per_edit}, ` +
    `client ${o.client_cpu_us_per_edit}; RSS ${o.rss_idle_mib} -> ${o.rss_end_mib} MiB (${o.kib_per_doc} KiB/document)`);
  console.log(JSON.stringify(o));
' "$s0" "$s1" "$p0" "$p1" "$rss0" "$rss1" "$docs" "$server" "$ack" "$(cut -d' ' -f1-3 /proc/loadavg)"
