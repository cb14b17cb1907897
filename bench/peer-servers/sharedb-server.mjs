// ShareDB 7 on PostgreSQL (sharedb-postgres), started as its README starts it: a ShareDB backend
// with the PostgreSQL adapter, a `ws` WebSocketServer on a plain http server, each socket wrapped
// in @teamwork/websocket-json-stream and handed to backend.listen. The ot-text-unicode type is
// registered (ShareDB ships json0 only). Settings: the defaults (pg.Pool of 10 connections; no
// pub/sub adapter: one process). An op is acknowledged after its commit (the op row and the whole
// snapshot, in one transaction).
//   PG_URL=postgresql://... PORT=0 node sharedb-server.mjs   -> prints "listening PORT"
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { WebSocketServer } from 'ws';
import ShareDB from 'sharedb';
import PostgresDB from 'sharedb-postgres';
import WebSocketJSONStream from '@teamwork/websocket-json-stream';
import otText from 'ot-text-unicode';
import pg from 'pg';

const url = process.env.PG_URL;
if (!url) { console.error('sharedb-server.mjs: set PG_URL'); process.exit(2); }
// The adapter's structure.sql, applied once to the fresh cluster (it fails when applied twice).
const setup = new pg.Client({ connectionString: url });
await setup.connect();
const have = await setup.query("SELECT to_regclass('public.ops') AS t");
if (have.rows[0].t === null) {
  await setup.query(readFileSync(new URL('./node_modules/sharedb-postgres/structure.sql', import.meta.url), 'utf8'));
}
await setup.end();

ShareDB.types.register(otText.type);
const backend = new ShareDB({ db: new PostgresDB({ connectionString: url }) });
const server = http.createServer();
const wss = new WebSocketServer({ server });
wss.on('connection', (ws) => backend.listen(new WebSocketJSONStream(ws)));
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
