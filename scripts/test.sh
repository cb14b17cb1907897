#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds (warnings are errors), starts the
# services the tests need (a throwaway PostgreSQL on a free loopback port), runs every test
# with ctest and stops the services. The last line is ctest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh ci

pgdir="$(mktemp -d /tmp/convlab-pg.XXXXXX)"
stop_services() { scripts/pg.sh stop "$pgdir" >/dev/null 2>&1 || true; rm -rf "$pgdir"; }
trap stop_services EXIT
CONVLAB_PG_URL="$(scripts/pg.sh start "$pgdir")"
export CONVLAB_PG_URL
echo "test: throwaway PostgreSQL at $CONVLAB_PG_URL" >&2

ctest --preset ci -j 2 --timeout 900
