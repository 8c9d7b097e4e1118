// The console in a real browser (headless chromium through playwright-core): the flows an
// admin goes through, with JavaScript on (htmx, grid.js, forms.js, live.js) and the
// server's real CSP. Each flow sets up its own tables through the API, except the ones
// that are about creating them. Screenshots of every main page land in
// test-artifacts/screenshots/ (git-ignored), at 1280 and 375 px wide.
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { projectRoot } from '../../server/paths.js';
import { addUser, PASSWORD } from '../auth/lib.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';
import { collectPageErrors, eventually, htmxIdle, launchBrowser, screenshots, skipWithoutBrowser, type Browser } from './lib.js';

const ADMIN = 'ada@example.com';

describe('the console in a browser (e2e)', function () {
  this.timeout(60_000);
  let db: TestDatabase | undefined;
  let app: TestApp | undefined;
  let browser: Browser | undefined;
  let sql: Sql | undefined;
  let page: Page;
  let errors: string[] = [];

  before(async function () {
    this.timeout(120_000);
    skipWithoutBrowser(this);
    db = await freshDatabase();
    // A fast drift check, so that an ALTER TABLE in plain SQL shows within a second.
    // A small IMPORT_JOB_BYTES, so that a CSV of a few thousand rows is imported by a job.
    app = await startApp(db.url, { DRIFT_CHECK_INTERVAL: '300ms', CLEANUP_INTERVAL: 'off', IMPORT_JOB_BYTES: '20000', JOB_POLL_MS: '100' }, 'e2e');
    await addUser(app, ADMIN, 'admin');
    sql = await Sql.connect(db.url);
    browser = await launchBrowser();
    page = browser.page;
    errors = collectPageErrors(page);
  });

  after(async function () {
    this.timeout(60_000);
    await browser?.close();
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  afterEach(function () {
    // A script error or a CSP violation in the page fails the flow that caused it.
    const seen = errors.splice(0);
    if (this.currentTest?.state === 'passed') expect(seen, 'errors in the page').to.deep.equal([]);
  });

  const url = (p: string) => new URL(p, app!.url).toString();

  /** A table made through the API (as a script would), with its fields; returns its id and field ids by column. */
  async function apiTable(name: string, fields: Array<Record<string, unknown>>): Promise<{ id: number; fields: Record<string, number> }> {
    const res = await app!.request('POST', '/tables', { json: { name, fields } });
    expect(res.status, res.text).to.equal(201);
    return { id: res.body.id, fields: Object.fromEntries(res.body.fields.map((f: { column: string; id: number }) => [f.column, f.id])) };
  }

  async function apiRows(tableId: number, rows: Array<Record<string, unknown>>): Promise<number[]> {
    const res = await app!.request('POST', `/tables/${tableId}/rows`, { json: rows });
    expect(res.status, res.text).to.equal(201);
    return res.body.rows.map((r: { id: number }) => r.id);
  }

  async function openTab(tableId: number, tab: 'Rows' | 'Fields' | 'SQL' | 'History') {
    await page.getByRole('navigation', { name: /^Views of/ }).getByRole('link', { name: new RegExp(`^${tab}`) }).click();
    await htmxIdle(page);
    await expect(await page.locator('.tabs a[aria-current="page"]').innerText()).to.match(new RegExp(`^${tab}`));
    void tableId;
  }

  it('signs in through the login form: a wrong password is refused on the form, the right one lands on the tables page', async () => {
    await page.goto(url('/tables'));
    expect(new URL(page.url()).pathname, 'a browser without a session is sent to sign in').to.equal('/login');
    await page.getByLabel('Email').fill(ADMIN);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(await page.locator('.error[role="alert"]').innerText()).to.match(/email or password/i);
    await screenshots(page, 'login');

    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((u) => u.pathname === '/tables');
    expect(await page.locator('h1').innerText()).to.equal('Tables');
    expect(await page.locator('header nav a[aria-current="page"]').innerText(), 'the active section is marked').to.equal('Tables');
    expect(await page.locator('.who').innerText()).to.include(ADMIN);
    expect(await page.locator('.empty').innerText(), 'the empty state says what to do next').to.match(/first table/i);
  });

  it('creates a table, then adds text, number, date, single select and link fields through the field panel', async () => {
    await apiTable('Companies', [{ name: 'Name', type: 'text' }]);
    await page.goto(url('/tables'));
    await page.getByLabel('New table').fill('Customers');
    await page.getByRole('button', { name: 'Create table' }).click();
    await page.waitForURL(/\/tables\/\d+$/);
    const tableId = Number(new URL(page.url()).pathname.split('/').pop());
    expect(await page.locator('h1').innerText()).to.equal('Customers');

    await openTab(tableId, 'Fields');
    expect(new URL(page.url()).search, 'the address bar follows the tab').to.equal('?tab=fields');
    const add = async (name: string, type: string, fill?: () => Promise<unknown>) => {
      const form = page.locator('form', { has: page.getByRole('heading', { name: 'Add a field' }) });
      await form.getByLabel('Name', { exact: true }).fill(name);
      await form.getByLabel('Type', { exact: true }).selectOption(type);
      await fill?.();
      await form.getByRole('button', { name: 'Add field' }).click();
      await htmxIdle(page);
      await page.locator('#fields-panel .notice', { hasText: `Field "${name}" added.` }).waitFor();
    };
    await add('Email', 'email');
    await add('Visits', 'number', () => page.locator('#new-decimals').fill('0'));
    await add('Since', 'date');
    await add('Status', 'single_select', () => page.locator('#new-choices').fill('Lead\nActive\nGone'));
    await add('Company', 'link', () => page.locator('#new-link').selectOption({ label: 'Companies' }));

    const rows = await page.locator('#fields-panel table.fields tbody tr').allInnerTexts();
    const summary = rows.map((r) => r.split('\t').slice(0, 3).join(' | '));
    expect(summary).to.deep.equal([
      'Name | name | Text',
      'Email | email | Email',
      'Visits | visits | Number (0 dp)',
      'Since | since | Date',
      'Status | status | Single select Lead, Active, Gone',
      'Company | company | Link to table → Companies',
    ]);
    const { rows: cols } = await sql!.raw.query(
      `SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = 'data.customers'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    );
    expect(cols.map((c) => `${c.attname} ${c.type}`), 'each field is a real column').to.deep.equal([
      'id bigint', 'name text', 'email text', 'visits bigint', 'since date', 'status integer', 'company bigint',
    ]);
  });

  it('adds a row, then edits cells with the keyboard: arrows move, Enter edits, Enter saves, Escape cancels', async () => {
    const t = await apiTable('Orders', [
      { name: 'Item', type: 'text' },
      { name: 'Qty', type: 'number' },
      { name: 'Due', type: 'date' },
    ]);
    await apiRows(t.id, [{ item: 'Chair', qty: 2, due: '2024-05-01' }]);
    await page.goto(url(`/tables/${t.id}`));

    // Add a row through the grid's form.
    await page.getByText('Add a row').click();
    await page.locator('#add-item').fill('Desk');
    await page.locator('#add-qty').fill('1');
    await page.getByRole('button', { name: 'Add row' }).click();
    await htmxIdle(page);
    await page.locator('#grid .notice', { hasText: /Row \d+ added/ }).waitFor();
    const ids = await page.locator('#grid tbody th.rowid').allInnerTexts();
    expect(ids).to.have.length(2);
    const [first, second] = ids.map(Number) as [number, number];

    // Keyboard: the first cell, right to Qty, Enter opens its editor.
    await page.locator(`#cell-${first}-item`).focus();
    await page.keyboard.press('ArrowRight');
    expect(await page.evaluate(() => document.activeElement?.id)).to.equal(`cell-${first}-qty`);
    await page.keyboard.press('ArrowDown');
    expect(await page.evaluate(() => document.activeElement?.id)).to.equal(`cell-${second}-qty`);
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('Enter');
    const editor = page.locator(`#edit-${first}-qty`);
    await editor.waitFor();
    await htmxIdle(page);
    expect(await page.evaluate(() => document.activeElement?.id), 'the editor has the focus').to.equal(`edit-${first}-qty`);
    await editor.fill('5');
    await page.keyboard.press('Enter');
    await page.locator(`#cell-${first}-qty:not(.editing)`).waitFor();
    await htmxIdle(page);
    expect((await page.locator(`#cell-${first}-qty`).innerText()).trim()).to.equal('5');
    expect(await page.evaluate(() => document.activeElement?.id), 'Enter saves and moves down, as in a spreadsheet').to.equal(`cell-${second}-qty`);
    const saved = await app!.request('GET', `/tables/${t.id}/rows/${first}`);
    expect(saved.body.qty).to.equal(5);
    await page.keyboard.press('ArrowUp');

    // A refused value shows its message inside the cell; Escape cancels and keeps the old value.
    await page.keyboard.press('Enter');
    await editor.waitFor();
    await htmxIdle(page);
    await editor.fill('lots');
    await page.keyboard.press('Enter');
    await page.locator(`#cell-${first}-qty .field-error`).waitFor();
    await htmxIdle(page);
    expect(await page.locator(`#cell-${first}-qty .field-error`).innerText()).to.match(/not a number/);
    await page.locator(`#edit-${first}-qty`).press('Escape');
    await page.locator(`#cell-${first}-qty:not(.editing)`).waitFor();
    await htmxIdle(page);
    expect((await page.locator(`#cell-${first}-qty`).innerText()).trim()).to.equal('5');
    expect((await app!.request('GET', `/tables/${t.id}/rows/${first}`)).body.qty).to.equal(5);
  });

  it('changes a type with the lossy preview: sees how many values would not convert, confirms, and finds them kept in the trash', async () => {
    const t = await apiTable('Readings', [{ name: 'Value', type: 'text' }]);
    await apiRows(t.id, [{ value: '12' }, { value: 'n/a' }, { value: '7' }, { value: 'broken' }]);
    await page.goto(url(`/tables/${t.id}?tab=fields`));
    const row = page.locator(`#field-${t.fields.value}`);
    await row.getByText('Edit', { exact: true }).click();
    await row.getByLabel('Type').selectOption('number');
    await row.getByRole('button', { name: 'Preview type change' }).click();
    await htmxIdle(page);
    const report = page.locator(`#f${t.fields.value}-report`); // beside the form that asked
    await report.getByText('2 values would not convert').waitFor();
    expect(await report.locator('tbody tr').allInnerTexts()).to.have.length(2);
    await screenshots(page, 'type-change-preview');
    const unchanged = await app!.request('GET', `/tables/${t.id}/fields/${t.fields.value}`);
    expect(unchanged.body.type, 'the preview changes nothing').to.equal('text');

    await report.getByRole('button', { name: 'Convert anyway, emptying 2 values' }).click();
    await htmxIdle(page);
    await page.locator('#fields-panel .notice', { hasText: 'saved' }).waitFor();
    expect(await page.locator(`#field-${t.fields.value}`).innerText()).to.include('Number');
    expect(await page.locator('#fields-panel').innerText()).to.include('values kept from a type change');
    const after = await app!.request('GET', `/tables/${t.id}/rows?sort=id`);
    expect(after.body.rows.map((r: { value: unknown }) => r.value)).to.deep.equal([12, null, 7, null]);
  });

  it('moves a field to the trash and restores it', async () => {
    const t = await apiTable('Pets', [{ name: 'Name', type: 'text' }, { name: 'Nickname', type: 'text' }]);
    await apiRows(t.id, [{ name: 'Rex', nickname: 'Rexy' }]);
    await page.goto(url(`/tables/${t.id}?tab=fields`));
    const row = page.locator(`#field-${t.fields.nickname}`);
    await row.getByText('Edit', { exact: true }).click();
    await row.getByRole('button', { name: 'Move to trash' }).click();
    await htmxIdle(page);
    // a schema change each: up to 30 s on a loaded machine (10 s ran out once in a full run)
    await page.locator('#fields-panel .notice', { hasText: 'Field moved to the trash.' }).waitFor({ timeout: 30_000 });
    expect(await page.locator(`#field-${t.fields.nickname}`).count(), 'gone from the live fields').to.equal(0);
    const trashed = page.locator('#fields-panel li', { hasText: 'Nickname' });
    await trashed.getByRole('button', { name: 'Restore' }).click();
    await htmxIdle(page);
    await page.locator('#fields-panel .notice', { hasText: 'Field restored.' }).waitFor({ timeout: 30_000 });
    await page.locator(`#field-${t.fields.nickname}`).waitFor();
    const rows = await app!.request('GET', `/tables/${t.id}/rows`);
    expect(rows.body.rows[0].nickname, 'the values came back with the column').to.equal('Rexy');
  });

  it('a refused "Add field" is shown again with the message beside it and the name kept, and the next try clears it', async () => {
    const t = await apiTable('Notes', [{ name: 'Title', type: 'text' }]);
    await page.goto(url(`/tables/${t.id}?tab=fields`));
    const form = () => page.locator('#add-field-form');
    await form().getByLabel('Name', { exact: true }).fill('title');
    await form().getByRole('button', { name: 'Add field' }).click();
    await htmxIdle(page);
    await page.locator('[data-add-field-error]').waitFor();
    expect(await page.locator('[data-add-field-error]').innerText()).to.match(/already/i);
    expect(await form().getByLabel('Name', { exact: true }).inputValue(), 'what was typed is kept').to.equal('title');
    await form().getByLabel('Name', { exact: true }).fill('Body');
    await form().getByRole('button', { name: 'Add field' }).click();
    await htmxIdle(page);
    await page.locator('#fields-panel .notice', { hasText: 'Field "Body" added.' }).waitFor();
    expect(await page.locator('[data-add-field-error]').count(), 'the message is gone after a successful try').to.equal(0);
  });

  it('switches tabs in place (htmx) with aria-current and the address bar following; the SQL tab shows the DDL; History the changes', async () => {
    const t = await apiTable('Invoices', [{ name: 'Number', type: 'text', unique: true }, { name: 'Total', type: 'number', options: { decimals: 2 } }]);
    await page.goto(url(`/tables/${t.id}`));
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 1));
    await openTab(t.id, 'SQL');
    expect(new URL(page.url()).search).to.equal('?tab=sql');
    const ddl = await page.locator('pre.ddl').innerText();
    expect(ddl).to.include('CREATE TABLE data.invoices (');
    expect(ddl).to.match(/total\s+numeric\(30,2\)/);
    expect(ddl).to.match(/CONSTRAINT uq_f\d+ UNIQUE \(number\)/);

    await openTab(t.id, 'History');
    expect(await page.locator('.timeline .event').count()).to.be.greaterThan(0);
    expect(await page.locator('.timeline').innerText()).to.include('created the table');
    await openTab(t.id, 'Rows');
    expect(new URL(page.url()).search).to.equal('');
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker), 'no full page load happened').to.equal(1);

    await page.goBack();
    await htmxIdle(page);
    expect(new URL(page.url()).search).to.equal('?tab=history');
  });

  it('shows the drift banner after an ALTER TABLE made with plain SQL, linking to the drift report', async () => {
    const t = await apiTable('Drifty', [{ name: 'Name', type: 'text' }]);
    void t;
    await sql!.exec(`ALTER TABLE data.drifty ADD COLUMN added_in_psql text`);
    await eventually(
      async () => {
        await page.goto(url('/tables'));
        return (await page.locator('#drift-banner').count()) > 0;
      },
      10_000,
      'the drift banner',
    );
    const banner = page.locator('#drift-banner');
    expect(await banner.isVisible()).to.equal(true);
    expect(await banner.innerText()).to.match(/untracked/);
    await banner.getByRole('link', { name: 'Review the drift report' }).click();
    await page.waitForURL((u) => u.pathname === '/reconcile');
    expect(await page.locator('main').innerText()).to.include('added_in_psql');
    await screenshots(page, 'drift');
    await sql!.exec(`ALTER TABLE data.drifty DROP COLUMN added_in_psql`);
  });

  it('shows the live banner when a second server instance changes this table\'s schema', async function () {
    if (!fs.existsSync(path.join(projectRoot, 'server/live')) || !fs.existsSync(path.join(projectRoot, 'public/js/live.js'))) {
      // needs SSE (server/live)
      this.skip();
    }
    const t = await apiTable('Shared', [{ name: 'Name', type: 'text' }]);
    await page.goto(url(`/tables/${t.id}`));
    await htmxIdle(page);
    const second = await startApp(db!.url, { DRIFT_CHECK_INTERVAL: 'off', CLEANUP_INTERVAL: 'off' }, 'e2e second');
    try {
      // Give the page's event stream a moment to connect, then change the schema elsewhere.
      await page.waitForTimeout(300);
      const res = await second.request('POST', `/tables/${t.id}/fields`, { json: { name: 'Added elsewhere', type: 'text' } });
      expect(res.status, res.text).to.equal(201);
      const banner = page.locator('#live-banner');
      await banner.waitFor({ state: 'visible', timeout: 10_000 });
      expect(await banner.innerText()).to.match(/changed by/i);
    } finally {
      await second.stop();
    }
  });

  it('imports a big CSV through the grid\'s import form: a progress bar while the job runs, then how many rows came in', async () => {
    const t = await apiTable('Parts', [{ name: 'Name', type: 'text' }, { name: 'Qty', type: 'number' }]);
    const csv = ['name,qty', ...Array.from({ length: 3000 }, (_, i) => `part ${i + 1},${i + 1}`)].join('\n');
    await page.goto(url(`/tables/${t.id}`));
    await page.getByText('Import CSV', { exact: true }).click();
    await page.getByLabel('CSV file').setInputFiles({ name: 'parts.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    const job = page.locator('section.job');
    await job.locator('progress').waitFor();
    expect(await job.locator('h2').innerText()).to.match(/^Job \d+: importing CSV$/);
    await screenshots(page, 'job-import');
    await job.getByText('Imported 3,000 rows.').waitFor({ timeout: 15_000 });
    expect(await job.locator('progress').count(), 'the bar goes when the job is done').to.equal(0);
    await job.getByRole('link', { name: 'Back to the table' }).click();
    await page.waitForURL(url(`/tables/${t.id}`));
    expect(await page.locator('#grid .count').innerText()).to.match(/3,?000 rows/);
  });

  it('picks a linked row by typing part of its label (the datalist follows), saves with Enter, and shift+clicks a second header to sort by two columns', async () => {
    // 25 vendors: the one picked is past the 20 the editor's datalist starts with, so it
    // can only be offered by the search as the user types.
    const vendors = await apiTable('Vendors', [{ name: 'Name', type: 'text' }]);
    const vendorIds = await apiRows(vendors.id, Array.from({ length: 25 }, (_, i) => ({ name: i === 24 ? 'Zephyr Supplies' : `Vendor ${i + 1}` })));
    const zephyr = vendorIds[24]!;
    const t = await apiTable('Purchases', [
      { name: 'Item', type: 'text' },
      { name: 'Vendor', type: 'link', options: { table_id: vendors.id } },
      { name: 'Qty', type: 'number' },
    ]);
    const [bolts] = await apiRows(t.id, [
      { item: 'Bolts', qty: 2, vendor: vendorIds[0] },
      { item: 'Anchors', qty: 1 },
      { item: 'Cables', qty: 2 },
      { item: 'Dowels', qty: 1 },
    ]);
    await page.goto(url(`/tables/${t.id}`));

    // Keyboard: focus the cell, Enter opens the picker with the first 20 vendors.
    await page.locator(`#cell-${bolts}-vendor`).focus();
    await page.keyboard.press('Enter');
    const editor = page.locator(`#edit-${bolts}-vendor`);
    await editor.waitFor();
    await htmxIdle(page);
    expect(await page.evaluate(() => document.activeElement?.id), 'the picker has the focus').to.equal(`edit-${bolts}-vendor`);
    expect(await editor.getAttribute('list')).to.equal(`edit-${bolts}-vendor-choices`);
    const listed = () => page.locator(`#edit-${bolts}-vendor-choices option`).allTextContents();
    expect(await listed()).to.have.length(20);
    expect((await listed()).some((o) => o.includes('Zephyr')), 'not among the first 20').to.equal(false);
    expect(await page.locator(`#hint-${bolts}-vendor`).innerText()).to.equal(`now: Vendor 1 (#${vendorIds[0]})`);

    // Typing part of the label: the datalist is refreshed from the server with the matches.
    await editor.fill('');
    await editor.pressSequentially('zeph', { delay: 30 });
    await eventually(async () => (await listed()).join('|') === `Zephyr Supplies (#${zephyr})`, 5_000, 'the datalist offers Zephyr Supplies');
    const value = await page.locator(`#edit-${bolts}-vendor-choices option`).first().getAttribute('value');
    expect(value).to.equal(String(zephyr));
    // Picking the option puts its id in the input (what the datalist does); Enter saves.
    await editor.fill(value!);
    await page.keyboard.press('Enter');
    await page.locator(`#cell-${bolts}-vendor:not(.editing)`).waitFor();
    await htmxIdle(page);
    expect((await page.locator(`#cell-${bolts}-vendor`).innerText()).trim()).to.equal('Zephyr Supplies');
    expect(await page.evaluate(() => document.activeElement?.id), 'Enter saves and moves down (or stays on the last row)').to.match(/^cell-\d+-vendor$/);
    expect((await app!.request('GET', `/tables/${t.id}/rows/${bolts}`)).body.vendor).to.deep.equal({ id: zephyr, label: 'Zephyr Supplies' });
    await page.locator(`#cell-${bolts}-vendor`).focus();

    // Escape in the picker cancels: the cell keeps its value.
    await page.keyboard.press('Enter');
    await editor.waitFor();
    await htmxIdle(page);
    await editor.fill(String(vendorIds[1]));
    await editor.press('Escape');
    await page.locator(`#cell-${bolts}-vendor:not(.editing)`).waitFor();
    await htmxIdle(page);
    expect((await page.locator(`#cell-${bolts}-vendor`).innerText()).trim()).to.equal('Zephyr Supplies');

    // Sorting: a click on Qty sorts by it alone; shift+click on Item adds it as the second key.
    const items = () => page.locator('#grid tbody td[data-column="item"]').allInnerTexts();
    await page.locator('#grid thead th[title^="qty "] a[data-sort-add]').click();
    await htmxIdle(page);
    // htmx pushes the URL after the swap: wait for it rather than read it at once.
    await page.waitForURL((u) => u.searchParams.get('sort') === 'qty');
    const pages = browser!.context.pages().length;
    await page.locator('#grid thead th[title^="item "] a[data-sort-add]').click({ modifiers: ['Shift'] });
    await htmxIdle(page);
    await page.waitForURL((u) => u.searchParams.get('sort') === 'qty,item');
    expect(browser!.context.pages().length, 'shift+click opens no new window').to.equal(pages);
    expect(await items()).to.deep.equal(['Anchors', 'Dowels', 'Bolts', 'Cables']);
    expect(await page.locator('#grid thead th[title^="qty "]').getAttribute('aria-sort')).to.equal('ascending');
    expect(await page.locator('#grid thead th[title^="item "]').getAttribute('aria-sort'), 'aria-sort on the first key only').to.equal(null);
    expect(await page.locator('#grid thead th[title^="qty "] .sort-order').innerText()).to.equal('1');
    expect(await page.locator('#grid thead th[title^="item "] .sort-order').innerText()).to.equal('2');
    // shift+click again turns the second key around, keeping the first
    await page.locator('#grid thead th[title^="item "] a[data-sort-add]').click({ modifiers: ['Shift'] });
    await htmxIdle(page);
    await page.waitForURL((u) => u.searchParams.get('sort') === 'qty,-item');
    expect(await items()).to.deep.equal(['Dowels', 'Anchors', 'Cables', 'Bolts']);
    // the address is the view: a reload shows the same order
    await page.reload();
    expect(await items()).to.deep.equal(['Dowels', 'Anchors', 'Cables', 'Bolts']);
  });

  it('refreshes the grid for a row written elsewhere (a script), and keeps an open cell editor', async () => {
    const t = await apiTable('Visitors', [{ name: 'Name', type: 'text' }]);
    const [first] = await apiRows(t.id, [{ name: 'Ann' }]);
    await page.goto(url(`/tables/${t.id}`));
    await page.locator('#grid tbody tr').first().waitFor();
    await apiRows(t.id, [{ name: 'Bo' }]);
    await page.locator('#grid tbody td[data-column="name"]', { hasText: 'Bo' }).waitFor({ timeout: 5000 });
    // With a cell being edited, a write elsewhere does not pull the editor away.
    await page.locator(`#cell-${first}-name`).focus();
    await page.keyboard.press('Enter');
    const editor = page.locator(`#edit-${first}-name`);
    await editor.waitFor();
    await apiRows(t.id, [{ name: 'Cy' }]);
    await page.waitForTimeout(800);
    expect(await editor.count(), 'the editor is still open').to.equal(1);
    await editor.press('Escape');
    await page.locator(`#cell-${first}-name:not(.editing)`).waitFor();
  });
});
