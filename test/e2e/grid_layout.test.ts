// The grid's layout in a real browser (issue 18): hiding fields (the "Hide fields" menu,
// with and without JavaScript), moving columns (by drag, and by the header menu from the
// keyboard), resizing by drag, freezing the first columns; each applies at once, shows
// "unsaved changes", and Save writes it into the view, which the API then returns and a
// reload shows.
import { expect } from 'chai';
import { SESSION_COOKIE } from '../../server/web/auth.js';
import type { Page } from 'playwright-core';
import type { TestApp } from '../helpers/app.js';
import type { TestDatabase } from '../helpers/db.js';
import type { Sql } from '../helpers/sql.js';
import { htmxIdle, launchBrowser, signedInConsole, screenshots, skipWithoutBrowser, type Browser } from './lib.js';

describe('grid layout: hide, reorder, resize, freeze, saved into the view (e2e)', function () {
  this.timeout(120_000);
  let db: TestDatabase | undefined;
  let app: TestApp | undefined;
  let browser: Browser | undefined;
  let sql: Sql | undefined;
  let page: Page;
  let errors: string[] = [];
  let tableId: number;
  let cookie: string;

  before(async function () {
    this.timeout(120_000);
    skipWithoutBrowser(this);
    const signedIn = await signedInConsole('e2e-grid-layout', 'lay@example.com', { timeoutMs: 30_000 });
    ({ db, app, sql, browser, page, errors, cookie } = signedIn);
    const fields = ['Name', 'Qty', 'Notes', 'Shelf', 'Colour', 'Supplier', 'Origin', 'Remarks'].map((name) => ({ name, type: name === 'Qty' ? 'number' : 'text' }));
    const t = await app.request('POST', '/tables', { json: { name: 'Layout stock', fields } });
    tableId = t.body.id;
    await sql.exec(`INSERT INTO data.layout_stock (name, qty, notes, shelf, colour, supplier, origin, remarks)
      SELECT 'item ' || i, i, repeat('long note ', 6), 'shelf ' || i, 'colour ' || i, 'supplier ' || i, 'origin ' || i, repeat('remark ', 8) FROM generate_series(1, 12) i`);
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
  const heads = async () => page.locator('#grid thead th.field-head').evaluateAll((ths) => ths.map((th) => (th as HTMLElement).dataset.column));
  const newView = async (name: string) => {
    const v = await app!.request('POST', `/tables/${tableId}/views`, { json: { name } });
    expect(v.status, v.text).to.equal(201);
    return v.body.id as number;
  };
  const viewOf = async (id: number) => (await app!.request('GET', `/tables/${tableId}/views/${id}`)).body;
  /** Save in the "unsaved changes" bar, then the page is the view again, without changes. */
  const save = async (id: number) => {
    await page.locator('[data-unsaved]').waitFor();
    await page.click('[data-unsaved] button:has-text("Save")');
    await page.waitForURL(new RegExp(`view=${id}$`));
    expect(await page.locator('[data-unsaved]').count(), 'no unsaved changes after Save').to.equal(0);
  };

  it('hides fields from the "Hide fields" menu at once (the menu stays open), and Save writes them into the view', async () => {
    const id = await newView('Hide test');
    await page.goto(url(`/tables/${tableId}?view=${id}`));
    await page.click('[data-fields-menu] summary');
    await page.locator('[data-show-field][value="notes"]').uncheck();
    await htmxIdle(page);
    expect(await heads()).to.not.include('notes');
    expect(await page.locator('[data-fields-menu]').getAttribute('open'), 'the menu stays open').to.not.equal(null);
    await page.locator('[data-show-field][value="remarks"]').uncheck();
    await htmxIdle(page);
    expect(await heads()).to.deep.equal(['name', 'qty', 'shelf', 'colour', 'supplier', 'origin']);
    expect(await page.locator('[data-unsaved]').innerText()).to.include('Unsaved changes to the view “Hide test”');
    expect((await viewOf(id)).hidden, 'nothing saved before Save').to.deep.equal([]);
    await save(id);
    expect((await viewOf(id)).hidden.sort()).to.deep.equal(['notes', 'remarks']);
    await page.reload();
    expect(await heads()).to.deep.equal(['name', 'qty', 'shelf', 'colour', 'supplier', 'origin']);
    // The rows through the view leave the hidden fields out (the API's contract).
    const rows = await app!.request('GET', `/tables/${tableId}/rows?view=${id}`);
    expect(Object.keys(rows.body.rows[0])).to.not.include('notes');
  });

  it('moves a column by dragging its header; Save writes the order into the view', async () => {
    const id = await newView('Drag test');
    await page.goto(url(`/tables/${tableId}?view=${id}`));
    expect((await heads()).slice(0, 3)).to.deep.equal(['name', 'qty', 'notes']);
    // Drop Shelf on the left half of Name: Shelf goes first.
    const name = page.locator('#grid thead th[data-column="name"]');
    const box = (await name.boundingBox())!;
    await page.locator('#grid thead th[data-column="shelf"]').dragTo(name, { targetPosition: { x: 4, y: box.height / 2 } });
    await htmxIdle(page);
    expect((await heads()).slice(0, 4)).to.deep.equal(['shelf', 'name', 'qty', 'notes']);
    // The cells follow their header.
    expect(await page.locator('#grid tbody tr').first().locator('td.cell').first().getAttribute('data-column')).to.equal('shelf');
    await save(id);
    expect((await viewOf(id)).order.slice(0, 4)).to.deep.equal(['shelf', 'name', 'qty', 'notes']);
    await page.reload();
    expect((await heads()).slice(0, 4)).to.deep.equal(['shelf', 'name', 'qty', 'notes']);
  });

  it('moves a column from the keyboard with the header menu (Move right twice keeps the focus there); Save writes it', async () => {
    const id = await newView('Keys test');
    await page.goto(url(`/tables/${tableId}?view=${id}`));
    await page.locator('#grid thead th[data-column="name"] .col-menu summary').focus();
    await page.keyboard.press('Enter');
    await page.locator('#grid thead th[data-column="name"] a[data-move="right"]').focus();
    await page.keyboard.press('Enter');
    await htmxIdle(page);
    expect((await heads()).slice(0, 3)).to.deep.equal(['qty', 'name', 'notes']);
    expect(await page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.move), 'the focus stays on Move right').to.equal('right');
    await page.keyboard.press('Enter');
    await htmxIdle(page);
    expect((await heads()).slice(0, 3)).to.deep.equal(['qty', 'notes', 'name']);
    await save(id);
    expect((await viewOf(id)).order.slice(0, 3)).to.deep.equal(['qty', 'notes', 'name']);
  });

  it('resizes a column by dragging its right edge; Save writes the width into the view and a reload shows it', async () => {
    const id = await newView('Width test');
    await page.goto(url(`/tables/${tableId}?view=${id}`));
    const th = page.locator('#grid thead th[data-column="shelf"]');
    const before = (await th.boundingBox())!;
    const handle = (await th.locator('[data-resize]').boundingBox())!;
    await page.mouse.move(handle.x + handle.width / 2, handle.y + handle.height / 2);
    await page.mouse.down();
    await page.mouse.move(handle.x + handle.width / 2 + 60, handle.y + handle.height / 2, { steps: 6 });
    await page.mouse.move(handle.x + handle.width / 2 + 120, handle.y + handle.height / 2, { steps: 6 });
    await page.mouse.up();
    await htmxIdle(page);
    await page.locator('[data-unsaved]').waitFor();
    const wanted = Math.round(before.width + 120);
    const shown = (await th.boundingBox())!.width;
    expect(Math.abs(shown - wanted), `width ${shown} ≈ ${wanted}`).to.be.lessThan(4);
    await save(id);
    const saved = (await viewOf(id)).widths.shelf;
    expect(Math.abs(saved - wanted), `saved ${saved} ≈ ${wanted}`).to.be.lessThan(3);
    await page.reload();
    expect(Math.abs((await th.boundingBox())!.width - saved)).to.be.lessThan(3);
  });

  it('freezes the first columns from the header menu: they stay in place when the grid scrolls sideways; Save writes frozen', async () => {
    const id = await newView('Freeze test');
    await page.goto(url(`/tables/${tableId}?view=${id}`));
    await page.click('#grid thead th[data-column="qty"] .col-menu summary');
    await page.click('#grid thead th[data-column="qty"] a[data-freeze]');
    await htmxIdle(page);
    await save(id);
    expect((await viewOf(id)).frozen).to.equal(2);
    await page.reload();
    await page.setViewportSize({ width: 700, height: 700 });
    const cell = page.locator('#grid tbody tr').first().locator('td[data-column="qty"]');
    const free = page.locator('#grid tbody tr').first().locator('td[data-column="shelf"]');
    const x0 = (await cell.boundingBox())!.x;
    const f0 = (await free.boundingBox())!.x;
    await page.locator('#grid .grid-wrap').evaluate((el) => (el.scrollLeft = 300));
    await page.waitForTimeout(50);
    expect((await cell.boundingBox())!.x, 'the frozen column stays').to.be.closeTo(x0, 1);
    expect((await free.boundingBox())!.x, 'the others scroll').to.be.lessThan(f0 - 200);
    await page.setViewportSize({ width: 1280, height: 800 });
    await screenshots(page, 'grid-layout');
  });

  it('without JavaScript: the "Hide fields" form and the header menu links hide and move columns; Save writes them', async function () {
    this.timeout(180_000);
    const id = await newView('No JS test');
    const plain = await launchBrowser({ javaScriptEnabled: false });
    try {
      await plain.context.addCookies([{ name: SESSION_COOKIE, value: cookie, url: app!.url }]);
      const p = plain.page;
      await p.goto(url(`/tables/${tableId}?view=${id}`));
      await p.click('[data-fields-menu] summary');
      await p.locator('[data-show-field][value="origin"]').uncheck();
      await p.click('[data-fields-apply]');
      await p.waitForLoadState();
      const cols = () => p.locator('#grid thead th.field-head').evaluateAll((ths) => ths.map((th) => (th as HTMLElement).dataset.column));
      expect(await cols()).to.not.include('origin');
      await p.click('#grid thead th[data-column="qty"] .col-menu summary');
      await p.click('#grid thead th[data-column="qty"] a[data-move="left"]');
      await p.waitForLoadState();
      expect((await cols()).slice(0, 2)).to.deep.equal(['qty', 'name']);
      await p.click('[data-unsaved] button:has-text("Save")');
      await p.waitForURL(new RegExp(`view=${id}$`));
      const v = await viewOf(id);
      expect(v.hidden).to.deep.equal(['origin']);
      expect(v.order.slice(0, 2)).to.deep.equal(['qty', 'name']);
    } finally {
      await plain.close();
    }
  });

  it('a layout URL naming no field is shown without it and said, never a 500', async () => {
    const r = await app!.request('GET', `/tables/${tableId}/grid?hide=nope&order=zzz,qty&widths=name:5,qty:abc&frozen=99`, { headers: { 'HX-Request': 'true' } });
    expect(r.status).to.equal(200);
    expect(r.text).to.include('no field of this table');
  });
});
