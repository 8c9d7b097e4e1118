// The newer field types in a real browser: an admin adds a multiple select, a many-to-many
// link, a formula using today(), a lookup and a rollup through the console's field form;
// the grid shows their values (labels, not ids; today's number of days), edits a multiple
// select with its <select multiple> and a many-to-many link as comma-separated labels (both
// checked in PostgreSQL), and offers no editor for the computed ones.
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { addUser, PASSWORD } from '../auth/lib.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';
import { collectPageErrors, htmxIdle, launchBrowser, skipWithoutBrowser, type Browser } from './lib.js';

const ADMIN = 'types@example.com';

describe('multiple select, many-to-many, formula, lookup and rollup in the console (e2e)', function () {
  this.timeout(90_000);
  let db: TestDatabase | undefined;
  let app: TestApp | undefined;
  let sql: Sql | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let errors: string[] = [];

  before(async function () {
    this.timeout(120_000);
    skipWithoutBrowser(this);
    db = await freshDatabase();
    app = await startApp(db.url, { DRIFT_CHECK_INTERVAL: 'off', CLEANUP_INTERVAL: 'off' }, 'e2e-types');
    sql = await Sql.connect(db.url);
    await addUser(app, ADMIN, 'admin');
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

  it('adds each type in the field form; the grid shows and edits them', async () => {
    const url = (p: string) => new URL(p, app!.url).toString();
    const products = await app!.request('POST', '/tables', { json: { name: 'Products', table_name: 'products', fields: [{ name: 'Name', type: 'text' }, { name: 'Price', type: 'number', options: { decimals: 2 } }] } });
    const orders = await app!.request('POST', '/tables', { json: { name: 'Orders', table_name: 'orders', fields: [{ name: 'Title', type: 'text' }, { name: 'Due', type: 'date' }] } });
    expect(orders.status, orders.text).to.equal(201);
    const made = await app!.request('POST', `/tables/${products.body.id}/rows`, { json: [{ name: 'Apple', price: '1.50' }, { name: 'Plum', price: '2.25' }] });
    const [apple, plum] = made.body.rows.map((r: any) => r.id);
    const priceId = products.body.fields.find((f: any) => f.name === 'Price').id;
    const nameId = products.body.fields.find((f: any) => f.name === 'Name').id;

    await page.goto(url('/tables'));
    await page.getByLabel('Email').fill(ADMIN);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((u) => u.pathname === '/tables');

    await page.goto(url(`/tables/${orders.body.id}?tab=fields`));
    const form = () => page.locator('#add-field-form');
    const add = async (name: string, type: string, fill: (f: ReturnType<typeof form>) => Promise<void>) => {
      await form().getByLabel('Name', { exact: true }).fill(name);
      await form().getByLabel('Type', { exact: true }).selectOption(type);
      await fill(form());
      await form().getByRole('button', { name: 'Add field' }).click();
      await htmxIdle(page);
      await page.locator('#fields-panel .notice', { hasText: `Field "${name}" added.` }).waitFor();
    };
    await add('Tags', 'multiple_select', (f) => f.getByLabel('Single or multiple select: options, one per line').fill('red\ngreen\nblue'));
    await add('Items', 'link', async (f) => {
      await f.getByLabel('Link: to table').selectOption({ label: 'Products' });
      await f.getByLabel('Link: kind').selectOption('true');
    });
    await add('Days left', 'formula', (f) => f.getByLabel(/Formula: expression/).fill('date_diff(today(), {Due})'));
    const fields = (await app!.request('GET', `/tables/${orders.body.id}`)).body.fields;
    const items = fields.find((x: any) => x.name === 'Items');
    expect(items.options.multiple).to.equal(true);
    await add('Item names', 'lookup', async (f) => {
      await f.getByLabel('Lookup, rollup: through link field (id)').fill(String(items.id));
      await f.getByLabel("of the linked table's field (id)").fill(String(nameId));
    });
    await add('Total', 'rollup', async (f) => {
      await f.getByLabel('Lookup, rollup: through link field (id)').fill(String(items.id));
      await f.getByLabel("of the linked table's field (id)").fill(String(priceId));
      await f.getByLabel('Rollup: function').selectOption('sum');
    });

    const due = (await sql!.one(`SELECT ((now() AT TIME ZONE 'UTC')::date + 5)::text AS d`)).d as string;
    const row = await app!.request('POST', `/tables/${orders.body.id}/rows`, { json: { title: 'o1', due, tags: ['blue', 'red'], items: [apple] } });
    expect(row.status, row.text).to.equal(201);
    const id = row.body.id;

    await page.goto(url(`/tables/${orders.body.id}?view=all`));
    await page.locator('#grid table.grid').waitFor();
    const cell = (col: string) => page.locator(`#cell-${id}-${col}`);
    expect((await cell('tags').innerText()).replace(/\s+/g, ' ').trim()).to.match(/red.*blue/);
    expect((await cell('items').innerText()).trim()).to.include('Apple');
    expect((await cell('days_left').innerText()).trim()).to.equal('5');
    expect((await cell('item_names').innerText()).trim()).to.equal('Apple');
    expect((await cell('total').innerText()).trim()).to.equal('1.50');
    for (const col of ['days_left', 'item_names', 'total']) expect(await cell(col).getAttribute('data-editable'), col).to.equal(null);

    // the multiple select's editor: a <select multiple>, saved as the chosen options
    await cell('tags').click();
    await page.locator(`#edit-${id}-tags`).waitFor();
    await htmxIdle(page);
    await page.locator(`#edit-${id}-tags`).selectOption([{ label: 'green' }]);
    await cell('tags').getByRole('button', { name: 'Save' }).click();
    await htmxIdle(page);
    await page.locator(`#cell-${id}-tags:not(.editing)`).waitFor();
    const tags = await sql!.one(`SELECT t.tags::text AS v FROM data.orders t WHERE id = $1`, [id]);
    const green = fields.find((x: any) => x.name === 'Tags').options.choices.find((c: any) => c.label === 'green').id;
    expect(tags.v).to.equal(`{${green}}`);

    // the many-to-many link's editor: comma-separated labels
    await cell('items').click();
    await page.locator(`#edit-${id}-items`).waitFor();
    await htmxIdle(page);
    await page.locator(`#edit-${id}-items`).fill('Apple, Plum');
    await cell('items').getByRole('button', { name: 'Save' }).click();
    await htmxIdle(page);
    await page.locator(`#cell-${id}-items:not(.editing)`).waitFor();
    const pairs = await sql!.rows(`SELECT ${items.options.other_column} AS p FROM data.${items.options.junction} WHERE ${items.options.self_column} = $1 ORDER BY 1`, [id]);
    expect(pairs.map((r) => Number(r.p))).to.deep.equal([apple, plum]);
    // the computed cells follow once the grid is read again
    await page.goto(url(`/tables/${orders.body.id}?view=all`));
    await page.locator('#grid table.grid').waitFor();
    expect((await cell('item_names').innerText()).trim()).to.equal('Apple, Plum');
    expect((await cell('total').innerText()).trim()).to.equal('3.75');
    expect(errors.splice(0), 'errors in the page').to.deep.equal([]);
  });
});
