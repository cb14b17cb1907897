#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for tests, on a free loopback port, never the machine's
# default one. PostgreSQL refuses to run as root, so when root the cluster belongs to `postgres`.
#   scripts/pg.sh start DIR   -> prints the connection URI on stdout
#   scripts/pg.sh stop DIR
#   scripts/pg.sh crash DIR     -> pg_ctl stop -m immediate: the server dies without a checkpoint
#   scripts/pg.sh restart DIR   -> starts a stopped or crashed cluster again on its port
#   scripts/pg.sh replica DIR PRIMARY_DIR LAG_MS
#                               -> a streaming replica of the cluster in PRIMARY_DIR (pg_basebackup
#                                  -R), applying each commit LAG_MS after the primary made it
#                                  (recovery_min_apply_delay: the scenario's database.replica_lag_ms);
#                                  prints its URI. `stop DIR` stops it like any cluster.
# Backups (database loss and restore, docs/real-faults.md "Losing the database"):
#   scripts/pg.sh start-archived DIR -> as start, with WAL archiving on: every finished WAL segment
#                                  is copied to DIR/archive (archive_mode=on, archive_command);
#                                  prints the URI
#   scripts/pg.sh backup DIR    -> a base backup of the running cluster into DIR/base (pg_basebackup,
#                                  the WAL it needs included)
#   scripts/pg.sh switch DIR    -> the archive point: closes the current WAL segment
#                                  (pg_switch_wal) and waits until it is in DIR/archive; prints the
#                                  LSN everything before which is archived
#   scripts/pg.sh destroy DIR   -> the database lost: the server killed, DIR/data deleted (DIR/base
#                                  and DIR/archive, "another disk", stay)
#   scripts/pg.sh restore DIR [LSN] -> a new DIR/data from DIR/base, recovering from DIR/archive
#                                  (restore_command) up to LSN (recovery_target_lsn) or to the end
#                                  of the archive, then started on the old port and promoted;
#                                  prints the URI
#   scripts/pg.sh fresh DIR     -> the database lost without a backup: a new empty cluster in DIR/data
#                                  (pg.sh destroy first), started on the old port; prints the URI
set -euo pipefail
cmd="$1"
dir="$(realpath -m "$2")"
bin=/usr/lib/postgresql/15/bin
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_start() {
  as_pg "$bin/pg_ctl" -D "$dir/data" -o "-p $1 -k $dir -c listen_addresses=127.0.0.1 -c fsync=on" \
    -l "$dir/log" -w start >/dev/null
}

# Starts the cluster in $dir/data on a free loopback port; prints its URI.
start_on_free_port() {
  # A free port on loopback: one nothing answers on (bash's /dev/tcp; no other tool needed),
  # below the kernel's ephemeral range (32768 and up here), where the local end of some
  # other test's outgoing connection could hold it without answering. Another process may
  # still take it between the check and the bind: then the next candidate.
  port=""
  tries=0
  for candidate in $(shuf -i 20000-32767 -n 64); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then continue; fi
    if pg_start "$candidate"; then port=$candidate; break; fi
    tries=$((tries + 1))
    [ "$tries" -lt 4 ] || break
    echo "pg.sh: port $candidate: PostgreSQL did not start ($(tail -n 1 "$dir/log" 2>/dev/null)); trying another" >&2
  done
  [ -n "$port" ] || { echo "pg.sh: PostgreSQL did not start on any free loopback port; see $dir/log" >&2; exit 1; }
  echo "$port" >"$dir/port"
  echo "postgresql://convlab@127.0.0.1:$port/postgres"
}

psql_at() { as_pg "$bin/psql" -h 127.0.0.1 -p "$(cat "$dir/port")" -U convlab -d postgres -AtX -v ON_ERROR_STOP=1 -c "$1"; }

