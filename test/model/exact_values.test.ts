// Values are stored exactly or refused, and read back exactly: every digit of a number
// (past 2^53, past a double's range, with trailing zeros), every JSON number inside a
// jsonb, dates in the years 1-99, datetimes to the microsecond, the same on every
// instance whatever its TZ or the database's DateStyle/TimeZone, and columns of types we
// do not model written in CSV as PostgreSQL's own text. Each value is compared with what
// PostgreSQL holds (the column's ::text), never with what JavaScript would make of it.
import { expect } from 'chai';
import { parse } from 'csv-parse/sync';
import { startApp, useApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';
import { act, QUIET, report } from '../introspect/lib.js';

/** A raw JSON body (JSON.stringify cannot write 9007199254740993 or 1e400). */
const rawJson = (text: string) => ({ body: text, headers: { 'Content-Type': 'application/json' } });
const nested = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`;

describe('exact values: JSON bodies and answers keep every digit', () => {
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let tableId: number;
  // (after hooks run in order: the connection ends before useApp drops the database)
  after(async () => sql?.end());
  useApp((s) => ({ db, app } = s));
  before(async () => {
    sql = await Sql.connect(db.url);
    const t = await app.request('POST', '/tables', {
      json: {
        name: 'Exact',
        table_name: 'exact',
        fields: [
          { name: 'Age', type: 'number', column: 'age' },
          { name: 'Score', type: 'number', column: 'score', options: { decimals: 2 } },
          { name: 'Meta', type: 'json', column: 'meta' },
          { name: 'Note', type: 'text', column: 'note' },
          { name: 'Day', type: 'date', column: 'day' },
          { name: 'At', type: 'datetime', column: 'at' },
        ],
      },
    });
    expect(t.status, t.text).to.equal(201);
    tableId = t.body.id;
  });

  const stored = (id: number) => sql.one(`SELECT age::text AS age, score::text AS score, meta::text AS meta, note, day::text AS day, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS at FROM data.exact WHERE id = $1`, [id]);

  it('stores {"age":9007199254740993} as ...993 and answers it with every digit, on create and on read', async () => {
    const res = await app.request('POST', `/tables/${tableId}/rows`, rawJson('{"age":9007199254740993,"meta":{"n":12345678901234567890,"f":1.50}}'));
    expect(res.status, res.text).to.equal(201);
    expect((await stored(res.body.id)).age).to.equal('9007199254740993');
    expect((await stored(res.body.id)).meta).to.equal('{"f": 1.50, "n": 12345678901234567890}');
    expect(res.text).to.include('"age":9007199254740993');
    const read = await app.request('GET', `/tables/${tableId}/rows/${res.body.id}`);
    expect(read.text).to.include('"age":9007199254740993').and.include('"meta":{"f": 1.50, "n": 12345678901234567890}');
  });

  it('stores a 2-decimal number sent with 17 digits before the point exactly, never rounded; more decimals are refused, as a number or a string', async () => {
    const ok = await app.request('POST', `/tables/${tableId}/rows`, rawJson('{"score":12345678901234567.89}'));
    expect(ok.status, ok.text).to.equal(201);
    expect((await stored(ok.body.id)).score).to.equal('12345678901234567.89');
    expect(ok.text).to.include('"score":12345678901234567.89');
    for (const body of ['{"score":1.234}', '{"score":"1.234"}', '{"score":12345678901234567.891}', '{"age":1.5}', '{"age":"9223372036854775808"}']) {
      const res = await app.request('POST', `/tables/${tableId}/rows`, rawJson(body));
      expect(res.status, `${body}: ${res.text}`).to.equal(422);
      expect(res.body.error.code).to.equal('invalid_value');
    }
    const low = await app.request('POST', `/tables/${tableId}/rows`, rawJson('{"age":-9223372036854775808}'));
    expect(low.status, low.text).to.equal(201);
    expect((await stored(low.body.id)).age).to.equal('-9223372036854775808');
    expect(low.text).to.include('"age":-9223372036854775808');
  });

  it('keeps {"meta":1e400} and {"meta":"1e400"}: a number no double holds, never null', async () => {
    for (const body of ['{"meta":1e400}', '{"meta":"1e400"}']) {
      const res = await app.request('POST', `/tables/${tableId}/rows`, rawJson(body));
      expect(res.status, res.text).to.equal(201);
      const meta = (await stored(res.body.id)).meta;
      expect(meta, body).to.equal(`1${'0'.repeat(400)}`);
      expect(res.text).to.include(`"meta":1${'0'.repeat(400)}`);
    }
  });

  it('refuses with 422 a JSON number past PostgreSQL\'s numeric range, and a number text past 1000 characters', async () => {
    for (const body of ['{"meta":1e999999}', '{"meta":[-1e-999999]}', `{"score":"${'1'.repeat(1001)}"}`]) {
      const res = await app.request('POST', `/tables/${tableId}/rows`, rawJson(body));
      expect(res.status, `${body.slice(0, 40)}: ${res.text}`).to.equal(422);
    }
  });

  it('bulk creates keep every digit too', async () => {
    const res = await app.request('POST', `/tables/${tableId}/rows`, rawJson('[{"age":9007199254740995},{"score":0.10,"meta":[1e-400]}]'));
    expect(res.status, res.text).to.equal(201);
    const [a, b] = res.body.rows;
    expect((await stored(a.id)).age).to.equal('9007199254740995');
    expect((await stored(b.id)).score).to.equal('0.10');
    expect((await stored(b.id)).meta).to.equal(`[0.${'0'.repeat(399)}1]`);
  });

  it('form bodies carry text, stored exactly', async () => {
    const res = await app.request('POST', `/tables/${tableId}/rows`, { form: { age: '9007199254740993', score: '12345678901234567.89', meta: '1e400' } });
    expect(res.status, res.text).to.equal(201);
    expect(await stored(res.body.id)).to.include({ age: '9007199254740993', score: '12345678901234567.89', meta: `1${'0'.repeat(400)}` });
  });

  it('answers 400 for a body nested 5,000 deep (and 100,000 deep), whatever the route, and changes nothing', async () => {
    const before = await sql.one(`SELECT count(*)::int AS n FROM data.exact`);
    for (const body of [nested(5000), `{"meta":${nested(5000)}}`, `{"meta":${nested(100_000)}}`]) {
      for (const path of [`/tables/${tableId}/rows`, '/tables', `/tables/${tableId}/fields`]) {
        const res = await app.request('POST', path, rawJson(body));
        expect(res.status, `${path}: ${res.text.slice(0, 200)}`).to.equal(400);
        expect(res.body.error.message).to.match(/nested deeper than/);
      }
    }
    expect(await sql.one(`SELECT count(*)::int AS n FROM data.exact`)).to.deep.equal(before);
  });

  it('refuses with 422 what PostgreSQL would refuse or change: NUL, half a surrogate pair (text and JSON)', async () => {
    for (const body of ['{"note":"a\\u0000b"}', '{"note":"\\ud800"}', '{"meta":{"a":"\\u0000"}}', '{"meta":"\\"\\\\ud800\\""}', '{"meta":["\\udc00"]}']) {
      const res = await app.request('POST', `/tables/${tableId}/rows`, rawJson(body));
      expect(res.status, `${body}: ${res.text}`).to.equal(422);
      expect(res.body.error.field, body).to.be.oneOf(['note', 'meta']);
    }
  });

  it('reads a jsonb 12345678901234567890 and a bigint past 2^53 written in SQL with every digit: API, list, CSV export, grid', async () => {
    const { id } = await sql.one(`INSERT INTO data.exact (age, meta, score) VALUES (9223372036854775807, '{"big": 12345678901234567890}', 99999999999999999999999999.99) RETURNING id`);
    const one = await app.request('GET', `/tables/${tableId}/rows/${id}`);
    expect(one.text).to.include('"age":9223372036854775807').and.include('"meta":{"big": 12345678901234567890}').and.include('"score":99999999999999999999999999.99');
    const list = await app.request('GET', `/tables/${tableId}/rows?filter[id][eq]=${id}`);
    expect(list.text).to.include('"age":9223372036854775807').and.include('{"big": 12345678901234567890}');
    const csv = await app.request('GET', `/tables/${tableId}/rows.csv?filter[id][eq]=${id}`, { headers: { Accept: 'text/csv' } });
    const [header, row] = parse(csv.text) as string[][];
    const cell = (c: string) => row![header!.indexOf(c)];
    expect([cell('age'), cell('meta'), cell('score')]).to.deep.equal(['9223372036854775807', '{"big": 12345678901234567890}', '99999999999999999999999999.99']);
    const page = await app.request('GET', `/tables/${tableId}`, { headers: { Accept: 'text/html' } });
    expect(page.text).to.include('12345678901234567890').and.include('9223372036854775807');
  });

  it('takes dates in the years 1 to 99 and datetimes to the microsecond, by JSON and by form', async () => {
    const a = await app.request('POST', `/tables/${tableId}/rows`, { json: { day: '0005-03-01', at: '0005-03-01T10:00:00.123456Z' } });
    expect(a.status, a.text).to.equal(201);
    expect(await stored(a.body.id)).to.include({ day: '0005-03-01', at: '0005-03-01T10:00:00.123456' });
    expect(a.body).to.include({ day: '0005-03-01', at: '0005-03-01T10:00:00.123456Z' });
    const b = await app.request('POST', `/tables/${tableId}/rows`, { form: { day: '0099-12-31', at: '2024-03-01 23:30:00.000001-02:00' } });
    expect(b.status, b.text).to.equal(201);
    expect(await stored(b.body.id)).to.include({ day: '0099-12-31', at: '2024-03-02T01:30:00.000001' });
    const read = await app.request('GET', `/tables/${tableId}/rows/${b.body.id}`);
    expect(read.body).to.include({ day: '0099-12-31', at: '2024-03-02T01:30:00.000001Z' });
    const c = await app.request('POST', `/tables/${tableId}/rows`, { json: { at: '2024-03-01T10:00:00Z' } });
    expect(c.body.at, 'milliseconds when there are no microseconds').to.equal('2024-03-01T10:00:00.000Z');
    for (const bad of [{ day: '0000-01-01' }, { day: '2023-02-29' }, { at: '2024-03-01T10:00:00.1234567Z' }, { at: '0001-01-01T00:00:00+01:00' }, { at: '2024-03-01T10:00:00+16:00' }]) {
      const res = await app.request('POST', `/tables/${tableId}/rows`, { json: bad });
      expect(res.status, `${JSON.stringify(bad)}: ${res.text}`).to.equal(422);
    }
  });

  it('filters datetimes to the microsecond', async () => {
    const res = await app.request('POST', `/tables/${tableId}/rows`, { json: { at: '2030-01-01T00:00:00.000002Z' } });
    const eq = await app.request('GET', `/tables/${tableId}/rows?filter[at][eq]=2030-01-01T00:00:00.000002Z`);
    expect(eq.body.rows.map((r: { id: number }) => r.id)).to.deep.equal([res.body.id]);
    const lt = await app.request('GET', `/tables/${tableId}/rows?filter[at][gt]=2030-01-01T00:00:00.000001Z`);
    expect(lt.body.rows.map((r: { id: number }) => r.id)).to.deep.equal([res.body.id]);
  });
});

describe('exact values: the same on every instance, whatever its TZ and the database\'s DateStyle and TimeZone', () => {
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  const tz = process.env.TZ;
  before(async () => {
    db = await freshDatabase();
    sql = await Sql.connect(db.url);
    // A DBA's settings for every session: ambiguous day/month order, a zone far from UTC.
    await sql.exec(`ALTER DATABASE "${db.name}" SET DateStyle = 'SQL, DMY'`);
    await sql.exec(`ALTER DATABASE "${db.name}" SET TimeZone = 'Asia/Kolkata'`);
    await sql.exec(`CREATE TABLE data.odd (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      local timestamp, local3 timestamp(3), at timestamptz, day date, pos point, tags text[], big int8, small int4,
      f float8, j json, span interval, far date, past timestamptz)`);
    await sql.exec(`INSERT INTO data.odd (local, local3, at, day, pos, tags, big, small, f, j, span, far, past) VALUES
      ('2024-03-01 10:00:00.123456', '2024-03-01 10:00:00.5', '2024-03-01 10:00:00.123456+00', '2024-03-04', '(1,2)', '{a,b}', 9007199254740993, 7,
       'NaN', '{"n": 12345678901234567890, "s": "x"}', '1 day 02:00:00', 'infinity', '0044-03-15 12:00:00+00 BC'),
      ('0005-01-01 00:00:00', NULL, NULL, '0005-01-02', '(-1.5,2e-7)', '{"a,b",c,NULL,""}', -9223372036854775808, NULL, 1e300, '[1.50]', NULL, NULL, NULL)`);
    app = await startApp(db.url, QUIET);
    const r = await report(app);
    const item = r.items.find((i) => i.id === 'untracked_table:data:odd')!;
    await act(app, item.id, 'adopt');
  });
  after(async () => {
    process.env.TZ = tz;
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  const EXPECTED = [
    {
      local: '2024-03-01T10:00:00.123456', local3: '2024-03-01T10:00:00.500', at: '2024-03-01T10:00:00.123456Z', day: '2024-03-04', pos: '(1,2)', tags: '{a,b}',
      big: 9007199254740993n, small: 7, f: 'NaN', j: '{"n": 12345678901234567890, "s": "x"}', span: '1 day 02:00:00', far: 'infinity', past: '0044-03-15T12:00:00.000Z BC',
    },
    { local: '0005-01-01T00:00:00.000', local3: null, at: null, day: '0005-01-02', pos: '(-1.5,2e-07)', tags: '{"a,b",c,NULL,""}', big: -9223372036854775808n, small: null, f: 1e300, j: '[1.50]', span: null, far: null, past: null },
  ];

  /** The API's rows, with big numbers and raw JSON kept as their text. */
  async function apiRows(): Promise<string> {
    const res = await app.request('GET', `/tables/${(await sql.one(`SELECT id FROM tablewright.tables WHERE table_name = 'odd'`)).id}/rows`);
    expect(res.status, res.text).to.equal(200);
    return res.text;
  }

  it('reads adopted timestamps, dates and points the same under two process time zones, and as PostgreSQL holds them', async () => {
    process.env.TZ = 'America/Los_Angeles';
    const west = await apiRows();
    process.env.TZ = 'Asia/Tokyo';
    const east = await apiRows();
    expect(east).to.equal(west);
    for (const [i, e] of EXPECTED.entries()) {
      for (const [k, v] of Object.entries(e)) {
        const token = v === null ? 'null' : typeof v === 'bigint' || typeof v === 'number' ? String(v) : k === 'j' ? v : JSON.stringify(v);
        expect(east, `row ${i + 1} ${k}`).to.include(`"${k}":${token}`);
      }
    }
  });

  it('exports adopted types as PostgreSQL\'s own text (no [object Object], arrays unambiguous), and the export imports back exactly', async () => {
    const tableId = (await sql.one(`SELECT id FROM tablewright.tables WHERE table_name = 'odd'`)).id;
    const csv = await app.request('GET', `/tables/${tableId}/rows.csv`, { headers: { Accept: 'text/csv' } });
    expect(csv.status).to.equal(200);
    expect(csv.text).not.to.include('[object Object]');
    const records = parse(csv.text) as string[][];
    const header = records[0]!;
    const cells = (i: number) => Object.fromEntries(header.map((h, j) => [h, records[i + 1]![j]]));
    expect(cells(0)).to.include({ pos: '(1,2)', tags: '{a,b}', big: '9007199254740993', f: 'NaN', j: '{"n": 12345678901234567890, "s": "x"}', local: '2024-03-01T10:00:00.123456' });
    expect(cells(1)).to.include({ tags: '{"a,b",c,NULL,""}', big: '-9223372036854775808', day: '0005-01-02' });

    // Imported into a table of text fields (and a number and a JSON field), each cell is
    // what PostgreSQL wrote.
    const texts = ['pos', 'tags', 'local', 'f', 'span', 'far', 'past', 'day'];
    const copy = await app.request('POST', '/tables', {
      json: { name: 'Odd copy', table_name: 'odd_copy', fields: [...texts.map((c) => ({ name: c, column: c, type: 'text' })), { name: 'big', column: 'big', type: 'number' }, { name: 'j', column: 'j', type: 'json' }] },
    });
    expect(copy.status, copy.text).to.equal(201);
    const imported = await app.request('POST', `/tables/${copy.body.id}/rows/import?ignore_unknown=1`, { body: csv.text, headers: { 'Content-Type': 'text/csv' } });
    expect(imported.status, imported.text).to.equal(200);
    const cols = [...texts, 'big', 'j'];
    const back = await sql.rows(`SELECT ${cols.map((c) => `coalesce(${c}::text, '') AS ${c}`).join(', ')} FROM data.odd_copy ORDER BY id`);
    const source = await sql.rows(`SELECT ${cols.map((c) => `coalesce(${c}::text, '') AS ${c}`).join(', ')} FROM data.odd ORDER BY id`);
    // Dates and times come back in the API's ISO spelling, the rest in PostgreSQL's own.
    for (const r of source) Object.assign(r, { local: r.local && r.local.replace(' ', 'T'), past: r.past && '0044-03-15T12:00:00.000Z BC' });
    back.forEach((r) => (r.local = r.local.replace(/\.123456$|\.000$/, (m: string) => (m === '.000' ? '' : m))));
    expect(back).to.deep.equal(source);
  });
});
