// PostgreSQL goes away while requests are in flight, and comes back. Requests must fail
// fast with 503 and Retry-After (never hang), /readyz must say not ready, a schema change
// caught in the middle must leave nothing half done, and the instance must recover by
// itself, without a restart.
//
// Twice: through a TCP proxy in front of the database (works on any server, also
// TEST_DATABASE_URL), and with a real restart of a PostgreSQL of our own (embedded).
import { expect } from 'chai';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { startEmbedded, type EmbeddedServer } from '../../server/db/embedded.js';
import { startProxy, type TcpProxy } from '../bus/proxy.js';
import { freshDatabase, testLog, type TestDatabase } from '../helpers/db.js';
import { freePort } from '../helpers/process.js';
import { Sql } from '../helpers/sql.js';
import { adminTokenFor, daemonLogged, eventually, LEVEL, sleep, startDaemon, startLoggedApp, stopDaemons, stopLoggedApps, type LoggedApp } from './lib.js';

const CONNECT_TIMEOUT_MS = 1000;
/** An answer to a request against a database that is gone comes within this long. */
const FAST_MS = CONNECT_TIMEOUT_MS + 1000;

interface Timed {
  status: number;
  code?: string;
  retryAfter: string | null;
  ms: number;
}

async function timed(p: Promise<{ status: number; body: any; headers: Headers }>, t0 = performance.now()): Promise<Timed> {
  const res = await p;
  return { status: res.status, code: res.body?.error?.code, retryAfter: res.headers.get('retry-after'), ms: performance.now() - t0 };
}

function expectFast503(r: Timed, what: string): void {
  expect(r.status, `${what}: ${JSON.stringify(r)}`).to.equal(503);
  expect(r.code, what).to.be.oneOf(['database_unavailable', 'query_timeout']);
  expect(r.retryAfter, `${what}: Retry-After`).to.match(/^\d+$/);
  expect(r.ms, `${what}: fails fast`).to.be.below(FAST_MS);
}

/** The database is back: the instance serves again, on its own. */
async function expectRecovered(app: LoggedApp, tableId: number): Promise<void> {
  // The listener retries with backoff (at most 5 s apart); the pool at the next request.
  await eventually('/readyz 200', async () => (await app.request('GET', '/readyz', { auth: false })).status === 200, 10_000, 100);
  expect((await app.request('GET', `/tables/${tableId}/rows`)).status).to.equal(200);
  expect((await app.request('POST', `/tables/${tableId}/rows`, { json: { name: 'after' } })).status).to.equal(201);
  const added = await app.request('POST', `/tables/${tableId}/fields`, { json: { name: `After ${Date.now()}`, type: 'text' } });
  expect(added.status, added.text).to.equal(201);
  expect(app.ctx.bus!.isConnected()).to.equal(true);
}

