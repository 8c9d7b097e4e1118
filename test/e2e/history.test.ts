// The row safety net in a real browser (issue 16): the row page with its history and a
// revert per entry, the table page's recent changes, the row trash with restore, and Undo
// of one's own last row actions, by the notice's button and by Ctrl+Z in the grid,
// refused when someone else changed the row since.
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { addUser, sessionFor } from '../auth/lib.js';
import { createTestToken, request, startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';
import { SESSION_COOKIE } from '../../server/web/auth.js';
import { collectPageErrors, htmxIdle, launchBrowser, screenshots, skipWithoutBrowser, type Browser } from './lib.js';

describe('rows are never lost, in a browser (e2e)', function () {
  this.timeout(60_000);
  let db: TestDatabase | undefined;
  let app: TestApp | undefined;
  let browser: Browser | undefined;
  let sql: Sql | undefined;
  let page: Page;
  let errors: string[] = [];
  let other: string;

  before(async function () {
    this.timeout(120_000);
    skipWithoutBrowser(this);
    db = await freshDatabase();
    app = await startApp(db.url, { DRIFT_CHECK_INTERVAL: 'off', CLEANUP_INTERVAL: 'off' }, 'e2e-history');
    const userId = await addUser(app, 'eve@example.com', 'editor');
    other = await createTestToken(app, 'editor', 'bob');
    sql = await Sql.connect(db.url);
    browser = await launchBrowser();
    page = browser.page;
    errors = collectPageErrors(page);
    const session = await sessionFor(app, userId);
    await browser.context.addCookies([{ name: SESSION_COOKIE, value: session.cookie.split('=')[1]!, url: app.url }]);
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
  let seq = 0;
  async function tableWithRows(rows: Array<Record<string, unknown>>) {
    seq += 1;
    const res = await app!.request('POST', '/tables', { json: { name: `Things ${seq}`, fields: [{ name: 'Name', type: 'text' }, { name: 'Qty', type: 'number' }] } });
    expect(res.status, res.text).to.equal(201);
    const made = await app!.request('POST', `/tables/${res.body.id}/rows`, { json: rows });
    return { id: res.body.id as number, table: res.body.table_name as string, rows: made.body.rows.map((r: { id: number }) => r.id) as number[] };
  }
  const apiRow = async (tableId: number, id: number) => (await app!.request('GET', `/tables/${tableId}/rows/${id}`)).body;
  const cellText = async (tableId: number, id: number, column: string) => (await page.locator(`#cell-${id}-${column}`).innerText()).trim();

  async function editCell(rowId: number, column: string, value: string) {
    await page.locator(`#cell-${rowId}-${column}`).click();
    const editor = page.locator(`#edit-${rowId}-${column}`);
    await editor.waitFor();
    await htmxIdle(page);
    await editor.fill(value);
    await page.keyboard.press('Enter');
    await page.locator(`#cell-${rowId}-${column}:not(.editing)`).waitFor();
    await htmxIdle(page);
  }

  it('the row page shows the fields and the history (console, API and psql changes), and reverts to before an entry', async () => {
    const t = await tableWithRows([{ name: 'Lamp', qty: 1 }]);
    const id = t.rows[0]!;
    await app!.request('PATCH', `/tables/${t.id}/rows/${id}`, { json: { qty: 2 } });
    await sql!.exec(`UPDATE data.${t.table} SET name = 'Lamp (fixed in psql)' WHERE id = $1`, [id]);
    await page.goto(url(`/tables/${t.id}`));
    await page.locator(`#row-${id} th.rowid a`).click();
    await page.waitForURL((u) => u.pathname === `/tables/${t.id}/rows/${id}`);
    expect(await page.locator('h1').innerText()).to.equal(`Row ${id} of Things ${seq}`);
    expect(await page.inputValue('#row-name'), 'an editor sees the fields as a form').to.equal('Lamp (fixed in psql)');
    const events = page.locator('.row-history .event');
    expect(await events.count()).to.equal(3);
    expect(await events.nth(0).innerText()).to.include('db:postgres').and.to.include('Lamp (fixed in psql)');
    expect(await events.nth(1).innerText()).to.include('token test admin').and.to.include('Qty');
    await screenshots(page, 'row-page');

    // Revert to before the API's change: qty back to 1, the name back too (later changes undone).
    await events.nth(1).getByRole('button', { name: /Revert row/ }).click();
    await htmxIdle(page);
    await page.locator('#row-detail .notice', { hasText: 'is back as it was' }).waitFor();
    expect(await apiRow(t.id, id)).to.deep.include({ name: 'Lamp', qty: 1 });
    expect(await page.inputValue('#row-name')).to.equal('Lamp');
    const first = await page.locator('.row-history .event').first().innerText();
    expect(first, 'the revert is itself in the history').to.include('revert').and.to.include('eve@example.com');
  });

  it('the table page lists recent changes; the row trash restores a deleted row', async () => {
    const t = await tableWithRows([{ name: 'Keep', qty: 1 }, { name: 'Drop', qty: 2 }]);
    await app!.request('DELETE', `/tables/${t.id}/rows/${t.rows[1]}`);
    await page.goto(url(`/tables/${t.id}`));
    await page.locator('#recent-changes .row-history').waitFor();
    const recent = await page.locator('#recent-changes').innerText();
    expect(recent).to.include(`deleted row ${t.rows[1]}`);
    await screenshots(page, 'table-recent-changes');

    await page.getByRole('link', { name: 'Deleted rows' }).click();
    await page.waitForURL((u) => u.pathname === `/tables/${t.id}/rows/trash`);
    expect(await page.locator('table.row-trash tbody').innerText()).to.include('Drop');
    await screenshots(page, 'row-trash');
    await page.getByRole('button', { name: `Restore row ${t.rows[1]}` }).click();
    await htmxIdle(page);
    await page.locator('#row-trash .notice', { hasText: `Row ${t.rows[1]} restored` }).waitFor();
    expect(await apiRow(t.id, t.rows[1]!)).to.deep.include({ name: 'Drop', qty: 2 });
  });

  it("Undo from the notice brings back a deleted row; Ctrl+Z undoes a cell edit, then an added row, in turn", async () => {
    const t = await tableWithRows([{ name: 'Alpha', qty: 1 }, { name: 'Beta', qty: 2 }]);
    const [alpha, beta] = t.rows as [number, number];
    await page.goto(url(`/tables/${t.id}`));

    await page.click(`summary[aria-label="Actions for row ${beta}"]`); // the row's menu
    await page.getByRole('link', { name: `Delete row ${beta}` }).click();
    await htmxIdle(page);
    const notice = page.locator('#grid .undo-notice', { hasText: `Row ${beta} deleted` });
    await notice.waitFor();
    await notice.getByRole('button', { name: 'Undo' }).click();
    await htmxIdle(page);
    await page.locator('#grid .notice', { hasText: 'Undone: delete' }).waitFor();
    expect(await page.locator(`#row-${beta}`).count(), 'the row is back in the grid').to.equal(1);

    await editCell(alpha, 'name', 'Alpha edited');
    await page.locator('#flash .undo-notice', { hasText: `Name of row ${alpha} saved` }).waitFor();
    await page.getByText('Add a row').click();
    await page.locator('#add-name').fill('Gamma');
    await page.getByRole('button', { name: 'Add row' }).click();
    await htmxIdle(page);
    await page.locator('#grid .undo-notice', { hasText: /Row \d+ added/ }).waitFor();
    const gamma = Number(/Row (\d+) added/.exec(await page.locator('#grid .undo-notice').innerText())![1]);

    await page.locator(`#cell-${alpha}-qty`).focus();
    await page.keyboard.press('Control+z');
    await htmxIdle(page);
    await page.locator('#grid .notice', { hasText: 'Undone: add' }).waitFor();
    expect((await app!.request('GET', `/tables/${t.id}/rows/${gamma}`)).status, 'the added row went to the trash').to.equal(404);

    await page.locator(`#cell-${alpha}-qty`).focus();
    await page.keyboard.press('Control+z');
    await htmxIdle(page);
    await page.locator('#grid .notice', { hasText: 'Undone: edit' }).waitFor();
    expect(await cellText(t.id, alpha, 'name')).to.equal('Alpha');
    expect((await apiRow(t.id, alpha)).name).to.equal('Alpha');
    await screenshots(page, 'grid-undone');
  });

  it("Ctrl+Z is refused over someone else's later change, and says whose", async () => {
    const t = await tableWithRows([{ name: 'Shared', qty: 1 }]);
    const id = t.rows[0]!;
    await page.goto(url(`/tables/${t.id}`));
    await editCell(id, 'qty', '5');
    await page.locator('#flash .undo-notice').waitFor();
    expect((await request(app!.url, 'PATCH', `/tables/${t.id}/rows/${id}`, { auth: { token: other }, json: { qty: 9 } })).status).to.equal(200);
    await page.locator(`#cell-${id}-name`).focus();
    await page.keyboard.press('Control+z');
    await htmxIdle(page);
    const message = await page.locator('#flash .error').innerText();
    expect(message).to.include('cannot undo').and.to.include('token:bob').and.to.include('changed Qty');
    expect((await apiRow(t.id, id)).qty, 'their change stands').to.equal(9);
  });
});
