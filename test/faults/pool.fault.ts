// The pool is exhausted: every connection is held by a request that waits on a lock held
// elsewhere. Extra requests must wait at most PG_CONNECT_TIMEOUT_MS and then answer 503
// with Retry-After; /readyz says not ready; nothing deadlocks, and once the lock goes the
// held requests finish and the pool serves again as if nothing had happened.
import { expect } from 'chai';
import { performance } from 'node:perf_hooks';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';
import { eventually, LEVEL, startLoggedApp, stopLoggedApps, type LoggedApp } from './lib.js';

const POOL_MAX = 3;
const CONNECT_TIMEOUT_MS = 500;
const SLACK_MS = 1000;

describe('the pool is exhausted', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let app: LoggedApp;
  let holder: Sql;
  /** outside any transaction: pg_stat_activity is read once per transaction */
  let sql: Sql;
  let locked: { id: number; table_name: string };
  let other: { id: number };

  before(async () => {
    db = await freshDatabase();
    app = await startLoggedApp(db.url, { PG_POOL_MAX: String(POOL_MAX), PG_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS) });
    holder = await Sql.connect(db.url);
    sql = await Sql.connect(db.url);
    locked = (await app.request('POST', '/tables', { json: { name: 'Locked' } })).body;
    other = (await app.request('POST', '/tables', { json: { name: 'Other' } })).body;
    await app.request('POST', `/tables/${other.id}/rows`, { json: { name: 'before' } });
  });
  after(async () => {
    await holder?.exec('ROLLBACK').catch(() => undefined);
    await holder?.end();
    await sql?.end();
    await stopLoggedApps();
    await db?.drop();
  });

  it('extra requests get 503 + Retry-After within PG_CONNECT_TIMEOUT_MS, /readyz is not ready, and the pool recovers when the holders finish', async () => {
    await holder.exec('BEGIN');
    await holder.exec(`LOCK TABLE data.${locked.table_name} IN ACCESS EXCLUSIVE MODE`);
    // POOL_MAX reads of the locked table: each holds a pool connection while it waits.
    const held = Array.from({ length: POOL_MAX }, () => app.request('GET', `/tables/${locked.id}/rows`));
    await eventually('every pool connection held by a waiting read', () => app.ctx.pool.totalCount === POOL_MAX && app.ctx.pool.idleCount === 0 && app.ctx.pool.waitingCount === 0, 5000);
    await eventually('the reads waiting on the lock', async () => {
      const { n } = await sql.one(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
      return n === POOL_MAX;
    });

    const extra = [
      () => app.request('GET', '/tables'),
      () => app.request('GET', `/tables/${other.id}/rows`),
      () => app.request('POST', `/tables/${other.id}/rows`, { json: { name: 'during' } }),
      () => app.request('POST', '/tables', { json: { name: 'Never' } }),
    ];
    const timed = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const t0 = performance.now();
        const res = await extra[i % extra.length]!();
        return { res, ms: performance.now() - t0 };
      }),
    );
    for (const { res, ms } of timed) {
      expect(res.status, res.text).to.equal(503);
      expect(res.body.error.code).to.equal('database_unavailable');
      expect(res.headers.get('retry-after')).to.match(/^\d+$/);
      expect(ms, 'waited at most the connect timeout (+ slack), never hung').to.be.within(CONNECT_TIMEOUT_MS - 50, CONNECT_TIMEOUT_MS + SLACK_MS);
    }
    const t0 = performance.now();
    const ready = await app.request('GET', '/readyz', { auth: false }); // as a probe sends it
    expect(ready.status).to.equal(503);
    expect(ready.body.checks.database).to.equal(false);
    expect(performance.now() - t0).to.be.below(CONNECT_TIMEOUT_MS + SLACK_MS);
    expect((await app.request('GET', '/healthz', { auth: false })).status, 'the process itself is alive').to.equal(200);
    expect(app.ctx.pool.totalCount, 'the pool never grew past its size').to.equal(POOL_MAX);

    // The operator sees why: each 503 is logged with the pool's error.
    const failed = app.logged(/^request failed$/);
    expect(failed.length).to.be.at.least(timed.length);
    expect(JSON.stringify(failed.at(-1)!.err)).to.match(/timeout exceeded when trying to connect/);
    expect(failed.at(-1)!.level).to.equal(LEVEL.error);
    expect(app.logged(/readiness check: database unreachable/).length).to.be.at.least(1);

    // The holder lets go: the held reads finish, and everything works again.
    await holder.exec('ROLLBACK');
    for (const res of await Promise.all(held)) expect(res.status, res.text).to.equal(200);
    for (const call of extra.slice(0, 3)) expect((await call()).status).to.be.oneOf([200, 201]);
    expect((await app.request('GET', '/readyz', { auth: false })).status).to.equal(200);
    const burst = await Promise.all(Array.from({ length: 30 }, () => app.request('GET', `/tables/${other.id}/rows`)));
    expect(burst.map((r) => r.status).filter((s) => s !== 200), '30 at once through a pool of 3: they queue, none fails').to.deep.equal([]);
    expect(app.ctx.pool.waitingCount).to.equal(0);
  });
});
