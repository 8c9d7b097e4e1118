// A table rebuild (the drift action that frees the column slots of dropped columns) copies
// every row: on a table past JOB_THRESHOLD_ROWS, or with async=1, it runs as a job that
// copies in batches by id, with rows done / total, and keeps every row as it was.
import { expect } from 'chai';
import { enqueueJob } from '../../server/jobs/queue.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { waitForJob } from '../helpers/jobs.js';
import { Sql } from '../helpers/sql.js';
import { act, expectClean, onlyItem, QUIET, report } from '../introspect/lib.js';

describe('table rebuild as a job', function () {
  this.timeout(30_000);
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url, { ...QUIET, COLUMN_SLOT_WARNING: '20', JOB_THRESHOLD_ROWS: '1000', JOB_POLL_MS: '50' });
    sql = await Sql.connect(db.url);
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  /** A tracked table of `rows` rows (some ids deleted) that has used up `dropped` column slots. */
  async function wornTable(name: string, rows: number, dropped: number) {
    const t = (await app.request('POST', '/tables', { json: { name, fields: [{ name: 'Label', type: 'text' }, { name: 'N', type: 'number' }] } })).body;
    const rel = `data.${t.table_name}`;
    await sql.exec(`INSERT INTO ${rel} (label, n) SELECT 'row ' || g, g FROM generate_series(1, ${rows}) g`);
    await sql.exec(`DELETE FROM ${rel} WHERE id % 7 = 0`);
    await sql.exec(`DO $$ BEGIN FOR i IN 1..${dropped} LOOP EXECUTE format('ALTER TABLE ${rel} ADD COLUMN tmp%s int', i); EXECUTE format('ALTER TABLE ${rel} DROP COLUMN tmp%s', i); END LOOP; END $$`);
    await sql.exec(`ANALYZE ${rel}`);
    return { id: t.id as number, rel };
  }
  const fingerprint = (rel: string) => sql.one(`SELECT count(*)::int AS n, md5(string_agg(t::text, '|' ORDER BY id)) AS digest FROM ${rel} t`);

  it('on a table past JOB_THRESHOLD_ROWS, "rebuild" answers 202; the job copies every row, frees the slots and counts rows', async () => {
    const t = await wornTable('Worn', 3000, 25);
    const before = await fingerprint(t.rel);
    const item = await onlyItem(app, 'column_limit');
    const res = await app.request('POST', '/reconcile/actions', { json: { item: item.id, action: 'rebuild' } });
    expect(res.status, res.text).to.equal(202);
    expect(res.body).to.include({ kind: 'rebuild_table', table_id: t.id, unit: 'rows' });
    expect(res.body.total).to.be.within(2000, 3000);
    const job = await waitForJob(app, res.body.id);
    expect(job.status, JSON.stringify(job.error)).to.equal('done');
    expect(job.result).to.include({ freed: 25, rows: before.n });
    expect(job.done).to.equal(before.n);
    expect(job.summary).to.equal(`Copied ${before.n.toLocaleString('en')} rows; freed 25 column slots.`);
    expect(await fingerprint(t.rel), 'every row, with its id, as it was').to.deep.equal(before);
    expect((await sql.one(`SELECT relnatts FROM pg_class WHERE oid = $1::regclass`, [t.rel])).relnatts).to.equal(3);
    await expectClean(app);
  });

  it('copies in batches by id: no row lost or doubled at a batch boundary, the audit records the copy once', async () => {
    const t = await wornTable('Batched', 1234, 25);
    const before = await fingerprint(t.rel);
    const job = await enqueueJob(sql.raw, { kind: 'rebuild_table', tableId: t.id, payload: { tableId: t.id, batchRows: 100 }, actor: 'script' });
    app.ctx.jobs!.wake();
    const done = await waitForJob(app, job.id);
    expect(done.status, JSON.stringify(done.error)).to.equal('done');
    expect(await fingerprint(t.rel)).to.deep.equal(before);
    // the identity goes on after the highest id ever given
    expect((await sql.one(`INSERT INTO ${t.rel} (label) VALUES ('next') RETURNING id`)).id).to.equal(1235);
    const audit = await sql.one(`SELECT actor, ddl FROM tablewright.audit WHERE operation = 'rebuild_table' AND table_id = $1`, [t.id]);
    expect(audit.actor).to.equal('script');
    expect(audit.ddl.match(/INSERT INTO/g)).to.have.length(1);
    expect(audit.ddl).to.include('-- by id, 100 rows at a time');
    await expectClean(app);
  });

  it('a small table rebuilds within the request (200), as before', async () => {
    const t = await wornTable('Small', 50, 25);
    const before = await fingerprint(t.rel);
    const item = await onlyItem(app, 'column_limit');
    const out = await act(app, item.id, 'rebuild');
    expect(out.result).to.include({ freed: 25, rows: before.n });
    expect(await fingerprint(t.rel)).to.deep.equal(before);
  });

  it('a table whose primary key a DBA dropped is copied in one statement (no batches by id), rows kept', async () => {
    const t = await wornTable('Keyless', 500, 25);
    await sql.exec(`ALTER TABLE ${t.rel} DROP CONSTRAINT pk_t${t.id}`);
    const before = await fingerprint(t.rel);
    const item = (await report(app)).items.find((i) => i.kind === 'column_limit')!;
    const res = await app.request('POST', '/reconcile/actions', { json: { item: item.id, action: 'rebuild', async: '1' } });
    expect(res.status, res.text).to.equal(202);
    const job = await waitForJob(app, res.body.id);
    expect(job.status, JSON.stringify(job.error)).to.equal('done');
    expect(job.result).to.include({ freed: 25, rows: before.n });
    expect(await fingerprint(t.rel)).to.deep.equal(before);
    const audit = await sql.one(`SELECT ddl FROM tablewright.audit WHERE operation = 'rebuild_table' AND table_id = $1`, [t.id]);
    expect(audit.ddl).not.to.include('-- by id');
    expect(audit.ddl.match(/INSERT INTO/g)).to.have.length(1);
    await sql.exec(`ALTER TABLE ${t.rel} ADD CONSTRAINT pk_t${t.id} PRIMARY KEY (id)`);
    await expectClean(app);
  });

  it('a rebuild job refused by the table (a view it cannot carry over) fails with the reason and changes nothing', async () => {
    const t = await wornTable('Triggered', 100, 25);
    await sql.exec(`CREATE VIEW public.keep_me AS SELECT label FROM ${t.rel}`);
    const slots = (await sql.one(`SELECT relnatts FROM pg_class WHERE oid = $1::regclass`, [t.rel])).relnatts;
    const item = await onlyItem(app, 'column_limit');
    const res = await app.request('POST', '/reconcile/actions', { json: { item: item.id, action: 'rebuild', async: '1' } });
    expect(res.status, res.text).to.equal(202);
    const job = await waitForJob(app, res.body.id);
    expect(job.status).to.equal('failed');
    expect(job.error.code).to.equal('rebuild_blocked');
    expect(job.error.message).to.include('view keep_me');
    expect((await sql.one(`SELECT relnatts FROM pg_class WHERE oid = $1::regclass`, [t.rel])).relnatts).to.equal(slots);
  });
});
