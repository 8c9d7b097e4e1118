// A COPY import job whose process is killed (SIGKILL) mid-import: nothing it wrote is left
// (its transaction dies with the connection), and another instance runs the job again from
// the stored upload, writing every row exactly once.
import { expect } from 'chai';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { runCli } from '../helpers/process.js';
import { Sql } from '../helpers/sql.js';

describe('a COPY import job killed mid-way', function () {
  this.timeout(300_000);
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url, { JOB_STALE_MS: '3000', JOB_POLL_MS: '100', PG_CONNECT_TIMEOUT_MS: '30000' });
    await app.ctx.jobs!.stop(); // this instance queues; the child process runs the job first
    sql = await Sql.connect(db.url);
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  it('leaves no row behind, then runs again elsewhere from the stored upload: every row once', async () => {
    const t = await app.request('POST', '/tables', { json: { name: 'Readings', fields: [{ name: 'Name', type: 'text' }, { name: 'Value', type: 'number', options: { decimals: 3 } }] } });
    expect(t.status, t.text).to.equal(201);
    const rows = 300_000;
    const lines = ['name,value'];
    for (let i = 1; i <= rows; i++) lines.push(`r${i},${i}.${i % 1000}`);
    const res = await fetch(new URL(`/tables/${t.body.id}/rows/import?async=1`, app.url), {
      method: 'POST',
      headers: { Authorization: `Bearer ${app.adminToken}`, Accept: 'application/json', 'Content-Type': 'text/csv' },
      body: lines.join('\n'),
    });
    const queued = await res.json();
    expect(res.status, JSON.stringify(queued)).to.equal(202);

    const child = runCli(['serve'], { DATABASE_URL: db.url, PORT: '0', LOG_LEVEL: 'info', JOB_POLL_MS: '100', JOB_STALE_MS: '3000', PG_CONNECT_TIMEOUT_MS: '30000' });
    let killedAt = 0;
    try {
      // wait until the child has copied some rows in (progress moved), then kill it
      const until = Date.now() + 200_000;
      for (;;) {
        const job = await sql.one(`SELECT status, done FROM tablewright.jobs WHERE id = $1`, [queued.id]);
        if (job.status === 'running' && Number(job.done) > 0) {
          killedAt = Number(job.done);
          break;
        }
        if (job.status !== 'queued' && job.status !== 'running') throw new Error(`the job ended before it could be killed: ${job.status}`);
        if (Date.now() > until) throw new Error('the job never got under way');
        await new Promise((r) => setTimeout(r, 20));
      }
      child.child.kill('SIGKILL');
      await child.exited;
    } finally {
      if (child.child.exitCode === null && child.child.signalCode === null) child.child.kill('SIGKILL');
    }
    expect(killedAt, 'killed while rows were going in').to.be.greaterThan(0).and.lessThan(rows);
    // PostgreSQL ends the dead connection's transaction: nothing half-written
    const until = Date.now() + 30_000;
    while (Number((await sql.one(`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'`)).n) > 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(Number((await sql.one(`SELECT count(*) AS n FROM data.readings`)).n)).to.equal(0);

    app.ctx.jobs!.start();
    // polled in SQL: this process runs the job, and a kept-alive HTTP connection to itself may be reset meanwhile
    let done: any;
    for (const end = Date.now() + 200_000; Date.now() < end; await new Promise((r) => setTimeout(r, 200))) {
      done = await sql.one(`SELECT status, attempts, result, error FROM tablewright.jobs WHERE id = $1`, [queued.id]);
      if (done.status === 'done' || done.status === 'failed') break;
    }
    expect(done.status, JSON.stringify(done.error)).to.equal('done');
    expect(done.attempts).to.equal(2);
    expect(done.result).to.include({ imported: rows, rejected: 0 });
    const c = await sql.one(`SELECT count(*)::int AS n, count(DISTINCT name)::int AS d, min(value)::text AS lo, max(value)::text AS hi FROM data.readings`);
    expect(c).to.deep.equal({ n: rows, d: rows, lo: '1.100', hi: '300000.000' });
    const entries = await sql.one(`SELECT count(*)::int AS n FROM tablewright.row_history WHERE op = 'import'`);
    expect(entries.n, 'one history entry: the run that committed').to.equal(1);
  });
});
