// Replays one sequential editing trace in one peer library and prints one JSON line.
//
//   node peers.mjs LIB TRACE [--runs N]
//
// LIB is one of: yjs, diamond-types, loro, automerge, ot-text-unicode, none (loads the trace
// and does nothing: the baseline memory of Node holding the trace).
//
// Every patch [pos, del, ins] is applied as a local edit, in order, on a fresh document, one
// library transaction (Yjs transact, Loro commit, Automerge change) per trace transaction; the
// final text must equal endContent. The trace is read and parsed once, outside the timed runs.
// Each run starts from an empty document; the output has every run's milliseconds, their
// median, and the process's peak resident set size (ru_maxrss), so run one library per process.
//
// Positions in the traces count code points; nothing in them is above U+FFFF (traces/SOURCE.md),
// so the UTF-16 positions of Yjs agree with them, and the other libraries count code points.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { performance } from 'node:perf_hooks';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function usage(msg) {
  process.stderr.write(`peers.mjs: ${msg}\nusage: node peers.mjs LIB TRACE [--runs N]\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
let runs = 5;
const positional = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--runs') {
    runs = Number(args[++i]);
    if (!Number.isInteger(runs) || runs < 1) usage('--runs needs a positive integer');
  } else if (args[i].startsWith('--')) {
    usage(`unknown flag ${args[i]}`);
  } else {
    positional.push(args[i]);
  }
}
if (positional.length !== 2) usage('need LIB and TRACE');
const [lib, tracePath] = positional;

function loadTrace(path) {
  let buf;
  try {
    buf = readFileSync(path);
  } catch (e) {
    usage(`${path}: cannot read: ${e.code ?? e.message}`);
  }
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = gunzipSync(buf);
  const t = JSON.parse(buf.toString('utf8'));
  if (t.kind === 'concurrent') usage(`${path}: a concurrent trace; only sequential traces replay here`);
  if (!Array.isArray(t.txns) || typeof t.endContent !== 'string') usage(`${path}: not a sequential trace`);
  return t;
}

// Each replayer: () => final text. It builds a fresh document every call.
async function makeReplayer(name, trace) {
  const txns = trace.txns;
  switch (name) {
    case 'yjs':
    case 'yjs-commonjs': {
      // `yjs`: the ES module build (package.json "exports" → dist/yjs.mjs), what applications
      // and bundlers load — the peer the tables compare with. `yjs-commonjs`: require('yjs'), its
      // CommonJS build (bench/README: how much slower it is, and why the tables do not use it).
      const Y = name === 'yjs' ? await import('yjs') : require('yjs');
      return () => {
        const doc = new Y.Doc();
        const text = doc.getText('text');
        // One Yjs transaction per trace transaction, as a user's edit would be.
        for (const txn of txns) {
          doc.transact(() => {
            for (const [pos, del, ins] of txn.patches) {
              if (del > 0) text.delete(pos, del);
              if (ins.length > 0) text.insert(pos, ins);
            }
          });
        }
        return text.toString();
      };
    }
    case 'diamond-types': {
      const dt = require('diamond-types-node');
      return () => {
        const doc = new dt.Doc('bench');
        for (const txn of txns) {
          for (const [pos, del, ins] of txn.patches) {
            if (del > 0) doc.del(pos, del);
            if (ins.length > 0) doc.ins(pos, ins);
          }
        }
        const s = doc.get();
        doc.free();
        return s;
      };
    }
    case 'loro': {
      const { LoroDoc } = require('loro-crdt');
      return () => {
        const doc = new LoroDoc();
        const text = doc.getText('text');
        // One Loro commit per trace transaction, as a user's edit would be.
        for (const txn of txns) {
          for (const [pos, del, ins] of txn.patches) {
            if (del > 0) text.delete(pos, del);
            if (ins.length > 0) text.insert(pos, ins);
          }
          doc.commit();
        }
        const s = text.toString();
        doc.free();
        return s;
      };
    }
    case 'automerge': {
      const A = await import('@automerge/automerge');
      return () => {
        let doc = A.from({ text: '' });
        // One change per transaction, as a user's edits would be committed.
        for (const txn of txns) {
          doc = A.change(doc, (d) => {
            for (const [pos, del, ins] of txn.patches) A.splice(d, ['text'], pos, del, ins);
          });
        }
        const s = doc.text;
        A.free(doc);
        return s;
      };
    }
    case 'ot-text-unicode': {
      const { type } = require('ot-text-unicode');
      return () => {
        let doc = type.create('');
        for (const txn of txns) {
          for (const [pos, del, ins] of txn.patches) {
            const op = [];
            if (pos > 0) op.push(pos);
            if (del > 0) op.push({ d: del });
            if (ins.length > 0) op.push(ins);
            doc = type.apply(doc, op);
          }
        }
        return doc;
      };
    }
    case 'none':
      return () => trace.endContent;
    default:
      usage(`unknown library ${name} (known: yjs, yjs-commonjs, diamond-types, loro, automerge, ot-text-unicode, none)`);
  }
  return undefined;
}

const loadStart = performance.now();
const trace = loadTrace(tracePath);
const loadMs = performance.now() - loadStart;
let patches = 0;
for (const txn of trace.txns) patches += txn.patches.length;
const replay = await makeReplayer(lib, trace);
const peakAfterLoad = process.resourceUsage().maxRSS;

const ms = [];
let matched = true;
for (let r = 0; r < runs; r++) {
  const t0 = performance.now();
  const out = replay();
  const t1 = performance.now();
  ms.push(t1 - t0);
  if (out !== trace.endContent) matched = false;
}
const sorted = [...ms].sort((a, b) => a - b);
const median = sorted.length % 2 ? sorted[(sorted.length - 1) / 2]
  : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;

const versions = {
  yjs: 'yjs', 'yjs-commonjs': 'yjs', 'diamond-types': 'diamond-types-node', loro: 'loro-crdt',
  automerge: '@automerge/automerge', 'ot-text-unicode': 'ot-text-unicode',
};
let version = process.version;
if (versions[lib]) {
  // Read from the file: some packages do not export ./package.json.
  const pj = new URL(`./node_modules/${versions[lib]}/package.json`, import.meta.url);
  version = JSON.parse(readFileSync(pj, 'utf8')).version;
}

process.stdout.write(JSON.stringify({
  library: lib,
  version,
  trace: tracePath,
  patches,
  runs,
  matched,
  load_ms: Math.round(loadMs * 100) / 100,
  ms_median: median,
  ms: ms.map((x) => Math.round(x * 100) / 100),
  peak_rss_after_load_kb: peakAfterLoad,
  peak_rss_kb: process.resourceUsage().maxRSS,
  end_length: [...trace.endContent].length,
}) + '\n');
process.exit(matched ? 0 : 1);
