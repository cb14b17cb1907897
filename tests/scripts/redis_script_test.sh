#!/usr/bin/env bash
# scripts/redis.sh (the throwaway Redis of `bus: redis`): start answers PING on the port its URL
# names and never on Redis's default 6379; a message published reaches a subscriber; crash kills
# it (the subscriber's connection ends, nothing answers), restart brings it back on the same
# port, stop leaves no process. Without redis-server: skipped (77), a failure under CI=true.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
if [ ! -x /usr/bin/redis-server ] || [ ! -x /usr/bin/redis-cli ]; then
  echo "redis_script: redis-server is not installed (scripts/setup.sh installs it)" >&2
  [ "${CI:-}" = "true" ] && exit 1
  exit 77
fi
dir="$(mktemp -d)"
cleanup() { "$root/scripts/redis.sh" stop "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
fail() { echo "redis_script: $*" >&2; exit 1; }

url="$("$root/scripts/redis.sh" start "$dir")"
[[ "$url" =~ ^redis://127\.0\.0\.1:([0-9]+)$ ]] || fail "start printed '$url', not redis://127.0.0.1:PORT"
port="${BASH_REMATCH[1]}"
[ "$port" != 6379 ] || fail "started on Redis's default port"
[ "$(redis-cli -p "$port" ping)" = PONG ] || fail "no PONG on $port"
pid="$(cat "$dir/redis.pid")"

# Pub/sub through it: a subscriber gets what is published while it is subscribed.
timeout 10 redis-cli -p "$port" subscribe convlab-test >"$dir/sub.out" 2>&1 &
sub=$!
for _ in $(seq 1 100); do
  [ "$(redis-cli -p "$port" pubsub numsub convlab-test | tail -n 1)" = 1 ] && break
  sleep 0.1
done
[ "$(redis-cli -p "$port" publish convlab-test hello)" = 1 ] || fail "publish reached no subscriber"
for _ in $(seq 1 100); do grep -q hello "$dir/sub.out" && break; sleep 0.1; done
grep -q hello "$dir/sub.out" || fail "the subscriber did not get the message: $(cat "$dir/sub.out")"

# crash: the process dies at once and the subscriber's connection with it.
"$root/scripts/redis.sh" crash "$dir"
kill -0 "$pid" 2>/dev/null && fail "redis-server $pid still running after crash"
wait "$sub" || true
redis-cli -p "$port" ping >/dev/null 2>&1 && fail "something still answers on $port after crash"

# restart: the same port again, empty (pub/sub keeps nothing).
[ "$("$root/scripts/redis.sh" restart "$dir")" = "$url" ] || fail "restart printed another URL"
[ "$(redis-cli -p "$port" ping)" = PONG ] || fail "no PONG after restart"
[ "$(redis-cli -p "$port" pubsub numsub convlab-test | tail -n 1)" = 0 ] || fail "a subscription survived the crash"

pid="$(cat "$dir/redis.pid")"
"$root/scripts/redis.sh" stop "$dir"
kill -0 "$pid" 2>/dev/null && fail "redis-server $pid still running after stop"
echo "redis_script: ok (port $port)"
