// Audit items of issue 18 in a real browser: each role sees only the forms it may use, a
// refused "Add field" shows the form again with the message and the input kept (htmx and
// plain form), the favicon is served (no 404 on every page), and counts read "1 object".
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { addUser, sessionFor } from '../auth/lib.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { SESSION_COOKIE } from '../../server/web/auth.js';
import { collectPageErrors, htmxIdle, launchBrowser, skipWithoutBrowser, type Browser } from './lib.js';

describe('console audit fixes (e2e)', function () {
  this.timeout(60_000);
  let db: TestDatabase | undefined;
  let app: TestApp | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let errors: string[] = [];
  let tableId: number;
  const sessions: Record<string, string> = {};

  before(async function () {
    this.timeout(120_000);
    skipWithoutBrowser(this);
    db = await freshDatabase();
    app = await startApp(db.url, { DRIFT_CHECK_INTERVAL: 'off', CLEANUP_INTERVAL: 'off' }, 'e2e-audit');
    for (const role of ['viewer', 'editor', 'admin'] as const) {
      const id = await addUser(app, `${role}@example.com`, role);
      sessions[role] = (await sessionFor(app, id)).cookie.split('=')[1]!;
    }
    browser = await launchBrowser();
    page = browser.page;
    errors = collectPageErrors(page);
    const t = await app.request('POST', '/tables', { json: { name: 'Gadgets', fields: [{ name: 'Name', type: 'text' }, { name: 'Price', type: 'number' }] } });
    tableId = t.body.id;
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
  async function as(role: string) {
    await browser!.context.clearCookies();
    await browser!.context.addCookies([{ name: SESSION_COOKIE, value: sessions[role]!, url: app!.url }]);
  }

  it('viewers and editors see the fields without schema forms; admins get the forms', async () => {
    for (const role of ['viewer', 'editor', 'admin']) {
      await as(role);
      await page.goto(url(`/tables/${tableId}?tab=fields`));
      await page.locator('#fields-panel').waitFor();
      const text = await page.locator('#fields-panel').innerText();
      expect(text, role).to.include('Price');
      const forms = await page.locator('#fields-panel form').count();
      const addField = await page.locator('#fields-panel h3:has-text("Add a field")').count();
      const edit = await page.locator('#fields-panel summary:has-text("Edit")').count();
      if (role === 'admin') {
        expect(addField, role).to.equal(1);
        expect(edit, role).to.equal(2);
      } else {
        expect({ forms, addField, edit }, role).to.deep.equal({ forms: 0, addField: 0, edit: 0 });
      }
    }
  });

  it('a refused "Add field" shows the form again with the message, keeping what was typed (htmx)', async () => {
    await as('admin');
    await page.goto(url(`/tables/${tableId}?tab=fields`));
    await page.fill('#new-field-name', 'price');
    await page.fill('#new-field-default', 'cheap');
    await page.selectOption('#new-field-type', 'number');
    await page.check('#add-field-form input[name="indexed"]');
    await page.click('#add-field-form button:has-text("Add field")');
    await htmxIdle(page);
    await page.locator('[data-add-field-error]').waitFor();
    expect(await page.locator('[data-add-field-error]').innerText()).to.match(/cheap.*not a number/i);
    expect(await page.getAttribute('#new-field-default', 'aria-invalid'), 'the field the message is about').to.equal('true');
    expect(await page.inputValue('#new-field-name')).to.equal('price');
    expect(await page.inputValue('#new-field-default')).to.equal('cheap');
    expect(await page.inputValue('#new-field-type')).to.equal('number');
    expect(await page.isChecked('#add-field-form input[name="indexed"]')).to.equal(true);
    const fields = (await app!.request('GET', `/tables/${tableId}`)).body.fields;
    expect(fields.map((f: { name: string }) => f.name)).to.deep.equal(['Name', 'Price']);
  });

  it('without JavaScript a refused "Add field" is the table page with the form, the message and the input (not a dead-end error page)', async () => {
    const res = await app!.request('POST', `/tables/${tableId}/fields`, { headers: { Accept: 'text/html' }, form: { name: 'Price', type: 'text', column: 'Bad Column!' } });
    expect(res.status).to.be.oneOf([400, 409]);
    expect(res.text).to.include('id="add-field-form"');
    expect(res.text).to.include('data-add-field-error');
    expect(res.text).to.include('value="Bad Column!"');
    expect(res.text).to.include('<title>Gadgets · Tablewright</title>');
  });

  it('every page has its icon: /favicon.ico is not a 404', async () => {
    await as('viewer');
    const misses: string[] = [];
    page.on('response', (r) => {
      if (r.status() === 404) misses.push(r.url());
    });
    await page.goto(url('/tables'));
    const icon = await page.request.get(url('/favicon.ico'));
    expect(icon.status()).to.equal(200);
    expect(icon.headers()['content-type']).to.match(/image\/svg\+xml/);
    expect(await page.locator('link[rel="icon"]').getAttribute('href')).to.equal('/public/favicon.svg');
    expect(misses).to.deep.equal([]);
  });

  it('Jobs is in the navigation, and the jobs page names tables by their names', async () => {
    const imported = await app!.request('POST', `/tables/${tableId}/rows/import?async=1`, { headers: { 'Content-Type': 'text/csv' }, body: 'name,price\nwidget,3\n' });
    expect(imported.status, imported.text).to.equal(202);
    await as('viewer');
    await page.goto(url('/tables'));
    await page.click('nav[aria-label="Main"] a:has-text("Jobs")');
    await page.waitForURL(url('/jobs'));
    expect(await page.locator('nav[aria-label="Main"] a[aria-current="page"]').innerText()).to.equal('Jobs');
    const cell = page.locator('main table.grid tbody tr').first();
    expect(await cell.innerText()).to.include('Gadgets');
    expect(await cell.innerText()).to.not.match(/table \d+/);
  });

  it('a new API token has a Copy button that puts the token on the clipboard', async () => {
    await browser!.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: app!.url });
    await as('admin');
    await page.goto(url('/tokens'));
    await page.fill('input[name="name"]', 'ci deploy');
    await page.click('form button[type="submit"]:has-text("Create")');
    await page.locator('#new-token').waitFor();
    const token = (await page.locator('#new-token').innerText()).trim();
    expect(token.length).to.be.greaterThan(20);
    await page.click('button[data-copy="new-token"]');
    await page.locator('button[data-copy="new-token"]', { hasText: 'Copied' }).waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).to.equal(token);
  });

  it('the trash counts one object as "1 object"', async () => {
    const t = await app!.request('POST', '/tables', { json: { name: 'Old' } });
    await app!.request('DELETE', `/tables/${t.body.id}`);
    await as('admin');
    await page.goto(url('/trash'));
    expect(await page.locator('main').innerText()).to.match(/\b1 object,/);
  });
  it('a Save that would lose values shows the loss report beside its form with "Convert anyway"; converting clears it', async () => {
    const t = await app!.request('POST', '/tables', { json: { name: 'Readings', fields: [{ name: 'Value', type: 'text' }] } });
    const fid = t.body.fields[0].id as number;
    await app!.request('POST', `/tables/${t.body.id}/rows`, { json: [{ value: '12' }, { value: 'n/a' }, { value: '7' }, { value: 'broken' }] });
    await as('admin');
    await page.goto(url(`/tables/${t.body.id}?tab=fields`));
    const row = page.locator(`#field-${fid}`);
    await row.getByText('Edit', { exact: true }).click();
    await row.getByLabel('Type').selectOption('number');
    await row.getByRole('button', { name: 'Save', exact: true }).click();
    await htmxIdle(page);
    const report = page.locator(`#f${fid}-report`);
    await report.locator('[data-loss-refused]').waitFor();
    expect(await report.innerText()).to.include('2 values would not convert').and.not.include('confirm_loss');
    const saveBox = (await row.getByRole('button', { name: 'Save', exact: true }).boundingBox())!;
    const reportBox = (await report.boundingBox())!;
    expect(reportBox.y - saveBox.y, 'the report is just below the Save that asked').to.be.within(0, 400);
    expect((await app!.request('GET', `/tables/${t.body.id}/fields/${fid}`)).body.type, 'nothing changed yet').to.equal('text');
    await report.getByRole('button', { name: 'Convert anyway, emptying 2 values' }).click();
    await htmxIdle(page);
    await page.locator('#fields-panel .notice', { hasText: 'saved' }).waitFor();
    expect((await app!.request('GET', `/tables/${t.body.id}/fields/${fid}`)).body.type).to.equal('number');
    expect(await page.locator('[data-loss-refused], #fields-panel .report').count(), 'no stale report or Convert button').to.equal(0);
  });
});
