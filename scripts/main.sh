#!/usr/bin/env bash
# The main job: builds convlab, then runs the naive architecture's scenarios (scenarios/naive)
# under every strategy on the same seeds, prints the comparison and writes out/naive/report.json
# and report.md. Extra arguments go to `convlab run` (e.g. --seeds 10, --strategy crdt).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh release
exec ./build/release/cli/convlab run scenarios/naive --out out/naive "$@"
