// Long work as jobs: a type change on a big table runs as a job that any instance may
// claim, with progress at GET /jobs/:id, and a job of an instance that died is run again
// (or failed), never left half-applied.
import { expect } from 'chai';
import { enqueueJob } from '../../server/jobs/queue.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { waitForJob } from '../helpers/jobs.js';
import { Sql } from '../helpers/sql.js';

describe('jobs', function () {
  this.timeout(30_000);
  let db: TestDatabase;
  let a: TestApp;
  let sql: Sql;

  async function bigTable(name: string, rows: number) {
    const t = (await a.request('POST', '/tables', { json: { name, fields: [{ name: 'Amount', type: 'text', column: 'amount' }] } })).body;
    await sql.exec(`INSERT INTO data.${t.table_name} (amount) SELECT CASE WHEN g % 10 = 0 THEN 'n/a' ELSE (g * 1.5)::text END FROM generate_series(1, ${rows}) g`);
    await sql.exec(`ANALYZE data.${t.table_name}`);
    return { tableId: t.id as number, fieldId: t.fields[0].id as number, rel: `data.${t.table_name}` };
  }

  before(async () => {
    db = await freshDatabase();
    a = await startApp(db.url, { JOB_THRESHOLD_ROWS: '1000', JOB_POLL_MS: '50', JOB_STALE_MS: '400' }, 'A');
    sql = await Sql.connect(db.url);
  });
  after(async () => {
    await sql?.end();
    await a?.stop();
    await db?.drop();
  });

  it('past JOB_THRESHOLD_ROWS a type change takes the online path by default (a shadow column, test/online)', async () => {
    const t = await bigTable('Default online', 2000);
    const res = await a.request('PATCH', `/tables/${t.tableId}/fields/${t.fieldId}`, { json: { type: 'number', options: { decimals: 1 }, confirm_loss: true } });
    expect(res.status, res.text).to.equal(202);
    expect(res.body).to.include({ kind: 'online_change', table_id: t.tableId });
    const job = await waitForJob(a, res.body.id);
    expect(job.status, JSON.stringify(job.error)).to.equal('done');
    expect(job.done, 'progress counted the rows copied').to.equal(job.total);
    const types = await sql.one(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'amount'`, [t.rel]);
    expect(types.t).to.equal('numeric(30,1)');
  });

  it('a type change on a table past JOB_THRESHOLD_ROWS with online=0 answers 202 with a job (one transaction), whose progress ends done with the rows counted', async () => {
    const t = await bigTable('Big', 5000);
    const res = await a.request('PATCH', `/tables/${t.tableId}/fields/${t.fieldId}`, { json: { type: 'number', options: { decimals: 1 }, confirm_loss: true, online: 0 } });
    expect(res.status, res.text).to.equal(202);
    expect(res.headers.get('location')).to.equal(`/jobs/${res.body.id}`);
    expect(res.body).to.include({ kind: 'change_field', status: 'queued', table_id: t.tableId });
    expect(res.body.total).to.be.within(4000, 6000);
    const job = await waitForJob(a, res.body.id);
    expect(job.status, JSON.stringify(job.error)).to.equal('done');
    expect(job.done).to.equal(job.total);
    expect(job.result.field.type).to.equal('number');
    expect(job.result.changes.kept_in_trash.rows).to.equal(500);
    const types = await sql.one(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'amount'`, [t.rel]);
    expect(types.t).to.equal('numeric(30,1)');
    // the model of the instance that ran it follows at once
    const rows = await a.request('GET', `/tables/${t.tableId}/rows?size=2&sort=id`);
    expect(rows.body.rows.map((r: { amount: unknown }) => r.amount)).to.deep.equal([1.5, 3]);
  });

  it('a small table converts at once (200), unless async=1 asks for a job', async () => {
    const t = await bigTable('Small', 20);
    const sync = await a.request('PATCH', `/tables/${t.tableId}/fields/${t.fieldId}`, { json: { type: 'long_text' } });
    expect(sync.status, sync.text).to.equal(200);
    const queued = await a.request('PATCH', `/tables/${t.tableId}/fields/${t.fieldId}?async=1`, { json: { type: 'text' } });
    expect(queued.status).to.equal(202);
    expect((await waitForJob(a, queued.body.id)).status).to.equal('done');
  });

  it('a lossy change without confirm_loss ends as a failed job with the loss report, and changes nothing', async () => {
    const t = await bigTable('Refused', 3000);
    const before = await sql.snapshot();
    const res = await a.request('PATCH', `/tables/${t.tableId}/fields/${t.fieldId}`, { json: { type: 'number' } });
    expect(res.status).to.equal(202);
    const job = await waitForJob(a, res.body.id);
    expect(job.status).to.equal('failed');
    expect(job.error.code).to.equal('lossy_conversion');
    // 300 'n/a', and the 1500 odd g * 1.5 (4.5, 7.5...), which a whole number would round
    expect(job.error.details.lost).to.equal(1800);
    const after = await sql.snapshot();
    expect(after.columns).to.deep.equal(before.columns);
    expect(after.fields).to.deep.equal(before.fields);
  });

  it('any instance may run a job: one enqueued where no runner polls is done by another instance', async () => {
    const b = await startApp(db.url, { JOB_POLL_MS: '50' }, 'B');
    try {
      const t = await bigTable('Elsewhere', 100);
      const job = await enqueueJob(sql.raw, { kind: 'change_field', tableId: t.tableId, payload: { tableId: t.tableId, fieldId: t.fieldId, update: { type: 'long_text' } }, actor: 'script' });
      const done = await waitForJob(b, job.id);
      expect(done.status).to.equal('done');
      const claimed = await sql.one(`SELECT claimed_by FROM tablewright.jobs WHERE id = $1`, [job.id]);
      expect([a.ctx.instanceId, b.ctx.instanceId]).to.include(claimed.claimed_by);
    } finally {
      await b.stop();
    }
  });

  it('a job whose instance died (no heartbeat) is run again; one out of attempts is failed', async () => {
    const t = await bigTable('Orphaned', 100);
    const payload = JSON.stringify({ tableId: t.tableId, fieldId: t.fieldId, update: { type: 'long_text' } });
    const { id: again } = await sql.one(
      `INSERT INTO tablewright.jobs (kind, table_id, payload, status, attempts, created_by, claimed_by, started_at, heartbeat_at)
       VALUES ('change_field', $1, $2, 'running', 1, 'script', 'dead-instance', now() - interval '1 minute', now() - interval '1 minute') RETURNING id`,
      [t.tableId, payload],
    );
    const { id: exhausted } = await sql.one(
      `INSERT INTO tablewright.jobs (kind, table_id, payload, status, attempts, max_attempts, created_by, claimed_by, started_at, heartbeat_at)
       VALUES ('change_field', $1, $2, 'running', 3, 3, 'script', 'dead-instance', now() - interval '1 minute', now() - interval '1 minute') RETURNING id`,
      [t.tableId, payload],
    );
    const rerun = await waitForJob(a, again);
    expect(rerun.status).to.equal('done');
    expect(rerun.attempts).to.equal(2);
    const failed = await waitForJob(a, exhausted);
    expect(failed.status).to.equal('failed');
    expect(failed.error.code).to.equal('instance_lost');
  });

  it('a big purge runs as a job (async=1) counting objects: purged once, the rest left alone', async () => {
    const t = (await a.request('POST', '/tables', { json: { name: 'Purgeable', fields: [] } })).body;
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) ids.push((await a.request('POST', `/tables/${t.id}/fields`, { json: { name: `Old ${i}`, type: 'text' } })).body.id);
    for (const id of ids) expect((await a.request('DELETE', `/tables/${t.id}/fields/${id}`)).status).to.equal(200);
    // four of them trashed long ago, one just now (inside the retention)
    await sql.exec(`UPDATE tablewright.fields SET trashed_at = now() - interval '30 days' WHERE id = ANY($1::int8[])`, [ids.slice(0, 4)]);
    const res = await a.request('POST', '/trash/cleanup?async=1');
    expect(res.status, res.text).to.equal(202);
    expect(res.body.kind).to.equal('trash_cleanup');
    const job = await waitForJob(a, res.body.id);
    expect(job.status, JSON.stringify(job.error)).to.equal('done');
    expect(job).to.include({ total: 4, done: 4 });
    expect(job.result.purged.map((p: { id: number }) => p.id).sort()).to.deep.equal(ids.slice(0, 4).sort());
    const left = await sql.rows(`SELECT id FROM tablewright.fields WHERE table_id = $1`, [t.id]);
    expect(left.map((r) => r.id)).to.deep.equal([ids[4]]);
  });

  it('the console gets a progress fragment that polls itself while the job runs; the page refreshes itself without JS', async () => {
    const job = await enqueueJob(sql.raw, { kind: 'no_such_kind_yet', payload: {}, actor: 'token:nightly (#7)', total: 10 });
    await sql.exec(`UPDATE tablewright.jobs SET status = 'running', claimed_by = 'elsewhere', heartbeat_at = now() + interval '1 hour', done = 4 WHERE id = $1`, [job.id]);
    const frag = await a.request('GET', `/jobs/${job.id}`, { headers: { 'HX-Request': 'true', Accept: 'text/html' } });
    expect(frag.text).to.include('hx-trigger="every 1s"');
    expect(frag.text).to.include('<progress max="10" value="4"');
    expect(frag.text, 'who started it, as History names actors').to.include('Started by token nightly (#7)');
    const page = await a.request('GET', `/jobs/${job.id}`, { headers: { Accept: 'text/html' } });
    expect(page.headers.get('refresh')).to.equal('2');
    const json = await a.request('GET', `/jobs/${job.id}`);
    expect(json.body).to.include({ status: 'running', done: 4, total: 10, percent: 40 });
    await sql.exec(`UPDATE tablewright.jobs SET status = 'failed' WHERE id = $1`, [job.id]);
  });
});
