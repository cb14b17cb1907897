#!/usr/bin/env bash
# Side-by-side replay of the sequential editing traces: convlab (crdt, ot) against Yjs,
# diamond-types, Loro, Automerge and ot-text-unicode. Every (library, trace) runs in a process of
# its own, so its peak RSS is its own; each replays the trace --runs times after loading it once
# and reports the median. Prints a table and writes out/report.md and out/results.jsonl here.
#
#   bench/peers/run.sh [--traces all|NAME[,NAME...]] [--runs N] [--libs LIB[,LIB...]]
#                      [--convlab PATH] [--timeout SEC] [--whole W]
#
# Whole process: after that run, each (library, trace) runs W more times (default 3) as a
# process replaying once (--runs 1), timed from its start to its exit (start-up, loading and
# one replay: what a user timing the command sees); the table gives the median wall time and the
# median CPU time (user + system) of those processes.
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
whole=3

die() { echo "run.sh: $*" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --traces) traces="${2:?--traces needs a value}"; shift 2 ;;
    --runs) runs="${2:?--runs needs a value}"; shift 2 ;;
    --libs) libs="${2:?--libs needs a value}"; shift 2 ;;
    --convlab) convlab="${2:?--convlab needs a value}"; shift 2 ;;
    --timeout) timeout_s="${2:?--timeout needs a value}"; shift 2 ;;
    --whole) whole="${2:?--whole needs a value}"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown flag $1 (see --help)" ;;
  esac
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "--runs needs a positive integer, got '$runs'"
[[ "$whole" =~ ^[0-9]+$ ]] || die "--whole needs a non-negative integer, got '$whole'"
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

# Children's user + system CPU time in microseconds, from a file holding the output of `times`
# (second line: "XmY.YYYs XmY.YYYs").
children_cpu_us() {
  sed -n 2p "$1" | awk '{ t = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); t += a[1] * 60 + a[2] }
                          printf "%d\n", t * 1000000 }'
}

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
    # Whole process: the same command replaying once, from exec to exit, W times.
    # Wall time from exec to exit, and the CPU time (user + system) the process used, read from
    # the shell's `times` (children's totals) before and after: on a shared machine the CPU time
    # is the steadier figure.
    whole_ms=()
    if [[ "$line" != '{"error"'* ]]; then
      once=("${cmd[@]}")
      for i in "${!once[@]}"; do [[ "${once[$i]}" == "--runs" ]] && once[$((i + 1))]=1; done
      for ((w = 0; w < whole; w++)); do
        times >"$out/times0"
        t0=$(date +%s%N)
        if ! timeout "$timeout_s" "${once[@]}" >/dev/null 2>&1; then whole_ms=(); break; fi
        t1=$(date +%s%N)
        times >"$out/times1"
        cpu_us=$(( $(children_cpu_us "$out/times1") - $(children_cpu_us "$out/times0") ))
        whole_ms+=("$(( (t1 - t0) / 1000 )):$cpu_us")
      done
      rm -f "$out/times0" "$out/times1"
    fi
    node -e 'const [lib, trace, line, ...whole] = process.argv.slice(1);
             const o = JSON.parse(line); o.row_library = lib; o.row_trace = trace;
             const med = (xs) => { const s = [...xs].sort((a, b) => a - b), n = s.length;
                                   return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };
             if (whole.length) {
               o.whole_ms = whole.map((x) => Number(x.split(":")[0]) / 1000);
               o.whole_cpu_ms = whole.map((x) => Number(x.split(":")[1]) / 1000);
               o.whole_ms_median = med(o.whole_ms);
               o.whole_cpu_ms_median = med(o.whole_cpu_ms);
             }
             console.log(JSON.stringify(o));' "$lib" "$(basename "$f" .json.gz)" "$line" "${whole_ms[@]}" >>"$results"
  done
done
rm -f "$out/last-stderr.txt"

node "$here/report.mjs" "$results" "$out/report.md" "$runs" "$whole"
