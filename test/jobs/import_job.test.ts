// A CSV import too big for its request runs as a job: the upload is kept in PostgreSQL
// (tablewright.job_uploads) so that any instance may run it, a bad header is refused
// before anything is queued, the rows land all at once or not at all, progress counts
// rows, and the upload goes when the job ends.
import { Readable } from 'node:stream';
import { expect } from 'chai';
import { enqueueJob, recoverStaleJobs } from '../../server/jobs/queue.js';
import { storeUpload } from '../../server/jobs/uploads.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { waitForJob } from '../helpers/jobs.js';
import { Sql } from '../helpers/sql.js';

/** A CSV file of `rows` rows: name,qty; `bad` puts a word into qty on that data line. */
function csvFile(rows: number, bad?: number): string {
  const lines = ['name,qty'];
  for (let i = 1; i <= rows; i++) lines.push(`item ${i},${i === bad ? 'lots' : i}`);
  return `${lines.join('\n')}\n`;
}

describe('csv import as a job', function () {
  this.timeout(30_000);
  let db: TestDatabase;
  let a: TestApp;
  let sql: Sql;
  let tableId: number;

  const post = (body: BodyInit, opts: { query?: string; headers?: Record<string, string>; app?: TestApp } = {}) =>
    (opts.app ?? a).request('POST', `/tables/${tableId}/rows/import${opts.query ?? ''}`, {
      body,
      // a FormData body brings its own Content-Type (multipart, with its boundary)
      headers: { ...(body instanceof FormData ? {} : { 'Content-Type': 'text/csv' }), ...opts.headers },
    });
  const count = async () => (await sql.one(`SELECT count(*)::int AS n FROM data.stock`)).n as number;
  const uploads = async () => (await sql.one(`SELECT count(*)::int AS n FROM tablewright.job_uploads`)).n as number;
  const jobs = async () => (await sql.one(`SELECT count(*)::int AS n FROM tablewright.jobs WHERE kind = 'import_csv'`)).n as number;

  before(async () => {
    db = await freshDatabase();
    a = await startApp(db.url, { IMPORT_JOB_BYTES: '2000', JOB_POLL_MS: '50', JOB_STALE_MS: '400' }, 'A');
    sql = await Sql.connect(db.url);
    tableId = (await a.request('POST', '/tables', { json: { name: 'Stock', fields: [{ name: 'Name', type: 'text' }, { name: 'Qty', type: 'number' }] } })).body.id;
  });
  afterEach(async () => {
    await sql.exec(`TRUNCATE data.stock`);
  });
  after(async () => {
    await sql?.end();
    await a?.stop();
    await db?.drop();
  });

  it('an upload over IMPORT_JOB_BYTES answers 202 with a job counting rows; the rows land, and the stored upload is gone after', async () => {
    const res = await post(csvFile(3000));
    expect(res.status, res.text).to.equal(202);
    expect(res.headers.get('location')).to.equal(`/jobs/${res.body.id}`);
    expect(res.body).to.include({ kind: 'import_csv', table_id: tableId, total: 3000, unit: 'rows', title: 'importing CSV' });
    const job = await waitForJob(a, res.body.id);
    expect(job.status, JSON.stringify(job.error)).to.equal('done');
    expect(job).to.include({ done: 3000, total: 3000, summary: 'Imported 3,000 rows.' });
    expect(job.result).to.include({ imported: 3000, rejected: 0 });
    expect(await count()).to.equal(3000);
    expect((await sql.one(`SELECT sum(qty)::int AS s FROM data.stock`)).s).to.equal((3000 * 3001) / 2);
    expect(await uploads(), 'the upload is dropped with the finished job').to.equal(0);
  });

  it('the job\'s total counts records, not lines: cells with line breaks, empty lines and CRLF do not inflate it', async () => {
    const rows = Array.from({ length: 400 }, (_, i) => (i % 3 === 0 ? `"item ${i}\r\nsecond line, with ""quotes""",${i}` : `item ${i},${i}`));
    const csv = `name,qty\r\n${rows.join('\r\n\r\n')}`; // empty lines between, no line break after the last row
    const res = await post(csv, { query: '?async=1' });
    expect(res.status, res.text).to.equal(202);
    expect(res.body.total, 'known when queued').to.equal(400);
    const job = await waitForJob(a, res.body.id);
    expect(job.status, JSON.stringify(job.error)).to.equal('done');
    expect(job).to.include({ done: 400, total: 400 });
    expect(await count()).to.equal(400);
  });

  it('a small upload still imports within its request (200), unless async=1 asks for a job', async () => {
    const now = await post(csvFile(5));
    expect(now.status, now.text).to.equal(200);
    expect(now.body).to.include({ imported: 5, rejected: 0 });
    const queued = await post(csvFile(5), { query: '?async=1' });
    expect(queued.status, queued.text).to.equal(202);
    expect((await waitForJob(a, queued.body.id)).status).to.equal('done');
    expect(await count()).to.equal(10);
    // and async=0 keeps a big one within the request
    const big = await post(csvFile(300), { query: '?async=0' });
    expect(big.status, big.text).to.equal(200);
    expect(await count()).to.equal(310);
  });

  it('a bad header is refused at once (422 naming the column): no job is queued and no upload kept', async () => {
    const jobsBefore = await jobs();
    const res = await post(`name,colour\n${'x,red\n'.repeat(1000)}`);
    expect(res.status, res.text).to.equal(422);
    expect(res.body.error).to.include({ code: 'unknown_columns', field: 'header' });
    expect(res.body.error.message).to.include('"colour"');
    expect(await jobs()).to.equal(jobsBefore);
    expect(await uploads()).to.equal(0);
  });

  it('a bad value deep in the file fails the job with its line and field, and writes no row at all', async () => {
    const res = await post(csvFile(2500, 2400));
    expect(res.status, res.text).to.equal(202);
    const job = await waitForJob(a, res.body.id);
    expect(job.status).to.equal('failed');
    expect(job.error).to.include({ code: 'invalid_csv', field: 'qty' });
    expect(job.error.details.line).to.equal(2401);
    expect(job.error.message).to.match(/^line 2401: /);
    expect(await count(), 'all or nothing: the rows before line 2401 were rolled back too').to.equal(0);
    expect(await uploads()).to.equal(0);
  });

  it('the console form over the threshold gets the progress fragment (htmx), or a redirect to the job page (no JS)', async () => {
    const form = () => {
      const f = new FormData();
      f.append('file', new Blob([csvFile(400)], { type: 'text/csv' }), 'stock.csv');
      return f;
    };
    const frag = await post(form(), { headers: { Accept: 'text/html', 'HX-Request': 'true' } });
    expect(frag.status, frag.text).to.equal(202);
    expect(frag.text).to.match(/^\s*<section id="job-\d+" class="panel job"/);
    expect(frag.text).to.include('Job');
    expect(frag.text).to.include('importing CSV');
    const id = Number(/id="job-(\d+)"/.exec(frag.text)![1]);
    expect((await waitForJob(a, id)).status).to.equal('done');
    const page = await post(form(), { headers: { Accept: 'text/html' } });
    expect(page.status).to.equal(303);
    expect(page.headers.get('location')).to.match(/^\/jobs\/\d+$/);
    const done = await waitForJob(a, Number(page.headers.get('location')!.split('/')[2]));
    expect(done.status).to.equal('done');
    const html = await a.request('GET', `/jobs/${done.id}`, { headers: { Accept: 'text/html' } });
    expect(html.text).to.include('Imported 400 rows.');
    expect(html.text).to.include(`href="/tables/${tableId}"`);
    expect(await count()).to.equal(800);
  });

  it('the upload is kept in PostgreSQL: an import queued on an instance that runs no jobs is run by another', async () => {
    const quiet = await startApp(db.url, { IMPORT_JOB_BYTES: '2000' }, 'no-runner');
    const b = await startApp(db.url, { JOB_POLL_MS: '50' }, 'B');
    try {
      await quiet.ctx.jobs!.stop();
      await a.ctx.jobs!.stop();
      const res = await post(csvFile(1000), { app: quiet });
      expect(res.status, res.text).to.equal(202);
      const job = await waitForJob(quiet, res.body.id);
      expect(job.status, JSON.stringify(job.error)).to.equal('done');
      expect((await sql.one(`SELECT claimed_by FROM tablewright.jobs WHERE id = $1`, [res.body.id])).claimed_by).to.equal(b.ctx.instanceId);
      expect(await count()).to.equal(1000);
    } finally {
      await b.stop();
      await quiet.stop();
      a.ctx.jobs!.start();
    }
  });

  it('an import whose instance died is run again from its stored upload (rows written once); out of attempts, it fails and its upload goes', async () => {
    // One transaction: the runner must never see the job queued before it looks lost.
    const stored = async (rows: number, attempts: number) => {
      await sql.exec('BEGIN');
      const job = await enqueueJob(sql.raw, { kind: 'import_csv', tableId, payload: { tableId }, actor: 'script', total: rows });
      await storeUpload(sql.raw, job.id, Readable.from([csvFile(rows)]));
      await sql.exec(
        `UPDATE tablewright.jobs SET status = 'running', attempts = $2, claimed_by = 'dead-instance', started_at = now() - interval '1 minute', heartbeat_at = now() - interval '1 minute' WHERE id = $1`,
        [job.id, attempts],
      );
      await sql.exec('COMMIT');
      return job.id;
    };
    const again = await stored(700, 1);
    const exhausted = await stored(50, 3);
    const rerun = await waitForJob(a, again);
    expect(rerun.status, JSON.stringify(rerun.error)).to.equal('done');
    expect(rerun.attempts).to.equal(2);
    expect(await count()).to.equal(700);
    const failed = await waitForJob(a, exhausted);
    expect(failed.status).to.equal('failed');
    expect(failed.error.code).to.equal('instance_lost');
    expect(await uploads(), 'both uploads are gone: one job done, one failed').to.equal(0);
  });

  /** Queues an import of `rows` rows and waits until its transaction is inserting them. */
  async function importUnderWay(rows: number): Promise<number> {
    const res = await post(csvFile(rows), { query: '?async=1' });
    expect(res.status, res.text).to.equal(202);
    const until = Date.now() + 10_000;
    for (;;) {
      const job = await sql.one(`SELECT status, phase FROM tablewright.jobs WHERE id = $1`, [res.body.id]);
      if (job.status === 'running' && job.phase === 'importing') return res.body.id;
      if (job.status === 'done' || Date.now() > until) throw new Error(`the import did not stay under way long enough to test (${job.status})`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  it('an import under way is never taken as lost, even with a stale heartbeat: its open transaction proves its instance alive', async () => {
    const id = await importUnderWay(60_000);
    await sql.exec(`UPDATE tablewright.jobs SET heartbeat_at = now() - interval '1 hour' WHERE id = $1`, [id]);
    const recovered = await recoverStaleJobs(sql.raw, 400);
    expect(recovered.map((j) => j.id), 'another instance\'s recovery skips it').to.not.include(id);
    const job = await waitForJob(a, id);
    expect(job.status, JSON.stringify(job.error)).to.equal('done');
    expect(job.attempts).to.equal(1);
    expect(await count()).to.equal(60_000);
  });

  it('an import taken from its instance mid-way (queued again elsewhere) is rolled back there and runs once: rows written once', async () => {
    const id = await importUnderWay(60_000);
    // What a recovery does to a job it takes as lost, done while the import is inserting.
    await sql.exec(`UPDATE tablewright.jobs SET status = 'queued', claimed_by = NULL WHERE id = $1`, [id]);
    const job = await waitForJob(a, id, 30_000);
    expect(job.status, JSON.stringify(job.error)).to.equal('done');
    expect(job.attempts, 'the first run gave way, the second finished').to.equal(2);
    expect(await count(), 'not 120,000').to.equal(60_000);
  });

  it('a job that lost its upload fails with a clear message instead of importing an empty file', async () => {
    const job = await enqueueJob(sql.raw, { kind: 'import_csv', tableId, payload: { tableId }, actor: 'script' });
    a.ctx.jobs!.wake();
    const out = await waitForJob(a, job.id);
    expect(out.status).to.equal('failed');
    expect(out.error).to.include({ code: 'upload_gone' });
    expect(await count()).to.equal(0);
  });
});
