// The grid's layout parameters over HTTP (server/web/grid_layout.ts): the columns the
// grid shows and their order follow hide/show/order; a move keeps hidden fields where
// they are; widths and frozen are clamped; "unsaved changes" shows exactly when the layout
// differs from the view's; names that are no field are left out and said. The browser
// side (menus, drag, resize, Save) is test/e2e/grid_layout.test.ts.
import { expect } from 'chai';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';

const HX = { Accept: 'text/html', 'HX-Request': 'true' };

describe('grid layout parameters', () => {
  let db: TestDatabase;
  let app: TestApp;
  let tableId: number;
  let viewId: number;

  const grid = async (query: string) => {
    const r = await app.request('GET', `/tables/${tableId}/grid?${query}`, { headers: HX });
    expect(r.status, r.text).to.equal(200);
    return r.text;
  };
  const heads = (html: string) => [...html.matchAll(/<th scope="col" class="field-head[^"]*" data-column="([^"]+)"/g)].map((m) => m[1]);
  const unsaved = (html: string) => html.includes('data-unsaved');

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url);
    const t = await app.request('POST', '/tables', { json: { name: 'Cols', fields: ['A', 'B', 'C', 'D'].map((name) => ({ name, type: 'text' })) } });
    expect(t.status, t.text).to.equal(201);
    tableId = t.body.id;
    await app.request('POST', `/tables/${tableId}/rows`, { json: [{ a: '1', b: '2', c: '3', d: '4' }] });
    const v = await app.request('POST', `/tables/${tableId}/views`, { json: { name: 'V', hidden: ['b'], order: ['d', 'a', 'b', 'c'], widths: { a: 150 }, frozen: 1 } });
    expect(v.status, v.text).to.equal(201);
    viewId = v.body.id;
  });
  after(async () => {
    await app?.stop();
    await db?.drop();
  });

  it('the view gives the layout; the URL changes it (hide, show, order), and every row follows the header', async () => {
    expect(heads(await grid(`view=${viewId}`))).to.deep.equal(['d', 'a', 'c']);
    expect(heads(await grid(`view=${viewId}&hide=`)), 'hide= shows every field').to.deep.equal(['d', 'a', 'b', 'c']);
    expect(heads(await grid(`view=${viewId}&show=&show=c&show=a`)), 'show lists the shown ones').to.deep.equal(['a', 'c']);
    expect(heads(await grid(`view=${viewId}&show=`)), 'a blank show= alone hides all').to.deep.equal([]);
    expect(heads(await grid(`view=${viewId}&order=c`)), 'order: the others follow in the view\'s order').to.deep.equal(['c', 'd', 'a']);
    const html = await grid(`view=all&order=c,b`);
    expect(heads(html)).to.deep.equal(['c', 'b', 'a', 'd']);
    const firstRow = /<tr id="row-\d+">[\s\S]*?<\/tr>/.exec(html)![0];
    expect([...firstRow.matchAll(/<td id="cell-\d+-(\w+)"/g)].map((m) => m[1])).to.deep.equal(['c', 'b', 'a', 'd']);
  });

  it('"unsaved changes" shows when the layout differs from the view, not when the URL repeats it', async () => {
    expect(unsaved(await grid(`view=${viewId}`))).to.equal(false);
    expect(unsaved(await grid(`view=${viewId}&hide=b&order=d,a,b,c&widths=a:150&frozen=1`)), 'the same layout spelled out').to.equal(false);
    for (const change of ['hide=', 'order=a', 'widths=a:151', 'widths=', 'frozen=2']) expect(unsaved(await grid(`view=${viewId}&${change}`)), change).to.equal(true);
  });

  it('the header menus\' links move among the shown fields (a hidden one keeps its place) and carry the whole layout', async () => {
    const html = await grid(`view=${viewId}`);
    const right = /<th [^>]*data-column="a"[\s\S]*?<a href="([^"]+)"[^>]*data-move="right"/.exec(html)![1]!.replace(/&amp;/g, '&');
    const q = new URL(right, 'http://x').searchParams;
    expect(q.get('order')).to.equal('d,b,c,a');
    expect(q.get('hide')).to.equal('b');
    expect(q.get('widths')).to.equal('a:150');
    expect(q.get('frozen')).to.equal('1');
    expect(heads(await grid(new URL(right, 'http://x').search.slice(1)))).to.deep.equal(['d', 'c', 'a']);
  });

  it('clamps widths and frozen, and leaves out (and says) names that are no field, never a 500', async () => {
    const html = await grid(`view=all&widths=a:5,b:99999,c:abc&frozen=99&hide=nope,b`);
    expect(html).to.include('data-width="40"');
    expect(html).to.not.include('data-width="99999"');
    expect(/data-frozen="(\d+)"/.exec(html)![1], 'at most the shown fields').to.equal('3');
    expect(heads(html)).to.deep.equal(['a', 'c', 'd']);
    expect(html).to.include('no field of this table (left out): nope');
  });
});
