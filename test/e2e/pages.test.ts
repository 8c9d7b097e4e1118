// Every console page in a real browser at 1280 and 375 px (issue 18): none scrolls
// sideways (document.scrollingElement.scrollWidth <= innerWidth; wide content such as the
// grid scrolls in its own box), each is photographed (its first screen), and the audit items hold on every page: no request answers 404 (the favicon),
// no "1 objects"-style plural, actors shown as the bare email (never "user:..."), and no
// script or CSP error. The pictures go to test-artifacts/screenshots/pages/; with
// UPDATE_SCREENSHOTS=1 to docs/screenshots/, which README shows (squeezed by pngquant when
// it is installed), so that an ordinary run leaves the committed ones alone.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { addUser, sessionFor } from '../auth/lib.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { SESSION_COOKIE } from '../../server/web/auth.js';
import { createSetupToken } from '../../server/auth/setup.js';
import { projectRoot } from '../../server/paths.js';
import { collectPageErrors, htmxIdle, launchBrowser, PHONE, skipWithoutBrowser, WIDE, type Browser } from './lib.js';

const DOCS = process.env.UPDATE_SCREENSHOTS === '1';
const SHOTS = DOCS ? path.join(projectRoot, 'docs', 'screenshots') : path.join(projectRoot, 'test-artifacts', 'screenshots', 'pages');

/** An 8-bit palette: a page of text is a third of the size. Skipped without pngquant. */
function squeeze(file: string): void {
  if (DOCS) spawnSync('pngquant', ['--quality', '50-80', '--speed', '1', '--force', '--skip-if-larger', '--output', file, file], { stdio: 'ignore' });
}

