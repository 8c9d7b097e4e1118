// SIGKILL between the concurrent index build and the attach step of an online change
// (online.fault.ts kills mid-build, online_steps.fault.ts at VALIDATE, the swap and a
// rollback): the index is built and VALID, and the instance dies either before the brief
// attach transaction has done anything (waiting for the table's schema lock) or inside it
// (its DDL and metadata done, waiting at its version bump). For a single-field UNIQUE (attach = ADD
// CONSTRAINT ... USING INDEX), a single-field index (attach = metadata only) and a UNIQUE
// over two fields (attach = constraint + table_indexes row). Another instance (a real
// `tablewright serve`) takes the job over: it finds the index valid, does not build it
// again, attaches once; no invalid index, trigger or half-made constraint; the metadata
// says what the catalog has; reconcile clean with nothing in flight.
import { expect } from 'chai';
import { type TestDatabase } from '../helpers/db.js';
import { SCHEMA_LOCK_NAMESPACE } from '../../server/schema/change.js';
import { Sql } from '../helpers/sql.js';
import { bigTable, expectReconcileClean, jobEnd, leftovers, waitingOn as waitingOnLock } from './big_table.js';
import { eventually, startDaemon, stopDaemons, type Daemon } from './lib.js';

const ROWS = 100_000;
const ENV = {
  JOB_STALE_MS: '1500',
  JOB_POLL_MS: '100',
  JOB_THRESHOLD_ROWS: '1000',
  DRIFT_CHECK_INTERVAL: 'off',
  CLEANUP_INTERVAL: 'off',
  LOCK_ATTEMPT_MS: '10000',
  LOCK_TIMEOUT_MS: '60000',
};

