#!/usr/bin/env bash
# A benchmark of the real server (not a test): a throwaway PostgreSQL (scripts/pg.sh), two
# convlab-server processes on it (SERVERS=1: one) and convlab-load with many typing connections,
# all on this machine. Prints durable edits/s (acknowledged after commit), fan-out deliveries/s,
# edit-to-ack and edit-to-visible percentiles, the servers' commit batching from /metrics, CPU
# per edit of every process, the exact command lines, and last whether the run meets issue 4's
# floor (20,000 durable edits/s, edit-to-visible p99 under 50 ms, 1,000 connections). Figures go
# into bench/README.md by hand.
#
#   bench/server/run.sh [CLIENTS] [RATE] [DURATION_S] [STRATEGY] [DOCS]
#   (defaults: 1000 clients, 20 edits/s each, 30 s, crdt, 100 documents)
#   BUILD=build/release bench/server/run.sh    # which build's binaries (default build/ci)
#   HISTORY=1 bench/server/run.sh              # also write and check the history (costs CPU)
#   PROTOCOL=1 bench/server/run.sh             # the load client speaks convlab/1 (default 2:
#                                              # several frames per WebSocket message)
#   COALESCE_MS=10 bench/server/run.sh         # the servers' convlab/2 batching window
#                                              # (limits.coalesce_ms; default 0)
#   COMMIT_INTERVAL_MS=0 bench/server/run.sh   # least time between two transactions' starts
#                                              # (group_commit.interval_ms; the server's default: 8)
#   SERVERS=1 bench/server/run.sh              # one server instead of two (1 or 2)
#   BUS=redis bench/server/run.sh              # the servers fan out through a throwaway Redis
#                                              # (scripts/redis.sh; policies.bus: redis) instead of
#                                              # NOTIFY (BUS=notify, the default); its CPU is a row
#   CALLGRIND=DIR bench/server/run.sh          # server 0 under valgrind's callgrind: its
#                                              # instructions in the steady state, per steady
#                                              # edit, and the profile in DIR (its CPU figures
#                                              # are valgrind's, not the server's)
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
build="${BUILD:-$here/build/ci}"
nservers="${SERVERS:-2}"
[ "$nservers" = 1 ] || [ "$nservers" = 2 ] || { echo "run.sh: SERVERS must be 1 or 2, got '$nservers'" >&2; exit 2; }
bus="${BUS:-notify}"
[ "$bus" = notify ] || [ "$bus" = redis ] || { echo "run.sh: BUS must be notify or redis, got '$bus'" >&2; exit 2; }
clients="${1:-1000}"
rate="${2:-20}"
duration="${3:-30}"
strategy="${4:-crdt}"
docs="${5:-100}"
server="$build/server/app/convlab-server"
load="$build/load/convlab-load"
for b in "$server" "$load"; do
  [ -x "$b" ] || { echo "run.sh: $b is missing: cmake --build $build --target convlab-server convlab-load" >&2; exit 2; }
done

work="$(mktemp -d /tmp/convlab-bench.XXXX)"
chmod 755 "$work"  # the cluster below it belongs to postgres
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  "$here/scripts/pg.sh" stop "$work/pg" || true
  [ "$bus" = redis ] && { "$here/scripts/redis.sh" stop "$work/redis" || true; }
  # Nothing stays behind but a history asked for (HISTORY=1).
  if [ "${HISTORY:-0}" = 1 ]; then
    rm -rf "$work/pg"
    echo "run.sh: history in $work/history.jsonl"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

echo "== PostgreSQL: $here/scripts/pg.sh start $work/pg"
pg_url="$("$here/scripts/pg.sh" start "$work/pg")"
echo "   $pg_url"
if [ "$bus" = redis ]; then
  echo "== Redis: $here/scripts/redis.sh start $work/redis"
  redis_url="$("$here/scripts/redis.sh" start "$work/redis")"
  echo "   $redis_url"
