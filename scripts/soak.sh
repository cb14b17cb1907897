#!/usr/bin/env bash
# A chaos soak with an outside audit (issue 16, item 3). For each strategy: a PostgreSQL cluster
# of its own, SERVERS convlab-server processes in the durable configuration (change log, ack
# after commit) on one database, convlab-load typing through a TCP fault proxy in front of each
# server, the servers reaching PostgreSQL through one more proxy; meanwhile a schedule drawn from
# --seed (same seed, same schedule: the order of the faults, their targets, the waits between
# them and how long each lasts) performs KILLS kill -9 of a server (restarted after its down
# time), PG_STOPS immediate PostgreSQL stops (scripts/pg.sh crash, then restart) and CUTS cut
# connections (the proxies' `cut`: a client link or the servers' database link). When the load
# has finished, the audit reads PostgreSQL with psql and convlab-log-replay and compares it with
# what the load client saw acknowledged (scripts/soak_audit.py): nothing of convlab's checker.
#
#   scripts/soak.sh [--strategies "lww seq ot crdt"] [--kills 50] [--pg-stops 10] [--cuts 10]
#                   [--servers 2] [--clients 16] [--docs 4] [--rate 4] [--seed 1]
#                   [--gap-ms 600..1800] [--down-ms 200..1500] [--max-seconds 3600]
#                   [--build build/ci] [--out DIR] [--self-check 0|1] [--home fixed|lease]
#                   [--lease-ms 2000]
#
# --home lease: the servers run `home: lease` (docs/protocol.md "Several servers"): an ot/seq
# document's home is the holder of its lease in PostgreSQL, which a live server claims once the
# killed holder's lease (--lease-ms) expires; --home fixed (the default): node doc % servers.
# --self-check 1: after each audit, a record deleted and a record appended twice in the
# database must each fail it (then the database is put back): the audit can fail.
# Loopback only. Bounded: every wait has a limit and the whole run stops at --max-seconds.
# Every process it starts (servers, proxies, the load, PostgreSQL) is stopped on exit or Ctrl-C.
# Writes DIR/<strategy>/{summary.json,history.jsonl,records.jsonl,events.tsv,logs} and
# DIR/summary.tsv. Exit 0: every audit passed; 1: an audit found a missing or duplicated
# acknowledged edit, wrong bytes or divergence (or the load did not finish); 2: bad flags or a
# setup failure.
set -uo pipefail

src="$(cd "$(dirname "$0")/.." && pwd)"
strategies="lww seq ot crdt"
kills=50 pg_stops=10 cuts=10 servers=2 clients=16 docs=4 rate=4 seed=1
gap="600..1800" down="200..1500" max_seconds=3600 self_check=0
build="$src/build/ci" out=""
home=fixed lease_ms=2000
usage() { sed -n '13,18p' "$0" >&2; exit 2; }
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || usage
  case "$1" in
    --strategies) strategies="$2" ;; --kills) kills="$2" ;; --pg-stops) pg_stops="$2" ;;
    --cuts) cuts="$2" ;; --servers) servers="$2" ;; --clients) clients="$2" ;; --docs) docs="$2" ;;
    --rate) rate="$2" ;; --seed) seed="$2" ;; --gap-ms) gap="$2" ;; --down-ms) down="$2" ;;
    --max-seconds) max_seconds="$2" ;; --self-check) self_check="$2" ;; --build) build="$2" ;; --out) out="$2" ;;
    --home) home="$2" ;; --lease-ms) lease_ms="$2" ;;
    *) echo "soak.sh: unknown flag $1" >&2; usage ;;
  esac
  shift 2