describe('SIGKILL between the concurrent index build and the attach: another instance attaches once', function () {
  this.timeout(300_000);
  let db: TestDatabase;
  let sql: Sql;
  let token: string;
  let table: { id: number; table_name: string; fields: Array<{ id: number; column: string }> };
  const fid = (i: number) => table.fields[i]!.id;

  before(async () => {
    ({ db, sql, token, table } = await bigTable(
      'Attach',
      [
        { name: 'Code', type: 'text', column: 'code' },
        { name: 'Kind', type: 'text', column: 'kind' },
        { name: 'Left', type: 'text', column: 'l' },
        { name: 'Right', type: 'number', column: 'r' },
      ],
      (rel) => `INSERT INTO ${rel} (code, kind, l, r) SELECT 'c' || g, 'k' || (g % 100), 'l' || (g % 1000), g / 1000 FROM generate_series(1, ${ROWS}) g`,
      ENV,
    ));
  });
  after(async () => {
    await stopDaemons();
    await sql?.end();
    await db?.drop();
  });

  const inFlight = () => leftovers(sql, 'data.attach');

  const waitingOn = (re: string) => waitingOnLock(sql, re);

  const indexValid = async (name: string) =>
    (await sql.rows(`SELECT i.indisvalid AND i.indisready AS ok FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = $1`, [name]))[0]?.ok ?? null;

  const audited = async (changeId: number) =>
    (await sql.rows(`SELECT operation FROM tablewright.audit WHERE details->>'online_change' = $1 ORDER BY id`, [String(changeId)])).map((r) => r.operation);

  /**
   * Starts the change on one instance and stops its job between the build and the attach:
   * a REPEATABLE READ transaction's snapshot holds the CONCURRENTLY build (it waits for
   * older snapshots); once the
   * build runs, a session-level advisory lock on the table's schema lock (no transaction, no
   * snapshot, so the build does not wait for it) is taken, and the transaction let go: the
   * build finishes and the attach waits for the schema lock, before any of its DDL. 'before':
   * SIGKILL there. 'inside': the table's metadata row held, the schema lock let go: the
   * attach does its DDL (ADD CONSTRAINT ... USING INDEX) and waits on that row (its version
   * bump, or the key check of a table_indexes row); SIGKILL there. Then a
   * second instance ends the job.
   */
  async function killAtAttach(start: (d: Daemon) => Promise<{ status: number; text: string; body: any }>, index: string, where: 'before' | 'inside'): Promise<{ b: Daemon; job: any; changeId: number }> {
    const a = await startDaemon({ DATABASE_URL: db.url, ...ENV }, token);
    const [xidHolder, schemaLock, rowHolder] = [await Sql.connect(db.url), await Sql.connect(db.url), await Sql.connect(db.url)];
    let jobId: number;
    let changeId: number;
    try {
      await xidHolder.exec('BEGIN ISOLATION LEVEL REPEATABLE READ');
      await xidHolder.exec('SELECT 1');
      const res = await start(a);
      expect(res.status, res.text).to.equal(202);
      jobId = res.body.id;
      await eventually('the build waiting for the open transaction', waitingOn('INDEX CONCURRENTLY'), 60_000);
      await schemaLock.exec('SELECT pg_advisory_lock($1, $2)', [SCHEMA_LOCK_NAMESPACE, table.id]);
      await xidHolder.exec('ROLLBACK');
      await eventually('the attach waiting for the schema lock', waitingOn('pg_advisory_xact_lock'), 120_000);
      changeId = (await sql.one(`SELECT id FROM tablewright.online_changes WHERE job_id = $1`, [jobId])).id;
      const kind = (await sql.one(`SELECT kind FROM tablewright.online_changes WHERE id = $1`, [changeId])).kind;
      expect(await indexValid(index), 'the concurrent build finished: the index is valid').to.equal(true);
      expect(await audited(changeId), 'built, not yet attached').to.deep.equal([`online_${kind}:build_index`]);
      if (where === 'inside') {
        await rowHolder.exec('BEGIN');
        await rowHolder.exec('SELECT 1 FROM tablewright.tables WHERE id = $1 FOR UPDATE', [table.id]);
        await schemaLock.exec('SELECT pg_advisory_unlock($1, $2)', [SCHEMA_LOCK_NAMESPACE, table.id]);
        // (the version bump; for an index over several fields, its table_indexes row first: its key check waits on the same row)
        await eventually('the attach waiting on the metadata row, its DDL done', waitingOn('UPDATE tablewright.tables SET version|INSERT INTO tablewright.table_indexes'), 60_000);
      }
      a.cli.child.kill('SIGKILL');
      expect((await a.cli.exited).signal).to.equal('SIGKILL');
    } catch (err) {
      // what the killed instance and the database were doing, for a failure to say
      process.stderr.write(`${a.cli.output().slice(-4000)}\n${JSON.stringify(await sql.rows(`SELECT pid, state, wait_event_type, wait_event, left(query, 120) AS q FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`), null, 1)}\n`);
      throw err;
    } finally {
      await xidHolder.exec('ROLLBACK').catch(() => undefined);
      await rowHolder.exec('ROLLBACK').catch(() => undefined);
      for (const h of [xidHolder, schemaLock, rowHolder]) await h.end();
      await a.stop(1000);
    }
    await eventually('the killed attach gone', async () => !(await sql.rows(`SELECT 1 FROM pg_stat_activity WHERE query ~ 'UPDATE tablewright.tables SET version|INSERT INTO tablewright.table_indexes|pg_advisory_xact_lock' AND pid <> pg_backend_pid()`)).length, 30_000, 50);
    // What the kill left: the valid index, no constraint or metadata of the attach (its transaction rolled back whole).
    expect(await indexValid(index), 'the valid index survives the kill').to.equal(true);
    expect(await sql.rows(`SELECT conname FROM pg_constraint WHERE conrelid = 'data.attach'::regclass AND conname = $1`, [index]), 'the attach rolled back').to.deep.equal([]);
    expect(await sql.one(`SELECT status FROM tablewright.online_changes WHERE id = $1`, [changeId])).to.deep.equal({ status: 'running' });
    const b = await startDaemon({ DATABASE_URL: db.url, ...ENV }, token);
    const job = await jobEnd(b, jobId);
    return { b, job, changeId };
  }

  async function expectClean(d: Daemon, changeId: number) {
    expect(await inFlight(), 'no invalid index, NOT VALID constraint or trigger').to.deep.equal([]);
    expect(await sql.one(`SELECT status FROM tablewright.online_changes WHERE id = $1`, [changeId])).to.deep.equal({ status: 'done' });
    await expectReconcileClean(d);
  }

  it('a single-field UNIQUE, killed inside the attach: the valid index is attached as its constraint once, not built again', async () => {
    const name = `uq_f${fid(0)}`;
    const { b, job, changeId } = await killAtAttach((a) => a.call('PATCH', `/tables/${table.id}/fields/${fid(0)}`, { json: { unique: true, online: 1 } }), name, 'inside');
    try {
      expect(job.status, JSON.stringify(job.error)).to.equal('done');
      expect(job.attempts, 'killed, then resumed').to.equal(2);
      expect(await sql.rows(`SELECT conname, contype FROM pg_constraint WHERE conrelid = 'data.attach'::regclass AND contype = 'u'`)).to.deep.equal([{ conname: name, contype: 'u' }]);
      expect(await sql.one(`SELECT is_unique FROM tablewright.fields WHERE id = $1`, [fid(0)])).to.deep.equal({ is_unique: true });
      expect(await audited(changeId), 'built once, attached once').to.deep.equal(['online_set_unique:build_index', 'online_set_unique:attach']);
      // the constraint holds
      const dup = await b.call('POST', `/tables/${table.id}/rows`, { json: { code: 'c1' } });
      expect(dup.status, dup.text).to.equal(409);
      await expectClean(b, changeId);
    } finally {
      await b.stop();
    }
  });

  it('a single-field index, killed before the attach: the valid index becomes the field\'s (metadata), not built again', async () => {
    const name = `ix_f${fid(1)}`;
    const { b, job, changeId } = await killAtAttach((a) => a.call('PATCH', `/tables/${table.id}/fields/${fid(1)}`, { json: { indexed: true, online: 1 } }), name, 'before');
    try {
      expect(job.status, JSON.stringify(job.error)).to.equal('done');
      expect(job.attempts).to.equal(2);
      expect(await sql.one(`SELECT indexed FROM tablewright.fields WHERE id = $1`, [fid(1)])).to.deep.equal({ indexed: true });
      expect(await sql.rows(`SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'data.attach'::regclass AND c.relname = $1`, [name])).to.have.length(1);
      expect(await audited(changeId)).to.deep.equal(['online_create_index:build_index', 'online_create_index:attach']);
      await expectClean(b, changeId);
    } finally {
      await b.stop();
    }
  });

  it('a UNIQUE over two fields (the table_index job), killed inside the attach: the constraint and its table_indexes row made once', async () => {
    const name = 'attach_l_r_key';
    const { b, job, changeId } = await killAtAttach((a) => a.call('POST', `/tables/${table.id}/indexes`, { json: { fields: [fid(2), fid(3)], unique: true, name, online: 1 } }), name, 'inside');
    try {
      expect(job.status, JSON.stringify(job.error)).to.equal('done');
      expect(job.attempts).to.equal(2);
      expect(await sql.rows(`SELECT conname FROM pg_constraint WHERE conrelid = 'data.attach'::regclass AND conname = $1`, [name])).to.have.length(1);
      const rows = await sql.rows(`SELECT name, field_ids::int[] AS field_ids, is_unique FROM tablewright.table_indexes WHERE table_id = $1`, [table.id]);
      expect(rows).to.deep.equal([{ name, field_ids: [fid(2), fid(3)], is_unique: true }]);
      expect(await audited(changeId)).to.deep.equal(['online_table_index:build_index', 'online_table_index:attach']);
      const listed = (await b.call('GET', `/tables/${table.id}/constraints`)).body.constraints;
      expect(listed.map((c: { name: string }) => c.name)).to.deep.equal([name]);
      await expectClean(b, changeId);
    } finally {
      await b.stop();
    }
  });
});
