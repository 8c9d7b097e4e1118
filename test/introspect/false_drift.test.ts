// Reconcile must not call what the console itself made "changed outside the console".
// Two shapes used to be reported as constraint_changed (default) on a table made only
// through the API: a default with a decimal point (PostgreSQL prints `1.5::numeric(30,2)`,
// bare, where a whole number is quoted) and every stored formula (its generation
// expression lives in pg_attrdef, as a default does). Offering "restore" on a formula then
// answered 500 (DROP DEFAULT on a generated column). And a default a double cannot hold
// (9007199254740993, 1e400 in JSON) was read rounded from the metadata: reported as drift,
// and "restore" then wrote the rounded default into the column, so new rows got ...992.
import { expect } from 'chai';
import { useApp, type TestApp } from '../helpers/app.js';
import type { TestDatabase } from '../helpers/db.js';
import type { Sql } from '../helpers/sql.js';
import { act, createTable, expectClean, onlyItem, QUIET } from './lib.js';

describe('reconcile: no false drift for decimal defaults and stored formulas', () => {
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;

  useApp((s) => ({ db, app, sql } = s), QUIET);

  it('defaults with and without a decimal point, positive and negative, on every numeric type, are in step', async () => {
    await createTable(app, 'Defaults', [
      { name: 'Price', type: 'number', options: { decimals: 2 }, default: '1.5' },
      { name: 'Debt', type: 'number', options: { decimals: 2 }, default: '-1.25' },
      { name: 'Whole', type: 'number', options: { decimals: 2 }, default: '12' },
      { name: 'Count', type: 'number', default: '7' },
      { name: 'Exact', type: 'number', options: { any_precision: true }, default: '0.125' },
      { name: 'Fee', type: 'currency', default: '2.50' },
      { name: 'Rate', type: 'percent', options: { decimals: 1 }, default: '2.5' },
      { name: 'Stars', type: 'rating', default: 3 },
    ]);
    const printed = (await sql.rows(`SELECT pg_get_expr(adbin, adrelid) AS d FROM pg_attrdef WHERE adrelid = 'data.defaults'::regclass`)).map((r) => r.d);
    expect(printed, 'the shape this test is about: a bare decimal with a cast').to.include('1.5::numeric(30,2)');
    await expectClean(app, 'a table made through the API only');
  });

  it('defaults a double cannot hold are in step; a DBA\'s such default is reported, and "accept" records it exactly (a number, not rounded, not a string)', async () => {
    const t = await createTable(app, 'Big', [
      { name: 'Serial', type: 'number', default: '9007199254740993' },
      { name: 'Amount', type: 'number', options: { decimals: 2 }, default: '9007199254740993.01' },
      { name: 'Doc', type: 'json', default: '{"a": 1e400}' },
      { name: 'Digits', type: 'json', default: '12345678901234567890.123456789012345678901' },
    ]);
    await expectClean(app, 'defaults past a double, made through the API only');
    await sql.exec(`ALTER TABLE data.big ALTER COLUMN serial SET DEFAULT 9007199254740995`);
    const item = await onlyItem(app, 'constraint_changed');
    expect(item.id).to.equal(`constraint_changed:f${t.fields[0]!.id}`);
    // (the answer's digits, read as text: JSON.parse would round them here)
    expect((await app.request('GET', '/reconcile')).text).to.include('"expected":{"default":9007199254740993}');
    await act(app, item.id, 'accept');
    const meta = await sql.one(`SELECT default_value::text AS d, jsonb_typeof(default_value) AS t FROM tablewright.fields WHERE id = $1`, [t.fields[0]!.id]);
    expect(meta).to.deep.equal({ d: '9007199254740995', t: 'number' });
    await expectClean(app);
    // and restore puts the exact default back, never a rounded one
    await sql.exec(`ALTER TABLE data.big ALTER COLUMN amount SET DEFAULT 1`);
    const changed = await onlyItem(app, 'constraint_changed');
    await act(app, changed.id, 'restore');
    expect((await sql.one(`INSERT INTO data.big DEFAULT VALUES RETURNING serial::text, amount::text`))).to.deep.equal({ serial: '9007199254740995', amount: '9007199254740993.01' });
    await expectClean(app);
  });

  it('stored formulas are in step, and a default a DBA puts on a number column next to them is still reported', async () => {
    await createTable(app, 'Orders', [
      { name: 'Price', type: 'number', options: { decimals: 2 } },
      { name: 'Qty', type: 'number' },
      { name: 'Total', type: 'formula', options: { expression: '{Price} * {Qty}' } },
      { name: 'Label', type: 'formula', options: { expression: "upper(left('abc', {Qty})) & 'x'" } },
    ]);
    await expectClean(app, 'a table with stored formulas made through the API only');
    await sql.exec(`ALTER TABLE data.orders ALTER COLUMN qty SET DEFAULT 3`);
    const item = await onlyItem(app, 'constraint_changed');
    expect(item.actual).to.deep.equal({ default: '3' });
  });
});