done
case "$home" in fixed | lease) ;; *) echo "soak.sh: --home must be fixed or lease, got '$home'" >&2; exit 2 ;; esac
for v in kills pg_stops cuts servers clients docs seed max_seconds lease_ms; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || { echo "soak.sh: --${v//_/-} must be a whole number, got '${!v}'" >&2; exit 2; }
done
[ "$servers" -ge 2 ] || { echo "soak.sh: --servers must be at least 2" >&2; exit 2; }
[[ "$gap" =~ ^([0-9]+)\.\.([0-9]+)$ ]] || { echo "soak.sh: --gap-ms wants MIN..MAX, got '$gap'" >&2; exit 2; }
gap_min=${BASH_REMATCH[1]} gap_max=${BASH_REMATCH[2]}
[[ "$down" =~ ^([0-9]+)\.\.([0-9]+)$ ]] || { echo "soak.sh: --down-ms wants MIN..MAX, got '$down'" >&2; exit 2; }
down_min=${BASH_REMATCH[1]} down_max=${BASH_REMATCH[2]}
for s in $strategies; do
  case "$s" in lww | seq | ot | crdt) ;; *) echo "soak.sh: --strategies: unknown '$s' (lww seq ot crdt)" >&2; exit 2 ;; esac
done
server_bin="$build/server/app/convlab-server" load_bin="$build/load/convlab-load"
proxy_bin="$build/faults/real/convlab-faultproxy" replay_bin="$build/load/convlab-log-replay"
for b in "$server_bin" "$load_bin" "$proxy_bin" "$replay_bin"; do
  [ -x "$b" ] || { echo "soak.sh: $b missing: cmake --build $build --target $(basename "$b")" >&2; exit 2; }
done
command -v psql >/dev/null || { echo "soak.sh: psql missing (apt-get install postgresql-client)" >&2; exit 2; }
[ -n "$out" ] || out="$(mktemp -d /tmp/convlab-soak.XXXXXX)"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
secret="soak-secret-soak-secret-soak-secret-0123456789"
t_begin=$(date +%s)

# ---------------------------------------------------------------- processes and cleanup
declare -A live=()  # pid -> what: every process started in the background and not yet reaped
pg_dir=""           # the running cluster, stopped on exit
stop_pid() { kill -9 "$1" 2>/dev/null; wait "$1" 2>/dev/null; unset "live[$1]"; }
stop_all() { local p; for p in "${!live[@]}"; do stop_pid "$p"; done; }
cleanup() {
  trap - EXIT INT TERM
  stop_all
  [ -z "$pg_dir" ] || { "$src/scripts/pg.sh" stop "$pg_dir/c"; rm -rf "$pg_dir"; }
}
trap cleanup EXIT
trap 'echo "soak.sh: interrupted" >&2; exit 130' INT TERM
# Running (a child that exited stays a zombie until waited for: not running).
alive() { local st; st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) && [ -n "$st" ] && [ "$st" != Z ]; }
over_time() { [ $(($(date +%s) - t_begin)) -ge "$max_seconds" ]; }
now_ms() { date +%s%3N; }

# A loopback port nothing answers on (as scripts/pg.sh picks one).
free_port() {
  local p
  for p in $(shuf -i 20000-32767 -n 64); do
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
  echo "soak.sh: no free loopback port" >&2
  exit 2
}

# Waits (up to 30 s) for the first line of a log that starts with "listening".
wait_listening() {
  local log="$1" pid="$2" i
  for i in $(seq 300); do
    grep -q '^listening' "$log" 2>/dev/null && return 0
    alive "$pid" || return 1
    sleep 0.1
  done
  return 1
}

# One line to a fault proxy's control port; its answer.
proxy_command() {
  local port="$1" line="$2" reply=""
  exec 7<>"/dev/tcp/127.0.0.1/$port" || return 1
  printf '%s\n' "$line" >&7
  read -r -t 5 reply <&7
  exec 7>&-
  [[ "$reply" == ok* ]] || { echo "soak.sh: proxy $port: '$line' answered '$reply'" >&2; return 1; }
}

