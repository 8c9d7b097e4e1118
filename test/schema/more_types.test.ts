// rating, percent, currency, duration, phone over real HTTP and psql on real PostgreSQL:
// each makes its column, parses what a person types (and refuses the rest with a 422
// naming the field), reads back exactly, filters, goes through CSV, and converts with the
// same rules in SQL as in TypeScript (a property test compares try_duration with the
// parser on generated input). Every query is planned in parallel (forceParallelPlans).
import { expect } from 'chai';
import fc from 'fast-check';
import { durationMicros, durationText } from '../../server/fields/duration.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { expectParallelPlan, forceParallelPlans } from '../helpers/parallel.js';
import { Sql } from '../helpers/sql.js';

describe('rating, percent, currency, duration and phone fields', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let t: { id: number; rel: string };

  before(async () => {
    db = await freshDatabase();
    await forceParallelPlans(db);
    app = await startApp(db.url);
    sql = await Sql.connect(db.url);
    const res = await app.request('POST', '/tables', {
      json: {
        name: 'Calls',
        table_name: 'calls',
        fields: [
          { name: 'Stars', type: 'rating', options: { max: 5 }, column: 'stars' },
          { name: 'Done', type: 'percent', options: { decimals: 1 }, column: 'done' },
          { name: 'Fee', type: 'currency', options: { code: 'EUR', decimals: 2 }, column: 'fee' },
          { name: 'Length', type: 'duration', column: 'length' },
          { name: 'Phone', type: 'phone', column: 'phone' },
        ],
      },
    });
    expect(res.status, res.text).to.equal(201);
    t = { id: res.body.id, rel: 'data.calls' };
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  it('makes the columns a DBA expects', async () => {
    const cols = await sql.rows(`SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = 'data.calls'::regclass AND attnum > 1 AND NOT attisdropped ORDER BY attnum`);
    expect(cols.map((c) => `${c.attname} ${c.type}`)).to.deep.equal(['stars smallint', 'done numeric(30,1)', 'fee numeric(30,2)', 'length interval', 'phone text']);
  });

  it('parses what a person types and reads it back exactly', async () => {
    const res = await app.request('POST', `/tables/${t.id}/rows`, { json: { stars: '★★★', done: '12.5%', fee: 'EUR 1234.50', length: '1h 30m', phone: ' +44 20 7946 0958 ' } });
    expect(res.status, res.text).to.equal(201);
    expect(res.body).to.include({ stars: 3, done: 12.5, fee: 1234.5, length: '1:30:00', phone: '+44 20 7946 0958' });
    const row = await sql.one(`SELECT stars, done::text, fee::text, length::text, phone FROM data.calls WHERE id = $1`, [res.body.id]);
    expect(row).to.deep.equal({ stars: 3, done: '12.5', fee: '1234.50', length: '01:30:00', phone: '+44 20 7946 0958' });
    const again = await app.request('POST', `/tables/${t.id}/rows`, { json: { stars: 5, done: 100, fee: '0.01 eur', length: '1:30', phone: '(555) 010-9999 x12' } });
    expect(again.body).to.include({ stars: 5, done: 100, fee: 0.01, length: '1:30:00', phone: '(555) 010-9999 x12' });
    const micro = await app.request('POST', `/tables/${t.id}/rows`, { json: { length: '100000:00:00.000001' } });
    expect(micro.body.length).to.equal('100000:00:00.000001');
    const neg = await app.request('POST', `/tables/${t.id}/rows`, { json: { length: '-90m' } });
    expect(neg.body.length).to.equal('-1:30:00');
  });

  const refusals: Array<[string, unknown, RegExp]> = [
    ['stars', 6, /1 to 5/],
    ['stars', 0, /1 to 5/],
    ['stars', '2.5', /1 to 5/],
    ['done', '12.25%', /more than 1 decimal/],
    ['done', 'half', /not a percentage/],
    ['fee', 'USD 5', /in USD; this field holds EUR/],
    ['fee', '1.005', /more than 2 decimal/],
    ['fee', 'EUR', /not an amount/],
    ['length', '1:75', /not a duration/],
    ['length', '0.0000001s', /not a duration/],
    ['length', 90, /as text/],
    ['length', '100000001h', /not a duration/],
    ['phone', 'call me', /not a phone number/],
    ['phone', '12', /not a phone number/],
    ['phone', '1'.repeat(21), /not a phone number/],
  ];
  for (const [column, value, message] of refusals) {
    it(`refuses ${column} = ${JSON.stringify(value)} with a 422 naming the field, writing nothing`, async () => {
      const before = await sql.one(`SELECT count(*)::int AS n FROM data.calls`);
      const res = await app.request('POST', `/tables/${t.id}/rows`, { json: { [column]: value } });
      expect(res.status, res.text).to.equal(422);
      expect(res.body.error.field).to.equal(column);
      expect(res.body.error.message).to.match(message);
      expect(await sql.one(`SELECT count(*)::int AS n FROM data.calls`)).to.deep.equal(before);
    });
  }

  it('filters by value: ranges on rating, percent, currency and duration, contains on phone', async () => {
    const tbl = await app.request('POST', '/tables', {
      json: { name: 'F', table_name: 'f', fields: [
        { name: 'S', type: 'rating', column: 's' }, { name: 'P', type: 'percent', column: 'p' }, { name: 'C', type: 'currency', column: 'c' },
        { name: 'D', type: 'duration', column: 'd' }, { name: 'T', type: 'phone', column: 't' },
      ] },
    });
    const id = tbl.body.id;
    await app.request('POST', `/tables/${id}/rows`, { json: [
      { s: 1, p: 10, c: '1.00', d: '0:45', t: '+1 555 0100' },
      { s: 4, p: 80, c: '20.00', d: '2h', t: '+44 20 7946 0958' },
      { s: 5, p: 100, c: '5.50', d: '30m' },
    ] });
    const ids = async (q: string) => (await app.request('GET', `/tables/${id}/rows?${q}&sort=id`)).body.rows.map((r: { s: number }) => r.s);
    expect(await ids('filter[s][gte]=4')).to.deep.equal([4, 5]);
    expect(await ids('filter[p][lt]=50%25')).to.deep.equal([1]);
    expect((await app.request('GET', `/tables/${id}/rows?filter[c][gt]=EUR%205`)).status, 'a filter in another currency is refused').to.equal(400);
    expect(await ids('filter[c][gt]=5')).to.deep.equal([4, 5]);
    expect(await ids('filter[d][gt]=40m')).to.deep.equal([1, 4]);
    expect(await ids('filter[d][lte]=0:45')).to.deep.equal([1, 5]);
    expect(await ids('filter[t][contains]=7946')).to.deep.equal([4]);
    expect(await ids('filter[t][empty]=1')).to.deep.equal([5]);
    const bad = await app.request('GET', `/tables/${id}/rows?filter[d][gt]=soon`);
    expect(bad.status).to.equal(400);
  });

  it('CSV: export writes each value as typed back; importing that file gives the same values', async () => {
    const csv = await app.request('GET', `/tables/${t.id}/rows.csv`, { headers: { accept: 'text/csv' } });
    expect(csv.status).to.equal(200);
    const before = await sql.rows(`SELECT stars, done::text, fee::text, length::text, phone FROM data.calls ORDER BY id`);
    const imported = await app.request('POST', `/tables/${t.id}/rows/import`, { body: csv.text, headers: { 'content-type': 'text/csv', accept: 'application/json' } });
    expect(imported.status, imported.text).to.equal(200);
    const after = await sql.rows(`SELECT stars, done::text, fee::text, length::text, phone FROM data.calls ORDER BY id`);
    expect(after).to.deep.equal([...before, ...before]);
  });

  it('try_duration (SQL) and the parser (TypeScript) agree on every generated input, and duration_text reads back what was written', async () => {
    const part = fc.oneof(
      fc.tuple(fc.nat(200), fc.nat(59), fc.option(fc.nat(59)), fc.option(fc.nat(999_999))).map(([h, m, s, f]) =>
        `${h}:${String(m).padStart(2, '0')}${s === null ? '' : `:${String(s).padStart(2, '0')}${f === null ? '' : `.${String(f).padStart(6, '0')}`}`}`),
      fc.tuple(fc.option(fc.nat(100)), fc.option(fc.nat(5000)), fc.option(fc.double({ min: 0, max: 1000, noNaN: true }))).map(([h, m, s]) =>
        [h === null ? '' : `${h}h`, m === null ? '' : `${m}m`, s === null ? '' : `${s}s`].filter(Boolean).join(' ')),
      fc.string({ maxLength: 12 }),
    );
    const input = fc.tuple(fc.boolean(), part).map(([neg, p]) => (neg ? `-${p}` : p));
    await fc.assert(
      fc.asyncProperty(input, async (text) => {
        const micros = durationMicros(text);
        const row = await sql.one(`SELECT tablewright.duration_text(tablewright.try_duration($1)) AS t`, [text]);
        expect(row.t, text).to.equal(micros === null ? null : durationText(micros));
      }),
      { numRuns: 300 },
    );
    await expectParallelPlan(sql, `SELECT count(*) FROM data.calls WHERE tablewright.try_duration(phone) IS NULL`);
  });
});
