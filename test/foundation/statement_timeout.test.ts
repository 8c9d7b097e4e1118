// STATEMENT_TIMEOUT_MS bounds what a request's statement may take: a read stuck behind
// another session's ACCESS EXCLUSIVE lock answers 503 query_timeout and gives its pool
// connection back, instead of holding it for as long as the lock lasts. Schema changes
// are exempt (bounded by lock_timeout while they wait, never cut off while they work).
import { performance } from 'node:perf_hooks';
import { expect } from 'chai';
import { SCHEMA_LOCK_NAMESPACE } from '../../server/schema/change.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';

describe('statement timeout (STATEMENT_TIMEOUT_MS)', function () {
  this.timeout(30_000);
  let db: TestDatabase;
  let sql: Sql;
  let locker: Sql;
  const apps: TestApp[] = [];

  before(async () => {
    db = await freshDatabase();
    sql = await Sql.connect(db.url);
    locker = await Sql.connect(db.url);
  });
  after(async () => {
    for (const a of apps) await a.stop();
    await locker?.end();
    await sql?.end();
    await db?.drop();
  });

  it('a read behind an ACCESS EXCLUSIVE lock answers 503 query_timeout after the timeout, and the pool has its connection back', async () => {
    const app = await startApp(db.url, { STATEMENT_TIMEOUT_MS: '400', DRIFT_CHECK_INTERVAL: 'off', CLEANUP_INTERVAL: 'off' }, 'timeout 400');
    apps.push(app);
    const t = (await app.request('POST', '/tables', { json: { name: 'Locked', fields: [{ name: 'Name', type: 'text' }] } })).body;
    await app.request('POST', `/tables/${t.id}/rows`, { json: { name: 'a' } });
    expect((await app.request('GET', `/tables/${t.id}/rows`)).status, 'the model is compiled and cached before the lock').to.equal(200);
    await locker.exec('BEGIN');
    await locker.exec(`LOCK TABLE data.locked IN ACCESS EXCLUSIVE MODE`);
    try {
      const t0 = performance.now();
      const res = await app.request('GET', `/tables/${t.id}/rows?count=0`);
      const ms = performance.now() - t0;
      expect(res.status, res.text).to.equal(503);
      expect(res.body.error.code).to.equal('query_timeout');
      expect(ms).to.be.within(350, 5000);
      expect(app.ctx.pool.totalCount - app.ctx.pool.idleCount, 'no connection stays checked out').to.equal(0);
    } finally {
      await locker.exec('ROLLBACK');
    }
    expect((await app.request('GET', `/tables/${t.id}/rows`)).status, 'the lock gone, reads work again').to.equal(200);
  });

  it('a schema change that works longer than the timeout is not cut off: it commits', async () => {
    const app = await startApp(db.url, { STATEMENT_TIMEOUT_MS: '60', DRIFT_CHECK_INTERVAL: 'off', CLEANUP_INTERVAL: 'off' }, 'timeout 60');
    apps.push(app);
    const t = (await app.request('POST', '/tables', { json: { name: 'Long', fields: [{ name: 'Amount', type: 'number', options: { decimals: 2 } }] } })).body;
    await sql.exec(`INSERT INTO data.long (amount) SELECT g / 100.0 FROM generate_series(1, 150000) g`);
    const started = performance.now();
    const res = await app.request('PATCH', `/tables/${t.id}/fields/${t.fields[0].id}?async=0`, { json: { type: 'text' } });
    const ms = performance.now() - started;
    expect(res.status, res.text).to.equal(200);
    expect(ms, 'the conversion did take longer than the timeout (the test means something)').to.be.above(60);
    expect((await sql.one(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'data.long'::regclass AND attname = 'amount'`)).t).to.equal('text');
  });

  it('a schema change that waits for the table\'s schema lock longer than the timeout waits (lock_timeout bounds it), then commits', async () => {
    // The change's first statement takes the lock; it used to run under the pool's
    // statement_timeout (set by its BEGIN), so a wait past 60 ms answered 503.
    const app = await startApp(db.url, { STATEMENT_TIMEOUT_MS: '60', LOCK_TIMEOUT_MS: '10000', DRIFT_CHECK_INTERVAL: 'off', CLEANUP_INTERVAL: 'off' }, 'timeout 60, lock held');
    apps.push(app);
    const t = (await app.request('POST', '/tables', { json: { name: 'Held', fields: [{ name: 'Name', type: 'text' }] } })).body;
    await locker.exec('BEGIN');
    await locker.exec(`SELECT pg_advisory_xact_lock(${SCHEMA_LOCK_NAMESPACE}, ${Number(t.id)})`);
    const release = setTimeout(() => void locker.exec('ROLLBACK'), 400);
    try {
      const started = performance.now();
      const res = await app.request('POST', `/tables/${t.id}/fields`, { json: { name: 'Note', type: 'text' } });
      const ms = performance.now() - started;
      expect(res.status, res.text).to.equal(201);
      expect(ms, 'it did wait for the lock (the test means something)').to.be.above(300);
    } finally {
      clearTimeout(release);
      await locker.exec('ROLLBACK').catch(() => undefined);
    }
  });
});
