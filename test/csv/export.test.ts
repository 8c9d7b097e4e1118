// CSV export (GET /tables/:id/rows.csv), over real HTTP on real PostgreSQL: the whole
// table in a stream, the listing's filters and sort, exact round trips of awkward text.
import { expect } from 'chai';
import { parse } from 'csv-parse/sync';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';

describe('csv export', () => {
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let tableId: number;

  const csv = async (query = '', accept = 'text/csv') => {
    const res = await fetch(new URL(`/tables/${tableId}/rows.csv${query}`, app.url), { headers: { Authorization: `Bearer ${app.adminToken}`, Accept: accept } });
    const bytes = Buffer.from(await res.arrayBuffer());
    return { status: res.status, headers: res.headers, bytes, text: bytes.toString('utf8') };
  };

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url);
    sql = await Sql.connect(db.url);
    const companies = (await app.request('POST', '/tables', { json: { name: 'Companies' } })).body.id;
    await sql.exec(`INSERT INTO data.companies (name) VALUES ('Acme'), ('Globex')`);
    const t = await app.request('POST', '/tables', {
      json: {
        name: 'Items',
        fields: [
          { name: 'Name', type: 'text' },
          { name: 'Qty', type: 'number' },
          { name: 'Price', type: 'number', options: { decimals: 2 } },
          { name: 'Ok', type: 'boolean' },
          { name: 'Day', type: 'date' },
          { name: 'At', type: 'datetime' },
          { name: 'Size', type: 'single_select', options: { choices: ['S', 'M', 'L'] } },
          { name: 'Meta', type: 'json' },
          { name: 'Maker', type: 'link', options: { table_id: companies } },
        ],
      },
    });
    expect(t.status, t.text).to.equal(201);
    tableId = t.body.id;
    // 2,500 rows written by PostgreSQL itself: more than two export pages of 1000.
    await sql.exec(`
      INSERT INTO data.items (name, qty, price, ok, day, at, size, meta, maker)
      SELECT 'item ' || g, g % 7, (g * 1.25)::numeric(30,2), g % 2 = 0, DATE '2024-01-01' + g % 300,
             TIMESTAMPTZ '2024-01-01 00:00:00Z' + g * interval '1 minute', 1 + g % 3,
             jsonb_build_object('g', g, 'tags', jsonb_build_array('a', 'b')), CASE WHEN g % 5 = 0 THEN NULL ELSE 1 + g % 2 END
        FROM generate_series(1, 2500) g`);
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  it('exports all 2,500 rows, equal to the table: header of column names, links as ids, options as labels, numbers and JSON exactly as PostgreSQL writes them, datetimes ISO', async () => {
    const res = await csv();
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.equal('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).to.match(/^attachment; filename="?items\.csv"?$/);
    const records = parse(res.text) as string[][];
    expect(records[0]).to.deep.equal(['id', 'name', 'qty', 'price', 'ok', 'day', 'at', 'size', 'meta', 'maker']);
    const data = records.slice(1);
    expect(data).to.have.length(2500);
    const expected = await sql.rows(`
      SELECT id::text, name, qty::text, price::text, CASE WHEN ok THEN 'true' ELSE 'false' END AS ok, to_char(day, 'YYYY-MM-DD') AS day,
             to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS".000Z"') AS at,
             CASE size WHEN 1 THEN 'S' WHEN 2 THEN 'M' ELSE 'L' END AS size, meta::text AS meta, coalesce(maker::text, '') AS maker
        FROM data.items ORDER BY items.id`);
    expect(data.length).to.equal(expected.length);
    // Numbers and JSON byte for byte as PostgreSQL writes them (1.50 stays 1.50).
    data.forEach((r, i) => {
      const e = expected[i];
      expect(r).to.deep.equal([e.id, e.name, e.qty, e.price, e.ok, e.day, e.at, e.size, e.meta, e.maker]);
    });
    expect(data[0]![8]).to.equal('{"g": 1, "tags": ["a", "b"]}');
  });

  it('respects the filters, search and sort of the listing (API filter[...] and the grid form fc/fo/fv alike)', async () => {
    const res = await csv('?filter[qty][eq]=3&sort=-id');
    const data = (parse(res.text) as string[][]).slice(1);
    const expected = (await sql.rows(`SELECT id::text FROM data.items WHERE qty = 3 ORDER BY items.id DESC`)).map((r) => r.id);
    expect(data.map((r) => r[0])).to.deep.equal(expected);
    expect(expected.length).to.be.greaterThan(300);

    const grid = await csv('?fc=size&fo=eq&fv=M&fc=ok&fo=eq&fv=true&sort=name&search=item%201');
    const rows = (parse(grid.text) as string[][]).slice(1);
    const want = (await sql.rows(`SELECT id::text FROM data.items WHERE size = 2 AND ok AND name ILIKE '%item 1%' ORDER BY items.name, items.id`)).map((r) => r.id);
    expect(rows.map((r) => r[0])).to.deep.equal(want);
    expect(want.length).to.be.greaterThan(10);
  });

  it('a bad filter is a 400 before anything is sent', async () => {
    const res = await csv('?filter[nope][eq]=1', 'application/json');
    expect(res.status).to.equal(400);
    expect(JSON.parse(res.text).error.code).to.equal('unknown_field');
  });

  it('round-trips commas, quotes, line breaks and formula-like text exactly; excel=1 defuses formulas', async () => {
    const awkward = ['a, b', 'say "hi"', 'two\nlines', 'crlf\r\nline', '=1+2', '-3', '@sum', '+x', '  spaced  ', 'é ü 漢字 🙂'];
    const ids: string[] = [];
    for (const name of awkward) ids.push((await sql.one(`INSERT INTO data.items (name) VALUES ($1) RETURNING id::text`, [name])).id);
    const res = await csv(`?filter[id][in]=${ids.join(',')}&sort=id`);
    const data = (parse(res.text) as string[][]).slice(1);
    expect(data.map((r) => r[1])).to.deep.equal(awkward);
    expect(res.text).to.include('"say ""hi"""');

    const excel = await csv(`?filter[id][in]=${ids.join(',')}&sort=id&excel=1`);
    expect([...excel.bytes.subarray(0, 3)]).to.deep.equal([0xef, 0xbb, 0xbf]); // the UTF-8 byte order mark
    const cells = (parse(excel.text, { bom: true }) as string[][]).slice(1).map((r) => r[1]);
    expect(cells).to.deep.equal(['a, b', 'say "hi"', 'two\nlines', 'crlf\r\nline', "'=1+2", "'-3", "'@sum", "'+x", '  spaced  ', 'é ü 漢字 🙂']);
  });
});