fi

secret="bench-secret-bench-secret-bench-secret-42"
# Ports picked up front: each server names the other as its peer (ot/seq edits are forwarded to
# the document's home). A port nothing answers on, as scripts/pg.sh picks one.
ports=()
# Below the kernel's ephemeral range (ip_local_port_range, 32768 up by default): the load
# client's own connections take ports there, and a listener cannot bind one of them.
low="$(awk '{print $1 - 1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32767)"
for candidate in $(shuf -i "20000-$low" -n 64); do
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then ports+=("$candidate"); fi
  [ "${#ports[@]}" -eq "$nservers" ] && break
done
[ "${#ports[@]}" -eq "$nservers" ] || { echo "run.sh: no free loopback ports found"; exit 1; }
servers=($(seq 0 $((nservers - 1))))
for k in "${servers[@]}"; do
  cmd=("$server" --listen "127.0.0.1:${ports[$k]}" --node-id "$k" --nodes "$nservers" --pg-url "$pg_url"
       --strategy "$strategy" --jwt-secret "$secret" --lab-password lab --coalesce-ms "${COALESCE_MS:-0}")
  [ "$nservers" = 2 ] && cmd+=(--peer "$((1 - k))=ws://127.0.0.1:${ports[$((1 - k))]}")
  [ -n "${COMMIT_INTERVAL_MS:-}" ] && cmd+=(--commit-interval-ms "$COMMIT_INTERVAL_MS")
  [ "$bus" = redis ] && cmd+=(--bus redis --redis-url "$redis_url")
  if [ -n "${CALLGRIND:-}" ] && [ "$k" = 0 ]; then
    mkdir -p "$CALLGRIND"
    # Instrumentation off until the steady state: uninstrumented, valgrind runs the logins fast
    # enough for the load client's deadlines on a busy machine.
    cmd=(valgrind --tool=callgrind --instr-atstart=no "--callgrind-out-file=$(cd "$CALLGRIND" && pwd)/callgrind.out.%p"
         "${cmd[@]}")
  fi
  echo "== server $k: ${cmd[*]}"
  "${cmd[@]}" >"$work/server$k.out" 2>"$work/server$k.err" &
  pids+=($!)
  for _ in $(seq 1 600); do
    grep -q '^listening ' "$work/server$k.out" 2>/dev/null && break
    sleep 0.1
  done
  line="$(head -n1 "$work/server$k.out")"
  [[ "$line" == listening\ * ]] || { echo "run.sh: server $k did not start:"; cat "$work/server$k.err"; exit 1; }
done

cmd=("$load" --clients "$clients" --docs "$docs" --rate "$rate" --duration "$duration" --strategy "$strategy"
     --ramp 250 --seed 1 --protocol "${PROTOCOL:-2}")
for k in "${servers[@]}"; do cmd+=(--url "ws://127.0.0.1:${ports[$k]}"); done
[ "${HISTORY:-0}" = 1 ] && cmd+=(--history "$work/history.jsonl")
echo "== load: ${cmd[*]}"
tck="$(getconf CLK_TCK)"
cpu_s() {  # user+sys seconds of the given pids, from /proc/PID/stat (fields 14 and 15)
  for p in "$@"; do cat "/proc/$p/stat" 2>/dev/null; done | sed 's/.*) //' |
    awk -v t="$tck" '{s += $12 + $13} END {printf "%.2f", s / t}'
}
pm="$(head -n1 "$work/pg/data/postmaster.pid" 2>/dev/null || echo 0)"
pg_cpu() { cpu_s "$pm" $(ps -o pid= --ppid "$pm" 2>/dev/null); }
rpid="$(cat "$work/redis/redis.pid" 2>/dev/null || echo 0)"
redis_cpu() { if [ "$bus" = redis ]; then cpu_s "$rpid"; else printf 0; fi; }
# CPU of the servers and PostgreSQL when the load client's steady state begins and when typing
# stops (it says so on stdout as it happens; it reports its own).
snapshot() {  # postgres, then each server, then redis (0 under NOTIFY)
  printf '%s' "$(pg_cpu)"
  for k in "${servers[@]}"; do printf ' %s' "$(cpu_s "${pids[$k]}")"; done
  printf ' %s\n' "$(redis_cpu)"
}
# CALLGRIND: server 0's instrumentation starts (counts from zero) when the steady state begins
# and its counts are written out when typing stops.
callgrind() { [ -z "${CALLGRIND:-}" ] || callgrind_control "$@" "${pids[0]}" >/dev/null; }
set +e
"${cmd[@]}" | while IFS= read -r line; do
  printf '%s\n' "$line"
  case "$line" in
    "steady state begins"*) snapshot >"$work/cpu.begin"; callgrind -z; callgrind -i on ;;
    "typing stops"*) snapshot >"$work/cpu.end"; callgrind -d ;;
  esac
