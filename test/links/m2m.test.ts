// Many-to-many links (link with options.multiple) over real HTTP on real PostgreSQL: the
// junction table as psql sees it, both sides, writes by id and label with validation,
// one listing query, trash / restore / purge, and a dropped junction (never a 500).
import { expect } from 'chai';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';
import { listRows } from '../../server/model/rows.js';

describe('many-to-many links', () => {
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let orders: number;
  let products: number;
  let field: any;
  const pid: Record<string, number> = {};

  const rows = async (tableId: number, query = '') => {
    const res = await app.request('GET', `/tables/${tableId}/rows${query}`);
    expect(res.status, res.text).to.equal(200);
    return res.body.rows as any[];
  };
  const fields = async (tableId: number) => (await app.request('GET', `/tables/${tableId}`)).body.fields as any[];

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url);
    sql = await Sql.connect(db.url);
    const p = await app.request('POST', '/tables', { json: { name: 'Products', fields: [{ name: 'Name', type: 'text' }, { name: 'Price', type: 'number', options: { decimals: 2 } }] } });
    expect(p.status, p.text).to.equal(201);
    products = p.body.id;
    const made = await app.request('POST', `/tables/${products}/rows`, { json: ['Apple', 'Pear', 'Plum', 'Fig'].map((name, i) => ({ name, price: `${i + 1}.50` })) });
    expect(made.status, made.text).to.equal(201);
    for (const r of made.body.rows) pid[r.name] = r.id;
    const o = await app.request('POST', '/tables', { json: { name: 'Orders', fields: [{ name: 'Title', type: 'text' }] } });
    orders = o.body.id;
    const f = await app.request('POST', `/tables/${orders}/fields`, { json: { name: 'Items', type: 'link', options: { table_id: products, multiple: true, reverse_name: 'In orders' } } });
    expect(f.status, f.text).to.equal(201);
    field = f.body.field ?? f.body;
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  it('creates a junction named from both tables, with two cascading foreign keys, the unique pair and an index per side', async () => {
    expect(field.options).to.include({ table_id: products, multiple: true, junction: 'orders_products', self_column: 'orders_id', other_column: 'products_id' });
    const cons = await sql.rows(
      `SELECT conname, contype, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'data.orders_products'::regclass ORDER BY conname`,
    );
    const fks = cons.filter((c) => c.contype === 'f');
    expect(fks).to.have.length(2);
    for (const fk of fks) expect(fk.def).to.match(/ON DELETE CASCADE/);
    expect(fks.map((c) => c.def).join(' ')).to.match(/REFERENCES data\.orders\(id\)/).and.match(/REFERENCES data\.products\(id\)/);
    expect(cons.find((c) => c.contype === 'p')?.def).to.equal('PRIMARY KEY (orders_id, products_id)');
    const ix = await sql.rows(`SELECT indexdef FROM pg_indexes WHERE schemaname = 'data' AND tablename = 'orders_products' ORDER BY indexname`);
    expect(ix.map((i) => i.indexdef).join('\n')).to.match(/\(products_id, orders_id\)/);
    const comment = await sql.one(`SELECT obj_description('data.orders_products'::regclass) AS c`);
    expect(comment.c).to.match(/links of "Orders" and "Products"/);
  });

  it('creates the reverse field on the other table, named, pointing back', async () => {
    const rev = (await fields(products)).find((f) => f.name === 'In orders');
    expect(rev, 'reverse field').to.exist;
    expect(rev.options).to.include({ table_id: orders, multiple: true, junction: 'orders_products', self_column: 'products_id', other_column: 'orders_id', reverse_field_id: field.id });
    expect(field.options.reverse_field_id).to.equal(rev.id);
  });

  it('writes a list of ids and labels with the row; both sides read [{id,label}]', async () => {
    const res = await app.request('POST', `/tables/${orders}/rows`, { json: { title: 'first', items: [pid.Pear, 'Apple', `#${pid.Pear}`] } });
    expect(res.status, res.text).to.equal(201);
    expect(res.body.items).to.deep.equal([{ id: pid.Apple, label: 'Apple' }, { id: pid.Pear, label: 'Pear' }]);
    const pairs = await sql.rows(`SELECT orders_id::int AS o, products_id::int AS p FROM data.orders_products ORDER BY products_id`);
    expect(pairs).to.deep.equal([{ o: res.body.id, p: pid.Apple! }, { o: res.body.id, p: pid.Pear! }].sort((a, b) => a.p - b.p));
    const back = await rows(products);
    expect(back.find((r) => r.id === pid.Apple)!.in_orders).to.deep.equal([{ id: res.body.id, label: 'first' }]);
    expect(back.find((r) => r.id === pid.Fig)!.in_orders).to.deep.equal([]);
    // an update sets the list exactly: Pear goes, Plum comes, Apple stays
    const up = await app.request('PATCH', `/tables/${orders}/rows/${res.body.id}`, { json: { items: 'Apple, Plum' } });
    expect(up.status, up.text).to.equal(200);
    expect(up.body.items.map((x: any) => x.label)).to.deep.equal(['Apple', 'Plum']);
  });

  it('refuses an unknown id or label with a 422 naming the field, and writes nothing (not even the row)', async () => {
    const before = await sql.one(`SELECT (SELECT count(*) FROM data.orders)::int AS o, (SELECT count(*) FROM data.orders_products)::int AS p`);
    for (const items of [[999999], ['No such fruit'], [pid.Apple, 424242], 'abc, 0', [{ id: -1 }], [true]]) {
      const res = await app.request('POST', `/tables/${orders}/rows`, { json: { title: 'bad', items } });
      expect(res.status, `${JSON.stringify(items)}: ${res.text}`).to.equal(422);
      expect(res.body.error.field, res.text).to.equal('items');
      expect(res.body.error.message).to.match(/Items/);
    }
    const after = await sql.one(`SELECT (SELECT count(*) FROM data.orders)::int AS o, (SELECT count(*) FROM data.orders_products)::int AS p`);
    expect(after).to.deep.equal(before);
  });

  it('a page of rows with a many-to-many field is one query (a lateral aggregate), not one per row', async () => {
    const made = await app.request('POST', `/tables/${orders}/rows`, { json: Array.from({ length: 30 }, (_, i) => ({ title: `o${i}`, items: [pid.Fig, pid.Plum] })) });
    expect(made.status, made.text).to.equal(201);
    expect(made.body.rows[0].items.map((x: any) => x.label)).to.deep.equal(['Plum', 'Fig'].sort((a, b) => pid[a]! - pid[b]!));
    // the listing runs on a real pool whose query() counts its calls
    const model = await app.ctx.models!.get(orders);
    let statements = 0;
    const pool = app.ctx.pool;
    const counting = new Proxy(pool, { get: (target, key) => (key === 'query' ? (...args: any[]) => ((statements += 1), (target.query as any)(...args)) : Reflect.get(target, key)) });
    const page = await listRows(counting as typeof pool, model, { size: '100', count: '0' });
    expect(page.rows.length).to.be.greaterThanOrEqual(30);
    expect(statements).to.equal(1);
    const plan = JSON.stringify(await sql.rows(`EXPLAIN (FORMAT JSON) SELECT ${model.selectList} FROM ${model.from} ORDER BY t.id LIMIT 100`));
    expect(plan.match(/"Relation Name":"orders_products"/g) ?? [], 'the junction is read by one plan node').to.have.length(1);
  });

  it('filters by a linked row (id or label), empty and not_empty; sorts by the first label', async () => {
    const withApple = await rows(orders, `?filter[items][eq]=Apple`);
    expect(withApple.map((r) => r.title)).to.deep.equal(['first']);
    expect((await rows(orders, `?filter[items][eq]=${pid.Fig}`)).length).to.equal(30);
    const empty = await app.request('POST', `/tables/${orders}/rows`, { json: { title: 'none' } });
    expect(empty.body.items).to.deep.equal([]);
    expect((await rows(orders, `?filter[items][empty]=1`)).map((r) => r.title)).to.deep.equal(['none']);
    expect((await rows(orders, `?filter[items][not_empty]=1`)).length).to.equal(31);
    const bad = await app.request('GET', `/tables/${orders}/rows?filter[items][gt]=1`);
    expect(bad.status).to.equal(400);
    const sorted = await rows(orders, `?sort=items`);
    expect(sorted[0].title).to.equal('first');
  });

  it('CSV: exports comma-separated labels (#id where a label would not read back), imports labels or ids', async () => {
    const odd = await app.request('POST', `/tables/${products}/rows`, { json: [{ name: 'Nuts, mixed' }, { name: '42' }, { name: null }] });
    const [nuts, digits, nameless] = odd.body.rows.map((r: any) => r.id);
    const o = await app.request('POST', `/tables/${orders}/rows`, { json: { title: 'csv', items: [pid.Apple, nuts, digits, nameless] } });
    expect(o.status, o.text).to.equal(201);
    const csv = await (await fetch(new URL(`/tables/${orders}/rows.csv?filter[title]=csv`, app.url), { headers: { Authorization: `Bearer ${app.adminToken}` } })).text();
    expect(csv).to.include(`"Apple, #${nuts}, #${digits}, #${nameless}"`);
    const imp = await fetch(new URL(`/tables/${orders}/rows/import`, app.url), {
      method: 'POST',
      headers: { Authorization: `Bearer ${app.adminToken}`, Accept: 'application/json', 'Content-Type': 'text/csv' },
      body: `title,items\nimported,"Apple, Plum, #${nuts}"\n`,
    });
    expect(imp.status, await imp.clone().text()).to.equal(200);
    const row = (await rows(orders, '?filter[title]=imported'))[0];
    expect(row.items.map((x: any) => x.id)).to.deep.equal([pid.Apple, pid.Plum, nuts].sort((a, b) => a! - b!));
    const bad = await fetch(new URL(`/tables/${orders}/rows/import`, app.url), {
      method: 'POST',
      headers: { Authorization: `Bearer ${app.adminToken}`, Accept: 'application/json', 'Content-Type': 'text/csv' },
      body: `title,items\nnope,"Apple, Durian"\n`,
    });
    expect(bad.status).to.equal(422);
    expect(await bad.text()).to.match(/Durian/);
    expect(await rows(orders, '?filter[title]=nope')).to.have.length(0);
  });

  it('grid: shows labels, edits them as comma-separated text (a form post, no JavaScript needed)', async () => {
    const first = (await rows(orders, '?filter[title]=first'))[0];
    const grid = await app.request('GET', `/tables/${orders}/grid`, { headers: { Accept: 'text/html', 'HX-Request': 'true' } });
    expect(grid.status).to.equal(200);
    expect(grid.text).to.include('Apple, Plum');
    const edit = await app.request('GET', `/tables/${orders}/rows/${first.id}/cells/items/edit`, { headers: { Accept: 'text/html', 'HX-Request': 'true' } });
    expect(edit.status, edit.text).to.equal(200);
    expect(edit.text).to.match(/value="Apple, Plum"/);
    const saved = await app.request('PATCH', `/tables/${orders}/rows/${first.id}/cells/items`, { form: { value: 'Fig, Pear' }, headers: { Accept: 'text/html', 'HX-Request': 'true' } });
    expect(saved.status, saved.text.slice(0, 300)).to.be.within(200, 303);
    expect((await app.request('GET', `/tables/${orders}/rows/${first.id}`)).body.items.map((x: any) => x.label).sort()).to.deep.equal(['Fig', 'Pear']);
    await app.request('PATCH', `/tables/${orders}/rows/${first.id}`, { json: { items: ['Apple', 'Plum'] } });
  });

  it('deleting a linked row removes its pairs (ON DELETE CASCADE)', async () => {
    const extra = await app.request('POST', `/tables/${products}/rows`, { json: { name: 'Kiwi' } });
    const o = await app.request('POST', `/tables/${orders}/rows`, { json: { title: 'kiwi order', items: ['Kiwi'] } });
    expect(o.body.items).to.deep.equal([{ id: extra.body.id, label: 'Kiwi' }]);
    expect((await app.request('DELETE', `/tables/${products}/rows/${extra.body.id}`)).status).to.equal(204);
    expect((await app.request('GET', `/tables/${orders}/rows/${o.body.id}`)).body.items).to.deep.equal([]);
  });

  it('trash and restore of either side keeps the pairs; the reverse is trashable on its own', async () => {
    const rev = (await fields(products)).find((f) => f.name === 'In orders');
    const count = async () => (await sql.one(`SELECT count(*)::int AS n FROM data.orders_products`)).n;
    const n = await count();
    expect((await app.request('DELETE', `/tables/${products}/fields/${rev.id}`)).status).to.equal(200);
    expect(await count()).to.equal(n);
    expect((await rows(orders)).find((r) => r.title === 'first')!.items.length).to.equal(2);
    expect((await rows(products))[0]).not.to.have.property('in_orders');
    expect((await app.request('POST', `/tables/${products}/fields/${rev.id}/restore`)).status).to.equal(200);
    expect((await rows(products)).find((r) => r.id === pid.Apple)!.in_orders.length).to.equal(3);
    // the whole target table: the forward side reads [] meanwhile, no failing query
    expect((await app.request('DELETE', `/tables/${products}`)).status).to.equal(200);
    expect((await rows(orders)).find((r) => r.title === 'first')!.items).to.deep.equal([]);
    const w = await app.request('PATCH', `/tables/${orders}/rows/${(await rows(orders))[0].id}`, { json: { items: [pid.Apple] } });
    expect(w.status, w.text).to.equal(409);
    expect(w.body.error.field).to.equal('items');
    expect((await app.request('POST', `/tables/${products}/restore`)).status).to.equal(200);
    expect(await count()).to.equal(n);
    expect((await rows(orders)).find((r) => r.title === 'first')!.items.length).to.equal(2);
  });

  it('a junction dropped by a DBA is reported by reconcile and reads empty: never a 500', async () => {
    const t = await app.request('POST', '/tables', { json: { name: 'Tags', fields: [{ name: 'Label', type: 'text' }] } });
    const f = await app.request('POST', `/tables/${orders}/fields`, { json: { name: 'Tags', type: 'link', options: { table_id: t.body.id, multiple: true } } });
    expect(f.status, f.text).to.equal(201);
    const junction = (f.body.field ?? f.body).options.junction;
    expect(junction).to.equal('orders_tags');
    await rows(orders);
    await sql.exec(`DROP TABLE data.orders_tags`);
    const list = await app.request('GET', `/tables/${orders}/rows`);
    expect(list.status, list.text).to.equal(200);
    expect(list.body.rows[0].tags).to.deep.equal([]);
    const report = await app.request('GET', '/reconcile');
    expect(report.status).to.equal(200);
    const item = report.body.items.find((i: any) => i.kind === 'missing_junction');
    expect(item, JSON.stringify(report.body.items)).to.exist;
    expect(item.message).to.match(/orders_tags/);
  });

  it('purging a side needs the other in the trash, then drops the junction and both fields', async () => {
    const t = await app.request('POST', '/tables', { json: { name: 'Colours', fields: [{ name: 'Name', type: 'text' }] } });
    const f = (await app.request('POST', `/tables/${orders}/fields`, { json: { name: 'Colours', type: 'link', options: { table_id: t.body.id, multiple: true } } })).body;
    const fwd = f.field ?? f;
    expect((await app.request('DELETE', `/tables/${orders}/fields/${fwd.id}`)).status).to.equal(200);
    const early = await app.request('POST', `/trash/fields/${fwd.id}/purge`, { json: { confirm: `data.orders_colours` } });
    expect(early.status, early.text).to.equal(409);
    expect(early.body.error.code).to.equal('reverse_live');
    expect((await app.request('DELETE', `/tables/${t.body.id}/fields/${fwd.options.reverse_field_id}`)).status).to.equal(200);
    const ask = await app.request('POST', `/trash/fields/${fwd.id}/purge`, { json: {} });
    expect(ask.status).to.equal(422);
    expect(ask.body.error.confirm ?? ask.body.error.details?.confirm ?? ask.text).to.match(/orders_colours/);
    const done = await app.request('POST', `/trash/fields/${fwd.id}/purge`, { json: { confirm: 'data.orders_colours' } });
    expect(done.status, done.text).to.equal(200);
    expect((await sql.one(`SELECT to_regclass('data.orders_colours') AS r`)).r).to.equal(null);
    expect((await sql.one(`SELECT count(*)::int AS n FROM tablewright.fields WHERE id = ANY($1)`, [[fwd.id, fwd.options.reverse_field_id]])).n).to.equal(0);
  });
});
