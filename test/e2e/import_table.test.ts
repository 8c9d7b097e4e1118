// "Import a file" in a real browser, with and without JavaScript: the Tables page's button,
// the upload form, the preview (the first rows as they would land, a type picker per column
// with the inferred type selected and, for each choice, how many values would not fit),
// changing a type, then "Create table": the table exists with every row.
import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { addUser, sessionFor } from '../auth/lib.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';
import { SESSION_COOKIE } from '../../server/web/auth.js';
import { collectPageErrors, launchBrowser, screenshots, skipWithoutBrowser, type Browser } from './lib.js';

for (const js of [false, true]) {
  describe(`importing a file from the console ${js ? 'with' : 'without'} JavaScript (e2e)`, function () {
    this.timeout(90_000);
    let db: TestDatabase | undefined;
    let app: TestApp | undefined;
    let browser: Browser | undefined;
    let sql: Sql | undefined;
    let page: Page;
    let errors: string[] = [];
    let dir: string;

    before(async function () {
      this.timeout(120_000);
      skipWithoutBrowser(this);
      db = await freshDatabase();
      app = await startApp(db.url, { DRIFT_CHECK_INTERVAL: 'off', CLEANUP_INTERVAL: 'off' }, `e2e-import-${js}`);
      const userId = await addUser(app, 'ada@example.com', 'admin');
      sql = await Sql.connect(db.url);
      browser = await launchBrowser({ javaScriptEnabled: js });
      page = browser.page;
      errors = collectPageErrors(page);
      const session = await sessionFor(app, userId);
      await browser.context.addCookies([{ name: SESSION_COOKIE, value: session.cookie.split('=')[1]!, url: app.url }]);
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tw-import-'));
    });

    after(async function () {
      this.timeout(60_000);
      await browser?.close();
      await sql?.end();
      await app?.stop();
      await db?.drop();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    afterEach(function () {
      const seen = errors.splice(0);
      if (this.currentTest?.state === 'passed') expect(seen, 'errors in the page').to.deep.equal([]);
    });

    const url = (p: string) => new URL(p, app!.url).toString();

    it('upload, preview with inferred types and misfit counts, change a type, create: every row lands', async () => {
      const file = path.join(dir, 'orders.csv');
      const lines = ['Order,Zip,Total,Paid,Placed,Status'];
      for (let i = 1; i <= 25; i++) lines.push(`A${i},0${2000 + i},${i}.25,${i % 2 ? 'yes' : 'no'},2024-02-${String(i).padStart(2, '0')},${['new', 'sent'][i % 2]}`);
      fs.writeFileSync(file, lines.join('\n'));

      await page.goto(url('/tables'));
      await page.click('a:has-text("Import a file")');
      await page.waitForURL(url('/tables/import'));
      await page.setInputFiles('#import-file', file);
      await page.click('button:has-text("Preview")');
      await page.waitForURL(/\/tables\/import\/\d+/);

      // the inferred type is selected; each choice says how many values would not fit
      expect(await page.inputValue('#type-total')).to.equal('number');
      expect(await page.inputValue('#type-zip')).to.equal('text');
      expect(await page.inputValue('#type-paid')).to.equal('boolean');
      expect(await page.inputValue('#type-placed')).to.equal('date');
      expect(await page.inputValue('#type-status')).to.equal('single_select');
      expect(await page.locator('#type-order_ option[value="number"]').textContent()).to.match(/25 would not fit/);
      expect(await page.locator('#type-total option[value="number"]').textContent()).to.match(/inferred/);
      // the first rows as they would land
      expect(await page.locator('table.import-rows tbody tr').count()).to.equal(10);
      expect(await page.locator('table.import-rows tbody tr').first().innerText()).to.match(/A1\s+02001\s+1\.25\s+yes\s+2024-02-01\s+sent/);
      expect(await page.inputValue('#import-table-name')).to.equal('orders');
      await screenshots(page, `import-preview-${js ? 'js' : 'nojs'}`);

      // Status as plain text instead: with JS the preview follows at once, without it "Update the preview"
      await page.selectOption('#type-status', 'text');
      if (js) await page.waitForURL(/types%5Bstatus%5D=text|types\[status\]=text/);
      else await page.click('button:has-text("Update the preview")');
      await page.waitForFunction(() => (document.querySelector('input[type=hidden][name="types[status]"]') as HTMLInputElement | null)?.value === 'text');
      expect(await page.inputValue('#type-status')).to.equal('text');

      await page.fill('#import-table-name', `Orders ${js ? 'js' : 'nojs'}`);
      await page.click('button:has-text("Create table")');
      await page.waitForURL(/\/tables\/\d+$/);
      const t = await sql!.one(`SELECT id, table_name FROM tablewright.tables WHERE name = $1`, [`Orders ${js ? 'js' : 'nojs'}`]);
      const fields = await sql!.rows(`SELECT column_name, type FROM tablewright.fields WHERE table_id = $1 ORDER BY position`, [t.id]);
      expect(fields.map((f) => `${f.column_name}:${f.type}`)).to.deep.equal(['order_:text', 'zip:text', 'total:number', 'paid:boolean', 'placed:date', 'status:text']);
      const rows = await sql!.one(`SELECT count(*)::int AS n, min(zip) AS z, sum(total)::text AS s FROM data.${t.table_name}`);
      expect(rows).to.deep.equal({ n: 25, z: '02001', s: '331.25' });
      expect((await sql!.one(`SELECT count(*)::int AS n FROM tablewright.import_files`)).n, 'the file is dropped once used').to.equal(0);
    });

    it('a file whose later value does not fit is refused with its line, and no table is made', async () => {
      const file = path.join(dir, 'bad.csv');
      const lines = ['N'];
      for (let i = 0; i < 30; i++) lines.push(String(i));
      fs.writeFileSync(file, lines.join('\n'));
      await page.goto(url('/tables/import'));
      await page.fill('#import-name', 'Bad numbers');
      await page.setInputFiles('#import-file', file);
      await page.click('button:has-text("Preview")');
      await page.waitForURL(/\/tables\/import\/\d+/);
      expect(await page.inputValue('#type-n')).to.equal('number');
      await page.selectOption('#type-n', 'boolean');
      if (js) await page.waitForURL(/types/);
      else await page.click('button:has-text("Update the preview")');
      await page.waitForSelector('p.misfits');
      expect(await page.locator('p.misfits').innerText()).to.match(/28 values would not fit/);
      expect(await page.locator('td.misfit').count()).to.be.greaterThan(0);
      errors.splice(0);
      await page.click('button:has-text("Create table")');
      await page.waitForLoadState();
      expect(await page.locator('body').innerText()).to.match(/line 4/);
      errors.splice(0); // the 422 page
      expect((await sql!.rows(`SELECT 1 FROM tablewright.tables WHERE name = 'Bad numbers'`)).length).to.equal(0);
    });
  });
}
