// The grid's place on the page and its frozen columns in a real browser (issue 18): the
// toolbar is compact, so the header row of the grid starts near the top at 1280 and at
// 375 px (filters, sorts and the field menu fold behind one toggle at narrow widths, a
// <details> that opens without JavaScript); frozen columns keep clear of each other and
// of the next header when the grid scrolls sideways; a focused header resizes its column
// from the keyboard.
import { expect } from 'chai';
import { SESSION_COOKIE } from '../../server/web/auth.js';
import { addUser, sessionFor } from '../auth/lib.js';
import type { Page } from 'playwright-core';
import type { TestApp } from '../helpers/app.js';
import type { TestDatabase } from '../helpers/db.js';
import type { Sql } from '../helpers/sql.js';
import { htmxIdle, launchBrowser, signedInConsole, PHONE, skipWithoutBrowser, WIDE, type Browser } from './lib.js';

/** How far down the page the grid's header row may start (CSS px from the page's top). */
const HEADER_TOP_MAX = 300;

describe('grid toolbar: the grid near the top, frozen columns clear of the next header (e2e)', function () {
  this.timeout(120_000);
  let db: TestDatabase | undefined;
  let app: TestApp | undefined;
  let browser: Browser | undefined;
  let sql: Sql | undefined;
  let page: Page;
  let errors: string[] = [];
  let tableId: number;
  let viewId: number;

  before(async function () {
    this.timeout(120_000);
    skipWithoutBrowser(this);
    const signedIn = await signedInConsole('e2e-grid-toolbar', 'bar@example.com', { timeoutMs: 30_000 });
    ({ db, app, sql, browser, page, errors } = signedIn);
    const fields = ['Name', 'Qty', 'Notes', 'Shelf', 'Colour', 'Supplier', 'Origin', 'Remarks'].map((name) => ({ name, type: name === 'Qty' ? 'number' : 'text' }));
    const t = await app.request('POST', '/tables', { json: { name: 'Toolbar stock', fields } });
    tableId = t.body.id;
    await sql.exec(`INSERT INTO data.toolbar_stock (name, qty, notes, shelf, colour, supplier, origin, remarks)
      SELECT 'item number ' || i, i, repeat('long note ', 6), 'shelf ' || i, 'colour ' || i, 'supplier ' || i, 'origin ' || i, repeat('remark ', 8) FROM generate_series(1, 40) i`);
    // Two views (the view bar has something to show) and a layout with a filter and a sort.
    await app.request('POST', `/tables/${tableId}/views`, { json: { name: 'Everything', shared: true } });
    const v = await app.request('POST', `/tables/${tableId}/views`, { json: { name: 'Big quantities first', shared: true, sort: '-qty', filter: { qty: { gt: 2 } } } });
    expect(v.status, v.text).to.equal(201);
    viewId = v.body.id;
  });

  after(async function () {
    this.timeout(60_000);
    await browser?.close();
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  afterEach(async function () {
    const seen = errors.splice(0);
    await page?.setViewportSize(WIDE);
    if (this.currentTest?.state === 'passed') expect(seen, 'errors in the page').to.deep.equal([]);
  });

  const url = (p: string) => new URL(p, app!.url).toString();

  for (const [label, size] of [['1280', WIDE], ['375', PHONE]] as const) {
    for (const js of [true, false]) {
      it(`at ${label} px${js ? '' : ' without JavaScript'} the grid's header starts within ${HEADER_TOP_MAX} px of the top, with a filter and a sort on`, async () => {
        const b = js ? browser! : await launchBrowser({ javaScriptEnabled: false });
        try {
          if (!js) {
            const userId = await addUser(app!, `bar-nojs-${label}@example.com`, 'editor');
            await b.context.addCookies([{ name: SESSION_COOKIE, value: (await sessionFor(app!, userId)).cookie.split('=')[1]!, url: app!.url }]);
          }
          const p = b.page;
          await p.setViewportSize(size);
          // A filter and a sort in the URL on top of the view's: the chips are there too.
          await p.goto(url(`/tables/${tableId}?view=${viewId}&fc=name&fo=contains&fv=item&sort=name`));
          const top = await p.locator('#grid thead tr').first().evaluate((el) => el.getBoundingClientRect().top + window.scrollY);
          expect(top, `header top at ${label} px`).to.be.lessThan(HEADER_TOP_MAX);
          // At desktop widths nothing is folded: the search box and Hide fields are there.
          if (label === '1280') {
            expect(await p.locator('#grid-search').isVisible(), 'search shown at 1280 px').to.equal(true);
            expect(await p.locator('#grid [data-fields-menu] > summary').isVisible(), 'Hide fields shown at 1280 px').to.equal(true);
            expect(await p.locator('#grid [data-toolbar-more] > summary').isVisible(), 'no toggle at 1280 px').to.equal(false);
          }
          // What folded away is one click (or tap) away, and opens without JavaScript.
          if (label === '375') {
            const filters = p.locator('#grid .filter-bar #fv-0');
            expect(await filters.isVisible(), 'the filter form is folded').to.equal(false);
            await p.click('#grid [data-toolbar-more] > summary');
            await p.locator('#grid .filter-details > summary').click();
            expect(await filters.isVisible(), 'the filter form opens').to.equal(true);
            expect(await filters.inputValue()).to.equal('item');
            if (js) {
              // Applying a filter from the open toggle swaps the grid; the toggle stays open.
              await filters.fill('number 1');
              await p.click('#grid .filter-bar button[type=submit]');
              await htmxIdle(p);
              await p.waitForURL(/fv=number\+1/);
              expect(await p.locator('#grid [data-toolbar-more]').getAttribute('open'), 'the toggle stays open').to.not.equal(null);
            }
          }
          const overflow = await p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
          expect(overflow, 'the page does not scroll sideways').to.equal(0);
        } finally {
          if (!js) await b.close();
        }
      });
    }
  }

  it('frozen header cells do not overlap each other or the next header after a sideways scroll (1280 and 375 px)', async () => {
    for (const size of [WIDE, { width: 375, height: 700 }]) {
      await page.setViewportSize(size);
      await page.goto(url(`/tables/${tableId}?frozen=2&widths=name:160,qty:90`));
      await htmxIdle(page);
      await page.locator('#grid .grid-wrap').evaluate((el) => (el.scrollLeft = 400));
      await page.waitForTimeout(100);
      // (No named functions inside evaluate: tsx would wrap them in a helper the page lacks.)
      const boxes = await page.locator('#grid thead tr').first().evaluate((tr) => {
        const cells = Array.from((tr as HTMLTableRowElement).cells);
        const stuck = cells.filter((c) => getComputedStyle(c).position === 'sticky' && getComputedStyle(c).left !== 'auto');
        const last = stuck[stuck.length - 1]!;
        const next = cells[last.cellIndex + 1]!.getBoundingClientRect();
        return {
          frozen: stuck.map((c) => {
            const r = c.getBoundingClientRect();
            // The header cell painted on top at the cell's middle: what a user sees there.
            const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
            const th = hit && (hit.closest('th') as HTMLElement | null);
            return { name: c.dataset.column || c.className, left: r.left, right: r.right, mid: th ? th.dataset.column || th.className : null };
          }),
          next: { left: next.left, right: next.right },
        };
      });
      // Sticky cells side by side, in order, none over another.
      for (let i = 1; i < boxes.frozen.length; i++) {
        expect(boxes.frozen[i]!.left, `${boxes.frozen[i]!.name} starts where ${boxes.frozen[i - 1]!.name} ends (${size.width} px)`).to.be.closeTo(boxes.frozen[i - 1]!.right, 1.5);
      }
      // Each frozen header is the one seen at its own middle (nothing scrolled over it).
      for (const f of boxes.frozen) expect(f.mid, `${f.name} is on top at its middle (${size.width} px)`).to.equal(f.name);
      expect(boxes.frozen.map((f) => f.name).filter((n) => n === 'name' || n === 'qty'), 'name and qty are frozen').to.deep.equal(['name', 'qty']);
      // The next (scrolling) header has gone under the frozen ones: it never covers them.
      const edge = boxes.frozen[boxes.frozen.length - 1]!.right;
      expect(boxes.next.left, `the next header has scrolled under the frozen ones (${size.width} px)`).to.be.lessThan(edge);
    }
  });

  it('a focused column header resizes its column with Alt+ArrowRight / Alt+ArrowLeft (the width goes into the URL)', async () => {
    await page.goto(url(`/tables/${tableId}`));
    const head = page.locator('#grid thead th[data-column="qty"]');
    const w0 = (await head.boundingBox())!.width;
    // The header's sort link has the focus (a header cell takes none of its own).
    await head.locator('a').first().focus();
    for (let i = 0; i < 3; i++) {
      await page.keyboard.press('Alt+ArrowRight');
      await page.waitForTimeout(30);
    }
    await page.waitForURL(/widths=qty%3A\d+|widths=qty:\d+/);
    await htmxIdle(page);
    const w1 = (await page.locator('#grid thead th[data-column="qty"]').boundingBox())!.width;
    expect(w1, 'wider').to.be.greaterThan(w0 + 25);
    expect(await page.evaluate(() => document.activeElement?.closest('th')?.dataset.column), 'the header keeps the focus').to.equal('qty');
    await page.keyboard.press('Alt+ArrowLeft');
    await page.waitForFunction((w) => {
      const th = document.querySelector('#grid thead th[data-column="qty"]');
      return th && th.getBoundingClientRect().width < w - 5;
    }, w1);
    await htmxIdle(page);
    expect(await page.locator('[data-unsaved]').count(), 'a resize is an unsaved change, as a drag is').to.equal(1);
  });
});
