// Hocuspocus 4 with @hocuspocus/extension-database on PostgreSQL, as its guide sets up the
// database extension: fetch() returns the stored Y state, store() upserts the whole state.
// Settings: Hocuspocus's defaults (debounce 2,000 ms, maxDebounce 10,000 ms: a document is
// stored 2 s after its last change, at least every 10 s while it changes), quiet. An update is
// acknowledged (SyncStatus, message type 8) right after the in-memory apply, before any storage.
//   PG_URL=postgresql://... PORT=0 node hocuspocus-server.mjs   -> prints "listening PORT"
import { Server } from '@hocuspocus/server';
import { Database } from '@hocuspocus/extension-database';
import pg from 'pg';

const url = process.env.PG_URL;
if (!url) { console.error('hocuspocus-server.mjs: set PG_URL'); process.exit(2); }
const pool = new pg.Pool({ connectionString: url });
await pool.query('CREATE TABLE IF NOT EXISTS documents (name text PRIMARY KEY, data bytea NOT NULL)');

const server = new Server({
  address: '127.0.0.1',
  port: Number(process.env.PORT || 0),
  quiet: true,
  extensions: [
    new Database({
      fetch: async ({ documentName }) => {
        const r = await pool.query('SELECT data FROM documents WHERE name = $1', [documentName]);
        return r.rows.length ? r.rows[0].data : null;
      },
      store: async ({ documentName, state }) => {
        await pool.query(
          'INSERT INTO documents (name, data) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET data = $2',
          [documentName, state]);
      },
    }),
  ],
});
await server.listen();
console.log(`listening ${server.httpServer.address().port}`);
