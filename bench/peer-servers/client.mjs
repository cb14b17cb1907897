// One measuring client for every server of bench/peer-servers: it speaks convlab's JSON frames
// (ot and crdt), ShareDB's JSON protocol (hs, s, op with v/src/seq), Hocuspocus's y-protocols
// messages (document name first, Auth then SyncStep1, updates, SyncStatus acks) and
// y-websocket's (y-protocols sync/update with lib0 varints, no ack), with the same typing loop and
// the same timing code for all.
//
// Shape: CLIENTS connections over DOCS documents (connection i edits document i % DOCS); every
// connection types RATE edits/s (evenly spaced, a seeded phase each). Connection d (the first of
// document d) is that document's observer: edit-to-visible is the time from a writer typing an
// edit to the observer receiving it. Each edit inserts a tag "[conn:n]" at the start of the text;
// the observer finds tags in what it receives (the raw bytes of a Yjs update hold the inserted
// text as UTF-8, the JSON ops hold it as strings). Edit-to-ack: from typing to the server's
// acknowledgement of the message that carried it (convlab: the strategy's ack deliver, after
// commit; ShareDB: the op reply, after commit; Hocuspocus: SyncStatus, after the in-memory apply;
// y-websocket: none). OT clients (convlab ot, ShareDB) keep one op in flight and prepend what is
// typed meanwhile to one pending op, as ShareDB's own client does; Yjs and convlab crdt clients
// send every edit at once.
//
//   node client.mjs --proto convlab-ot|convlab-crdt|sharedb|hocuspocus|y-websocket --url URL
//        [--clients N] [--docs D] [--rate R] [--duration S] [--warmup S] [--drain S] [--seed N]
// Prints "steady state begins" and "typing stops" as they happen (bench/peer-servers/run.sh
// samples the servers' CPU then), and last one JSON line of figures.
import { WebSocket } from 'ws';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import * as decoding from 'lib0/decoding';

const args = { clients: 20, docs: 10, rate: 2, duration: 10, warmup: 3, drain: 3, seed: 1 };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const k = argv[i].replace(/^--/, '');
  if (!(k in args) && k !== 'proto' && k !== 'url') fail(`unknown flag ${argv[i]}`);
  if (argv[i + 1] === undefined) fail(`${argv[i]} needs a value`);
  args[k] = k === 'proto' || k === 'url' ? argv[i + 1] : Number(argv[i + 1]);
  if (Number.isNaN(args[k])) fail(`${argv[i]}: '${argv[i + 1]}' is not a number`);
}
const protos = ['convlab-ot', 'convlab-crdt', 'sharedb', 'hocuspocus', 'y-websocket'];
if (!protos.includes(args.proto)) fail(`--proto must be one of ${protos.join(', ')}, got '${args.proto}'`);
if (!args.url) fail('--url is required');
if (!(args.clients >= args.docs && args.docs >= 1)) fail('need --clients >= --docs >= 1');
function fail(msg) { console.error(`client.mjs: ${msg}`); process.exit(2); }

const now = () => performance.now();
let seed = args.seed >>> 0 || 1;
const random = () => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return seed / 2 ** 32; };

// ---- the measurements, the same for every protocol ----
const typed = new Map();   // tag -> time typed (writers' edits, observer not counting its own)
const visible = [];        // edit-to-visible ms of steady-state edits
const acks = [];           // edit-to-ack ms of steady-state edits
let steadyFrom = Infinity, steadyTo = Infinity;
let editsSteady = 0, editsAll = 0, ackedSteady = 0, ackedAll = 0, seenSteady = 0, measuredSteady = 0;
const errors = [];
const inSteady = (t) => t >= steadyFrom && t < steadyTo;
function noteError(e) { if (errors.length < 5) errors.push(String(e)); }

const tagRe = /\[(\d+):(\d+)\]/g;
function observe(text) {  // at an observer: every tag not seen before is an edit made visible
  const t = now();
  tagRe.lastIndex = 0;
  for (let m; (m = tagRe.exec(text)) !== null;) {
    const at = typed.get(m[0]);
    if (at === undefined) continue;
    typed.delete(m[0]);
    if (inSteady(at)) { visible.push(t - at); ++seenSteady; }
  }
}
function acked(times) {
  const t = now();
  for (const at of times) { ++ackedAll; if (inSteady(at)) { acks.push(t - at); ++ackedSteady; } }
}

