// History: the audit log (tablewright.audit) as JSON for scripts and as a timeline in the
// console, filterable by table, paginated by keyset (id), and the table page's History tab.
import { expect } from 'chai';
import { createTestToken, startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';

const HTML = { Accept: 'text/html' };

describe('History (the audit log)', () => {
  let db: TestDatabase;
  let app: TestApp;
  let books: number;
  let films: number;

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url, { DRIFT_CHECK_INTERVAL: 'off', CLEANUP_INTERVAL: 'off' });
    books = (await app.request('POST', '/tables', { json: { name: 'Books' } })).body.id;
    films = (await app.request('POST', '/tables', { json: { name: 'Films <i>x</i>' } })).body.id;
    const field = await app.request('POST', `/tables/${books}/fields`, { json: { name: 'Pages', type: 'number' } });
    expect(field.status, field.text).to.equal(201);
    expect((await app.request('PATCH', `/tables/${books}/fields/${field.body.id}`, { json: { name: 'Page count' } })).status).to.equal(200);
    expect((await app.request('POST', `/tables/${films}/fields`, { json: { name: "Director's <cut>", type: 'text' } })).status).to.equal(201);
  });
  after(async () => {
    await app?.stop();
    await db?.drop();
  });

  it('GET /history as JSON: every schema change newest first, with who, when, what and the DDL that ran', async () => {
    const res = await app.request('GET', '/history');
    expect(res.status, res.text).to.equal(200);
    expect(res.body.next).to.equal(null);
    const entries = res.body.entries as Array<Record<string, any>>;
    expect(entries.map((e) => [e.operation, e.table_id])).to.deep.equal([
      ['add_field', films],
      ['update_field', books],
      ['add_field', books],
      ['create_table', films],
      ['create_table', books],
    ]);
    const ids = entries.map((e) => e.id);
    expect(ids, 'newest first').to.deep.equal([...ids].sort((a, b) => b - a));
    const added = entries[2]!;
    expect(added).to.include({ operation: 'add_field', table_id: books, table_name: 'Books', field_name: 'Page count', version: 2 });
    expect(added.actor).to.match(/^token:test admin/);
    expect(new Date(added.at).getTime()).to.be.closeTo(Date.now(), 60_000);
    expect(added.ddl).to.include('ALTER TABLE "data"."books" ADD COLUMN "pages" bigint;');
    expect(added.details).to.deep.include({ name: 'Pages', type: 'number' });
    expect(Object.keys(added).sort()).to.deep.equal(['actor', 'at', 'ddl', 'details', 'field_id', 'field_name', 'id', 'operation', 'table_id', 'table_name', 'version']);
  });

  it('filters by table, and pages by keyset: limit, then before=next, without gaps or repeats', async () => {
    const onlyBooks = await app.request('GET', `/history?table=${books}`);
    expect(onlyBooks.body.entries.map((e: { table_id: number }) => e.table_id)).to.deep.equal([books, books, books]);

    const seen: number[] = [];
    let path = '/history?limit=2';
    for (let pages = 0; pages < 10; pages += 1) {
      const page = await app.request('GET', path);
      expect(page.status, page.text).to.equal(200);
      expect(page.body.entries.length).to.be.at.most(2);
      seen.push(...page.body.entries.map((e: { id: number }) => e.id));
      if (page.body.next === null) break;
      expect(page.body.next, 'next is the last id shown').to.equal(page.body.entries.at(-1).id);
      path = `/history?limit=2&before=${page.body.next}`;
    }
    const all = (await app.request('GET', '/history')).body.entries.map((e: { id: number }) => e.id);
    expect(seen).to.deep.equal(all);

    for (const bad of ['limit=0', 'limit=201', 'table=abc', 'before=-1']) {
      const res = await app.request('GET', `/history?${bad}`);
      expect(res.status, bad).to.equal(400);
      expect(res.body.error.field, bad).to.equal(bad.split('=')[0]);
    }
  });

  it('is readable by viewers (reads need the viewer role)', async () => {
    const res = await app.request('GET', '/history', { auth: { token: await createTestToken(app, 'viewer') } });
    expect(res.status).to.equal(200);
    expect(res.body.entries).to.have.length(5);
  });

  it('the History page is a timeline: who, when (UTC), what, the DDL in a <pre>, all escaped; with a table picker', async () => {
    const res = await app.request('GET', '/history', { headers: HTML });
    expect(res.status).to.equal(200);
    expect(res.text).to.match(/<a href="\/history" aria-current="page">History<\/a>/);
    expect(res.text).to.include('<ol class="timeline">');
    expect(res.text.match(/<li class="event"/g)).to.have.length(5);
    expect(res.text).to.match(/<time datetime="\d{4}-\d\d-\d\dT[^"]+Z" title="[^"]+UTC">\d{4}-\d\d-\d\d \d\d:\d\d UTC<\/time>/);
    expect(res.text).to.include('added a field <strong>Director&#39;s &lt;cut&gt;</strong> in <a href="/tables/' + films + '">Films &lt;i&gt;x&lt;/i&gt;</a>');
    expect(res.text).to.include('<p class="event-summary">renamed Pages → Page count</p>');
    expect(res.text).to.match(/<pre class="ddl small" aria-label="SQL that ran"><code>ALTER TABLE &#34;data&#34;.&#34;films[a-z_]*&#34; ADD COLUMN/);
    expect(res.text, 'no display name reaches the page unescaped').not.to.include('<cut>');
    expect(res.text).not.to.include('<i>x</i>');
    expect(res.text).to.include(`<option value="${films}">Films &lt;i&gt;x&lt;/i&gt;</option>`);
  });

  it('the page for one table, the htmx fragment, the pager links, and an empty state that says what to do', async () => {
    const page = await app.request('GET', `/history?table=${books}&limit=2`, { headers: HTML });
    expect(page.text).to.include(`<option value="${books}" selected>Books</option>`);
    expect(page.text.match(/<li class="event"/g)).to.have.length(2);
    const older = page.text.match(/<a href="(\/history\?table=\d+&amp;before=\d+&amp;limit=2)"[^>]*rel="next">Older<\/a>/);
    expect(older, 'a link to the older changes').to.not.equal(null);

    const frag = await app.request('GET', older![1]!.replace(/&amp;/g, '&'), { headers: { 'HX-Request': 'true', Accept: 'text/html' } });
    expect(frag.text.trimStart()).to.match(/^<section id="history"/);
    expect(frag.text).not.to.include('<html');
    expect(frag.text.match(/<li class="event"/g)).to.have.length(1);
    expect(frag.text).to.include('created the table');
    expect(frag.text).to.match(/>Newest<\/a>/);

    const fresh = await freshDatabase();
    const empty = await startApp(fresh.url, { DRIFT_CHECK_INTERVAL: 'off', CLEANUP_INTERVAL: 'off' }, 'empty');
    try {
      const none = await empty.request('GET', '/history', { headers: HTML });
      expect(none.text).to.include('No schema changes yet.');
      expect(none.text).to.include('<a href="/tables">Tables</a> page');
      expect((await empty.request('GET', '/history')).body).to.deep.equal({ entries: [], next: null });
    } finally {
      await empty.stop();
      await fresh.drop();
    }
  });

  it("the table page's History tab shows that table's changes only, with the tab marked current and no table picker", async () => {
    const res = await app.request('GET', `/tables/${books}?tab=history`, { headers: HTML });
    expect(res.status).to.equal(200);
    expect(res.text).to.match(/<a id="tab-history" href="\/tables\/\d+\?tab=history"[^>]* aria-current="page">History<\/a>/);
    expect(res.text.match(/<li class="event"/g)).to.have.length(3);
    expect(res.text).not.to.include('Director');
    expect(res.text).not.to.include('id="history-table"');
    const paged = await app.request('GET', `/tables/${books}?tab=history&limit=1`, { headers: HTML });
    expect(paged.text).to.match(new RegExp(`href="/tables/${books}\\?tab=history&amp;before=\\d+&amp;limit=1"[^>]*hx-target="#table-view"`));
  });
});
