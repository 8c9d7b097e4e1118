// Round trip by property (fast-check): generated rows of every field type, edge cases
// included (bigint's extremes, 28-digit decimals, numbers past a double's range in JSON,
// years 1 to 9999, microseconds, offsets, any Unicode text, spaces-only text, empty and
// NULL), written through each way in (a JSON body, an HTML form, a CSV import), then
// checked three ways:
//   1. PostgreSQL holds exactly what was sent (compared in SQL: numeric, jsonb,
//      timestamptz equality with the sent text);
//   2. GET /tables/:id/rows/:rid answers, byte for byte, the JSON built from PostgreSQL's
//      own text of each column (::text);
//   3. the CSV export's cells are, byte for byte, PostgreSQL's text (dates and times in
//      the API's ISO spelling, options by label, links by id).
// And text with a NUL byte is refused with 422 by each way in, changing nothing.
import { expect } from 'chai';
import fc from 'fast-check';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { RawJson, jsonbProblem, stringifyExact } from '../../server/fields/exact_json.js';
import { useApp, type TestApp } from '../helpers/app.js';
import type { TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';

/** One generated value: what each way in sends, and how SQL checks what is stored. */
interface Gen {
  /** for a JSON body (a RawJson goes out as its exact text) */
  json: unknown;
  /** for a form field and a CSV cell ('' for NULL) */
  text: string;
  /** the value bound for the SQL comparison (null: the column must be NULL) */
  sql: string | null;
}

const CHOICES = ['Red', 'Green', 'Blue ✓'];

/** column -> [field type, options, SQL cast the stored value is compared with] */
const FIELDS: Record<string, [string, Record<string, unknown>, string]> = {
  t: ['text', {}, 'text'],
  lt: ['long_text', {}, 'text'],
  n0: ['number', { decimals: 0 }, 'numeric'],
  n2: ['number', { decimals: 2 }, 'numeric'],
  b: ['boolean', {}, 'boolean'],
  d: ['date', {}, 'date'],
  dt: ['datetime', {}, 'timestamptz'],
  e: ['email', {}, 'text'],
  u: ['url', {}, 'text'],
  s: ['single_select', { choices: CHOICES.map((label) => ({ label })) }, 'integer'],
  j: ['json', {}, 'jsonb'],
  l: ['link', {}, 'bigint'],
};

const same = (v: string): Gen => ({ json: v, text: v, sql: v });
const pad = (n: number, w: number) => String(n).padStart(w, '0');
const daysIn = (y: number, m: number) => (m === 2 ? ((y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28) : [4, 6, 9, 11].includes(m) ? 30 : 31);

const text = fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => s !== '' && !s.includes('\0')).map(same);

const bigint0 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((b): Gen => ({ json: new RawJson(String(b)), text: String(b), sql: String(b) }));

/** numeric(30,2): up to 28 digits before the point, written several ways (never more than 2 decimals). */
const decimal2 = fc
  .tuple(fc.bigInt({ min: -(10n ** 30n) + 1n, max: 10n ** 30n - 1n }), fc.constantFrom('fixed', 'trimmed', 'exponent'))
  .map(([cents, style]): Gen => {
    const sign = cents < 0n ? '-' : '';
    const digits = (cents < 0n ? -cents : cents).toString();
    const abs = digits.padStart(3, '0');
    const fixed = `${sign}${abs.slice(0, -2)}.${abs.slice(-2)}`;
    const token = style === 'exponent' ? `${sign}${digits}e-2` : style === 'trimmed' ? fixed.replace(/\.?0+$/, '') || '0' : fixed;
    return { json: new RawJson(token), text: token, sql: fixed };
  });

const day = fc.record({ y: fc.integer({ min: 1, max: 9999 }), m: fc.integer({ min: 1, max: 12 }), d: fc.integer({ min: 1, max: 31 }) }).map(({ y, m, d }) => ({ y, m, d: Math.min(d, daysIn(y, m)) }));
const date = day.map(({ y, m, d }) => same(`${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}`));

const datetime = fc
  .record({
    day: day.filter(({ y }) => y > 1 && y < 9999),
    h: fc.integer({ min: 0, max: 23 }),
    mi: fc.integer({ min: 0, max: 59 }),
    s: fc.integer({ min: 0, max: 59 }),
    frac: fc.oneof(fc.constant(''), fc.integer({ min: 1, max: 6 }).chain((n) => fc.stringMatching(new RegExp(`^[0-9]{${n}}$`)).map((f) => `.${f}`))),
    zone: fc.oneof(fc.constant(''), fc.constant('Z'), fc.record({ sign: fc.constantFrom('+', '-'), h: fc.integer({ min: 0, max: 15 }), m: fc.integer({ min: 0, max: 59 }) }).map(({ sign, h, m }) => `${sign}${pad(h, 2)}:${pad(m, 2)}`)),
  })
  .map(({ day: { y, m, d }, h, mi, s, frac, zone }): Gen => {
    const v = `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}${frac}${zone}`;
    return { json: v, text: v, sql: zone ? v : `${v}Z` };
  });

const email = fc.emailAddress().filter((s) => s.length <= 320).map(same);
const url = fc.webUrl({ withQueryParameters: true, withFragments: true }).filter((s) => s.length <= 2048).map(same);
const json = fc
  .oneof(
    fc.json({ maxDepth: 3 }),
    fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }).map((b) => `{"big": ${b}, "list": [${b}e-3, 1.50, -0.0]}`),
    fc.constantFrom('1e400', '[1e-400]', '"1e400"', '12345678901234567890', '{"a": {"b": [[[]]]}}'),
  )
  .filter((s) => jsonbProblem(s) === undefined)
  // In a JSON body a JSON field takes a JSON value as it is, or its text as a string (a
  // string is JSON text): a JSON string goes the second way, and so does JSON's null (a
  // bare null is no value: SQL NULL).
  .map((s): Gen => ({ json: s.startsWith('"') || s === 'null' ? s : new RawJson(s), text: s, sql: s }));
