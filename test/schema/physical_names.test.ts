// Physical names are stable: BI tools, views, functions and other applications use them.
// A display rename changes the display name (and the comment) only; renaming the
// PostgreSQL table or column is its own, explicit choice, and the console shows what
// depends on the name before it is made. Fields and tables behave alike.
import { expect } from 'chai';
import { useApp, type TestApp } from '../helpers/app.js';
import type { TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';

describe('stable physical names', () => {
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  // registered before useApp's: closed before the database is dropped
  after(async () => {
    await sql?.end();
  });
  useApp((s) => ({ db, app } = s), { DRIFT_CHECK_INTERVAL: 'off', CLEANUP_INTERVAL: 'off' });
  before(async () => {
    sql = await Sql.connect(db.url);
  });

  it('renaming a table and a field for display keeps data.customers and its column: a script\'s INSERT loop keeps working', async () => {
    const t = (await app.request('POST', '/tables', { json: { name: 'Customers', fields: [{ name: 'Note', type: 'text' }] } })).body;
    const insert = () => sql.exec(`INSERT INTO data.customers (note) VALUES ('from a script')`);
    await insert();
    expect((await app.request('PATCH', `/tables/${t.id}`, { json: { name: 'Clients' } })).body).to.include({ name: 'Clients', table_name: 'customers' });
    expect((await app.request('PATCH', `/tables/${t.id}/fields/${t.fields[0].id}`, { json: { name: 'Remark' } })).body).to.include({ name: 'Remark', column: 'note' });
    for (let i = 0; i < 44; i++) await insert();
    expect((await sql.one(`SELECT count(*)::int AS n FROM data.customers WHERE note = 'from a script'`)).n).to.equal(45);
    // the form the console sends (the PostgreSQL name prefilled, unchanged) renames nothing physical either
    const form = await app.request('POST', `/tables/${t.id}`, { form: { _method: 'PATCH', name: 'Patrons', table_name: 'customers' }, headers: { Accept: 'text/html' } });
    expect(form.status, form.text).to.equal(303);
    expect((await sql.one(`SELECT to_regclass('data.customers') IS NOT NULL AS ok`)).ok).to.equal(true);
  });

  it('the physical rename is explicit (table_name / column), and the console lists the views, foreign keys and functions that use the name first', async () => {
    const t = (await app.request('POST', '/tables', { json: { name: 'Orders', fields: [{ name: 'Total', type: 'number' }] } })).body;
    await sql.exec(`CREATE VIEW public.big_orders AS SELECT id, total FROM data.orders WHERE total > 100`);
    await sql.exec(`CREATE FUNCTION public.order_count() RETURNS bigint LANGUAGE plpgsql AS $$ BEGIN RETURN (SELECT count(total) FROM data.orders); END $$`);
    await sql.exec(`CREATE TABLE public.invoices (id int PRIMARY KEY, order_id bigint REFERENCES data.orders (id))`);
    const deps = await app.request('GET', `/tables/${t.id}/dependents`);
    expect(deps.body).to.deep.include({ table_name: 'orders', views: ['public.big_orders'], functions: ['public.order_count()'] });
    expect(deps.body.foreign_keys).to.have.length(1);
    expect(deps.body.foreign_keys[0]).to.match(/ on public\.invoices$/);
    const col = await app.request('GET', `/tables/${t.id}/fields/${t.fields[0].id}/dependents`);
    expect(col.body).to.deep.include({ column: 'total', views: ['public.big_orders'], functions: ['public.order_count()'], foreign_keys: [] });
    const fragment = await app.request('GET', `/tables/${t.id}/dependents`, { headers: { Accept: 'text/html', 'HX-Request': 'true' } });
    expect(fragment.text).to.include('public.big_orders').and.include('breaks SQL outside the console');
    // the console's forms carry the second field, "PostgreSQL name"
    const page = await app.request('GET', `/tables/${t.id}?tab=fields`, { headers: { Accept: 'text/html' } });
    expect(page.text).to.include('PostgreSQL name');

    const renamed = await app.request('PATCH', `/tables/${t.id}`, { json: { table_name: 'purchase_orders' } });
    expect(renamed.status, renamed.text).to.equal(200);
    expect(renamed.body).to.include({ name: 'Orders', table_name: 'purchase_orders' });
    const field = await app.request('PATCH', `/tables/${t.id}/fields/${t.fields[0].id}`, { json: { column: 'amount' } });
    expect(field.body).to.include({ name: 'Total', column: 'amount' });
    expect((await sql.one(`SELECT count(*)::int AS n FROM public.big_orders`)).n, 'the view followed the rename').to.equal(0);
  });
});
