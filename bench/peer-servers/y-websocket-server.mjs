// The y-websocket server (@y/websocket-server, the package y-websocket's README points to), as its
// bin/server.js starts it (setupWSConnection on a `ws` server; the URL path names the document),
// with a persistence layer shaped like its own LevelDB one but on PostgreSQL: bindState loads the
// document's logged updates and then appends every update as a row (one INSERT per update, not
// awaited: the server relays first). No acknowledgement exists: the server echoes each update to
// every connection of the document, the sender's included. Settings: its defaults (gc on).
//   PG_URL=postgresql://... PORT=0 node y-websocket-server.mjs   -> prints "listening PORT"
import http from 'node:http';
import { WebSocketServer } from 'ws';
import * as Y from 'yjs';
import { setupWSConnection, setPersistence } from '@y/websocket-server/utils';
import pg from 'pg';

const url = process.env.PG_URL;
if (!url) { console.error('y-websocket-server.mjs: set PG_URL'); process.exit(2); }
const pool = new pg.Pool({ connectionString: url });
await pool.query('CREATE TABLE IF NOT EXISTS updates (id bigserial PRIMARY KEY, doc text NOT NULL, data bytea NOT NULL)');
await pool.query('CREATE INDEX IF NOT EXISTS updates_doc ON updates (doc, id)');
const failed = (e) => console.error(`y-websocket-server.mjs: storing an update failed: ${e.message}`);

setPersistence({
  provider: pool,
  bindState: async (docName, ydoc) => {
    const r = await pool.query('SELECT data FROM updates WHERE doc = $1 ORDER BY id', [docName]);
    Y.transact(ydoc, () => { for (const row of r.rows) Y.applyUpdate(ydoc, row.data); });
    ydoc.on('update', (update) => {
      pool.query('INSERT INTO updates (doc, data) VALUES ($1, $2)', [docName, Buffer.from(update)]).catch(failed);
    });
  },
  writeState: async () => {},
});

const server = http.createServer((_req, res) => { res.writeHead(200); res.end('okay'); });
const wss = new WebSocketServer({ noServer: true });
wss.on('connection', setupWSConnection);
server.on('upgrade', (req, socket, head) => {
  wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
});
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