done | tee "$work/load.out"
code=${PIPESTATUS[0]}
set -e

echo "== the servers' view (/metrics)"
for k in "${servers[@]}"; do
  m="$(curl -fsS "http://127.0.0.1:${ports[$k]}/metrics" || true)"
  acked="$(grep '^convlab_edits_acknowledged_total' <<<"$m" | awk '{print $2}')"
  commits="$(grep '^convlab_commit_seconds_count' <<<"$m" | awk '{print $2}')"
  csum="$(grep '^convlab_commit_seconds_sum' <<<"$m" | awk '{print $2}')"
  bsum="$(grep '^convlab_commit_batch_appends_sum' <<<"$m" | awk '{print $2}')"
  fan="$(grep '^convlab_fanout_deliveries_total' <<<"$m" | awk '{print $2}')"
  frames="$(grep '^convlab_frames_sent_total' <<<"$m" | awk '{s += $2} END {print s + 0}')"
  msgs="$(grep '^convlab_ws_messages_sent_total' <<<"$m" | awk '{s += $2} END {print s + 0}')"
  # Series a bus that is not in use never shows (grep finds nothing: not an error here).
  notified="$(awk '/^convlab_notify_records_total / {print $2}' <<<"$m")"
  rrecs="$(awk '/^convlab_redis_records_total / {print $2}' <<<"$m")"
  rdropped="$(awk '/^convlab_redis_publishes_total\{result="dropped"\} / {print $2}' <<<"$m")"
  awk -v k="$k" -v a="${acked:-0}" -v c="${commits:-0}" -v s="${csum:-0}" -v b="${bsum:-0}" -v f="${fan:-0}" \
      -v fr="${frames:-0}" -v ms="${msgs:-0}" 'BEGIN {
    printf "   server %d: acked %d, commits %d, appends per commit %.1f, mean commit %.2f ms, fan-out deliveries %d\n",
      k, a, c, (c > 0 ? b / c : 0), (c > 0 ? 1000 * s / c : 0), f
    printf "             frames sent %d in %d WebSocket messages (%.1f frames per message)\n", fr, ms, (ms > 0 ? fr / ms : 0) }'
  echo "             bus $bus: records from the other server over NOTIFY ${notified:-0}, over Redis ${rrecs:-0}," \
       "publishes dropped ${rdropped:-0}"
