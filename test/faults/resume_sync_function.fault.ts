// An online type change resumed by an instance of another version: the sync function the
// change was started with is the starting version's. One made before writes that would not
// convert were refused let such a write through (its value emptied in the new column without
// a word, though no loss was confirmed). The instance that resumes the change makes the
// function again as it makes it, before it goes on, without a lock on the table.
import { expect } from 'chai';
import type { TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';
import { bigTable, expectReconcileClean, jobEnd, killDaemon, leftovers, ONLINE_FAULT_ENV, waitingOn as waitingOnLock } from './big_table.js';
import { eventually, startDaemon, stopDaemons } from './lib.js';

const ROWS = 150_000;
const ENV = ONLINE_FAULT_ENV;

describe('an online change resumed with an older version\'s sync function', function () {
  this.timeout(300_000);
  let db: TestDatabase;
  let sql: Sql;
  let token: string;
  let table: { id: number; table_name: string; fields: Array<{ id: number; column: string }> };

  before(async () => {
    ({ db, sql, token, table } = await bigTable(
      'Meters',
      [{ name: 'Reading', type: 'text', column: 'reading' }],
      (rel) => `INSERT INTO ${rel} (reading) SELECT g::text FROM generate_series(1, ${ROWS}) g`,
      ENV,
    ));
  });
  after(async () => {
    await stopDaemons();
    await sql?.end();
    await db?.drop();
  });

  const kill = killDaemon;

  /** A write of a value that does not convert to a number, in a transaction rolled back: its error code, or 'taken'. */
  async function lossyWrite(): Promise<string> {
    const w = await Sql.connect(db.url);
    try {
      await w.exec('BEGIN');
      await w.exec(`UPDATE data.meters SET reading = 'n/a' WHERE id = 5`);
      return 'taken';
    } catch (err) {
      return (err as { code?: string }).code ?? String(err);
    } finally {
      await w.exec('ROLLBACK').catch(() => undefined);
      await w.end();
    }
  }

  it('the instance that resumes it makes the function again (audited): a write that would not convert, let through by the older function, is refused again; nothing lost', async () => {
    const fieldId = table.fields[0]!.id;
    const holder = await Sql.connect(db.url);
    const a = await startDaemon({ DATABASE_URL: db.url, ...ENV }, token);
    try {
      // one page a range: the copy is still going when the change's row is held
      const res = await a.call('PATCH', `/tables/${table.id}/fields/${fieldId}`, { json: { type: 'number', online: 1, batch_pages: 1 } });
      expect(res.status, res.text).to.equal(202);
      await eventually('the shadow column added', async () => (await sql.rows(`SELECT 1 FROM tablewright.online_changes WHERE step IN ('add_shadow', 'backfill') AND status = 'running'`)).length > 0, 60_000, 5);
      // The change's row, held: the copy waits where it next records how far it is (on
      // both instances), and the table itself is not locked.
      await holder.exec('BEGIN');
      await holder.exec(`SELECT 1 FROM tablewright.online_changes WHERE job_id = $1 FOR UPDATE`, [res.body.id]);
      await eventually('the copy waiting for the change\'s row', waitingOnLock(sql, 'UPDATE tablewright\\.online_changes|UPDATE .* SET .* WHERE t\\.ctid >= format'), 60_000);
      expect(await lossyWrite(), 'the function as made refuses the write').to.equal('TW001');

      // The function as an older version made it: the same conversion, no refusal.
      const fn = await sql.one(`SELECT oid::regprocedure::text AS sig, prosrc FROM pg_proc WHERE proname = $1`, [`tw_sync_f${fieldId}`]);
      const older = String(fn.prosrc).replace(/\n {2}IF NEW\.[\s\S]*END IF;/, '');
      expect(older, 'the refusal taken out').to.not.match(/RAISE/);
      await sql.exec(`CREATE OR REPLACE FUNCTION ${fn.sig} RETURNS trigger LANGUAGE plpgsql AS $older$${older}$older$`);
      expect(await lossyWrite(), 'the older function lets it through').to.equal('taken');

      await kill(a);
      const b = await startDaemon({ DATABASE_URL: db.url, ...ENV }, token);
      await eventually(
        'the function made again by the resuming instance',
        async () => (await sql.rows(`SELECT 1 FROM tablewright.audit WHERE field_id = $1 AND operation = 'online_change_type:refresh_sync_function'`, [fieldId])).length > 0,
        60_000,
        50,
      );
      expect((await sql.one(`SELECT prosrc FROM pg_proc WHERE proname = $1`, [`tw_sync_f${fieldId}`])).prosrc, 'as this version makes it').to.equal(fn.prosrc);
      expect(await lossyWrite(), 'refused again while the change is in flight').to.equal('TW001');

      await holder.exec('ROLLBACK');
      const job = await jobEnd(b, res.body.id);
      expect(job.status, JSON.stringify(job.error)).to.equal('done');
      expect(job.attempts).to.equal(2);
      expect(await sql.one(`SELECT count(*)::int AS n, count(reading)::int AS filled, count(*) FILTER (WHERE reading = id)::int AS right FROM data.meters`)).to.deep.equal({ n: ROWS, filled: ROWS, right: ROWS });
      expect(await leftovers(sql, 'data.meters'), 'nothing of the change left').to.deep.equal([]);
      await expectReconcileClean(b);
      await b.stop();
    } finally {
      await holder.exec('ROLLBACK').catch(() => undefined);
      await holder.end();
      await a.stop(1000);
    }
  });
});
