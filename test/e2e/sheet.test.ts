// Spreadsheet editing in the console grid, in a real browser (issue 18): type to edit,
// Enter/Tab/arrows move, Escape cancels, Delete empties, Ctrl+C copies a cell or a range
// as TSV, Ctrl+V pastes a TSV range as one write (all or nothing, new rows past the end,
// refused cells marked in place). Each step is checked in the database, not only on screen.
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import type { TestApp } from '../helpers/app.js';
import type { TestDatabase } from '../helpers/db.js';
import type { Sql } from '../helpers/sql.js';
import { htmxIdle, signedInConsole, screenshots, skipWithoutBrowser, type Browser } from './lib.js';

describe('spreadsheet editing in the grid (e2e)', function () {
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
    const signedIn = await signedInConsole('e2e-sheet', 'sam@example.com');
    ({ db, app, sql, browser, page, errors } = signedIn);
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: app.url });
    const t = await app.request('POST', '/tables', {
      json: { name: 'Parts', fields: [{ name: 'Name', type: 'text' }, { name: 'Qty', type: 'number' }, { name: 'Ok', type: 'boolean' }, { name: 'Notes', type: 'long_text' }] },
    });
    tableId = t.body.id;
    await sql.exec(`INSERT INTO data.parts (name, qty, ok, notes) SELECT 'part ' || i, i, i % 2 = 0, 'note ' || i FROM generate_series(1, 4) i`);
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
  const active = () => page.evaluate(() => document.activeElement?.id ?? '');
  const dbRow = (id: number) => sql!.one(`SELECT name, qty::text AS qty, ok, notes FROM data.parts WHERE id = $1`, [id]);
  /**
   * Type to edit, 8 ms a key: the first key opens the editor, and the others land while it
   * loads, in the instant it is swapped in, and in the 20 ms before htmx settles it (when
   * the new cell still wears the old cell's attributes). A key in that last window was lost
   * once (public/js/grid.js waited for settle to put the typed keys in).
   */
  const typeKeys = (text: string) => page.keyboard.type(text, { delay: 8 });
  const open = async () => {
    await page.goto(url(`/tables/${tableId}?view=all`));
    await page.locator('#grid table.grid').waitFor();
  };

  it('typing on a cell edits it; Enter saves and moves down, Tab saves and moves right, Escape cancels', async () => {
    await open();
    await page.locator('#cell-1-name').focus();
    await typeKeys('Bolt with a long name, typed on');
    await page.locator('#edit-1-name').waitFor();
    await htmxIdle(page);
    expect(await page.locator('#edit-1-name').inputValue(), 'the typed keys replace the value').to.equal('Bolt with a long name, typed on');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.activeElement?.id === 'cell-2-name');
    await htmxIdle(page);
    expect((await dbRow(1)).name).to.equal('Bolt with a long name, typed on');

    await page.keyboard.press('ArrowRight'); // Qty of row 2
    expect(await active()).to.equal('cell-2-qty');
    await typeKeys('42');
    await page.locator('#edit-2-qty').waitFor();
    await htmxIdle(page);
    await page.keyboard.press('Tab');
    await page.waitForFunction(() => document.activeElement?.id === 'cell-2-ok');
    await htmxIdle(page);
    expect((await dbRow(2)).qty).to.equal('42');

    await page.keyboard.press('Shift+Tab');
    expect(await active()).to.equal('cell-2-qty');
    await typeKeys('999');
    await page.locator('#edit-2-qty').waitFor();
    await htmxIdle(page);
    await page.keyboard.press('Escape');
    await page.locator('#cell-2-qty:not(.editing)').waitFor();
    await htmxIdle(page);
    expect(await active(), 'focus stays on the cancelled cell').to.equal('cell-2-qty');
    expect((await dbRow(2)).qty, 'Escape wrote nothing').to.equal('42');

    // A refused value keeps the editor open with its message; Enter does not move on.
    await typeKeys('lots');
    await page.locator('#edit-2-qty').waitFor();
    await htmxIdle(page);
    await page.keyboard.press('Enter');
    await page.locator('#cell-2-qty .field-error').waitFor();
    await htmxIdle(page);
    expect(await page.locator('#cell-2-qty').getAttribute('class')).to.include('editing');
    await page.keyboard.press('Escape');
    await page.locator('#cell-2-qty:not(.editing)').waitFor();
    await htmxIdle(page);
  });

  it('Delete empties the cell, and a selected range in one write', async () => {
    await open();
    await page.locator('#cell-3-notes').focus();
    await page.keyboard.press('Delete');
    await page.locator('#flash [data-sheet-message]', { hasText: 'Cleared 1 cell' }).waitFor();
    await htmxIdle(page);
    expect((await dbRow(3)).notes).to.equal(null);
    // Shift+arrows: Qty and Ok of rows 3 and 4
    await page.locator('#cell-3-qty').focus();
    await page.keyboard.press('Shift+ArrowRight');
    await page.keyboard.press('Shift+ArrowDown');
    expect(await page.locator('#grid td.cell.selected').count()).to.equal(4);
    await page.keyboard.press('Delete');
    await page.locator('#flash [data-sheet-message]', { hasText: 'Cleared 4 cells' }).waitFor();
    await htmxIdle(page);
    for (const id of [3, 4]) expect(await dbRow(id)).to.include({ qty: null, ok: null });
  });

  it('Ctrl+C copies a cell, and a Shift+click range, as TSV with values as their editors read them', async () => {
    await sql!.exec(`UPDATE data.parts SET qty = 7, ok = true, notes = E'two\\tparts "quoted"' WHERE id = 1`);
    await open();
    await page.locator('#cell-1-qty').focus();
    await page.keyboard.press('Control+c');
    expect(await page.evaluate(() => navigator.clipboard.readText())).to.equal('7');
    await page.locator('#cell-1-qty').click(); // a click edits: Escape back to the display cell
    await page.locator('#edit-1-qty').waitFor();
    await htmxIdle(page);
    await page.keyboard.press('Escape');
    await page.locator('#cell-1-qty:not(.editing)').waitFor();
    await htmxIdle(page);
    await page.locator('#cell-2-notes').click({ modifiers: ['Shift'] });
    expect(await page.locator('#grid td.cell.selected').count()).to.equal(6);
    await page.keyboard.press('Control+c');
    const tsv = await page.evaluate(() => navigator.clipboard.readText());
    expect(tsv).to.equal('7\ttrue\t"two\tparts ""quoted"""\n42\ttrue\tnote 2');
  });

  it('Ctrl+V pastes a spreadsheet range as one write, adding rows past the end', async () => {
    await open();
    const before = Number((await sql!.one(`SELECT count(*)::int AS n FROM data.parts`)).n);
    await page.evaluate(() => navigator.clipboard.writeText('Nut\t5\r\nWasher\t6\r\nSpring\t7\r\nPin\t8\r\n'));
    await page.locator('#cell-3-name').focus();
    await page.keyboard.press('Control+v');
    await page.locator('#flash [data-sheet-message]', { hasText: 'Pasted 8 cells, 2 new rows' }).waitFor();
    await htmxIdle(page);
    expect(await sql!.rows(`SELECT name, qty::text AS qty FROM data.parts WHERE id >= 3 ORDER BY id`)).to.deep.equal([
      { name: 'Nut', qty: '5' },
      { name: 'Washer', qty: '6' },
      { name: 'Spring', qty: '7' },
      { name: 'Pin', qty: '8' },
    ]);
    expect(Number((await sql!.one(`SELECT count(*)::int AS n FROM data.parts`)).n)).to.equal(before + 2);
    expect(await page.locator('#grid tbody tr[id^="row-"]').count(), 'the new rows show').to.equal(before + 2);
    await screenshots(page, 'grid-pasted');
  });

  it('the grid scrolls in its own box: the header stays on top, the check box and row id stay at the left (375 px)', async () => {
    await page.setViewportSize({ width: 375, height: 500 });
    await sql!.exec(`INSERT INTO data.parts (name) SELECT 'more ' || i FROM generate_series(1, 40) i`);
    try {
      await open();
      const wrap = page.locator('#grid .grid-wrap');
      const before = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(before, 'the page itself does not scroll sideways').to.equal(0);
      await wrap.evaluate((el) => { el.scrollTop = 400; el.scrollLeft = 300; });
      const box = (await wrap.boundingBox())!;
      const head = (await page.locator('#grid thead th').nth(3).boundingBox())!;
      const id = (await page.locator('#grid tbody th.rowid').nth(10).boundingBox())!;
      const pick = (await page.locator('#grid tbody td.pick').nth(10).boundingBox())!;
      expect(Math.abs(head.y - box.y), 'header at the top of the box').to.be.lessThan(3);
      expect(Math.abs(pick.x - box.x), 'check box at the left').to.be.lessThan(3);
      expect(Math.abs(id.x - (pick.x + pick.width)), 'row id right after it').to.be.lessThan(3);
      expect(await wrap.evaluate((el) => el.scrollLeft), 'the fields did scroll').to.be.greaterThan(0);
    } finally {
      await sql!.exec(`DELETE FROM data.parts WHERE name LIKE 'more %'`);
      await page.setViewportSize({ width: 1280, height: 800 });
    }
  });

  it('a paste with refused cells changes nothing and marks each refused cell in place', async () => {
    await open();
    const snapshot = await sql!.rows(`SELECT * FROM data.parts ORDER BY id`);
    await page.evaluate(() => navigator.clipboard.writeText('1\tyes\n2\tmaybe\nmany\tno\n4\tno\n5\tperhaps'));
    await page.locator('#cell-3-qty').focus();
    await page.keyboard.press('Control+v');
    await page.locator('#flash [data-sheet-message]', { hasText: 'Nothing was changed: 3 cells refused' }).waitFor();
    expect(await sql!.rows(`SELECT * FROM data.parts ORDER BY id`), 'nothing written').to.deep.equal(snapshot);
    const marked = await page.locator('#grid td[aria-invalid="true"]').evaluateAll((cells) => cells.map((c) => `${c.parentElement!.id.replace(/^row-/, '') || 'new'}:${c.getAttribute('data-column')}`));
    expect(marked).to.deep.equal(['4:ok', '5:qty', 'new:ok']);
    expect(await page.locator('#cell-4-ok [data-cell-error]').innerText()).to.match(/true or false/);
    await screenshots(page, 'grid-paste-refused');
  });
});