describe('PostgreSQL goes away and comes back (TCP proxy in front of the database)', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let proxy: TcpProxy;
  let app: LoggedApp;
  let holder: Sql;
  let sql: Sql;
  let table: { id: number; table_name: string };

  before(async () => {
    db = await freshDatabase();
    proxy = await startProxy(db.url);
    // Everything the instance opens goes through the proxy: pool and listener.
    app = await startLoggedApp(proxy.url, { PG_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS), LOCK_TIMEOUT_MS: '30000' });
    holder = await Sql.connect(db.url);
    sql = await Sql.connect(db.url);
    table = (await app.request('POST', '/tables', { json: { name: 'Kept' } })).body;
    await app.request('POST', `/tables/${table.id}/rows`, { json: { name: 'before' } });
  });
  after(async () => {
    await holder?.exec('ROLLBACK').catch(() => undefined);
    await holder?.end();
    await sql?.end();
    await stopLoggedApps();
    await proxy?.close();
    await db?.drop();
  });

  it('in-flight requests (a read, a schema change) answer 503 at once; new ones 503 fast; /readyz not ready; nothing half done; then it recovers by itself', async () => {
    // Keep two requests in flight: a read and a schema change, both waiting on a lock.
    await holder.exec('BEGIN');
    await holder.exec(`LOCK TABLE data.${table.table_name} IN ACCESS EXCLUSIVE MODE`);
    const before = await sql.rows(`SELECT * FROM tablewright.fields ORDER BY id`);
    const read = app.request('GET', `/tables/${table.id}/rows`);
    const change = app.request('POST', `/tables/${table.id}/fields`, { json: { name: 'Half', type: 'text' } });
    await eventually('both waiting on the lock', async () => (await sql.one(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`)).n === 2);

    // The server "goes away": every connection drops, new ones are refused.
    const t0 = performance.now();
    proxy.refuse(true);
    proxy.dropAll();
    expectFast503(await timed(read, t0), 'the in-flight read');
    expectFast503(await timed(change, t0), 'the in-flight schema change');
    await holder.exec('ROLLBACK');

    const during = await Promise.all([
      timed(app.request('GET', `/tables/${table.id}/rows`)),
      timed(app.request('POST', `/tables/${table.id}/rows`, { json: { name: 'during' } })),
      timed(app.request('GET', '/tables')),
    ]);
    during.forEach((r, i) => expectFast503(r, `request ${i} while the database is gone`));
    const ready = await timed(app.request('GET', '/readyz', { auth: false }));
    expect(ready.status).to.equal(503);
    expect(ready.ms).to.be.below(FAST_MS);
    await eventually('the listener down', () => !app.ctx.bus!.isConnected(), 3000);

    // The schema change caught in the middle left nothing: PostgreSQL rolled it back.
    expect(await sql.rows(`SELECT * FROM tablewright.fields ORDER BY id`)).to.deep.equal(before);
    expect((await sql.rows(`SELECT 1 FROM tablewright.fields WHERE name = 'Half'`)).length).to.equal(0);

    // What the operator reads: the 503s at error with their cause, the listener at warn.
    const failed = app.logged(/^request failed$/);
    expect(failed.length).to.be.at.least(5);
    expect(failed.every((l) => l.level === LEVEL.error)).to.equal(true);
    expect(app.logged(/listener connection lost; reconnecting/)[0]?.level).to.equal(LEVEL.warn);

    await sleep(500);
    proxy.refuse(false);
    await expectRecovered(app, table.id);
    expect(app.logged(/^listener reconnected$/).length).to.be.at.least(1);
  });
});

describe('PostgreSQL restarts for real (a private embedded server, stopped and started again)', function () {
  this.timeout(120_000);
  let dir: string;
  let port: number;
  let server: EmbeddedServer | undefined;
  let app: LoggedApp;
  let holder: Sql | undefined;
  let table: { id: number; table_name: string };

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tablewright-restart-'));
    await fs.chmod(dir, 0o755); // PostgreSQL runs as `postgres` when we are root
    port = await freePort();
    server = await startEmbedded({ dataDir: dir, port, log: testLog });
    app = await startLoggedApp(server.url, { PG_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS) });
    table = (await app.request('POST', '/tables', { json: { name: 'Survivor' } })).body;
    await app.request('POST', `/tables/${table.id}/rows`, { json: { name: 'before' } });
  });
  after(async () => {
    await holder?.end().catch(() => undefined);
    await stopLoggedApps();
    await server?.stop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('a request in flight at the shutdown answers 503; requests while it is down 503 fast; after the restart the instance serves again by itself', async () => {
    holder = await Sql.connect(server!.url);
    await holder.exec('BEGIN');
    await holder.exec(`LOCK TABLE data.${table.table_name} IN ACCESS EXCLUSIVE MODE`);
    const read = app.request('GET', `/tables/${table.id}/rows`);
    const watcher = await Sql.connect(server!.url);
    try {
      await eventually('the read waiting on the lock', async () => (await watcher.one(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'`)).n === 1);
    } finally {
      await watcher.end();
    }
    holder.raw.on('error', () => undefined); // its connection ends with the server
    // An immediate shutdown (SIGQUIT to the postmaster, as `pg_ctl stop -m immediate` or a
    // crash of another backend does): every session ends at once and none releases its
    // locks first. A fast shutdown ends the sessions one by one: the holder's could go
    // first and the read then finished with 200 before its own turn came (it did, once).
    const postmaster = Number((await fs.readFile(path.join(server!.clusterDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    const t0 = performance.now();
    process.kill(postmaster, 'SIGQUIT');
    const stopping = server!.stop(); // waits for it to be gone
    expectFast503(await timed(read, t0), 'the in-flight read');
    await stopping;
    holder = undefined;

    const down = await Promise.all([
      timed(app.request('GET', `/tables/${table.id}/rows`)),
      timed(app.request('POST', `/tables/${table.id}/rows`, { json: { name: 'during' } })),
    ]);
    down.forEach((r, i) => expectFast503(r, `request ${i} while PostgreSQL is down`));
    expect((await app.request('GET', '/readyz', { auth: false })).status).to.equal(503);
    expect((await app.request('GET', '/healthz', { auth: false })).status).to.equal(200);

    server = await startEmbedded({ dataDir: dir, port, log: testLog });
    await expectRecovered(app, table.id);
    const rows = (await app.request('GET', `/tables/${table.id}/rows`)).body.rows.map((r: { name: string }) => r.name);
    expect(rows).to.deep.equal(['before', 'after']);
  });
});

describe('a daemon loses its database connection in the middle of a transaction', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let proxy: TcpProxy;
  let holder: Sql;
  let sql: Sql;

  before(async () => {
    db = await freshDatabase();
    proxy = await startProxy(db.url);
    holder = await Sql.connect(db.url);
    sql = await Sql.connect(db.url);
  });
  after(async () => {
    await holder?.exec('ROLLBACK').catch(() => undefined);
    await holder?.end();
    await sql?.end();
    await stopDaemons();
    await proxy?.close();
    await db?.drop();
  });

  it('answers 503 and keeps running (a checked-out client\'s error event must not be an uncaught exception)', async () => {
    const token = await adminTokenFor(db.url);
    const daemon = await startDaemon({ DATABASE_URL: proxy.url, LOCK_TIMEOUT_MS: '30000', PG_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS) }, token);
    const t = (await daemon.call('POST', '/tables', { json: { name: 'Mid' } })).body;
    await holder.exec('BEGIN');
    await holder.exec(`LOCK TABLE data.${t.table_name} IN ACCESS EXCLUSIVE MODE`);
    const change = daemon.call('POST', `/tables/${t.id}/fields`, { json: { name: 'Half', type: 'text' } });
    await eventually('the change waiting inside its transaction', async () => (await sql.one(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`)).n === 1);
    proxy.dropAll();
    const res = await change;
    expect(res.status, res.text).to.equal(503);
    expect(res.headers.get('retry-after')).to.match(/^\d+$/);
    await holder.exec('ROLLBACK');
    await sleep(300);
    expect(daemon.cli.child.exitCode, `the daemon is still running; output:\n${daemon.cli.output().slice(-2000)}`).to.equal(null);
    expect((await daemon.call('GET', `/tables/${t.id}/rows`)).status).to.equal(200);
    expect((await daemon.call('POST', `/tables/${t.id}/fields`, { json: { name: 'Whole', type: 'text' } })).status).to.equal(201);
    expect(daemonLogged(daemon, /^request failed$/).length).to.be.at.least(1);
    const fields = await sql.rows(`SELECT name FROM tablewright.fields WHERE table_id = $1 ORDER BY id`, [t.id]);
    expect(fields.map((f) => f.name)).to.deep.equal(['Name', 'Whole']);
  });
});
