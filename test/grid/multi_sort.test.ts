// Sorting the grid by several columns (routes/grid_page.ts sortLinks, grid_sort_link.ejs):
// the header shows each key's place, aria-sort marks the first key's column alone, plain
// links stay single-column (no JavaScript needed) and data-sort-add carries the URL a
// shift+click follows. The browser side is in test/e2e/console.test.ts.
import { expect } from 'chai';
import { sortLinks } from '../../server/web/routes/grid_page.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';

const HX = { Accept: 'text/html', 'HX-Request': 'true' };

describe('grid: sorting by several columns', () => {
  let db: TestDatabase;
  let app: TestApp;
  let tableId: number;
  /** row ids by name */
  const id: Record<string, number> = {};

  const grid = (query: string) => app.request('GET', `/tables/${tableId}/grid?${query}`, { headers: HX });
  const bodyRows = (html: string) => [...html.matchAll(/<tr id="row-(\d+)">/g)].map((m) => Number(m[1]));
  /** the <th> of a column in the header */
  const header = (html: string, column: string) => {
    const th = column === 'id' ? /<th scope="col"[^>]*><a [^>]*>id<span[\s\S]*?<\/th>/.exec(html) : new RegExp(`<th scope="col"[^>]*title="${column} \\([^)]*\\)">[\\s\\S]*?</th>`).exec(html);
    expect(th, `the header of ${column}`).to.not.equal(null);
    return th![0];
  };

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url);
    const t = await app.request('POST', '/tables', {
      json: { name: 'Staff', fields: [{ name: 'Team', type: 'text' }, { name: 'Age', type: 'number' }, { name: 'Name', type: 'text' }] },
    });
    expect(t.status, t.text).to.equal(201);
    tableId = t.body.id;
    const rows = [
      { team: 'red', age: 30, name: 'a' },
      { team: 'blue', age: 40, name: 'b' },
      { team: 'red', age: 20, name: 'c' },
      { team: 'blue', age: 20, name: 'd' },
      { team: 'red', age: 30, name: 'e' },
    ];
    const r = await app.request('POST', `/tables/${tableId}/rows`, { json: rows });
    expect(r.status, r.text).to.equal(201);
    for (const row of r.body.rows) id[row.name] = row.id;
  });
  after(async () => {
    await app?.stop();
    await db?.drop();
  });

  it('two keys: the rows come back sorted by the first, then the second (then id)', async () => {
    const res = await grid('sort=team,-age');
    expect(res.status, res.text).to.equal(200);
    expect(bodyRows(res.text)).to.deep.equal(['b', 'd', 'a', 'e', 'c'].map((n) => id[n]));
    const other = await grid('sort=-age,name');
    expect(bodyRows(other.text)).to.deep.equal(['b', 'a', 'e', 'c', 'd'].map((n) => id[n]));
  });

  it('two keys: each sorted header shows its place and direction; aria-sort only on the first key', async () => {
    const { text } = await grid('sort=team,-age');
    const team = header(text, 'team');
    const age = header(text, 'age');
    const name = header(text, 'name');
    expect(team).to.match(/^<th scope="col"[^>]* aria-sort="ascending" title/);
    expect(team).to.include('<span class="sort-mark" aria-hidden="true"> ▲<span class="sort-order">1</span></span>');
    expect(team).to.include('<span class="sr-only">, sort key 1 of 2, ascending</span>');
    expect(age, 'ARIA allows one sorted header').not.to.include('aria-sort');
    expect(age).to.include('<span class="sort-mark" aria-hidden="true"> ▼<span class="sort-order">2</span></span>');
    expect(age).to.include('<span class="sr-only">, sort key 2 of 2, descending</span>');
    expect(name).not.to.include('aria-sort');
    expect(name).to.include('<span class="sort-mark" aria-hidden="true"></span>');
    expect(text.match(/aria-sort=/g)).to.have.length(1);
  });

  it('one key: no order numbers, and the first key alone has aria-sort', async () => {
    const { text } = await grid('sort=-age');
    expect(header(text, 'age')).to.include('aria-sort="descending"');
    expect(header(text, 'age')).to.include('<span class="sort-mark" aria-hidden="true"> ▼</span>');
    expect(text).not.to.include('sort-order');
    expect(text.match(/aria-sort=/g)).to.have.length(1);
    const unsorted = await grid('');
    expect(unsorted.text).not.to.include('aria-sort');
  });

  it('plain header links stay single-column; data-sort-add keeps the other keys, adding or turning this one', async () => {
    const { text } = await grid('sort=team,-age&fc=age&fo=gt&fv=1&page=1');
    const base = `/tables/${tableId}`;
    const f = 'fc=age&amp;fo=gt&amp;fv=1';
    // a plain click: this column alone (the first key turns around)
    expect(header(text, 'team')).to.include(`href="${base}?${f}&amp;sort=-team"`);
    expect(header(text, 'name')).to.include(`href="${base}?${f}&amp;sort=name"`);
    // shift+click: the other keys kept, the filters too; the page starts again
    expect(header(text, 'name')).to.include(`data-sort-add="${base}?${f}&amp;sort=team%2C-age%2Cname"`);
    expect(header(text, 'name')).to.include(`data-sort-add-hx="${base}/grid?${f}&amp;sort=team%2C-age%2Cname"`);
    expect(header(text, 'age')).to.include(`data-sort-add="${base}?${f}&amp;sort=team%2Cage"`);
    expect(header(text, 'team')).to.include(`data-sort-add="${base}?${f}&amp;sort=-team%2C-age"`);
    expect(header(text, 'id')).to.include(`data-sort-add="${base}?${f}&amp;sort=team%2C-age%2Cid"`);
    // and that URL sorts as it says
    const next = await grid(`sort=${encodeURIComponent('team,-age,name')}`);
    expect(bodyRows(next.text)).to.deep.equal(['b', 'd', 'a', 'e', 'c'].map((n) => id[n]));
  });

  it('sortLinks: adds after the others, turns a present key in place, and adds nothing past 10 keys', () => {
    const links = sortLinks('a,-b', (s) => s);
    expect(links.addHref('c')).to.equal('a,-b,c');
    expect(links.addHref('b')).to.equal('a,b');
    expect(links.addHref('a')).to.equal('-a,-b');
    expect(links.sortHref('a')).to.equal('-a');
    expect(links.sortHref('b')).to.equal('b');
    expect(links.sortOrder('b')).to.equal(2);
    expect(links.sortOrder('c')).to.equal(0);
    expect(links.ariaSort('a')).to.equal('ascending');
    expect(links.ariaSort('b')).to.equal(undefined);
    const ten = 'c0,c1,c2,c3,c4,c5,c6,c7,c8,c9';
    expect(sortLinks(ten, (s) => s).addHref('x')).to.equal(ten);
    expect(sortLinks(ten, (s) => s).addHref('c3')).to.equal(ten.replace('c3', '-c3'));
    expect(sortLinks('', (s) => s).sortOrder('a')).to.equal(0);
  });
});
