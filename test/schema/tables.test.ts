// Tables: create, rename, trash, restore, through JSON and HTML forms, with every
// refusal clear and harmless.
import { expect } from 'chai';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';

describe('tables', () => {
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url);
    sql = await Sql.connect(db.url);
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  it('POST /tables creates a real table with an identity id, a Name field, comments, and answers 201 per the contract', async () => {
    const res = await app.request('POST', '/tables', { json: { name: 'Café Orders (2024)' } });
    expect(res.status, res.text).to.equal(201);
    expect(res.body).to.include({ name: 'Café Orders (2024)', table_name: 'cafe_orders_2024', version: 1 });
    expect(res.headers.get('location')).to.equal(`/tables/${res.body.id}`);
    expect(res.body.fields.map((f: { name: string; column: string; type: string }) => [f.name, f.column, f.type])).to.deep.equal([['Name', 'name', 'text']]);
    const cols = await sql.rows(`SELECT attname, format_type(atttypid, atttypmod) AS type, attidentity FROM pg_attribute
      WHERE attrelid = 'data.cafe_orders_2024'::regclass AND attnum > 0 ORDER BY attnum`);
    expect(cols).to.deep.equal([
      { attname: 'id', type: 'bigint', attidentity: 'a' },
      { attname: 'name', type: 'text', attidentity: '' },
    ]);
    const comment = await sql.one(`SELECT obj_description('data.cafe_orders_2024'::regclass, 'pg_class') AS c`);
    expect(comment.c).to.equal(`Café Orders (2024) (tablewright table ${res.body.id})`);
    const meta = await sql.one(`SELECT table_oid::int8 AS oid FROM tablewright.tables WHERE id = $1`, [res.body.id]);
    expect(meta.oid).to.equal((await sql.one(`SELECT 'data.cafe_orders_2024'::regclass::oid::int8 AS oid`)).oid);
  });

  it('a form POST creates a table and answers 303 to its page; htmx gets HX-Redirect', async () => {
    const form = await app.request('POST', '/tables', { form: { name: 'From a form' }, headers: { Accept: 'text/html' } });
    expect(form.status).to.equal(303);
    expect(form.headers.get('location')).to.match(/^\/tables\/\d+$/);
    const page = await app.request('GET', form.headers.get('location')!, { headers: { Accept: 'text/html' } });
    expect(page.status).to.equal(200);
    expect(page.text).to.include('From a form');
    const hx = await app.request('POST', '/tables', { form: { name: 'From htmx' }, headers: { Accept: 'text/html', 'HX-Request': 'true' } });
    expect(hx.status).to.equal(200);
    expect(hx.headers.get('hx-redirect')).to.match(/^\/tables\/\d+$/);
  });

  it('refuses a duplicate display name (case-insensitive) with 409 naming the field', async () => {
    await app.request('POST', '/tables', { json: { name: 'Projects' } });
    const res = await app.request('POST', '/tables', { json: { name: 'PROJECTS' } });
    expect(res.status).to.equal(409);
    expect(res.body.error).to.include({ code: 'name_taken', field: 'name' });
  });

  it('refuses a table_name used by an untracked table in the schema with 409, not a crash', async () => {
    await sql.exec(`CREATE TABLE data.legacy (x int)`);
    const res = await app.request('POST', '/tables', { json: { name: 'Legacy', table_name: 'legacy' } });
    expect(res.status).to.equal(409);
    expect(res.body.error).to.include({ code: 'table_name_taken', field: 'table_name' });
    const derived = await app.request('POST', '/tables', { json: { name: 'Legacy' } });
    expect(derived.status).to.equal(201);
    expect(derived.body.table_name).to.equal('legacy_2');
  });

  for (const [label, body, field] of [
    ['an empty name', { name: '   ' }, 'name'],
    ['a name over 255 characters', { name: 'x'.repeat(256) }, 'name'],
    ['a control character', { name: 'a\u0007b' }, 'name'],
    ['an invalid table_name', { name: 'Ok', table_name: 'Bad-Name' }, 'table_name'],
    ['a 64-byte table_name', { name: 'Ok', table_name: 'a'.repeat(64) }, 'table_name'],
    ['a reserved word', { name: 'Ok', table_name: 'select' }, 'table_name'],
    ['the trash prefix', { name: 'Ok', table_name: '_tw_sneaky' }, 'table_name'],
    ['an unknown field type', { name: 'Ok', fields: [{ name: 'A', type: 'money' }] }, 'fields.0.type'],
  ] as const) {
    it(`refuses ${label} with 400 naming "${field}", and creates nothing`, async () => {
      const before = await sql.snapshot();
      const res = await app.request('POST', '/tables', { json: body });
      expect(res.status, res.text).to.equal(400);
      expect(res.body.error.field).to.equal(field);
      expect(res.body.error.message).to.be.a('string').and.not.empty;
      expect(await sql.snapshot()).to.deep.equal(before);
    });
  }

  it('a name of only non-Latin letters gets a readable fallback physical name', async () => {
    const res = await app.request('POST', '/tables', { json: { name: '顧客' } });
    expect(res.status).to.equal(201);
    expect(res.body.table_name).to.match(/^untitled_table(_\d+)?$/);
  });

  it('PATCH with a name renames only the display name (and the comment): the PostgreSQL table keeps its name', async () => {
    const t = await app.request('POST', '/tables', { json: { name: 'Old name' } });
    await sql.exec(`INSERT INTO data.old_name (name) VALUES ('kept')`);
    const res = await app.request('PATCH', `/tables/${t.body.id}`, { json: { name: 'New name' } });
    expect(res.status, res.text).to.equal(200);
    expect(res.body).to.include({ name: 'New name', table_name: 'old_name', version: 2 });
    expect(await sql.rows(`SELECT name FROM data.old_name`)).to.deep.equal([{ name: 'kept' }]);
    expect((await sql.one(`SELECT obj_description('data.old_name'::regclass, 'pg_class') AS c`)).c).to.equal(`New name (tablewright table ${t.body.id})`);
  });

  it('PATCH with table_name renames the PostgreSQL table too, keeping its data and oid', async () => {
    const t = await app.request('POST', '/tables', { json: { name: 'Before' } });
    await sql.exec(`INSERT INTO data.before (name) VALUES ('kept')`);
    const oid = (await sql.one(`SELECT 'data.before'::regclass::oid::int8 AS oid`)).oid;
    const res = await app.request('PATCH', `/tables/${t.body.id}`, { json: { name: 'After', table_name: 'after' } });
    expect(res.status, res.text).to.equal(200);
    expect(res.body).to.include({ name: 'After', table_name: 'after', version: 2 });
    expect(await sql.rows(`SELECT name FROM data.after`)).to.deep.equal([{ name: 'kept' }]);
    expect((await sql.one(`SELECT 'data.after'::regclass::oid::int8 AS oid`)).oid).to.equal(oid);
  });

  it('DELETE trashes a table into the trash schema with its data; restore brings it back', async () => {
    const t = await app.request('POST', '/tables', { json: { name: 'Temporary' } });
    await sql.exec(`INSERT INTO data.temporary (name) VALUES ('row')`);
    const del = await app.request('DELETE', `/tables/${t.body.id}`);
    expect(del.status, del.text).to.equal(200);
    expect(del.body.trashed_at).to.be.a('string');
    expect(await sql.rows(`SELECT to_regclass('data.temporary') AS r`)).to.deep.equal([{ r: null }]);
    const parked = `_tw_t${t.body.id}_temporary`;
    expect(await sql.rows(`SELECT name FROM data_trash.${parked}`)).to.deep.equal([{ name: 'row' }]);
    const list = await app.request('GET', '/tables');
    expect(list.body.tables.map((x: { id: number }) => x.id)).to.not.include(t.body.id);

    // The name is free again: a new table may take it; restoring then asks for another.
    const other = await app.request('POST', '/tables', { json: { name: 'Temporary' } });
    expect(other.status).to.equal(201);
    const clash = await app.request('POST', `/tables/${t.body.id}/restore`);
    expect(clash.status).to.equal(409);
    expect(clash.body.error.details.suggestion.name).to.equal('Temporary (restored)');
    const restored = await app.request('POST', `/tables/${t.body.id}/restore`, { json: { name: 'Temporary (restored)', table_name: 'temporary_restored' } });
    expect(restored.status, restored.text).to.equal(200);
    expect(await sql.rows(`SELECT name FROM data.temporary_restored`)).to.deep.equal([{ name: 'row' }]);
    // a second trash of a same-named table does not collide with anything in the trash schema
    expect((await app.request('DELETE', `/tables/${other.body.id}`)).status).to.equal(200);
    expect((await app.request('DELETE', `/tables/${t.body.id}`)).status).to.equal(200);
  });

  it('a trashed table cannot be changed: 409 with a clear message', async () => {
    const t = await app.request('POST', '/tables', { json: { name: 'Binned' } });
    await app.request('DELETE', `/tables/${t.body.id}`);
    const res = await app.request('POST', `/tables/${t.body.id}/fields`, { json: { name: 'X', type: 'text' } });
    expect(res.status).to.equal(409);
    expect(res.body.error.message).to.match(/trash/);
  });

  it('unknown and malformed ids answer 404 and 400', async () => {
    expect((await app.request('GET', '/tables/999999')).status).to.equal(404);
    expect((await app.request('GET', '/tables/abc')).status).to.equal(400);
    expect((await app.request('PATCH', '/tables/999999', { json: { name: 'x' } })).status).to.equal(404);
  });
});
