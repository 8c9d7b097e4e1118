// The plan beside the button, before an admin confirms (issue 13): on the Fields tab of a
// table past the job threshold, the field editor (Unique ticked), the "Add index" form over
// several fields (a unique one too) and the "Add a field" form each show the change's class
// and estimate as the form changes, and asking for it changes nothing.
import { expect } from 'chai';
import pg from 'pg';
import type { Page } from 'playwright-core';
import type { TestApp } from '../helpers/app.js';
import type { TestDatabase } from '../helpers/db.js';
import { htmxIdle, signedInConsole, skipWithoutBrowser, type Browser, type SignedInConsole } from './lib.js';

describe('the plan of a schema change beside its button (e2e)', function () {
  this.timeout(120_000);
  let db: TestDatabase | undefined;
  let app: TestApp | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let errors: string[] = [];
  let signedIn: SignedInConsole | undefined;
  let table: { id: number; fields: Array<{ id: number; name: string }> };

  before(async function () {
    this.timeout(120_000);
    skipWithoutBrowser(this);
    signedIn = await signedInConsole('e2e-plan', 'ada@example.com', { role: 'admin', timeoutMs: 30_000, env: { JOB_THRESHOLD_ROWS: '1000' } });
    ({ db, app, browser, page, errors } = signedIn);
    const t = await app.request('POST', '/tables', { json: { name: 'Orders', fields: [{ name: 'Code', type: 'text', column: 'code' }, { name: 'Region', type: 'text', column: 'region' }, { name: 'Amount', type: 'number', column: 'amount' }] } });
    expect(t.status, t.text).to.equal(201);
    table = t.body;
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query(`INSERT INTO data.orders (code, region, amount) SELECT 'c' || g, 'r' || (g % 7), g FROM generate_series(1, 20000) g`);
      await client.query('ANALYZE data.orders');
    } finally {
      await client.end();
    }
  });

  after(async function () {
    this.timeout(60_000);
    await signedIn?.close();
  });

  afterEach(function () {
    const seen = errors.splice(0);
    if (this.currentTest?.state === 'passed') expect(seen, 'errors in the page').to.deep.equal([]);
  });

  const fieldsTab = async () => {
    await page.goto(new URL(`/tables/${table.id}?tab=fields`, app!.url).toString());
    await page.locator('#fields-panel').waitFor();
  };
  /** The indexes of the data table, as PostgreSQL has them: asking for a plan makes none. */
  const indexes = async () => {
    const client = new pg.Client({ connectionString: db!.url });
    await client.connect();
    try {
      return (await client.query(`SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = 'data.orders'::regclass AND NOT i.indisprimary`)).rows.map((r) => r.relname);
    } finally {
      await client.end();
    }
  };

  it('the field editor: ticking Unique shows "scan", the size read and that the table keeps serving (online), before Save', async () => {
    await fieldsTab();
    const row = page.locator(`#field-${table.fields[0]!.id}`);
    await row.locator('summary', { hasText: 'Edit' }).click();
    const slot = page.locator(`#f${table.fields[0]!.id}-plan`);
    expect((await slot.innerText()).trim(), 'no plan before anything changed').to.equal('');
    await row.locator('input[type=checkbox][name=unique]').check();
    await slot.locator('.change-plan').waitFor();
    expect(await slot.locator('.plan-class').innerText()).to.equal('scan');
    const summary = await slot.locator('.plan-summary').innerText();
    expect(summary).to.match(/^reads \d+(\.\d)? (kB|MB), about \d+ (ms|s); the table keeps serving \(online\)$/);
    await slot.locator('summary', { hasText: 'steps' }).click();
    expect(await slot.locator('li').first().innerText()).to.contain('CREATE UNIQUE INDEX CONCURRENTLY');
    expect(await indexes(), 'the plan changed nothing').to.deep.equal([]);
  });

  it('"Add index" over several fields: the plan follows the form (unique too), and a form that cannot be made says why', async () => {
    await fieldsTab();
    const form = page.locator('#add-index-form');
    const slot = page.locator('#add-index-plan');
    await form.locator('label', { hasText: 'Code' }).locator('input').check();
    // one field: not an index over several fields; the 400 names the input (in the flash, as every refused fragment)
    await page.locator('#flash', { hasText: 'fields: from 2 to' }).waitFor();
    expect(await slot.locator('.change-plan').count(), 'no plan for a form that cannot be made').to.equal(0);
    await form.locator('label', { hasText: 'Region' }).locator('input').check();
    await slot.locator('.change-plan').waitFor();
    expect(await slot.locator('.plan-class').innerText()).to.equal('scan');
    expect(await slot.locator('.plan-summary').innerText()).to.match(/^reads .+, about \d+ (ms|s); the table keeps serving \(online\)$/);
    expect(await slot.locator('li').allInnerTexts()).to.have.length(1);
    expect((await slot.locator('li').first().textContent()) ?? '').to.contain('CREATE INDEX CONCURRENTLY');
    await form.locator('input[name=unique]').check();
    await page.waitForFunction(() => document.querySelectorAll('#add-index-plan li').length === 3);
    await htmxIdle(page);
    const steps = (await slot.locator('li').allTextContents()).join('\n');
    expect(steps).to.contain('-- duplicates first');
    expect(steps).to.contain('CREATE UNIQUE INDEX CONCURRENTLY');
    expect(steps).to.contain('UNIQUE USING INDEX');
    expect(await slot.locator('.plan-summary').innerText()).to.contain('the table keeps serving');
    expect(await indexes(), 'the plan changed nothing').to.deep.equal([]);
    expect((await app!.request('GET', `/tables/${table.id}/indexes`)).body.indexes).to.deep.equal([]);
  });

  it('"Add a field": a new column is a catalog change, said before Add field', async () => {
    await fieldsTab();
    await page.fill('#new-field-name', 'Note');
    await page.locator('#add-field-form input[name=unique]').check();
    const slot = page.locator('#add-field-plan');
    await slot.locator('.change-plan').waitFor();
    expect(await slot.locator('.plan-summary').innerText()).to.match(/^changes the catalog only/);
    expect((await app!.request('GET', `/tables/${table.id}`)).body.fields.map((f: { name: string }) => f.name), 'no field added').to.deep.equal(['Code', 'Region', 'Amount']);
  });
});
