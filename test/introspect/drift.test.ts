// Every drift kind of issue 5, made with raw SQL the way a DBA (or a crash, or a restore)
// would make it; each action resolves its item so that a second reconcile is clean, and
// goes through the schema editor (audit row, version bump).
import { expect } from 'chai';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';
import { act, createTable, expectClean, onlyItem, QUIET, report } from './lib.js';

describe('reconcile: each drift kind is reported, and each action resolves it', () => {
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url, { ...QUIET, COLUMN_SLOT_WARNING: '40' });
    sql = await Sql.connect(db.url);
  });
  beforeEach(async () => {
    await expectClean(app, 'each test starts from a clean report');
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  const lastAudit = () => sql.one(`SELECT operation, table_id, field_id, version, ddl, actor FROM tablewright.audit ORDER BY id DESC LIMIT 1`);
  const columns = async (table: string) =>
    (await sql.rows(`SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, [`data.${table}`])).map((r) => r.attname);

  // ---------------------------------------------------------------- missing

  it('missing table: a DROP TABLE in psql is reported; "recreate" makes it again from metadata, with its fields and constraints', async () => {
    const t = await createTable(app, 'Invoices', [
      { name: 'Number', type: 'text', unique: true, not_null: false },
      { name: 'Total', type: 'number', options: { decimals: 2 }, default: 0, indexed: true },
    ]);
    await sql.exec(`DROP TABLE data.invoices`);
    const item = await onlyItem(app, 'missing_table');
    expect(item.id).to.equal(`missing_table:t${t.id}`);
    expect(item.actions.map((a) => a.name)).to.deep.equal(['recreate', 'forget']);
    await act(app, item.id, 'recreate');
    expect(await columns('invoices')).to.deep.equal(['id', 'number', 'total']);
    const cons = (await sql.rows(`SELECT conname FROM pg_constraint WHERE conrelid = 'data.invoices'::regclass ORDER BY 1`)).map((r) => r.conname);
    expect(cons).to.include.members([`pk_t${t.id}`, `uq_f${t.fields[0]!.id}`]);
    expect((await sql.one(`SELECT to_regclass('data.ix_f${t.fields[1]!.id}') IS NOT NULL AS ok`)).ok).to.equal(true);
    expect((await lastAudit()).operation).to.equal('recreate_table');
    await expectClean(app);
    // the new table works: an insert gets an id and the default
    expect((await sql.one(`INSERT INTO data.invoices (number) VALUES ('A-1') RETURNING id, total`)).total).to.equal('0.00');
  });

  it('missing table: "forget" deletes its metadata (the table and its fields), audited', async () => {
    const t = await createTable(app, 'Scratch', [{ name: 'Note', type: 'text' }]);
    await sql.exec(`DROP TABLE data.scratch`);
    const item = await onlyItem(app, 'missing_table');
    await act(app, item.id, 'forget');
    expect(await sql.rows(`SELECT id FROM tablewright.tables WHERE id = $1`, [t.id])).to.deep.equal([]);
    expect(await sql.rows(`SELECT id FROM tablewright.fields WHERE table_id = $1`, [t.id])).to.deep.equal([]);
    const audit = await lastAudit();
    expect(audit.operation).to.equal('forget_table');
    expect(audit.table_id).to.equal(t.id);
    await expectClean(app);
  });

  it('missing column: ALTER TABLE DROP COLUMN is reported; "recreate" adds it back (type, default, index), "forget" drops the field', async () => {
    const t = await createTable(app, 'People', [
      { name: 'Name', type: 'text' },
      { name: 'Age', type: 'number', default: 18, indexed: true },
      { name: 'Nick', type: 'text' },
    ]);
    await sql.exec(`INSERT INTO data.people (name, age) VALUES ('ada', 36)`);
    await sql.exec(`ALTER TABLE data.people DROP COLUMN age`);
    const item = await onlyItem(app, 'missing_column');
    expect(item.field!.id).to.equal(t.fields[1]!.id);
    await act(app, item.id, 'recreate');
    const col = await sql.one(`SELECT format_type(atttypid, atttypmod) AS type, pg_get_expr(d.adbin, d.adrelid) AS dflt FROM pg_attribute a
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum WHERE attrelid = 'data.people'::regclass AND attname = 'age'`);
    expect(col).to.deep.equal({ type: 'bigint', dflt: "'18'::bigint" });
    await expectClean(app);

    await sql.exec(`ALTER TABLE data.people DROP COLUMN nick`);
    const gone = await onlyItem(app, 'missing_column');
    await act(app, gone.id, 'forget');
    expect(await sql.rows(`SELECT 1 FROM tablewright.fields WHERE id = $1`, [t.fields[2]!.id])).to.have.length(0);
    expect((await lastAudit()).operation).to.equal('forget_field');
    await expectClean(app);
  });

  // ---------------------------------------------------------------- untracked

  it('untracked table: "adopt" maps PostgreSQL types to field types (read-only where we cannot edit), renames its constraints to ours, keeps the DBA\'s table otherwise', async () => {
    const target = await createTable(app, 'Customers', [{ name: 'Name', type: 'text' }]);
    await sql.exec(`CREATE TABLE data.shipments (
      id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
      label text NOT NULL DEFAULT 'box',
      code varchar(12) UNIQUE,
      small integer,
      weight numeric(30,3),
      price numeric(10,2),
      fragile boolean DEFAULT false,
      ship_on date,
      shipped_at timestamptz DEFAULT now(),
      local_time timestamp,
      meta jsonb,
      pos point,
      customer bigint REFERENCES data.customers (id),
      "Weird Name" text
    )`);
    await sql.exec(`CREATE INDEX shipments_ship_on ON data.shipments (ship_on)`);
    await sql.exec(`COMMENT ON COLUMN data.shipments.label IS 'what is on the box'`);
    await sql.exec(`INSERT INTO data.shipments (label, code, small, customer) VALUES ('a', 'X1', 5, NULL)`);
    const r = await report(app);
    expect(r.items.map((i) => i.kind)).to.deep.equal(['untracked_table']);
    const item = r.items[0]!;
    expect(item.id).to.equal('untracked_table:data:shipments');
    expect(item.actions.map((a) => a.name)).to.deep.equal(['adopt', 'ignore', 'purge']);

    const out = await act(app, item.id, 'adopt');
    expect(out.result).to.include({ table_name: 'shipments', read_only: false, name: 'Shipments' });
    expect(out.result.skipped_columns).to.deep.equal(['Weird Name']);
    const id = out.result.id;
    const fields = await sql.rows(`SELECT column_name, type, options, read_only, pg_type, not_null, is_unique, indexed, default_value, pg_default FROM tablewright.fields WHERE table_id = $1 ORDER BY position`, [id]);
    const by = Object.fromEntries(fields.map((f) => [f.column_name, f]));
    expect(by.label).to.include({ type: 'text', read_only: false, not_null: true, default_value: 'box' });
    expect(by.code).to.include({ type: 'text', read_only: false, is_unique: true, pg_type: 'character varying(12)' });
    expect(by.code.options).to.deep.equal({ max_length: 12 });
    expect(by.small).to.include({ type: 'number', read_only: true, pg_type: 'integer' });
    expect(by.weight).to.include({ type: 'number', read_only: false });
    expect(by.weight.options).to.deep.equal({ decimals: 3 });
    expect(by.price).to.include({ type: 'number', read_only: true, pg_type: 'numeric(10,2)' });
    expect(by.fragile).to.include({ type: 'boolean', default_value: false });
    expect(by.ship_on).to.include({ type: 'date', indexed: true });
    expect(by.shipped_at).to.include({ type: 'datetime', read_only: false, pg_default: 'now()' });
    expect(by.local_time).to.include({ type: 'datetime', read_only: true });
    expect(by.meta).to.include({ type: 'json', read_only: false });
    expect(by.pos).to.include({ type: 'text', read_only: true, pg_type: 'point' });
    expect(by.customer).to.include({ type: 'link', read_only: false, indexed: true });
    expect(by.customer.options).to.deep.equal({ table_id: target.id });
    // our conventions, by renames only: id-based names for the key, sequence, constraints and indexes
    const cons = (await sql.rows(`SELECT conname FROM pg_constraint WHERE conrelid = 'data.shipments'::regclass AND contype IN ('p','u','f') ORDER BY 1`)).map((x) => x.conname);
    const ids = Object.fromEntries((await sql.rows(`SELECT column_name, id FROM tablewright.fields WHERE table_id = $1`, [id])).map((x) => [x.column_name, x.id]));
    expect(cons).to.have.members([`pk_t${id}`, `uq_f${ids.code}`, `fk_f${ids.customer}`]);
    expect((await sql.one(`SELECT pg_get_serial_sequence('data.shipments', 'id') AS s`)).s).to.equal(`data.seq_t${id}`);
    expect((await sql.one(`SELECT to_regclass('data.ix_f${ids.ship_on}') IS NOT NULL AS a, to_regclass('data.ix_f${ids.customer}') IS NOT NULL AS b`))).to.deep.equal({ a: true, b: true });
    // a DBA's comment is kept; columns without one get ours
    expect((await sql.one(`SELECT col_description('data.shipments'::regclass, 2) AS c`)).c).to.equal('what is on the box');
    expect((await sql.one(`SELECT obj_description('data.shipments'::regclass, 'pg_class') AS c`)).c).to.equal(`Shipments (tablewright table ${id})`);
    // the rows are untouched
    expect(await sql.rows(`SELECT label, code, small FROM data.shipments`)).to.deep.equal([{ label: 'a', code: 'X1', small: 5 }]);
    expect((await lastAudit()).operation).to.equal('adopt_table');

    // the column we could not name stays untracked: rename-and-adopt it
    const left = await onlyItem(app, 'untracked_column');
    expect(left.column!.name).to.equal('Weird Name');
    await act(app, left.id, 'adopt', {}, 422);
    await act(app, left.id, 'adopt', { column: 'weird_name' });
    expect(await columns('shipments')).to.include('weird_name');
    await expectClean(app);
  });

  it('untracked table without a single-column primary key "id" is adopted read-only', async () => {
    await sql.exec(`CREATE TABLE data.pairs (a int, b int, PRIMARY KEY (a, b))`);
    const item = await onlyItem(app, 'untracked_table');
    const out = await act(app, item.id, 'adopt');
    expect(out.result.read_only).to.equal(true);
    expect(out.result.read_only_reason).to.match(/several columns/);
    expect((await sql.one(`SELECT read_only FROM tablewright.tables WHERE id = $1`, [out.result.id])).read_only).to.equal(true);
    // its columns, key included, are fields (read-only: int4)
    expect((await sql.rows(`SELECT column_name FROM tablewright.fields WHERE table_id = $1 ORDER BY position`, [out.result.id])).map((r) => r.column_name)).to.deep.equal(['a', 'b']);
    // the schema editor refuses to change it
    const res = await app.request('POST', `/tables/${out.result.id}/fields`, { json: { name: 'C', type: 'text' } });
    expect(res.status).to.equal(409);
    await expectClean(app);
  });

  it('untracked table: "ignore" moves it to the ignored list (the report is clean), "unignore" brings it back, "purge" needs its name typed back', async () => {
    await sql.exec(`CREATE TABLE data.dba_notes (id serial PRIMARY KEY, body text)`);
    const item = await onlyItem(app, 'untracked_table');
    await act(app, item.id, 'ignore', { note: 'kept by the DBA' });
    const r = await report(app);
    expect(r.clean).to.equal(true);
    expect(r.ignored.map((i) => i.id)).to.deep.equal([item.id]);
    await act(app, item.id, 'unignore');
    expect((await onlyItem(app, 'untracked_table')).id).to.equal(item.id);
    const refused = await act(app, item.id, 'purge', {}, 422);
    expect(refused.error.code).to.equal('confirmation_required');
    expect(refused.error.details.confirm).to.equal('data.dba_notes');
    await act(app, item.id, 'purge', { confirm: 'data.dba_notes' });
    expect((await sql.one(`SELECT to_regclass('data.dba_notes') AS r`)).r).to.equal(null);
    expect((await lastAudit()).operation).to.equal('purge_untracked_table');
    await expectClean(app);
  });

  it('untracked column: ADD COLUMN in psql is reported; "adopt" describes it, "ignore" hides it, "purge" drops it', async () => {
    const t = await createTable(app, 'Books', [{ name: 'Title', type: 'text' }]);
    await sql.exec(`ALTER TABLE data.books ADD COLUMN isbn text UNIQUE, ADD COLUMN pages bigint NOT NULL DEFAULT 0`);
    const r = await report(app);
    expect(r.items.map((i) => i.id).sort()).to.deep.equal([`untracked_column:t${t.id}:isbn`, `untracked_column:t${t.id}:pages`]);
    const before = (await sql.one(`SELECT version FROM tablewright.tables WHERE id = $1`, [t.id])).version;
    const out = await act(app, `untracked_column:t${t.id}:isbn`, 'adopt');
    expect(out.result).to.include({ column: 'isbn', type: 'text', read_only: false });
    const f = await sql.one(`SELECT is_unique, attnum FROM tablewright.fields WHERE id = $1`, [out.result.field_id]);
    expect(f.is_unique).to.equal(true);
    expect((await sql.one(`SELECT version FROM tablewright.tables WHERE id = $1`, [t.id])).version).to.equal(before + 1);
    await act(app, `untracked_column:t${t.id}:pages`, 'ignore');
    await expectClean(app);
    await act(app, `untracked_column:t${t.id}:pages`, 'unignore');
    await act(app, `untracked_column:t${t.id}:pages`, 'purge', { confirm: 'data.books.pages' });
    expect(await columns('books')).to.deep.equal(['id', 'title', 'isbn']);
    await expectClean(app);
  });

  // ---------------------------------------------------------------- renames

  it('renamed table: ALTER TABLE RENAME is recognised by oid; "accept" takes the new name, "revert" puts the old one back', async () => {
    const t = await createTable(app, 'Suppliers', [{ name: 'Name', type: 'text' }]);
    await sql.exec(`ALTER TABLE data.suppliers RENAME TO vendors`);
    const item = await onlyItem(app, 'renamed_table');
    expect(item.expected).to.deep.equal({ table_name: 'suppliers' });
    expect(item.actual).to.deep.equal({ table_name: 'vendors' });
    await act(app, item.id, 'accept');
    expect((await sql.one(`SELECT table_name FROM tablewright.tables WHERE id = $1`, [t.id])).table_name).to.equal('vendors');
    await expectClean(app);

    await sql.exec(`ALTER TABLE data.vendors RENAME TO sellers`);
    await act(app, (await onlyItem(app, 'renamed_table')).id, 'revert');
    expect((await sql.one(`SELECT to_regclass('data.vendors') IS NOT NULL AS ok`)).ok).to.equal(true);
    expect((await lastAudit()).ddl).to.include('RENAME TO "vendors"');
    await expectClean(app);
  });

  it('renamed column: RENAME COLUMN is recognised by attnum; "accept" and "revert" both resolve it; a trashed column renamed by hand too', async () => {
    const t = await createTable(app, 'Cities', [{ name: 'Name', type: 'text' }, { name: 'Pop', type: 'number' }]);
    await sql.exec(`ALTER TABLE data.cities RENAME COLUMN pop TO population`);
    const item = await onlyItem(app, 'renamed_column');
    expect(item.field!.id).to.equal(t.fields[1]!.id);
    await act(app, item.id, 'accept');
    expect((await sql.one(`SELECT column_name FROM tablewright.fields WHERE id = $1`, [t.fields[1]!.id])).column_name).to.equal('population');
    await expectClean(app);
    await sql.exec(`ALTER TABLE data.cities RENAME COLUMN population TO "Population"`);
    const again = await onlyItem(app, 'renamed_column');
    expect(again.actions.map((a) => a.name)).to.deep.equal(['revert']); // not a name we can manage
    await act(app, again.id, 'revert');
    expect(await columns('cities')).to.deep.equal(['id', 'name', 'population']);
    await expectClean(app);

    expect((await app.request('DELETE', `/tables/${t.id}/fields/${t.fields[0]!.id}`)).status).to.equal(200);
    const parked = `_tw_f${t.fields[0]!.id}_name`;
    await sql.exec(`ALTER TABLE data.cities RENAME COLUMN ${parked} TO old_name`);
    const trashed = await onlyItem(app, 'renamed_column');
    await act(app, trashed.id, 'revert');
    expect(await columns('cities')).to.include(parked);
    await expectClean(app);
  });

  // ---------------------------------------------------------------- types and constraints

  it('retyped column: "accept" describes the new type (int4 -> a read-only number), "restore" converts it back (lossy only with confirm_loss)', async () => {
    const t = await createTable(app, 'Stock', [{ name: 'Sku', type: 'text' }, { name: 'Qty', type: 'number' }]);
    const qty = t.fields[1]!.id;
    await sql.exec(`INSERT INTO data.stock (sku, qty) VALUES ('a', 1), ('b', 2)`);
    await sql.exec(`ALTER TABLE data.stock ALTER COLUMN qty TYPE integer`);
    const item = await onlyItem(app, 'retyped_column');
    expect(item.expected).to.deep.equal({ type: 'bigint' });
    expect(item.actual).to.deep.equal({ type: 'integer' });
    await act(app, item.id, 'accept');
    expect(await sql.one(`SELECT type, read_only, pg_type FROM tablewright.fields WHERE id = $1`, [qty])).to.deep.equal({ type: 'number', read_only: true, pg_type: 'integer' });
    await expectClean(app);
    // converting it to bigint in psql, then accepting, makes it editable again
    await sql.exec(`ALTER TABLE data.stock ALTER COLUMN qty TYPE bigint`);
    await act(app, (await onlyItem(app, 'retyped_column')).id, 'accept');
    expect(await sql.one(`SELECT type, read_only, pg_type FROM tablewright.fields WHERE id = $1`, [qty])).to.deep.equal({ type: 'number', read_only: false, pg_type: null });
    await expectClean(app);

    await sql.exec(`ALTER TABLE data.stock ALTER COLUMN qty TYPE text`);
    await sql.exec(`INSERT INTO data.stock (sku, qty) VALUES ('c', 'lots')`);
    const back = await onlyItem(app, 'retyped_column');
    const refused = await act(app, back.id, 'restore', {}, 422);
    expect(refused.error.code).to.equal('lossy_conversion');
    expect(refused.error.details.lost).to.equal(1);
    await act(app, back.id, 'restore', { confirm_loss: true });
    expect((await sql.rows(`SELECT sku, qty FROM data.stock ORDER BY id`))).to.deep.equal([{ sku: 'a', qty: 1 }, { sku: 'b', qty: 2 }, { sku: 'c', qty: null }]);
    expect((await lastAudit()).operation).to.equal('restore_type');
    await expectClean(app);
  });

  it('constraint changed: NOT NULL, UNIQUE, index and default changed in psql; "accept" takes them (renaming to our names), "restore" puts the metadata\'s back', async () => {
    const t = await createTable(app, 'Tags', [{ name: 'Label', type: 'text' }, { name: 'Rank', type: 'number', default: 1 }]);
    const label = t.fields[0]!.id;
    const rank = t.fields[1]!.id;
    await sql.exec(`INSERT INTO data.tags (label) VALUES ('x'), ('y')`);
    await sql.exec(`ALTER TABLE data.tags ALTER COLUMN label SET NOT NULL, ADD CONSTRAINT tags_label_key UNIQUE (label)`);
    await sql.exec(`CREATE INDEX tags_rank ON data.tags (rank)`);
    await sql.exec(`ALTER TABLE data.tags ALTER COLUMN rank SET DEFAULT 5`);
    const r = await report(app);
    expect(r.items.map((i) => i.id).sort()).to.deep.equal([`constraint_changed:f${label}`, `constraint_changed:f${rank}`]);
    const li = r.items.find((i) => i.id === `constraint_changed:f${label}`)!;
    expect(li.expected).to.deep.equal({ not_null: false, unique: false });
    expect(li.actual).to.deep.equal({ not_null: true, unique: true });
    await act(app, li.id, 'accept');
    expect(await sql.one(`SELECT not_null, is_unique FROM tablewright.fields WHERE id = $1`, [label])).to.deep.equal({ not_null: true, is_unique: true });
    expect((await sql.rows(`SELECT conname FROM pg_constraint WHERE conrelid = 'data.tags'::regclass AND contype = 'u'`)).map((x) => x.conname)).to.deep.equal([`uq_f${label}`]);
    await act(app, `constraint_changed:f${rank}`, 'restore');
    expect((await sql.one(`SELECT to_regclass('data.tags_rank') AS r`)).r).to.equal(null);
    expect((await sql.one(`SELECT pg_get_expr(adbin, adrelid) AS d FROM pg_attrdef WHERE adrelid = 'data.tags'::regclass`)).d).to.equal("'1'::bigint");
    await expectClean(app);
    // a field made optional and not unique through the console is then changed in psql and restored
    await sql.exec(`ALTER TABLE data.tags ALTER COLUMN label DROP NOT NULL`);
    await act(app, (await onlyItem(app, 'constraint_changed')).id, 'restore');
    expect((await sql.one(`SELECT attnotnull FROM pg_attribute WHERE attrelid = 'data.tags'::regclass AND attname = 'label'`)).attnotnull).to.equal(true);
    await expectClean(app);
  });

  it('a link whose foreign key was dropped by hand: "restore" adds it back (clearing links to rows that are gone)', async () => {
    const a = await createTable(app, 'Authors', [{ name: 'Name', type: 'text' }]);
    const p = await createTable(app, 'Posts', [{ name: 'Author', type: 'link', options: { table_id: a.id } }]);
    const fk = `fk_f${p.fields[0]!.id}`;
    await sql.exec(`INSERT INTO data.authors (name) VALUES ('ada')`);
    await sql.exec(`ALTER TABLE data.posts DROP CONSTRAINT ${fk}`);
    await sql.exec(`INSERT INTO data.posts (author) VALUES (1), (999)`);
    const item = await onlyItem(app, 'constraint_changed');
    expect(item.actual).to.deep.equal({ foreign_key: null });
    await act(app, item.id, 'accept', {}, 409);
    const out = await act(app, item.id, 'restore');
    expect(out.result.warnings[0]).to.match(/1 links/);
    expect((await sql.rows(`SELECT author FROM data.posts ORDER BY id`)).map((x) => x.author)).to.deep.equal([1, null]);
    await expectClean(app);
  });

  // ---------------------------------------------------------------- trash, identity, column slots

  it('trashed but gone: a trashed column or table dropped by hand is reported; "forget" removes its metadata', async () => {
    const t = await createTable(app, 'Drafts', [{ name: 'Body', type: 'text' }, { name: 'Old', type: 'text' }]);
    const old = t.fields[1]!.id;
    expect((await app.request('DELETE', `/tables/${t.id}/fields/${old}`)).status).to.equal(200);
    await sql.exec(`ALTER TABLE data.drafts DROP COLUMN _tw_f${old}_old`);
    const item = await onlyItem(app, 'trashed_gone');
    expect(item.id).to.equal(`trashed_gone:f${old}`);
    expect(item.actions.map((a) => a.name)).to.deep.equal(['forget']);
    await act(app, item.id, 'forget');
    expect(await sql.rows(`SELECT 1 FROM tablewright.fields WHERE id = $1`, [old])).to.have.length(0);
    await expectClean(app);

    expect((await app.request('DELETE', `/tables/${t.id}`)).status).to.equal(200);
    await sql.exec(`DROP TABLE data_trash._tw_t${t.id}_drafts`);
    const table = await onlyItem(app, 'trashed_gone');
    expect(table.id).to.equal(`trashed_gone:t${t.id}`);
    await act(app, table.id, 'forget');
    expect(await sql.rows(`SELECT 1 FROM tablewright.tables WHERE id = $1`, [t.id])).to.have.length(0);
    await expectClean(app);
  });

  it('identity changed: a column dropped and added again under the same name keeps its field, with a new attnum; "accept" records it', async () => {
    const t = await createTable(app, 'Codes', [{ name: 'Code', type: 'text' }]);
    await sql.exec(`ALTER TABLE data.codes DROP COLUMN code`);
    await sql.exec(`ALTER TABLE data.codes ADD COLUMN code text`);
    const item = await onlyItem(app, 'identity_changed');
    await act(app, item.id, 'accept');
    const attnum = (await sql.one(`SELECT attnum FROM pg_attribute WHERE attrelid = 'data.codes'::regclass AND attname = 'code'`)).attnum;
    expect((await sql.one(`SELECT attnum FROM tablewright.fields WHERE id = $1`, [t.fields[0]!.id])).attnum).to.equal(attnum);
    await expectClean(app);
  });

  it('near the column limit: dropped columns holding slots are counted; "rebuild" frees them and keeps rows, ids, constraints and links', async () => {
    const t = await createTable(app, 'Wide', [{ name: 'Name', type: 'text', unique: true }, { name: 'N', type: 'number', default: 7 }]);
    await createTable(app, 'Refs', [{ name: 'Wide', type: 'link', options: { table_id: t.id } }]);
    await sql.exec(`INSERT INTO data.wide (name) VALUES ('a'), ('b'), ('c')`);
    await sql.exec(`DELETE FROM data.wide WHERE name = 'c'`);
    await sql.exec(`INSERT INTO data.refs (wide) VALUES (2)`);
    await sql.exec(`DO $$ BEGIN FOR i IN 1..40 LOOP EXECUTE format('ALTER TABLE data.wide ADD COLUMN tmp%s int', i); EXECUTE format('ALTER TABLE data.wide DROP COLUMN tmp%s', i); END LOOP; END $$`);
    const item = await onlyItem(app, 'column_limit');
    expect(item.actual).to.include({ dropped: 40, live: 3 });
    const out = await act(app, item.id, 'rebuild');
    expect(out.result).to.include({ freed: 40, slots_after: 3 });
    expect((await sql.one(`SELECT relnatts FROM pg_class WHERE oid = 'data.wide'::regclass`)).relnatts).to.equal(3);
    expect(await sql.rows(`SELECT id, name, n FROM data.wide ORDER BY id`)).to.deep.equal([{ id: 1, name: 'a', n: 7 }, { id: 2, name: 'b', n: 7 }]);
    // the identity goes on after the highest id ever given, not the highest left
    expect((await sql.one(`INSERT INTO data.wide (name) VALUES ('d') RETURNING id`)).id).to.equal(4);
    // the incoming link still holds
    await sql.exec(`DELETE FROM data.wide WHERE id = 2`);
    expect((await sql.one(`SELECT wide FROM data.refs`)).wide).to.equal(null);
    expect((await sql.one(`SELECT table_oid::int8 AS oid FROM tablewright.tables WHERE id = $1`, [t.id])).oid).to.equal((await sql.one(`SELECT 'data.wide'::regclass::oid::int8 AS oid`)).oid);
    await expectClean(app);
  });

  it('the Drift page lists each item with its action forms; a form POST applies the action and comes back to the page (303)', async () => {
    await sql.exec(`CREATE TABLE data."From Psql" (id bigint PRIMARY KEY)`);
    const page = await app.request('GET', '/reconcile', { headers: { Accept: 'text/html' } });
    expect(page.status).to.equal(200);
    expect(page.text).to.include('Table data.From Psql (1 columns) is in the database but not in the metadata.');
    expect(page.text).to.include('name="item" value="untracked_table:data:From%20Psql"');
    expect(page.text).to.include('placeholder="new table name"'); // its name cannot be ours: adopt asks for one
    expect(page.text).to.include('id="drift-banner"');
    const frag = await app.request('GET', '/reconcile', { headers: { 'HX-Request': 'true' } });
    expect(frag.text.trimStart()).to.match(/^<section id="drift-panel"/);
    const res = await app.request('POST', '/reconcile/actions', {
      form: { item: 'untracked_table:data:From%20Psql', action: 'adopt', table_name: 'from_psql' },
      headers: { Accept: 'text/html' },
    });
    expect(res.status, res.text).to.equal(303);
    expect(res.headers.get('location')).to.equal('/reconcile');
    expect((await sql.one(`SELECT read_only FROM tablewright.tables WHERE table_name = 'from_psql'`)).read_only).to.equal(true); // no identity: read-only
    await expectClean(app);
    const after = await app.request('GET', '/reconcile', { headers: { Accept: 'text/html' } });
    expect(after.text).to.include('No drift.');
    expect(after.text).not.to.include('id="drift-banner"');
  });

  it('an action on an item that is gone answers 404, an action the item does not offer 400, and neither changes anything', async () => {
    const before = await sql.snapshot();
    expect((await act(app, 'missing_table:t999999', 'recreate', {}, 404)).error.code).to.equal('not_found');
    await sql.exec(`CREATE TABLE data.loose (id bigint PRIMARY KEY)`);
    const item = await onlyItem(app, 'untracked_table');
    expect((await act(app, item.id, 'rebuild', {}, 400)).error.field).to.equal('action');
    await sql.exec(`DROP TABLE data.loose`);
    expect(await sql.snapshot()).to.deep.equal(before);
  });
});