// ---- one connection ----
class Conn {
  constructor(i) {
    this.i = i; this.doc = i % args.docs; this.observer = i < args.docs; this.n = 0;
    this.inflight = null; this.pending = []; this.fifo = [];
  }
  type() {  // one edit: a tag at the start of the text
    const tag = `[${this.i}:${this.n++}]`;
    const t = now();
    ++editsAll;
    if (inSteady(t)) { ++editsSteady; if (!this.observer) ++measuredSteady; }
    if (!this.observer) typed.set(tag, t);
    this.edit(tag, t);
  }
}

const collection = 'docs';
const texttype = 'http://sharejs.org/types/text-unicode';
const docName = (d) => `doc${d}`;

// convlab: POST /login for a token and an agent, /ws with the token, JSON frames, convlab/2.
class ConvlabConn extends Conn {
  async open() {
    const base = args.url.replace(/^ws/, 'http').replace(/\/ws$/, '');
    const r = await fetch(`${base}/login`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: `u${this.i}`, password: 'lab' }) });
    if (!r.ok) throw new Error(`login: HTTP ${r.status} ${await r.text()}`);
    const login = await r.json();
    this.agent = login.agent; this.seq = 1; this.prev = null;
    // No subprotocol: convlab/1, one frame per message, like the peers' one update per message.
    // (`ws`, like browsers, refuses "convlab/2" as a subprotocol name: "/" is not a token
    // character, RFC 6455 4.1 and RFC 7230 3.2.6.)
    this.ws = new WebSocket(args.url, { headers: { authorization: `Bearer ${login.token}` } });
    this.id = this.doc + 1;
    return new Promise((resolve, reject) => {
      this.ws.on('open', () => this.ws.send(JSON.stringify({ type: 'hello', doc: this.id })));
      this.ws.on('error', reject);
      this.ws.on('close', (code, why) => { if (!stopping) noteError(`conn ${this.i} closed ${code} ${why}`); });
      this.ws.on('message', (data) => {
        const text = data.toString();
        if (this.observer) observe(text);
        const v = JSON.parse(text);
        for (const f of Array.isArray(v) ? v : [v]) {
          if (f.type === 'welcome') { this.rev = f.msg.rev ?? f.msg.version; resolve(); }
          else if (f.type === 'refused') noteError(`refused: ${f.reason}`);
          else if (f.type === 'deliver') this.deliver(f.msg);
        }
      });
    });
  }
  deliver(m) {
    if (m.type === 'ack') {
      if (args.proto === 'convlab-ot') {
        this.rev = m.rev; acked(this.inflight); this.inflight = null; this.flush();
      } else acked([this.fifo.shift()]);
    } else if (m.type === 'remote') this.rev = m.rev;
  }
  edit(tag, t) {
    if (args.proto === 'convlab-crdt') {
      const op = { type: 'insert', id: [this.agent, this.seq], left: null, right: this.prev, text: tag };
      this.prev = [this.agent, this.seq]; this.seq += tag.length;
      this.fifo.push(t);
      this.ws.send(JSON.stringify({ type: 'edit', doc: this.id, msg: op }));
    } else { this.pending.unshift({ tag, t }); this.flush(); }
  }
  flush() {  // ot: one op in flight; what was typed meanwhile goes as one insert at 0
    if (this.inflight || this.pending.length === 0) return;
    const text = this.pending.map((p) => p.tag).join('');
    this.inflight = this.pending.map((p) => p.t);
    this.pending = [];
    const msg = { type: 'op', base: this.rev, client_clock_ms: Date.now(), op: [text], ids: [[this.agent, this.seq, text.length]] };
    this.seq += text.length;
    this.ws.send(JSON.stringify({ type: 'edit', doc: this.id, msg }));
  }
}

