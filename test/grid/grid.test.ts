// The console grid on the table page (routes/grid_page.ts and grid_cell_edit.ts, views/partials/grid*.ejs), over real
// HTTP on real PostgreSQL: what a browser and htmx get, escaped, and what edits write.
import { expect } from 'chai';
import { createTestToken, startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';

const HTML = { Accept: 'text/html' };
const HX = { Accept: 'text/html', 'HX-Request': 'true' };
const XSS = '<script>alert(1)</script>';

describe('grid: the rows on the table page', () => {
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let tableId: number;

  const page = (query = '') => app.request('GET', `/tables/${tableId}${query}`, { headers: HTML });
  const bodyRows = (html: string) => [...html.matchAll(/<tr id="row-(\d+)">/g)].map((m) => Number(m[1]));

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url);
    sql = await Sql.connect(db.url);
    const companies = (await app.request('POST', '/tables', { json: { name: 'Companies' } })).body.id;
    await sql.exec(`INSERT INTO data.companies (name) VALUES ('Acme')`);
    const t = await app.request('POST', '/tables', {
      json: {
        name: 'People "<b>&',
        table_name: 'people',
        fields: [
          { name: 'Name', type: 'text' },
          { name: 'Age', type: 'number' },
          { name: 'Active', type: 'boolean' },
          { name: 'Born', type: 'date' },
          { name: 'Seen', type: 'datetime' },
          { name: 'Site', type: 'url' },
          { name: 'Email', type: 'email' },
          { name: 'Size', type: 'single_select', options: { choices: [{ label: 'Small', color: 'green' }, { label: 'Large', color: 'red' }] } },
          { name: 'Extra', type: 'json' },
          { name: 'Employer', type: 'link', options: { table_id: companies } },
          { name: 'Notes', type: 'long_text' },
          { name: 'Odd "<i>" name', type: 'text', column: 'odd' },
        ],
      },
    });
    expect(t.status, t.text).to.equal(201);
    tableId = t.body.id;
    const rows = [
      { name: XSS, age: 40, active: true, born: '1984-02-29', seen: '2024-03-01T10:00:00Z', site: 'https://example.com/a?b=1&c=2', email: 'ann@example.com', size: 'Small', extra: { a: [1, 2] }, employer: 1, notes: 'n'.repeat(300), odd: `"quoted" <tag>` },
      { name: 'Bob', age: 25, active: false, size: 'Large' },
      { name: 'Cid', age: 33 },
    ];
    const r = await app.request('POST', `/tables/${tableId}/rows`, { json: rows });
    expect(r.status, r.text).to.equal(201);
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  it('renders every value escaped: a script in a cell, quotes and angle brackets in names, never raw', async () => {
    const res = await page();
    expect(res.status, res.text).to.equal(200);
    expect(res.text).to.include('id="grid"');
    expect(res.text).not.to.include(XSS);
    expect(res.text).to.include('&lt;script&gt;alert(1)&lt;/script&gt;');
    // the table's display name, in the heading and the grid's aria-label
    expect(res.text).not.to.include('People "<b>&');
    expect(res.text).to.include('aria-label="Rows of People &#34;&lt;b&gt;&amp;"');
    // a field's display name with quotes and brackets, in the header, and a cell value like it
    expect(res.text).not.to.include('Odd "<i>" name');
    expect(res.text).to.include('Odd &#34;&lt;i&gt;&#34; name');
    expect(res.text).not.to.include('"quoted" <tag>');
    expect(res.text).to.include('&#34;quoted&#34; &lt;tag&gt;');
  });

  it('shows each type its own way: checkbox, date, UTC datetime, link label, coloured tag, JSON as PostgreSQL writes it, truncated long text, safe links', async () => {
    const { text } = await page();
    expect(text).to.match(/<td id="cell-1-active"[^>]*><input type="checkbox" disabled tabindex="-1" aria-label="yes" checked>/);
    expect(text).to.match(/<td id="cell-2-active"[^>]*><input type="checkbox" disabled tabindex="-1" aria-label="no">/);
    expect(text).to.include('>1984-02-29</td>');
    expect(text).to.include('>2024-03-01 10:00 UTC</span>');
    expect(text).to.include('<span class="linked" title="row 1">Acme</span>');
    expect(text).to.include('<span class="tag tag-green">Small</span>');
    expect(text).to.include('<span class="tag tag-red">Large</span>');
    expect(text).to.include('>{&#34;a&#34;: [1, 2]}</span>');
    expect(text).to.include(`title="${'n'.repeat(300)}">${'n'.repeat(119)}…</span>`);
    expect(text).to.include('<a href="https://example.com/a?b=1&amp;c=2" rel="noopener nofollow" target="_blank">https://example.com/a?b=1&amp;c=2</a>');
    expect(text).to.include('<a href="mailto:ann@example.com">ann@example.com</a>');
    // cells are focusable and named; the grid is labelled and captioned
    expect(text).to.match(/<td id="cell-2-name" class="cell" tabindex="-1" data-column="name" aria-label="Name: Bob"/);
    expect(text).to.include('<caption class="sr-only">');
    // the script that drives the keyboard is loaded by the layout, as a file
    expect(text).to.include('<script src="/public/js/grid.js" defer></script>');
  });

  it('sort headers are links that set sort=col, then -col, and the rows follow', async () => {
    const first = await page();
    expect(first.text).to.include(`href="/tables/${tableId}?sort=age"`);
    expect(first.text).to.include(`hx-get="/tables/${tableId}/grid?sort=age"`);
    const asc = await page('?sort=age');
    expect(bodyRows(asc.text)).to.deep.equal([2, 3, 1]);
    expect(asc.text).to.match(/aria-sort="ascending" title="age \(Number\)"/);
    expect(asc.text).to.include(`href="/tables/${tableId}?sort=-age"`);
    const desc = await page('?sort=-age');
    expect(bodyRows(desc.text)).to.deep.equal([1, 3, 2]);
    expect(desc.text).to.match(/aria-sort="descending" title="age \(Number\)"/);
  });

  it('the filter form round-trips: the GET form filters (AND-ed), and shows the filters it applied', async () => {
    const q = '?fc=age&fo=gt&fv=30&fc=active&fo=not_empty&fv=&fc=&fo=eq&fv=';
    const res = await page(q);
    expect(res.status, res.text).to.equal(200);
    expect(bodyRows(res.text)).to.deep.equal([1]);
    expect(res.text).to.include('1 row match');
    // the applied filters come back as form rows: field and operator selected, value filled in
    expect(res.text).to.match(/<option value="age" data-ops="[^"]*" selected>Age<\/option>/);
    expect(res.text).to.match(/<option value="gt" selected>&gt;<\/option>/);
    expect(res.text).to.include('id="fv-0" type="text" name="fv" value="30"');
    // an applied filter's operator list holds only what its type can do
    const opsOfActive = /<select id="fo-1"[^>]*>([\s\S]*?)<\/select>/.exec(res.text)![1]!;
    expect([...opsOfActive.matchAll(/value="(\w+)"/g)].map((m) => m[1])).to.deep.equal(['eq', 'neq', 'empty', 'not_empty']);
    // sort links keep the filters
    expect(res.text).to.include(`href="/tables/${tableId}?fc=age&amp;fo=gt&amp;fv=30&amp;fc=active&amp;fo=not_empty&amp;fv=&amp;sort=name"`);
    // search box too
    const s = await page('?search=bo');
    expect(bodyRows(s.text)).to.deep.equal([2]);
    expect(s.text).to.include('name="search" value="bo"');
  });

  it('htmx gets the grid alone, and HX-Push-Url names the page URL for the same query', async () => {
    const res = await app.request('GET', `/tables/${tableId}/grid?fc=age&fo=lt&fv=30`, { headers: HX });
    expect(res.status, res.text).to.equal(200);
    expect(res.text.trimStart()).to.match(/^<section id="grid"/);
    expect(res.text).not.to.include('<html');
    expect(bodyRows(res.text)).to.deep.equal([2]);
    expect(res.headers.get('hx-push-url')).to.equal(`/tables/${tableId}?fc=age&fo=lt&fv=30`);
    expect(res.headers.get('vary')).to.match(/HX-Request/);
  });

  it('a filter the type cannot do shows a message in the grid (the page still renders)', async () => {
    const res = await page('?fc=active&fo=gt&fv=1');
    expect(res.status).to.equal(200);
    expect(res.text).to.match(/class="error field-error" role="alert" id="fv-0-err" data-filter-error>Active \(Checkbox\) cannot be filtered with &#34;gt&#34;/);
    expect(bodyRows(res.text)).to.have.length(3);
  });

  it('one bad filter value keeps the valid filters: the bad one is marked beside its input and left out', async () => {
    const res = await page('?fc=age&fo=gt&fv=not-a-number&fc=age&fo=lt&fv=30');
    expect(res.status).to.equal(200);
    expect(bodyRows(res.text), 'age < 30 still applies').to.deep.equal([2]);
    expect(res.text).to.include('id="fv-0" type="text" name="fv" value="not-a-number" aria-invalid="true" aria-describedby="fv-0-err"');
    expect(res.text).to.match(/id="fv-0-err" data-filter-error>Age[^<]*is not a number[^<]*\(this filter is not applied\)/);
    expect(res.text, 'the good filter is not marked').not.to.include('fv-1-err');
  });

  it('numbered pages and a size selector', async () => {
    const res = await page('?size=1&page=2&sort=id');
    expect(bodyRows(res.text)).to.deep.equal([2]);
    expect(res.text).to.include('<nav class="pager" aria-label="Pages">');
    expect(res.text).to.include(`href="/tables/${tableId}?sort=id&amp;size=1" hx-get="/tables/${tableId}/grid?sort=id&amp;size=1">1</a>`);
    expect(res.text).to.include(`href="/tables/${tableId}?sort=id&amp;page=2&amp;size=1" aria-current="page"`);
    expect(res.text).to.include('rel="next"');
    expect(res.text).to.match(/<option value="25">25<\/option>/);
  });

  it('edits a cell: the editor fragment, a bad value answers 422 with the message in the cell, a good one the display cell and the database changes', async () => {
    const cell = `/tables/${tableId}/rows/2/cells/age`;
    const editor = await app.request('GET', `${cell}/edit`, { headers: HX });
    expect(editor.status, editor.text).to.equal(200);
    expect(editor.text.trimStart()).to.match(/^<td id="cell-2-age" class="cell editing"/);
    expect(editor.text).to.include(`hx-patch="${cell}"`);
    expect(editor.text).to.match(/<input id="edit-2-age" type="text" name="value" value="25" autofocus/);

    const bad = await app.request('PATCH', cell, { headers: HX, form: { value: 'old<b>' } });
    expect(bad.status, bad.text).to.equal(422);
    expect(bad.headers.get('hx-retarget')).to.equal(null); // the error stays in the cell
    expect(bad.text.trimStart()).to.match(/^<td id="cell-2-age" class="cell editing invalid"/);
    expect(bad.text).to.include('<p class="field-error" id="err-2-age" role="alert">Age &#34;old&lt;b&gt;&#34; is not a number</p>');
    expect(bad.text).to.include('value="old&lt;b&gt;"'); // what was typed, escaped
    expect(bad.text).to.include('aria-invalid="true"');
    expect(Number((await sql.one(`SELECT age FROM data.people WHERE id = 2`)).age)).to.equal(25);

    const good = await app.request('PATCH', cell, { headers: HX, form: { value: '26' } });
    expect(good.status, good.text).to.equal(200);
    expect(good.text.trimStart()).to.match(/^<td id="cell-2-age" class="cell num"[^>]*data-editable="1"[^>]*>26<\/td>/);
    expect(Number((await sql.one(`SELECT age FROM data.people WHERE id = 2`)).age)).to.equal(26);

    // cancelling fetches the display cell
    const shown = await app.request('GET', cell, { headers: HX });
    expect(shown.text).to.match(/>26<\/td>/);
  });

  it('edits a boolean by toggling its checkbox (a cleared checkbox sends only the hidden false)', async () => {
    const cell = `/tables/${tableId}/rows/1/cells/active`;
    const editor = await app.request('GET', `${cell}/edit`, { headers: HX });
    expect(editor.text).to.match(/type="checkbox" name="value" value="true" autofocus checked/);
    const off = await app.request('PATCH', cell, { headers: HX, form: { value: 'false' } });
    expect(off.status, off.text).to.equal(200);
    expect((await sql.one(`SELECT active FROM data.people WHERE id = 1`)).active).to.equal(false);
    const on = await fetch(new URL(cell, app.url), {
      method: 'PATCH',
      headers: { Authorization: `Bearer ${app.adminToken}`, 'HX-Request': 'true', 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'value=false&value=true',
    });
    expect(on.status).to.equal(200);
    await on.text();
    expect((await sql.one(`SELECT active FROM data.people WHERE id = 1`)).active).to.equal(true);
  });

  it('a select cell edits with the options, a link cell by id, and an unknown column is a 404', async () => {
    const editor = await app.request('GET', `/tables/${tableId}/rows/2/cells/size/edit`, { headers: HX });
    expect(editor.text).to.match(/<option value="2" selected>Large<\/option>/);
    const saved = await app.request('PATCH', `/tables/${tableId}/rows/2/cells/size`, { headers: HX, form: { value: '1' } });
    expect(saved.text).to.include('<span class="tag tag-green">Small</span>');
    const badLink = await app.request('PATCH', `/tables/${tableId}/rows/2/cells/employer`, { headers: HX, form: { value: '999' } });
    expect(badLink.status).to.equal(422);
    expect(badLink.text).to.include('Employer: no such row in the linked table');
    const nope = await app.request('GET', `/tables/${tableId}/rows/2/cells/nope/edit`, { headers: HX });
    expect(nope.status).to.equal(404);
  });

  it('without JavaScript a cell save is a form POST with _method=PATCH that answers 303 to the table', async () => {
    const res = await app.request('POST', `/tables/${tableId}/rows/3/cells/name`, { headers: HTML, form: { _method: 'PATCH', value: 'Cyd' } });
    expect(res.status).to.equal(303);
    expect(res.headers.get('location')).to.equal(`/tables/${tableId}`);
    expect((await sql.one(`SELECT name FROM data.people WHERE id = 3`)).name).to.equal('Cyd');
  });

  it('adds a row from the grid form and answers the grid for the same query; a bad value re-shows the form with the message', async () => {
    const added = await app.request('POST', `/tables/${tableId}/grid/rows?sort=-id`, { headers: HX, form: { name: 'Dee', age: '51', active: 'true' } });
    expect(added.status, added.text).to.equal(201);
    const id = (await sql.one(`SELECT id FROM data.people WHERE name = 'Dee'`)).id;
    expect(bodyRows(added.text)[0]).to.equal(Number(id));
    expect(added.text).to.include(`Row ${id} added.`);
    const bad = await app.request('POST', `/tables/${tableId}/grid/rows`, { headers: HX, form: { name: 'Eve', age: 'x' } });
    expect(bad.status).to.equal(422);
    expect(bad.text).to.include('<details class="add-row" open>');
    expect(bad.text).to.include('Age &#34;x&#34; is not a number');
    expect(bad.text).to.include('id="add-name" type="text" name="name" value="Eve"');
    expect((await sql.rows(`SELECT 1 FROM data.people WHERE name = 'Eve'`))).to.have.length(0);
    const noJs = await app.request('POST', `/tables/${tableId}/grid/rows?sort=age`, { headers: HTML, form: { name: 'Fay' } });
    expect(noJs.status).to.equal(303);
    expect(noJs.headers.get('location')).to.equal(`/tables/${tableId}?sort=age`);
  });

  it('deletes a row (hx-confirm with htmx; without it a confirm page whose form POSTs _method=DELETE)', async () => {
    const { text } = await page();
    expect(text).to.match(/href="\/tables\/\d+\/rows\/1\/delete\?" hx-delete="\/tables\/\d+\/grid\/rows\/1\?" hx-confirm="Delete row 1\?/);
    const confirm = await app.request('GET', `/tables/${tableId}/rows/1/delete?sort=id`, { headers: HTML });
    expect(confirm.status).to.equal(200);
    expect(confirm.text).to.include(`action="/tables/${tableId}/grid/rows/1?sort=id"`);
    expect(confirm.text).to.include('<input type="hidden" name="_method" value="DELETE">');
    const id = Number((await sql.one(`INSERT INTO data.people (name) VALUES ('Gone') RETURNING id`)).id);
    const res = await app.request('POST', `/tables/${tableId}/grid/rows/${id}?sort=id`, { headers: HTML, form: { _method: 'DELETE' } });
    expect(res.status).to.equal(303);
    expect(res.headers.get('location')).to.equal(`/tables/${tableId}?sort=id&flash=row_deleted&n=${id}`);
    expect(await sql.rows(`SELECT 1 FROM data.people WHERE id = $1`, [id])).to.have.length(0);
    const id2 = Number((await sql.one(`INSERT INTO data.people (name) VALUES ('Gone2') RETURNING id`)).id);
    const hx = await app.request('DELETE', `/tables/${tableId}/grid/rows/${id2}`, { headers: HX });
    expect(hx.status).to.equal(200);
    expect(bodyRows(hx.text)).not.to.include(id2);
  });

  it('a viewer sees the grid without editors, delete buttons, add or import forms', async () => {
    const viewer = await createTestToken(app, 'viewer');
    const res = await app.request('GET', `/tables/${tableId}`, { headers: HTML, auth: { token: viewer } });
    expect(res.status).to.equal(200);
    const grid = /<section id="grid"[\s\S]*?<\/section>/.exec(res.text)![0];
    expect(grid).not.to.include('data-editable');
    expect(grid).not.to.include('hx-delete');
    expect(grid).not.to.include('Add a row');
    expect(grid).not.to.include('Import CSV');
    expect(grid).to.include('Export CSV');
    const edit = await app.request('GET', `/tables/${tableId}/rows/1/cells/name/edit`, { headers: HX, auth: { token: viewer } });
    expect(edit.status).to.equal(403);
  });
});
