#!/usr/bin/env bash
# Installs what convlab needs from Debian 12's archive (only what is missing), then configures
# and builds one preset. Usage: scripts/setup.sh [PRESET]   (default: release)
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-release}"
shift || true
targets=()
for t in "$@"; do targets+=(--target "$t"); done

# prometheus: promtool and the server, for the OpenMetrics backfill test, dashboards/ checks and
# the server's /metrics checks.
packages=(
  g++ cmake ninja-build ccache pkg-config git
  libboost1.81-all-dev libboost-json1.81-dev libboost-url1.81-dev
  libpqxx-dev librapidcheck-dev libbenchmark-dev libgtest-dev prometheus-cpp-dev libyaml-cpp-dev
  zlib1g-dev libssl-dev postgresql-15
  chromium    # the HTML report's page test
  prometheus  # promtool and the Prometheus test
  valgrind    # cli_runs_under_valgrind
  nginx       # scripts/cdn.sh: the CDN (proxy_cache) on real processes, staleness_tests
  faketime    # libfaketime: server clock faults on real processes (faults/real/clock.hpp, e2e RealFaults)
  redis-server libhiredis-dev  # bus: redis — scripts/redis.sh's throwaway Redis; hiredis (0.14), its C client
  python3     # scripts/soak_audit.py: the chaos soak's audit (ctest soak_short)
  clang libclang-rt-14-dev  # libFuzzer: scripts/fuzz.sh, the fuzz stage of scripts/test.sh
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Node and npm may come from elsewhere than Debian's packages (a new machine here has Node 20
# with its own npm); Debian's `npm` conflicts with that, so look for the commands instead.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
    exit 2
  fi
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The HTML reports inline Vega, Vega-Lite and vega-embed from web/node_modules (the build
# embeds them) and tests/reports drives Debian's chromium with playwright-core from there; both
# pinned by web/package-lock.json. `npm ci` again only when the lock file changed.
if [ ! -f web/node_modules/.package-lock.json ] || ! cmp -s web/package-lock.json web/node_modules/.convlab-lock; then
  echo "setup: npm ci in web/" >&2
  (cd web && npm ci --no-audit --no-fund --loglevel=error >/dev/null && cp package-lock.json node_modules/.convlab-lock)
fi
# bench/peer-servers (ShareDB, Hocuspocus, the y-websocket server and the measuring client;
# tests/bench's peer_servers test runs them): pinned by its package-lock.json, the same way.
if [ ! -f bench/peer-servers/node_modules/.package-lock.json ] ||
   ! cmp -s bench/peer-servers/package-lock.json bench/peer-servers/node_modules/.convlab-lock; then
  echo "setup: npm ci in bench/peer-servers/" >&2
  (cd bench/peer-servers && npm ci --no-audit --no-fund --loglevel=error >/dev/null &&
   cp package-lock.json node_modules/.convlab-lock)
fi

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake --preset "$preset" "${launcher[@]}" >/dev/null
# Two jobs: the machines this runs on have two cores, and g++ on test files takes ~1 GB each.
cmake --build --preset "$preset" -j 2 "${targets[@]}"
