// POST /tables/import over real HTTP on real PostgreSQL: a dry run infers and changes
// nothing; without it the table and every row appear in one schema change, or nothing
// does; a value the sample did not foresee is reported with its line, never dropped.
import { expect } from 'chai';
import ExcelJS from 'exceljs';
import { Readable } from 'node:stream';
import { AppError } from '../../server/errors.js';
import { csvRecords } from '../../server/import/records.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { waitForJob } from '../helpers/jobs.js';
import { Sql } from '../helpers/sql.js';

describe('a new table from a file (POST /tables/import)', () => {
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url, { IMPORT_JOB_BYTES: '20000' });
    sql = await Sql.connect(db.url);
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  const post = async (body: BodyInit, query: string, type = 'text/csv') => {
    const res = await fetch(new URL(`/tables/import${query}`, app.url), {
      method: 'POST',
      headers: { Authorization: `Bearer ${app.adminToken}`, Accept: 'application/json', 'Content-Type': type },
      body,
    });
    const text = await res.text();
    return { status: res.status, text, body: JSON.parse(text) };
  };
  const tables = async () => Number((await sql.one(`SELECT count(*) AS n FROM tablewright.tables`)).n);

  const CSV = [
    'Name,Zip,Price,Ratio,Active,Born,Seen,Email,Site,Status,Meta,Notes,,Name',
    ...Array.from({ length: 30 }, (_, i) =>
      [
        `Person ${i}`,
        `0${1000 + i}`,
        `${i}.5`,
        i === 3 ? '0.016666666666666666' : `0.${i}`,
        i % 2 ? 'yes' : 'no',
        `1990-01-${String((i % 28) + 1).padStart(2, '0')}`,
        `2024-03-01T10:00:${String(i % 60).padStart(2, '0')}Z`,
        `p${i}@example.com`,
        `https://example.com/${i}`,
        ['Open', 'Closed', 'Held'][i % 3],
        `"{""i"": ${i}}"`,
        i === 5 ? '"two\nlines"' : 'short',
        '',
        `dup ${i}`,
      ].join(','),
    ),
  ].join('\n');

  it('dry_run answers the inferred fields (name, column, type, options, confidence, examples, misfits) and creates nothing', async () => {
    const before = await tables();
    const r = await post(CSV, '?dry_run=1&name=People');
    expect(r.status, r.text).to.equal(200);
    const by = Object.fromEntries(r.body.fields.map((f: any) => [f.name, f]));
    expect(by.Name.type).to.equal('text');
    expect(by.Zip.type, 'leading zeros stay text').to.equal('text');
    expect(by.Price).to.include({ type: 'number' });
    expect(by.Price.options).to.deep.equal({ decimals: 1 });
    expect(by.Active.type).to.equal('boolean');
    expect(by.Born.type).to.equal('date');
    expect(by.Seen.type).to.equal('datetime');
    expect(by.Email.type).to.equal('email');
    expect(by.Site.type).to.equal('url');
    expect(by.Status.type).to.equal('single_select');
    expect(by.Status.options.choices.map((c: any) => c.label)).to.deep.equal(['Open', 'Closed', 'Held']);
    expect(by.Meta.type).to.equal('json');
    expect(by.Notes.type).to.equal('long_text');
    // blank and repeated headers get unique valid names
    expect(by['Column 13'].column).to.equal('column_13');
    expect(by['Name 2'].column).to.equal('name_2');
    expect(by.Name.examples).to.deep.equal(['Person 0', 'Person 1', 'Person 2']);
    expect(by.Name.confidence).to.be.within(0, 1);
    for (const f of r.body.fields) expect(f.misfits).to.equal(0);
    expect(r.body.rows).to.equal(30);
    expect(await tables()).to.equal(before);
  });

  it('creates the table with every row, typed, and a type override applies (types[column])', async () => {
    const r = await post(CSV, '?name=People&types[email]=number');
    // an email is no number: the override is refused at line 2 (the first row), nothing created
    expect(r.status, r.text).to.equal(422);
    expect(r.body.error.details.line).to.equal(2);
    expect(await sql.one(`SELECT count(*)::int AS n FROM tablewright.tables WHERE name = 'People'`)).to.deep.equal({ n: 0 });

    const ok = await post(CSV, '?name=People&types[price]=text');
    expect(ok.status, ok.text).to.equal(201);
    expect(ok.body.imported).to.equal(30);
    const t = ok.body.table;
    const price = t.fields.find((f: any) => f.column === 'price');
    expect(price.type).to.equal('text');
    const row = await sql.one(`SELECT zip, price, active, born::text, status, meta::text, notes FROM data.${t.table_name} ORDER BY id LIMIT 1 OFFSET 5`);
    expect(row).to.deep.include({ zip: '01005', price: '5.5', active: true, born: '1990-01-06', meta: '{"i": 5}', notes: 'two\nlines' });
  });

  it('numbers the rows 1..N in file order, builds the primary key after them, and the next row gets N+1', async () => {
    const rows = ['Label,Amount'];
    for (let i = 1; i <= 2500; i++) rows.push(`r${i},${i}`);
    const r = await post(rows.join('\n'), '?name=Numbered&async=0');
    expect(r.status, r.text).to.equal(201);
    const t = r.body.table;
    const ids = await sql.one(`SELECT min(id)::int AS lo, max(id)::int AS hi, count(*)::int AS n, bool_and(label = 'r' || id) AS ordered FROM data.${t.table_name}`);
    expect(ids).to.deep.equal({ lo: 1, hi: 2500, n: 2500, ordered: true });
    const pk = await sql.one(
      `SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'data.${t.table_name}'::regclass AND contype = 'p'`,
    );
    expect(pk).to.deep.equal({ conname: `pk_t${t.id}`, def: 'PRIMARY KEY (id)' });
    const history = await sql.one(`SELECT new_values FROM tablewright.row_history WHERE table_id = $1 AND op = 'import'`, [t.id]);
    expect(history.new_values).to.deep.equal({ rows: 2500, ids: [[1, 2500]] });
    const next = await app.request('POST', `/tables/${t.id}/rows`, { json: { label: 'after', amount: 1 } });
    expect(next.status, next.text).to.equal(201);
    expect(Number(next.body.id)).to.equal(2501);
  });

  it('a value past the sample that does not fit is reported with its line, and nothing is created', async () => {
    const rows = ['Qty'];
    for (let i = 0; i < 10_500; i++) rows.push(String(i));
    rows.push('lots');
    const r = await post(rows.join('\n'), '?name=Counts&async=0');
    expect(r.status, r.text).to.equal(422);
    expect(r.body.error.code).to.equal('invalid_csv');
    expect(r.body.error.details.line).to.equal(10_502);
    expect(await sql.one(`SELECT count(*)::int AS n FROM tablewright.tables WHERE name = 'Counts'`)).to.deep.equal({ n: 0 });
  });

  it('a failed import lists every problem (COPY engine), each with the file\'s own line, blank lines counted', async () => {
    const rows = ['Qty'];
    for (let i = 0; i < 10_500; i++) rows.push(String(i));
    rows.push('lots', '', '', '7', 'many', '8', 'x9');
    const r = await post(rows.join('\n'), '?name=Counts2&async=0');
    expect(r.status, r.text).to.equal(422);
    const d = r.body.error.details;
    expect(d.line).to.equal(10_502);
    expect(d.rejected).to.equal(3);
    expect(d.problems.map((p: any) => p.line)).to.deep.equal([10_502, 10_506, 10_508]);
    expect(r.body.error.message).to.match(/^line 10502: .*and 2 more lines/);
    expect(await sql.one(`SELECT count(*)::int AS n FROM tablewright.tables WHERE name = 'Counts2'`)).to.deep.equal({ n: 0 });
  });

  it('a big file runs as a job (202) that creates the table with every row', async () => {
    const rows = ['Id Code,Amount'];
    for (let i = 0; i < 3000; i++) rows.push(`c${i},${i}.25`);
    const r = await post(rows.join('\n'), '?name=Big');
    expect(r.status, r.text).to.equal(202);
    const job = await waitForJob(app, r.body.id);
    expect(job.status, JSON.stringify(job)).to.equal('done');
    expect(job.result.imported).to.equal(3000);
    const n = await sql.one(`SELECT count(*)::int AS n, sum(amount)::text AS s FROM data.big`);
    expect(n).to.deep.equal({ n: 3000, s: String((2999 * 3000) / 2 + 0.25 * 3000) + '.00' });
  });

  it('bad input: no name, a taken name, an unknown type override, an empty file: 4xx naming the field, nothing created', async () => {
    const before = await tables();
    expect((await post('a\n1', '')).status).to.equal(400);
    expect((await post('a\n1', '?name=X&types[a]=nope')).body.error.field).to.equal('types.a');
    expect((await post('a\n1', '?name=X&types[zzz]=text')).body.error.field).to.equal('types.zzz');
    expect((await post('', '?name=X')).status).to.equal(422);
    expect((await post('a,b\n1', '?name=X')).status).to.equal(422);
    expect((await post('a\n1', '?name=People')).status).to.equal(409);
    expect(await tables()).to.equal(before);
  });

  it('a source that fails midway (past IMPORT_MAX_BYTES, a lost client) fails the import with its error, not a short file', async () => {
    const failing = Readable.from((async function* () {
      yield Buffer.from('a,b\n1,2\n'.repeat(50_000));
      throw new AppError(413, 'too_large', 'the file is larger than IMPORT_MAX_BYTES');
    })());
    let caught: unknown;
    try {
      for await (const _ of csvRecords(failing)) void _;
    } catch (err) {
      caught = err;
    }
    expect((caught as AppError)?.code).to.equal('too_large');
  });

  it('an .xlsx file: the first sheet or a chosen one, with the same inference', async () => {
    const wb = new ExcelJS.Workbook();
    const first = wb.addWorksheet('Front');
    first.addRow(['Only']);
    first.addRow(['x']);
    const s = wb.addWorksheet('Data');
    s.addRow(['When', 'Rate', 'Ok', 'Label']);
    for (let i = 0; i < 12; i++) s.addRow([new Date(Date.UTC(2024, 0, i + 1)), i === 0 ? 0.016666666666666666 : i / 4, i % 2 === 0, `L${i}`]);
    const buf = Buffer.from(await wb.xlsx.writeBuffer());
    const type = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
    const dry = await post(buf, '?dry_run=1&sheet=Data', type);
    expect(dry.status, dry.text).to.equal(200);
    const by = Object.fromEntries(dry.body.fields.map((f: any) => [f.name, f]));
    expect(by.When.type).to.equal('date');
    expect(by.Ok.type).to.equal('boolean');
    expect(by.Rate).to.deep.include({ type: 'number', options: { any_precision: true } }); // 0.016666666666666666: any precision
    const firstSheet = await post(buf, '?dry_run=1', type);
    expect(firstSheet.body.fields.map((f: any) => f.name)).to.deep.equal(['Only']);
    expect((await post(buf, '?dry_run=1&sheet=Nope', type)).body.error.code).to.equal('unknown_sheet');
    const made = await post(buf, '?name=Rates&sheet=Data', type);
    expect(made.status, made.text).to.equal(201);
    const row = await sql.one(`SELECT when_::text AS w, rate::text, ok FROM data.rates ORDER BY id LIMIT 1`);
    expect(row).to.deep.equal({ w: '2024-01-01', rate: '0.016666666666666666', ok: true });
  });
});
