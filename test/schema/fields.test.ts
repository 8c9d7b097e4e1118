// Fields: add (every type), rename, constraints and defaults, trash and restore, reorder,
// limits; each refusal names the field and changes nothing.
import { expect } from 'chai';
import { FIELD_TYPES } from '../../server/fields/types.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';

describe('fields', () => {
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let tableId: number;
  let targetId: number;

  const column = (name: string, table = 'people') =>
    sql.rows(
      `SELECT format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null, pg_get_expr(d.adbin, d.adrelid) AS dflt
         FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = $1::regclass AND a.attname = $2 AND NOT a.attisdropped`,
      [`data.${table}`, name],
    );
  const add = (body: Record<string, unknown>) => app.request('POST', `/tables/${tableId}/fields`, { json: body });
  const patch = (fieldId: number, body: Record<string, unknown>) => app.request('PATCH', `/tables/${tableId}/fields/${fieldId}`, { json: body });

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url, { MAX_FIELDS: '12' });
    sql = await Sql.connect(db.url);
    targetId = (await app.request('POST', '/tables', { json: { name: 'Companies' } })).body.id;
    tableId = (await app.request('POST', '/tables', { json: { name: 'People' } })).body.id;
    await sql.exec(`INSERT INTO data.companies (name) VALUES ('Acme')`);
    await sql.exec(`INSERT INTO data.people (name) VALUES ('Ann'), ('Bob'), ('Cy')`);
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  it('adds a field of every type as a column of the right PostgreSQL type', async () => {
    const expected: Record<string, string> = {
      text: 'text', long_text: 'text', number: 'numeric(30,2)', boolean: 'boolean', date: 'date', datetime: 'timestamp with time zone',
      email: 'text', url: 'text', single_select: 'integer', json: 'jsonb', link: 'bigint',
      autonumber: 'bigint', created_at: 'timestamp with time zone', updated_at: 'timestamp with time zone', created_by: 'text', updated_by: 'text',
      rating: 'smallint', percent: 'numeric(30,0)', currency: 'numeric(30,2)', duration: 'interval', phone: 'text',
      multiple_select: 'tablewright.option_ids', formula: 'numeric',
    };
    const t = await app.request('POST', '/tables', { json: { name: 'All types', fields: [] } });
    // MAX_FIELDS is 12 here: the types after the first 11 go in a second table
    const more = await app.request('POST', '/tables', { json: { name: 'More types', fields: [] } });
    for (const [i, type] of FIELD_TYPES.entries()) {
      // lookups and rollups have no column (test/links/lookup_rollup.test.ts)
      if (type === 'lookup' || type === 'rollup') continue;
      const [tid, tname] = i < 11 ? [t.body.id, 'all_types'] : [more.body.id, 'more_types'];
      const options = type === 'number' ? { decimals: 2 } : type === 'link' ? { table_id: targetId } : type === 'single_select' || type === 'multiple_select' ? { choices: ['A', 'B'] } : type === 'formula' ? { expression: '1 + 1' } : {};
      const res = await app.request('POST', `/tables/${tid}/fields`, { json: { name: `F ${type}`, type, options } });
      expect(res.status, res.text).to.equal(201);
      expect(res.body).to.include({ name: `F ${type}`, column: `f_${type}`, type });
      expect((await column(`f_${type}`, tname))[0].type, type).to.equal(expected[type]);
    }
    // a link is a foreign key with an index, ON DELETE SET NULL
    const fk = await sql.one(`SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'data.all_types'::regclass AND contype = 'f'`);
    expect(fk.def).to.equal('FOREIGN KEY (f_link) REFERENCES data.companies(id) ON DELETE SET NULL');
    expect(await sql.rows(`SELECT indexdef FROM pg_indexes WHERE tablename = 'all_types' AND indexdef LIKE '%(f_link)%'`)).to.have.length(1);
    const select = (await app.request('GET', `/tables/${t.body.id}`)).body.fields.find((f: { type: string }) => f.type === 'single_select');
    expect(select.options.choices).to.deep.equal([{ id: 1, label: 'A', color: 'gray' }, { id: 2, label: 'B', color: 'gray' }]);
  });

  it('a field added to a table with rows gets its default in existing rows; required needs a default', async () => {
    const refused = await add({ name: 'Status', type: 'text', not_null: true });
    expect(refused.status).to.equal(422);
    expect(refused.body.error).to.include({ code: 'needs_default', field: 'default' });
    const res = await add({ name: 'Status', type: 'text', not_null: true, default: 'new' });
    expect(res.status, res.text).to.equal(201);
    expect(await column('status')).to.deep.equal([{ type: 'text', not_null: true, dflt: "'new'::text" }]);
    expect(await sql.rows(`SELECT DISTINCT status FROM data.people`)).to.deep.equal([{ status: 'new' }]);
  });

  it('refuses a default the type cannot parse with 422 naming "default"', async () => {
    const res = await add({ name: 'Age', type: 'number', default: 'old' });
    expect(res.status).to.equal(422);
    expect(res.body.error.field).to.equal('default');
    expect(res.body.error.message).to.match(/not a number/);
  });

  it('refuses a column name an untracked column already has, with 409', async () => {
    await sql.exec(`ALTER TABLE data.people ADD COLUMN secret text`);
    const res = await add({ name: 'Secret', type: 'text', column: 'secret' });
    expect(res.status).to.equal(409);
    expect(res.body.error).to.include({ code: 'column_taken', field: 'column' });
    const derived = await add({ name: 'Secret', type: 'text' });
    expect(derived.status).to.equal(201);
    expect(derived.body.column).to.equal('secret_2');
  });

  it('refuses reserved, system and overlong column names with 400', async () => {
    for (const [col, re] of [['id', /reserved/], ['xmin', /reserved/], ['from', /reserved word/], ['c'.repeat(64), /63 bytes/]] as const) {
      const res = await add({ name: `N ${col.slice(0, 8)}`, type: 'text', column: col });
      expect(res.status, col).to.equal(400);
      expect(res.body.error.field).to.equal('column');
      expect(res.body.error.message).to.match(re);
    }
  });

  it('refuses invalid options with 400 naming the option', async () => {
    const bad = await add({ name: 'Price', type: 'number', options: { decimals: 1001 } }); // numeric allows 1000
    expect(bad.status).to.equal(400);
    expect(bad.body.error.field).to.equal('options.decimals');
    const dup = await add({ name: 'Pick', type: 'single_select', options: { choices: ['A', 'a'] } });
    expect(dup.status).to.equal(400);
    expect(dup.body.error.message).to.match(/two options/);
    const link = await add({ name: 'Employer', type: 'link', options: { table_id: 999999 } });
    expect(link.status).to.equal(400);
    expect(link.body.error.field).to.equal('options.table_id');
  });

  it('NOT NULL on a column with empty values is refused with the count and example row ids', async () => {
    const f = (await add({ name: 'Nickname', type: 'text' })).body;
    await sql.exec(`UPDATE data.people SET nickname = 'A' WHERE name = 'Ann'`);
    const res = await patch(f.id, { not_null: true });
    expect(res.status).to.equal(422);
    expect(res.body.error.code).to.equal('has_empty_values');
    expect(res.body.error.message).to.include('2 rows have no value');
    expect(res.body.error.details.row_ids).to.have.length(2);
    expect((await column('nickname'))[0].not_null).to.equal(false);
  });

  it('UNIQUE on a column with duplicates is refused with the counts and example ids; without them it applies', async () => {
    const f = (await add({ name: 'Team', type: 'text' })).body;
    await sql.exec(`UPDATE data.people SET team = 'red'`);
    const res = await patch(f.id, { unique: true });
    expect(res.status).to.equal(422);
    expect(res.body.error).to.include({ code: 'has_duplicates', field: 'unique' });
    expect(res.body.error.details).to.include({ duplicate_values: 1, rows: 3 });
    await sql.exec(`UPDATE data.people SET team = name`);
    const ok = await patch(f.id, { unique: true, indexed: true });
    expect(ok.status, ok.text).to.equal(200);
    expect(ok.body).to.include({ unique: true, indexed: true });
    const names = (await sql.rows(`SELECT conname FROM pg_constraint WHERE conrelid = 'data.people'::regclass AND contype = 'u'`)).map((r) => r.conname);
    expect(names).to.include(`uq_f${f.id}`);
  });

  it('a display rename keeps the column (outside SQL keeps working); the column is renamed only when `column` is given', async () => {
    const f = (await add({ name: 'Phone', type: 'text' })).body;
    await sql.exec(`UPDATE data.people SET phone = '123'`);
    const res = await patch(f.id, { name: 'Mobile phone' });
    expect(res.status, res.text).to.equal(200);
    expect(res.body).to.include({ name: 'Mobile phone', column: 'phone' });
    // a script's INSERT by column name still works, and \d+ shows the new display name
    await sql.exec(`INSERT INTO data.people (phone) VALUES ('456')`);
    const comment = await sql.one(`SELECT col_description(attrelid, attnum) AS c FROM pg_attribute WHERE attrelid = 'data.people'::regclass AND attname = 'phone'`);
    expect(comment.c).to.match(/^Mobile phone \(tablewright field \d+ of table \d+\) \{"type":"text"/);
    const physical = await patch(f.id, { column: 'mobile_phone' });
    expect(physical.status, physical.text).to.equal(200);
    expect(physical.body).to.include({ name: 'Mobile phone', column: 'mobile_phone' });
    expect(await sql.rows(`SELECT DISTINCT mobile_phone FROM data.people WHERE mobile_phone IS NOT NULL ORDER BY 1`)).to.deep.equal([{ mobile_phone: '123' }, { mobile_phone: '456' }]);
    await sql.exec(`DELETE FROM data.people WHERE mobile_phone = '456'`);
  });

  it('trash keeps the column (parked), frees the name, and inserts keep working; restore puts back NOT NULL', async () => {
    const refused = await add({ name: 'Code', type: 'text', unique: true, default: 'x' });
    expect(refused.status).to.equal(422);
    expect(refused.body.error).to.include({ code: 'would_duplicate', field: 'unique' });
    const f = (await add({ name: 'Code', type: 'text', default: 'x' })).body;
    await sql.exec(`UPDATE data.people SET code = name`);
    expect((await patch(f.id, { not_null: true, unique: true })).status).to.equal(200);
    const res = await app.request('DELETE', `/tables/${tableId}/fields/${f.id}`);
    expect(res.status, res.text).to.equal(200);
    const parked = `_tw_f${f.id}_code`;
    expect(await column('code')).to.deep.equal([]);
    expect(await sql.rows(`SELECT "${parked}" AS v FROM data.people ORDER BY id`)).to.deep.equal([{ v: 'Ann' }, { v: 'Bob' }, { v: 'Cy' }]);
    // an insert that knows nothing of the trashed column works (NOT NULL was dropped)
    await sql.exec(`ALTER TABLE data.people ALTER COLUMN "${parked}" DROP DEFAULT`);
    await sql.exec(`INSERT INTO data.people (name) VALUES ('Dee')`);
    const list = await app.request('GET', `/tables/${tableId}`);
    expect(list.body.fields.map((x: { id: number }) => x.id)).to.not.include(f.id);
    // restore: the new row has no value, so the field comes back optional, with a warning
    const restored = await app.request('POST', `/tables/${tableId}/fields/${f.id}/restore`);
    expect(restored.status, restored.text).to.equal(200);
    expect(restored.body.not_null).to.equal(false);
    expect(restored.body.warnings[0]).to.match(/optional: 1 rows have no value/);
    expect(restored.body.unique).to.equal(true);
    expect(await sql.rows(`SELECT code FROM data.people ORDER BY id`)).to.deep.equal([{ code: 'Ann' }, { code: 'Bob' }, { code: 'Cy' }, { code: null }]);
    await sql.exec(`DELETE FROM data.people WHERE name = 'Dee'`);
  });

  it('restore answers 409 with a suggestion when the name was taken meanwhile', async () => {
    const f = (await add({ name: 'Label', type: 'text' })).body;
    await app.request('DELETE', `/tables/${tableId}/fields/${f.id}`);
    await add({ name: 'Label', type: 'text' });
    const res = await app.request('POST', `/tables/${tableId}/fields/${f.id}/restore`);
    expect(res.status).to.equal(409);
    expect(res.body.error.details.suggestion.name).to.equal('Label (restored)');
    const ok = await app.request('POST', `/tables/${tableId}/fields/${f.id}/restore`, { json: { name: 'Label (restored)', column: 'label_restored' } });
    expect(ok.status, ok.text).to.equal(200);
  });

  it('reorders fields; unknown ids are refused', async () => {
    const fields = (await app.request('GET', `/tables/${tableId}`)).body.fields.map((f: { id: number }) => f.id);
    const reversed = [...fields].reverse();
    const res = await app.request('POST', `/tables/${tableId}/fields/order`, { json: { order: reversed } });
    expect(res.status, res.text).to.equal(200);
    expect((await app.request('GET', `/tables/${tableId}`)).body.fields.map((f: { id: number }) => f.id)).to.deep.equal(reversed);
    const bad = await app.request('POST', `/tables/${tableId}/fields/order`, { json: { order: [999999] } });
    expect(bad.status).to.equal(400);
    expect(bad.body.error.field).to.equal('order');
  });

  it('refuses a field past MAX_FIELDS with 422', async () => {
    let res;
    for (let i = 0; i < 20; i++) {
      res = await add({ name: `Filler ${i}`, type: 'text' });
      if (res.status !== 201) break;
    }
    expect(res!.status).to.equal(422);
    expect(res!.body.error.code).to.equal('too_many_fields');
    expect(res!.body.error.message).to.include('MAX_FIELDS');
    const live = await sql.one(`SELECT count(*)::int AS n FROM tablewright.fields WHERE table_id = $1 AND trashed_at IS NULL`, [tableId]);
    expect(live.n).to.equal(12);
  });

  it('form posts work like JSON: checkbox flags, options from the console, _method override, 303', async () => {
    const t = await app.request('POST', '/tables', { json: { name: 'Form fields', fields: [] } });
    const res = await app.request('POST', `/tables/${t.body.id}/fields`, {
      form: { name: 'Price', type: 'number', 'options[decimals]': '2', 'options[choices]': 'ignored for numbers', 'options[table_id]': '', not_null: '', unique: '1', default: '' },
      headers: { Accept: 'text/html' },
    });
    expect(res.status, res.text).to.equal(303);
    const field = (await app.request('GET', `/tables/${t.body.id}`)).body.fields[0];
    expect(field).to.include({ name: 'Price', type: 'number', unique: true, not_null: false });
    expect(field.options).to.deep.equal({ decimals: 2 });
    const renamed = await app.request('POST', `/tables/${t.body.id}/fields/${field.id}`, {
      form: { _method: 'PATCH', name: 'Unit price', type: 'number', 'options[decimals]': '2', not_null: '0', unique: '1', indexed: '0', default: '' },
      headers: { Accept: 'text/html' },
    });
    expect(renamed.status, renamed.text).to.equal(303);
    expect((await app.request('GET', `/tables/${t.body.id}`)).body.fields[0]).to.include({ name: 'Unit price', column: 'price', unique: true });
    // the console's htmx request gets the fields panel back as a fragment
    const hx = await app.request('POST', `/tables/${t.body.id}/fields`, { form: { name: 'Qty', type: 'number' }, headers: { Accept: 'text/html', 'HX-Request': 'true' } });
    expect(hx.status).to.equal(201);
    expect(hx.text).to.match(/^<section id="fields-panel"/);
    expect(hx.text).to.include('Field &#34;Qty&#34; added.');
  });
});
