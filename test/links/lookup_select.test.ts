// Lookups of select fields give the options' labels, never their ids: a single_select's
// label per linked row, a multiple_select's labels flattened in one list (options' order
// within a row, linked rows by id), through a one-to-many and a many-to-many link; a
// rollup's concat too. Renaming an option renames it in the lookups (no row rewritten);
// filters match labels.
import { expect } from 'chai';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';

describe('lookups of select fields', () => {
  let db: TestDatabase;
  let app: TestApp;
  let products: number;
  let orders: number;
  const f: Record<string, any> = {};
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
    products = (await app.request('POST', '/tables', { json: { name: 'Products', fields: [{ name: 'Name', type: 'text' }] } })).body.id;
    orders = (await app.request('POST', '/tables', { json: { name: 'Orders', fields: [{ name: 'Title', type: 'text' }] } })).body.id;
    f.status = await addField(products, { name: 'Status', type: 'single_select', options: { choices: [{ label: 'Open' }, { label: 'Done, really' }] } });
    f.tags = await addField(products, { name: 'Tags', type: 'multiple_select', options: { choices: [{ label: 'red' }, { label: 'green' }, { label: 'blue' }] } });
    f.items = await addField(orders, { name: 'Items', type: 'link', options: { table_id: products, multiple: true } });
    f.main = await addField(orders, { name: 'Main', type: 'link', options: { table_id: products } });
    f.itemStatus = await addField(orders, { name: 'Item status', type: 'lookup', options: { link_field_id: f.items.id, field_id: f.status.id } });
    f.itemTags = await addField(orders, { name: 'Item tags', type: 'lookup', options: { link_field_id: f.items.id, field_id: f.tags.id } });
    f.mainStatus = await addField(orders, { name: 'Main status', type: 'lookup', options: { link_field_id: f.main.id, field_id: f.status.id } });
    f.statusConcat = await addField(orders, { name: 'Status concat', type: 'rollup', options: { link_field_id: f.items.id, field_id: f.status.id, fn: 'concat' } });
    f.tagsConcat = await addField(orders, { name: 'Tags concat', type: 'rollup', options: { link_field_id: f.items.id, field_id: f.tags.id, fn: 'concat' } });
  });
  after(async () => {
    await app?.stop();
    await db?.drop();
  });

  it('gives labels for single and multiple select lookups and concat rollups, through both kinds of link', async () => {
    const made = await app.request('POST', `/tables/${products}/rows`, {
      json: [
        { name: 'p1', status: 'Open', tags: ['blue', 'red'] },
        { name: 'p2', status: 'Done, really', tags: null },
        { name: 'p3', status: null, tags: ['green'] },
      ],
    });
    expect(made.status, made.text).to.equal(201);
    const [p1, p2, p3] = made.body.rows.map((r: any) => r.id);
    const o = await app.request('POST', `/tables/${orders}/rows`, {
      json: [
        { title: 'a', items: [p3, p1, p2], main: p2 },
        { title: 'b', items: [], main: null },
        { title: 'c', items: [p3], main: p3 },
      ],
    });
    expect(o.status, o.text).to.equal(201);
    const [a, b, c] = await list('?sort=id');
    // linked rows by id; a multiple select's labels in the options' order (red before blue)
    expect(a.item_status).to.deep.equal(['Open', 'Done, really']);
    expect(a.item_tags).to.deep.equal(['red', 'blue', 'green']);
    expect(a.main_status).to.deep.equal(['Done, really']);
    expect(a.status_concat).to.equal('Open, Done, really');
    expect(a.tags_concat).to.equal('red, blue, green');
    expect(b.item_status).to.deep.equal([]);
    expect(b.item_tags).to.deep.equal([]);
    expect(b.main_status).to.deep.equal([]);
    expect(b.status_concat).to.equal(null);
    expect(c.item_status, 'an empty select is left out').to.deep.equal([]);
    expect(c.item_tags).to.deep.equal(['green']);
  });

  it('filters match the labels', async () => {
    const open = await list(`?filter[item_status][eq]=Open`);
    expect(open.map((r) => r.title)).to.deep.equal(['a']);
    const green = await list(`?filter[item_tags][eq]=green&sort=id`);
    expect(green.map((r) => r.title)).to.deep.equal(['a', 'c']);
  });

  it('renaming an option shows the new label in the lookups at once', async () => {
    const choices = f.tags.options.choices.map((ch: any) => (ch.label === 'green' ? { ...ch, label: 'lime' } : ch));
    const res = await app.request('PATCH', `/tables/${products}/fields/${f.tags.id}`, { json: { options: { choices } } });
    expect(res.status, res.text).to.equal(200);
    const [a] = await list('?sort=id');
    expect(a.item_tags).to.deep.equal(['red', 'blue', 'lime']);
    expect(a.tags_concat).to.equal('red, blue, lime');
  });
});