const bool = fc.boolean().map((v): Gen => ({ json: v, text: String(v), sql: String(v) }));

/** Empty: null in JSON, '' in a form or CSV; NULL in PostgreSQL. */
const empty = fc.constant<Gen>({ json: null, text: '', sql: null });
const orEmpty = (a: fc.Arbitrary<Gen>) => fc.oneof({ weight: 5, arbitrary: a }, { weight: 1, arbitrary: empty });

describe('round trip by property: every field type, through JSON, form and CSV, read back byte for byte', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let tableId: number;
  let targets: Array<{ id: number; label: string }> = [];
  let choiceIds: Record<string, number> = {};
  let arbitraryRow: fc.Arbitrary<Record<string, Gen>>;
  after(async () => sql?.end());
  useApp((s) => ({ db, app } = s));

  before(async () => {
    sql = await Sql.connect(db.url);
    await sql.exec(`SET TimeZone = 'UTC'`);
    const target = await app.request('POST', '/tables', { json: { name: 'Targets', table_name: 'targets', fields: [{ name: 'Name', type: 'text', column: 'name' }] } });
    targets = (await app.request('POST', `/tables/${target.body.id}/rows`, { json: [{ name: 'one "1"' }, { name: 'two ✓' }] })).body.rows.map((r: { id: number; name: string }) => ({ id: r.id, label: r.name }));
    FIELDS.l![1] = { table_id: target.body.id };
    const t = await app.request('POST', '/tables', {
      json: { name: 'Round trip', table_name: 'rt', fields: Object.entries(FIELDS).map(([column, [type, options]]) => ({ name: column, column, type, options })) },
    });
    expect(t.status, t.text).to.equal(201);
    tableId = t.body.id;
    choiceIds = Object.fromEntries(t.body.fields.find((f: { column: string }) => f.column === 's').options.choices.map((c: { id: number; label: string }) => [c.label, c.id]));
    const select = fc.constantFrom(...CHOICES).map((label): Gen => ({ json: label, text: label, sql: String(choiceIds[label]) }));
    const link = fc.constantFrom(...targets).map(({ id }): Gen => ({ json: id, text: String(id), sql: String(id) }));
    arbitraryRow = fc.record({
      t: orEmpty(text),
      lt: orEmpty(text),
      n0: orEmpty(bigint0),
      n2: orEmpty(decimal2),
      b: orEmpty(bool),
      d: orEmpty(date),
      dt: orEmpty(datetime),
      e: orEmpty(email),
      u: orEmpty(url),
      s: orEmpty(select),
      j: orEmpty(json),
      l: orEmpty(link),
    });
  });

  const columns = Object.keys(FIELDS);

  /** 1: what PostgreSQL holds is what was sent. */
  async function expectStored(id: number, row: Record<string, Gen>): Promise<void> {
    const checks = columns.map((c, i) => `${c} IS NOT DISTINCT FROM $${i + 2}::${FIELDS[c]![2]} AS ${c}`);
    const got = await sql.one(`SELECT ${checks.join(', ')} FROM data.rt WHERE id = $1`, [id, ...columns.map((c) => row[c]!.sql)]);
    const wrong = columns.filter((c) => got[c] !== true);
    expect(wrong, `stored differs for ${wrong.map((c) => `${c}=${JSON.stringify(row[c]!.text)}`).join(', ')}`).to.deep.equal([]);
  }

  /** PostgreSQL's text of each column of the rows, and the API's datetime spelling of it. */
  async function pgText(ids: number[]): Promise<Array<Record<string, string | null>>> {
    return sql.rows(
      `SELECT id::text, ${columns.map((c) => (c === 'dt' ? `to_char(dt, 'YYYY-MM-DD"T"HH24:MI:SS.US') AS dt` : `${c}::text AS ${c}`)).join(', ')}
         FROM data.rt WHERE rt.id = ANY($1::int8[]) ORDER BY rt.id`,
      [ids],
    );
  }

  const isoMicro = (v: string) => `${v.endsWith('000') ? v.slice(0, -3) : v}Z`;

  /** 2: the API's row, byte for byte, from PostgreSQL's text. */
  function expectedApiRow(r: Record<string, string | null>): string {
    const value = (c: string, v: string | null): string => {
      if (v === null) return 'null';
      switch (FIELDS[c]![0]) {
        case 'number':
        case 'boolean':
        case 'json':
          return v;
        case 'datetime':
          return JSON.stringify(isoMicro(v));
        case 'single_select': {
          const label = Object.keys(choiceIds).find((k) => String(choiceIds[k]) === v)!;
          return `{"id":${v},"label":${JSON.stringify(label)},"color":"gray"}`;
        }
        case 'link':
          return `{"id":${v},"label":${JSON.stringify(targets.find((x) => String(x.id) === v)!.label)}}`;
        default:
          return JSON.stringify(v);
      }
    };
    return `{"id":${r.id},${columns.map((c) => `"${c}":${value(c, r[c]!)}`).join(',')}}`;
  }

  /** 3: the CSV export's cells, byte for byte, from PostgreSQL's text. */
  function expectedCsvRecord(r: Record<string, string | null>): string[] {
    return [
      r.id!,
      ...columns.map((c) => {
        const v = r[c]!;
        if (v === null) return '';
        if (c === 'dt') return isoMicro(v);
        if (c === 's') return Object.keys(choiceIds).find((k) => String(choiceIds[k]) === v)!;
        return v;
      }),
    ];
  }

  async function expectReadBack(ids: number[]): Promise<void> {
    const rows = await pgText(ids);
    expect(rows.map((r) => Number(r.id))).to.deep.equal(ids);
    for (const r of rows) {
      const res = await app.request('GET', `/tables/${tableId}/rows/${r.id}`);
      expect(res.text).to.equal(expectedApiRow(r));
    }
    const csv = await app.request('GET', `/tables/${tableId}/rows.csv?filter[id][in]=${ids.join(',')}`, { headers: { Accept: 'text/csv' } });
    const records = parse(csv.text, { bom: true }) as string[][];
    expect(records[0]).to.deep.equal(['id', ...columns]);
    expect(records.slice(1)).to.deep.equal(rows.map(expectedCsvRecord));
  }

  const rows = () => fc.array(arbitraryRow, { minLength: 1, maxLength: 8 });
  const params = { numRuns: 12, endOnFailure: true };

  it('JSON bodies (a bulk create): stored exactly, read back byte for byte', async () => {
    await fc.assert(
      fc.asyncProperty(rows(), async (generated) => {
        const body = stringifyExact(generated.map((g) => Object.fromEntries(columns.map((c) => [c, g[c]!.json]))));
        const res = await app.request('POST', `/tables/${tableId}/rows`, { body, headers: { 'Content-Type': 'application/json' } });
        expect(res.status, res.text).to.equal(201);
        const ids = res.body.rows.map((r: { id: number }) => r.id);
        for (const [i, id] of ids.entries()) await expectStored(id, generated[i]!);
        await expectReadBack(ids);
      }),
      params,
    );
  });

  it('HTML forms (urlencoded): stored exactly, read back byte for byte', async () => {
    await fc.assert(
      fc.asyncProperty(rows(), async (generated) => {
        const ids: number[] = [];
        for (const g of generated) {
          const res = await app.request('POST', `/tables/${tableId}/rows`, { form: Object.fromEntries(columns.map((c) => [c, g[c]!.text])) });
          expect(res.status, res.text).to.equal(201);
          ids.push(res.body.id);
          await expectStored(res.body.id, g);
        }
        await expectReadBack(ids);
      }),
      params,
    );
  });

  it('CSV imports: stored exactly, read back byte for byte', async () => {
    await fc.assert(
      fc.asyncProperty(rows(), async (generated) => {
        const before = (await sql.one(`SELECT coalesce(max(id), 0)::int AS n FROM data.rt`)).n as number;
        const csv = stringify([columns, ...generated.map((g) => columns.map((c) => g[c]!.text))]);
        const res = await app.request('POST', `/tables/${tableId}/rows/import`, { body: csv, headers: { 'Content-Type': 'text/csv' } });
        expect(res.status, res.text).to.equal(200);
        expect(res.body.imported).to.equal(generated.length);
        const ids = (await sql.rows(`SELECT id::int FROM data.rt WHERE id > $1 ORDER BY id`, [before])).map((r) => r.id as number);
        for (const [i, id] of ids.entries()) await expectStored(id, generated[i]!);
        await expectReadBack(ids);
      }),
      params,
    );
  });

  it('text with a NUL byte is refused with 422 by JSON, form and CSV, and nothing is written', async () => {
    const withNul = fc.tuple(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 })).map(([a, b]) => `${a}\0${b}`);
    await fc.assert(
      fc.asyncProperty(withNul, fc.constantFrom('t', 'lt', 'e', 'u', 'j', 'n0', 'd'), async (value, column) => {
        const count = (await sql.one(`SELECT count(*)::int AS n FROM data.rt`)).n;
        const viaJson = await app.request('POST', `/tables/${tableId}/rows`, { json: { [column]: value } });
        const viaForm = await app.request('POST', `/tables/${tableId}/rows`, { form: { [column]: value } });
        const viaCsv = await app.request('POST', `/tables/${tableId}/rows/import`, { body: stringify([[column], [value]]), headers: { 'Content-Type': 'text/csv' } });
        for (const res of [viaJson, viaForm, viaCsv]) expect(res.status, `${column} ${JSON.stringify(value)}: ${res.text}`).to.equal(422);
        expect((await sql.one(`SELECT count(*)::int AS n FROM data.rt`)).n).to.equal(count);
      }),
      { numRuns: 15 },
    );
  });
});
