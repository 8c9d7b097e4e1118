// SIGKILL at the other steps of an online schema change (test/faults/online.fault.ts has
// the backfill and the concurrent index build), and a change whose job used all its
// attempts:
//   * during VALIDATE CONSTRAINT (online NOT NULL): the scan runs, its transaction never commits;
//   * during the swap (online type change): the swap's transaction has done its DDL (the sync
//     trigger dropped, the columns renamed) and its metadata, and waits at the version bump;
//   * during the rollback an admin's cancel started: trigger, function and shadow column
//     dropped in its transaction, which waits at the version bump;
//   * the job's last attempt dies: another instance's sweep queues a cleanup job that rolls
//     the change back.
// Every time another instance (a real `tablewright serve` process) ends the change: done
// once, or rolled back to the old field; no shadow column, sync trigger or function,
// invalid index or NOT VALID constraint left; reconcile clean with nothing in flight;
// and the table takes the next change.
//
// Where a step must be caught mid-way, a session holds a lock the step needs (a table
// lock, the table's metadata row, a row of the table; each attempt waits LOCK_ATTEMPT_MS =
// 10 s here), so the kill lands on a known statement.
import { expect } from 'chai';
import { type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';
import { bigTable, expectReconcileClean, holdVersionBump, jobEnd, killAtVersionBump, killDaemon, leftovers, ONLINE_FAULT_ENV, waitingOn as waitingOnLock } from './big_table.js';
import { eventually, startDaemon, stopDaemons, type Daemon } from './lib.js';

const ROWS = 150_000;
const ENV = ONLINE_FAULT_ENV;

describe('SIGKILL at the validate, swap and rollback steps of an online change; a job out of attempts', function () {
  this.timeout(300_000);
  let db: TestDatabase;
  let sql: Sql;
  let token: string;
  let table: { id: number; table_name: string; fields: Array<{ id: number; column: string }> };
  const fid = (i: number) => table.fields[i]!.id;

  before(async () => {
    ({ db, sql, token, table } = await bigTable(
      'Steps',
      [
        { name: 'Code', type: 'text', column: 'code' },
        { name: 'Amount', type: 'number', column: 'amount' },
        { name: 'Other', type: 'text', column: 'other' },
        { name: 'Spent', type: 'number', column: 'spent' },
      ],
      (rel) => `INSERT INTO ${rel} (code, amount, other, spent) SELECT 'c' || g, g, CASE WHEN g % 10 = 0 THEN 'x' || g ELSE g::text END, g FROM generate_series(1, ${ROWS}) g`,
      ENV,
    ));
  });
  after(async () => {
    await stopDaemons();
    await sql?.end();
    await db?.drop();
  });

  /** Our objects that only a change in flight has. */
  const inFlight = () => leftovers(sql, 'data.steps');

  async function expectClean(d: Daemon) {
    expect(await inFlight(), 'nothing of the change in flight is left').to.deep.equal([]);
    expect(await sql.rows(`SELECT id, status FROM tablewright.online_changes WHERE status = 'running'`), 'no change left running').to.deep.equal([]);
    await expectReconcileClean(d);
  }

  const waitingOn = (re: string) => waitingOnLock(sql, re);

  /** The change in flight has its shadow column (and trigger), committed. */
  const shadowAdded = async () => (await sql.rows(`SELECT 1 FROM tablewright.online_changes WHERE step IN ('add_shadow', 'backfill') AND status = 'running'`)).length > 0;

  const kill = killDaemon;

  const columnType = async (col: string) => (await sql.one(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'data.steps'::regclass AND attname = $1`, [col])).t;

  it('killed during VALIDATE CONSTRAINT of an online NOT NULL: the CHECK stays NOT VALID; the other instance validates again and finishes', async () => {
    const a = await startDaemon({ DATABASE_URL: db.url, ...ENV }, token);
    // h1 (a reader's open transaction) holds the table, so the brief ADD CONSTRAINT ... NOT VALID
    // waits; h2 queues a SHARE UPDATE EXCLUSIVE behind it and gets it the moment that commits,
    // so VALIDATE (which needs the same) waits in its own transaction.
    const h1 = await Sql.connect(db.url);
    const h2 = await Sql.connect(db.url);
    try {
      await h1.exec('BEGIN');
      await h1.exec('SELECT 1 FROM data.steps LIMIT 1');
      const res = await a.call('PATCH', `/tables/${table.id}/fields/${fid(0)}`, { json: { not_null: true, online: 1 } });
      expect(res.status, res.text).to.equal(202);
      await eventually('ADD CONSTRAINT waiting for its lock', waitingOn('ADD CONSTRAINT "nn_f'), 60_000);
      await h2.exec('BEGIN');
      const queued = h2.exec('LOCK TABLE data.steps IN SHARE UPDATE EXCLUSIVE MODE');
      await eventually('the DBA lock queued', waitingOn('^LOCK TABLE data.steps'), 10_000);
      await h1.exec('COMMIT');
      await queued;
      await eventually('VALIDATE CONSTRAINT waiting for its lock', waitingOn('VALIDATE CONSTRAINT "nn_f'), 60_000);
      expect(await sql.one(`SELECT convalidated FROM pg_constraint WHERE conname = $1`, [`nn_f${fid(0)}`])).to.deep.equal({ convalidated: false });
      // Let VALIDATE have its lock and scan the table, and kill the instance as it starts.
      await h2.exec('ROLLBACK');
      await kill(a);
      await eventually('the killed VALIDATE gone', async () => !(await sql.rows(`SELECT 1 FROM pg_stat_activity WHERE query ~ 'VALIDATE CONSTRAINT' AND pid <> pg_backend_pid()`)).length, 30_000, 50);
      expect(await sql.one(`SELECT convalidated FROM pg_constraint WHERE conname = $1`, [`nn_f${fid(0)}`]), 'the killed VALIDATE never committed').to.deep.equal({ convalidated: false });
      const b = await startDaemon({ DATABASE_URL: db.url, ...ENV }, token);
      const job = await jobEnd(b, res.body.id);
      expect(job.status, JSON.stringify(job.error)).to.equal('done');
      expect(job.attempts, 'killed, then resumed').to.equal(2);
      expect(await sql.one(`SELECT attnotnull FROM pg_attribute WHERE attrelid = 'data.steps'::regclass AND attname = 'code'`)).to.deep.equal({ attnotnull: true });
      expect(await sql.one(`SELECT not_null FROM tablewright.fields WHERE id = $1`, [fid(0)])).to.deep.equal({ not_null: true });
      const steps = await sql.rows(`SELECT operation FROM tablewright.audit WHERE field_id = $1 AND operation LIKE 'online_%' ORDER BY id`, [fid(0)]);
      expect(steps.map((s) => s.operation), 'each step audited once: the killed VALIDATE is not').to.deep.equal(['online_set_not_null:add_check', 'online_set_not_null:validate', 'online_set_not_null:set_not_null']);
      await expectClean(b);
      await b.stop();
    } finally {
      for (const h of [h1, h2]) {
        await h.exec('ROLLBACK').catch(() => undefined);
        await h.end();
      }
      await a.stop(1000);
    }
  });

  it('killed during the swap of an online number -> text change: the swap rolls back whole; the other instance swaps once, values right', async () => {
    const a = await startDaemon({ DATABASE_URL: db.url, ...ENV }, token);
    const holder = await Sql.connect(db.url);
    try {
      const res = await a.call('PATCH', `/tables/${table.id}/fields/${fid(1)}`, { json: { type: 'text', online: 1 } });
      expect(res.status, res.text).to.equal(202);
      await eventually('the shadow column added', shadowAdded, 60_000, 5);
      // The table's metadata row, held: the swap does all its DDL (trigger dropped, columns
      // renamed), writes the field's metadata, and waits at the version bump, its last step.
      await holdVersionBump(holder, table.id);
      await killAtVersionBump(sql, a, holder, 'the swap');
      expect(await sql.one(`SELECT step FROM tablewright.online_changes WHERE job_id = $1`, [res.body.id]), 'the swap never committed').to.deep.equal({ step: 'backfilled' });
      // A write in the meantime: the trigger (whose drop died with the swap) keeps the shadow in step.
      expect((await sql.rows(`SELECT tgname FROM pg_trigger WHERE tgrelid = 'data.steps'::regclass AND tgname = $1`, [`tw_sync_f${fid(1)}`])).length, 'the swap rolled back: the trigger is there').to.equal(1);
      expect(await columnType('amount'), 'the swap rolled back: the old column').to.equal('bigint');
      await sql.exec(`UPDATE data.steps SET amount = 424242 WHERE id = 7`);
      await sql.exec(`INSERT INTO data.steps (code, amount) VALUES ('late', 5)`);
      const b = await startDaemon({ DATABASE_URL: db.url, ...ENV }, token);
      const job = await jobEnd(b, res.body.id);
      expect(job.status, JSON.stringify(job.error)).to.equal('done');
      expect(job.attempts).to.equal(2);
      expect(await columnType('amount')).to.equal('text');
      expect(await sql.one(`SELECT count(*)::int AS n, count(*) FILTER (WHERE amount = CASE WHEN id = 7 THEN '424242' WHEN code = 'late' THEN '5' ELSE id::text END)::int AS right FROM data.steps`)).to.deep.equal({ n: ROWS + 1, right: ROWS + 1 });
      const swaps = await sql.rows(`SELECT operation FROM tablewright.audit WHERE field_id = $1 AND operation = 'online_change_type:swap'`, [fid(1)]);
      expect(swaps, 'swapped once').to.have.length(1);
      expect((await sql.rows(`SELECT 1 FROM tablewright.fields WHERE table_id = $1 AND trash_reason = 'type_change'`, [table.id])).length, 'one trashed copy of the old column').to.equal(1);
      await expectClean(b);
      await b.stop();
    } finally {
      await holder.exec('ROLLBACK').catch(() => undefined);
      await holder.end();
      await a.stop(1000);
    }
  });

  it('killed during the rollback of a cancelled change: the other instance finishes the rollback, the old field as it was', async () => {
    const a = await startDaemon({ DATABASE_URL: db.url, ...ENV }, token);
    const holder = await Sql.connect(db.url);
    const before = await sql.rows(`SELECT id, other FROM data.steps ORDER BY id LIMIT 50`);
    try {
      const res = await a.call('PATCH', `/tables/${table.id}/fields/${fid(2)}`, { json: { type: 'number', confirm_loss: 1, online: 1 } });
      expect(res.status, res.text).to.equal(202);
      await eventually('the shadow column added', shadowAdded, 60_000, 5);
      // The table's metadata row, held: the rollback drops the trigger, its function and the
      // shadow column, and waits at the version bump.
      await holder.exec('BEGIN');
      await holder.exec('SELECT 1 FROM tablewright.tables WHERE id = $1 FOR UPDATE', [table.id]);
      const cancel = await a.call('POST', `/jobs/${res.body.id}/cancel`);
      expect(cancel.status, cancel.text).to.equal(202);
      await eventually('the rollback waiting at its version bump', waitingOn('UPDATE tablewright.tables SET version'), 120_000);
      await kill(a);
      await holder.exec('ROLLBACK');
      expect((await inFlight()).length, 'the killed rollback undid nothing').to.be.greaterThan(0);
      const b = await startDaemon({ DATABASE_URL: db.url, ...ENV }, token);
      const job = await jobEnd(b, res.body.id);
      expect(job.status).to.equal('failed');
      expect(job.error.code).to.equal('cancelled');
      expect(job.attempts).to.equal(2);
      expect(await columnType('other')).to.equal('text');
      expect((await b.call('GET', `/tables/${table.id}/fields/${fid(2)}`)).body.type).to.equal('text');
      expect(await sql.rows(`SELECT id, other FROM data.steps ORDER BY id LIMIT 50`), 'the values untouched').to.deep.equal(before);
      expect(await sql.one(`SELECT status FROM tablewright.online_changes WHERE job_id = $1`, [res.body.id])).to.deep.equal({ status: 'rolled_back' });
      await expectClean(b);
      await b.stop();
    } finally {
      await holder.exec('ROLLBACK').catch(() => undefined);
      await holder.end();
      await a.stop(1000);
    }
  });

  it("a change whose job used all its attempts: another instance's sweep rolls it back with a cleanup job; the table takes the next change", async () => {
    const a = await startDaemon({ DATABASE_URL: db.url, ...ENV }, token);
    const holder = await Sql.connect(db.url);
    // The row the copy reaches last: the one in the table's last page, by where it is, not
    // by its id, and one with a value: the copy leaves an empty row alone, and the row of
    // the largest id is the earlier test's insert, whose "spent" is empty (held, the copy
    // never waited for it: CI timed out here twice).
    const { id: lastRow } = await sql.one(`SELECT id FROM data.steps WHERE spent IS NOT NULL ORDER BY ctid DESC LIMIT 1`);
    // small ranges: the copy reaches the last page well after the row is held (with ranges
    // growing, two sessions could pass it first on a busy machine)
    const res = await a.call('PATCH', `/tables/${table.id}/fields/${fid(3)}`, { json: { type: 'text', online: 1, batch_pages: 4 } });
    expect(res.status, res.text).to.equal(202);
    try {
      await eventually('the shadow column added', shadowAdded, 60_000, 5);
      // The last row, held: the backfill waits at its last batch.
      await holder.exec('BEGIN');
      await holder.exec(`SELECT 1 FROM data.steps WHERE id = $1 FOR UPDATE`, [lastRow]);
      await eventually('the backfill waiting at its last batch', waitingOn('UPDATE .* SET .* WHERE t\\.ctid >= format'), 120_000);
      // This attempt is its last.
      await sql.exec(`UPDATE tablewright.jobs SET max_attempts = attempts WHERE id = $1`, [res.body.id]);
      await kill(a);
    } finally {
      await holder.exec('ROLLBACK').catch(() => undefined);
      await holder.end();
      await a.stop(1000);
    }
    expect((await inFlight()).length, 'the dead change left its shadow column and trigger').to.be.greaterThan(0);
    const b = await startDaemon({ DATABASE_URL: db.url, ...ENV }, token);
    const job = await jobEnd(b, res.body.id);
    expect(job.status).to.equal('failed');
    expect(job.error.code).to.equal('instance_lost');
    const change = await eventually(
      'the change rolled back',
      async () => (await sql.rows(`SELECT * FROM tablewright.online_changes WHERE id = (SELECT id FROM tablewright.online_changes ORDER BY id DESC LIMIT 1) AND status <> 'running'`))[0],
      60_000,
      100,
    );
    expect(change.status).to.equal('rolled_back');
    expect(change.job_id, 'a cleanup job of its own').to.not.equal(res.body.id);
    const cleanup = await jobEnd(b, change.job_id);
    expect(cleanup.status).to.equal('failed');
    expect(cleanup.error.code).to.equal('change_abandoned');
    expect(cleanup.error.message).to.match(/used all its attempts \(1\)/);
    expect(await columnType('spent')).to.equal('bigint');
    expect((await b.call('GET', `/tables/${table.id}/fields/${fid(3)}`)).body.type).to.equal('number');
    await expectClean(b);
    // no longer in flight: the next change goes through
    const next = await b.call('PATCH', `/tables/${table.id}/fields/${fid(3)}`, { json: { name: 'Spent total' } });
    expect(next.status, next.text).to.equal(200);
    await b.stop();
  });
});
