// Turns bench/peers/out/results.jsonl (one JSON object per library and trace, from run.sh)
// into a table on stdout and a Markdown report.
//   node report.mjs RESULTS.jsonl REPORT.md RUNS [WHOLE]
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';

const [resultsPath, reportPath, runs, whole = '0'] = process.argv.slice(2);
const rows = readFileSync(resultsPath, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));

const mib = (kb) => (kb === undefined ? '-' : (kb / 1024).toFixed(1));
const header = ['library', 'version', 'trace', 'matched', 'replay ms (median)', 'peak RSS MiB',
  'RSS after load MiB', 'ms / convlab crdt', 'load ms', 'whole process ms (median)', 'whole / convlab crdt',
  'whole process CPU ms (median)', 'CPU / convlab crdt'];
const right = [false, false, false, false, true, true, true, true, true, true, true, true, true];
const table = [];
for (const r of rows) {
  const crdt = rows.find((x) => x.row_trace === r.row_trace && x.row_library === 'convlab-crdt');
  const base = crdt && crdt.ms_median > 0 && r.ms_median !== undefined && !r.error;
  const isBaseline = r.row_library === 'node-baseline';
  table.push([
    r.row_library,
    r.row_library.startsWith('convlab-') ? 'this tree' : (r.version ?? '-'),
    r.row_trace,
    r.error ? `error: ${r.error}` : (isBaseline ? '(no replay)' : (r.matched ? 'yes' : 'NO')),
    r.ms_median === undefined || isBaseline ? '-' : r.ms_median.toFixed(1),
    mib(r.peak_rss_kib ?? r.peak_rss_kb),
    mib(r.peak_rss_after_load_kib ?? r.peak_rss_after_load_kb),
    base && !isBaseline ? `${(r.ms_median / crdt.ms_median).toFixed(1)}x` : '-',
    r.load_ms === undefined ? '-' : r.load_ms.toFixed(1),
    r.whole_ms_median === undefined ? '-' : r.whole_ms_median.toFixed(1),
    crdt && crdt.whole_ms_median > 0 && r.whole_ms_median !== undefined
      ? `${(r.whole_ms_median / crdt.whole_ms_median).toFixed(1)}x` : '-',
    r.whole_cpu_ms_median === undefined ? '-' : r.whole_cpu_ms_median.toFixed(1),
    crdt && crdt.whole_cpu_ms_median > 0 && r.whole_cpu_ms_median !== undefined
      ? `${(r.whole_cpu_ms_median / crdt.whole_cpu_ms_median).toFixed(1)}x` : '-',
  ]);
}

function text() {
  const w = header.map((h, c) => Math.max(h.length, ...table.map((row) => String(row[c]).length)));
  const line = (cells) => cells.map((x, c) => (right[c] ? String(x).padStart(w[c]) : String(x).padEnd(w[c])))
    .join('  ').trimEnd();
  return [line(header), line(w.map((n) => '-'.repeat(n))), ...table.map(line)].join('\n') + '\n';
}

function markdown() {
  const line = (cells) => `| ${cells.map((x) => String(x).replace(/\|/g, '/')).join(' | ')} |`;
  return [line(header), `|${right.map((r) => (r ? ' ---: |' : ' --- |')).join('')}`, ...table.map(line)].join('\n') + '\n';
}

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const md = `# Side-by-side trace replay: convlab and peer libraries

Made by \`bench/peers/run.sh\` on ${os.cpus().length} x ${cpu}, Node ${process.version}.
Each row is one process: it loads the trace once, replays it ${runs} time(s) from an empty
document (every patch a local edit), checks the final text against endContent, and reports the
median replay time. *Peak RSS* is the process's ru_maxrss (loading included); *RSS after load* is
that peak once the trace was parsed, before any replay. \`node-baseline\` loads the trace in Node
and replays nothing. *ms / convlab crdt* divides the row's median by convlab crdt's on the same trace
(above 1x: slower than convlab crdt). *load ms* is the row's own timing of reading, gunzipping and
parsing the trace. *Whole process* times ${whole} more process(es) per row, each replaying once
(\`--runs 1\`), from exec to exit — start-up, loading and one replay, what a user timing the
command sees — and gives their median wall time and median CPU time (user + system, the steadier
figure on a shared machine), each also divided by convlab crdt's.

${markdown()}`;
writeFileSync(reportPath, md);
process.stdout.write(text());
process.stdout.write(`\nwrote ${reportPath}\n`);
