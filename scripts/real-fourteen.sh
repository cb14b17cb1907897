#!/usr/bin/env bash
# The fourteen scenarios of the naive design on real processes next to the simulator (issue 15):
# each scenario runs with `convlab run --real` (PostgreSQL, convlab-servers, convlab-load; one run
# at a time, shortened by the runner to 60 s of typing where longer) and with `convlab run` (the
# simulator), on the same seeds and strategies; then a table compares every expectation's
# verdict in the two worlds. A scenario the real runner refuses (a kind of fault or workload with
# no realisation on real processes, or a world larger than this machine runs honestly) gets one
# row saying why, in the runner's own words.
#
#   scripts/real-fourteen.sh [--build DIR] [--seeds N|A..B] [--strategy S]... [--out DIR] [SCENARIO...]
#
# Defaults: build/ci, seed 1, every strategy of each scenario, out/real-fourteen, every
# scenarios/naive/*.yaml. Writes OUT/fourteen.md (the table), OUT/real/NAME/ and OUT/sim/NAME/
# (each world's report.json, report.md, index.html; the real runs' histories and logs under
# OUT/real/NAME/runs/), OUT/real/NAME.log (the runner's progress). Not in CI: the whole of it takes
# about half an hour here (README.md, "The fourteen on real processes").
# Exit: 0 every expectation has the same verdict in both worlds, 1 some differ, 2 bad flags or a
# failure to run.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build/ci
seeds=1
out=$root/out/real-fourteen
strategies=()
scenarios=()
while (($#)); do
  case $1 in
    --build) build=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --strategy) strategies+=(--strategy "$2"); shift 2 ;;
    -h|--help) sed -n 2,18p "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "real-fourteen.sh: unknown flag $1 (see --help)" >&2; exit 2 ;;
    *) scenarios+=("$1"); shift ;;
  esac
done
((${#scenarios[@]})) || scenarios=("$root"/scenarios/naive/*.yaml)
convlab=$build/cli/convlab
[[ -x $convlab ]] || { echo "real-fourteen.sh: $convlab: not built (cmake --build $build --target convlab convlab-server convlab-load convlab-faultproxy)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "real-fourteen.sh: python3 is needed for the table (scripts/setup.sh installs it)" >&2; exit 2; }

mkdir -p "$out/real" "$out/sim"
: >"$out/refused.tsv"
start=$(date +%s)
n=${#scenarios[@]}
i=0
for file in "${scenarios[@]}"; do
  i=$((i + 1))
  name=$(basename "$file" .yaml)
  t0=$(date +%s)
  echo "[$i/$n] $name: simulator (seeds $seeds)"
  code=0
  "$convlab" run "$file" --seeds "$seeds" "${strategies[@]}" --out "$out/sim/$name" >"$out/sim/$name.txt" 2>"$out/sim/$name.log" || code=$?
  if ((code == 2)); then
    echo "real-fourteen.sh: the simulator refused $file: $(tail -1 "$out/sim/$name.log")" >&2
    exit 2
  fi
  echo "[$i/$n] $name: real processes (seeds $seeds; progress in $out/real/$name.log)"
  code=0
  "$convlab" run --real "$file" --seeds "$seeds" "${strategies[@]}" --out "$out/real/$name" >"$out/real/$name.txt" 2>"$out/real/$name.log" || code=$?
  if ((code == 130)); then
    echo "real-fourteen.sh: interrupted" >&2
    exit 130
  fi
  if ((code == 2)); then
    # The runner refuses before anything starts; its last stderr line says why.
    reason=$(grep -m1 '^convlab: run --real: ' "$out/real/$name.log" | sed 's/^convlab: run --real: //') || true
    [[ -n $reason ]] || reason="could not run: $(tail -1 "$out/real/$name.log")"
    reason=${reason//$root\//}
    printf '%s\t%s\n' "$name" "$reason" >>"$out/refused.tsv"
    echo "[$i/$n] $name: refused: $reason"
  else
    echo "[$i/$n] $name: $(grep -E '^[0-9]+ expectations? held' "$out/real/$name.txt" | tail -1) ($(($(date +%s) - t0)) s)"
  fi
done

wall=$(($(date +%s) - start))
code=0
python3 - "$out" "$wall" "$seeds" <<'EOF' || code=$?
import json, os, sys

out, wall, seeds = sys.argv[1], int(sys.argv[2]), sys.argv[3]
refused = {}
for line in open(os.path.join(out, "refused.tsv")):
    name, reason = line.rstrip("\n").split("\t", 1)
    refused[name] = reason

def verdicts(path):
    if not os.path.exists(path):
        return None
    got = {}
    for e in json.load(open(path))["expectations"]:
        got[(e["variant"], e["strategy"], e["metric"], e["expect"])] = e
    return got

def fmt(e):
    v = e["actual"]
    v = ("%d" % v) if float(v).is_integer() else ("%.4g" % v)
    return ("held" if e["held"] else "FAILED") + " (" + v + ")"

rows, same, differ = [], 0, 0
names = sorted(n for n in os.listdir(os.path.join(out, "sim")) if os.path.isdir(os.path.join(out, "sim", n)))
for name in names:
    sim = verdicts(os.path.join(out, "sim", name, "report.json")) or {}
    if name in refused:
        held = sum(1 for e in sim.values() if e["held"])
        rows.append(f"| {name} | | | simulator: {held} of {len(sim)} held | not run: {refused[name]} | — |")
        continue
    real = verdicts(os.path.join(out, "real", name, "report.json")) or {}
    for key in sorted(sim):
        variant, strategy, metric, expect = key
        s, r = sim[key], real.get(key)
        if r is None:
            verdict = "no real run"
            differ += 1
        elif r["held"] == s["held"]:
            verdict = "same"
            same += 1
        else:
            verdict = "**differs**"
            differ += 1
        rows.append(f"| {name} | {variant} / {strategy} | `{metric}: {expect}` | {fmt(s)} | {fmt(r) if r else '—'} | {verdict} |")

m, s = divmod(wall, 60)
lines = [
    f"seeds {seeds}; {same + differ} expectations on real processes: {same} with the simulator's verdict, "
    f"{differ} not; {len(refused)} of {len(names)} scenarios not run on real processes; wall time {m} min {s} s",
    "",
    "| scenario | variant / strategy | expectation | simulator (mean) | real (mean) | verdict |",
    "|---|---|---|---|---|---|",
] + rows
text = "\n".join(lines) + "\n"
open(os.path.join(out, "fourteen.md"), "w").write(text)
print()
print(text, end="")
sys.exit(1 if differ else 0)
EOF
echo "wrote $out/fourteen.md"
exit $code
