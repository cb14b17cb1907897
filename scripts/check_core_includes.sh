#!/usr/bin/env bash
# Usage: check_core_includes.sh [REPO_ROOT]
# The sans-IO rooms (server/core, server/strategies) never reach for sockets, the database,
# threads, a clock or unseeded randomness (DESIGN.md, Seams; docs/architecture.md, Rooms). Fails,
# naming file and line, when one of their files includes Asio, Beast, libpqxx, <thread>, <mutex>,
# <shared_mutex>, <condition_variable>, <future> or <random>, or names a std::chrono clock
# (system_clock, steady_clock, high_resolution_clock) outside a // comment.
set -euo pipefail
root="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
cd "$root"
rooms=(server/core server/strategies)
include_re='^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](boost/asio|boost/beast|asio|beast|pqxx|libpq-fe|thread|mutex|shared_mutex|condition_variable|future|random)([/.>"])'
clock_re='(system_clock|steady_clock|high_resolution_clock)'
found=0
while IFS= read -r -d '' f; do
  if hits="$(grep -nE "$include_re" "$f")"; then
    while IFS= read -r h; do echo "$f:$h: forbidden include in a sans-IO room"; done <<<"$hits"
    found=1
  fi
  # Comments may name the clocks (to say what the core does not use); code may not.
  if hits="$(sed -E 's://.*$::' "$f" | grep -nE "$clock_re")"; then
    while IFS= read -r h; do echo "$f:$h: a std::chrono clock in a sans-IO room (use NodeIo::now_ms)"; done <<<"$hits"
    found=1
  fi
done < <(find "${rooms[@]}" -type f \( -name '*.hpp' -o -name '*.cpp' -o -name '*.h' -o -name '*.cc' \) -print0 | sort -z)
if [ "$found" -ne 0 ]; then
  echo "check_core_includes: server/core and server/strategies must stay sans-IO" >&2
  exit 1
fi
echo "check_core_includes: server/core and server/strategies are sans-IO"
