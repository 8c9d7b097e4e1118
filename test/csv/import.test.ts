// CSV import (POST /tables/:id/rows/import), over real HTTP on real PostgreSQL: streamed,
// header mapped to fields, every value parsed by its type, all or nothing.
import { expect } from 'chai';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';

describe('csv import', () => {
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let tableId: number;

  const post = async (body: BodyInit, headers: Record<string, string> = { 'Content-Type': 'text/csv' }, query = '', a: TestApp = app) => {
    const res = await fetch(new URL(`/tables/${tableId}/rows/import${query}`, a.url), {
      method: 'POST',
      headers: { Authorization: `Bearer ${a.adminToken}`, Accept: 'application/json', ...headers },
      body,
    });
    const text = await res.text();
    return { status: res.status, text, body: JSON.parse(text) };
  };
  const count = async () => Number((await sql.one(`SELECT count(*) AS n FROM data.things`)).n);

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url);
    sql = await Sql.connect(db.url);
    const companies = (await app.request('POST', '/tables', { json: { name: 'Companies' } })).body.id;
    await sql.exec(`INSERT INTO data.companies (name) VALUES ('Acme'), ('Globex')`);
    const t = await app.request('POST', '/tables', {
      json: {
        name: 'Things',
        fields: [
          { name: 'Name', type: 'text' },
          { name: 'Qty', type: 'number' },
          { name: 'Ok', type: 'boolean' },
          { name: 'Size', type: 'single_select', options: { choices: ['S', 'M'] } },
          { name: 'Meta', type: 'json' },
          { name: 'Maker', type: 'link', options: { table_id: companies } },
          { name: 'Code', type: 'text', unique: true },
          { name: 'Notes', type: 'long_text' },
        ],
      },
    });
    expect(t.status, t.text).to.equal(201);
    tableId = t.body.id;
  });
  beforeEach(async () => {
    await sql.exec(`TRUNCATE data.things`);
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  const lines = (n: number, bad?: { at: number; line: string }) => {
    const out = ['Name,qty,OK,Size,Meta,maker,code'];
    for (let i = 1; i <= n; i++) out.push(bad && bad.at === i + 1 ? bad.line : `thing ${i},${i},${i % 2 ? 'yes' : 'no'},${i % 3 ? 'S' : 'm'},"{""i"": ${i}}",${i % 4 ? 1 : ''},c${i}`);
    return `${out.join('\r\n')}\r\n`;
  };

  it('imports a few thousand rows from a text/csv body, header by display or column name, values parsed by type', async () => {
    const res = await post(lines(3000));
    expect(res.status, res.text).to.equal(200);
    expect(res.body).to.include({ imported: 3000, rejected: 0 });
    expect(await count()).to.equal(3000);
    const r = await sql.one(`SELECT name, qty::int AS qty, ok, size, meta, maker::int AS maker, code FROM data.things WHERE code = 'c3'`);
    expect(r).to.deep.equal({ name: 'thing 3', qty: 3, ok: true, size: 2, meta: { i: 3 }, maker: 1, code: 'c3' });
    expect((await sql.one(`SELECT maker FROM data.things WHERE code = 'c4'`)).maker).to.equal(null); // an empty cell is no value
  });

  it('is all or nothing: a bad value on line N answers 422 invalid_csv naming line N and the field, and writes no row', async () => {
    const res = await post(lines(3000, { at: 2501, line: 'bad,abc,yes,S,,1,zz' }));
    expect(res.status, res.text).to.equal(422);
    expect(res.body.error.code).to.equal('invalid_csv');
    expect(res.body.error.field).to.equal('qty');
    expect(res.body.error.details).to.include({ line: 2501, field: 'qty' });
    expect(res.body.error.message).to.match(/^line 2501: Qty "abc" is not a number/);
    expect(await count()).to.equal(0); // 2,000 rows were inserted in batches before it, and rolled back
  });

  it('names the line of a row the database refuses (a unique value repeated across batches)', async () => {
    const res = await post(lines(1500, { at: 1201, line: 'dup,1,yes,S,,1,c7' }));
    expect(res.status, res.text).to.equal(422);
    expect(res.body.error.code).to.equal('invalid_csv');
    expect(res.body.error.details).to.include({ line: 1201, field: 'code' });
    expect(res.body.error.message).to.match(/^line 1201: Code must be unique/);
    expect(await count()).to.equal(0);
  });

  it('counts lines as a text editor does, also after a quoted value with line breaks', async () => {
    const csv = 'name,notes,qty\n"a","one\ntwo\nthree",1\n\nb,x,2\nc,y,nope\n';
    const res = await post(csv);
    expect(res.status, res.text).to.equal(422);
    expect(res.body.error.details).to.include({ line: 7, field: 'qty' });
  });

  it('refuses headers that match no field with a 422 naming them; ignore_unknown=1 skips them', async () => {
    const csv = 'name,colour,Weight\nx,red,3\n';
    const res = await post(csv);
    expect(res.status).to.equal(422);
    expect(res.body.error.code).to.equal('unknown_columns');
    expect(res.body.error.details.unknown).to.deep.equal(['colour', 'Weight']);
    expect(res.body.error.message).to.include('"colour", "Weight"');
    expect(await count()).to.equal(0);
    const ok = await post(csv, undefined, '?ignore_unknown=1');
    expect(ok.status, ok.text).to.equal(200);
    expect(ok.body).to.include({ imported: 1, rejected: 0 });
  });

  it('refuses a ragged row (wrong number of cells) with its line', async () => {
    const res = await post('name,qty\na,1\nb,2,3\n');
    expect(res.status).to.equal(422);
    expect(res.body.error.code).to.equal('invalid_csv');
    expect(res.body.error.details.line).to.equal(3);
  });

  it('takes a multipart upload (the console form): the "file" part, with ignore_unknown as a form field', async () => {
    const form = new FormData();
    form.append('ignore_unknown', '1');
    form.append('file', new Blob([lines(1200)], { type: 'text/csv' }), 'things.csv');
    const res = await post(form, {});
    expect(res.status, res.text).to.equal(200);
    expect(res.body).to.include({ imported: 1200, rejected: 0 });
    expect(await count()).to.equal(1200);

    const htmx = new FormData();
    htmx.append('file', new Blob(['name,extra\nq,1\n'], { type: 'text/csv' }), 'x.csv');
    const refused = await post(htmx, {});
    expect(refused.status).to.equal(422);
    expect(refused.body.error.details.unknown).to.deep.equal(['extra']);

    // from the console with htmx: the same upload answers the grid, with the count as a notice
    const fromGrid = new FormData();
    fromGrid.append('file', new Blob(['name,code\nfrom grid,g1\n'], { type: 'text/csv' }), 'g.csv');
    const grid = await fetch(new URL(`/tables/${tableId}/rows/import`, app.url), {
      method: 'POST',
      headers: { Authorization: `Bearer ${app.adminToken}`, 'HX-Request': 'true', Accept: 'text/html' },
      body: fromGrid,
    });
    const html = await grid.text();
    expect(grid.status, html).to.equal(200);
    expect(html.trimStart()).to.match(/^<section id="grid"/);
    expect(html).to.include('Imported 1 row.');

    const none = new FormData();
    none.append('other', 'x');
    const noFile = await post(none, {});
    expect(noFile.status).to.equal(400);
    expect(noFile.body.error.field).to.equal('file');
  });

  it('an export imports back as the same rows (id is skipped: rows get new ids)', async () => {
    await post(lines(50));
    await sql.exec(`UPDATE data.things SET notes = E'multi\\nline, "quoted"' WHERE code = 'c1'`);
    const exported = await (await fetch(new URL(`/tables/${tableId}/rows.csv?sort=id`, app.url), { headers: { Authorization: `Bearer ${app.adminToken}` } })).text();
    const before = await sql.rows(`SELECT name, qty, ok, size, meta, maker, code, notes FROM data.things ORDER BY id`);
    await sql.exec(`TRUNCATE data.things`);
    const res = await post(exported);
    expect(res.status, res.text).to.equal(200);
    expect(res.body).to.include({ imported: 50, rejected: 0 });
    expect(await sql.rows(`SELECT name, qty, ok, size, meta, maker, code, notes FROM data.things ORDER BY id`)).to.deep.equal(before);
  });

  it('refuses other content types with 415, and an empty file with 422', async () => {
    const json = await post('{"a":1}', { 'Content-Type': 'application/json' });
    expect(json.status).to.equal(415);
    const empty = await post('');
    expect(empty.status).to.equal(422);
    expect(empty.body.error.code).to.equal('invalid_csv');
  });

  it('answers 413 past IMPORT_MAX_BYTES and writes nothing (text/csv and multipart alike)', async () => {
    const small = await startApp(db.url, { IMPORT_MAX_BYTES: '2000' }, 'small-import');
    try {
      const big = lines(200);
      expect(big.length).to.be.greaterThan(2000);
      const res = await post(big, undefined, '', small);
      expect(res.status).to.equal(413);
      expect(res.body.error.code).to.equal('too_large');
      const form = new FormData();
      form.append('file', new Blob([big], { type: 'text/csv' }), 'big.csv');
      const multi = await post(form, {}, '', small);
      expect(multi.status).to.equal(413);
      expect(await count()).to.equal(0);
    } finally {
      await small.stop();
    }
  });
});
