#!/usr/bin/env bash
# Side-by-side replay of the sequential editing traces: convlab (crdt, ot) against Yjs,
# diamond-types, Loro, Automerge and ot-text-unicode. Every (library, trace) runs in a process of
# its own, so its peak RSS is its own; each replays the trace --runs times after loading it once
# and reports the median. Prints a table and writes out/report.md and out/results.jsonl here.
#
#   bench/peers/run.sh [--traces all|NAME[,NAME...]] [--runs N] [--libs LIB[,LIB...]]
#                      [--convlab PATH] [--timeout SEC]
#
# LIB: convlab-crdt convlab-ot yjs yjs-commonjs diamond-types loro automerge ot-text-unicode node-baseline
# (default: all of them but yjs-commonjs, Yjs's CommonJS build, kept to show what it costs). NAME: a file stem in <shared>/traces/sequential_traces, e.g.
# automerge-paper. The JS packages are installed with `npm ci` from the committed lock file.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
shared="${CONVLAB_SHARED:-$repo/../shared}"
traces_dir="$shared/traces/sequential_traces"
traces="all"
runs=5
libs="convlab-crdt,convlab-ot,yjs,diamond-types,loro,automerge,ot-text-unicode,node-baseline"
convlab="${CONVLAB:-}"
timeout_s=900

die() { echo "run.sh: $*" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --traces) traces="${2:?--traces needs a value}"; shift 2 ;;
    --runs) runs="${2:?--runs needs a value}"; shift 2 ;;
    --libs) libs="${2:?--libs needs a value}"; shift 2 ;;
    --convlab) convlab="${2:?--convlab needs a value}"; shift 2 ;;
    --timeout) timeout_s="${2:?--timeout needs a value}"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown flag $1 (see --help)" ;;
  esac
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "--runs needs a positive integer, got '$runs'"
[[ -d "$traces_dir" ]] || die "$traces_dir: no such directory (set CONVLAB_SHARED)"

if [[ -z "$convlab" ]]; then
  for c in "$repo/build/release/cli/convlab" "$repo/build/ci/cli/convlab" "$repo/build/cli/cli/convlab"; do
    if [[ -x "$c" ]]; then convlab="$c"; break; fi
  done
fi
if [[ ",$libs," == *",convlab-"* ]]; then
  [[ -n "$convlab" && -x "$convlab" ]] ||
    die "no convlab binary: build it (cmake --preset release && cmake --build --preset release) or pass --convlab PATH"
fi

trace_files=()
if [[ "$traces" == "all" ]]; then
  for f in "$traces_dir"/*.json.gz; do trace_files+=("$f"); done
else
  IFS=',' read -ra names <<<"$traces"
  for n in "${names[@]}"; do
    f="$traces_dir/$n.json.gz"
    [[ -f "$f" ]] || die "$f: no such trace"
    trace_files+=("$f")
  done
fi

echo "installing the peer libraries (npm ci)..." >&2
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2)

out="$here/out"
mkdir -p "$out"
results="$out/results.jsonl"
: >"$results"

IFS=',' read -ra lib_list <<<"$libs"
for f in "${trace_files[@]}"; do
  for lib in "${lib_list[@]}"; do
    echo "  $(basename "$f" .json.gz) / $lib ..." >&2
    case "$lib" in
      convlab-*) cmd=("$convlab" trace replay "$f" --strategy "${lib#convlab-}" --runs "$runs" --json) ;;
      node-baseline) cmd=(node "$here/peers.mjs" none "$f" --runs "$runs") ;;
      *) cmd=(node "$here/peers.mjs" "$lib" "$f" --runs "$runs") ;;
    esac
    set +e
    line="$(timeout "$timeout_s" "${cmd[@]}" 2>"$out/last-stderr.txt" | tail -n 1)"
    rc=${PIPESTATUS[0]}
    set -e
    if [[ -z "$line" ]]; then
      why="exit $rc"
      [[ $rc -eq 124 ]] && why="timed out after ${timeout_s} s"
      err="$(tail -n 1 "$out/last-stderr.txt" | tr -d '"\\')"
      line="{\"error\": \"$why: $err\"}"
    fi
    node -e 'const [lib, trace, line] = process.argv.slice(1);
             const o = JSON.parse(line); o.row_library = lib; o.row_trace = trace;
             console.log(JSON.stringify(o));' "$lib" "$(basename "$f" .json.gz)" "$line" >>"$results"
  done
done
rm -f "$out/last-stderr.txt"

node "$here/report.mjs" "$results" "$out/report.md" "$runs"
