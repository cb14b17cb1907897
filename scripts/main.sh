#!/usr/bin/env bash
# The main job: builds the `convlab` command alone (not the tests or benchmarks), then runs the
# naive architecture's scenarios (scenarios/naive) under every strategy on the same seeds, prints
# the comparison and writes out/naive/report.json, report.md and index.html. Extra arguments go to `convlab run` (e.g. --seeds 10, --strategy crdt).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh release convlab
exec ./build/release/cli/convlab run scenarios/naive --out out/naive "$@"
