// A model is compiled from one round trip that brings a table's live fields as one JSON
// array of value lists (server/model/compile.ts, issue 15: one row per field cost most of
// a 200-field compile). What the model carries must be exactly what the metadata holds,
// field by field, as listFields() reads it: ids, positions, options, defaults, attnums, in
// display order, trashed fields left out; not the timestamps, which a model does not keep.
import { expect } from 'chai';
import type pg from 'pg';
import { loadConfig } from '../../server/config.js';
import { createPool } from '../../server/db/pool.js';
import { compileModel } from '../../server/model/compile.js';
import type { EditorDeps } from '../../server/schema/change.js';
import { addField, reorderFields, trashField, updateField } from '../../server/schema/fields.js';
import { getTable, listFields } from '../../server/schema/metadata.js';
import { createTable } from '../../server/schema/tables.js';
import { freshDatabase, testLog, type TestDatabase } from '../helpers/db.js';

const actor = { name: 'compile-test' };

describe('model compile reads the metadata exactly', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let deps: EditorDeps;

  before(async () => {
    db = await freshDatabase();
    pool = createPool({ connectionString: db.url, max: 2, connectTimeoutMs: 5000 }, testLog);
    deps = { pool, log: testLog, config: loadConfig({ DATABASE_URL: db.url, LOCK_TIMEOUT_MS: '5000' }) };
  });
  after(async () => {
    await pool?.end();
    await db?.drop();
  });

  it('fields as listFields() reads them (display order, trashed left out), and the table as getTable() does', async () => {
    const { id } = await createTable(deps, actor, {
      name: 'Shapes',
      fields: [
        { name: 'Title', type: 'text', not_null: true, default: 'untitled "x"' },
        { name: 'Amount', type: 'number', options: { decimals: 2 }, default: '0.10', unique: true },
        { name: 'Kind', type: 'single_select', options: { choices: [{ label: 'a' }, { label: 'b, c' }] }, indexed: true },
        { name: 'When', type: 'datetime' },
        { name: 'Gone', type: 'boolean' },
      ],
    });
    await addField(deps, actor, id, { name: 'Later', type: 'json' });
    const fields = await listFields(pool, id);
    await trashField(deps, actor, id, fields.find((f) => f.name === 'Gone')!.id);
    await updateField(deps, actor, id, fields.find((f) => f.name === 'Title')!.id, { name: 'Heading' });
    // a new display order: not the order of ids
    const live = await listFields(pool, id);
    await reorderFields(deps, actor, id, [...live].reverse().map((f) => f.id));

    const model = await compileModel(pool, deps.config.dataSchema, id);
    const expected = await listFields(pool, id);
    expect(expected.map((f) => f.name)).to.deep.equal(['Later', 'When', 'Kind', 'Amount', 'Heading']);
    // every column but the timestamps, which a model does not keep (FieldCore)
    expect(model.fields.map((f) => f.meta)).to.deep.equal(expected.map(({ created_at: _c, updated_at: _u, ...core }) => core));
    expect(model.fields[0]!.meta).not.to.have.any.keys('created_at', 'updated_at');
    // types as the pool gives them: numbers for ids
    expect(model.fields[0]!.meta.id).to.be.a('number');
    expect(model.table).to.deep.equal(await getTable(pool, id));
  });

  it('the read is a named prepared statement on a pool that may keep them, and unnamed on one that may not', async () => {
    const { id } = await createTable(deps, actor, { name: 'Prepared', fields: [{ name: 'A', type: 'text' }] });
    for (const prepareStatements of [true, false]) {
      const one = createPool({ connectionString: db.url, max: 1, connectTimeoutMs: 5000, prepareStatements }, testLog);
      try {
        const a = await compileModel(one, deps.config.dataSchema, id);
        const b = await compileModel(one, deps.config.dataSchema, id);
        expect(b.fields.map((f) => f.meta)).to.deep.equal(a.fields.map((f) => f.meta));
        const { rows } = await one.query(`SELECT 1 FROM pg_prepared_statements WHERE name LIKE 'tw_m_%'`);
        expect(rows, `prepareStatements ${prepareStatements}`).to.have.length(prepareStatements ? 1 : 0);
      } finally {
        await one.end();
      }
    }
  });

  it('a table without fields compiles to no fields', async () => {
    const { id } = await createTable(deps, actor, { name: 'Empty', fields: [] });
    const model = await compileModel(pool, deps.config.dataSchema, id);
    expect(model.fields).to.deep.equal([]);
    expect(model.table).to.deep.equal(await getTable(pool, id));
  });
});
