// The listing's direct JSON writer (server/model/row_json.ts) writes the same text as the
// general path (rowToJson, then stringifyExact), for every field type and for generated
// values with their edge cases: quotes, backslashes, control and line-separator
// characters, astral characters, numbers past a double's digits, trailing zeros, NaN and
// Infinity in a numeric column a DBA wrote, NULLs everywhere. Compared byte for byte on
// rows PostgreSQL returns through the model's own select list.
import { expect } from 'chai';
import { stringifyExact } from '../../server/fields/exact_json.js';
import { compileModel, rowToJson } from '../../server/model/compile.js';
import { rowsJsonText } from '../../server/model/row_json.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';

/** A small deterministic generator (mulberry32), so a failure can be replayed. */
function random(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = ['a', 'Z', ' ', '"', '\\', '\n', '\t', '\u0001', '\u001f', '\u2028', '\u2029', 'é', '😀', '</script>', '0', '-', '.', 'e', ','];

describe('row JSON writer: the same text as rowToJson + stringifyExact', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let app: TestApp;

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url);
  });
  after(async () => {
    await app?.stop();
    await db?.drop();
  });

  it('every field type, 300 generated rows with edge cases', async () => {
    const post = async (path: string, json: unknown) => {
      const r = await app.request('POST', path, { json });
      expect(r.status, r.text).to.equal(201);
      return r.body;
    };
    const target = await post('/tables', { name: 'Targets', table_name: 'targets', fields: [{ name: 'Name', type: 'text', column: 'name' }, { name: 'Price', type: 'number', column: 'price', options: { decimals: 2 } }] });
    const t = await post('/tables', {
      name: 'Everything',
      table_name: 'everything',
      fields: [
        { name: 'Text', type: 'text', column: 'txt' },
        { name: 'Long', type: 'long_text', column: 'long' },
        { name: 'Email', type: 'email', column: 'email' },
        { name: 'Url', type: 'url', column: 'url' },
        { name: 'Phone', type: 'phone', column: 'phone' },
        { name: 'Int', type: 'number', column: 'int' },
        { name: 'Money', type: 'number', column: 'money', options: { decimals: 2 } },
        { name: 'Any', type: 'number', column: 'anyp', options: { any_precision: true } },
        { name: 'Cur', type: 'currency', column: 'cur', options: { code: 'EUR', decimals: 2 } },
        { name: 'Pct', type: 'percent', column: 'pct' },
        { name: 'Stars', type: 'rating', column: 'stars' },
        { name: 'Ok', type: 'boolean', column: 'ok' },
        { name: 'Day', type: 'date', column: 'day' },
        { name: 'At', type: 'datetime', column: 'at' },
        { name: 'Took', type: 'duration', column: 'took' },
        { name: 'Doc', type: 'json', column: 'doc' },
        { name: 'Pick', type: 'single_select', column: 'pick', options: { choices: [{ label: 'red' }, { label: 'green' }] } },
        { name: 'Tags', type: 'multiple_select', column: 'tags', options: { choices: [{ label: 'x' }, { label: 'y' }] } },
        { name: 'No', type: 'autonumber', column: 'no' },
        { name: 'Made', type: 'created_at', column: 'made' },
      ],
    });
    await post(`/tables/${t.id}/fields`, { name: 'One', type: 'link', column: 'one', options: { table_id: target.id } });
    const many = await post(`/tables/${t.id}/fields`, { name: 'Many', type: 'link', column: 'many', options: { table_id: target.id, multiple: true } });
    const priceId = (await app.request('GET', `/tables/${target.id}`)).body.fields.find((f: { column: string }) => f.column === 'price').id;
    const nameId = (await app.request('GET', `/tables/${target.id}`)).body.fields.find((f: { column: string }) => f.column === 'name').id;
    await post(`/tables/${t.id}/fields`, { name: 'Names', type: 'lookup', column: 'names', options: { link_field_id: many.id, field_id: nameId } });
    await post(`/tables/${t.id}/fields`, { name: 'Total', type: 'rollup', column: 'total', options: { link_field_id: many.id, field_id: priceId, fn: 'sum' } });
    await post(`/tables/${t.id}/fields`, { name: 'Twice', type: 'formula', column: 'twice', options: { expression: '{Money} * 2' } });

    const next = random(20261202);
    const pick = <T>(xs: T[]) => xs[Math.floor(next() * xs.length)]!;
    const str = (max: number) => Array.from({ length: Math.floor(next() * max) }, () => pick(PIECES)).join('');
    const digits = (n: number) => Array.from({ length: n }, () => String(Math.floor(next() * 10))).join('');
    const maybe = <T>(v: () => T): T | null => (next() < 0.15 ? null : v());

    const sql = app.ctx.pool;
    for (let i = 0; i < 5; i++) await sql.query(`INSERT INTO data.targets (name, price) VALUES ($1, $2)`, [str(12), `${digits(4)}.${digits(2)}`]);
    for (let i = 0; i < 300; i++) {
      const anyp = pick([() => `${next() < 0.5 ? '-' : ''}${digits(1 + Math.floor(next() * 30))}.${digits(1 + Math.floor(next() * 25))}`, () => 'NaN', () => 'Infinity', () => '-Infinity', () => '0', () => '0.000001', () => '100.10', () => '9007199254740993']);
      const { rows } = await sql.query<{ id: string }>(
        `INSERT INTO data.everything (txt, long, email, url, phone, int, money, anyp, cur, pct, stars, ok, day, at, took, doc, one)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING id`,
        [
          maybe(() => str(30)),
          maybe(() => str(200)),
          maybe(() => `u${digits(3)}@example.com`),
          maybe(() => `https://example.com/${encodeURIComponent(str(8))}`),
          maybe(() => `+1 ${digits(10)}`),
          maybe(() => `${next() < 0.3 ? '-' : ''}${digits(1 + Math.floor(next() * 15))}`),
          maybe(() => `${next() < 0.3 ? '-' : ''}${digits(1 + Math.floor(next() * 10))}.${pick(['00', '10', '05', digits(2)])}`),
          maybe(anyp),
          maybe(() => `${digits(5)}.${digits(2)}`),
          maybe(() => `${digits(2)}.${digits(2)}`),
          maybe(() => 1 + Math.floor(next() * 5)),
          maybe(() => next() < 0.5),
          maybe(() => `20${digits(2)}-0${1 + Math.floor(next() * 9)}-1${Math.floor(next() * 9)}`),
          maybe(() => `2024-05-0${1 + Math.floor(next() * 9)} 1${digits(1)}:3${digits(1)}:00.${digits(6)}+00`),
          maybe(() => `${digits(2)}:${Math.floor(next() * 6)}5:00`),
          maybe(() => JSON.stringify({ s: str(10), n: Number(`1${digits(18)}`), big: 1e300, nested: [true, null, str(4)] }).replace('"big":1e+300', '"big":123456789012345678901234567890.50')),
          maybe(() => 1 + Math.floor(next() * 5)),
        ],
      );
      const id = Number(rows[0]!.id);
      const patch: Record<string, unknown> = { pick: pick(['red', 'green', null]), tags: pick([[], ['x'], ['x', 'y'], null]), many: Array.from({ length: Math.floor(next() * 4) }, () => 1 + Math.floor(next() * 5)) };
      const r = await app.request('PATCH', `/tables/${t.id}/rows/${id}`, { json: patch });
      expect(r.status, r.text).to.equal(200);
    }

    const model = await compileModel(app.ctx.pool, app.ctx.config.dataSchema, t.id);
    const { rows } = await app.ctx.pool.query(`SELECT ${model.selectList} FROM ${model.from} ORDER BY t.id`);
    expect(rows).to.have.length(300);
    const general = stringifyExact(rows.map((r) => rowToJson(model, r)));
    const direct = rowsJsonText(model, rows);
    if (direct !== general) {
      // the first row that differs, for a readable failure
      const a = JSON.parse(general) as unknown[];
      const i = rows.findIndex((r) => rowsJsonText(model, [r]) !== stringifyExact([rowToJson(model, r)]));
      expect(rowsJsonText(model, [rows[i]!]), `row ${i}: ${JSON.stringify(a[i])}`).to.equal(stringifyExact([rowToJson(model, rows[i]!)]));
    }
    expect(direct).to.equal(general);
    // and the edge cases were there to meet
    expect(direct).to.include('"NaN"').and.include('"Infinity"').and.include('9007199254740993').and.include('\\n').and.include('\\"');
    expect(rowsJsonText(model, [])).to.equal('[]');
  });
});
