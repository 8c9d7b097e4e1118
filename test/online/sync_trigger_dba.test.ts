// What a DBA does by hand to the sync trigger of an online change in flight (a hostile
// review's findings). A renamed trigger: the swap refuses (the trigger by its name is gone)
// and the rollback dropped the triggers by name only, so DROP FUNCTION failed on the renamed
// one, every rollback after it too, and the table refused every change for good (with a new
// failed cleanup job every 2 s). A renamed function: left behind after the change. Both now
// go by what the catalog says uses the function. And a rollback that keeps failing is tried
// again less and less often.
import { expect } from 'chai';
import pg from 'pg';
import { useApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { waitForJob } from '../helpers/jobs.js';
import type { Sql } from '../helpers/sql.js';
import { createTable, expectClean, QUIET } from '../introspect/lib.js';
import { ORPHAN_GRACE_MAX_MS, sweepOrphanedChanges } from '../../server/schema/online/orphans.js';
import { beginOnlineChange } from '../../server/schema/online/state.js';
import { enqueueJob } from '../../server/jobs/queue.js';

describe("online change: a DBA's hand on the sync trigger", function () {
  this.timeout(120_000);
  let app: TestApp;
  let sql: Sql;
  useApp((s) => ({ app, sql } = s), { ...QUIET, JOB_POLL_MS: '50' });

  const ROWS = 30_000;
  /** An online text -> number change, its copy one page a statement, once its shadow column is there. */
  async function start(name: string): Promise<{ t: { id: number; table_name: string }; fid: number; jobId: number }> {
    const t = await createTable(app, name, [{ name: 'Reading', type: 'text', column: 'reading' }]);
    await sql.exec(`INSERT INTO data.${t.table_name} (reading) SELECT g::text FROM generate_series(1, ${ROWS}) g`);
    const fid = t.fields[0]!.id;
    const res = await app.request('PATCH', `/tables/${t.id}/fields/${fid}`, { json: { type: 'number', online: 1, batch_pages: 1 } });
    expect(res.status, res.text).to.equal(202);
    for (let i = 0; i < 1000; i++) {
      if ((await sql.rows(`SELECT 1 FROM pg_trigger WHERE tgname = $1`, [`tw_sync_f${fid}_upd`])).length) return { t, fid, jobId: res.body.id };
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error('the sync trigger never came');
  }
  const ours = (fid: number) =>
    sql.rows(
      `SELECT 'trigger ' || tgname AS what FROM pg_trigger WHERE tgname ~ $1 OR tgname = 'dba_trigger'
       UNION ALL SELECT 'function ' || proname FROM pg_proc WHERE proname IN ($2, 'dba_fn')
       UNION ALL SELECT 'column ' || attname FROM pg_attribute WHERE attname ~ '^_tw_new_' AND NOT attisdropped`,
      [`^tw_sync_f${fid}`, `tw_sync_f${fid}`],
    );

  it('the sync trigger renamed: the change is refused and rolled back whole (the renamed trigger and the function go), and the table takes changes again', async () => {
    const { t, fid, jobId } = await start('Renamed trigger');
    await sql.exec(`ALTER TRIGGER tw_sync_f${fid} ON data.${t.table_name} RENAME TO dba_trigger`);
    const job = await waitForJob(app, jobId, 60_000);
    expect(job.status).to.equal('failed');
    expect(job.error.code, JSON.stringify(job.error)).to.equal('sync_trigger_disabled');
    expect(await sql.one(`SELECT status FROM tablewright.online_changes WHERE job_id = $1`, [jobId])).to.deep.equal({ status: 'rolled_back' });
    expect(await ours(fid), 'nothing of the change left').to.deep.equal([]);
    expect((await sql.one(`SELECT count(*)::int AS n FROM data.${t.table_name} WHERE reading = id::text`)).n).to.equal(ROWS);
    const next = await app.request('PATCH', `/tables/${t.id}/fields/${fid}`, { json: { name: 'Reading total' } });
    expect(next.status, next.text).to.equal(200);
    await expectClean(app);
  });

  it('both sync triggers and the function renamed: the change is refused and rolled back whole (found by what they write and depend on), and the table takes changes again', async () => {
    const { t, fid, jobId } = await start('Renamed all');
    await sql.exec(`ALTER TRIGGER tw_sync_f${fid} ON data.${t.table_name} RENAME TO trg_all_ins`);
    await sql.exec(`ALTER TRIGGER tw_sync_f${fid}_upd ON data.${t.table_name} RENAME TO trg_all_upd`);
    await sql.exec(`ALTER FUNCTION data.tw_sync_f${fid}() RENAME TO fn_all_sync`);
    const job = await waitForJob(app, jobId, 60_000);
    expect(job.status).to.equal('failed');
    expect(job.error.code, JSON.stringify(job.error)).to.be.oneOf(['sync_trigger_disabled', 'online_not_possible']);
    expect(await sql.one(`SELECT status FROM tablewright.online_changes WHERE job_id = $1`, [jobId])).to.deep.equal({ status: 'rolled_back' });
    expect(await sql.rows(`SELECT tgname FROM pg_trigger WHERE tgname IN ('trg_all_ins', 'trg_all_upd') UNION ALL SELECT proname FROM pg_proc WHERE proname = 'fn_all_sync'`), 'the renamed objects gone').to.deep.equal([]);
    expect(await ours(fid), 'nothing of the change left').to.deep.equal([]);
    const next = await app.request('PATCH', `/tables/${t.id}/fields/${fid}`, { json: { type: 'number', online: 1 } });
    expect(next.status, next.text).to.equal(202);
    expect((await waitForJob(app, next.body.id, 60_000)).status).to.equal('done');
    await expectClean(app);
  });

  it('the sync function renamed: the change ends, and the renamed function goes with the triggers', async () => {
    const { t, fid, jobId } = await start('Renamed function');
    await sql.exec(`ALTER FUNCTION data.tw_sync_f${fid}() RENAME TO dba_fn`);
    const job = await waitForJob(app, jobId, 60_000);
    expect(job.status, JSON.stringify(job.error)).to.equal('done');
    expect(await ours(fid), 'nothing of the change left').to.deep.equal([]);
    expect((await sql.one(`SELECT count(*)::int AS n FROM data.${t.table_name} WHERE reading = id`)).n).to.equal(ROWS);
    await expectClean(app);
  });
});

describe('orphaned online changes: a rollback that keeps failing is tried again less often', function () {
  let db: TestDatabase;
  let pool: pg.Pool;
  before(async () => {
    db = await freshDatabase();
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
  });
  after(async () => {
    await pool.end();
    await db.drop();
  });

  it('swept 2 s after its job ended, then 2 s doubled for each cleanup job it has had (at most ORPHAN_GRACE_MAX_MS)', async () => {
    const { rows } = await pool.query(`INSERT INTO tablewright.tables (name, table_name) VALUES ('Orphan', 'orphan') RETURNING id`);
    const tableId = rows[0].id as number;
    const change = await beginOnlineChange(pool, { tableId, fieldId: 1, kind: 'change_type', payload: {}, objects: {}, actor: 'test' });
    const failed = async (payload: Record<string, unknown>, endedSecondsAgo: number) => {
      const job = await enqueueJob(pool, { kind: 'test_none', tableId, payload: { onlineChangeId: change.id, ...payload }, actor: 'test' });
      await pool.query(`UPDATE tablewright.jobs SET status = 'failed', finished_at = now() - make_interval(secs => $2) WHERE id = $1`, [job.id, endedSecondsAgo]);
      await pool.query(`UPDATE tablewright.online_changes SET job_id = $2 WHERE id = $1`, [change.id, job.id]);
      return job.id;
    };
    // the change's own job ended 1 s ago: not yet; 3 s ago: swept
    await failed({}, 1);
    expect(await sweepOrphanedChanges(pool, 'test_none')).to.deep.equal([]);
    await failed({}, 3);
    expect(await sweepOrphanedChanges(pool, 'test_none')).to.have.length(1);
    // three cleanup jobs so far, the last ended 10 s ago: 2 s x 2^3 = 16 s, not yet; 17 s ago: swept
    await failed({ cleanup: 'test' }, 60);
    await failed({ cleanup: 'test' }, 10);
    expect(await sweepOrphanedChanges(pool, 'test_none')).to.deep.equal([]);
    await pool.query(`UPDATE tablewright.jobs SET finished_at = now() - interval '17 seconds' WHERE id = (SELECT job_id FROM tablewright.online_changes WHERE id = $1)`, [change.id]);
    expect(await sweepOrphanedChanges(pool, 'test_none')).to.have.length(1);
    // many: the cap
    for (let i = 0; i < 12; i++) await failed({ cleanup: 'test' }, 3600);
    await failed({ cleanup: 'test' }, ORPHAN_GRACE_MAX_MS / 1000 - 5);
    expect(await sweepOrphanedChanges(pool, 'test_none')).to.deep.equal([]);
    await failed({ cleanup: 'test' }, ORPHAN_GRACE_MAX_MS / 1000 + 5);
    expect(await sweepOrphanedChanges(pool, 'test_none')).to.have.length(1);
  });
});
