// System fields in a real browser: an admin adds "Created by" and an autonumber through
// the field panel, adds a row through the grid, and finds them filled by PostgreSQL with
// the admin's name and the next number; their cells have no editor, and the grid's
// add-a-row form has no input for them.
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { addUser, PASSWORD } from '../auth/lib.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { collectPageErrors, htmxIdle, launchBrowser, skipWithoutBrowser, type Browser } from './lib.js';

const ADMIN = 'sys@example.com';

describe('system fields in the console (e2e)', function () {
  this.timeout(60_000);
  let db: TestDatabase | undefined;
  let app: TestApp | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let errors: string[] = [];

  before(async function () {
    this.timeout(120_000);
    skipWithoutBrowser(this);
    db = await freshDatabase();
    app = await startApp(db.url, { DRIFT_CHECK_INTERVAL: 'off', CLEANUP_INTERVAL: 'off' }, 'e2e-system');
    await addUser(app, ADMIN, 'admin');
    browser = await launchBrowser();
    page = browser.page;
    errors = collectPageErrors(page);
  });
  after(async function () {
    this.timeout(60_000);
    await browser?.close();
    await app?.stop();
    await db?.drop();
  });

  it('adds Created by and an autonumber in the field panel; a row added in the grid gets them, and their cells are not editable', async () => {
    const url = (p: string) => new URL(p, app!.url).toString();
    const t = await app!.request('POST', '/tables', { json: { name: 'Tickets', fields: [{ name: 'Subject', type: 'text' }] } });
    expect(t.status, t.text).to.equal(201);
    await page.goto(url('/tables'));
    await page.getByLabel('Email').fill(ADMIN);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((u) => u.pathname === '/tables');

    await page.goto(url(`/tables/${t.body.id}?tab=fields`));
    const add = async (name: string, type: string) => {
      const form = page.locator('form', { has: page.getByRole('heading', { name: 'Add a field' }) });
      await form.getByLabel('Name', { exact: true }).fill(name);
      await form.getByLabel('Type', { exact: true }).selectOption(type);
      await form.getByRole('button', { name: 'Add field' }).click();
      await htmxIdle(page);
      await page.locator('#fields-panel .notice', { hasText: `Field "${name}" added.` }).waitFor();
    };
    await add('Ticket', 'autonumber');
    await add('Opened by', 'created_by');

    await page.goto(url(`/tables/${t.body.id}`));
    await page.locator('summary', { hasText: 'Add a row' }).click();
    expect(await page.locator('#add-ticket').count(), 'no input for an autonumber').to.equal(0);
    expect(await page.locator('#add-opened_by').count(), 'no input for created_by').to.equal(0);
    await page.locator('#add-subject').fill('Printer on fire');
    await page.getByRole('button', { name: 'Add row' }).click();
    await htmxIdle(page);
    await page.locator('#grid .notice', { hasText: /Row \d+ added/ }).waitFor();
    const id = Number((await page.locator('#grid tbody th.rowid').allInnerTexts())[0]);
    expect((await page.locator(`#cell-${id}-ticket`).innerText()).trim()).to.equal('1');
    expect((await page.locator(`#cell-${id}-opened_by`).innerText()).trim()).to.equal(`user:${ADMIN}`);
    expect(await page.locator(`#cell-${id}-opened_by`).getAttribute('data-editable')).to.equal(null);
    expect(await page.locator(`#cell-${id}-ticket`).getAttribute('data-editable')).to.equal(null);
    expect(await page.locator(`#cell-${id}-subject`).getAttribute('data-editable')).to.equal('1');
    expect(errors.splice(0), 'errors in the page').to.deep.equal([]);
  });
});
