#!/usr/bin/env bash
# A throwaway Redis (Debian's redis-server 7.0) for tests and real runs of `bus: redis`, on a free
# loopback port, never the machine's default instance: its own configuration, pid file, log and
# (empty) data directory under DIR, no persistence (pub/sub keeps nothing), daemonised.
#   scripts/redis.sh start DIR    -> prints the URL (redis://127.0.0.1:PORT) on stdout
#   scripts/redis.sh stop DIR     -> stops it (SHUTDOWN NOSAVE), waits until the process is gone
#   scripts/redis.sh crash DIR    -> kill -9: subscriptions and messages in flight are lost
#   scripts/redis.sh restart DIR  -> starts a stopped or crashed instance again on its port; prints the URL
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 start|stop|crash|restart DIR" >&2; exit 2; }
cmd="$1"
dir="$(realpath -m "$2")"
server=/usr/bin/redis-server
cli=/usr/bin/redis-cli
[ -x "$server" ] || { echo "redis.sh: $server not found (Debian package redis-server; scripts/setup.sh installs it)" >&2; exit 1; }

conf() {  # the instance's configuration on port $1
  cat >"$dir/redis.conf" <<CONF
bind 127.0.0.1
port $1
daemonize yes
pidfile $dir/redis.pid
logfile $dir/log
dir $dir
save ""
appendonly no
protected-mode yes
CONF
}

ping() { "$cli" -h 127.0.0.1 -p "$1" ping 2>/dev/null | grep -q PONG; }

run_on() {  # starts on port $1 and waits for PONG (10 s at most)
  conf "$1"
  rm -f "$dir/redis.pid"
  "$server" "$dir/redis.conf" >/dev/null 2>&1 || return 1
  for _ in $(seq 1 100); do
    ping "$1" && return 0
    sleep 0.1
  done
  return 1
}

wait_gone() {
  local pid="$1"
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  echo "redis.sh: process $pid still running after 10 s" >&2
  return 1
}

case "$cmd" in
  start)
    mkdir -p "$dir"
    port=""
    tries=0
    # A free loopback port below the ephemeral range, as scripts/pg.sh picks one.
    for candidate in $(shuf -i 20000-32767 -n 64); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then continue; fi
      if run_on "$candidate"; then port=$candidate; break; fi
      tries=$((tries + 1))
      [ "$tries" -lt 4 ] || break
      echo "redis.sh: port $candidate: redis-server did not start ($(tail -n 1 "$dir/log" 2>/dev/null)); trying another" >&2
    done
    [ -n "$port" ] || { echo "redis.sh: redis-server did not start on any free loopback port; see $dir/log" >&2; exit 1; }
    echo "$port" >"$dir/port"
    echo "redis://127.0.0.1:$port"
    ;;
  stop)
    [ -f "$dir/redis.pid" ] || exit 0
    pid="$(cat "$dir/redis.pid")"
    "$cli" -h 127.0.0.1 -p "$(cat "$dir/port")" shutdown nosave >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
    wait_gone "$pid"
    rm -f "$dir/redis.pid"
    ;;
  crash)
    [ -f "$dir/redis.pid" ] || { echo "redis.sh crash: $dir has no running instance" >&2; exit 1; }
    pid="$(cat "$dir/redis.pid")"
    kill -9 "$pid"
    wait_gone "$pid"
    rm -f "$dir/redis.pid"
    ;;
  restart)
    [ -f "$dir/port" ] || { echo "redis.sh restart: $dir was never started (no $dir/port)" >&2; exit 1; }
    port="$(cat "$dir/port")"
    run_on "$port" || { echo "redis.sh restart: redis-server did not start on port $port; see $dir/log" >&2; exit 1; }
    echo "redis://127.0.0.1:$port"
    ;;
  *) echo "usage: $0 start|stop|crash|restart DIR" >&2; exit 2 ;;
esac
