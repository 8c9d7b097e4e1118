// The history triggers are kept on every managed table (issue 16): after every kind of
// schema change a row change made over SQL is still recorded, under the field it belongs
// to; the migration puts them on tables that existed before it; reconcile reports a table
// whose trigger a DBA dropped or disabled, with an action that puts it back.
import { expect } from 'chai';
import pg from 'pg';
import { migrate, readMigrations } from '../../server/db/migrate.js';
import { rebuildTable } from '../../server/introspect/rebuild.js';
import type { TestApp } from '../helpers/app.js';
import { freshDatabase, testLog, type TestDatabase } from '../helpers/db.js';
import type { Sql } from '../helpers/sql.js';
import { useAppAndSql } from './lib.js';
import { act, createTable, expectClean, report } from '../introspect/lib.js';

describe('history triggers on every managed table (issue 16)', function () {
  this.timeout(90_000);
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  useAppAndSql(async (s) => {
    ({ db, app, sql } = s);
  });

  /** Both triggers there, enabled, calling our functions. */
  async function triggersOn(schema: string, table: string): Promise<string[]> {
    const rows = await sql.rows(
      `SELECT tgname, tgenabled, tgfoid::regproc::text AS fn FROM pg_trigger WHERE tgrelid = format('%I.%I', $1::text, $2::text)::regclass AND NOT tgisinternal ORDER BY tgname`,
      [schema, table],
    );
    return rows.map((r) => `${r.tgname}:${r.tgenabled}:${r.fn}`);
  }
  const WANTED = ['tablewright_history:O:tablewright.record_row_change', 'tablewright_history_truncate:O:tablewright.record_truncate'];

  /** A change made over SQL to `column` of row `id` is in the row's history, under `column`. */
  async function recordsSqlChange(tableId: number, tableName: string, id: number, column: string, value: string) {
    await sql.exec(`UPDATE data.${tableName} SET ${column} = $1 WHERE id = $2`, [value, id]);
    const res = await app.request('GET', `/tables/${tableId}/rows/${id}/history?limit=1`);
    expect(res.status, res.text).to.equal(200);
    const [e] = res.body.entries;
    expect(e.actor, `a psql change to ${column} is recorded`).to.equal('db:postgres');
    expect(e.changes[column]?.new, JSON.stringify(e.changes)).to.equal(value);
  }

  it('after every kind of schema change, SQL changes are recorded under the right field', async () => {
    const t = await createTable(app, 'Kept', [{ name: 'Title', type: 'text' }, { name: 'Size', type: 'text' }]);
    const [title, size] = [t.fields[0]!, t.fields[1]!];
    const id = (await app.request('POST', `/tables/${t.id}/rows`, { json: { title: 'a', size: '1' } })).body.id as number;
    let name = t.table_name;
    const check = async (what: string, column = 'title', value = what) => {
      expect(await triggersOn('data', name), what).to.deep.equal(WANTED);
      await recordsSqlChange(t.id, name, id, column, value);
    };
    await check('created');
    const steps: Array<[string, () => Promise<{ status: number; text: string }>, string?]> = [
      ['field added', () => app.request('POST', `/tables/${t.id}/fields`, { json: { name: 'Extra', type: 'text' } }), 'title'],
      ['column renamed', () => app.request('PATCH', `/tables/${t.id}/fields/${title.id}`, { json: { name: 'Heading', column: 'heading' } }), 'heading'],
      ['type changed', () => app.request('PATCH', `/tables/${t.id}/fields/${size.id}`, { json: { type: 'long_text' } }), 'heading'],
      ['field trashed', () => app.request('DELETE', `/tables/${t.id}/fields/${size.id}`), 'heading'],
      ['field restored', () => app.request('POST', `/tables/${t.id}/fields/${size.id}/restore`), 'size'],
      ['fields reordered', () => app.request('POST', `/tables/${t.id}/fields/order`, { json: { order: [size.id, title.id] } }), 'heading'],
    ];
    for (const [what, step, column] of steps) {
      const res = await step();
      expect(res.status, `${what}: ${res.text}`).to.be.oneOf([200, 201]);
      await check(what, column ?? 'heading');
    }
    const renamed = await app.request('PATCH', `/tables/${t.id}`, { json: { name: 'Kept too', table_name: 'kept_too' } });
    expect(renamed.status, renamed.text).to.equal(200);
    name = 'kept_too';
    await check('table renamed', 'heading');
    expect((await app.request('DELETE', `/tables/${t.id}`)).status).to.equal(200);
    expect((await app.request('POST', `/tables/${t.id}/restore`)).status).to.equal(200);
    await check('table trashed and restored', 'heading');
    await rebuildTable({ pool: app.ctx.pool, log: testLog, config: app.ctx.config }, { name: 'test' }, t.id);
    await check('table rebuilt', 'heading');
    // The row's whole history survives all of it, a rebuild included.
    const all = (await app.request('GET', `/tables/${t.id}/rows/${id}/history?limit=200`)).body.entries;
    expect(all.at(-1).op).to.equal('insert');
    expect(all.length).to.equal(steps.length + 5);
    await expectClean(app);
  });

  it('rows rewritten by a schema change (a conversion) are not recorded one by one: the audit has the change', async () => {
    const t = await createTable(app, 'Converted', [{ name: 'Amount', type: 'text' }]);
    await app.request('POST', `/tables/${t.id}/rows`, { json: [{ amount: '1' }, { amount: '2' }, { amount: 'x' }] });
    const before = (await sql.one(`SELECT count(*)::int AS n FROM tablewright.row_history WHERE table_id = $1`, [t.id])).n;
    const res = await app.request('PATCH', `/tables/${t.id}/fields/${t.fields[0]!.id}`, { json: { type: 'number', confirm_loss: true } });
    expect(res.status, res.text).to.equal(200);
    expect((await sql.one(`SELECT count(*)::int AS n FROM tablewright.row_history WHERE table_id = $1`, [t.id])).n).to.equal(before);
  });

  it('an adopted table and a recreated one get the triggers too', async () => {
    await sql.exec(`CREATE TABLE data.legacy (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, label text)`);
    await sql.exec(`INSERT INTO data.legacy (label) VALUES ('old')`);
    expect(await triggersOn('data', 'legacy')).to.deep.equal([]);
    const adopted = await act(app, 'untracked_table:data:legacy', 'adopt');
    const tableId = adopted.result.id as number;
    expect(await triggersOn('data', 'legacy')).to.deep.equal(WANTED);
    await recordsSqlChange(tableId, 'legacy', 1, 'label', 'changed after adoption');

    await sql.exec(`DROP TABLE data.legacy`);
    await act(app, `missing_table:t${tableId}`, 'recreate');
    expect(await triggersOn('data', 'legacy'), 'a recreated table').to.deep.equal(WANTED);
    await expectClean(app);
  });

  it('reconcile reports a table whose trigger a DBA dropped or disabled, with an action that puts it back', async () => {
    const t = await createTable(app, 'Watched', [{ name: 'Note', type: 'text' }]);
    const id = (await app.request('POST', `/tables/${t.id}/rows`, { json: { note: 'x' } })).body.id as number;
    await sql.exec(`DROP TRIGGER tablewright_history ON data.${t.table_name}`);
    await sql.exec(`UPDATE data.${t.table_name} SET note = 'unrecorded' WHERE id = $1`, [id]);
    let r = await report(app);
    const item = r.items.find((i) => i.id === `history_off:t${t.id}`)!;
    expect(item, JSON.stringify(r.items)).to.not.equal(undefined);
    expect(item.kind).to.equal('history_off');
    expect(item.message).to.include('Watched').and.to.include('tablewright_history is missing');
    expect(item.actions.map((a) => a.name)).to.deep.equal(['restore', 'ignore']);
    await act(app, item.id, 'restore');
    expect(await triggersOn('data', t.table_name)).to.deep.equal(WANTED);
    await recordsSqlChange(t.id, t.table_name, id, 'note', 'recorded again');
    const audit = await sql.one(`SELECT operation, ddl FROM tablewright.audit WHERE table_id = $1 ORDER BY id DESC LIMIT 1`, [t.id]);
    expect(audit.operation).to.equal('restore_history_triggers');
    expect(audit.ddl).to.include('CREATE TRIGGER tablewright_history');
    await expectClean(app);

    await sql.exec(`ALTER TABLE data.${t.table_name} DISABLE TRIGGER tablewright_history_truncate`);
    r = await report(app);
    expect(r.items.map((i) => `${i.id}:${JSON.stringify(i.actual)}`)).to.deep.equal([`history_off:t${t.id}:{"row_trigger":"ok","truncate_trigger":"disabled"}`]);
    await act(app, `history_off:t${t.id}`, 'restore');
    expect(await triggersOn('data', t.table_name)).to.deep.equal(WANTED);

    // A DBA who means it ignores the item: a later schema change leaves the table as it is.
    await sql.exec(`DROP TRIGGER tablewright_history ON data.${t.table_name}`);
    await act(app, `history_off:t${t.id}`, 'ignore');
    expect((await app.request('POST', `/tables/${t.id}/fields`, { json: { name: 'More', type: 'text' } })).status).to.equal(201);
    expect(await triggersOn('data', t.table_name)).to.deep.equal([WANTED[1]]);
    expect((await report(app)).ignored.map((i) => i.id)).to.include(`history_off:t${t.id}`);
    await act(app, `history_off:t${t.id}`, 'restore');
    expect(await triggersOn('data', t.table_name)).to.deep.equal(WANTED);
    await expectClean(app);
  });

  it("a table the connected role does not own stays without history (reported by reconcile), instead of failing the change", async () => {
    const t = await createTable(app, 'Not mine', [{ name: 'Note', type: 'text' }]);
    await sql.exec(`DROP TRIGGER tablewright_history ON data.${t.table_name}`);
    const role = `tw_not_owner_${process.pid}`;
    await sql.exec(`CREATE ROLE ${role}`);
    try {
      await sql.exec(`GRANT USAGE ON SCHEMA tablewright, data TO ${role}`);
      await sql.exec(`GRANT SELECT ON tablewright.fields TO ${role}`);
      await sql.exec(`GRANT SELECT, INSERT, UPDATE ON tablewright.row_layouts TO ${role}`);
      await sql.exec('BEGIN');
      await sql.exec(`SET LOCAL ROLE ${role}`);
      const r = await sql.one(`SELECT tablewright.sync_history_triggers($1, $2::regclass) AS ddl`, [t.id, `data.${t.table_name}`]);
      await sql.exec('ROLLBACK');
      expect(r.ddl, 'nothing done, no error').to.equal(null);
    } finally {
      await sql.exec('ROLLBACK').catch(() => undefined);
      await sql.exec(`DROP OWNED BY ${role}`);
      await sql.exec(`DROP ROLE ${role}`);
    }
    expect((await report(app)).items.map((i) => i.id)).to.include(`history_off:t${t.id}`);
    await act(app, `history_off:t${t.id}`, 'restore');
  });

  it('the migration puts the triggers on the managed tables that exist', async () => {
    const scratch = await freshDatabase({ empty: true });
    const client = new pg.Client({ connectionString: scratch.url });
    await client.connect();
    try {
      const all = await readMigrations();
      const before = all.filter((m) => m.name < '020');
      await migrate(client, { dataSchema: 'data', trashSchema: 'data_trash', log: testLog, migrations: before });
      await client.query(`CREATE TABLE data.old_one (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, label text)`);
      const { rows } = await client.query(`INSERT INTO tablewright.tables (name, table_name, table_oid) VALUES ('Old one', 'old_one', 'data.old_one'::regclass) RETURNING id`);
      await client.query(`INSERT INTO tablewright.fields (table_id, name, column_name, type, position) VALUES ($1, 'Label', 'label', 'text', 1)`, [rows[0].id]);
      await migrate(client, { dataSchema: 'data', trashSchema: 'data_trash', log: testLog, migrations: all });
      const { rows: trg } = await client.query(`SELECT tgname FROM pg_trigger WHERE tgrelid = 'data.old_one'::regclass ORDER BY 1`);
      expect(trg.map((x) => x.tgname)).to.deep.equal(['tablewright_history', 'tablewright_history_truncate']);
      await client.query(`INSERT INTO data.old_one (label) VALUES ('new')`);
      const { rows: h } = await client.query(`SELECT op, new_values FROM tablewright.row_history`);
      expect(h).to.deep.equal([{ op: 'insert', new_values: { id: 1, label: 'new' } }]);
    } finally {
      await client.end();
      await scratch.drop();
    }
  });
});
