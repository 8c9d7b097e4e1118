// Short lock attempts: a schema change waiting for a table a long reader holds waits
// LOCK_ATTEMPT_MS at a time (so the reads queued behind it wait no longer than that), backs
// off and tries again until LOCK_TIMEOUT_MS; the reader gone, it goes through.
import { expect } from 'chai';
import { performance } from 'node:perf_hooks';
import { lockBackoffMs } from '../../server/schema/change.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { waitForJob } from '../helpers/jobs.js';
import { Sql } from '../helpers/sql.js';
import { createTable, QUIET } from '../introspect/lib.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('schema changes take their locks in short attempts', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let app: TestApp;
  let holder: Sql;
  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url, { ...QUIET, LOCK_TIMEOUT_MS: '4000', LOCK_ATTEMPT_MS: '100' });
    holder = await Sql.connect(db.url);
  });
  after(async () => {
    await holder?.exec('ROLLBACK').catch(() => undefined);
    await holder?.end();
    await app?.stop();
    await db?.drop();
  });

  it('backoff grows from about 25 ms to at most 1 s, with jitter', () => {
    for (let i = 0; i < 50; i++) {
      expect(lockBackoffMs(1)).to.be.within(12, 25);
      expect(lockBackoffMs(3)).to.be.within(50, 100);
      expect(lockBackoffMs(20)).to.be.within(500, 1000);
    }
  });

  it('a long reader holds the table for 1.5 s: reads queued behind the waiting change wait about one attempt, and the change succeeds after the reader ends', async () => {
    const t = await createTable(app, 'Busy', [{ name: 'Name', type: 'text' }]);
    await app.request('POST', `/tables/${t.id}/rows`, { json: { name: 'a' } });
    await holder.exec('BEGIN');
    await holder.exec(`SELECT * FROM data.busy`);
    const t0 = performance.now();
    const change = app.request('POST', `/tables/${t.id}/fields`, { json: { name: 'Later', type: 'text' } });
    await sleep(150);
    const waits: number[] = [];
    const reading = (async () => {
      while (performance.now() - t0 < 1400) {
        const r0 = performance.now();
        const read = await app.request('GET', `/tables/${t.id}/rows`);
        expect(read.status, read.text).to.equal(200);
        waits.push(performance.now() - r0);
      }
    })();
    await sleep(1350);
    await holder.exec('ROLLBACK');
    await reading;
    const res = await change;
    expect(res.status, res.text).to.equal(201);
    expect(performance.now() - t0, 'it waited for the reader').to.be.greaterThan(1400);
    expect(waits.length, 'reads went on while the change waited').to.be.greaterThan(3);
    // One read may queue behind an attempt (100 ms) plus HTTP; never behind the whole wait.
    expect(Math.max(...waits), `read latencies ${waits.map((w) => Math.round(w)).join(', ')}`).to.be.below(600);
  });

  it('gives up with 409 table_busy after LOCK_TIMEOUT_MS in all, saying how many attempts it made', async () => {
    const t = await createTable(app, 'Held', [{ name: 'Name', type: 'text' }]);
    await holder.exec('BEGIN');
    await holder.exec(`LOCK TABLE data.held IN ACCESS SHARE MODE`);
    const t0 = performance.now();
    const res = await app.request('POST', `/tables/${t.id}/fields`, { json: { name: 'Never', type: 'text' } });
    const waited = performance.now() - t0;
    await holder.exec('ROLLBACK');
    expect(res.status, res.text).to.equal(409);
    expect(res.body.error.code).to.equal('table_busy');
    expect(res.body.error.details.attempts).to.be.greaterThan(3);
    expect(res.body.error.message).to.match(/short lock attempts/);
    expect(waited).to.be.within(3500, 5500);
  });

  it('an online index build waits for an old snapshot in the same short attempts and budget: it goes through once the snapshot ends, or gives up with 409 table_busy, no invalid index left', async () => {
    const t = await createTable(app, 'Snap', [{ name: 'A', type: 'text' }, { name: 'B', type: 'text' }]);
    await holder.exec(`INSERT INTO data.snap (a, b) SELECT 'a' || g, 'b' || g FROM generate_series(1, 2000) g`);
    const [a, b] = [t.fields[0]!.id, t.fields[1]!.id];
    const invalid = async () => (await holder.rows(`SELECT 1 FROM pg_index WHERE indrelid = 'data.snap'::regclass AND NOT indisvalid`)).length;
    // A REPEATABLE READ transaction's snapshot: every CONCURRENTLY build waits for it at its end.
    await holder.exec('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await holder.exec('SELECT 1');
    const res = await app.request('PATCH', `/tables/${t.id}/fields/${a}`, { json: { indexed: true, online: 1 } });
    expect(res.status, res.text).to.equal(202);
    await sleep(1500);
    await holder.exec('ROLLBACK');
    const done = await waitForJob(app, res.body.id);
    expect(done.status, JSON.stringify(done.error)).to.equal('done');
    expect(await invalid()).to.equal(0);
    // held for good: the build gives up once its waits and pauses reach LOCK_TIMEOUT_MS (4 s), after more than the 3 attempts it used to count
    await holder.exec('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await holder.exec('SELECT 1');
    try {
      const res2 = await app.request('PATCH', `/tables/${t.id}/fields/${b}`, { json: { unique: true, online: 1 } });
      expect(res2.status, res2.text).to.equal(202);
      const failed = await waitForJob(app, res2.body.id, 30_000);
      expect(failed.status).to.equal('failed');
      expect(failed.error.code, JSON.stringify(failed.error)).to.equal('table_busy');
      expect(failed.error.message).to.match(/index build gave up waiting/);
      expect(failed.error.details.attempts).to.be.greaterThan(3);
    } finally {
      await holder.exec('ROLLBACK');
    }
    expect(await invalid(), 'the rollback dropped the invalid index').to.equal(0);
    expect((await holder.one(`SELECT is_unique FROM tablewright.fields WHERE id = $1`, [b])).is_unique).to.equal(false);
  });
});
