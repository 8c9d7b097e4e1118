// Lookups and rollups over links (one-to-many and many-to-many) on real PostgreSQL: values
// against a JavaScript computation on random data with NULLs (a property test, several
// seeds), one scan of the linked table per link in the listing's plan (EXPLAIN), filters
// and sorts, read-only writes, broken when what they read is trashed (reported, no
// failing query); and many-to-many writes validated by property (random id lists).
import { expect } from 'chai';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';
import { mulberry32 } from '../helpers/rng.js';


describe('lookups and rollups', () => {
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let products: number;
  let orders: number;
  const f: Record<string, any> = {};
  /** product id -> {name, cents (null: no price)} */
  const catalog = new Map<number, { name: string; cents: number | null }>();

  const addField = async (tableId: number, spec: unknown) => {
    const res = await app.request('POST', `/tables/${tableId}/fields`, { json: spec });
    expect(res.status, res.text).to.equal(201);
    return res.body.field ?? res.body;
  };
  const list = async (query = '') => {
    const res = await app.request('GET', `/tables/${orders}/rows${query}`);
    expect(res.status, res.text).to.equal(200);
    return res.body.rows as any[];
  };

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url);
    sql = await Sql.connect(db.url);
    products = (await app.request('POST', '/tables', { json: { name: 'Products', fields: [{ name: 'Name', type: 'text' }, { name: 'Price', type: 'number', options: { decimals: 2 } }] } })).body.id;
    orders = (await app.request('POST', '/tables', { json: { name: 'Orders', fields: [{ name: 'Title', type: 'text' }] } })).body.id;
    f.items = await addField(orders, { name: 'Items', type: 'link', options: { table_id: products, multiple: true } });
    f.main = await addField(orders, { name: 'Main', type: 'link', options: { table_id: products } });
    const pf = (await app.request('GET', `/tables/${products}`)).body.fields;
    const price = pf.find((x: any) => x.name === 'Price').id;
    const name = pf.find((x: any) => x.name === 'Name').id;
    f.names = await addField(orders, { name: 'Item names', type: 'lookup', options: { link_field_id: f.items.id, field_id: name } });
    f.prices = await addField(orders, { name: 'Item prices', type: 'lookup', options: { link_field_id: f.items.id, field_id: price } });
    for (const fn of ['count', 'sum', 'avg', 'min', 'max', 'concat']) {
      f[fn] = await addField(orders, { name: `Price ${fn}`, type: 'rollup', options: { link_field_id: f.items.id, field_id: price, fn } });
    }
    f.links = await addField(orders, { name: 'Links', type: 'rollup', options: { link_field_id: f.items.id, fn: 'count' } });
    f.mainPrice = await addField(orders, { name: 'Main price', type: 'lookup', options: { link_field_id: f.main.id, field_id: price } });
    f.mainSum = await addField(orders, { name: 'Main sum', type: 'rollup', options: { link_field_id: f.main.id, field_id: price, fn: 'sum' } });
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  it('a lookup or rollup converts to no other type, nor another type to it: 400 naming type, nothing changes', async () => {
    const title = (await app.request('GET', `/tables/${orders}`)).body.fields.find((x: any) => x.name === 'Title');
    const before = await sql.snapshot();
    const toRollup = await app.request('PATCH', `/tables/${orders}/fields/${title.id}`, { json: { type: 'rollup', options: { link_field_id: f.items.id, fn: 'count' } } });
    expect(toRollup.status, toRollup.text).to.equal(400);
    expect(toRollup.body.error.field).to.equal('type');
    const toText = await app.request('PATCH', `/tables/${orders}/fields/${f.sum.id}`, { json: { type: 'text' } });
    expect(toText.status, toText.text).to.equal(400);
    expect(toText.body.error.field).to.equal('type');
    expect(await sql.snapshot(), 'nothing changed').to.deep.equal(before);
    // its schema is the admin's all the same: a rename works
    const renamed = await app.request('PATCH', `/tables/${orders}/fields/${f.sum.id}`, { json: { name: 'Total price' } });
    expect(renamed.status, renamed.text).to.equal(200);
    expect((await app.request('GET', `/tables/${orders}`)).body.fields.find((x: any) => x.id === f.sum.id).name).to.equal('Total price');
    expect((await app.request('PATCH', `/tables/${orders}/fields/${f.sum.id}`, { json: { name: 'Price sum' } })).status).to.equal(200);
  });

  it('refuses options that do not fit: not a link, a field of another table, sum of text', async () => {
    const pf = (await app.request('GET', `/tables/${products}`)).body.fields;
    const name = pf.find((x: any) => x.name === 'Name').id;
    const title = (await app.request('GET', `/tables/${orders}`)).body.fields.find((x: any) => x.name === 'Title').id;
    const cases: Array<[unknown, string]> = [
      [{ name: 'x', type: 'rollup', options: { link_field_id: title, field_id: name, fn: 'sum' } }, 'options.link_field_id'],
      [{ name: 'x', type: 'lookup', options: { link_field_id: f.items.id, field_id: title } }, 'options.field_id'],
      [{ name: 'x', type: 'rollup', options: { link_field_id: f.items.id, field_id: name, fn: 'sum' } }, 'options.fn'],
      [{ name: 'x', type: 'rollup', options: { link_field_id: f.items.id, field_id: name, fn: 'median' } }, 'options.fn'],
      [{ name: 'x', type: 'lookup', options: { link_field_id: f.items.id } }, 'options.field_id'],
    ];
    for (const [spec, field] of cases) {
      const res = await app.request('POST', `/tables/${orders}/fields`, { json: spec });
      expect(res.status, res.text).to.be.within(400, 422);
      expect(res.body.error.field, res.text).to.equal(field);
    }
  });

  for (const seed of [1, 2, 3]) {
    it(`rollups and lookups equal a JavaScript computation on random data with NULLs (seed ${seed})`, async () => {
      const r = mulberry32(seed);
      await sql.exec(`TRUNCATE data.orders, data.products CASCADE`);
      catalog.clear();
      const made = await app.request('POST', `/tables/${products}/rows`, {
        json: Array.from({ length: 25 }, (_, i) => {
          const cents = r() < 0.25 ? null : Math.floor((r() - 0.3) * 200_000);
          return { name: `p${seed}-${i}`, price: cents === null ? null : (cents / 100).toFixed(2) };
        }),
      });
      expect(made.status, made.text).to.equal(201);
      for (const p of made.body.rows) catalog.set(p.id, { name: p.name, cents: p.price === null ? null : Math.round(Number(p.price) * 100) });
      const ids = [...catalog.keys()];
      const wanted = Array.from({ length: 40 }, (_, i) => {
        const k = Math.floor(r() * 6);
        const items = [...new Set(Array.from({ length: k }, () => ids[Math.floor(r() * ids.length)]!))];
        return { title: `o${i}`, items, main: r() < 0.3 ? null : ids[Math.floor(r() * ids.length)]! };
      });
      expect((await app.request('POST', `/tables/${orders}/rows`, { json: wanted })).status).to.equal(201);
      const rows = await list('?size=100&sort=id');
      expect(rows).to.have.length(40);
      for (const [i, row] of rows.entries()) {
        const linked = [...wanted[i]!.items].sort((a, b) => a - b).map((id) => catalog.get(id)!);
        const values = linked.map((p) => p.cents).filter((c): c is number => c !== null);
        const money = (c: number) => (c / 100).toFixed(2);
        const msg = `seed ${seed} row ${i}: ${JSON.stringify(row)}`;
        expect(row.item_names, msg).to.deep.equal(linked.map((p) => p.name));
        expect(row.item_prices, msg).to.deep.equal(values.map(money));
        expect(row.price_count, msg).to.equal(values.length);
        expect(row.links, msg).to.equal(linked.length);
        expect(Number(row.price_sum), msg).to.equal(Number(money(values.reduce((a, b) => a + b, 0))));
        if (values.length === 0) {
          for (const k of ['price_avg', 'price_min', 'price_max', 'price_concat']) expect(row[k], `${k} ${msg}`).to.equal(null);
        } else {
          expect(Number(row.price_avg), msg).to.be.closeTo(values.reduce((a, b) => a + b, 0) / values.length / 100, 1e-9);
          expect(Number(row.price_min), msg).to.equal(Math.min(...values) / 100);
          expect(Number(row.price_max), msg).to.equal(Math.max(...values) / 100);
          expect(row.price_concat, msg).to.equal(values.map(money).join(', '));
        }
        const main = wanted[i]!.main === null ? null : catalog.get(wanted[i]!.main!)!;
        expect(row.main_price, msg).to.deep.equal(main && main.cents !== null ? [money(main.cents)] : []);
        expect(Number(row.main_sum), msg).to.equal(main && main.cents !== null ? main.cents / 100 : 0);
      }
    });
  }

  it('a page of 100 rows with two lookups and a rollup scans the linked table once per link (EXPLAIN)', async () => {
    const model = await app.ctx.models!.get(orders);
    const { rows } = await sql.raw.query(`EXPLAIN (FORMAT JSON) SELECT ${model.selectList} FROM ${model.from} ORDER BY t.id LIMIT 100`);
    const plan = JSON.stringify(rows);
    const scans = (rel: string) => (plan.match(new RegExp(`"Relation Name":"${rel}"`, 'g')) ?? []).length;
    // products: one scan under the many-to-many lateral (items, both lookups, every rollup over it),
    // one for the one-to-many link's label join, one under its lateral (its lookup and rollup)
    expect(scans('orders_products')).to.equal(1);
    expect(scans('products')).to.equal(3);
    // the fields of this test over the many-to-many link alone: one junction scan, one products scan
    const single = model.fields.filter((x) => ['items', 'item_names', 'item_prices', 'price_sum'].includes(x.column));
    expect(single).to.have.length(4);
    const lateral = model.from.split('LEFT JOIN LATERAL').filter((part) => part.includes('orders_products'));
    expect(lateral).to.have.length(1);
  });

  it('filters and sorts on rollups and lookups', async () => {
    const all = await list('?size=100&sort=id');
    const sorted = await list('?size=100&sort=-price_sum');
    const sums = sorted.map((r) => Number(r.price_sum));
    expect(sums).to.deep.equal([...sums].sort((a, b) => b - a));
    const big = await list('?size=100&filter[price_count][gte]=3');
    expect(big.map((r) => r.id)).to.deep.equal(all.filter((r) => r.price_count >= 3).map((r) => r.id));
    const named = all.find((r) => r.item_names.length > 0)!;
    const hit = await list(`?size=100&filter[item_names][eq]=${encodeURIComponent(named.item_names[0])}`);
    expect(hit.map((r) => r.id)).to.include(named.id);
    expect((await list('?size=100&filter[item_names][empty]=1')).map((r) => r.id)).to.deep.equal(all.filter((r) => r.item_names.length === 0).map((r) => r.id));
    const bad = await app.request('GET', `/tables/${orders}/rows?filter[price_sum][gt]=abc`);
    expect(bad.status, bad.text).to.be.within(400, 422);
    // the cursor walks a rollup sort to the same rows
    let after = '';
    const walked: number[] = [];
    for (let i = 0; i < 10; i++) {
      const page = await app.request('GET', `/tables/${orders}/rows?size=7&sort=price_avg${after ? `&after=${after}` : ''}`);
      expect(page.status, page.text).to.equal(200);
      walked.push(...page.body.rows.map((r: any) => r.id));
      if (!page.body.next) break;
      after = page.body.next;
    }
    expect([...walked].sort((a, b) => a - b)).to.deep.equal(all.map((r) => r.id));
  });

  it('is read-only: a write names the field', async () => {
    const res = await app.request('POST', `/tables/${orders}/rows`, { json: { title: 'x', price_sum: 5 } });
    expect(res.status).to.equal(422);
    expect(res.body.error.field).to.equal('price_sum');
  });

  it('CSV round trip: an export (lookups, rollups, many-to-many labels) imports back; computed columns are skipped', async () => {
    const ids = [...catalog.keys()].slice(0, 3);
    const made = await app.request('POST', `/tables/${orders}/rows`, { json: { title: 'roundtrip', items: ids } });
    expect(made.status, made.text).to.equal(201);
    const auth = { Authorization: `Bearer ${app.adminToken}` };
    const csv = await (await fetch(new URL(`/tables/${orders}/rows.csv?filter[title]=roundtrip`, app.url), { headers: auth })).text();
    expect(csv.split('\n')[0]).to.include('price_sum').and.include('item_names');
    const imp = await fetch(new URL(`/tables/${orders}/rows/import`, app.url), { method: 'POST', headers: { ...auth, Accept: 'application/json', 'Content-Type': 'text/csv' }, body: csv });
    expect(imp.status, await imp.clone().text()).to.equal(200);
    expect((await imp.json()).imported).to.equal(1);
    const two = await list('?filter[title]=roundtrip');
    expect(two).to.have.length(2);
    expect(two[1].items.map((x: any) => x.id)).to.deep.equal(two[0].items.map((x: any) => x.id));
    expect(two[1].price_sum).to.deep.equal(two[0].price_sum);
    // a file with computed columns but no many-to-many one goes through COPY, skipping them too
    const copy = await fetch(new URL(`/tables/${orders}/rows/import`, app.url), { method: 'POST', headers: { ...auth, Accept: 'application/json', 'Content-Type': 'text/csv' }, body: 'title,price_sum,item_names\nroundtrip2,999,"x, y"\n' });
    expect(copy.status, await copy.clone().text()).to.equal(200);
    const r = (await list('?filter[title]=roundtrip2'))[0];
    expect(r.items).to.deep.equal([]);
    await app.request('DELETE', `/tables/${orders}/rows/${r.id}`);
    for (const x of two) await app.request('DELETE', `/tables/${orders}/rows/${x.id}`);
  });

  it('trashing the looked-up field or the link marks them broken: reported, empty values, no failing query', async () => {
    const price = (await app.request('GET', `/tables/${products}`)).body.fields.find((x: any) => x.name === 'Price').id;
    expect((await app.request('DELETE', `/tables/${products}/fields/${price}`)).status).to.equal(200);
    const rows = await list();
    expect(rows[0].item_prices).to.deep.equal([]);
    expect(rows[0].price_sum).to.equal(null);
    expect(rows[0].price_count, 'it counts the trashed field').to.equal(null);
    expect(rows[0].links, 'a count of linked rows reads no field: still there').to.be.a('number');
    const report = (await app.request('GET', '/reconcile')).body;
    const broken = report.items.filter((i: any) => i.kind === 'broken_computed').map((i: any) => i.field.column);
    expect(broken).to.include.members(['item_prices', 'price_sum', 'main_price']);
    expect((await app.request('POST', `/tables/${products}/fields/${price}/restore`)).status).to.equal(200);
    expect((await list())[0].price_count).to.be.a('number');
    expect((await app.request('DELETE', `/tables/${orders}/fields/${f.items.id}`)).status).to.equal(200);
    const without = await list();
    expect(without[0].item_names).to.deep.equal([]);
    expect(without[0].links).to.equal(null);
    expect((await app.request('GET', `/tables/${orders}/rows?filter[links][gt]=1`)).status).to.equal(200);
    expect((await app.request('POST', `/tables/${orders}/fields/${f.items.id}/restore`)).status).to.equal(200);
    expect((await list('?sort=id'))[0].item_names).to.be.an('array');
  });

  it('many-to-many writes by property: a list is stored exactly when every item names a row, refused whole otherwise', async () => {
    const r = mulberry32(99);
    const ids = [...catalog.keys()];
    const names = [...catalog.values()].map((p) => p.name);
    const row = (await list())[0];
    for (let i = 0; i < 40; i++) {
      const items: unknown[] = [];
      let valid = true;
      const expected = new Set<number>();
      for (let k = Math.floor(r() * 5); k > 0; k--) {
        const pick = r();
        if (pick < 0.4) {
          const id = ids[Math.floor(r() * ids.length)]!;
          items.push(r() < 0.5 ? id : `#${id}`);
          expected.add(id);
        } else if (pick < 0.7) {
          const n = names[Math.floor(r() * names.length)]!;
          items.push(n);
          expected.add([...catalog].find(([, p]) => p.name === n)![0]);
        } else if (pick < 0.8) {
          items.push(Math.max(...ids) + 1 + Math.floor(r() * 1000));
          valid = false;
        } else if (pick < 0.9) {
          items.push(['no such', '0', -3, 1.5, 'x\u0000y', { id: 'x' }, [], true][Math.floor(r() * 8)]);
          valid = false;
        } else {
          items.push('');
        }
      }
      const before = await sql.rows(`SELECT products_id::int AS p FROM data.orders_products WHERE orders_id = $1 ORDER BY 1`, [row.id]);
      const res = await app.request('PATCH', `/tables/${orders}/rows/${row.id}`, { json: { items } });
      const after = (await sql.rows(`SELECT products_id::int AS p FROM data.orders_products WHERE orders_id = $1 ORDER BY 1`, [row.id])).map((x) => x.p);
      const msg = `${JSON.stringify(items)}: ${res.status} ${res.text.slice(0, 300)}`;
      if (valid) {
        expect(res.status, msg).to.equal(200);
        expect(after, msg).to.deep.equal([...expected].sort((a, b) => a - b));
        expect(res.body.items.map((x: any) => x.id), msg).to.deep.equal(after);
      } else {
        expect(res.status, msg).to.be.within(400, 422);
        expect(res.body.error.field, msg).to.equal('items');
        expect(after, msg).to.deep.equal(before.map((x) => x.p));
      }
    }
  });
});