case "$cmd" in
  start-archived)
    mkdir -p "$dir/archive"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir" "$dir/archive"
    as_pg "$bin/initdb" -D "$dir/data" -A trust -U convlab >"$dir/initdb.log" 2>&1
    # Never overwrite a segment already archived (the documented safe form of the command).
    {
      echo "wal_level = replica"
      echo "archive_mode = on"
      echo "archive_command = 'test ! -f $dir/archive/%f && cp %p $dir/archive/%f'"
    } | as_pg tee -a "$dir/data/postgresql.auto.conf" >/dev/null
    start_on_free_port
    ;;
  backup)
    [ -f "$dir/port" ] || { echo "pg.sh backup: $dir has no running cluster (no $dir/port)" >&2; exit 1; }
    as_pg rm -rf "$dir/base"
    if ! as_pg "$bin/pg_basebackup" -h 127.0.0.1 -p "$(cat "$dir/port")" -U convlab -D "$dir/base" \
      -X stream -c fast >"$dir/basebackup.log" 2>&1; then
      echo "pg.sh backup: pg_basebackup failed: $(tail -n 1 "$dir/basebackup.log")" >&2
      exit 1
    fi
    ;;
  switch)
    [ -f "$dir/port" ] || { echo "pg.sh switch: $dir has no running cluster (no $dir/port)" >&2; exit 1; }
    # pg_switch_wal returns the end of the segment it closed: everything before it is in that
    # segment or an earlier one. The segment's name, to wait for its copy in the archive.
    lsn="$(psql_at "SELECT pg_switch_wal()")"
    seg="$(psql_at "SELECT pg_walfile_name('$lsn'::pg_lsn)")"
    for _ in $(seq 1 600); do
      [ -f "$dir/archive/$seg" ] && { echo "$lsn"; exit 0; }
      sleep 0.1
    done
    echo "pg.sh switch: segment $seg was not archived within 60 s (see $dir/log)" >&2
    exit 1
    ;;
  destroy)
    [ -d "$dir/data" ] && as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    as_pg rm -rf "$dir/data"
    ;;
  restore)
    [ -d "$dir/base" ] || { echo "pg.sh restore: no base backup in $dir/base (pg.sh backup first)" >&2; exit 1; }
    [ ! -d "$dir/data" ] || { echo "pg.sh restore: $dir/data exists; restore replaces a lost cluster (pg.sh destroy first)" >&2; exit 1; }
    target="${3:-}"
    as_pg cp -a "$dir/base" "$dir/data"
    {
      echo "restore_command = 'cp $dir/archive/%f %p'"
      # Not archiving the restored cluster's WAL over the old timeline's segments.
      echo "archive_mode = off"
      if [ -n "$target" ]; then
        echo "recovery_target_lsn = '$target'"
        echo "recovery_target_inclusive = on"
        echo "recovery_target_action = 'promote'"
      fi
    } | as_pg tee -a "$dir/data/postgresql.auto.conf" >/dev/null
    as_pg touch "$dir/data/recovery.signal"
    pg_start "$(cat "$dir/port")" || { echo "pg.sh restore: PostgreSQL did not start; see $dir/log" >&2; exit 1; }
    # Recovery ends (promotion) before the server takes writes.
    for _ in $(seq 1 600); do
      [ "$(psql_at "SELECT pg_is_in_recovery()" 2>/dev/null)" = "f" ] && {
        echo "postgresql://convlab@127.0.0.1:$(cat "$dir/port")/postgres"
        exit 0
      }
      sleep 0.1
    done
    echo "pg.sh restore: still recovering after 60 s; see $dir/log" >&2
    exit 1
    ;;
  fresh)
    [ -f "$dir/port" ] || { echo "pg.sh fresh: $dir never had a cluster (no $dir/port)" >&2; exit 1; }
    [ ! -d "$dir/data" ] || { echo "pg.sh fresh: $dir/data exists; fresh replaces a lost cluster (pg.sh destroy first)" >&2; exit 1; }
    as_pg "$bin/initdb" -D "$dir/data" -A trust -U convlab >"$dir/initdb.log" 2>&1
    pg_start "$(cat "$dir/port")" || { echo "pg.sh fresh: PostgreSQL did not start; see $dir/log" >&2; exit 1; }
    echo "postgresql://convlab@127.0.0.1:$(cat "$dir/port")/postgres"
    ;;
  start)
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
    as_pg "$bin/initdb" -D "$dir/data" -A trust -U convlab >"$dir/initdb.log" 2>&1
    start_on_free_port
    ;;
  replica)
    [ $# -eq 4 ] || { echo "usage: $0 replica DIR PRIMARY_DIR LAG_MS" >&2; exit 2; }
    primary="$(realpath -m "$3")"
    lag_ms="$4"
    [[ "$lag_ms" =~ ^[0-9]+$ ]] || { echo "pg.sh replica: LAG_MS must be a whole number of milliseconds, got '$lag_ms'" >&2; exit 2; }
    [ -f "$primary/port" ] || { echo "pg.sh replica: $primary has no running cluster (no $primary/port; start it with pg.sh start)" >&2; exit 1; }
    # initdb's defaults already allow it: wal_level=replica, max_wal_senders=10, and pg_hba.conf
    # lines for replication from 127.0.0.1 with the method given (trust).
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
    # -R writes standby.signal and primary_conninfo; -X stream copies the WAL made meanwhile.
    if ! as_pg "$bin/pg_basebackup" -h 127.0.0.1 -p "$(cat "$primary/port")" -U convlab -D "$dir/data" \
      -R -X stream -c fast >"$dir/basebackup.log" 2>&1; then
      echo "pg.sh replica: pg_basebackup from $primary failed: $(tail -n 1 "$dir/basebackup.log")" >&2
      exit 1
    fi
    # The delay counts from each commit's timestamp on the primary (same machine: same clock).
    echo "recovery_min_apply_delay = '${lag_ms}ms'" | as_pg tee -a "$dir/data/postgresql.auto.conf" >/dev/null
    start_on_free_port
    ;;
  stop)
    [ -d "$dir/data" ] && as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    ;;
  crash)
    as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
    ;;
  restart)
    pg_start "$(cat "$dir/port")"
    echo "postgresql://convlab@127.0.0.1:$(cat "$dir/port")/postgres"
    ;;
  *) echo "usage: $0 start|start-archived|stop|crash|restart|backup|switch|destroy|fresh DIR | restore DIR [LSN] | replica DIR PRIMARY_DIR LAG_MS" >&2; exit 2 ;;
esac