// ShareDB: init from the server, hs, s (subscribe), op {v, src, seq, op}; one op in flight.
class ShareDBConn extends Conn {
  open() {
    this.ws = new WebSocket(args.url);
    this.seq = 1; this.d = docName(this.doc);
    return new Promise((resolve, reject) => {
      this.ready = resolve;
      this.ws.on('error', reject);
      this.ws.on('close', (code, why) => { if (!stopping) noteError(`conn ${this.i} closed ${code} ${why}`); });
      this.ws.on('message', (data) => {
        const text = data.toString();
        if (this.observer) observe(text);
        this.onmessage(JSON.parse(text));
      });
    });
  }
  onmessage(m) {
    if (m.error) { noteError(`sharedb ${m.a}: ${m.error.code} ${m.error.message}`); if (m.a === 'op') { this.inflight = null; } return; }
    if (m.a === 'init') { this.ws.send(JSON.stringify({ a: 'hs', id: null, protocol: m.protocol, protocolMinor: m.protocolMinor })); }
    else if (m.a === 'hs') { this.src = m.id; this.ws.send(JSON.stringify({ a: 's', c: collection, d: this.d })); }
    else if (m.a === 's') {
      this.v = m.data.v;
      // A document with some text: sharedb-postgres reads an empty text document back as
      // undefined and the next op fails. The observer creates it; the others see the create.
      if (!m.data.type && this.observer) {
        this.send({ create: { type: texttype, data: 'x' } }, null);
        this.creating = true;
      } else this.ready();
    } else if (m.a === 'op') {
      if (m.src === this.src && m.seq === this.sentSeq && !('op' in m) && !m.create) {  // our ack
        this.v = m.v + 1;
        if (this.creating) { this.creating = false; this.ready(); }
        else acked(this.inflight);
        this.inflight = null; this.flush();
      } else if (m.v >= this.v) this.v = m.v + 1;
    }
  }
  send(fields, times) {
    this.sentSeq = this.seq++;
    this.inflight = times;
    this.ws.send(JSON.stringify({ a: 'op', c: collection, d: this.d, v: this.v, src: this.src, seq: this.sentSeq, ...fields }));
  }
  edit(tag, t) { this.pending.unshift({ tag, t }); this.flush(); }
  flush() {
    if (this.inflight || this.creating || this.pending.length === 0) return;
    const text = this.pending.map((p) => p.tag).join('');
    const times = this.pending.map((p) => p.t);
    this.pending = [];
    this.send({ op: [text] }, times);
  }
}

// Yjs over y-protocols: y-websocket (the URL path names the document) and Hocuspocus (every
// message starts with the document name; Auth first; SyncStatus acks each update).
class YConn extends Conn {
  open() {
    this.hocus = args.proto === 'hocuspocus';
    this.name = docName(this.doc);
    this.ydoc = new Y.Doc();
    this.ytext = this.ydoc.getText('default');
    this.ydoc.on('update', (u, origin) => { if (origin === 'local') this.sendUpdate(u); });
    this.ws = new WebSocket(this.hocus ? args.url : `${args.url.replace(/\/$/, '')}/${this.name}`);
    this.ws.binaryType = 'nodebuffer';
    return new Promise((resolve, reject) => {
      this.ws.on('error', reject);
      this.ws.on('close', (code, why) => { if (!stopping) noteError(`conn ${this.i} closed ${code} ${why}`); });
      this.ws.on('open', () => {
        if (this.hocus) this.ws.send(this.message((e) => { encoding.writeVarUint(e, 2); encoding.writeVarUint(e, 0); encoding.writeVarString(e, ''); }));
        this.ws.send(this.message((e) => { encoding.writeVarUint(e, 0); encoding.writeVarUint(e, 0); encoding.writeVarUint8Array(e, Y.encodeStateVector(this.ydoc)); }));
      });
      this.ws.on('message', (data) => {
        if (this.observer) observe(data.toString('latin1'));
        const dec = decoding.createDecoder(data);
        if (this.hocus) decoding.readVarString(dec);
        const type = decoding.readVarUint(dec);
        if (type === 0 || type === 4) {  // sync: step 2 answers our step 1: we are in
          const sub = decoding.readVarUint(dec);
          if (sub === 1) resolve();
        } else if (type === 8 && this.hocus) {
          decoding.readVarUint(dec);
          acked([this.fifo.shift()]);
        }
      });
    });
  }
  message(write) {
    const e = encoding.createEncoder();
    if (this.hocus) encoding.writeVarString(e, this.name);
    write(e);
    return encoding.toUint8Array(e);
  }
  sendUpdate(u) {
    this.ws.send(this.message((e) => { encoding.writeVarUint(e, 0); encoding.writeVarUint(e, 2); encoding.writeVarUint8Array(e, u); }));
  }
  edit(tag, t) {
    if (this.hocus) this.fifo.push(t);
    this.ydoc.transact(() => this.ytext.insert(0, tag), 'local');
  }
}

