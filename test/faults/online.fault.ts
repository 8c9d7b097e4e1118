// An instance is killed (SIGKILL: no ROLLBACK, no goodbye) in the middle of an online
// schema change: during the backfill of a shadow column, during a CREATE UNIQUE INDEX
// CONCURRENTLY (online_steps.fault.ts has VALIDATE, the swap and a rollback). Another instance takes the job over (the
// dead one's heartbeat stops) and finishes it from where it was: the backfill from its
// last batch, an invalid index dropped and built again. In the end: the change done once,
// the values right, no trigger, shadow column, invalid index or NOT VALID constraint of
// ours left, and reconcile clean. And an admin's cancel rolls a running change back.
import { expect } from 'chai';
import { type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';
import { bigTable, expectReconcileClean, jobEnd, leftovers } from './big_table.js';
import { eventually, startDaemon, stopDaemons, type Daemon } from './lib.js';

const ROWS = 300_000;
const ENV = { JOB_STALE_MS: '1500', JOB_POLL_MS: '100', JOB_THRESHOLD_ROWS: '1000', DRIFT_CHECK_INTERVAL: 'off', CLEANUP_INTERVAL: 'off' };

describe('SIGKILL in the middle of an online schema change: another instance finishes it', function () {
  this.timeout(300_000);
  let db: TestDatabase;
  let sql: Sql;
  let token: string;
  let table: { id: number; table_name: string; fields: Array<{ id: number; column: string }> };

  before(async () => {
    ({ db, sql, token, table } = await bigTable(
      'Big',
      [{ name: 'Amount', type: 'number', column: 'amount' }, { name: 'Code', type: 'text', column: 'code' }, { name: 'Note', type: 'text', column: 'note' }, { name: 'Other', type: 'text', column: 'other' }],
      (rel) => `INSERT INTO ${rel} (amount, code, note, other) SELECT g, 'c' || g, 'n', 'o' || g FROM generate_series(1, ${ROWS}) g`,
      ENV,
    ));
  });
  after(async () => {
    await stopDaemons();
    await sql?.end();
    await db?.drop();
  });

  async function killWhen(daemon: Daemon, what: string, reached: () => Promise<boolean>): Promise<void> {
    await eventually(what, reached, 120_000, 20);
    daemon.cli.child.kill('SIGKILL');
    expect((await daemon.cli.exited).signal).to.equal('SIGKILL');
  }

  async function expectClean(d: Daemon) {
    expect(await leftovers(sql, 'data.big'), 'nothing of the change in flight is left').to.deep.equal([]);
    await expectReconcileClean(d);
  }

  const cases: Array<{ what: string; field: number; body: Record<string, unknown>; hold?: string; reached: () => Promise<boolean>; check: () => Promise<void>; result?: (job: any) => void }> = [
    {
      what: 'the backfill of a number -> text shadow column',
      field: 0,
      body: { type: 'text' },
      reached: async () => (await sql.rows(`SELECT 1 FROM tablewright.online_changes WHERE step = 'backfill' AND done >= 20000 AND status = 'running'`)).length > 0,
      check: async () => {
        expect((await sql.one(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'data.big'::regclass AND attname = 'amount'`)).t).to.equal('text');
        expect(await sql.one(`SELECT count(*)::int AS n, count(*) FILTER (WHERE amount = id::text)::int AS right FROM data.big`)).to.deep.equal({ n: ROWS, right: ROWS });
      },
    },
    {
      // Every value lost: each stays empty in the new column, so the resumed copy writes the
      // rows of the ranges above its last record again; what was lost is counted after the
      // copy (confirm_loss: no loss report), once per row, whatever the copy went through twice.
      what: 'the backfill of a text -> number shadow column whose every value is lost (confirm_loss)',
      field: 2,
      body: { type: 'number', confirm_loss: 1 },
      reached: async () => (await sql.rows(`SELECT 1 FROM tablewright.online_changes WHERE step = 'backfill' AND done >= 20000 AND status = 'running'`)).length > 0,
      check: async () => {
        const kept = (await sql.one(`SELECT trash_name FROM tablewright.fields WHERE table_id = $1 AND trash_reason = 'type_change' AND name LIKE 'Note %'`, [table.id])).trash_name as string;
        expect(await sql.one(`SELECT count(note)::int AS converted, count(*) FILTER (WHERE ${kept} = 'n')::int AS kept FROM data.big`)).to.deep.equal({ converted: 0, kept: ROWS });
      },
      result: (job) => expect(job.result.changes.type_change, 'each lost value counted once').to.deep.include({ lost: ROWS, rows: ROWS }),
    },
    {
      what: 'CREATE UNIQUE INDEX CONCURRENTLY',
      field: 1,
      body: { unique: true },
      // An open transaction with an xid: the build waits for it (a phase of every CONCURRENTLY build), so the kill lands mid-build.
      hold: `SELECT txid_current()`,
      reached: async () => (await sql.rows(`SELECT 1 FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query ~ 'CREATE UNIQUE INDEX CONCURRENTLY' AND state = 'active'`)).length > 0,
      check: async () => {
        expect(await sql.rows(`SELECT conname FROM pg_constraint WHERE conrelid = 'data.big'::regclass AND contype = 'u'`)).to.deep.equal([{ conname: `uq_f${table.fields[1]!.id}` }]);
      },
    },
  ];

  for (const c of cases) {
    it(`killed during ${c.what}: the other instance resumes it to the end, nothing of ours left`, async () => {
      const a = await startDaemon({ DATABASE_URL: db.url, ...ENV }, token);
      const fid = table.fields[c.field]!.id;
      const holder = await Sql.connect(db.url);
      try {
        if (c.hold) {
          await holder.exec('BEGIN');
          await holder.exec(c.hold);
        }
        const res0 = await a.call('PATCH', `/tables/${table.id}/fields/${fid}`, { json: { ...c.body, online: 1 } });
        expect(res0.status, res0.text).to.equal(202);
        await killWhen(a, c.what, c.reached);
        (c as { jobId?: number }).jobId = res0.body.id;
      } finally {
        await holder.exec('ROLLBACK').catch(() => undefined);
        await holder.end();
      }
      const res = { body: { id: (c as { jobId?: number }).jobId! } };
      const b = await startDaemon({ DATABASE_URL: db.url, ...ENV }, token);
      const job = await jobEnd(b, res.body.id);
      expect(job.status, JSON.stringify(job.error)).to.equal('done');
      expect(job.attempts, 'run twice: killed, then resumed').to.equal(2);
      c.result?.(job);
      await c.check();
      await expectClean(b);
      await b.stop();
    });
  }

  it('an admin cancels a running type change from its job: it rolls back to the old field', async () => {
    const a = await startDaemon({ DATABASE_URL: db.url, ...ENV }, token);
    const fid = table.fields[3]!.id;
    const res = await a.call('PATCH', `/tables/${table.id}/fields/${fid}`, { json: { type: 'number', confirm_loss: 1, online: 1 } });
    expect(res.status, res.text).to.equal(202);
    await eventually('the backfill going', async () => (await sql.rows(`SELECT 1 FROM tablewright.online_changes WHERE step = 'backfill' AND status = 'running'`)).length > 0, 120_000, 20);
    const cancel = await a.call('POST', `/jobs/${res.body.id}/cancel`);
    expect(cancel.status, cancel.text).to.equal(202);
    const job = await jobEnd(a, res.body.id);
    expect(job.status).to.equal('failed');
    expect(job.error.code).to.equal('cancelled');
    const field = (await a.call('GET', `/tables/${table.id}/fields/${fid}`)).body;
    expect(field.type).to.equal('text');
    expect((await sql.one(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'data.big'::regclass AND attname = 'other'`)).t).to.equal('text');
    await expectClean(a);
    const again = await a.call('POST', `/jobs/${res.body.id}/cancel`);
    expect(again.status).to.equal(409);
    await a.stop();
  });
});
