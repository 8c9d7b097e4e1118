// Saved views over real HTTP on real PostgreSQL: the API, the listing and the CSV export
// through a view, who may manage which views, and what happens to a view when the fields
// it names change (trashed, retyped, renamed): it keeps listing rows and says what it left out.
import { expect } from 'chai';
import pg from 'pg';
import { createTestToken, startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';

describe('saved views', () => {
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let t: number;
  let fields: Record<string, { id: number }>;
  let viewer: string;
  let editor: string;

  const as = (token: string) => ({ auth: { token } });
  const ids = (rows: Array<{ id: number }>) => rows.map((r) => r.id);

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url);
    sql = await Sql.connect(db.url);
    viewer = await createTestToken(app, 'viewer', 'vera');
    editor = await createTestToken(app, 'editor', 'ed');
    const res = await app.request('POST', '/tables', {
      json: {
        name: 'Items',
        fields: [
          { name: 'Name', type: 'text' },
          { name: 'Price', type: 'number', options: { decimals: 2 } },
          { name: 'Code', type: 'text' },
          { name: 'Notes', type: 'long_text' },
          { name: 'Kind', type: 'single_select', options: { choices: ['tool', 'toy'] } },
        ],
      },
    });
    expect(res.status, res.text).to.equal(201);
    t = res.body.id;
    fields = Object.fromEntries(res.body.fields.map((f: { column: string; id: number }) => [f.column, f]));
    await sql.exec(`INSERT INTO data.items (name, price, code, notes) SELECT 'item ' || i, CASE WHEN i % 5 = 0 THEN NULL ELSE i END, (i % 7)::text, 'note ' || i FROM generate_series(1, 40) i`);
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  it('a view lists rows through its filter and sort, leaves hidden fields out, and other parameters narrow it', async () => {
    const created = await app.request('POST', `/tables/${t}/views`, { json: { name: 'Cheap', filter: { price: { lt: 20 } }, sort: '-price', hidden: ['notes'], size: 5 } });
    expect(created.status, created.text).to.equal(201);
    expect(created.headers.get('location')).to.equal(`/tables/${t}/views/${created.body.id}`);
    expect(created.body).to.include({ name: 'Cheap', shared: true, sort: '-price', size: 5, frozen: 0 });
    expect(created.body.filter).to.deep.equal([{ column: 'price', op: 'lt', value: 20 }]);
    expect(created.body.hidden).to.deep.equal(['notes']);
    const vid = created.body.id;

    const listed = await app.request('GET', `/tables/${t}/rows?view=${vid}`);
    expect(listed.status, listed.text).to.equal(200);
    const expected = (await sql.rows(`SELECT id FROM data.items WHERE price < 20 ORDER BY price DESC NULLS LAST, id LIMIT 5`)).map((r) => r.id);
    expect(ids(listed.body.rows), 'filter, sort and size of the view').to.deep.equal(expected);
    expect(listed.body.rows[0], 'hidden field left out').to.not.have.property('notes');
    expect(Object.keys(listed.body.rows[0])).to.deep.equal(['id', 'name', 'price', 'code', 'kind']);
    expect(listed.body.view).to.deep.equal({ id: vid, name: 'Cheap', problems: [] });

    const narrowed = await app.request('GET', `/tables/${t}/rows?view=${vid}&filter[code][eq]=3&sort=price&size=100&count=1`);
    const expectedNarrow = (await sql.rows(`SELECT id FROM data.items WHERE price < 20 AND code = '3' ORDER BY price, id`)).map((r) => r.id);
    expect(expectedNarrow.length).to.be.greaterThan(1);
    expect(ids(narrowed.body.rows), 'the request filter narrows; its sort and size win').to.deep.equal(expectedNarrow);
    expect(narrowed.body.count).to.equal(expectedNarrow.length);

    // A keyset walk through the view visits the same rows as one page.
    const all = await app.request('GET', `/tables/${t}/rows?view=${vid}&size=1000`);
    const walked: number[] = [];
    let after: string | null = null;
    for (let i = 0; i < 20; i++) {
      const page: { body: { rows: Array<{ id: number }>; next: string | null } } = await app.request('GET', `/tables/${t}/rows?view=${vid}${after ? `&after=${after}` : ''}`);
      walked.push(...ids(page.body.rows));
      after = page.body.next;
      if (!after) break;
    }
    expect(walked).to.deep.equal(ids(all.body.rows));
  });

  it('filters combine groups with OR: {any: [...]} inside the AND list', async () => {
    const res = await app.request('POST', `/tables/${t}/views`, {
      json: { name: 'Either', filter: [{ any: [{ column: 'price', op: 'lt', value: 3 }, { column: 'price', op: 'empty' }] }, { column: 'code', op: 'neq', value: '0' }] },
    });
    expect(res.status, res.text).to.equal(201);
    const listed = await app.request('GET', `/tables/${t}/rows?view=${res.body.id}&size=1000`);
    const expected = (await sql.rows(`SELECT id FROM data.items WHERE (price < 3 OR price IS NULL) AND code IS DISTINCT FROM '0' ORDER BY id`)).map((r) => r.id);
    expect(expected.length).to.be.greaterThan(2);
    expect(ids(listed.body.rows)).to.deep.equal(expected);
    expect(res.body.filter[0].any).to.have.length(2);
  });

  it('bad input is a 400 naming the part of the view, and nothing is saved', async () => {
    const before = (await sql.one(`SELECT count(*)::int AS n, (SELECT version FROM tablewright.tables WHERE id = $1) AS v FROM tablewright.views`, [t]));
    for (const [json, field] of [
      [{ name: 'x', filter: [{ column: 'nope', op: 'eq', value: 1 }] }, 'filter.0.column'],
      [{ name: 'x', filter: [{ column: 'price', op: 'eq', value: 'cheap' }] }, 'filter.0.value'],
      [{ name: 'x', filter: [{ column: 'price', op: 'contains', value: '1' }] }, 'filter.0.value'],
      [{ name: 'x', sort: 'nope' }, 'sort'],
      [{ name: 'x', hidden: ['nope'] }, 'hidden.0'],
      [{ name: 'x', widths: { price: 5 } }, 'widths.price'],
      [{ name: 'x', size: 5000 }, 'size'],
      [{ name: '' }, 'name'],
      // an empty group says nothing: an empty "any" matched every row
      [{ name: 'x', filter: [{ any: [] }] }, 'filter.0.any'],
      [{ name: 'x', filter: [{ all: [{ any: [] }] }] }, 'filter.0.all.0.any'],
    ] as const) {
      const res = await app.request('POST', `/tables/${t}/views`, { json });
      expect(res.status, JSON.stringify(json)).to.equal(400);
      expect(res.body.error.field, JSON.stringify(json)).to.equal(field);
    }
    const dup = await app.request('POST', `/tables/${t}/views`, { json: { name: 'cheap' } });
    expect(dup.status).to.equal(409);
    expect(dup.body.error.field).to.equal('name');
    const afterAll = await sql.one(`SELECT count(*)::int AS n, (SELECT version FROM tablewright.tables WHERE id = $1) AS v FROM tablewright.views`, [t]);
    expect(afterAll).to.deep.equal(before);
    expect((await app.request('GET', `/tables/${t}/rows?view=999999`)).status).to.equal(404);
    expect((await app.request('GET', `/tables/${t}/rows?view=abc`)).status).to.equal(400);
  });

  it('views are metadata: each change bumps the version, is audited and NOTIFYs', async () => {
    const listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    const heard: Array<{ op: string; table_id: number }> = [];
    listener.on('notification', (n) => heard.push(JSON.parse(n.payload!)));
    await listener.query('LISTEN tablewright_schema');
    try {
      const v0 = (await sql.one(`SELECT version FROM tablewright.tables WHERE id = $1`, [t])).version;
      const res = await app.request('POST', `/tables/${t}/views`, { json: { name: 'Audited', sort: 'name' } });
      const patched = await app.request('PATCH', `/tables/${t}/views/${res.body.id}`, { json: { name: 'Audited 2', frozen: 2, widths: { name: 300 } } });
      expect(patched.status, patched.text).to.equal(200);
      expect(patched.body).to.include({ name: 'Audited 2', sort: 'name', frozen: 2 });
      expect(patched.body.widths).to.deep.equal({ name: 300 });
      expect((await app.request('DELETE', `/tables/${t}/views/${res.body.id}`)).status).to.equal(204);
      expect((await app.request('GET', `/tables/${t}/views/${res.body.id}`)).status).to.equal(404);
      const v3 = (await sql.one(`SELECT version FROM tablewright.tables WHERE id = $1`, [t])).version;
      expect(v3).to.equal(v0 + 3);
      const audit = await sql.rows(`SELECT operation, version, details->>'view_id' AS vid FROM tablewright.audit WHERE table_id = $1 AND operation LIKE '%view' ORDER BY id DESC LIMIT 3`, [t]);
      expect(audit.map((a) => a.operation)).to.deep.equal(['delete_view', 'update_view', 'create_view']);
      expect(audit.every((a) => a.vid === String(res.body.id))).to.equal(true);
      for (let i = 0; i < 50 && heard.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
      expect(heard.filter((h) => h.table_id === t).map((h) => h.op)).to.deep.equal(['create_view', 'update_view', 'delete_view']);
    } finally {
      await listener.end();
    }
  });

  it('shared views are managed by editors and admins; personal views are their owner\'s alone', async () => {
    const mine = await app.request('POST', `/tables/${t}/views`, { ...as(viewer), json: { name: 'Mine', sort: 'code' } });
    expect(mine.status, mine.text).to.equal(201);
    expect(mine.body.shared, "a viewer's view is personal").to.equal(false);
    const refused = await app.request('POST', `/tables/${t}/views`, { ...as(viewer), json: { name: 'Everyone', shared: true } });
    expect(refused.status).to.equal(403);
    expect(refused.body.error.field).to.equal('shared');

    const shared = await app.request('POST', `/tables/${t}/views`, { ...as(editor), json: { name: 'Team' } });
    expect(shared.body.shared, "an editor's view is shared unless asked").to.equal(true);
    expect((await app.request('PATCH', `/tables/${t}/views/${shared.body.id}`, { ...as(viewer), json: { name: 'Hijacked' } })).status).to.equal(403);
    expect((await app.request('DELETE', `/tables/${t}/views/${shared.body.id}`, { ...as(viewer) })).status).to.equal(403);

    const viewerList = (await app.request('GET', `/tables/${t}/views`, as(viewer))).body.views.map((v: { name: string }) => v.name);
    expect(viewerList).to.include.members(['Team', 'Mine']);
    const editorList = (await app.request('GET', `/tables/${t}/views`, as(editor))).body.views.map((v: { name: string }) => v.name);
    expect(editorList, "another's personal view is not listed").to.not.include('Mine');
    expect((await app.request('GET', `/tables/${t}/views/${mine.body.id}`, as(editor))).status).to.equal(404);
    expect((await app.request('GET', `/tables/${t}/rows?view=${mine.body.id}`, as(editor))).status).to.equal(404);
    expect((await app.request('DELETE', `/tables/${t}/views/${mine.body.id}`, as(editor))).status).to.equal(404);

    const renamed = await app.request('PATCH', `/tables/${t}/views/${mine.body.id}`, { ...as(viewer), json: { name: 'Mine too' } });
    expect(renamed.status, renamed.text).to.equal(200);
    expect((await app.request('GET', `/tables/${t}/rows?view=${mine.body.id}`, as(viewer))).status).to.equal(200);
    // Two users may each have a personal view of the same name.
    expect((await app.request('POST', `/tables/${t}/views`, { ...as(editor), json: { name: 'Mine too', shared: false } })).status).to.equal(201);
    expect((await app.request('POST', `/tables/${t}/views`, { ...as(editor), json: { name: 'Solo', default: true, shared: false } })).status, 'only shared views are defaults').to.equal(400);
  });

  it('a default view: one per table, the newest default wins', async () => {
    const a = await app.request('POST', `/tables/${t}/views`, { json: { name: 'Default A', default: true } });
    const b = await app.request('POST', `/tables/${t}/views`, { json: { name: 'Default B', default: true } });
    expect(b.body.default).to.equal(true);
    expect((await app.request('GET', `/tables/${t}/views/${a.body.id}`)).body.default).to.equal(false);
  });

  it('a view naming a field that was since trashed, retyped or renamed keeps working: the clause is dropped and flagged', async () => {
    const f = await app.request('POST', `/tables/${t}/fields`, { json: { name: 'Batch', type: 'text' } });
    const g = await app.request('POST', `/tables/${t}/fields`, { json: { name: 'Lot', type: 'text' } });
    await sql.exec(`UPDATE data.items SET batch = (id % 3)::text, lot = (id % 4)::text`);
    const v = await app.request('POST', `/tables/${t}/views`, {
      json: { name: 'Fragile', filter: [{ column: 'batch', op: 'eq', value: '1' }, { column: 'lot', op: 'contains', value: '2' }, { column: 'price', op: 'not_empty' }], sort: '-batch,name', hidden: ['batch'], widths: { batch: 120 } },
    });
    expect(v.status, v.text).to.equal(201);
    const through = async () => app.request('GET', `/tables/${t}/rows?view=${v.body.id}&size=1000`);
    expect(ids((await through()).body.rows)).to.deep.equal((await sql.rows(`SELECT id FROM data.items WHERE batch = '1' AND lot LIKE '%2%' AND price IS NOT NULL ORDER BY batch DESC, name, id`)).map((r) => r.id));

    // Renamed column: followed by field id.
    const renamed = await app.request('PATCH', `/tables/${t}/fields/${g.body.id}`, { json: { column: 'lot_no' } });
    expect(renamed.status, renamed.text).to.equal(200);
    const afterRename = await through();
    expect(afterRename.body.view.problems).to.deep.equal([]);
    expect((await app.request('GET', `/tables/${t}/views/${v.body.id}`)).body.filter[1].column).to.equal('lot_no');

    // Trashed: its filter, sort, hidden and width are left out, and said so.
    expect((await app.request('DELETE', `/tables/${t}/fields/${f.body.id}`)).status).to.equal(200);
    const afterTrash = await through();
    expect(afterTrash.status, afterTrash.text).to.equal(200);
    expect(ids(afterTrash.body.rows)).to.deep.equal((await sql.rows(`SELECT id FROM data.items WHERE lot_no LIKE '%2%' AND price IS NOT NULL ORDER BY name, id`)).map((r) => r.id));
    expect(afterTrash.body.view.problems.map((p: { part: string; reason: string }) => `${p.part}:${p.reason}`)).to.have.members(['filter:field_trashed', 'sort:field_trashed', 'hidden:field_trashed', 'widths:field_trashed']);

    // Retyped: its filter is left out (contains no longer applies, and the type changed).
    const retyped = await app.request('PATCH', `/tables/${t}/fields/${g.body.id}`, { json: { type: 'number' } });
    expect(retyped.status, retyped.text).to.be.oneOf([200, 202]);
    const afterRetype = await through();
    expect(afterRetype.status, afterRetype.text).to.equal(200);
    expect(afterRetype.body.view.problems.some((p: { part: string; reason: string }) => p.part === 'filter' && (p.reason === 'field_retyped' || p.reason === 'field_trashed'))).to.equal(true);
    expect(ids(afterRetype.body.rows)).to.deep.equal((await sql.rows(`SELECT id FROM data.items WHERE price IS NOT NULL ORDER BY name, id`)).map((r) => r.id));
    const shown = await app.request('GET', `/tables/${t}/views/${v.body.id}`);
    expect(shown.status).to.equal(200);
    expect(shown.body.problems.length).to.be.greaterThan(3);
    // The CSV export through the view keeps working too.
    const csv = await app.request('GET', `/tables/${t}/rows.csv?view=${v.body.id}`, { headers: { Accept: 'text/csv' } });
    expect(csv.status, csv.text).to.equal(200);
  });

  it('the CSV export honours ?view: its filter, sort, hidden fields and column order', async () => {
    const v = await app.request('POST', `/tables/${t}/views`, { json: { name: 'Export', filter: { price: { gte: 30 } }, sort: '-price', hidden: ['notes', 'kind'], order: ['price', 'name'] } });
    const csv = await app.request('GET', `/tables/${t}/rows.csv?view=${v.body.id}`, { headers: { Accept: 'text/csv' } });
    expect(csv.status).to.equal(200);
    const lines = csv.text.trim().split('\r\n');
    expect(lines[0]!.startsWith('id,price,name,code')).to.equal(true);
    expect(lines[0]).to.not.include('notes');
    const expected = (await sql.rows(`SELECT id, price FROM data.items WHERE price >= 30 ORDER BY price DESC, id`)).map((r) => `${r.id},${r.price}`);
    expect(lines.slice(1).map((l) => l.split(',').slice(0, 2).join(','))).to.deep.equal(expected);
  });

  it('the CSV export follows a layout given only in the URL (hide, show, order), alone or over a view, as the grid shows it', async () => {
    const head = async (q: string) => {
      const res = await app.request('GET', `/tables/${t}/rows.csv?${q}`, { headers: { Accept: 'text/csv' } });
      expect(res.status, res.text).to.equal(200);
      return res.text.split('\r\n')[0]!;
    };
    // Every field, in display order (earlier tests may have added some).
    const all = (await head('')).split(',').slice(1);
    const rest = (...named: string[]) => all.filter((c) => !named.includes(c));
    expect(all.slice(0, 5)).to.deep.equal(['name', 'price', 'code', 'notes', 'kind']);
    expect(await head('hide=notes,kind&order=code,price')).to.equal(['id', 'code', 'price', ...rest('code', 'price', 'notes', 'kind')].join(','));
    expect(await head('show=name&show=price&order=price')).to.equal('id,price,name');
    const v = await app.request('POST', `/tables/${t}/views`, { json: { name: 'Layout export', hidden: ['notes'], order: ['kind', 'name'] } });
    expect(await head(`view=${v.body.id}`)).to.equal(['id', 'kind', 'name', ...rest('kind', 'name', 'notes')].join(','));
    // The URL's layout over the view's: hide replaces the view's hidden list, order moves.
    expect(await head(`view=${v.body.id}&hide=kind,code&order=price`)).to.equal(['id', 'price', 'name', ...rest('price', 'name', 'kind', 'code')].join(','));
    // The grid's own export link carries the layout it shows: its header and the grid's agree.
    const grid = await app.request('GET', `/tables/${t}/grid?view=${v.body.id}&hide=kind,code&order=price`, { headers: { Accept: 'text/html', 'HX-Request': 'true' } });
    const href = /href="([^"]*rows\.csv[^"]*)" download>Export CSV/.exec(grid.text)![1]!.replace(/&amp;/g, '&');
    const gridCols = [...grid.text.matchAll(/<th scope="col" class="field-head[^"]*" data-column="([a-z_0-9]+)"/g)].map((m) => m[1]);
    expect(await head(href.split('?')[1]!)).to.equal(['id', ...gridCols].join(','));
    // A name that is no field: 400 naming the parameter, not a 500 and not a silent file.
    const bad = await app.request('GET', `/tables/${t}/rows.csv?order=nope,price`, { headers: { Accept: 'application/json' } });
    expect(bad.status, bad.text).to.equal(400);
    expect(bad.text).to.include('order');
  });

  it('a view of a trashed table cannot be changed (409) and stays as it was', async () => {
    const other = await app.request('POST', '/tables', { json: { name: 'Doomed' } });
    const v = await app.request('POST', `/tables/${other.body.id}/views`, { json: { name: 'V' } });
    expect(v.status).to.equal(201);
    await app.request('DELETE', `/tables/${other.body.id}`);
    const res = await app.request('PATCH', `/tables/${other.body.id}/views/${v.body.id}`, { json: { name: 'W' } });
    expect(res.status).to.be.oneOf([404, 409]);
    expect((await sql.one(`SELECT name FROM tablewright.views WHERE id = $1`, [v.body.id])).name).to.equal('V');
  });

  it('a form POST (no JavaScript) saves a view and is sent to the table through it', async () => {
    const res = await app.request('POST', `/tables/${t}/views`, {
      headers: { Accept: 'text/html' },
      form: { name: 'From a form', sort: '-price', filter: JSON.stringify([{ column: 'code', op: 'eq', value: '2' }]), hidden: 'notes,kind' },
    });
    expect(res.status, res.text).to.equal(303);
    const id = (await sql.one(`SELECT id, spec FROM tablewright.views WHERE name = 'From a form'`)).id;
    expect(res.headers.get('location')).to.equal(`/tables/${t}?view=${id}`);
    const listed = await app.request('GET', `/tables/${t}/rows?view=${id}&size=1000`);
    expect(ids(listed.body.rows)).to.deep.equal((await sql.rows(`SELECT id FROM data.items WHERE code = '2' ORDER BY price DESC NULLS LAST, id`)).map((r) => r.id));
    expect(fields.price).to.not.equal(undefined);
  });
});