const Kind = args.proto.startsWith('convlab') ? ConvlabConn : args.proto === 'sharedb' ? ShareDBConn : YConn;
let stopping = false;
const conns = [];
for (let i = 0; i < args.clients; ++i) conns.push(new Kind(i));
const t0 = now();
// Observers first (ShareDB: they create the documents), then the writers, 50 at a time.
const order = [...conns.slice(0, args.docs), ...conns.slice(args.docs)];
for (let k = 0; k < order.length; k += 50) {
  try {
    await Promise.all(order.slice(k, k + 50).map((c) => c.open()));
  } catch (e) { console.error(`client.mjs: connecting to ${args.url}: ${e.message ?? e}`); process.exit(1); }
}
const connectMs = now() - t0;

// Typing: every connection RATE edits/s, evenly spaced, each with a seeded phase.
const period = 1000 / args.rate;
const start = now() + 50;
for (const c of conns) c.next = start + random() * period;
steadyFrom = start + args.warmup * 1000;
const typingEnds = start + args.duration * 1000;
steadyTo = typingEnds;
const lag = monitorEventLoopDelay({ resolution: 1 });
let cpuAtSteady = null;
let saidSteady = false;
await new Promise((resolve) => {
  const tick = () => {
    const t = now();
    if (!saidSteady && t >= steadyFrom) { saidSteady = true; cpuAtSteady = process.cpuUsage(); lag.enable(); console.log('steady state begins'); }
    if (t >= typingEnds) { resolve(); return; }
    for (const c of conns) {
      while (c.next <= t && c.next < typingEnds) { c.type(); c.next += period; }
    }
    setTimeout(tick, 2);
  };
  setTimeout(tick, Math.max(0, start - now()));
});
const cpuSteady = process.cpuUsage(cpuAtSteady);
lag.disable();
console.log('typing stops');
// Drain: what is still on its way gets DRAIN seconds to arrive.
const drainUntil = now() + args.drain * 1000;
while (now() < drainUntil && (typed.size > 0 || conns.some((c) => c.inflight || c.pending.length || c.fifo.length))) {
  await new Promise((r) => setTimeout(r, 20));
}
stopping = true;
for (const c of conns) c.ws.close();

const pct = (xs, p) => {
  if (xs.length === 0) return null;
  const s = Float64Array.from(xs).sort();
  return +s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)].toFixed(2);
};
const steadyS = (steadyTo - steadyFrom) / 1000;
const hasAck = args.proto !== 'y-websocket';
const cpuS = (cpuSteady.user + cpuSteady.system) / 1e6;
let unseen = 0;
for (const at of typed.values()) if (inSteady(at)) ++unseen;
console.log(JSON.stringify({
  proto: args.proto, clients: args.clients, docs: args.docs, rate: args.rate,
  duration_s: args.duration, warmup_s: args.warmup, steady_s: +steadyS.toFixed(3), connect_ms: Math.round(connectMs),
  offered_per_s: args.clients * args.rate,
  edits: editsAll, edits_steady: editsSteady, typed_per_s: +(editsSteady / steadyS).toFixed(1),
  acked: hasAck ? ackedAll : null, acked_steady: hasAck ? ackedSteady : null,
  acked_per_s: hasAck ? +(ackedSteady / steadyS).toFixed(1) : null,
  measured_steady: measuredSteady, visible_steady: seenSteady, unseen_steady: unseen,
  visible_p50_ms: pct(visible, 50), visible_p99_ms: pct(visible, 99), visible_max_ms: pct(visible, 100),
  ack_p50_ms: hasAck ? pct(acks, 50) : null, ack_p99_ms: hasAck ? pct(acks, 99) : null,
  client_cpu_s: +cpuS.toFixed(3), client_cpu_us_per_edit: editsSteady ? Math.round(1e6 * cpuS / editsSteady) : null,
  client_loop_delay_p99_ms: +(lag.percentile(99) / 1e6).toFixed(2),
  errors,
}));
process.exit(0);
