// The conversion matrix, on real data: every field type to every other.
//
// For every pair the test proves the promise "nothing is lost silently": the dry run's
// count of lost values equals the number of values that really became empty, a lossy
// change without confirm_loss is refused and changes nothing, and with confirm_loss each
// lost value is kept, unchanged, in a trashed copy of the old column. Spot checks then
// prove that values that do convert, convert faithfully, and never rounded.
//
// The database plans every query in parallel (forceParallelPlans), as a table of a few
// hundred thousand rows would be planned: every dry run, conversion and its checks run
// under parallel workers here (test/schema/parallel.test.ts does it at that size).
import { expect } from 'chai';
import type { FieldTypeName } from '../../server/fields/types.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { MATRIX, matrixLinkTarget, matrixOptions, SAMPLES } from '../helpers/conversion_samples.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { expectParallelPlan, forceParallelPlans } from '../helpers/parallel.js';
import { Sql } from '../helpers/sql.js';

describe('type conversion matrix (every type to every other, on real data)', function () {
  this.timeout(180_000);
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let targetTableId: number;

  before(async () => {
    db = await freshDatabase();
    await forceParallelPlans(db);
    app = await startApp(db.url);
    sql = await Sql.connect(db.url);
    await sql.exec(`SET TimeZone = 'UTC'`);
    targetTableId = await matrixLinkTarget(app, sql);
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  const optionsFor = (t: FieldTypeName) => matrixOptions(t, targetTableId);

  /** A table with one field of type `from`, filled with its samples; returns ids. */
  async function tableWith(from: FieldTypeName, label: string) {
    const t = await app.request('POST', '/tables', {
      json: { name: label, fields: [{ name: 'Value', type: from, options: optionsFor(from), column: 'v' }] },
    });
    expect(t.status, t.text).to.equal(201);
    const rel = `data.${t.body.table_name}`;
    for (const v of SAMPLES[from]!) await sql.exec(`INSERT INTO ${rel} (v) VALUES ($1)`, [v]);
    return { tableId: t.body.id as number, fieldId: t.body.fields[0].id as number, rel };
  }

  it('plans the dry run\'s count with parallel workers, as a big table would be planned', async () => {
    const { rel } = await tableWith('text', 'parallel check');
    await expectParallelPlan(sql, `SELECT count(*) FROM ${rel} WHERE tablewright.try_number(v, 2) IS NULL AND tablewright.try_timestamptz(v) IS NULL`);
  });

  for (const from of MATRIX) {
    for (const to of MATRIX) {
      if (from === to && from !== 'number') continue;
      it(`${from} -> ${to}${from === to ? ' (2 decimals to 0)' : ''}: the dry run counts exactly the values that are lost, and each lost value is kept`, async () => {
        const { tableId, fieldId, rel } = await tableWith(from, `m ${from} ${to}`);
        const before = await sql.rows<{ id: number; v: unknown; t: string | null }>(`SELECT id, v, v::text AS t FROM ${rel} ORDER BY id`);
        // number -> number: from 2 decimals to none (values that would be rounded are lost).
        const change = { type: to, options: from === to ? { decimals: 0 } : optionsFor(to) };

        const dry = await app.request('PATCH', `/tables/${tableId}/fields/${fieldId}`, { json: { ...change, dry_run: true } });
        expect(dry.status, dry.text).to.equal(200);
        expect(dry.body.rows).to.equal(before.length);

        if (dry.body.lost > 0) {
          const snapshot = await sql.snapshot();
          const refused = await app.request('PATCH', `/tables/${tableId}/fields/${fieldId}`, { json: change });
          expect(refused.status, refused.text).to.equal(422);
          expect(refused.body.error.code).to.equal('lossy_conversion');
          expect(refused.body.error.message).to.include(`${dry.body.lost} of`);
          expect(await sql.snapshot()).to.deep.equal(snapshot);
        }

        const res = await app.request('PATCH', `/tables/${tableId}/fields/${fieldId}`, { json: { ...change, confirm_loss: true } });
        expect(res.status, res.text).to.equal(200);
        expect(res.body.type).to.equal(to);
        const after = await sql.rows<{ id: number; v: unknown }>(`SELECT id, v FROM ${rel} ORDER BY id`);
        expect(after.map((r) => r.id)).to.deep.equal(before.map((r) => r.id));

        const hadValue = (r: { t: string | null }) => r.t !== null && r.t.trim() !== '';
        const emptied = before.filter((r, i) => hadValue(r) && after[i]!.v === null);
        expect(dry.body.lost, `emptied rows: ${JSON.stringify(emptied)}`).to.equal(emptied.length);

        if (emptied.length > 0) {
          const kept = res.body.changes.kept_in_trash;
          expect(kept.rows).to.equal(emptied.length);
          const parked = await sql.one<{ trash_name: string }>(`SELECT trash_name FROM tablewright.fields WHERE id = $1 AND trash_reason = 'type_change'`, [kept.field_id]);
          const copies = await sql.rows<{ id: number; t: string | null }>(`SELECT id, "${parked.trash_name}"::text AS t FROM ${rel} WHERE "${parked.trash_name}" IS NOT NULL ORDER BY id`);
          expect(copies).to.deep.equal(emptied.map((r) => ({ id: r.id, t: r.t })));
        }
      });
    }
  }

  // Values that convert must convert faithfully.
  const spot: Array<[FieldTypeName, Record<string, unknown>, FieldTypeName, Record<string, unknown>, string, unknown]> = [
    ['text', {}, 'number', { decimals: 2 }, '3.50', '3.50'],
    ['text', {}, 'number', { decimals: 0 }, ' 42 ', '42'],
    ['text', {}, 'number', { decimals: 0 }, '1e3', '1000'],
    ['text', {}, 'number', { decimals: 1 }, '2.25', null],
    ['text', {}, 'number', { decimals: 1 }, '2.50', '2.5'],
    ['text', {}, 'number', { decimals: 0 }, '-9223372036854775808', '-9223372036854775808'],
    ['text', {}, 'number', { decimals: 0 }, '9223372036854775807', '9223372036854775807'],
    ['text', {}, 'number', { decimals: 0 }, '9223372036854775808', null],
    ['text', {}, 'number', { decimals: 2 }, '9999999999999999999999999999.99', '9999999999999999999999999999.99'],
    ['text', {}, 'number', { decimals: 2 }, '10000000000000000000000000000', null],
    ['text', {}, 'number', { decimals: 0 }, '12345678901234567890123', null],
    ['text', {}, 'boolean', {}, 'yes', true],
    ['text', {}, 'boolean', {}, 'TRUE', true],
    ['text', {}, 'boolean', {}, '1', true],
    ['text', {}, 'boolean', {}, 'off', false],
    ['text', {}, 'date', {}, '2024-02-29', '2024-02-29'],
    ['text', {}, 'date', {}, '2024-02-30', null],
    ['text', {}, 'datetime', {}, '2024-03-01T10:00:00Z', '2024-03-01T10:00:00.000Z'],
    ['text', {}, 'datetime', {}, '2024-03-01 10:00', '2024-03-01T10:00:00.000Z'],
    ['text', {}, 'datetime', {}, '2024-03-01T10:00:00+02:00', '2024-03-01T08:00:00.000Z'],
    ['text', {}, 'email', {}, ' a@b.co ', 'a@b.co'],
    ['text', {}, 'url', {}, 'javascript:alert(1)', null],
    ['text', {}, 'json', {}, '{"a": [1, 2]}', { a: [1, 2] }],
    ['text', {}, 'json', {}, 'plain words', 'plain words'],
    ['text', {}, 'long_text', {}, 'héllo ✓ 日本', 'héllo ✓ 日本'],
    ['number', { decimals: 2 }, 'text', {}, '3.5', '3.50'],
    ['number', { decimals: 0 }, 'text', {}, '-7', '-7'],
    ['number', { decimals: 2 }, 'number', { decimals: 0 }, '2.5', null],
    ['number', { decimals: 2 }, 'number', { decimals: 0 }, '2.00', '2'],
    ['number', { decimals: 4 }, 'number', { decimals: 2 }, '1.2345', null],
    ['number', { decimals: 4 }, 'number', { decimals: 2 }, '1.2300', '1.23'],
    ['number', { decimals: 0 }, 'number', { decimals: 2 }, '-9223372036854775808', '-9223372036854775808.00'],
    ['text', {}, 'date', {}, '0005-03-01', '0005-03-01'],
    ['text', {}, 'datetime', {}, '2024-03-01T10:00:00.123456Z', '2024-03-01 10:00:00.123456+00'],
    ['text', {}, 'datetime', {}, '2024-03-01T10:00:00.1234567Z', null],
    ['datetime', {}, 'text', {}, '2024-03-01T10:00:00.123456Z', '2024-03-01T10:00:00.123456Z'],
    ['json', {}, 'text', {}, '12345678901234567890', '12345678901234567890'],
    ['text', {}, 'json', {}, '{"big": 12345678901234567890}', '{"big": 12345678901234567890}'],
    ['number', { decimals: 0 }, 'boolean', {}, '0', false],
    ['number', { decimals: 0 }, 'boolean', {}, '1', true],
    ['number', { decimals: 0 }, 'boolean', {}, '5', null],
    ['number', { decimals: 2 }, 'boolean', {}, '1.00', true],
    ['number', { decimals: 2 }, 'boolean', {}, '-0.50', null],
    ['boolean', {}, 'number', { decimals: 0 }, 'true', '1'],
    ['boolean', {}, 'text', {}, 'false', 'false'],
    ['date', {}, 'text', {}, '2024-02-29', '2024-02-29'],
    ['date', {}, 'datetime', {}, '2024-02-29', '2024-02-29T00:00:00.000Z'],
    ['datetime', {}, 'date', {}, '2024-03-01T23:30:00-02:00', null],
    ['datetime', {}, 'date', {}, '2024-03-02T02:00:00+02:00', '2024-03-02'],
    ['datetime', {}, 'text', {}, '2024-03-01T10:00:00Z', '2024-03-01T10:00:00.000Z'],
    ['single_select', { choices: [{ id: 1, label: 'Red' }] }, 'text', {}, '1', 'Red'],
    // an id no option has (a DBA's write): never converted to the labels of the others
    ['multiple_select', { choices: [{ id: 1, label: 'Red' }] }, 'text', {}, '{1,7}', null],
    ['multiple_select', { choices: [{ id: 1, label: 'Red' }] }, 'long_text', {}, '{1,7}', null],
    ['multiple_select', { choices: [{ id: 1, label: 'Red' }, { id: 2, label: 'Green' }] }, 'text', {}, '{1,2}', 'Red, Green'],
    ['json', {}, 'text', {}, '"just text"', 'just text'],
    ['json', {}, 'text', {}, '{"a":1}', '{"a": 1}'],
    ['json', {}, 'number', { decimals: 0 }, '42', '42'],
    ['email', {}, 'text', {}, 'a@b.co', 'a@b.co'],
    ['text', {}, 'rating', { max: 5 }, ' 4 ', 4],
    ['number', { decimals: 2 }, 'rating', { max: 5 }, '3.00', 3],
    ['number', { decimals: 0 }, 'rating', { max: 5 }, '7', null],
    ['rating', { max: 5 }, 'rating', { max: 3 }, '4', null],
    ['rating', { max: 5 }, 'rating', { max: 3 }, '2', 2],
    ['text', {}, 'percent', { decimals: 1 }, '12.5 %', '12.5'],
    ['text', {}, 'percent', { decimals: 0 }, '12.5%', null],
    ['number', { decimals: 2 }, 'percent', { decimals: 2 }, '99.95', '99.95'],
    ['text', {}, 'currency', { code: 'EUR', decimals: 2 }, 'EUR 9.99', '9.99'],
    ['text', {}, 'currency', { code: 'EUR', decimals: 2 }, '9.99 eur', '9.99'],
    ['text', {}, 'currency', { code: 'EUR', decimals: 2 }, 'USD 9.99', null],
    ['currency', { code: 'EUR', decimals: 2 }, 'number', { decimals: 2 }, '9.99', '9.99'],
    ['duration', {}, 'text', {}, '1 day 02:00:00', '26:00:00'],
    ['duration', {}, 'text', {}, '00:00:00.25', '0:00:00.25'],
    ['text', {}, 'phone', {}, ' +1 (555) 010-0000 ', '+1 (555) 010-0000'],
    ['text', {}, 'phone', {}, 'call me', null],
    ['phone', {}, 'text', {}, '112', '112'],
  ];
  for (const [from, fromOpts, to, toOpts, input, expected] of spot) {
    it(`${from} ${JSON.stringify(input)} -> ${to} is ${JSON.stringify(expected)}`, async () => {
      const t = await app.request('POST', '/tables', { json: { name: `s ${from} ${to} ${input}`.slice(0, 200), fields: [{ name: 'V', type: from, options: fromOpts, column: 'v' }] } });
      expect(t.status, t.text).to.equal(201);
      await sql.exec(`INSERT INTO data.${t.body.table_name} (v) VALUES ($1)`, [input]);
      const res = await app.request('PATCH', `/tables/${t.body.id}/fields/${t.body.fields[0].id}`, { json: { type: to, options: toOpts, confirm_loss: true } });
      expect(res.status, res.text).to.equal(200);
      const row = await sql.one(`SELECT v, v::text AS t FROM data.${t.body.table_name}`);
      const exactText = typeof expected === 'string' && (to === 'number' || (to === 'json' && expected.startsWith('{')) || /\.\d{6}/.test(expected));
      const got = exactText ? row.t : row.v instanceof Date ? row.v.toISOString() : row.v;
      expect(got).to.deep.equal(expected);
    });
  }

  it('text -> single_select makes one option per distinct value (case-insensitive) and maps rows to them', async () => {
    const t = await app.request('POST', '/tables', { json: { name: 'Colours', fields: [{ name: 'Colour', type: 'text', column: 'c' }] } });
    for (const v of ['Red', 'red ', 'Red', 'Blue', '', null]) await sql.exec(`INSERT INTO data.colours (c) VALUES ($1)`, [v]);
    const dry = await app.request('PATCH', `/tables/${t.body.id}/fields/${t.body.fields[0].id}`, { json: { type: 'single_select', dry_run: 1 } });
    expect(dry.body.lost).to.equal(0);
    expect(dry.body.created_options.map((c: { label: string }) => c.label)).to.deep.equal(['Blue', 'Red']);
    const res = await app.request('PATCH', `/tables/${t.body.id}/fields/${t.body.fields[0].id}`, { json: { type: 'single_select' } });
    expect(res.status, res.text).to.equal(200);
    const ids = Object.fromEntries(res.body.options.choices.map((c: { id: number; label: string }) => [c.label, c.id]));
    const rows = await sql.rows(`SELECT c FROM data.colours ORDER BY id`);
    expect(rows.map((r) => r.c)).to.deep.equal([ids.Red, ids.Red, ids.Red, ids.Blue, null, null]);
  });

  it('renaming a select option rewrites no rows; removing a used one is a lossy change', async () => {
    const t = await app.request('POST', '/tables', {
      json: { name: 'Sizes', fields: [{ name: 'Size', type: 'single_select', column: 's', options: { choices: [{ label: 'S' }, { label: 'M' }] } }] },
    });
    const [s, m] = t.body.fields[0].options.choices;
    await sql.exec(`INSERT INTO data.sizes (s) VALUES ($1), ($2)`, [s.id, m.id]);
    const xminBefore = await sql.rows(`SELECT xmin::text FROM data.sizes ORDER BY id`);
    const renamed = await app.request('PATCH', `/tables/${t.body.id}/fields/${t.body.fields[0].id}`, {
      json: { options: { choices: [{ id: s.id, label: 'Small' }, { id: m.id, label: 'Medium' }] } },
    });
    expect(renamed.status, renamed.text).to.equal(200);
    expect(await sql.rows(`SELECT xmin::text FROM data.sizes ORDER BY id`)).to.deep.equal(xminBefore);
    const removed = await app.request('PATCH', `/tables/${t.body.id}/fields/${t.body.fields[0].id}`, { json: { options: { choices: [{ id: s.id, label: 'Small' }] } } });
    expect(removed.status).to.equal(422);
    expect(removed.body.error.details.lost).to.equal(1);
  });
});
