// The loss report of a type change (planTypeChange: the dry run, the one-transaction path and
// the online one) reads the table once when nothing would be lost: the examples query, a
// second scan evaluating the loss predicate for every row, runs only when there are examples
// to find.
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
});