done
echo "== CPU seconds (user+sys) of each process, and per acknowledged edit"
# The whole run (logins and connection set-up included) and the steady state (from the load
# client's warm-up to the end of typing: what a running deployment pays per edit).
edits="$(awk '/^  edits [0-9]+, acked/ {gsub(",", "", $4); print $4}' "$work/load.out")"
steady_edits="$(awk '/^  steady state acks / {print $4}' "$work/load.out")"
read -r load_all load_steady < <(awk '/^  CPU: / {print $2, $6}' "$work/load.out")
zeros="0 0 0 0"
read -r -a cpu_end < <(cat "$work/cpu.end" 2>/dev/null || echo "$zeros")
read -r -a cpu_begin < <(cat "$work/cpu.begin" 2>/dev/null || echo "$zeros")
row() {  # name, whole-run seconds, steady-state seconds
  awk -v name="$1" -v a="$2" -v s="$3" -v n="${edits:-0}" -v m="${steady_edits:-0}" 'BEGIN {
    printf "   %-10s whole run %6.2f s = %5.0f us/edit   steady state %6.2f s = %5.0f us/edit\n",
      name, a, (n > 0 ? 1e6 * a / n : 0), s, (m > 0 ? 1e6 * s / m : 0) }'
}
add() { awk -v a="$1" -v b="$2" 'BEGIN {print a + b}'; }
d() { awk -v a="$1" -v b="$2" 'BEGIN {print a - b}'; }
row convlab-load "${load_all:-0}" "${load_steady:-0}"
all="${load_all:-0}"
all_steady="${load_steady:-0}"
for k in "${servers[@]}"; do
  whole="$(cpu_s "${pids[$k]}")"
  steady="$(d "${cpu_end[$((k + 1))]:-0}" "${cpu_begin[$((k + 1))]:-0}")"
  row "server $k" "$whole" "$steady"
  all="$(add "$all" "$whole")"
  all_steady="$(add "$all_steady" "$steady")"
done
whole="$(pg_cpu)"
steady="$(d "${cpu_end[0]:-0}" "${cpu_begin[0]:-0}")"
row postgres "$whole" "$steady"
all="$(add "$all" "$whole")"
all_steady="$(add "$all_steady" "$steady")"
if [ "$bus" = redis ]; then
  whole="$(redis_cpu)"
  steady="$(d "${cpu_end[$((nservers + 1))]:-0}" "${cpu_begin[$((nservers + 1))]:-0}")"
  row redis "$whole" "$steady"
  all="$(add "$all" "$whole")"
  all_steady="$(add "$all_steady" "$steady")"
fi
row all "$all" "$all_steady"
echo "   ($(nproc) CPUs; ${edits:-0} edits acknowledged in the run, ${steady_edits:-0} in the steady state;"
echo "    postgres is the postmaster $pm and its children)"
if [ -n "${CALLGRIND:-}" ]; then
  # The dump written when typing stopped: the steady state's instructions (every thread).
  dump="$(ls -t "$CALLGRIND"/callgrind.out."${pids[0]}".* 2>/dev/null | head -n1)"
  ir="$(awk '/^(summary|totals):/ {print $2; exit}' "$dump" 2>/dev/null)"
  awk -v ir="${ir:-0}" -v m="${steady_edits:-0}" -v f="$dump" 'BEGIN {
    printf "== server 0 under callgrind: %.0f instructions in the steady state = %.0f per steady edit (%s)\n",
      ir, (m > 0 ? ir / m : 0), f }'
fi
# The floor issue 4 sets for this benchmark, held against this run's steady state.
durable="$(awk '/^  durable edits\/s / {print $3}' "$work/load.out")"
vis_p99="$(awk '/^  steady edit-to-visible / {for (i = 1; i < NF; ++i) if ($i == "p99") print $(i + 1)}' "$work/load.out")"
echo "== the floor: 20000 durable edits/s with edit-to-visible p99 under 50 ms at 1000 connections"
awk -v c="$clients" -v d="${durable:-0}" -v p="${vis_p99:-}" 'BEGIN {
  met = (c >= 1000 && d >= 20000 && p != "" && p < 50)
  printf "   this run: %d connections, %d durable edits/s, steady edit-to-visible p99 %s ms: %s\n",
    c, d, (p == "" ? "none" : p), (met ? "met" : "not met") }'
echo "work dir: $work (server logs)"
exit "$code"