# ---------------------------------------------------------------- the schedule
# xorshift64* on bash's 64-bit arithmetic: the same seed, the same draws on any machine.
rng_state=0
rng_seed() { rng_state=$(( ($1 * 2654435761 + 88172645463325252) ^ 0x9E3779B97F4A7C15 )); [ "$rng_state" -ne 0 ] || rng_state=1; }
draw=0
rng_between() {  # MIN MAX: sets draw to a number in [MIN, MAX] (no subshell: the state must advance)
  local x=$rng_state
  x=$(( x ^ ((x >> 12) & 0x000FFFFFFFFFFFFF) ))
  x=$(( x ^ (x << 25) ))
  x=$(( x ^ ((x >> 27) & 0x0000001FFFFFFFFF) ))
  rng_state=$x
  local r=$(( ((x * 2685821657736338717) >> 33) & 0x7FFFFFFF ))
  draw=$(( $1 + r % ($2 - $1 + 1) ))
}
# The schedule: one line per fault, "GAP_MS KIND TARGET DOWN_MS", in order; kinds shuffled.
make_schedule() {
  rng_seed "$seed"
  local kinds=() i j tmp
  for ((i = 0; i < kills; i++)); do kinds+=(kill); done
  for ((i = 0; i < pg_stops; i++)); do kinds+=(pg); done
  for ((i = 0; i < cuts; i++)); do kinds+=(cut); done
  for ((i = ${#kinds[@]} - 1; i > 0; i--)); do
    rng_between 0 "$i"; j=$draw; tmp=${kinds[$i]}; kinds[$i]=${kinds[$j]}; kinds[$j]=$tmp
  done
  for k in "${kinds[@]}"; do
    local target=0 gap_ms
    case "$k" in
      kill) rng_between 0 $((servers - 1)); target=$draw ;;
      cut) rng_between 0 "$servers"; target=$draw ;;  # a server's client link, or (= servers) the database link
    esac
    rng_between "$gap_min" "$gap_max"; gap_ms=$draw
    rng_between "$down_min" "$down_max"
    echo "$gap_ms $k $target $draw"
  done
}

# ---------------------------------------------------------------- one strategy
declare -a server_pid server_port client_proxy_ctl
pg_proxy_port=0 pg_proxy_ctl=0

start_server() {  # K: node K on its port, through the database proxy
  local k="$1" d="$2" strategy="$3" log peers=()
  log="$d/logs/server$k.$(now_ms).log"
  for ((p = 0; p < servers; p++)); do
    [ "$p" -eq "$k" ] || peers+=(--peer "$p=ws://127.0.0.1:${server_port[$p]}")
  done
  "$server_bin" --config "$d/server.yaml" --listen "127.0.0.1:${server_port[$k]}" --node-id "$k" --nodes "$servers" \
    --pg-url "postgresql://convlab@127.0.0.1:$pg_proxy_port/soak" --strategy "$strategy" --jwt-secret "$secret" \
    --lab-password lab "${peers[@]}" >"$log" 2>&1 &
  server_pid[$k]=$!
  live[$!]="server $k"
  wait_listening "$log" "$!" || { echo "soak.sh: server $k did not start; $log:" >&2; tail -5 "$log" >&2; return 1; }
}

proxy_port=0 proxy_ctl=0
start_proxy() {  # TARGET_PORT LOG: sets proxy_port and proxy_ctl
  local log="$2"
  "$proxy_bin" --target "127.0.0.1:$1" --seed "$seed" >"$log" 2>&1 &
  live[$!]="proxy"
  wait_listening "$log" "$!" || { echo "soak.sh: proxy did not start: $(tail -2 "$log")" >&2; return 1; }
  # listening IP:PORT control IP:PORT
  read -r proxy_port proxy_ctl < <(awk '/^listening/ { split($2, a, ":"); split($4, b, ":"); print a[2], b[2]; exit }' "$log")
}

# The audit of D against the database as it is: SQL first (rows repeating another row of the same
# author and document byte for byte: a resubmitted record; documents whose log does not run
# 1..log_length), then the rows decoded and replayed (convlab-log-replay) and compared with what
# the load saw (soak_audit.py). Writes D/summary.json; 0 when nothing is missing, duplicated,
# wrong or diverged.
audit() {
  local d="$1" db_url="$2" strategy="$3" identical gaps
  identical=$(psql -At "$db_url" -c "SELECT count(*) - count(DISTINCT (doc, author, md5(payload))) FROM changes") || return 2
  gaps=$(psql -At "$db_url" -c "SELECT count(*) FROM documents d
      WHERE d.log_length <> (SELECT count(*) FROM changes c WHERE c.doc = d.id)
         OR d.log_length <> coalesce((SELECT max(seq) FROM changes c WHERE c.doc = d.id), 0)") || return 2
  psql -AtF $'\t' "$db_url" -c "SELECT doc, seq, node, author, client_ms, server_ms, encode(payload, 'hex')
      FROM changes ORDER BY doc, seq" | "$replay_bin" --strategy "$strategy" >"$d/records.jsonl" 2>"$d/replay.err"
  local replay_rc=$?
  python3 "$src/scripts/soak_audit.py" "$d/history.jsonl" "$d/records.jsonl" "$d/events.tsv" "$servers:$home" \
    "$d/logs/postgres.log" "$identical" "$gaps" "$replay_rc" >"$d/summary.json"
}

# One tampering of the database (SQL), audited: the audit must fail (shows PATTERN of its
# summary); the database is put back after.
tampered_audit() {
  local d="$1" db_url="$2" strategy="$3" what="$4" sql="$5" pattern="$6" t="$1/tampered" ok=0
  psql -q "$db_url" -c "$sql" || return 1
  if audit "$t" "$db_url" "$strategy"; then
    echo "soak.sh: self-check: the audit passed with $what" >&2
    ok=1
  else
    echo "   self-check: $what fails the audit: $(tr -d ' \n' <"$t/summary.json" | grep -o "$pattern")" >&2
  fi
  psql -q "$db_url" -c "TRUNCATE changes; INSERT INTO changes SELECT * FROM changes_kept;
      UPDATE documents d SET log_length = k.log_length FROM documents_kept k WHERE k.id = d.id" || return 1
  return "$ok"
}

# Shows the audit can fail: the last record of document 0's log deleted, then a record of its log
# appended a second time; each must fail the audit.
self_check() {
  local d="$1" db_url="$2" strategy="$3" ok=0 t="$1/tampered"
  mkdir -p "$t/logs"
  cp "$d/history.jsonl" "$d/events.tsv" "$t/"
  cp "$d/logs/postgres.log" "$t/logs/"
  psql -q "$db_url" -c "CREATE TABLE changes_kept AS SELECT * FROM changes;
      CREATE TABLE documents_kept AS SELECT * FROM documents" || return 1
  tampered_audit "$d" "$db_url" "$strategy" "a deleted record" \
    "DELETE FROM changes WHERE doc = 0 AND seq = (SELECT max(seq) FROM changes WHERE doc = 0);
     UPDATE documents SET log_length = log_length - 1 WHERE id = 0" '"missing":[0-9]*,.*"converged":[a-z]*' || ok=1
  tampered_audit "$d" "$db_url" "$strategy" "a record appended twice" \
    "INSERT INTO changes SELECT doc, (SELECT log_length + 1 FROM documents WHERE id = 0), node, author, client_ms,
       server_ms, payload FROM changes WHERE doc = 0 AND seq = (SELECT log_length / 2 FROM documents WHERE id = 0);
     UPDATE documents SET log_length = log_length + 1 WHERE id = 0" '"sql_identical_rows":[0-9]*,.*"log_replays":[a-z]*' || ok=1
  psql -q "$db_url" -c "DROP TABLE changes_kept, documents_kept" || return 1
  return "$ok"
}

run_strategy() {
  local strategy="$1" d="$out/$1"
  rm -rf "$d"
  mkdir -p "$d/logs"
  echo "== $strategy: $kills kills, $pg_stops PostgreSQL stops, $cuts cuts, seed $seed" >&2
  pg_dir="$(mktemp -d /tmp/convlab-soak-pg.XXXXXX)"
  chmod 755 "$pg_dir"
  local url
  url="$("$src/scripts/pg.sh" start "$pg_dir/c")" || { echo "soak.sh: PostgreSQL did not start" >&2; return 2; }
  local pg_port="${url##*:}"
  pg_port="${pg_port%%/*}"
  psql -q "$url" -c "CREATE DATABASE soak" >/dev/null || return 2
  local db_url="${url%/postgres}/soak"
  cat >"$d/server.yaml" <<EOF
database: $db_url
policies:
  persistence: changelog
  ack: after_commit
  home: $home
  lease_ms: $lease_ms
EOF
  start_proxy "$pg_port" "$d/logs/proxy-pg.log" || return 2
  pg_proxy_port=$proxy_port pg_proxy_ctl=$proxy_ctl
  local k urls=()
  for ((k = 0; k < servers; k++)); do server_port[$k]=$(free_port) || return 2; done
  for ((k = 0; k < servers; k++)); do
    start_proxy "${server_port[$k]}" "$d/logs/proxy-client$k.log" || return 2
    client_proxy_ctl[$k]=$proxy_ctl
    urls+=(--url "ws://127.0.0.1:$proxy_port")
  done
  for ((k = 0; k < servers; k++)); do start_server "$k" "$d" "$strategy" || return 2; done

  make_schedule >"$d/schedule.txt"
  # Typing lasts the schedule's waits and down times plus what restarts take (about 1 s a kill
  # or stop here; 1.6 s counted), then about 15 s without faults. A fault after typing stopped
  # fails the run (below).
  local typing_s
  typing_s=$(awk -v k="$kills" -v p="$pg_stops" '{ ms += $1; if ($2 != "cut") ms += $4 }
    END { print int(ms / 1000 + 1.6 * (k + p) + 15) }' "$d/schedule.txt")
  "$load_bin" "${urls[@]}" --clients "$clients" --docs "$docs" --rate "$rate" --duration "$typing_s" \
    --strategy "$strategy" --seed "$seed" --password lab --history "$d/history.jsonl" --pg "$db_url" \
    --drain 60 --ramp 50 --quiet >"$d/logs/load.log" 2>&1 &
  local load_pid=$!
  live[$load_pid]="load"
  local t_load
  t_load=$(date +%s)
  sleep 3  # every client connected before the first fault
  : >"$d/events.tsv"
  local gap_ms kind target down_ms
  while read -r gap_ms kind target down_ms; do
    over_time && { echo "soak.sh: --max-seconds reached during the schedule" >&2; return 1; }
    sleep "$(printf '%d.%03d' $((gap_ms / 1000)) $((gap_ms % 1000)))"
    local at
    at=$(now_ms)
    case "$kind" in
      kill)
        stop_pid "${server_pid[$target]}"
        sleep "$(printf '%d.%03d' $((down_ms / 1000)) $((down_ms % 1000)))"
        start_server "$target" "$d" "$strategy" || return 2
        ;;
      pg)
        "$src/scripts/pg.sh" crash "$pg_dir/c" || { echo "soak.sh: pg.sh crash failed" >&2; return 2; }
        sleep "$(printf '%d.%03d' $((down_ms / 1000)) $((down_ms % 1000)))"
        "$src/scripts/pg.sh" restart "$pg_dir/c" >/dev/null || { echo "soak.sh: pg.sh restart failed" >&2; return 2; }
        ;;
      cut)
        if [ "$target" -eq "$servers" ]; then proxy_command "$pg_proxy_ctl" cut; else proxy_command "${client_proxy_ctl[$target]}" cut; fi || return 2
        ;;
    esac
    printf '%s\t%s\t%s\t%s\n' "$at" "$kind" "$target" "$down_ms" >>"$d/events.tsv"
  done <"$d/schedule.txt"
  local faults_done_s=$(($(date +%s) - t_load))
  echo "   faults done after ${faults_done_s}s of ${typing_s}s typing; waiting for convlab-load" >&2
  if [ "$faults_done_s" -ge "$typing_s" ]; then
    echo "soak.sh: the faults outlasted the typing (restarts slower than counted): not a soak under load" >&2
    return 1
  fi
  local waited=0
  while alive "$load_pid"; do
    sleep 1
    waited=$((waited + 1))
    if [ "$waited" -gt $((typing_s + 240)) ] || over_time; then
      echo "soak.sh: convlab-load did not finish; $d/logs/load.log" >&2
      return 1
    fi
  done
  wait "$load_pid"
  local load_rc=$?
  unset "live[$load_pid]"
  echo "   convlab-load exit $load_rc ($(grep -c . "$d/history.jsonl") history lines)" >&2

  cp "$pg_dir/c/log" "$d/logs/postgres.log"
  audit "$d" "$db_url" "$strategy"
  local audit_rc=$?
  if [ "$self_check" = 1 ]; then
    self_check "$d" "$db_url" "$strategy" || audit_rc=1
  fi
  # Commits whose outcome the server could not know (the connection broke during COMMIT): the
  # lost acknowledgement a resubmit would duplicate.
  local in_doubt
  in_doubt=$(cat "$d"/logs/server*.log | grep -c "lost during commit")
  [ -s "$d/summary.json" ] || { echo "soak.sh: the audit wrote no summary (see $d)" >&2; return 1; }
  python3 - "$d/summary.json" "$load_rc" "$faults_done_s" "$typing_s" "$in_doubt" >>"$out/summary.tsv" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
u = s["unavailable_ms_after_kill"]
print("\t".join(str(x) for x in [s["strategy"], s["home"], s["kills"], s["pg_stops"], s["cuts"], s["kills_mid_transaction"], sys.argv[5],
      s["acked_edits"], s["log_rows"], s["missing"], s["duplicates"] + s["sql_identical_rows"], s["wrong_bytes"],
      s["sql_log_gaps"], s["converged"], u["p50"], u["p99"], u["max"], sys.argv[2], f"{sys.argv[3]}/{sys.argv[4]}"]))
EOF
  tail -n 1 "$out/summary.tsv" >&2
  [ "$audit_rc" -eq 0 ] && [ "$load_rc" -ne 2 ]
}

printf 'strategy\thome\tkills\tpg_stops\tcuts\tkills_mid_tx\tcommits_in_doubt\tacked\tlog_rows\tmissing\tduplicates\twrong_bytes\tlog_gaps\tconverged\tunavail_p50_ms\tunavail_p99_ms\tunavail_max_ms\tload_exit\tfaults_s/typing_s\n' >"$out/summary.tsv"
status=0
for s in $strategies; do
  run_strategy "$s"
  rc=$?
  stop_all  # this strategy's servers, proxies and load, then its cluster
  [ -z "$pg_dir" ] || { "$src/scripts/pg.sh" stop "$pg_dir/c"; rm -rf "$pg_dir"; pg_dir=""; }
  [ "$rc" -eq 0 ] || { status=1; echo "soak.sh: $s: audit FAILED (rc $rc; see $out/$s)" >&2; }
  [ "$rc" -ne 2 ] || { status=2; break; }
  over_time && { echo "soak.sh: --max-seconds reached" >&2; status=1; break; }
done
echo "soak.sh: $(($(date +%s) - t_begin)) s wall; $out/summary.tsv:" >&2
column -t -s $'\t' "$out/summary.tsv" >&2
exit "$status"
