#!/usr/bin/env bash
# bench/peer-servers end to end, a few seconds per server, so that the instrument does not rot:
# the one client (client.mjs) against convlab-server (ot, crdt), ShareDB, Hocuspocus and the
# y-websocket server, each on its own throwaway PostgreSQL (run.sh). Every edit a writer typed in
# the steady state must reach the document's observer, the figures must parse as numbers (CPU
# per edit of the server and PostgreSQL, the client's own, latencies), acknowledgements must
# come back from every server that sends them and from none that does not; and sweep.sh's table
# must name the rate that held. Not the sweep itself: that is a benchmark (bench/README.md).
#   peer_servers_test.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
src="$1"
build="$2"
. "$src/tests/support/skip.sh"
dir="$src/bench/peer-servers"
command -v node >/dev/null || skip_or_fail "node is not installed (scripts/setup.sh installs Node and npm)"
[ -d "$dir/node_modules/sharedb" ] && [ -d "$dir/node_modules/@hocuspocus/server" ] ||
  skip_or_fail "$dir/node_modules is missing: scripts/setup.sh runs npm ci there (or: cd $dir && npm ci)"
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 ||
  skip_or_fail "PostgreSQL's server binaries are not installed (Debian package postgresql-15; scripts/setup.sh installs them)"
# One throwaway cluster for every run (a fresh database each): initdb per run would take most
# of the time.
pgdir="$(mktemp -d /tmp/convlab-peersrv-test.XXXX)"
chmod 755 "$pgdir"
trap '"$src/scripts/pg.sh" stop "$pgdir/pg"; rm -rf "$pgdir"' EXIT
"$src/scripts/pg.sh" start "$pgdir/pg" >/dev/null || { echo "FAIL: scripts/pg.sh start did not start PostgreSQL"; exit 1; }
export BUILD="$build" WARMUP=1 DRAIN=3 PG_DIR="$pgdir/pg"
fail=0
servers=(convlab-ot convlab-crdt sharedb hocuspocus y-websocket)
# The five runs at once (each its own database and server): the test is about the instrument's
# figures being there and right, not about their size, and typing takes wall time.
pids=()
for server in "${servers[@]}"; do
  "$dir/run.sh" "$server" 8 4 4 2.5 >"$pgdir/$server.out" 2>&1 &
  pids+=($!)
done
for k in "${!servers[@]}"; do
  server="${servers[$k]}"
  wait "${pids[$k]}"
  code=$?
  out="$(cat "$pgdir/$server.out")"
  line="$(tail -n 1 <<<"$out")"
  verdict="$(node -e '
    const [server, line] = process.argv.slice(1);
    let o;
    try { o = JSON.parse(line); } catch (e) { console.log(`the last line is not JSON (${e.message})`); process.exit(0); }
    const bad = [];
    const num = (k) => { if (typeof o[k] !== "number" || !Number.isFinite(o[k])) bad.push(`${k} is ${JSON.stringify(o[k])}, not a number`); };
    for (const k of ["visible_p50_ms", "visible_p99_ms", "server_us_per_edit", "pg_us_per_edit", "client_cpu_us_per_edit", "kib_per_doc", "typed_per_s"]) num(k);
    if (!(o.measured_steady > 0)) bad.push(`no writer edit in the steady state (${o.measured_steady})`);
    if (o.visible_steady !== o.measured_steady || o.unseen_steady !== 0)
      bad.push(`the observers saw ${o.visible_steady} of ${o.measured_steady} edits (${o.unseen_steady} unseen)`);
    if (o.errors.length) bad.push(`errors: ${o.errors.join("; ")}`);
    // (Per edit it may round to 0 over a short steady state on a quiet machine: 10 ms ticks.)
    if (!(o.server_cpu_since_start_s > 0)) bad.push("no server CPU was measured");
    if (server === "y-websocket") {
      if (o.acked !== null || o.acknowledged !== "none (each update echoed to every connection; its INSERT not awaited)") bad.push("y-websocket has no acknowledgement");
    } else {
      num("ack_p99_ms");
      if (o.acked !== o.edits) bad.push(`${o.acked} of ${o.edits} edits acknowledged`);
    }
    console.log(bad.length ? bad.join("; ") : "ok");' "$server" "$line")"
  if [ "$code" -ne 0 ] || [ "$verdict" != ok ]; then
    echo "FAIL $server: exit $code: $verdict"
    echo "$out" | tail -n 20
    fail=1
  else
    echo "$server: ok: $(grep '^== '"$server"':' <<<"$out")"
  fi
done
[ "$fail" -eq 0 ] || exit 1

# sweep.sh: one server, one shape, one rate under an objective no run misses; the table must
# name it as held.
out="$(OUT="$pgdir/sweep" SHAPES=6x3 RATES=4 DURATION=2 P99_MS=100000 "$dir/sweep.sh" hocuspocus 2>&1)"
code=$?
want='^\| hocuspocus \| 6/3 \| 24 \(4/s per conn\.\) \| [0-9.]+ \|'
if [ "$code" -ne 0 ] || ! grep -Eq "$want" <<<"$out"; then
  echo "FAIL sweep.sh: exit $code, no table row matches /$want/"; echo "$out"; exit 1
fi
echo "sweep.sh: ok"
