// The console's pages over HTTP: the tables list with rows, size and last change (exact
// counts for small tables, PostgreSQL's estimate for big ones), the navigation with the
// active section marked and admin links for admins only, the tabs of the table page, and
// the error fragment that names the field it concerns (for public/js/forms.js).
import { expect } from 'chai';
import { EXACT_COUNT_BYTES } from '../../server/console/stats.js';
import { addUser, sessionFor } from '../auth/lib.js';
import { createTestToken, startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';

const HTML = { Accept: 'text/html' };

/** The <tr> of the tables list that links to this table. */
function tableRow(html: string, id: number): string {
  const rows = html.match(/<tr>[\s\S]*?<\/tr>/g) ?? [];
  const row = rows.find((r) => r.includes(`href="/tables/${id}"`));
  if (!row) throw new Error(`no row for table ${id}`);
  return row;
}
const cells = (row: string) => (row.match(/<td[^>]*>[\s\S]*?<\/td>/g) ?? []).map((c) => c.replace(/<[^>]+>/g, '').replace(/\s+/g, ' ').trim());

describe('console pages: tables list, navigation, tabs, errors beside fields', () => {
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url, { DRIFT_CHECK_INTERVAL: 'off', CLEANUP_INTERVAL: 'off' });
    sql = await Sql.connect(db.url);
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  it('the tables list shows exact row counts for small tables, the size on disk, and who changed the schema last', async () => {
    const empty = await app.request('GET', '/tables', { headers: HTML });
    expect(empty.text, 'the empty state says what to do next').to.include('Give your first table a name above');

    const id = (await app.request('POST', '/tables', { json: { name: 'Small' } })).body.id;
    expect((await app.request('POST', `/tables/${id}/rows`, { json: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] })).status).to.equal(201);
    const res = await app.request('GET', '/tables', { headers: HTML });
    const [name, physical, rows, size, last] = cells(tableRow(res.text, id));
    expect(name).to.equal('Small');
    expect(physical).to.equal('small');
    expect(rows, 'counted exactly (never analyzed: no estimate yet)').to.equal('3');
    expect(size).to.match(/^\d+ kB$/);
    expect(last).to.match(/^just now by token test admin/);
  });

  it("a big table shows PostgreSQL's estimate, marked ~, instead of a count(*)", async function () {
    this.timeout(60_000);
    const id = (await app.request('POST', '/tables', { json: { name: 'Big', fields: [{ name: 'Payload', type: 'text' }] } })).body.id;
    // Past EXACT_COUNT_BYTES of heap: about 300 bytes a row.
    const n = Math.ceil((EXACT_COUNT_BYTES * 1.5) / 300);
    await sql.exec(`INSERT INTO data.big (payload) SELECT repeat('x', 250) FROM generate_series(1, $1)`, [n]);
    await sql.exec(`ANALYZE data.big`);
    const { estimate } = await sql.one<{ estimate: number }>(`SELECT reltuples::int8 AS estimate FROM pg_class WHERE oid = 'data.big'::regclass`);
    const res = await app.request('GET', '/tables', { headers: HTML });
    const row = tableRow(res.text, id);
    expect(row).to.include(`title="PostgreSQL's estimate"`);
    expect(cells(row)[2]).to.equal(`~${Number(estimate).toLocaleString('en-US')}`);
    expect(cells(row)[3]).to.match(/^\d+ MB$/);
  });

  it('a table missing in PostgreSQL (dropped outside the console) says so and links to the drift report', async () => {
    const id = (await app.request('POST', '/tables', { json: { name: 'Vanishing' } })).body.id;
    await sql.exec(`DROP TABLE data.vanishing`);
    const res = await app.request('GET', '/tables', { headers: HTML });
    expect(tableRow(res.text, id)).to.include('<a href="/reconcile" class="warn-text">missing in PostgreSQL</a>');
  });

  it('navigation marks the active section; admins see every section, viewers only Tables, History and Jobs and no admin forms', async () => {
    const admin = await app.request('GET', '/tables', { headers: HTML });
    const nav = admin.text.match(/<nav aria-label="Main">([\s\S]*?)<\/nav>/)![1]!;
    expect([...nav.matchAll(/<a href="([^"]+)"/g)].map((m) => m[1])).to.deep.equal(['/tables', '/history', '/jobs', '/reconcile', '/trash', '/users', '/tokens']);
    expect(nav).to.include('<a href="/tables" aria-current="page">Tables</a>');
    expect(nav.match(/aria-current/g)).to.have.length(1);
    expect(admin.text).to.include('<form class="panel row create-table"');

    for (const [path, label] of [['/users', 'Users'], ['/tokens', 'Tokens'], ['/reconcile', 'Drift'], ['/trash', 'Trash'], ['/history', 'History'], ['/jobs', 'Jobs']]) {
      const page = await app.request('GET', path!, { headers: HTML });
      expect(page.text, path).to.include(`<a href="${path}" aria-current="page">${label}</a>`);
    }

    const viewer = await app.request('GET', '/tables', { auth: { token: await createTestToken(app, 'viewer') }, headers: HTML });
    const viewerNav = viewer.text.match(/<nav aria-label="Main">([\s\S]*?)<\/nav>/)![1]!;
    expect([...viewerNav.matchAll(/<a href="([^"]+)"/g)].map((m) => m[1])).to.deep.equal(['/tables', '/history', '/jobs']);
    expect(viewer.text, 'no create form for a viewer').not.to.include('create-table');
    expect(viewer.text, 'no rename or trash for a viewer').not.to.include('Rename or trash');
  });

  it('the table page has Rows | Fields | SQL | History tabs as links; each works without JavaScript', async () => {
    const id = (await app.request('POST', '/tables', { json: { name: 'Tabbed', fields: [{ name: 'Title', type: 'text' }] } })).body.id;
    const tabs = (html: string) => [...html.matchAll(/<a id="tab-(\w+)" href="([^"]+)"[^>]*?( aria-current="page")?>/g)].map((m) => `${m[1]} ${m[2]}${m[3] ? ' (current)' : ''}`);
    const rows = await app.request('GET', `/tables/${id}`, { headers: HTML });
    expect(tabs(rows.text)).to.deep.equal([`rows /tables/${id} (current)`, `fields /tables/${id}?tab=fields`, `sql /tables/${id}?tab=sql`, `history /tables/${id}?tab=history`]);
    expect(rows.text).to.include('id="grid"');
    expect(rows.text, 'the field panel is on its own tab').not.to.include('id="fields-panel"');

    const fields = await app.request('GET', `/tables/${id}?tab=fields`, { headers: HTML });
    expect(tabs(fields.text)[1]).to.equal(`fields /tables/${id}?tab=fields (current)`);
    expect(fields.text).to.include('id="fields-panel"');
    expect(fields.text).not.to.include('id="grid"');

    // A field change from a plain form lands back on the Fields tab.
    const session = await sessionFor(app, await addUser(app, 'admin@example.com', 'admin'));
    const added = await app.request('POST', `/tables/${id}/fields`, {
      auth: { cookie: session.cookie },
      headers: HTML,
      form: { _csrf: session.csrf, name: 'Notes', type: 'long_text' },
    });
    expect(added.status).to.equal(303);
    expect(added.headers.get('location')).to.equal(`/tables/${id}?tab=fields`);

    // JSON is unchanged by tabs.
    const json = await app.request('GET', `/tables/${id}?tab=sql`);
    expect(json.body).to.include({ id, name: 'Tabbed' });
    expect(json.body.fields.map((f: { column: string }) => f.column)).to.deep.equal(['title', 'notes']);
  });

  it('an error answered to htmx goes to the flash area and names its field in data-error-field (forms.js marks that control)', async () => {
    const id = (await app.request('POST', '/tables', { json: { name: 'Errors', fields: [{ name: 'Title', type: 'text' }] } })).body.id;
    expect(id).to.be.a('number');
    // (A refused "Add field" re-renders its own form instead: test/e2e/audit.test.ts.)
    const res = await app.request('POST', '/tables', { headers: { 'HX-Request': 'true', Accept: 'text/html' }, form: { name: 'errors' } });
    expect(res.status).to.equal(409);
    expect(res.headers.get('hx-retarget')).to.equal('#flash');
    expect(res.text).to.match(/<div class="error" role="alert" data-error-code="[a-z_]+" data-error-field="name">/);
  });
});
