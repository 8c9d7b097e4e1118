// Retention of deleted rows (TRASH_RETENTION) and row history (ROW_HISTORY_RETENTION,
// default 30 days), run by the cleanup job: exactly what is older than each cutoff goes,
// in batches, without ever locking a user table; the entries of a purged table go with
// it; the Trash page shows the row trash per table and the history's size.
import { expect } from 'chai';
import { PRUNE_BATCH, pruneRows } from '../../server/history/retention.js';
import { loadConfig } from '../../server/config.js';
import type { TestApp } from '../helpers/app.js';
import type { TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';
import { useAppAndSql } from './lib.js';
import { createTable } from '../introspect/lib.js';

describe('row trash and history retention (issue 16)', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  useAppAndSql(async (s) => {
    ({ db, app, sql } = s);
  }, { TRASH_RETENTION: '7d', ROW_HISTORY_RETENTION: '30d' });

  const count = async (what: 'row_history' | 'row_trash', tableId: number) =>
    (await sql.one(`SELECT count(*)::int AS n FROM tablewright.${what} WHERE table_id = $1`, [tableId])).n as number;

  it('ROW_HISTORY_RETENTION defaults to 30 days and takes durations or never', () => {
    expect(loadConfig({}).rowHistoryRetentionMs).to.equal(30 * 86_400_000);
    expect(loadConfig({ ROW_HISTORY_RETENTION: '12h' }).rowHistoryRetentionMs).to.equal(12 * 3_600_000);
    expect(loadConfig({ ROW_HISTORY_RETENTION: 'never' }).rowHistoryRetentionMs).to.equal(null);
    expect(() => loadConfig({ ROW_HISTORY_RETENTION: 'soon' })).to.throw(/ROW_HISTORY_RETENTION/);
  });

  it('the cleanup drops deleted rows past TRASH_RETENTION and history past ROW_HISTORY_RETENTION, exactly; a dry run only counts', async () => {
    const t = await createTable(app, 'Aging', [{ name: 'Name', type: 'text' }]);
    const made = await app.request('POST', `/tables/${t.id}/rows`, { json: Array.from({ length: 10 }, (_, i) => ({ name: `r${i}` })) });
    const ids: number[] = made.body.rows.map((r: { id: number }) => r.id);
    expect((await app.request('DELETE', `/tables/${t.id}/rows`, { json: { ids: ids.slice(0, 6) } })).status).to.equal(200);
    // The 10 inserts are 40 days old, 3 of the deletions 8 days (their history entries stay: 30 days).
    await sql.exec(`UPDATE tablewright.row_history SET at = now() - interval '40 days' WHERE table_id = $1 AND op = 'insert'`, [t.id]);
    await sql.exec(`UPDATE tablewright.row_trash SET deleted_at = now() - interval '8 days' WHERE table_id = $1 AND row_id = ANY($2)`, [t.id, ids.slice(0, 3)]);

    const dry = await app.request('POST', '/trash/cleanup', { json: { dry_run: true } });
    expect(dry.status, dry.text).to.equal(200);
    expect(dry.body.rows).to.deep.equal({ trash_rows: 3, history_entries: 10, orphaned: 0 });
    expect(await count('row_history', t.id)).to.equal(16);

    const run = await app.request('POST', '/trash/cleanup', { json: {} });
    expect(run.status, run.text).to.equal(200);
    expect(run.body.rows).to.deep.equal({ trash_rows: 3, history_entries: 10, orphaned: 0 });
    expect(await count('row_history', t.id)).to.equal(6);
    const left = await app.request('GET', `/tables/${t.id}/rows/trash`);
    expect(left.body.rows.map((r: { id: number }) => r.id).sort()).to.deep.equal(ids.slice(3, 6));
  });

  it('deleted rows and history of a purged table go at the next cleanup', async () => {
    const t = await createTable(app, 'Doomed', [{ name: 'Name', type: 'text' }]);
    const made = await app.request('POST', `/tables/${t.id}/rows`, { json: [{ name: 'a' }, { name: 'b' }] });
    await app.request('DELETE', `/tables/${t.id}/rows/${made.body.rows[0].id}`);
    expect((await app.request('DELETE', `/tables/${t.id}`)).status).to.equal(200);
    const confirm = (await app.request('POST', `/trash/tables/${t.id}/purge`)).body.error.details.confirm;
    expect((await app.request('POST', `/trash/tables/${t.id}/purge`, { json: { confirm } })).status).to.equal(200);
    const run = await app.request('POST', '/trash/cleanup', { json: {} });
    expect(run.body.rows.orphaned).to.equal(4); // 2 inserts, 1 delete, 1 deleted row
    expect(await count('row_history', t.id)).to.equal(0);
    expect(await count('row_trash', t.id)).to.equal(0);
  });

  it('prunes in batches, on a history big enough for a parallel plan, and never waits for a locked user table', async () => {
    const t = await createTable(app, 'Busy', [{ name: 'Name', type: 'text' }]);
    // 60,000 entries straight into the history (as a long-running table would have), the
    // oldest 45,000 of them due; ids follow time, as the trigger writes them.
    await sql.exec(`DELETE FROM tablewright.row_history`);
    await sql.exec(
      `INSERT INTO tablewright.row_history (table_id, row_id, at, op, actor, new_values)
       SELECT $1, g, now() - make_interval(days => CASE WHEN g <= 45000 THEN 31 ELSE 1 END), 'insert', 'test', jsonb_build_object('id', g, 'name', 'n' || g)
         FROM generate_series(1, 60000) g`,
      [t.id],
    );
    await sql.exec(`ANALYZE tablewright.row_history`);
    await sql.exec(`ALTER DATABASE ${db.name} SET parallel_setup_cost = 0`);
    await sql.exec(`ALTER DATABASE ${db.name} SET parallel_tuple_cost = 0`);
    await sql.exec(`ALTER DATABASE ${db.name} SET min_parallel_table_scan_size = 0`);
    const locker = await Sql.connect(db.url);
    try {
      // Someone holds the user table: pruning its history must not care.
      await locker.exec('BEGIN');
      await locker.exec(`LOCK TABLE data.${t.table_name} IN ACCESS EXCLUSIVE MODE`);
      const { Pool } = (await import('pg')).default;
      const pool = new Pool({ connectionString: db.url, max: 2 });
      try {
        const started = Date.now();
        const out = await pruneRows(pool, { trash: null, history: new Date(Date.now() - 30 * 86_400_000) }, 7000);
        expect(out.history_entries).to.equal(45_000);
        expect(Date.now() - started).to.be.below(60_000);
      } finally {
        await pool.end();
      }
      await locker.exec('ROLLBACK');
    } finally {
      await locker.end();
      for (const s of ['parallel_setup_cost', 'parallel_tuple_cost', 'min_parallel_table_scan_size']) await sql.exec(`ALTER DATABASE ${db.name} RESET ${s}`);
    }
    expect(await count('row_history', t.id)).to.equal(15_000);
    expect(PRUNE_BATCH).to.be.above(0);
  });

  it('the Trash page shows deleted rows per table with counts and size, and the history with its size and retention', async () => {
    const t = await createTable(app, 'Shown', [{ name: 'Name', type: 'text' }]);
    const made = await app.request('POST', `/tables/${t.id}/rows`, { json: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] });
    await app.request('DELETE', `/tables/${t.id}/rows`, { json: { ids: made.body.rows.slice(0, 2).map((r: { id: number }) => r.id) } });
    const res = await app.request('GET', '/trash');
    expect(res.status).to.equal(200);
    const mine = res.body.rows.find((r: { table_id: number }) => r.table_id === t.id);
    expect(mine).to.deep.include({ table: 'Shown', rows: 2 });
    expect(mine.bytes).to.be.above(0);
    expect(new Date(mine.purge_at).getTime() - new Date(mine.oldest).getTime()).to.equal(7 * 86_400_000);
    expect(res.body.history.retention).to.equal('30d');
    expect(res.body.history.entries).to.be.above(4);
    expect(res.body.history.bytes).to.be.above(0);
    const page = await app.request('GET', '/trash', { headers: { Accept: 'text/html' } });
    expect(page.text).to.include('Deleted rows').and.to.include(`/tables/${t.id}/rows/trash`).and.to.include('Row history');
  });
});
