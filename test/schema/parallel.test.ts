// A type change on a table big enough that PostgreSQL plans its scans in parallel by
// itself (600,000 rows, default settings). Proves that the loss preview, the change and
// its job work there: the conversion functions of sql/migrations/007 run in parallel
// workers without raising "cannot start subtransactions during a parallel operation"
// (PostgreSQL 15 did, for every preview and change past ~300k rows). Every pair of
// types runs under forced parallel plans in conversion.test.ts.
import { expect } from 'chai';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { waitForJob } from '../helpers/jobs.js';
import { expectParallelPlan } from '../helpers/parallel.js';
import { Sql } from '../helpers/sql.js';

const ROWS = 600_000;
/** every 1000th value is not a number (600 of them), and one is bigint's smallest */
const BAD_EVERY = 1000;

describe('type change on a 600,000-row table (a parallel plan, unforced)', function () {
  this.timeout(300_000);
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let tableId: number;
  let fieldId: number;

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url);
    sql = await Sql.connect(db.url);
    const t = await app.request('POST', '/tables', { json: { name: 'Big', table_name: 'big', fields: [{ name: 'V', type: 'text', column: 'v' }] } });
    expect(t.status, t.text).to.equal(201);
    tableId = t.body.id;
    fieldId = t.body.fields[0].id;
    await sql.exec(
      `INSERT INTO data.big (v) SELECT CASE WHEN g = 1 THEN '-9223372036854775808' WHEN g % ${BAD_EVERY} = 0 THEN 'x' || g ELSE g::text END
         FROM generate_series(1, ${ROWS}) g`,
    );
    await sql.exec('ANALYZE data.big');
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  it('gets a parallel plan for the loss count without any setting forced', async () => {
    await expectParallelPlan(sql, `SELECT count(*) FROM data.big WHERE tablewright.try_number(v, 0) IS NULL`);
  });

  for (const [type, options, lost] of [
    ['number', { decimals: 0 }, ROWS / BAD_EVERY],
    ['number', { decimals: 2 }, ROWS / BAD_EVERY],
    ['date', {}, ROWS],
    ['datetime', {}, ROWS],
    ['json', {}, 0],
    ['boolean', {}, ROWS],
  ] as const) {
    it(`previews text -> ${type} ${JSON.stringify(options)}: ${lost} values lost`, async () => {
      const dry = await app.request('PATCH', `/tables/${tableId}/fields/${fieldId}`, { json: { type, options, dry_run: true } });
      expect(dry.status, dry.text).to.equal(200);
      expect(dry.body.rows).to.equal(ROWS);
      expect(dry.body.lost).to.equal(lost);
    });
  }

  it('converts to number as a job: the 600 non-numbers kept in the trash, bigint\'s smallest kept', async () => {
    const res = await app.request('PATCH', `/tables/${tableId}/fields/${fieldId}`, { json: { type: 'number', options: { decimals: 0 }, confirm_loss: true } });
    expect(res.status, res.text).to.equal(202);
    const job = await waitForJob(app, res.body.id, 240_000);
    expect(job.status, JSON.stringify(job)).to.equal('done');
    const counts = await sql.one<{ empty: string; min: string; type: string }>(
      `SELECT (count(*) FILTER (WHERE v IS NULL))::text AS empty, min(v)::text AS min, pg_typeof(min(v))::text AS type FROM data.big`,
    );
    expect(counts).to.deep.equal({ empty: String(ROWS / BAD_EVERY), min: '-9223372036854775808', type: 'bigint' });
    const parked = await sql.one<{ trash_name: string }>(`SELECT trash_name FROM tablewright.fields WHERE table_id = $1 AND trash_reason = 'type_change'`, [tableId]);
    const kept = await sql.one<{ n: string }>(`SELECT count(*)::text AS n FROM data.big WHERE "${parked.trash_name}" LIKE 'x%'`);
    expect(kept.n).to.equal(String(ROWS / BAD_EVERY));
  });
});
