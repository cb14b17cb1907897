#!/usr/bin/env bash
# The main job: builds convlab, then compares the strategies. Until the simulator lands, that
# is every editing trace replayed under every strategy, locally and relayed through the server.
# Writes out/compare/report.md and report.json.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh release
exec ./build/release/cli/convlab trace compare --out out/compare "$@"
