// Reverting a row from its history puts its many-to-many pairs back as they were before
// that entry (the junction as psql sees it, both sides), with its columns; a row deleted
// (its pairs went by ON DELETE CASCADE) comes back with its pairs; a linked row that is
// gone is left out, never a failure; the revert is itself in the pair history; the
// console's Undo of a list edit puts the old pairs back.
import { expect } from 'chai';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';

describe('revert and undo of many-to-many pairs', () => {
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let products: number;
  let orders: number;
  let items: any;
  let reverse: any;
  const p: Record<string, number> = {};

  const history = async (row: number) => {
    const res = await app.request('GET', `/tables/${orders}/rows/${row}/history`);
    expect(res.status, res.text).to.equal(200);
    return res.body.entries as any[];
  };
  /** the order's pairs as psql sees them, by product name */
  const pairs = async (order: number) =>
    (await sql.rows(`SELECT p.name FROM data.${items.options.junction} j JOIN data.products p ON p.id = j.products_id WHERE j.orders_id = $1 ORDER BY p.name`, [order])).map((r) => r.name);
  const patch = async (order: number, json: Record<string, unknown>) => {
    const res = await app.request('PATCH', `/tables/${orders}/rows/${order}`, { json });
    expect(res.status, res.text).to.equal(200);
    return res;
  };
  const revert = async (order: number, entry: number) => {
    const res = await app.request('POST', `/tables/${orders}/rows/${order}/revert`, { json: { entry } });
    expect(res.status, res.text).to.equal(200);
    return res.body;
  };
  /** the entry that changed the order's items to these names */
  const entryTo = async (order: number, names: string[]) => {
    const want = names.map((n) => p[n]).sort((a, b) => a! - b!);
    const e = (await history(order)).find((x) => x.changes?.[items.column] && JSON.stringify(x.changes[items.column].new.map((v: any) => v.id)) === JSON.stringify(want));
    expect(e, `an entry setting ${names}`).to.exist;
    return Number(e.id);
  };

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url);
    sql = await Sql.connect(db.url);
    products = (await app.request('POST', '/tables', { json: { name: 'Products', table_name: 'products', fields: [{ name: 'Name', type: 'text', column: 'name' }] } })).body.id;
    orders = (await app.request('POST', '/tables', { json: { name: 'Orders', table_name: 'orders', fields: [{ name: 'Title', type: 'text', column: 'title' }] } })).body.id;
    const res = await app.request('POST', `/tables/${orders}/fields`, { json: { name: 'Items', type: 'link', options: { table_id: products, multiple: true, reverse_name: 'Orders' } } });
    expect(res.status, res.text).to.equal(201);
    items = res.body.field ?? res.body;
    reverse = (await app.request('GET', `/tables/${products}`)).body.fields.find((f: any) => f.name === 'Orders');
    const made = await app.request('POST', `/tables/${products}/rows`, { json: ['a', 'b', 'c', 'd'].map((name) => ({ name })) });
    for (const r of made.body.rows) p[r.name] = r.id;
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  it('a revert puts the pairs back as they were before the entry (later changes walked back too), both sides, recorded as a revert', async () => {
    const made = await app.request('POST', `/tables/${orders}/rows`, { json: { title: 'first', items: [p.a, p.b] } });
    expect(made.status, made.text).to.equal(201);
    const o = made.body.id;
    await patch(o, { items: [p.b, p.c] });
    const toBC = await entryTo(o, ['b', 'c']);
    await patch(o, { title: 'second' });
    await patch(o, { items: [p.d] });
    const toD = await entryTo(o, ['d']);
    expect(await pairs(o)).to.deep.equal(['d']);

    // before the last change only: the items of then, the title as it is
    const r1 = await revert(o, toD);
    expect(r1.items.map((x: any) => x.id)).to.deep.equal([p.b, p.c]);
    expect(r1.title).to.equal('second');
    expect(await pairs(o)).to.deep.equal(['b', 'c']);
    // the other side reads it
    const c = await app.request('GET', `/tables/${products}/rows/${p.c}`);
    expect(c.body[reverse.column].map((x: any) => x.id)).to.deep.equal([o]);
    const d = await app.request('GET', `/tables/${products}/rows/${p.d}`);
    expect(d.body[reverse.column]).to.deep.equal([]);

    // before the change to [b, c]: every later change walked back, items and title
    const r2 = await revert(o, toBC);
    expect(r2.items.map((x: any) => x.id)).to.deep.equal([p.a, p.b]);
    expect(r2.title).to.equal('first');
    expect(await pairs(o)).to.deep.equal(['a', 'b']);
    const latest = (await history(o)).find((e) => e.changes?.[items.column]);
    expect(latest.reason).to.equal('revert');
    expect(latest.changes[items.column].old.map((x: any) => x.id)).to.deep.equal([p.b, p.c]);
    expect(latest.changes[items.column].new.map((x: any) => x.id)).to.deep.equal([p.a, p.b]);
  });

  it('a deleted row comes back with its pairs (they went with it by ON DELETE CASCADE)', async () => {
    const made = await app.request('POST', `/tables/${orders}/rows`, { json: { title: 'doomed', items: [p.a, p.c] } });
    const o = made.body.id;
    const del = await app.request('DELETE', `/tables/${orders}/rows/${o}`);
    expect(del.status, del.text).to.be.oneOf([200, 204]);
    expect(await pairs(o)).to.deep.equal([]);
    const deletion = (await history(o)).find((e) => e.op === 'delete');
    const back = await revert(o, Number(deletion.id));
    expect(back.title).to.equal('doomed');
    expect(back.items.map((x: any) => x.id)).to.deep.equal([p.a, p.c]);
    expect(await pairs(o)).to.deep.equal(['a', 'c']);
  });

  it('a linked row that is gone is left out (named in the notice), the others come back', async () => {
    const extra = await app.request('POST', `/tables/${products}/rows`, { json: { name: 'e' } });
    p.e = extra.body.id;
    const made = await app.request('POST', `/tables/${orders}/rows`, { json: { title: 'partial', items: [p.a, p.e] } });
    const o = made.body.id;
    await patch(o, { items: [p.b] });
    const toB = await entryTo(o, ['b']);
    expect((await app.request('DELETE', `/tables/${products}/rows/${p.e}`)).status).to.be.oneOf([200, 204]);
    const page = await app.request('POST', `/tables/${orders}/rows/${o}/revert`, { form: { entry: String(toB) }, headers: { accept: 'text/html', 'HX-Request': 'true' } });
    expect(page.status, page.text).to.equal(200);
    expect(await pairs(o)).to.deep.equal(['a']);
    expect(page.text).to.include('Gone with their fields: Items (1 linked row gone)');
  });

  it("Undo of one's own list edit puts the old pairs back", async () => {
    const made = await app.request('POST', `/tables/${orders}/rows`, { json: { title: 'undo me', items: [p.a] } });
    const o = made.body.id;
    const edit = await patch(o, { items: [p.b, p.c] });
    const request = edit.headers.get('x-request-id');
    expect(request).to.be.a('string');
    const res = await app.request('POST', `/tables/${orders}/rows/undo`, { json: { request, rows: [o] } });
    expect(res.status, res.text).to.equal(200);
    expect(await pairs(o)).to.deep.equal(['a']);
  });

  it('a row restored from the row trash comes back with its pairs', async () => {
    const made = await app.request('POST', `/tables/${orders}/rows`, { json: { title: 'binned', items: [p.b, p.d] } });
    const o = made.body.id;
    expect((await app.request('DELETE', `/tables/${orders}/rows/${o}`)).status).to.be.oneOf([200, 204]);
    expect(await pairs(o)).to.deep.equal([]);
    const res = await app.request('POST', `/tables/${orders}/rows/${o}/restore`);
    expect(res.status, res.text).to.equal(200);
    expect(await pairs(o)).to.deep.equal(['b', 'd']);
    const d = await app.request('GET', `/tables/${products}/rows/${p.d}`);
    expect(d.body[reverse.column].map((x: any) => x.id)).to.include(o);
  });
});
