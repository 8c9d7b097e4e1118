// PostgreSQL itself refusing imported rows: a CHECK constraint and a unique index a DBA
// added outside the console. on_error=skip keeps every other row and reports each refused
// one (line, constraint, cells) in the rejects file, across batch boundaries; on_error=stop
// answers 422 naming the line and the constraint, writes nothing, and is never a 500.
import { expect } from 'chai';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';

describe('an import meets constraints a DBA added', () => {
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let tableId: number;

  const post = async (body: string, query: string) => {
    const res = await fetch(new URL(`/tables/${tableId}/rows/import${query}`, app.url), {
      method: 'POST',
      headers: { Authorization: `Bearer ${app.adminToken}`, Accept: 'application/json', 'Content-Type': 'text/csv' },
      body,
    });
    const text = await res.text();
    return { status: res.status, text, body: JSON.parse(text) };
  };

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url, { PG_CONNECT_TIMEOUT_MS: '30000' });
    sql = await Sql.connect(db.url);
    const t = await app.request('POST', '/tables', { json: { name: 'Stock', fields: [{ name: 'Code', type: 'text' }, { name: 'Qty', type: 'number' }] } });
    expect(t.status, t.text).to.equal(201);
    tableId = t.body.id as number;
    await sql.exec(`ALTER TABLE data.stock ADD CONSTRAINT qty_not_negative CHECK (qty >= 0)`);
    await sql.exec(`CREATE UNIQUE INDEX stock_code_once ON data.stock (code)`);
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });
  afterEach(async () => {
    await sql.exec(`DELETE FROM data.stock`);
  });

  // 3,000 rows; every 97th breaks the CHECK, every 89th repeats the code of the row before
  const file = () => {
    const bad = new Map<number, string>();
    const lines = ['code,qty'];
    for (let i = 1; i <= 3000; i++) {
      const line = i + 1;
      if (i % 97 === 0) {
        lines.push(`c${i},-${i}`);
        bad.set(line, 'qty_not_negative');
      } else if (i % 89 === 0) {
        lines.push(`c${i - 1},${i}`);
        // a repeat of a row that was itself refused is no repeat
        if ((i - 1) % 97 !== 0) bad.set(line, 'stock_code_once');
      } else lines.push(`c${i},${i}`);
    }
    return { text: `${lines.join('\n')}\n`, bad };
  };

  it('on_error=skip: every other row is kept, each refused row is in the rejects with its line and constraint (the batch re-sent around each)', async () => {
    const { text, bad } = file();
    const r = await post(text, '?on_error=skip');
    expect(r.status, r.text).to.equal(200);
    expect(r.body.rejected).to.equal(bad.size);
    expect(r.body.imported).to.equal(3000 - bad.size);
    expect(Number((await sql.one(`SELECT count(*) AS n FROM data.stock`)).n)).to.equal(3000 - bad.size);
    const got = new Map<number, string>((r.body.problems as Array<{ line: number; reason: string }>).map((p) => [p.line, p.reason]));
    expect([...got.keys()].sort((a, b) => a - b)).to.deep.equal([...bad.keys()].sort((a, b) => a - b));
    for (const [line, constraint] of bad) expect(got.get(line), `line ${line}`).to.include(constraint);
    // the rejects file holds the refused lines' own cells
    const res = await fetch(new URL(r.body.rejects_url, app.url), { headers: { Authorization: `Bearer ${app.adminToken}` } });
    const rejects = await res.text();
    expect(rejects).to.include('c97,-97');
    // no refused value got in: no negative qty, no code twice
    expect(Number((await sql.one(`SELECT count(*) AS n FROM data.stock WHERE qty < 0`)).n)).to.equal(0);
  });

  it('on_error=skip: a refused row\'s cells are in the rejects file exactly as the file had them (quotes, line breaks, commas, control characters)', async () => {
    const odd = ['a "quoted" code', 'two\nlines, and a comma', 'ctl \u0001 mark', 'ctl \u0001 and \u0002', 'plain'];
    const csvCell = (s: string) => `"${s.replace(/"/g, '""')}"`;
    const lines = ['code,qty'];
    odd.forEach((code, i) => lines.push(`${csvCell(code)},-${i + 1}`)); // each breaks the CHECK
    lines.push('fine,1');
    const r = await post(`${lines.join('\n')}\n`, '?on_error=skip');
    expect(r.status, r.text).to.equal(200);
    expect(r.body).to.include({ imported: 1, rejected: odd.length });
    const res = await fetch(new URL(r.body.rejects_url, app.url), { headers: { Authorization: `Bearer ${app.adminToken}` } });
    const { parse } = await import('csv-parse/sync');
    const rows = parse(await res.text(), { bom: true }) as string[][];
    expect(rows.slice(1).map((row) => row.slice(0, 2))).to.deep.equal(odd.map((code, i) => [code, `-${i + 1}`]));
  });

  it('on_error=stop: 422 naming the first refused line and its constraint; nothing written', async () => {
    const { text } = file();
    const r = await post(text, '');
    expect(r.status, r.text).to.equal(422);
    expect(r.body.error.code).to.equal('invalid_csv');
    expect(r.body.error.message).to.match(/^line 90: .*stock_code_once|^line 98: .*qty_not_negative/);
    expect(Number((await sql.one(`SELECT count(*) AS n FROM data.stock`)).n)).to.equal(0);
  });
});
