#!/usr/bin/env bash
# The CDN of the naive architecture on real processes: a throwaway nginx (Debian's package) with
# proxy_cache in front of convlab-server's GET /api/documents/{id}, on a free loopback port, with
# its own prefix, configuration, pid file, logs, cache and temporary files under DIR (never the
# machine's nginx service or /etc/nginx). Works as root (workers run as nobody) and as a user.
#   scripts/cdn.sh start DIR UPSTREAM TTL_S  -> prints the CDN's URL (http://127.0.0.1:PORT)
#   scripts/cdn.sh stop DIR
# UPSTREAM: HOST:PORT of a convlab-server, or several separated by commas (round robin).
# TTL_S: the scenario's cdn.ttl_s, how long a cacheable answer is kept; 0: nothing is cached.
#
# What it caches is what the simulated CDN (sim/cdn.cpp) caches: a 200 answer of
# /api/documents/{id}, keyed by the URL alone (whoever asks next gets it, the server's auth
# decision included: nginx does not look at the Authorization header), for TTL_S seconds,
# unless the server marked it uncacheable (Cache-Control: no-store, no-cache or private: the
# api_cache policy no_store). The TTL is the CDN's own setting, as an edge TTL overrides the
# origin's max-age at a CDN, so a scenario's ttl_s means the same in both worlds. Every answer
# carries X-Cache-Status (HIT, MISS, BYPASS, EXPIRED); access.log records it too. Everything
# else (the WebSocket, logins) passes through uncached.
set -euo pipefail
cmd="${1:-}"
[ $# -ge 2 ] || { echo "usage: $0 start DIR UPSTREAM TTL_S | stop DIR" >&2; exit 2; }
dir="$(realpath -m "$2")"
nginx=/usr/sbin/nginx
as_root() { [ "$(id -u)" -eq 0 ]; }

conf() {  # conf PORT UPSTREAM TTL_S
  local port="$1" ttl="$3" servers="" u
  IFS=, read -r -a ups <<<"$2"
  for u in "${ups[@]}"; do servers+="    server $u;"$'\n'; done
  local cache_on="proxy_cache convlab;"
  [ "$ttl" -gt 0 ] || cache_on="proxy_cache off;"
  cat <<EOF
# Written by scripts/cdn.sh; everything under $dir.
$(as_root && echo "user nobody nogroup;")
worker_processes 1;
daemon on;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  log_format cdn '\$remote_addr [\$time_local] "\$request" \$status \$upstream_cache_status';
  access_log $dir/access.log cdn;
  proxy_cache_path $dir/cache levels=1:2 keys_zone=convlab:4m max_size=256m inactive=1h use_temp_path=off;
  upstream convlab {
$servers  }
  map \$upstream_http_cache_control \$convlab_uncacheable {
    default 0;
    ~*(no-store|no-cache|private) 1;
  }
  map \$http_upgrade \$convlab_connection { default upgrade; '' ''; }
  server {
    listen 127.0.0.1:$port;
    proxy_http_version 1.1;
    proxy_set_header Host \$host;
    proxy_connect_timeout 5s;
    proxy_read_timeout 60s;
    location /api/documents/ {
      proxy_pass http://convlab;
      $cache_on
      proxy_cache_key \$request_uri;
      proxy_ignore_headers Cache-Control Expires;
      proxy_no_cache \$convlab_uncacheable;
      proxy_cache_valid 200 ${ttl}s;
      add_header X-Cache-Status \$upstream_cache_status always;
    }
    location / {
      proxy_pass http://convlab;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection \$convlab_connection;
    }
  }
}
EOF
}

case "$cmd" in
  start)
    [ $# -eq 4 ] || { echo "usage: $0 start DIR UPSTREAM TTL_S" >&2; exit 2; }
    upstream="$3"
    ttl="$4"
    [[ "$ttl" =~ ^[0-9]+$ ]] || { echo "cdn.sh: TTL_S must be a whole number of seconds, got '$ttl'" >&2; exit 2; }
    [[ "$upstream" =~ ^[A-Za-z0-9.:-]+:[0-9]+(,[A-Za-z0-9.:-]+:[0-9]+)*$ ]] ||
      { echo "cdn.sh: UPSTREAM must be HOST:PORT[,HOST:PORT...], got '$upstream'" >&2; exit 2; }
    [ -x "$nginx" ] || { echo "cdn.sh: $nginx not found (Debian's nginx package; scripts/setup.sh installs it)" >&2; exit 1; }
    [ ! -f "$dir/nginx.pid" ] || { echo "cdn.sh: $dir already has a running nginx (stop it first)" >&2; exit 1; }
    mkdir -p "$dir/tmp" "$dir/cache"
    if as_root; then
      # Workers run as nobody: they write the cache and temporary files and must reach them.
      chown -R nobody "$dir/tmp" "$dir/cache"
      chmod 755 "$dir"
      runuser -u nobody -- test -w "$dir/cache" ||
        { echo "cdn.sh: user nobody cannot reach $dir/cache (a parent directory is closed to others)" >&2; exit 1; }
    fi
    # A free loopback port below the ephemeral range (as pg.sh picks one); nginx fails to start
    # when another process took it meanwhile: then the next candidate.
    port=""
    tries=0
    for candidate in $(shuf -i 20000-32767 -n 64); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then continue; fi
      conf "$candidate" "$upstream" "$ttl" >"$dir/nginx.conf"
      if "$nginx" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" 2>>"$dir/start.log"; then
        port=$candidate
        break
      fi
      tries=$((tries + 1))
      [ "$tries" -lt 4 ] || break
      echo "cdn.sh: port $candidate: nginx did not start ($(tail -n 1 "$dir/start.log")); trying another" >&2
    done
    [ -n "$port" ] || { echo "cdn.sh: nginx did not start on any free loopback port; see $dir/start.log and $dir/error.log" >&2; exit 1; }
    echo "$port" >"$dir/port"
    echo "http://127.0.0.1:$port"
    ;;
  stop)
    [ -f "$dir/nginx.pid" ] || exit 0
    pid="$(cat "$dir/nginx.pid")"
    # QUIT: the master stops its workers and exits; bounded, then KILL (the master's group).
    kill -QUIT "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      for child in $(ps -o pid= --ppid "$pid" 2>/dev/null); do kill -KILL "$child" 2>/dev/null || true; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/nginx.pid"
    ;;
  *) echo "usage: $0 start DIR UPSTREAM TTL_S | stop DIR" >&2; exit 2 ;;
esac
