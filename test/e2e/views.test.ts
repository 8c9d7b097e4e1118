// Saved views in the console, in a real browser (issue 18): the view switcher, the
// one-line toolbar with filter and sort chips, "unsaved changes: save / save as new view /
// reset", and the grid starting near the top of the page at 1280 and 375 px.
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import type { TestApp } from '../helpers/app.js';
import type { TestDatabase } from '../helpers/db.js';
import type { Sql } from '../helpers/sql.js';
import { htmxIdle, signedInConsole, PHONE, screenshots, skipWithoutBrowser, WIDE, type Browser } from './lib.js';

describe('saved views in the console (e2e)', function () {
  this.timeout(60_000);
  let db: TestDatabase | undefined;
  let app: TestApp | undefined;
  let browser: Browser | undefined;
  let sql: Sql | undefined;
  let page: Page;
  let errors: string[] = [];
  let tableId: number;

  before(async function () {
    this.timeout(120_000);
    skipWithoutBrowser(this);
    const signedIn = await signedInConsole('e2e-views', 'eve@example.com');
    ({ db, app, sql, browser, page, errors } = signedIn);
    const t = await app.request('POST', '/tables', { json: { name: 'Stock', fields: [{ name: 'Name', type: 'text' }, { name: 'Qty', type: 'number' }, { name: 'Notes', type: 'long_text' }] } });
    tableId = t.body.id;
    await sql.exec(`INSERT INTO data.stock (name, qty, notes) SELECT 'item ' || i, i, 'n' FROM generate_series(1, 30) i`);
  });

  after(async function () {
    this.timeout(60_000);
    await browser?.close();
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  afterEach(function () {
    const seen = errors.splice(0);
    if (this.currentTest?.state === 'passed') expect(seen, 'errors in the page').to.deep.equal([]);
  });

  const url = (p: string) => new URL(p, app!.url).toString();
  const gridIds = async () => (await page.locator('#grid tbody th.rowid a').allInnerTexts()).map(Number);

  it('the grid starts near the top of the page at 1280 and 375 px (a one-line toolbar, filters folded)', async () => {
    for (const [size, limit] of [[WIDE, 420], [PHONE, 640]] as const) {
      await page.setViewportSize(size);
      await page.goto(url(`/tables/${tableId}`));
      const top = await page.locator('#grid table.grid').evaluate((el) => el.getBoundingClientRect().top + window.scrollY);
      expect(top, `grid top at ${size.width} px`).to.be.lessThan(limit);
      expect(top, 'visible without scrolling').to.be.lessThan(size.height);
    }
    await page.setViewportSize(WIDE);
    await screenshots(page, 'grid-toolbar');
  });

  it('a default view opens by itself; the switcher is links; a view hides its fields and sorts its way', async () => {
    const v = await app!.request('POST', `/tables/${tableId}/views`, { json: { name: 'Big ones', filter: { qty: { gte: 20 } }, sort: '-qty', hidden: ['notes'], default: true } });
    expect(v.status, v.text).to.equal(201);
    await page.goto(url(`/tables/${tableId}`));
    expect(await page.locator('.view-bar a[aria-current]').innerText()).to.match(/^Big ones/);
    expect(await gridIds()).to.deep.equal(Array.from({ length: 11 }, (_, i) => 30 - i));
    expect(await page.locator('#grid thead').innerText()).to.not.include('Notes');
    await page.click('.view-bar a:has-text("All rows")');
    await htmxIdle(page);
    expect(page.url()).to.include('view=all');
    expect((await gridIds()).length).to.equal(30);
    expect(await page.locator('#grid thead').innerText()).to.include('Notes');
  });

  it('changing the sort of a view shows "unsaved changes"; Save writes it into the view; Reset goes back', async () => {
    const v = await app!.request('POST', `/tables/${tableId}/views`, { json: { name: 'By name', sort: 'name' } });
    await page.goto(url(`/tables/${tableId}?view=${v.body.id}`));
    expect(await page.locator('[data-unsaved]').count()).to.equal(0);
    await page.click('#grid thead a:has-text("Qty")');
    await htmxIdle(page);
    await page.locator('[data-unsaved]').waitFor();
    expect(await page.locator('[data-unsaved]').innerText()).to.include('Unsaved changes to the view “By name”');
    await page.click('[data-unsaved] a:has-text("Reset")');
    await htmxIdle(page);
    expect(await page.locator('[data-unsaved]').count()).to.equal(0);
    await page.click('#grid thead a:has-text("Qty")');
    await htmxIdle(page);
    await page.click('[data-unsaved] button:has-text("Save")');
    await page.waitForURL(new RegExp(`view=${v.body.id}$`));
    expect((await app!.request('GET', `/tables/${tableId}/views/${v.body.id}`)).body.sort).to.equal('qty');
    expect(await page.locator('[data-unsaved]').count()).to.equal(0);
  });

  it('filters show as removable chips; "save as new view" keeps them under a new name', async () => {
    await page.goto(url(`/tables/${tableId}?view=all&fc=qty&fo=lt&fv=5`));
    expect(await page.locator('ul.chips li').first().innerText()).to.match(/Qty < 5/);
    expect((await gridIds()).length).to.equal(4);
    await page.click('[data-unsaved] summary:has-text("Save as a view")');
    await page.fill('#new-view-name', 'Low stock');
    await page.click('[data-unsaved] button:has-text("Save view")');
    await page.waitForURL(/view=\d+$/);
    const views = (await app!.request('GET', `/tables/${tableId}/views`)).body.views;
    const low = views.find((x: { name: string }) => x.name === 'Low stock');
    expect(low.filter).to.deep.equal([{ column: 'qty', op: 'lt', value: '5' }]);
    expect(await page.locator('.view-bar a[aria-current]').innerText()).to.equal('Low stock');
    expect((await gridIds()).length).to.equal(4);
    // The chip's × removes the filter.
    await page.goto(url(`/tables/${tableId}?view=all&fc=qty&fo=lt&fv=5&fc=name&fo=contains&fv=item`));
    await page.click('ul.chips li:first-child a');
    await htmxIdle(page);
    expect((await gridIds()).length).to.equal(30);
  });
});
