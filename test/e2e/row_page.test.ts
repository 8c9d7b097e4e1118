// The row page in a real browser, with and without JavaScript (issue 18): every field as a
// form that saves without scripts, a refused value shown beside its field with what was
// typed kept, a notice after the redirect, the grid's id cell leading there, and a delete
// that asks on a confirm page first.
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { addUser, sessionFor } from '../auth/lib.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';
import { SESSION_COOKIE } from '../../server/web/auth.js';
import { collectPageErrors, launchBrowser, screenshots, skipWithoutBrowser, type Browser } from './lib.js';

for (const js of [false, true]) {
  describe(`the row page ${js ? 'with' : 'without'} JavaScript (e2e)`, function () {
    this.timeout(60_000);
    let db: TestDatabase | undefined;
    let app: TestApp | undefined;
    let browser: Browser | undefined;
    let sql: Sql | undefined;
    let page: Page;
    let errors: string[] = [];
    let tableId: number;
    let rowIds: number[];

    before(async function () {
      this.timeout(120_000);
      skipWithoutBrowser(this);
      db = await freshDatabase();
      app = await startApp(db.url, { DRIFT_CHECK_INTERVAL: 'off', CLEANUP_INTERVAL: 'off' }, `e2e-row-${js}`);
      const userId = await addUser(app, 'eve@example.com', 'editor');
      sql = await Sql.connect(db.url);
      browser = await launchBrowser({ javaScriptEnabled: js });
      page = browser.page;
      errors = collectPageErrors(page);
      const session = await sessionFor(app, userId);
      await browser.context.addCookies([{ name: SESSION_COOKIE, value: session.cookie.split('=')[1]!, url: app.url }]);
      const t = await app.request('POST', '/tables', {
        json: {
          name: 'Parts',
          fields: [
            { name: 'Name', type: 'text' },
            { name: 'Qty', type: 'number' },
            { name: 'Done', type: 'boolean' },
            { name: 'Due', type: 'date' },
            { name: 'Kind', type: 'single_select', options: { choices: ['bolt', 'nut'] } },
            { name: 'Notes', type: 'long_text' },
          ],
        },
      });
      tableId = t.body.id;
      rowIds = (await app.request('POST', `/tables/${tableId}/rows`, { json: [{ name: 'Washer', qty: 3, kind: 'bolt' }, { name: 'Spring', qty: 7 }] })).body.rows.map((r: { id: number }) => r.id);
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

    it('the grid id cell leads to the row page; its form saves the fields that changed and a notice follows the redirect', async () => {
      await page.goto(url(`/tables/${tableId}`));
      await page.click(`#row-${rowIds[0]} th.rowid a`);
      await page.waitForURL(url(`/tables/${tableId}/rows/${rowIds[0]}`));
      expect(await page.inputValue('#row-name')).to.equal('Washer');
      expect(await page.inputValue('#row-qty')).to.equal('3');
      await page.fill('#row-qty', '12');
      await page.selectOption('#row-done', 'true');
      await page.fill('#row-notes', 'line one\nline two');
      await page.selectOption('#row-kind', { label: 'nut' });
      await page.click('button:has-text("Save row")');
      await page.waitForURL(/flash=row_saved/);
      expect((await page.locator('#flash [data-flash]').innerText()).trim()).to.equal(`Row ${rowIds[0]} saved.`);
      const row = await sql!.one(`SELECT p.name, p.qty::text AS qty, p.done, p.notes, (SELECT label FROM tablewright.fields f, jsonb_to_recordset(f.options->'choices') c(id int, label text) WHERE f.table_id = $2 AND f.column_name = 'kind' AND c.id = p.kind) AS kind FROM data.parts p WHERE p.id = $1`, [rowIds[0], tableId]);
      expect(row).to.deep.equal({ name: 'Washer', qty: '12', done: true, notes: 'line one\nline two', kind: 'nut' });
      // The history shows the change at once.
      expect(await page.locator('#row-detail').innerText()).to.match(/qty/i);
      await screenshots(page, `row-page-${js ? 'js' : 'nojs'}`);
    });

    it('a refused value shows the page again with the message beside the field, keeping what was typed; nothing is written', async () => {
      await page.goto(url(`/tables/${tableId}/rows/${rowIds[1]}`));
      await page.fill('#row-name', 'Spring (big)');
      await page.fill('#row-qty', 'a dozen');
      await page.click('button:has-text("Save row")');
      await page.waitForSelector('#row-qty-err');
      expect(await page.locator('#row-qty-err').innerText()).to.match(/number/i);
      expect(await page.getAttribute('#row-qty', 'aria-invalid')).to.equal('true');
      expect(await page.inputValue('#row-qty'), 'what was typed is kept').to.equal('a dozen');
      expect(await page.inputValue('#row-name')).to.equal('Spring (big)');
      expect((await sql!.one(`SELECT name, qty::text AS qty FROM data.parts WHERE id = $1`, [rowIds[1]]))).to.deep.equal({ name: 'Spring', qty: '7' });
    });

    it('a yes/no field that may be empty is three-state: left empty it stays empty (not false); no, then empty again, are stored', async () => {
      const id = rowIds[1]!;
      await sql!.exec(`UPDATE data.parts SET done = NULL WHERE id = ${Number(id)}`);
      const done = async () => (await sql!.one(`SELECT done FROM data.parts WHERE id = $1`, [id])).done;
      await page.goto(url(`/tables/${tableId}/rows/${id}`));
      expect(await page.inputValue('#row-done'), 'an empty value shows as empty, not as an unchecked box').to.equal('');
      await page.fill('#row-qty', '8');
      await page.click('button:has-text("Save row")');
      await page.waitForURL(/flash=row_saved/);
      expect(await done(), 'saving another field leaves it empty').to.equal(null);
      for (const [choice, stored] of [['false', false], ['true', true], ['', null]] as const) {
        await page.selectOption('#row-done', choice);
        await page.click('button:has-text("Save row")');
        await page.waitForURL(/flash=row_saved/);
        expect(await done(), `chose "${choice}"`).to.equal(stored);
      }
      await sql!.exec(`UPDATE data.parts SET qty = 7 WHERE id = ${Number(id)}`);
    });

    it('saving the form untouched writes nothing (no history entry)', async () => {
      const before = (await sql!.one(`SELECT count(*)::int AS n FROM tablewright.row_history WHERE table_id = $1`, [tableId])).n;
      await page.goto(url(`/tables/${tableId}/rows/${rowIds[1]}`));
      await page.click('button:has-text("Save row")');
      await page.waitForURL(/flash=row_unchanged/);
      expect((await sql!.one(`SELECT count(*)::int AS n FROM tablewright.row_history WHERE table_id = $1`, [tableId])).n).to.equal(before);
    });

    it('deleting asks on a confirm page (without JavaScript), then the row goes to the row trash with a notice', async () => {
      const victim = (await app!.request('POST', `/tables/${tableId}/rows`, { json: { name: 'Doomed' } })).body.id as number;
      await page.goto(url(`/tables/${tableId}/rows/${victim}`));
      await page.click('a:has-text("Delete row")');
      await page.waitForURL(url(`/tables/${tableId}/rows/${victim}/delete?from=row`));
      expect(await page.locator('h1').innerText()).to.equal(`Delete row ${victim} of Parts?`);
      expect((await sql!.rows(`SELECT 1 FROM data.parts WHERE id = $1`, [victim])).length, 'nothing deleted by the link').to.equal(1);
      await page.click(`button:has-text("Delete row ${victim}")`);
      await page.waitForURL(/flash=row_deleted/);
      expect((await page.locator('#flash [data-flash]').innerText()).trim()).to.match(new RegExp(`^Row ${victim} deleted`));
      expect((await sql!.rows(`SELECT 1 FROM data.parts WHERE id = $1`, [victim])).length).to.equal(0);
      expect((await sql!.rows(`SELECT 1 FROM tablewright.row_trash WHERE table_id = $1 AND row_id = $2`, [tableId, victim])).length).to.equal(1);
    });

    if (!js) {
      it("the grid's Delete leads to the confirm page, keeping the grid's query for the way back", async () => {
        const victim = (await app!.request('POST', `/tables/${tableId}/rows`, { json: { name: 'Doomed too' } })).body.id as number;
        await page.goto(url(`/tables/${tableId}?sort=-id`));
        await page.click(`summary[aria-label="Actions for row ${victim}"]`); // the row's menu (details: no JavaScript needed)
        await page.click(`a[aria-label="Delete row ${victim}"]`);
        await page.waitForURL(url(`/tables/${tableId}/rows/${victim}/delete?sort=-id`));
        await page.click(`button:has-text("Delete row ${victim}")`);
        await page.waitForURL(url(`/tables/${tableId}?sort=-id&flash=row_deleted&n=${victim}`));
        expect((await sql!.rows(`SELECT 1 FROM data.parts WHERE id = $1`, [victim])).length).to.equal(0);
      });
    }
  });
}
