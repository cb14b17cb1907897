#!/usr/bin/env bash
# Database loss and restore (issue 18, item 5), on real processes: a PostgreSQL cluster with WAL
# archiving (scripts/pg.sh start-archived), two convlab-servers on it typed at by convlab-load,
# a base backup, more typing, the archive point (pg.sh switch), more typing, then the cluster
# destroyed (pg.sh destroy), restored from the backup and the archive (pg.sh restore), the
# servers started again on it and typed at once more.
# Passes when every change-log record committed before the archive point is back, byte for
# byte (every edit acknowledged by then: acknowledgements wait for the commit, ack: after_commit),
# the records committed after it are gone (counted: the loss the archive interval bounds), and
# the restored servers take new edits on top.
#   Usage: backup_restore.sh SOURCE_DIR CONVLAB_SERVER CONVLAB_LOAD
set -euo pipefail
src="$1"
server_bin="$2"
load_bin="$3"
psql=/usr/lib/postgresql/15/bin/psql
work="$(mktemp -d /tmp/convlab-backup.XXXXXX)"
chmod 755 "$work"  # the cluster runs as postgres when this runs as root (pg.sh)
pg="$work/pg"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  bash "$src/scripts/pg.sh" stop "$pg" || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "backup_restore: FAIL: $*" >&2; exit 1; }

url="$(bash "$src/scripts/pg.sh" start-archived "$pg")"
sql() { "$psql" "$url" -AtX -v ON_ERROR_STOP=1 -c "$1"; }

# Starts node $1 of two; sets port_$1.
start_server() {
  local id="$1"
  cat >"$work/server$id.yaml" <<EOF
listen: 127.0.0.1:0
database: "$url"
strategy: crdt
node_id: $id
nodes: 2
jwt:
  secret: "backup-restore-test-secret-0123456789abcdef"
lab_password: lab
EOF
  mkfifo "$work/out$id"
  "$server_bin" --config "$work/server$id.yaml" >"$work/out$id" 2>"$work/server$id.err" &
  pids+=($!)
  local line
  read -r -t 60 line <"$work/out$id" || fail "server $id did not start: $(tail -n 3 "$work/server$id.err")"
  rm -f "$work/out$id"
  [[ "$line" =~ ^listening\ 127\.0\.0\.1:([0-9]+)$ ]] || fail "server $id said '$line'"
  eval "port_$id=${BASH_REMATCH[1]}"
}
stop_servers() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
# Typing for $1 seconds with seed $2; every edit must be acknowledged (the load exits 0).
type_for() {
  "$load_bin" --url "ws://127.0.0.1:$port_0" --url "ws://127.0.0.1:$port_1" --clients 6 --docs 3 --rate 5 \
    --duration "$1" --seed "$2" --quiet >"$work/load$2.log" 2>&1 || fail "convlab-load (seed $2) failed: $(tail -n 5 "$work/load$2.log")"
}
records() { sql "SELECT doc || ' ' || seq || ' ' || author || ' ' || md5(payload) FROM changes ORDER BY doc, seq"; }

start_server 0
start_server 1
type_for 3 1
bash "$src/scripts/pg.sh" backup "$pg"
type_for 3 2
# Every acknowledged edit so far is committed: the records before the archive point.
records >"$work/before.txt"
lsn="$(bash "$src/scripts/pg.sh" switch "$pg")"
type_for 3 3
records >"$work/end.txt"
before=$(wc -l <"$work/before.txt")
total=$(wc -l <"$work/end.txt")
[ "$before" -gt 0 ] || fail "no records before the archive point"
[ "$total" -gt "$before" ] || fail "no records after the archive point ($total records in all)"

stop_servers
bash "$src/scripts/pg.sh" destroy "$pg"
url="$(bash "$src/scripts/pg.sh" restore "$pg")"
records >"$work/restored.txt"
restored=$(wc -l <"$work/restored.txt")
missing=$(comm -23 <(sort "$work/before.txt") <(sort "$work/restored.txt") | wc -l)
lost=$((total - restored))
echo "backup_restore: archive point $lsn: $before records before it, $total at the loss; restored $restored;" \
  "lost before the archive point: $missing; lost after it: $lost of $((total - before))"
[ "$missing" -eq 0 ] || fail "$missing records committed before the archive point are missing after the restore"
# Nothing after the archive point was archived (no segment switch after it), so it is all lost;
# a restore that had more would have replayed WAL the archive never held.
cmp -s "$work/before.txt" "$work/restored.txt" || fail "the restored log is not the log at the archive point"
[ "$lost" -gt 0 ] || fail "the records after the archive point were not lost: the test did not test"

# The servers start on the restored database and take edits on top of it.
start_server 0
start_server 1
type_for 2 4
records >"$work/after.txt"
grown=$(wc -l <"$work/after.txt")
[ "$grown" -gt "$restored" ] || fail "no new records after the restore"
missing_after=$(comm -23 <(sort "$work/restored.txt") <(sort "$work/after.txt") | wc -l)
[ "$missing_after" -eq 0 ] || fail "$missing_after restored records vanished once the servers ran again"
echo "backup_restore: ok; $((grown - restored)) new records on the restored database"
