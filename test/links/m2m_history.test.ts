// Many-to-many pairs in the row history: adding and removing links through the API or in
// psql shows in both rows' history as a change of their link fields (the ids before and
// after), one entry per row per statement even when a write removes and adds pairs at
// once; a row deleted with its pairs shows on the other side; the history entries keep
// the actor; reconcile sees nothing amiss on the junction.
import { expect } from 'chai';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';

describe('history of many-to-many pairs', () => {
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let products: number;
  let orders: number;
  let items: any;
  let reverse: any;
  const p: number[] = [];
  let order: number;

  const history = async (table: number, row: number) => {
    const res = await app.request('GET', `/tables/${table}/rows/${row}/history`);
    expect(res.status, res.text).to.equal(200);
    return res.body.entries as any[];
  };
  /** the link field's change in a row's newest entry, as id lists */
  const ids = (v: any) => (v === null ? null : v.map((x: any) => x.id));

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url);
    sql = await Sql.connect(db.url);
    products = (await app.request('POST', '/tables', { json: { name: 'Products', fields: [{ name: 'Name', type: 'text' }] } })).body.id;
    orders = (await app.request('POST', '/tables', { json: { name: 'Orders', fields: [{ name: 'Title', type: 'text' }] } })).body.id;
    const res = await app.request('POST', `/tables/${orders}/fields`, { json: { name: 'Items', type: 'link', options: { table_id: products, multiple: true, reverse_name: 'Orders' } } });
    expect(res.status, res.text).to.equal(201);
    items = res.body.field ?? res.body;
    reverse = (await app.request('GET', `/tables/${products}`)).body.fields.find((f: any) => f.name === 'Orders');
    const made = await app.request('POST', `/tables/${products}/rows`, { json: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] });
    p.push(...made.body.rows.map((r: any) => r.id));
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  it('creating a row with links: the row and each linked row show the link added', async () => {
    const res = await app.request('POST', `/tables/${orders}/rows`, { json: { title: 'o1', items: [p[1], p[0]] } });
    expect(res.status, res.text).to.equal(201);
    order = res.body.id;
    const [latest] = await history(orders, order);
    expect(latest.op).to.equal('update');
    expect(ids(latest.changes[items.column].old)).to.deep.equal([]);
    expect(ids(latest.changes[items.column].new)).to.deep.equal([p[0], p[1]]);
    for (const id of [p[0]!, p[1]!]) {
      const [e] = await history(products, id);
      expect(e.changes[reverse.column], JSON.stringify(e)).to.deep.equal({ old: [], new: [{ id: order, label: null }] });
    }
    expect(await history(products, p[2]!)).to.have.length(1); // its insert only
  });

  it('replacing the list (removes and adds in one statement) is one entry with the true before and after', async () => {
    const before = (await history(orders, order)).length;
    const res = await app.request('PATCH', `/tables/${orders}/rows/${order}`, { json: { items: [p[1], p[2]] } });
    expect(res.status, res.text).to.equal(200);
    const entries = await history(orders, order);
    expect(entries.length).to.equal(before + 1);
    expect(ids(entries[0].changes[items.column].old)).to.deep.equal([p[0], p[1]]);
    expect(ids(entries[0].changes[items.column].new)).to.deep.equal([p[1], p[2]]);
    expect((await history(products, p[0]!))[0].changes[reverse.column]).to.deep.equal({ old: [{ id: order, label: null }], new: [] });
    expect((await history(products, p[2]!))[0].changes[reverse.column]).to.deep.equal({ old: [], new: [{ id: order, label: null }] });
    expect((await history(products, p[1]!)).length, 'a pair kept is no change').to.equal(2);
  });

  it('a pair written in psql is recorded too, as the database role', async () => {
    const junction = items.options.junction;
    await sql.exec(`INSERT INTO data.${junction} (${items.options.self_column}, ${items.options.other_column}) VALUES ($1, $2)`, [order, p[0]]);
    const [e] = await history(orders, order);
    expect(e.actor).to.match(/^db:/);
    expect(ids(e.changes[items.column].new)).to.deep.equal([p[0], p[1], p[2]]);
  });

  it('deleting a linked row shows the link gone in the other row; the deleted row has only its delete', async () => {
    const del = await app.request('DELETE', `/tables/${products}/rows/${p[2]}`);
    expect(del.status, del.text).to.be.oneOf([200, 204]);
    const [e] = await history(orders, order);
    expect(ids(e.changes[items.column].old)).to.deep.equal([p[0], p[1], p[2]]);
    expect(ids(e.changes[items.column].new)).to.deep.equal([p[0], p[1]]);
    const gone = await history(products, p[2]!);
    expect(gone[0].op).to.equal('delete');
  });

  it('a revert before a pair entry whose linked row is gone answers (never a 500): that pair cannot come back, the others stay (test/links/m2m_revert.test.ts reverts pairs)', async () => {
    const [e] = await history(orders, order);
    const res = await app.request('POST', `/tables/${orders}/rows/${order}/revert`, { json: { entry: e.id } });
    expect(res.status, res.text).to.equal(200);
    const row = await app.request('GET', `/tables/${orders}/rows/${order}`, { headers: { accept: 'application/json' } });
    expect(ids(row.body[items.column])).to.deep.equal([p[0], p[1]]);
  });

  it('reconcile reports nothing about the junction', async () => {
    const rec = await app.request('GET', '/reconcile');
    expect(rec.status).to.equal(200);
    expect(JSON.stringify(rec.body.items)).not.to.include(items.options.junction);
  });
});
