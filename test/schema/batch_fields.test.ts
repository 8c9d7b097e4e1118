// Fields are added in a fixed number of round trips, whatever their count (issue 15):
// POST /tables with 50 fields is one transaction of as many statements as with one field,
// and each field is still made exactly as one added alone would be (column, type,
// comment, attnum, position, constraints), with one version bump, one audit row and one
// NOTIFY. Errors still name the field of the list they concern, and change nothing.
import { expect } from 'chai';
import fc from 'fast-check';
import type pg from 'pg';
import { loadConfig } from '../../server/config.js';
import { createPool } from '../../server/db/pool.js';
import { recordIdentityIfUnchanged } from '../../server/introspect/identity.js';
import type { EditorDeps } from '../../server/schema/change.js';
import { addField } from '../../server/schema/fields.js';
import { fieldType, parseOptions } from '../../server/fields/registry.js';
import { createTable } from '../../server/schema/tables.js';
import { freshDatabase, testLog, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';

const actor = { name: 'batch-test' };
const TYPES: Array<{ type: string; options?: unknown }> = [
  { type: 'text' },
  { type: 'number', options: { decimals: 2 } },
  { type: 'number', options: { decimals: 0 } },
  { type: 'boolean' },
  { type: 'date' },
  { type: 'datetime' },
  { type: 'json' },
  { type: 'single_select', options: { choices: [{ label: 'a' }, { label: 'b' }] } },
];

describe('fields are added in a fixed number of round trips (batched)', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let sql: Sql;
  let deps: EditorDeps;
  let statements = 0;

  before(async () => {
    db = await freshDatabase();
    pool = createPool({ connectionString: db.url, max: 2, connectTimeoutMs: 5000 }, testLog);
    // every statement sent by any pooled client is counted
    pool.on('connect', (client) => {
      const query = client.query.bind(client) as (...a: unknown[]) => unknown;
      (client as unknown as { query: (...a: unknown[]) => unknown }).query = (...a: unknown[]) => {
        statements += 1;
        return query(...a);
      };
    });
    deps = { pool, log: testLog, config: loadConfig({ DATABASE_URL: db.url, LOCK_TIMEOUT_MS: '5000' }) };
    sql = await Sql.connect(db.url);
    await recordIdentityIfUnchanged(pool); // as every start does
  });
  after(async () => {
    await sql?.end();
    await pool?.end();
    await db?.drop();
  });

  async function counted<T>(fn: () => Promise<T>): Promise<[T, number]> {
    statements = 0;
    const out = await fn();
    return [out, statements];
  }

  it('creating a table costs the same statements with 1 field or 60, each field made as the catalog and metadata expect', async () => {
    await createTable(deps, actor, { name: 'Warm', fields: [{ name: 'A', type: 'text' }] }); // reads the reserved words once per process
    const [, one] = await counted(() => createTable(deps, actor, { name: 'One', fields: [{ name: 'A', type: 'text' }] }));
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(TYPES.length - 1), { minLength: 1, maxLength: 60 }), async (kinds) => {
        n += 1;
        const specs = kinds.map((k, i) => ({ name: `Field ${i} ${TYPES[k]!.type}`, type: TYPES[k]!.type, options: TYPES[k]!.options }));
        const [t, count] = await counted(() => createTable(deps, actor, { name: `Wide ${n}`, fields: specs }));
        expect(count, `${kinds.length} fields: statements`).to.equal(one);
        const table = await sql.one(`SELECT version, table_oid::int8 AS oid, table_name FROM tablewright.tables WHERE id = $1`, [t.id]);
        expect(Number(table.version)).to.equal(1);
        const cols = await sql.rows(
          `SELECT f.id, f.name, f.position, f.attnum, a.attnum AS real_attnum, format_type(a.atttypid, a.atttypmod) AS sqltype, col_description(a.attrelid, a.attnum) AS comment
             FROM tablewright.fields f JOIN pg_attribute a ON a.attrelid = $2::oid AND a.attname = f.column_name
            WHERE f.table_id = $1 ORDER BY f.position`,
          [t.id, table.oid],
        );
        expect(cols.map((c) => c.name)).to.deep.equal(specs.map((s) => s.name));
        cols.forEach((c, i) => {
          expect(c.position).to.equal(i + 1);
          expect(c.attnum, c.name).to.equal(c.real_attnum);
          const k = TYPES[kinds[i]!]!;
          const sqlType = fieldType(k.type).sqlType(parseOptions(fieldType(k.type), k.options ?? {}));
          expect(sqlType.replace(/\s/g, ''), c.name).to.include(String(c.sqltype).replace(/\s/g, '').replace('timestampwithtimezone', 'timestamptz'));
          expect(c.comment).to.match(new RegExp(`^${c.name} \\(tablewright field ${c.id} of table ${t.id}\\)`));
        });
        const audit = await sql.rows(`SELECT ddl FROM tablewright.audit WHERE table_id = $1`, [t.id]);
        expect(audit).to.have.length(1);
        expect(audit[0].ddl).to.match(/^CREATE TABLE /);
        // the history triggers know every column
        const layout = await sql.one(`SELECT columns FROM tablewright.row_layouts WHERE table_id = $1 ORDER BY id DESC LIMIT 1`, [t.id]);
        expect(Object.keys(layout.columns)).to.have.length(specs.length);
      }),
      { numRuns: 6 },
    );
  });

  it('adding one field costs a fixed number of statements, and a UNIQUE, indexed, NOT NULL field with an exact default is made whole', async () => {
    const t = await createTable(deps, actor, { name: 'Growing', fields: [] });
    const counts: number[] = [];
    for (let i = 0; i < 5; i++) counts.push((await counted(() => addField(deps, actor, t.id, { name: `Plain ${i}`, type: 'text' })))[1]);
    expect(new Set(counts).size, `statements per add: ${counts}`).to.equal(1);
    // BEGIN, the lock, one read (table, online change, identity, fields' state), the DDL,
    // the metadata, the closing statement (triggers, version, audit, NOTIFY), COMMIT
    expect(counts[0]).to.equal(7);
    const { field } = await addField(deps, actor, t.id, { name: 'Price', type: 'number', options: { decimals: 2 }, not_null: true, default: '12.34', indexed: true });
    const meta = await sql.one(`SELECT default_value::text AS d, not_null, indexed FROM tablewright.fields WHERE id = $1`, [field.id]);
    expect(meta).to.deep.equal({ d: '12.34', not_null: true, indexed: true });
    const col = await sql.one(
      `SELECT a.attnotnull, pg_get_expr(d.adbin, d.adrelid) AS dflt FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = 'data.growing'::regclass AND a.attname = 'price'`,
    );
    expect(col.attnotnull).to.equal(true);
    expect(col.dflt).to.include('12.34');
    expect(await sql.rows(`SELECT 1 FROM pg_indexes WHERE schemaname = 'data' AND indexname = $1`, [`ix_f${field.id}`])).to.have.length(1);
    const u = await addField(deps, actor, t.id, { name: 'Code', type: 'text', unique: true });
    expect(await sql.rows(`SELECT 1 FROM pg_constraint WHERE conname = $1 AND contype = 'u'`, [`uq_f${u.field.id}`])).to.have.length(1);
  });

  it('a 63-byte table_name already taken by an untracked table is a 409 naming table_name, not a failed CREATE TABLE', async () => {
    const long = 'x'.repeat(63);
    await sql.exec(`CREATE TABLE data.${long} (a int)`);
    const err = await createTable(deps, actor, { name: 'Long one', table_name: long, fields: [] }).then(
      () => undefined,
      (e: { code?: string; field?: string; status?: number }) => e,
    );
    expect(err).to.include({ status: 409, code: 'table_name_taken', field: 'table_name' });
    const ok = await createTable(deps, actor, { name: 'Long two', table_name: `${'x'.repeat(62)}y`, fields: [] });
    expect(ok.id).to.be.a('number');
  });

  for (const [label, fields, code, field] of [
    ['the same name twice (case-insensitive)', [{ name: 'Price', type: 'text' }, { name: 'PRICE', type: 'text' }], 'name_taken', 'fields.1.name'],
    ['the same column twice', [{ name: 'A', type: 'text', column: 'code' }, { name: 'B', type: 'text', column: 'code' }], 'column_taken', 'fields.1.column'],
    ['bad options on the third field', [{ name: 'A', type: 'text' }, { name: 'B', type: 'text' }, { name: 'C', type: 'number', options: { decimals: 'many' } }], undefined, 'fields.2.options.decimals'],
    ['a default that is not a date', [{ name: 'A', type: 'text' }, { name: 'D', type: 'date', default: 'soon' }], 'invalid_default', 'fields.1.default'],
    ['a link to no table', [{ name: 'L', type: 'link', options: { table_id: 999999 } }], undefined, 'fields.0.options.table_id'],
  ] as const) {
    it(`a list with ${label} is refused naming ${field}, and nothing is created`, async () => {
      const before = await sql.snapshot();
      const err = await createTable(deps, actor, { name: `Refused ${label}`, fields: fields as never }).then(
        () => undefined,
        (e: { code?: string; field?: string; status?: number }) => e,
      );
      expect(err, 'refused').to.not.equal(undefined);
      expect(err!.status).to.be.within(400, 499);
      expect(err!.field).to.equal(field);
      if (code) expect(err!.code).to.equal(code);
      expect(await sql.snapshot()).to.deep.equal(before);
    });
  }
});
