// The link picker: GET /tables/:id/rows/choices (routes/rows.ts, model/choices.ts) and the
// <datalist> the link editors carry (grid_link_input.ejs), over real HTTP on real
// PostgreSQL. size beyond 1..50 is refused (400, field `size`), not clamped.
import { expect } from 'chai';
import { createTestToken, startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';

const HX = { Accept: 'text/html', 'HX-Request': 'true' };
const XSS = '<script>alert(1)</script>';

interface Choice {
  id: number;
  label: string;
}

describe('link picker: rows as choices, and the datalist in link editors', () => {
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let companies: number;
  let people: number;
  /** every company row, by id */
  let all: Choice[];

  const choices = (tableId: number, query: Record<string, string> = {}, opts: Parameters<TestApp['request']>[2] = {}) =>
    app.request('GET', `/tables/${tableId}/rows/choices${Object.keys(query).length ? `?${new URLSearchParams(query)}` : ''}`, opts);
  const options = (html: string) => [...html.matchAll(/<option value="(\d+)">([^<]*)<\/option>/g)].map((m) => ({ value: Number(m[1]), text: m[2] }));

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url);
    sql = await Sql.connect(db.url);
    // The label is the first text, long text or email field in display order: Code (a
    // number) comes first and is skipped, Name is the label, Email is not.
    const c = await app.request('POST', '/tables', {
      json: { name: 'Companies', fields: [{ name: 'Code', type: 'number' }, { name: 'Name', type: 'text' }, { name: 'Email', type: 'email' }] },
    });
    expect(c.status, c.text).to.equal(201);
    companies = c.body.id;
    const names = ['Acme Corp', 'Globex', 'ACME Labs', XSS, '100% Cotton', 'Initech', ''];
    for (let i = 1; i <= 25; i++) names.push(`Filler ${String(i).padStart(2, '0')}`);
    const made = await app.request('POST', `/tables/${companies}/rows`, { json: names.map((name, i) => ({ code: i, name: name || null, email: `c${i}@example.com` })) });
    expect(made.status, made.text).to.equal(201);
    all = made.body.rows.map((r: { id: number; name: string | null }) => ({ id: r.id, label: r.name ?? `#${r.id}` }));

    const p = await app.request('POST', '/tables', {
      json: { name: 'People', fields: [{ name: 'Name', type: 'text' }, { name: 'Employer', type: 'link', options: { table_id: companies } }] },
    });
    expect(p.status, p.text).to.equal(201);
    people = p.body.id;
    const person = await app.request('POST', `/tables/${people}/rows`, { json: { name: 'Ann', employer: all[0]!.id } });
    expect(person.status, person.text).to.equal(201);
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  it('q matches the label case-insensitively as a substring, by id order', async () => {
    const res = await choices(companies, { q: 'acme' });
    expect(res.status, res.text).to.equal(200);
    expect(res.body.choices).to.deep.equal(all.filter((c) => /acme/i.test(c.label)));
    expect(res.body.choices.map((c: Choice) => c.label)).to.deep.equal(['Acme Corp', 'ACME Labs']);
  });

  it('q is bound as text: LIKE wildcards and quotes match themselves', async () => {
    expect((await choices(companies, { q: '%' })).body.choices.map((c: Choice) => c.label)).to.deep.equal(['100% Cotton']);
    expect((await choices(companies, { q: '_' })).body.choices).to.deep.equal([]);
    expect((await choices(companies, { q: "' OR '1'='1" })).body.choices).to.deep.equal([]);
  });

  it('q of digits is an exact id (that row first), and labels that contain the digits follow', async () => {
    const globex = all.find((c) => c.label === 'Globex')!;
    const q = String(globex.id);
    const res = await choices(companies, { q });
    expect(res.status, res.text).to.equal(200);
    expect(res.body.choices[0]).to.deep.equal(globex);
    expect(res.body.choices.slice(1)).to.deep.equal(all.filter((c) => c.id !== globex.id && c.label.includes(q) && !c.label.startsWith('#')));
    // an id no row has: only labels
    expect((await choices(companies, { q: '987654' })).body.choices).to.deep.equal([]);
  });

  it('without q: the first rows by id, 20 unless size says otherwise; a row without a label is #id', async () => {
    const res = await choices(companies);
    expect(res.status, res.text).to.equal(200);
    expect(res.body.choices).to.deep.equal(all.slice(0, 20));
    const empty = all.find((c) => c.label.startsWith('#'))!;
    expect(res.body.choices).to.deep.include({ id: empty.id, label: `#${empty.id}` });
    expect((await choices(companies, { size: '3' })).body.choices).to.deep.equal(all.slice(0, 3));
    expect((await choices(companies, { size: '50' })).body.choices).to.deep.equal(all.slice(0, 50));
    expect((await choices(companies, { q: 'filler', size: '2' })).body.choices.map((c: Choice) => c.label)).to.deep.equal(['Filler 01', 'Filler 02']);
  });

  it('size outside 1..50 is refused with 400 naming size (never clamped), and so is a q that is not one short text', async () => {
    for (const size of ['1000', '51', '0', '-1', 'abc', '1.5', '1e1']) {
      const res = await choices(companies, { size });
      expect(res.status, `size=${size}: ${res.text}`).to.equal(400);
      expect(res.body.error.field, `size=${size}`).to.equal('size');
    }
    for (const q of ['a\u0000b', 'x'.repeat(201)]) {
      const res = await choices(companies, { q });
      expect(res.status, res.text).to.equal(400);
      expect(res.body.error.field).to.equal('q');
    }
    const twice = await app.request('GET', `/tables/${companies}/rows/choices?q=a&q=b`);
    expect(twice.status, twice.text).to.equal(400);
    expect(twice.body.error.field).to.equal('q');
  });

  it('a table without a label field: every label is #id, q of digits finds the id, other text finds nothing', async () => {
    const t = await app.request('POST', '/tables', { json: { name: 'Counters', fields: [{ name: 'Value', type: 'number' }] } });
    expect(t.status, t.text).to.equal(201);
    const rows = await app.request('POST', `/tables/${t.body.id}/rows`, { json: [{ value: 1 }, { value: 2 }] });
    const ids: number[] = rows.body.rows.map((r: { id: number }) => r.id);
    expect((await choices(t.body.id)).body.choices).to.deep.equal(ids.map((id) => ({ id, label: `#${id}` })));
    expect((await choices(t.body.id, { q: String(ids[1]) })).body.choices).to.deep.equal([{ id: ids[1], label: `#${ids[1]}` }]);
    expect((await choices(t.body.id, { q: 'one' })).body.choices).to.deep.equal([]);
    const frag = await choices(t.body.id, {}, { headers: HX });
    expect(options(frag.text)).to.deep.equal(ids.map((id) => ({ value: id, text: `#${id}` })));
  });

  it('a table in the trash, or no table at all, is a 404', async () => {
    const t = await app.request('POST', '/tables', { json: { name: 'Binned' } });
    expect((await app.request('DELETE', `/tables/${t.body.id}`)).status).to.equal(200);
    const trashed = await choices(t.body.id);
    expect(trashed.status, trashed.text).to.equal(404);
    expect(trashed.body.error.code).to.equal('not_found');
    expect((await choices(999999)).status).to.equal(404);
  });

  it('a viewer may read the choices; without credentials it is a 401', async () => {
    const viewer = await createTestToken(app, 'viewer');
    const res = await choices(companies, { q: 'glob' }, { auth: { token: viewer } });
    expect(res.status, res.text).to.equal(200);
    expect(res.body.choices.map((c: Choice) => c.label)).to.deep.equal(['Globex']);
    expect((await choices(companies, {}, { auth: false })).status).to.equal(401);
  });

  it('htmx gets <option value="ID">label (#ID)</option> elements, labels escaped', async () => {
    const res = await choices(companies, { q: 'script' }, { headers: HX });
    expect(res.status, res.text).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^text\/html/);
    expect(res.headers.get('vary')).to.match(/HX-Request/);
    const x = all.find((c) => c.label === XSS)!;
    expect(res.text).not.to.include(XSS);
    expect(res.text.trim()).to.equal(`<option value="${x.id}">&lt;script&gt;alert(1)&lt;/script&gt; (#${x.id})</option>`);
    const acme = await choices(companies, { q: 'acme' }, { headers: HX });
    expect(options(acme.text)).to.deep.equal(all.filter((c) => /acme/i.test(c.label)).map((c) => ({ value: c.id, text: `${c.label} (#${c.id})` })));
  });

  it('the choices label is the one a link cell shows (the first text-like field in display order)', async () => {
    const grid = await app.request('GET', `/tables/${people}`, { headers: { Accept: 'text/html' } });
    expect(grid.text).to.include(`<span class="linked" title="row ${all[0]!.id}">Acme Corp</span>`);
    expect((await choices(companies, { q: String(all[0]!.id) })).body.choices[0]).to.deep.equal({ id: all[0]!.id, label: 'Acme Corp' });
  });

  it('a link cell editor has the id input with a datalist of the first rows, refreshed with hx-get as the user types', async () => {
    const ann = (await sql.one(`SELECT id FROM data.people WHERE name = 'Ann'`)).id as number;
    const res = await app.request('GET', `/tables/${people}/rows/${ann}/cells/employer/edit`, { headers: HX });
    expect(res.status, res.text).to.equal(200);
    const listId = `edit-${ann}-employer-choices`;
    const input = /<input id="edit-\d+-employer"[^>]*>/.exec(res.text)![0];
    expect(input).to.include(`name="value" value="${all[0]!.id}"`);
    expect(input).to.include(`list="${listId}"`);
    expect(input).to.include(`hx-get="/tables/${companies}/rows/choices"`);
    expect(input).to.include('hx-trigger="input changed delay:200ms"');
    expect(input).to.include(`hx-target="#${listId}"`);
    expect(input).to.include('hx-swap="innerHTML"');
    expect(input).to.include('data-choices');
    expect(input).to.include(`aria-describedby="hint-${ann}-employer"`);
    // labelled, and the hint names the current row
    expect(res.text).to.include(`<label class="sr-only" for="edit-${ann}-employer">Employer, row ${ann}</label>`);
    expect(res.text).to.include(`<span class="muted hint" id="hint-${ann}-employer">now: Acme Corp (#${all[0]!.id})</span>`);
    const list = new RegExp(`<datalist id="${listId}">([\\s\\S]*?)</datalist>`).exec(res.text);
    expect(list, 'the datalist').to.not.equal(null);
    expect(options(list![1]!)).to.deep.equal(all.slice(0, 20).map((c) => ({ value: c.id, text: c.label.startsWith('#') ? c.label : `${c.label} (#${c.id})`.replace(XSS, '&lt;script&gt;alert(1)&lt;/script&gt;') })));
    expect(list![1]).not.to.include(XSS);
    // Saving an id picked from the list shows that row's label in the cell.
    const globex = all.find((c) => c.label === 'Globex')!;
    const saved = await app.request('PATCH', `/tables/${people}/rows/${ann}/cells/employer`, { headers: HX, form: { value: String(globex.id) } });
    expect(saved.status, saved.text).to.equal(200);
    expect(saved.text).to.include(`<span class="linked" title="row ${globex.id}">Globex</span>`);
    // A refused id re-renders the editor with its datalist, the message, and both described.
    const bad = await app.request('PATCH', `/tables/${people}/rows/${ann}/cells/employer`, { headers: HX, form: { value: '999999' } });
    expect(bad.status).to.equal(422);
    expect(bad.text).to.include(`<datalist id="${listId}">`);
    expect(bad.text).to.include(`aria-invalid="true" aria-describedby="hint-${ann}-employer err-${ann}-employer"`);
  });

  it('the add-row form gives link fields the same datalist; other fields keep plain inputs', async () => {
    const res = await app.request('GET', `/tables/${people}`, { headers: { Accept: 'text/html' } });
    const form = /<details class="add-row"[\s\S]*?<\/details>/.exec(res.text)![0];
    expect(form).to.match(new RegExp(`<input id="add-employer" type="text" name="employer" value="" autocomplete="off" list="add-employer-choices" hx-get="/tables/${companies}/rows/choices"`));
    const list = /<datalist id="add-employer-choices">([\s\S]*?)<\/datalist>/.exec(form);
    expect(options(list![1]!).map((o) => o.value)).to.deep.equal(all.slice(0, 20).map((c) => c.id));
    expect(form).to.include('<label for="add-employer">Employer</label>');
    expect(form).to.include('<span class="muted hint" id="add-employer-hint">a label or row id; type to search Companies</span>');
    expect(form).to.include('<input id="add-name" type="text" name="name" value="">');
    // A viewer gets no add-row form, and so no picker either.
    const viewer = await createTestToken(app, 'viewer');
    const seen = await app.request('GET', `/tables/${people}`, { headers: { Accept: 'text/html' }, auth: { token: viewer } });
    expect(seen.text).not.to.include('<datalist');
  });

  it('a link to a table now in the trash edits by id alone (no datalist), and the grid still renders', async () => {
    const t = await app.request('POST', '/tables', { json: { name: 'Gone soon' } });
    const f = await app.request('POST', `/tables/${people}/fields`, { json: { name: 'Old link', type: 'link', options: { table_id: t.body.id } } });
    expect(f.status, f.text).to.equal(201);
    expect((await app.request('DELETE', `/tables/${t.body.id}`)).status).to.equal(200);
    const ann = (await sql.one(`SELECT id FROM data.people WHERE name = 'Ann'`)).id as number;
    const res = await app.request('GET', `/tables/${people}/rows/${ann}/cells/${f.body.column}/edit`, { headers: HX });
    expect(res.status, res.text).to.equal(200);
    expect(res.text).to.match(new RegExp(`<input id="edit-${ann}-${f.body.column}" type="text" name="value" value="" autocomplete="off" autofocus inputmode="numeric"`));
    expect(res.text).not.to.include('<datalist');
    const grid = await app.request('GET', `/tables/${people}`, { headers: { Accept: 'text/html' } });
    expect(grid.status).to.equal(200);
    expect(grid.text).to.include(`id="add-${f.body.column}"`);
    expect(grid.text).not.to.include(`id="add-${f.body.column}-choices"`);
  });
});
