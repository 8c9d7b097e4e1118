// The reconcile's first pass (sql/queries/drift_candidates.sql) vouches for the tables it
// proves in step with their metadata, so that they are not read in full: it must vouch for
// clean ones (or it saves nothing), and never for one with any difference, however small.
// Each change below is made in psql on one table of an otherwise clean catalog; the report
// with the first pass must then equal the full one (crossCheck).
import { expect } from 'chai';
import { takeSnapshot } from '../../server/introspect/snapshot.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';
import { createTable, crossCheck, QUIET } from './lib.js';

const FIELDS = [
  { name: 'Code', type: 'text', unique: true, not_null: true },
  { name: 'Price', type: 'number', options: { decimals: 2 }, indexed: true },
  { name: 'Qty', type: 'number', options: { decimals: 0 }, unique: true, indexed: true },
  { name: 'Paid', type: 'boolean' },
  { name: 'Due', type: 'date' },
  { name: 'Gone', type: 'text' },
];

describe('reconcile first pass: vouches for clean tables, never for a changed one', () => {
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let n = 0;

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

  const verified = async () => {
    const { pool, config } = app.ctx;
    const snap = await takeSnapshot(pool, { data: config.dataSchema, trash: config.trashSchema }, { columnSlotWarning: config.columnSlotWarning });
    return snap.verified;
  };

  /** A table with every kind of field above, its last field in the trash. */
  const makeTable = async () => {
    const t = await createTable(app, `Orders ${++n}`, FIELDS);
    const res = await app.request('DELETE', `/tables/${t.id}/fields/${t.fields[5]!.id}`);
    expect(res.status, res.text).to.equal(200);
    const trashName = (await sql.one(`SELECT trash_name FROM tablewright.fields WHERE id = $1`, [t.fields[5]!.id])).trash_name as string;
    return { ...t, rel: `data.${t.table_name}`, trashName };
  };

  it('vouches for clean tables (text, numbers, boolean, date; unique, indexed, NOT NULL; a trashed field)', async () => {
    const a = await makeTable();
    const b = await makeTable();
    const v = await verified();
    expect(v.has(a.id) && v.has(b.id), `verified: ${[...v].join(', ')}`).to.equal(true);
    await crossCheck(app);
  });

  const changes: Array<[string, (t: Awaited<ReturnType<typeof makeTable>>) => string]> = [
    ['a column retyped', (t) => `ALTER TABLE ${t.rel} ALTER COLUMN paid TYPE text`],
    ['a numeric column given other decimals', (t) => `ALTER TABLE ${t.rel} ALTER COLUMN price TYPE numeric(30,3)`],
    ['NOT NULL added', (t) => `ALTER TABLE ${t.rel} ALTER COLUMN due SET NOT NULL`],
    ['NOT NULL dropped', (t) => `ALTER TABLE ${t.rel} ALTER COLUMN code DROP NOT NULL`],
    ['a default added', (t) => `ALTER TABLE ${t.rel} ALTER COLUMN paid SET DEFAULT true`],
    ['a column added', (t) => `ALTER TABLE ${t.rel} ADD COLUMN extra text`],
    ['a column dropped', (t) => `ALTER TABLE ${t.rel} DROP COLUMN due`],
    ['a column renamed', (t) => `ALTER TABLE ${t.rel} RENAME COLUMN paid TO settled`],
    ['a trashed column renamed', (t) => `ALTER TABLE ${t.rel} RENAME COLUMN ${t.trashName} TO _tw_other`],
    ['a trashed column dropped', (t) => `ALTER TABLE ${t.rel} DROP COLUMN ${t.trashName}`],
    ['an index added', (t) => `CREATE INDEX ON ${t.rel} (due)`],
    ['a UNIQUE constraint added', (t) => `ALTER TABLE ${t.rel} ADD UNIQUE (paid)`],
    ['a UNIQUE constraint dropped', (t) => `ALTER TABLE ${t.rel} DROP CONSTRAINT uq_f${t.fields[0]!.id}`],
    ['an index over two columns added', (t) => `CREATE INDEX ON ${t.rel} (due, paid)`],
    ['the table renamed', (t) => `ALTER TABLE ${t.rel} RENAME TO renamed_${t.id}`],
    // metadata edited by hand: a trashed field claiming a live field's column (its own dropped)
    [
      'two fields naming one column',
      (t) => `ALTER TABLE ${t.rel} DROP COLUMN ${t.trashName};
              UPDATE tablewright.fields f SET trash_name = g.column_name, attnum = g.attnum FROM tablewright.fields g WHERE f.id = ${t.fields[5]!.id} AND g.id = ${t.fields[3]!.id}`,
    ],
    ['a field whose attnum names another column', (t) => `UPDATE tablewright.fields SET attnum = attnum + 1 WHERE id = ${t.fields[1]!.id}`],
    ['a field whose type the metadata changed', (t) => `UPDATE tablewright.fields SET options = '{"decimals": 4}' WHERE id = ${t.fields[1]!.id}`],
  ];
  for (const [what, change] of changes) {
    it(`does not vouch for a table with ${what}`, async () => {
      const clean = await makeTable();
      const t = await makeTable();
      await sql.exec(change(t));
      const v = await verified();
      expect(v.has(t.id), 'the changed table is compared in full').to.equal(false);
      expect(v.has(clean.id), 'the clean one is still vouched for').to.equal(true);
      await crossCheck(app);
    });
  }
});
