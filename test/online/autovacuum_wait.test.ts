// The online steps wait for SHARE UPDATE EXCLUSIVE past deadlock_timeout (steps.ts,
// holdOffAutovacuum): PostgreSQL cancels an autovacuum holding that lock only for a
// request that has waited deadlock_timeout, and the steps' 100-200 ms attempts never did.
// A test cannot make autovacuum hold a table on cue, so a session holding the same lock
// (as a VACUUM does) stands in for it. Proves that the wait outlasts deadlock_timeout
// (the step gets the lock a holder of 1.2 s lets go of, where an attempt of LOCK_ATTEMPT_MS
// gave up), that reads and writes of the table go on while the step waits, and that the
// attempt's own lock_timeout is back in force after it.
import { expect } from 'chai';
import pg from 'pg';
import { performance } from 'node:perf_hooks';
import { holdOffAutovacuum } from '../../server/schema/online/steps.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('online steps and autovacuum: the SHARE UPDATE EXCLUSIVE wait', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let holder: Sql;
  let traffic: Sql;
  let step: pg.Client;
  before(async () => {
    db = await freshDatabase();
    holder = await Sql.connect(db.url);
    traffic = await Sql.connect(db.url);
    step = new pg.Client({ connectionString: db.url });
    await step.connect();
    await holder.exec(`CREATE TABLE data.vacuumed (id int8 GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text)`);
    await holder.exec(`INSERT INTO data.vacuumed (v) SELECT 'v' || g FROM generate_series(1, 1000) g`);
  });
  after(async () => {
    await holder?.exec('ROLLBACK').catch(() => undefined);
    await step?.query('ROLLBACK').catch(() => undefined);
    for (const c of [holder, traffic]) await c?.end();
    await step?.end();
    await db?.drop();
  });

  it('waits past deadlock_timeout for a holder of the lock, while reads and writes go on, then the attempt lock_timeout is back', async () => {
    const deadlockMs = Number((await traffic.one<{ setting: string }>(`SELECT setting FROM pg_settings WHERE name = 'deadlock_timeout'`)).setting);
    await holder.exec('BEGIN');
    await holder.exec(`LOCK TABLE data.vacuumed IN SHARE UPDATE EXCLUSIVE MODE`);

    // An attempt as the steps made them before: lock_timeout 100 ms gives up.
    await step.query('BEGIN');
    await step.query(`SET LOCAL lock_timeout = '100ms'`);
    const short = await step.query(`LOCK TABLE data.vacuumed IN SHARE UPDATE EXCLUSIVE MODE`).then(() => null, (e: { code?: string }) => e.code);
    await step.query('ROLLBACK');
    expect(short, 'a 100 ms attempt gives up behind the holder').to.equal('55P03');

    await step.query('BEGIN');
    await step.query(`SET LOCAL lock_timeout = '100ms'`);
    const t0 = performance.now();
    const waiting = holdOffAutovacuum(step, 'data.vacuumed');
    await sleep(100);
    const trafficMs: number[] = [];
    while (performance.now() - t0 < Math.min(1200, deadlockMs + 200)) {
      const r0 = performance.now();
      await traffic.exec(`INSERT INTO data.vacuumed (v) VALUES ('during')`);
      await traffic.rows(`SELECT count(*) FROM data.vacuumed`);
      trafficMs.push(performance.now() - r0);
      await sleep(50);
    }
    await holder.exec('ROLLBACK');
    await waiting;
    const waitedMs = performance.now() - t0;
    expect(waitedMs, 'the step waited for the holder').to.be.greaterThan(Math.min(1200, deadlockMs + 200) - 50);
    expect(trafficMs.length).to.be.greaterThan(5);
    expect(Math.max(...trafficMs), `reads and writes while the step waited: ${trafficMs.map(Math.round).join(', ')} ms`).to.be.below(200);
    const held = await traffic.rows(`SELECT mode FROM pg_locks WHERE relation = 'data.vacuumed'::regclass AND granted AND pid = $1`, [(step as unknown as { processID: number }).processID]);
    expect(held.map((r: { mode: string }) => r.mode)).to.include('ShareUpdateExclusiveLock');
    const { rows } = await step.query<{ lt: string }>(`SELECT current_setting('lock_timeout') AS lt`);
    expect(rows[0]!.lt, "the attempt's own lock_timeout is back").to.equal('100ms');
    await step.query('ROLLBACK');
  });
});
