// Checked rows in the console grid, in a real browser (issue 18): a check box per row,
// Shift+click checks a range, the header box checks the page; Delete (after a confirm)
// deletes the checked rows in one transaction; "Set on checked" sets one field on all of
// them or, for a value the field refuses, on none. Row actions sit behind a small menu.
// Without JavaScript the same form works, with a confirm page before the delete.
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import type { TestApp } from '../helpers/app.js';
import type { TestDatabase } from '../helpers/db.js';
import type { Sql } from '../helpers/sql.js';
import { htmxIdle, signedInConsole, screenshots, skipWithoutBrowser, type Browser } from './lib.js';

for (const js of [true, false]) {
  describe(`checked rows in the grid, ${js ? 'with' : 'without'} JavaScript (e2e)`, function () {
    this.timeout(90_000);
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
      const signedIn = await signedInConsole('e2e-bulk', 'kim@example.com', { javaScriptEnabled: js });
      ({ db, app, sql, browser, page, errors } = signedIn);
      const t = await app.request('POST', '/tables', { json: { name: 'Tasks', fields: [{ name: 'Title', type: 'text' }, { name: 'Points', type: 'number' }] } });
      tableId = t.body.id;
      await sql.exec(`INSERT INTO data.tasks (title, points) SELECT 'task ' || i, i FROM generate_series(1, 8) i`);
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
    const box = (id: number) => page.locator(`input[data-pick][value="${id}"]`);
    const points = async (ids: number[]) => (await sql!.rows(`SELECT points::text AS p FROM data.tasks WHERE id = ANY($1) ORDER BY id`, [ids])).map((r) => r.p);
    const settle = async () => (js ? htmxIdle(page) : page.waitForLoadState());

    it('sets one field on the checked rows (Shift+click checks a range); a refused value sets none', async () => {
      await page.goto(url(`/tables/${tableId}?sort=id`));
      await box(2).check();
      if (js) {
        await box(5).click({ modifiers: ['Shift'] });
        expect(await page.locator('[data-bulk-count]').innerText()).to.equal('4 rows checked:');
      } else {
        for (const id of [3, 4, 5]) await box(id).check();
      }
      await page.selectOption('#bulk-column', 'points');
      await page.fill('#bulk-value', 'lots');
      await page.click('button[value="set"]');
      await settle();
      await page.locator('#bulk-error').waitFor();
      expect(await page.locator('#bulk-error').innerText()).to.match(/Nothing was changed: .*not a number/);
      expect(await points([2, 3, 4, 5]), 'none changed').to.deep.equal(['2', '3', '4', '5']);
      expect(await box(4).isChecked(), 'the rows stay checked').to.equal(true);
      await page.fill('#bulk-value', '10');
      await page.click('button[value="set"]');
      await settle();
      await page.locator('#grid .notice, #flash [data-flash]', { hasText: '4 rows changed' }).first().waitFor();
      expect(await points([1, 2, 3, 4, 5, 6])).to.deep.equal(['1', '10', '10', '10', '10', '6']);
    });

    it('deletes the checked rows after a confirm, all in one go; they are in the row trash', async () => {
      await page.goto(url(`/tables/${tableId}?sort=id`));
      await box(6).check();
      await box(7).check();
      await page.click('button[data-bulk-delete]');
      if (!js) {
        await page.waitForURL(/\/grid\/bulk/);
        expect(await page.locator('h2').innerText()).to.equal('Delete 2 rows?');
        await screenshots(page, 'rows-delete-confirm');
        await page.click('button:has-text("Delete 2 rows")');
      }
      await settle();
      await page.locator('#grid .notice, #flash [data-flash]', { hasText: '2 rows deleted' }).first().waitFor();
      expect(await sql!.rows(`SELECT id FROM data.tasks WHERE id IN (6, 7)`)).to.deep.equal([]);
      expect((await sql!.rows(`SELECT row_id FROM tablewright.row_trash WHERE table_id = $1 AND row_id IN (6, 7)`, [tableId])).length).to.equal(2);
    });

    it("a row's actions are in its menu: open the row, or delete it", async () => {
      await page.goto(url(`/tables/${tableId}?sort=id`));
      expect(await page.locator('#grid a[aria-label="Delete row 8"]').isVisible(), 'no Delete button on every row').to.equal(false);
      await page.click('summary[aria-label="Actions for row 8"]');
      expect(await page.locator('#grid a[aria-label="Delete row 8"]').isVisible()).to.equal(true);
      await page.click('#row-8 .menu a:has-text("Open row 8")');
      await page.waitForURL(url(`/tables/${tableId}/rows/8`));
      if (js) {
        await page.goto(url(`/tables/${tableId}?sort=id`));
        await page.locator('#grid input[data-pick-all]').check();
        expect(await page.locator('[data-bulk-count]').innerText()).to.equal(`${await page.locator('input[data-pick]').count()} rows checked:`);
        await screenshots(page, 'grid-checked');
      }
    });
  });
}
