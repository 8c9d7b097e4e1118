// A field that is both unique and indexed has one btree (its UNIQUE constraint's), not two
// identical ones; every way the field's shape changes keeps that (add, PATCH, trash and
// restore, reconcile recreate and restore, adoption) and the drift report agrees with it.
import fs from 'node:fs/promises';
import { expect } from 'chai';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';
import { act, createTable, expectClean, onlyItem, QUIET } from '../introspect/lib.js';

describe('unique and indexed: one index serves both', () => {
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url, QUIET);
    sql = await Sql.connect(db.url);
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  /** The btrees on one column of a table in the data schema: name and whether unique. */
  const indexes = async (table: string, column: string) =>
    sql.rows<{ name: string; unique: boolean }>(
      `SELECT c.relname AS name, i.indisunique AS unique FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = $1::regclass AND i.indnatts = 1 AND i.indkey[0] = (SELECT attnum FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2)
        ORDER BY 1`,
      [`data.${table}`, column],
    );
  const meta = (id: number) => sql.one(`SELECT is_unique, indexed FROM tablewright.fields WHERE id = $1`, [id]);

  it('adding, and every PATCH of unique/indexed, leaves exactly the index the field needs', async () => {
    const t = await createTable(app, 'Members', [{ name: 'Email', type: 'email', unique: true, indexed: true }, { name: 'Team', type: 'text' }]);
    const email = t.fields[0]!.id;
    expect(await indexes('members', 'email')).to.deep.equal([{ name: `uq_f${email}`, unique: true }]);
    expect(await meta(email)).to.deep.equal({ is_unique: true, indexed: true });
    await expectClean(app);

    const patch = async (body: Record<string, unknown>) => {
      const res = await app.request('PATCH', `/tables/${t.id}/fields/${email}`, { json: body });
      expect(res.status, res.text).to.equal(200);
      await expectClean(app, `after ${JSON.stringify(body)}`);
    };
    await patch({ unique: false });
    expect(await indexes('members', 'email')).to.deep.equal([{ name: `ix_f${email}`, unique: false }]);
    await patch({ unique: true });
    expect(await indexes('members', 'email')).to.deep.equal([{ name: `uq_f${email}`, unique: true }]);
    await patch({ indexed: false });
    expect(await indexes('members', 'email')).to.deep.equal([{ name: `uq_f${email}`, unique: true }]);
    expect(await meta(email)).to.deep.equal({ is_unique: true, indexed: false });
    await patch({ indexed: true });
    expect(await indexes('members', 'email')).to.deep.equal([{ name: `uq_f${email}`, unique: true }]);
    await patch({ unique: false, indexed: false });
    expect(await indexes('members', 'email')).to.deep.equal([]);
    await patch({ unique: true, indexed: true });
    expect(await indexes('members', 'email')).to.deep.equal([{ name: `uq_f${email}`, unique: true }]);
    // a type change keeps it so (text -> long text, same column type; email -> text too)
    await patch({ type: 'text' });
    expect(await indexes('members', 'email')).to.deep.equal([{ name: `uq_f${email}`, unique: true }]);
  });

  it('trash and restore: back with its one index; restored without UNIQUE (values repeated meanwhile), it gets its own', async () => {
    const t = await createTable(app, 'Badges', [{ name: 'Code', type: 'text', unique: true, indexed: true }]);
    const code = t.fields[0]!.id;
    await sql.exec(`INSERT INTO data.badges (code) VALUES ('a'), ('b')`);
    expect((await app.request('DELETE', `/tables/${t.id}/fields/${code}`)).status).to.equal(200);
    expect((await app.request('POST', `/tables/${t.id}/fields/${code}/restore`)).status).to.equal(200);
    expect(await indexes('badges', 'code')).to.deep.equal([{ name: `uq_f${code}`, unique: true }]);
    await expectClean(app);

    expect((await app.request('DELETE', `/tables/${t.id}/fields/${code}`)).status).to.equal(200);
    await sql.exec(`UPDATE data.badges SET _tw_f${code}_code = 'a'`);
    const res = await app.request('POST', `/tables/${t.id}/fields/${code}/restore`);
    expect(res.status, res.text).to.equal(200);
    expect(res.body.warnings.join(' ')).to.include('without UNIQUE');
    expect(await indexes('badges', 'code')).to.deep.equal([{ name: `ix_f${code}`, unique: false }]);
    expect(await meta(code)).to.deep.equal({ is_unique: false, indexed: true });
    await expectClean(app);
  });

  it('reconcile: "recreate" of a dropped column and "restore" of dropped constraints make one index; accept keeps the field indexed', async () => {
    const t = await createTable(app, 'Seats', [{ name: 'Label', type: 'text', unique: true, indexed: true }]);
    const label = t.fields[0]!.id;
    await sql.exec(`ALTER TABLE data.seats DROP COLUMN label`);
    await act(app, (await onlyItem(app, 'missing_column')).id, 'recreate');
    expect(await indexes('seats', 'label')).to.deep.equal([{ name: `uq_f${label}`, unique: true }]);
    await expectClean(app);

    await sql.exec(`ALTER TABLE data.seats DROP CONSTRAINT uq_f${label}`);
    const item = await onlyItem(app, 'constraint_changed');
    expect(item.expected).to.deep.equal({ unique: true, indexed: true });
    expect(item.actual).to.deep.equal({ unique: false, indexed: false });
    await act(app, item.id, 'restore');
    expect(await indexes('seats', 'label')).to.deep.equal([{ name: `uq_f${label}`, unique: true }]);
    await expectClean(app);

    // a DBA swaps the UNIQUE constraint for a plain index: accepting keeps it indexed
    await sql.exec(`ALTER TABLE data.seats DROP CONSTRAINT uq_f${label}`);
    await sql.exec(`CREATE INDEX seats_label ON data.seats (label)`);
    await act(app, (await onlyItem(app, 'constraint_changed')).id, 'accept');
    expect(await meta(label)).to.deep.equal({ is_unique: false, indexed: true });
    expect(await indexes('seats', 'label')).to.deep.equal([{ name: `ix_f${label}`, unique: false }]);
    await expectClean(app);
  });

  it('adoption: a UNIQUE column gets no second index, not even as a link', async () => {
    const target = await createTable(app, 'Venues', [{ name: 'Name', type: 'text' }]);
    await sql.exec(`CREATE TABLE data.bookings (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, ref text UNIQUE, venue bigint UNIQUE REFERENCES data.venues (id))`);
    const out = await act(app, (await onlyItem(app, 'untracked_table')).id, 'adopt');
    const fields = await sql.rows(`SELECT id, column_name, type, is_unique, indexed FROM tablewright.fields WHERE table_id = $1 ORDER BY position`, [out.result.id]);
    expect(fields.map((f) => [f.column_name, f.type, f.is_unique, f.indexed])).to.deep.equal([
      ['ref', 'text', true, false],
      ['venue', 'link', true, true],
    ]);
    expect(await indexes('bookings', 'venue')).to.deep.equal([{ name: `uq_f${fields[1].id}`, unique: true }]);
    await expectClean(app);
    expect(target.id).to.be.a('number');
  });

  it('migration 008 drops the second index of tables made before, and audits it', async () => {
    const t = await createTable(app, 'Legacy', [{ name: 'Sku', type: 'text', unique: true, indexed: true }]);
    const sku = t.fields[0]!.id;
    await sql.exec(`CREATE INDEX ix_f${sku} ON data.legacy (sku)`); // as every such field had until now
    expect((await indexes('legacy', 'sku')).length).to.equal(2);
    const migration = await fs.readFile(new URL('../../sql/migrations/008_drift_safety.sql', import.meta.url), 'utf8');
    await sql.exec(migration.slice(migration.indexOf('DO $$'), migration.indexOf('END $$;') + 'END $$;'.length));
    expect(await indexes('legacy', 'sku')).to.deep.equal([{ name: `uq_f${sku}`, unique: true }]);
    const audit = await sql.one(`SELECT actor, table_id, field_id, ddl FROM tablewright.audit WHERE operation = 'drop_duplicate_index'`);
    expect(audit).to.deep.equal({ actor: 'system:migration', table_id: t.id, field_id: sku, ddl: `DROP INDEX data.ix_f${sku};` });
    await expectClean(app);
  });
});
