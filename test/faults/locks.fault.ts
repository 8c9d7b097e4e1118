// A long transaction holds a lock on a user table (a report, a migration script, a psql
// session left open). A schema change on that table must give up after LOCK_TIMEOUT_MS
// with 409 table_busy and change nothing, while the other tables carry on as usual.
import { expect } from 'chai';
import { performance } from 'node:perf_hooks';
import { SCHEMA_LOCK_NAMESPACE } from '../../server/schema/change.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';
import { LEVEL, sleep, startLoggedApp, stopLoggedApps, type LoggedApp } from './lib.js';

const LOCK_TIMEOUT_MS = 1000;
/** Scheduling and HTTP on a busy CI machine: how much later than lock_timeout the 409 may come. */
const SLACK_MS = 1000;

describe('a long transaction holds a lock on a user table', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let app: LoggedApp;
  let holder: Sql;
  let sql: Sql;
  let busy: { id: number; table_name: string; fields: Array<{ id: number; column: string }> };
  let other: { id: number };

  before(async () => {
    db = await freshDatabase();
    app = await startLoggedApp(db.url, { LOCK_TIMEOUT_MS: String(LOCK_TIMEOUT_MS) });
    holder = await Sql.connect(db.url);
    sql = await Sql.connect(db.url);
    busy = (await app.request('POST', '/tables', { json: { name: 'Busy', fields: [{ name: 'Name', type: 'text' }] } })).body;
    other = (await app.request('POST', '/tables', { json: { name: 'Other', fields: [{ name: 'Name', type: 'text' }] } })).body;
    for (let i = 0; i < 20; i++) await app.request('POST', `/tables/${other.id}/rows`, { json: { name: `o${i}` } });
    await app.request('POST', `/tables/${busy.id}/rows`, { json: { name: 'b' } });
  });
  afterEach(async () => {
    await holder.exec('ROLLBACK').catch(() => undefined);
  });
  after(async () => {
    await holder?.end();
    await sql?.end();
    await stopLoggedApps();
    await db?.drop();
  });

  /** Reads and writes of the other table, back to back, until `stop` resolves; each one timed. */
  async function trafficOnOther(stop: Promise<unknown>): Promise<Array<{ status: number; ms: number }>> {
    const done = { yes: false };
    void stop.finally(() => (done.yes = true));
    const results: Array<{ status: number; ms: number }> = [];
    for (let i = 0; !done.yes; i++) {
      const t0 = performance.now();
      const res =
        i % 2 === 0
          ? await app.request('GET', `/tables/${other.id}/rows?size=5`)
          : await app.request('POST', `/tables/${other.id}/rows`, { json: { name: `during ${i}` } });
      results.push({ status: res.status, ms: performance.now() - t0 });
    }
    return results;
  }

  for (const lock of [
    { what: 'a row lock plus ACCESS SHARE (an open SELECT ... FOR UPDATE)', sql: (t: string) => `SELECT * FROM data.${t} FOR UPDATE` },
    { what: 'an ACCESS EXCLUSIVE lock (LOCK TABLE)', sql: (t: string) => `LOCK TABLE data.${t} IN ACCESS EXCLUSIVE MODE` },
  ]) {
    it(`with ${lock.what}: the schema change answers 409 table_busy after about lock_timeout, changes nothing, and other tables carry on`, async () => {
      // Taken before the lock: pg_get_expr() and friends in the snapshot need the table too.
      const before = await sql.snapshot();
      await holder.exec('BEGIN');
      await holder.exec(lock.sql(busy.table_name));

      const t0 = performance.now();
      const change = app.request('POST', `/tables/${busy.id}/fields`, { json: { name: 'Blocked', type: 'text' } });
      const traffic = trafficOnOther(change);
      const res = await change;
      const waited = performance.now() - t0;
      const during = await traffic;

      expect(res.status, res.text).to.equal(409);
      expect(res.body.error.code).to.equal('table_busy');
      expect(waited, 'waited about lock_timeout').to.be.within(LOCK_TIMEOUT_MS - 50, LOCK_TIMEOUT_MS + SLACK_MS);

      expect(during.length, 'the other table was used while the change waited').to.be.greaterThan(5);
      expect(during.filter((r) => r.status >= 300), 'every read and write of the other table succeeded').to.deep.equal([]);
      const slowest = Math.max(...during.map((r) => r.ms));
      expect(slowest, 'none of them waited on the busy table').to.be.below(LOCK_TIMEOUT_MS / 2);

      const logged = app.logged(/^[A-Z]+ \/\S* \d{3} |request failed/).filter((l) => (l.res as { statusCode?: number } | undefined)?.statusCode === 409);
      expect(logged.at(-1)?.level, 'a refused change is logged at warn, not error').to.equal(LEVEL.warn);
      const gaveUp = app.logged(/schema change gave up waiting for a lock/).at(-1);
      expect(gaveUp?.level).to.equal(LEVEL.warn);
      expect(gaveUp).to.include({ op: 'add_field', lockKey: busy.id, lockTimeoutMs: LOCK_TIMEOUT_MS });

      await holder.exec('ROLLBACK');
      expect(await sql.snapshot(), 'nothing changed: catalog, metadata, audit, versions').to.deep.equal(before);
      // Once the long transaction has ended, the same change goes through.
      const retried = await app.request('POST', `/tables/${busy.id}/fields`, { json: { name: `Unblocked ${lock.what.length}`, type: 'text' } });
      expect(retried.status, retried.text).to.equal(201);
    });
  }

  it("another session's schema change (the table's advisory lock held) also ends in 409 after lock_timeout, not a hang", async () => {
    await holder.exec('BEGIN');
    await holder.exec('SELECT pg_advisory_xact_lock($1, $2)', [SCHEMA_LOCK_NAMESPACE, busy.id]);
    const t0 = performance.now();
    const res = await app.request('PATCH', `/tables/${busy.id}`, { json: { name: 'Renamed while locked' } });
    const waited = performance.now() - t0;
    expect(res.status, res.text).to.equal(409);
    expect(res.body.error.code).to.equal('table_busy');
    expect(waited).to.be.within(LOCK_TIMEOUT_MS - 50, LOCK_TIMEOUT_MS + SLACK_MS);
    // Rows of the table itself are not behind an advisory lock.
    const rows = await app.request('GET', `/tables/${busy.id}/rows`);
    expect(rows.status).to.equal(200);
  });

  it('reads of the busy table queue behind the waiting change for at most lock_timeout (a documented limit), then succeed', async () => {
    // PostgreSQL queues lock requests: once ALTER TABLE waits for its ACCESS EXCLUSIVE lock,
    // later readers of that table wait behind it, until the ALTER gives up at lock_timeout.
    await holder.exec('BEGIN');
    await holder.exec(`SELECT * FROM data.${busy.table_name}`);
    const change = app.request('POST', `/tables/${busy.id}/fields`, { json: { name: 'Queued', type: 'text' } });
    await sleep(200);
    const t0 = performance.now();
    const read = await app.request('GET', `/tables/${busy.id}/rows`);
    const waited = performance.now() - t0;
    expect((await change).status).to.equal(409);
    expect(read.status, read.text).to.equal(200);
    expect(waited, 'the read waited no longer than the change did').to.be.below(LOCK_TIMEOUT_MS + SLACK_MS);
  });
});
