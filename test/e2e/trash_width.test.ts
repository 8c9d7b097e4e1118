// The Trash page at 1280 px (issue 18 audit): with a trashed table and a trashed field
// whose physical names are long, every row's Restore and Purge controls are on screen
// without scrolling (the table fits its box), and at 375 px the page does not scroll
// sideways (the table scrolls in its own box).
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { addUser, sessionFor } from '../auth/lib.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { SESSION_COOKIE } from '../../server/web/auth.js';
import { collectPageErrors, launchBrowser, screenshots, skipWithoutBrowser, WIDE, type Browser } from './lib.js';

describe('the Trash page fits (e2e)', function () {
  this.timeout(90_000);
  let db: TestDatabase | undefined;
  let app: TestApp | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let errors: string[] = [];

  before(async function () {
    this.timeout(120_000);
    skipWithoutBrowser(this);
    db = await freshDatabase();
    app = await startApp(db.url, { DRIFT_CHECK_INTERVAL: 'off', CLEANUP_INTERVAL: 'off' }, 'e2e-trash');
    const userId = await addUser(app, 'ada@example.com', 'admin');
    browser = await launchBrowser();
    page = browser.page;
    errors = collectPageErrors(page);
    const session = await sessionFor(app, userId);
    await browser.context.addCookies([{ name: SESSION_COOKIE, value: session.cookie.split('=')[1]!, url: app.url }]);
    const long = 'Quarterly procurement reconciliation for the northern region warehouses';
    const t = await app.request('POST', '/tables', { json: { name: long, fields: [{ name: 'Supplier contract reference number (legacy system)', type: 'text' }, { name: 'Name', type: 'text' }] } });
    expect(t.status, t.text).to.equal(201);
    const keep = await app.request('POST', '/tables', { json: { name: `${long} (kept)`, fields: [{ name: 'Supplier contract reference number (legacy system)', type: 'text' }] } });
    await app.request('DELETE', `/tables/${keep.body.id}/fields/${keep.body.fields[0].id}`);
    await app.request('DELETE', `/tables/${t.body.id}`);
  });

  after(async function () {
    this.timeout(60_000);
    await browser?.close();
    await app?.stop();
    await db?.drop();
  });

  afterEach(function () {
    const seen = errors.splice(0);
    if (this.currentTest?.state === 'passed') expect(seen, 'errors in the page').to.deep.equal([]);
  });

  it('at 1280 px every Restore and Purge is on screen; at 375 px the page does not scroll sideways', async () => {
    await page.setViewportSize(WIDE);
    await page.goto(new URL('/trash', app!.url).toString());
    const controls = page.locator('table.trash button:has-text("Restore"), table.trash summary:has-text("Purge")');
    expect(await controls.count()).to.be.greaterThan(3);
    for (const box of await controls.evaluateAll((els) => els.map((e) => e.getBoundingClientRect().right))) {
      expect(box, 'right edge within 1280 px').to.be.at.most(1280);
    }
    const wraps = await page.locator('table.trash').evaluateAll((els) => els.map((t) => t.parentElement!.scrollWidth - t.parentElement!.clientWidth));
    expect(wraps.every((w) => w <= 0), `tables fit their boxes (${wraps.join(', ')})`).to.equal(true);
    await screenshots(page, 'trash-long-names');
  });
});
