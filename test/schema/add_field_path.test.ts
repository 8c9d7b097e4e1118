// Adding a plain field runs in seven round trips (server/schema/add_fields.ts addField):
// what the shortcut must still do as the longer path did. The trigger upkeep that now
// shares the closing statement with the version, audit and NOTIFY still repairs what a
// DBA broke, and its DDL still ends the audit row; a change that checks the online state
// in its own read cannot skip it; the table's own errors come before the spec's; the
// fixed statements are prepared only where the pool allows it.
import { expect } from 'chai';
import type pg from 'pg';
import { loadConfig } from '../../server/config.js';
import { createPool } from '../../server/db/pool.js';
import { schemaChange, type EditorDeps } from '../../server/schema/change.js';
import { addField } from '../../server/schema/fields.js';
import { createTable } from '../../server/schema/tables.js';
import { freshDatabase, testLog, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';

const actor = { name: 'add-path-test' };

async function failure(p: Promise<unknown>): Promise<{ status?: number; code?: string; field?: string; message: string }> {
  return p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: { status?: number; code?: string; field?: string; message: string }) => e,
  );
}

describe('adding a field: the short path keeps every promise', () => {
  let db: TestDatabase;
  let sql: Sql;
  const pools: pg.Pool[] = [];
  const depsOf = (prepareStatements: boolean): EditorDeps => {
    const pool = createPool({ connectionString: db.url, max: 1, connectTimeoutMs: 5000, prepareStatements }, testLog);
    pools.push(pool);
    return { pool, log: testLog, config: loadConfig({ DATABASE_URL: db.url, LOCK_TIMEOUT_MS: '5000' }) };
  };

  before(async () => {
    db = await freshDatabase();
    sql = await Sql.connect(db.url);
  });
  after(async () => {
    await sql?.end();
    for (const p of pools) await p.end();
    await db?.drop();
  });

  it('history triggers a DBA dropped come back with the field, and their DDL ends the audit row, after the field\'s own', async () => {
    const deps = depsOf(true);
    const t = await createTable(deps, actor, { name: 'Repaired', fields: [{ name: 'A', type: 'text' }] });
    await sql.exec(`DROP TRIGGER tablewright_history ON data.repaired`);
    const { field, version } = await addField(deps, actor, t.id, { name: 'B', type: 'number' });
    const triggers = await sql.rows(`SELECT tgname FROM pg_trigger WHERE tgrelid = 'data.repaired'::regclass AND tgname LIKE 'tablewright_history%' ORDER BY 1`);
    expect(triggers.map((r) => r.tgname)).to.deep.equal(['tablewright_history', 'tablewright_history_truncate']);
    const audit = await sql.one(`SELECT ddl, version, field_id FROM tablewright.audit WHERE table_id = $1 ORDER BY id DESC LIMIT 1`, [t.id]);
    expect(Number(audit.version)).to.equal(version);
    expect(Number(audit.field_id)).to.equal(field.id);
    const lines: string[] = audit.ddl.split("\n");
    expect(lines[0]).to.match(/^ALTER TABLE "data"\."repaired" ADD COLUMN "b" bigint;?$/);
    expect(lines[1]).to.match(/^COMMENT ON COLUMN "data"\."repaired"\."b" IS /);
    expect(lines.slice(2).join('\n')).to.match(/CREATE TRIGGER tablewright_history AFTER INSERT OR UPDATE OR DELETE ON data\.repaired/);
    expect(audit.ddl).to.match(/;$/);
    // the metadata row has the column's attnum, and the history layout knows the column
    const meta = await sql.one(`SELECT f.attnum, a.attnum AS real FROM tablewright.fields f JOIN pg_attribute a ON a.attrelid = 'data.repaired'::regclass AND a.attname = f.column_name WHERE f.id = $1`, [field.id]);
    expect(meta.attnum).to.equal(meta.real);
    const layout = await sql.one(`SELECT columns FROM tablewright.row_layouts WHERE table_id = $1 ORDER BY id DESC LIMIT 1`, [t.id]);
    expect(layout.columns).to.have.property('b', field.id);
  });

  it('a change that checks the online state in its own read cannot run DDL without checking it: it fails and changes nothing', async () => {
    const deps = depsOf(false);
    const t = await createTable(deps, actor, { name: 'Guarded', fields: [{ name: 'A', type: 'text' }] });
    const before = await sql.snapshot();
    const err = await failure(
      schemaChange(deps, actor, 'test', t.id, async (c) => {
        await c.ddl(`ALTER TABLE data.guarded ADD COLUMN sneaky text`);
        return { result: {}, tableId: t.id };
      }, { onlineCheckInBody: true }),
    );
    expect(err.message).to.match(/online-change check of table \d+ was not made/);
    expect(await sql.snapshot()).to.deep.equal(before);
    // and one that never runs DDL cannot commit without it either
    const err2 = await failure(schemaChange(deps, actor, 'test', t.id, async () => ({ result: {}, tableId: t.id }), { onlineCheckInBody: true }));
    expect(err2.message).to.match(/online-change check/);
    expect(await sql.snapshot()).to.deep.equal(before);
  });

  it('the table\'s errors come before the spec\'s: 404 for no table, 409 for a trashed one, then 400 for the spec; nothing changes', async () => {
    const deps = depsOf(false);
    const before = await sql.snapshot();
    expect(await failure(addField(deps, actor, 999_999, { name: '', type: 'text' }))).to.include({ status: 404 });
    const t = await createTable(deps, actor, { name: 'Binned', fields: [] });
    await sql.exec(`UPDATE tablewright.tables SET trashed_at = now() WHERE id = $1`, [t.id]);
    expect(await failure(addField(deps, actor, t.id, { name: 'X', type: 'nope' }))).to.include({ status: 409, code: 'trashed' });
    await sql.exec(`UPDATE tablewright.tables SET trashed_at = NULL WHERE id = $1`, [t.id]);
    const mid = await sql.snapshot();
    expect(await failure(addField(deps, actor, t.id, { name: 'X', type: 'nope' }))).to.include({ status: 400, field: 'type' });
    expect(await failure(addField(deps, actor, t.id, { name: 'X', type: 'text', column: 'id' }))).to.include({ status: 400, field: 'column' });
    expect(await sql.snapshot()).to.deep.equal(mid);
    expect(before).to.not.deep.equal(mid); // (the table was made in between)
  });

  it('the fixed statements are prepared on a pool that may keep them, and never on one that may not', async () => {
    for (const prepare of [true, false]) {
      const deps = depsOf(prepare);
      const t = await createTable(deps, actor, { name: `Prepared ${prepare}`, fields: [] });
      for (let i = 0; i < 3; i++) await addField(deps, actor, t.id, { name: `F${i}`, type: 'text' });
      // the pool has one connection: the one every change above ran on
      const { rows } = await deps.pool.query<{ name: string }>(`SELECT name FROM pg_prepared_statements WHERE name LIKE 'tw_e_%'`);
      if (prepare) expect(rows.length, 'lock, read, metadata, closing statement').to.be.at.least(4);
      else expect(rows).to.deep.equal([]);
    }
  });
});
