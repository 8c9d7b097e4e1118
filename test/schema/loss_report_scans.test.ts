// The loss report of a type change (planTypeChange: the dry run, the one-transaction path and
// the online one) reads the table once when nothing would be lost: the examples query, a
// second scan evaluating the loss predicate for every row, runs only when there are examples
// to find. A change to a link joins the target once instead of looking each row up in it.
import { expect } from 'chai';
import pg from 'pg';
import type { EditorDeps } from '../../server/schema/change.js';
import { planTypeChange } from '../../server/schema/fields.js';
import { getField, getLiveTable } from '../../server/schema/metadata.js';
import { useApp, type TestApp } from '../helpers/app.js';
import { testLog, type TestDatabase } from '../helpers/db.js';
import { createTable, QUIET } from '../introspect/lib.js';

describe('loss report: the table is scanned once when nothing is lost', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let app: TestApp;
  useApp((s) => ({ db, app } = s), QUIET);

  /** The report, and the scans of the table (sequential or by index) it made, counted in its own transaction. */
  async function report(tableId: number, fieldId: number, update: Record<string, unknown>) {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query(`BEGIN; SET LOCAL max_parallel_workers_per_gather = 0`);
      const table = await getLiveTable(client, tableId);
      const field = await getField(client, tableId, fieldId);
      const scans = async () =>
        Number((await client.query(`SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) AS n FROM pg_stat_xact_user_tables WHERE relid = $1`, [table.table_oid])).rows[0].n);
      const before = await scans();
      const deps = { pool: undefined, log: testLog, config: { dataSchema: 'data', trashSchema: 'data_trash', lockTimeoutMs: 5000, maxFields: 500 } } as unknown as EditorDeps;
      const plan = await planTypeChange(client, deps, table, field, update);
      const after = await scans();
      await client.query('ROLLBACK');
      return { report: plan.report, scans: after - before };
    } finally {
      await client.end();
    }
  }

  it('text -> number: one scan when every value converts; two, with the examples, when some would be lost', async () => {
    const t = await createTable(app, 'Scans', [{ name: 'Txt', type: 'text' }]);
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      await pool.query(`INSERT INTO data.scans (txt) SELECT g::text FROM generate_series(1, 500) g`);
      const clean = await report(t.id, t.fields[0]!.id, { type: 'number' });
      expect([clean.report.lost, clean.report.examples]).to.deep.equal([0, []]);
      expect(clean.scans, 'the count only').to.equal(1);

      await pool.query(`UPDATE data.scans SET txt = 'x' || txt WHERE id IN (7, 9)`);
      const lossy = await report(t.id, t.fields[0]!.id, { type: 'number' });
      expect(lossy.report.lost).to.equal(2);
      expect(lossy.report.examples).to.deep.equal([
        { id: 7, value: 'x7' },
        { id: 9, value: 'x9' },
      ]);
      expect(lossy.scans, 'the count, then the examples').to.equal(2);
    } finally {
      await pool.end();
    }
  });

  it('number -> link: the target is joined, not looked up once a row; the counts and examples are exact, also when the target has a column of the same name, or is the table itself', async () => {
    // The target has a column named as the source's ("ref"), which an unqualified reference would make ambiguous.
    const target = await createTable(app, 'Targets', [{ name: 'Ref', type: 'text', column: 'ref' }]);
    const t = await createTable(app, 'Refs', [{ name: 'Ref', type: 'number', column: 'ref' }]);
    const pool = new pg.Pool({ connectionString: db.url, max: 1 });
    try {
      await pool.query(`INSERT INTO data.targets (ref) SELECT 't' || g FROM generate_series(1, 300) g`);
      // 20,000 rows, each linking to one of the 300 (a lookup a row would be 20,000 index scans of the target)
      await pool.query(`INSERT INTO data.refs (ref) SELECT g % 300 + 1 FROM generate_series(1, 20000) g`);
      await pool.query(`ANALYZE data.targets; ANALYZE data.refs`);
      const targetScans = async () => Number((await pool.query(`SELECT coalesce(idx_scan, 0) AS n FROM pg_stat_user_tables WHERE relname = 'targets'`)).rows[0].n);
      const before = await targetScans();
      const clean = await report(t.id, t.fields[0]!.id, { type: 'link', options: { table_id: target.id } });
      expect([clean.report.rows, clean.report.non_empty, clean.report.lost, clean.report.examples]).to.deep.equal([20000, 20000, 0, []]);
      // the statistics reach pg_stat_user_tables up to a second after the transaction (PG 15)
      await new Promise((res) => setTimeout(res, 1200));
      expect((await targetScans()) - before, 'index lookups in the target: not one a row').to.be.below(100);

      // 20 ids the target lacks, a negative number (no id at all), and 50 empty values
      await pool.query(`UPDATE data.refs SET ref = CASE WHEN id <= 20 THEN 300 + id WHEN id = 21 THEN -3 ELSE NULL END WHERE id <= 71`);
      const r = await report(t.id, t.fields[0]!.id, { type: 'link', options: { table_id: target.id } });
      expect([r.report.rows, r.report.non_empty, r.report.lost]).to.deep.equal([20000, 19950, 21]);
      expect(r.report.examples.map((e) => [e.id, e.value]), 'the first ten, in id order').to.deep.equal(Array.from({ length: 10 }, (_, i) => [1 + i, String(301 + i)]));

      // A link to the table itself: the table is both sides of the join.
      const self = await report(t.id, t.fields[0]!.id, { type: 'link', options: { table_id: t.id } });
      expect([self.report.rows, self.report.non_empty, self.report.lost], 'ids 1..20,000 exist: only -3 is lost').to.deep.equal([20000, 19950, 1]);
      expect(self.report.examples).to.deep.equal([{ id: 21, value: '-3' }]);
    } finally {
      await pool.end();
    }
  });
});
