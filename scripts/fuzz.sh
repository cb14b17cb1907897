#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS] [TARGET...]: builds the fuzz preset (clang, libFuzzer, ASan + UBSan;
# docs/fuzzing.md) and runs each target (all of them by default) for SECONDS (default 30) on its
# seed corpus (fuzz/corpus/TARGET), its regression inputs (fuzz/regressions/TARGET) and its
# dictionary (fuzz/dict/TARGET.dict). What a run finds is kept in build/fuzz/corpus/TARGET (new
# inputs) and build/fuzz/crashes/TARGET/ (a crashing input: crash-*, leak-*, timeout-*, oom-*).
# Prints executions per second per target; exits 1 when any target crashed, naming the inputs.
# Environment: JOBS (build parallelism, default 2), FUZZ_ARGS (more libFuzzer flags).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-30}"
[[ $# -gt 0 ]] && shift
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [[ "$seconds" -eq 0 ]]; then
  echo "fuzz: SECONDS must be a positive integer, got '$seconds'" >&2
  exit 2
fi

cmake --preset fuzz >/dev/null
build_start=$(date +%s)
cmake --build build/fuzz -j "${JOBS:-2}"
echo "fuzz: build took $(($(date +%s) - build_start)) s" >&2

all=$(sed -n 's/^set(CONVLAB_FUZZ_TARGETS \(.*\))$/\1/p' fuzz/CMakeLists.txt)
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && read -r -a targets <<<"$all"

failed=()
printf '%-14s %10s %12s %8s %s\n' target seconds executions exec/s result
for t in "${targets[@]}"; do
  bin="build/fuzz/fuzz/fuzz_$t"
  if [[ ! -x "$bin" ]]; then
    echo "fuzz: no target '$t' (targets: $all)" >&2
    exit 2
  fi
  work="build/fuzz/corpus/$t"
  crashes="build/fuzz/crashes/$t"
  mkdir -p "$work" "$crashes" "fuzz/corpus/$t"
  dirs=("$work" "fuzz/corpus/$t")
  [[ -d "fuzz/regressions/$t" ]] && dirs+=("fuzz/regressions/$t")
  dict=()
  [[ -f "fuzz/dict/$t.dict" ]] && dict=("-dict=fuzz/dict/$t.dict")
  log="build/fuzz/$t.log"
  rc=0
  # shellcheck disable=SC2086
  "$bin" -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$crashes/" "${dict[@]}" ${FUZZ_ARGS:-} "${dirs[@]}" >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  if [[ $rc -eq 0 ]]; then
    result=ok
  else
    result="CRASH (exit $rc; log $log)"
    failed+=("$t")
  fi
  printf '%-14s %10s %12s %8s %s\n' "$t" "$seconds" "${runs:-?}" "${rate:-?}" "$result"
done

if [[ ${#failed[@]} -gt 0 ]]; then
  for t in "${failed[@]}"; do
    echo "fuzz: $t crashed; inputs kept:" >&2
    ls -1 "build/fuzz/crashes/$t" >&2
    grep -m 5 -E 'ERROR|fuzz property broken|runtime error|assertion failed' "build/fuzz/$t.log" >&2 || true
  done
  echo "fuzz: replay one with build/fuzz/fuzz/fuzz_TARGET FILE; fix it, then add it to fuzz/regressions/TARGET/" >&2
  exit 1
fi