describe('every console page fits 1280 and 375 px (e2e)', function () {
  // two widths of up to eight pages per test, on a machine that may be shared
  this.timeout(300_000);
  let db: TestDatabase | undefined;
  let app: TestApp | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let errors: string[] = [];
  let notFound: string[] = [];
  let tableId: number;
  let rowId: number;
  let viewId: number;
  let jobId: number;
  let setupToken: string;
  let session: string;

  before(async function () {
    this.timeout(180_000);
    skipWithoutBrowser(this);
    db = await freshDatabase();
    app = await startApp(db.url, { DRIFT_CHECK_INTERVAL: 'off', CLEANUP_INTERVAL: 'off', IMPORT_JOB_BYTES: '200' }, 'e2e-pages');
    // The setup page is reachable only while no account exists.
    setupToken = (await createSetupToken(app.ctx.pool))!;
    browser = await launchBrowser();
    page = browser.page;
    errors = collectPageErrors(page);
    page.on('response', (r) => {
      if (r.status() === 404) notFound.push(r.url());
    });
  });

  async function seed() {
    const userId = await addUser(app!, 'ada.lovelace.with.a.long.address@example.com', 'admin');
    session = (await sessionFor(app!, userId)).cookie.split('=')[1]!;
    const t = await app!.request('POST', '/tables', {
      json: {
        name: 'Quarterly procurement reconciliation',
        fields: [
          { name: 'Supplier', type: 'text' },
          { name: 'Notes', type: 'long_text' },
          { name: 'Amount', type: 'number', options: { decimals: 2 } },
          { name: 'Paid', type: 'boolean' },
          { name: 'Due', type: 'date' },
          { name: 'Website', type: 'url' },
          { name: 'Contact email address', type: 'email' },
          { name: 'Status', type: 'single_select', options: { choices: [{ label: 'Open', color: 'blue' }, { label: 'Settled', color: 'green' }] } },
          { name: 'Legacy reference', type: 'text' },
        ],
      },
    });
    expect(t.status, t.text).to.equal(201);
    tableId = t.body.id;
    const long = 'A very long note without spaces: '.concat('x'.repeat(300));
    const rows = Array.from({ length: 30 }, (_, i) => ({
      supplier: `Supplier ${i + 1} of the northern region warehouses`,
      notes: i === 0 ? long : `note ${i}`,
      amount: (i * 137.25) % 10000,
      paid: i % 2 === 0,
      due: `2026-0${(i % 9) + 1}-1${i % 10}`,
      website: `https://example.com/suppliers/${i}/a-rather-long-path-segment`,
      contact_email_address: `buyer${i}@example.com`,
    }));
    const made = await app!.request('POST', `/tables/${tableId}/rows`, { json: rows });
    expect(made.status, made.text).to.equal(201);
    rowId = made.body.rows[0].id;
    const gone = await app!.request('DELETE', `/tables/${tableId}/rows/${rowId + 29}`);
    expect(gone.status, gone.text).to.equal(204);
    await app!.request('PATCH', `/tables/${tableId}/rows/${rowId}`, { json: { amount: 1 } });
    const v = await app!.request('POST', `/tables/${tableId}/views`, { json: { name: 'Unpaid, by amount', shared: true, filter: { paid: { eq: false } }, sort: '-amount' } });
    expect(v.status, v.text).to.equal(201);
    viewId = v.body.id;
    // a trashed field and a trashed table (Trash), a column added behind our back (Drift)
    const fields = (await app!.request('GET', `/tables/${tableId}/fields`)).body.fields as Array<{ id: number; name: string }>;
    await app!.request('DELETE', `/tables/${tableId}/fields/${fields.find((f) => f.name === 'Legacy reference')!.id}`);
    const other = await app!.request('POST', '/tables', { json: { name: 'Old suppliers archive with a long name', fields: [{ name: 'Name', type: 'text' }] } });
    await app!.request('DELETE', `/tables/${other.body.id}`);
    await app!.ctx.pool.query(`ALTER TABLE data.quarterly_procurement_reconciliation ADD COLUMN added_by_a_dba_outside_tablewright text`);
    const tok = await app!.request('POST', '/tokens', { json: { name: 'nightly export to the warehouse', role: 'viewer' } });
    expect(tok.status, tok.text).to.equal(201);
    // an import big enough to run as a job (Jobs, and the job page)
    const csv = `supplier,amount\n${Array.from({ length: 40 }, (_, i) => `imported ${i},${i}`).join('\n')}\n`;
    const job = await app!.request('POST', `/tables/${tableId}/rows/import?async=1`, { body: csv, headers: { 'Content-Type': 'text/csv' } });
    expect(job.status, job.text).to.equal(202);
    jobId = job.body.id;
    await addUser(app!, 'grace@example.com', 'editor');
  }

  after(async function () {
    this.timeout(60_000);
    await browser?.close();
    await app?.stop();
    await db?.drop();
  });

  afterEach(function () {
    const seen = errors.splice(0);
    const missing = notFound.splice(0);
    if (this.currentTest?.state === 'passed') {
      expect(seen, 'errors in the page').to.deep.equal([]);
      expect(missing, 'requests answered 404').to.deep.equal([]);
    }
  });

  const url = (p: string) => new URL(p, app!.url).toString();

  /**
   * The outermost elements past the right edge that no scrolling box holds (their parent
   * fits), and absolutely placed ones (no scrolling box clips those that it does not
   * contain): what to fix. A string, as tsx's helpers do not exist inside the page.
   */
  const widest = (p: Page) =>
    p.evaluate(`(() => {
      const out = [];
      const past = (e) => e.getBoundingClientRect().right > window.innerWidth + 0.5;
      const clipped = (e) => {
        for (let a = e.parentElement; a; a = a.parentElement) if (getComputedStyle(a).overflowX !== 'visible') return true;
        return false;
      };
      for (const e of document.body.querySelectorAll('*')) {
        const placed = ['absolute', 'fixed'].includes(getComputedStyle(e).position);
        if (!past(e) || (!placed && ((e.parentElement && past(e.parentElement)) || clipped(e)))) continue;
        out.push(e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (typeof e.className === 'string' && e.className.trim() ? '.' + e.className.trim().split(/\\s+/).join('.') : '') + ' ' + Math.round(e.getBoundingClientRect().width) + 'px wide');
        if (out.length === 4) break;
      }
      return out;
    })()`) as Promise<string[]>;

  /**
   * Opens the page at both widths: asserts it does not scroll sideways and reads no
   * "1 <plural>" nor a "user:" actor, and writes <name>-<width>.png (the first screen only,
   * at 1x: small files).
   */
  async function check(name: string, p: string, prepare?: () => Promise<void>): Promise<void> {
    await fs.promises.mkdir(SHOTS, { recursive: true });
    const problems: string[] = [];
    for (const [label, size] of [['1280', WIDE], ['375', PHONE]] as const) {
      await page.setViewportSize(size);
      const res = await page.goto(url(p), { timeout: 30_000 });
      expect(res?.status(), `${p} answers`).to.be.below(400);
      await htmxIdle(page);
      if (prepare) await prepare();
      const { scroll, inner, text } = await page.evaluate(() => ({ scroll: document.scrollingElement!.scrollWidth, inner: window.innerWidth, text: document.body.innerText }));
      if (scroll > inner) problems.push(`${name} at ${label}px scrolls sideways: ${scroll} > ${inner} (${(await widest(page)).join('; ')})`);
      const plural = /(?<![\d,.])1 (objects|rows|fields|tables|changes|values|items|views|jobs|tokens|users|columns)\b/.exec(text);
      if (plural) problems.push(`${name} at ${label}px reads "${plural[0]}"`);
      if (/\buser:\S+@/.test(text)) problems.push(`${name} at ${label}px shows an actor as user:<email>`);
      const file = path.join(SHOTS, `${name}-${label}.png`);
      await page.screenshot({ path: file });
      squeeze(file);
    }
    await page.setViewportSize(WIDE);
    expect(problems).to.deep.equal([]);
  }

  it('the first-run setup page and the sign-in page', async () => {
    await check('setup', `/setup?token=${encodeURIComponent(setupToken)}`);
    await seed();
    await check('login', '/login');
    await browser!.context.addCookies([{ name: SESSION_COOKIE, value: session, url: app!.url }]);
  });

  it('tables, and a table: rows, a saved view, fields, SQL, history', async () => {
    await check('tables', '/');
    await check('rows', `/tables/${tableId}`);
    await check('view', `/tables/${tableId}?view=${viewId}`);
    await check('fields', `/tables/${tableId}?tab=fields`);
    await check('sql', `/tables/${tableId}?tab=sql`);
    await check('table-history', `/tables/${tableId}?tab=history`);
  });

  it('the latest changes, a row page, its delete confirmation and the row trash', async () => {
    await check('changes', `/tables/${tableId}/changes`);
    await check('row', `/tables/${tableId}/rows/${rowId}`);
    await check('row-delete', `/tables/${tableId}/rows/${rowId}/delete`);
    await check('row-trash', `/tables/${tableId}/rows/trash`);
  });

  it('the grid with a cell editor open, at both widths', async () => {
    await check('rows-editing', `/tables/${tableId}`, async () => {
      const cell = page.locator('td.cell[data-editable][data-column="notes"]').first();
      await cell.click();
      await page.locator('td.cell textarea').first().waitFor();
    });
  });

  it('history, trash, drift, jobs, a job, tokens and users', async () => {
    await check('history', '/history');
    await check('trash', '/trash');
    await check('drift', '/reconcile');
    await check('jobs', '/jobs');
    await check('job', `/jobs/${jobId}`);
    await check('tokens', '/tokens');
    await check('users', '/users');
  });

  it('the import: upload form and preview', async () => {
    await check('import', '/tables/import');
    await page.goto(url('/tables/import'));
    await page.fill('#import-name', 'Suppliers from the spreadsheet');
    await page.setInputFiles('#import-file', {
      name: 'suppliers.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from(`Supplier name,Amount paid in the last quarter,Contact,Website\n${Array.from({ length: 12 }, (_, i) => `Supplier ${i},${i * 10.5},buyer${i}@example.com,https://example.com/${i}`).join('\n')}\n`),
    });
    await Promise.all([page.waitForURL(/\/tables\/import\/\d+/), page.locator('form.import-upload button[type="submit"], form.import-upload input[type="submit"]').first().click()]);
    await check('import-preview', new URL(page.url()).pathname);
  });
});
