// A link cell takes the linked row's label, not only its id (issue 18), in a real browser:
// the picker's datalist lists the linked table's rows whose label matches what is typed,
// and the typed label itself is saved as the row it names (exactly, then ignoring case).
// A label no row has, or several rows have, is refused in place and nothing is written.
// The add-row form takes a label the same way. Each step checks the row through the API.
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { addUser, sessionFor } from '../auth/lib.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { SESSION_COOKIE } from '../../server/web/auth.js';
import { collectPageErrors, eventually, htmxIdle, launchBrowser, skipWithoutBrowser, type Browser } from './lib.js';

describe('link cells take the linked row\'s label (e2e)', function () {
  this.timeout(120_000);
  let db: TestDatabase | undefined;
  let app: TestApp | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let errors: string[] = [];
  let orders: number;
  let v: Record<string, number>;
  let firstOrder: number;

  before(async function () {
    this.timeout(120_000);
    skipWithoutBrowser(this);
    db = await freshDatabase();
    app = await startApp(db.url, { DRIFT_CHECK_INTERVAL: 'off', CLEANUP_INTERVAL: 'off' }, 'e2e-link-label');
    const userId = await addUser(app, 'lin@example.com', 'editor');
    browser = await launchBrowser();
    // A loaded machine (2 CPUs shared) can take more than lib.ts's 10 s for a first page.
    browser.context.setDefaultTimeout(30_000);
    page = browser.page;
    errors = collectPageErrors(page);
    const session = await sessionFor(app, userId);
    await browser.context.addCookies([{ name: SESSION_COOKIE, value: session.cookie.split('=')[1]!, url: app.url }]);
    const vendors = await app.request('POST', '/tables', { json: { name: 'Vendors', fields: [{ name: 'Name', type: 'text' }] } });
    const names = ['Acme', 'Borealis Trading', 'Twin', 'Twin', ...Array.from({ length: 22 }, (_, i) => `Filler ${i + 1}`)];
    const vr = await app.request('POST', `/tables/${vendors.body.id}/rows`, { json: names.map((name) => ({ name })) });
    expect(vr.status, vr.text).to.equal(201);
    v = { acme: vr.body.rows[0].id, borealis: vr.body.rows[1].id };
    const o = await app.request('POST', '/tables', { json: { name: 'Orders', fields: [{ name: 'Item', type: 'text' }, { name: 'Vendor', type: 'link', options: { table_id: vendors.body.id } }] } });
    orders = o.body.id;
    const or = await app.request('POST', `/tables/${orders}/rows`, { json: [{ item: 'Bolts' }] });
    firstOrder = or.body.rows[0].id;
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

  const url = (p: string) => new URL(p, app!.url).toString();
  const vendorOf = async (rowId: number) => (await app!.request('GET', `/tables/${orders}/rows/${rowId}`)).body.vendor;
  const openEditor = async () => {
    await page.locator(`#cell-${firstOrder}-vendor`).focus();
    await page.keyboard.press('Enter');
    const editor = page.locator(`#edit-${firstOrder}-vendor`);
    await editor.waitFor();
    await htmxIdle(page);
    return editor;
  };

  it('lists the matches by label as the user types, and saves the typed label as the row it names', async () => {
    await page.goto(url(`/tables/${orders}`));
    const editor = await openEditor();
    await editor.fill('');
    await editor.pressSequentially('borea', { delay: 30 });
    const listed = () => page.locator(`#edit-${firstOrder}-vendor-choices option`).allTextContents();
    await eventually(async () => (await listed()).join('|') === `Borealis Trading (#${v.borealis})`, 10_000, 'the datalist offers Borealis Trading');
    await editor.pressSequentially('lis Trading', { delay: 10 });
    await page.keyboard.press('Enter');
    await page.locator(`#cell-${firstOrder}-vendor:not(.editing)`).waitFor();
    await htmxIdle(page);
    expect(await page.locator(`#cell-${firstOrder}-vendor`).innerText()).to.include('Borealis Trading');
    expect((await vendorOf(firstOrder)).id, 'saved as the row the label names').to.equal(v.borealis);
  });

  it('matches a label ignoring case, and reads a datalist option\'s text "Acme (#id)"', async () => {
    await page.goto(url(`/tables/${orders}`));
    let editor = await openEditor();
    await editor.fill('acme');
    await page.keyboard.press('Enter');
    await eventually(async () => (await vendorOf(firstOrder))?.id === v.acme, 10_000, 'saved as Acme');
    await htmxIdle(page);
    editor = await openEditor();
    await editor.fill(`Borealis Trading (#${v.borealis})`);
    await page.keyboard.press('Enter');
    await eventually(async () => (await vendorOf(firstOrder))?.id === v.borealis, 10_000, 'saved as Borealis Trading');
    await htmxIdle(page);
  });

  it('refuses a label that no row has, or several rows have, beside the input; nothing is written', async () => {
    await page.goto(url(`/tables/${orders}`));
    const before = await vendorOf(firstOrder);
    for (const [typed, said] of [['Nobody Inc', /no row of Vendors is labelled "Nobody Inc"/], ['Twin', /several rows of Vendors are labelled "Twin"/]] as const) {
      const editor = (await page.locator(`#edit-${firstOrder}-vendor`).count()) ? page.locator(`#edit-${firstOrder}-vendor`) : await openEditor();
      await editor.fill(typed);
      await page.keyboard.press('Enter');
      await page.locator(`#cell-${firstOrder}-vendor.invalid`).waitFor();
      await htmxIdle(page);
      expect(await page.locator(`#err-${firstOrder}-vendor`).innerText()).to.match(said);
      expect(await page.locator(`#edit-${firstOrder}-vendor`).inputValue(), 'what was typed is kept').to.equal(typed);
      expect(await vendorOf(firstOrder), 'nothing written').to.deep.equal(before);
    }
  });

  it('the row page\'s form takes a label too (with or without JavaScript it is a plain form)', async () => {
    await page.goto(url(`/tables/${orders}/rows/${firstOrder}`));
    await page.fill('#row-vendor', 'acme');
    await page.click(`button:has-text("Save row ${firstOrder}")`);
    await eventually(async () => (await vendorOf(firstOrder))?.id === v.acme, 10_000, 'saved as Acme from the row page');
  });

  it('the add-row form takes a label too', async () => {
    await page.goto(url(`/tables/${orders}`));
    await page.click('details.add-row summary');
    await page.fill('#add-item', 'Nuts');
    await page.fill('#add-vendor', 'Acme');
    await page.click('details.add-row button:has-text("Add row")');
    await htmxIdle(page);
    const rows = (await app!.request('GET', `/tables/${orders}/rows?filter[item]=Nuts`)).body.rows;
    expect(rows).to.have.length(1);
    expect(rows[0].vendor.id).to.equal(v.acme);
  });
});
