// The COPY import engine (server/import/engine.ts) over real HTTP on real PostgreSQL:
// the full list of problems and the rejects file, on_error=skip, add_options as an audited
// schema change, exact numbers of any precision, row history and system fields for
// COPY-imported rows, a file at size, and hostile files.
import { expect } from 'chai';
import fc from 'fast-check';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';

describe('csv import at COPY speed', () => {
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let tableId: number;

  // The app runs in this process: while a test builds a big file (or the app parses one),
  // nothing runs, and a kept-alive connection may be closed by the server just as it is
  // reused (ECONNRESET before the request was read). Such a request is sent again.
  const retried = async <T>(fn: () => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const code = ((err as { cause?: { code?: string } }).cause ?? {}).code;
        if (attempt >= 3 || code !== 'ECONNRESET') throw err;
      }
    }
  };
  const post = async (body: BodyInit, query = '', id = tableId) => {
    const res = await retried(() => fetch(new URL(`/tables/${id}/rows/import${query}`, app.url), {
      method: 'POST',
      headers: { Authorization: `Bearer ${app.adminToken}`, Accept: 'application/json', 'Content-Type': 'text/csv' },
      body,
    }));
    const text = await res.text();
    return { status: res.status, text, body: JSON.parse(text) };
  };
  const download = async (url: string) => {
    const res = await fetch(new URL(url, app.url), { headers: { Authorization: `Bearer ${app.adminToken}` } });
    return { status: res.status, text: await res.text(), type: res.headers.get('content-type') };
  };
  const count = async (table = 'items') => Number((await sql.one(`SELECT count(*) AS n FROM data.${table}`)).n);
  const makeTable = async (name: string, fields: unknown[]) => {
    const t = await app.request('POST', '/tables', { json: { name, fields } });
    expect(t.status, t.text).to.equal(201);
    return t.body.id as number;
  };

  before(async () => {
    db = await freshDatabase();
    // a loaded machine (many test runs at once) is slow to connect: give it time
    app = await startApp(db.url, { PG_CONNECT_TIMEOUT_MS: '30000', HTTP_REQUEST_TIMEOUT_MS: '600000' });
    sql = await Sql.connect(db.url);
    tableId = await makeTable('Items', [
      { name: 'Name', type: 'text' },
      { name: 'Qty', type: 'number' },
      { name: 'Price', type: 'number', options: { decimals: 2 } },
      { name: 'Ok', type: 'boolean' },
      { name: 'Day', type: 'date' },
      { name: 'Size', type: 'single_select', options: { choices: ['S', 'M'] } },
      { name: 'Notes', type: 'long_text' },
      { name: 'Made', type: 'created_at' },
      { name: 'Maker', type: 'created_by' },
    ]);
  });
  beforeEach(async () => {
    await sql.exec(`TRUNCATE data.items`);
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  it('on_error=stop (default) answers every problem (the first 1,000 inline, all in the rejects file) and writes nothing', async () => {
    const lines = ['name,qty,price'];
    for (let i = 1; i <= 3000; i++) lines.push(i % 2 ? `ok ${i},${i},1.5` : `bad ${i},x${i},1.5`);
    const res = await post(lines.join('\n'));
    expect(res.status, res.text).to.equal(422);
    expect(res.body.error.code).to.equal('invalid_csv');
    expect(res.body.error.details).to.include({ line: 3, field: 'qty', rejected: 1500 });
    expect(res.body.error.details.problems).to.have.length(1000);
    expect(res.body.error.details.problems[999]).to.deep.equal({ line: 2001, column: 'qty', reason: 'Qty "x2000" is not a number' });
    expect(await count()).to.equal(0);
    const file = await download(res.body.error.details.rejects_url);
    expect(file.status).to.equal(200);
    expect(file.type).to.match(/^text\/csv/);
    const rows = file.text.trim().split('\r\n');
    expect(rows[0]).to.equal('name,qty,price,reject_line,reject_column,reject_reason');
    expect(rows).to.have.length(1501);
    expect(rows[1500]).to.equal('bad 3000,x3000,1.5,3001,qty,"Qty ""x3000"" is not a number"');
  });

  it('on_error=skip imports the good lines and links the rejects file (a ragged line and a bad value among them)', async () => {
    const res = await post('name,qty,price\na,1,1.25\nb,2,1.255\nc,3\nd,4,4\n', '?on_error=skip');
    expect(res.status, res.text).to.equal(200);
    expect(res.body).to.include({ imported: 2, rejected: 2 });
    expect(res.body.problems).to.deep.equal([
      { line: 3, column: 'price', reason: 'Price has more than 2 decimal places' },
      { line: 4, column: null, reason: 'has 2 cells; the header has 3' },
    ]);
    expect((await sql.rows(`SELECT name, price::text FROM data.items ORDER BY id`)).map((r) => `${r.name}=${r.price}`)).to.deep.equal(['a=1.25', 'd=4.00']);
    const file = await download(res.body.rejects_url);
    expect(file.text).to.equal('name,qty,price,reject_line,reject_column,reject_reason\r\nb,2,1.255,3,price,Price has more than 2 decimal places\r\nc,3,,4,,has 2 cells; the header has 3\r\n');
    expect((await download('/imports/rejects/0123456789abcdef0123456789abcdef.csv')).status).to.equal(404);
    expect((await post('name\na\n', '?on_error=maybe')).status).to.equal(400);
  });

  it('add_options=1 adds the single-select options it meets, as an audited schema change (version + 1) in the import', async () => {
    const refused = await post('name,size\na,S\nb,drizzle\n');
    expect(refused.status).to.equal(422);
    expect(refused.body.error.details.problems[0].reason).to.match(/"drizzle" is not one of the options/);
    const before = Number((await sql.one(`SELECT version FROM tablewright.tables WHERE id = $1`, [tableId])).version);
    const res = await post('name,size\na,S\nb,drizzle\nc,Drizzle\nd,hail\n', '?add_options=1');
    expect(res.status, res.text).to.equal(200);
    expect(res.body.added_options).to.deep.equal([{ column: 'size', labels: ['drizzle', 'hail'] }]);
    const field = await sql.one(`SELECT options FROM tablewright.fields WHERE table_id = $1 AND column_name = 'size'`, [tableId]);
    expect(field.options.choices.map((c: { label: string }) => c.label)).to.deep.equal(['S', 'M', 'drizzle', 'hail']);
    const drizzle = field.options.choices[2].id;
    expect((await sql.rows(`SELECT size FROM data.items ORDER BY id`)).map((r) => r.size)).to.deep.equal([1, drizzle, drizzle, drizzle + 1]);
    expect(Number((await sql.one(`SELECT version FROM tablewright.tables WHERE id = $1`, [tableId])).version)).to.equal(before + 1);
    const audit = await sql.one(`SELECT operation, version, ddl, details FROM tablewright.audit WHERE table_id = $1 ORDER BY id DESC LIMIT 1`, [tableId]);
    expect(audit).to.include({ operation: 'import_add_options', version: before + 1 });
    expect(audit.ddl).to.match(/^COMMENT ON COLUMN/);
    // the API reads the new option by its label at once
    const rows = await app.request('GET', `/tables/${tableId}/rows?sort=id`);
    expect(rows.body.rows[1].size).to.include({ label: 'drizzle' });
    // a failed import with add_options adds nothing
    const v = Number((await sql.one(`SELECT version FROM tablewright.tables WHERE id = $1`, [tableId])).version);
    expect((await post('name,size,qty\na,sleet,x\n', '?add_options=1')).status).to.equal(422);
    expect(Number((await sql.one(`SELECT version FROM tablewright.tables WHERE id = $1`, [tableId])).version)).to.equal(v);
  });

  it('keeps numbers of any precision exactly (plain numeric, and 40 decimals), generated values with edge cases', async () => {
    const id = await makeTable('Measures', [
      { name: 'Any', type: 'number', options: { any_precision: true } },
      { name: 'Fine', type: 'number', options: { decimals: 40 } },
    ]);
    const meta = await sql.rows(`SELECT column_name, options FROM tablewright.fields WHERE table_id = $1 ORDER BY position`, [id]);
    expect(meta.map((m) => m.options)).to.deep.equal([{ decimals: 0, any_precision: true }, { decimals: 40 }]);
    const [anyCol, fineCol] = meta.map((m) => m.column_name as string);
    const types = await sql.rows(`SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = 'data.measures'::regclass AND attname = ANY($1) ORDER BY attname = $2 DESC`, [[anyCol, fineCol], anyCol]);
    expect(types.map((r) => r.t)).to.deep.equal(['numeric', 'numeric(60,40)']);
    const digits = (max: number) => fc.stringMatching(new RegExp(`^[0-9]{1,${max}}$`));
    const canon = (sign: boolean, w: string, f: string) => {
      const whole = w.replace(/^0+/, '') || '0';
      const frac = f.replace(/0+$/, '');
      const text = `${whole}${frac ? `.${frac}` : ''}`;
      return text === '0' ? '0' : `${sign ? '-' : ''}${text}`;
    };
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.boolean(), digits(60), digits(80), fc.boolean(), digits(20), digits(40)), { minLength: 1, maxLength: 40 }),
        async (rows) => {
          await sql.exec(`TRUNCATE data.measures`);
          const edge = [[false, '0', '0', true, '0', '0000000000000000000000000000000000000001'], [true, '9'.repeat(300), '016666666666666666', false, '99999999999999999999', '9'.repeat(40)]] as const;
          const all = [...edge, ...rows];
          const csv = [`${anyCol},${fineCol}`, ...all.map(([s1, w1, f1, s2, w2, f2]) => `${s1 ? '-' : ''}${w1}.${f1},${s2 ? '-' : ''}${w2}.${f2}`)].join('\n');
          const res = await post(csv, '', id);
          expect(res.status, res.text).to.equal(200);
          const got = await sql.rows(`SELECT "${anyCol}"::text AS a, trim_scale("${fineCol}")::text AS f FROM data.measures ORDER BY id`);
          expect(got.map((r) => [r.a === '0' ? '0' : r.a.replace(/\.?0+$/, (m: string) => (r.a.includes('.') ? '' : m)), r.f])).to.deep.equal(
            all.map(([s1, w1, f1, s2, w2, f2]) => [canon(s1, w1, f1), canon(s2, w2, f2)]),
          );
        },
      ),
      { numRuns: 15 },
    );
    const tooMany = await post(`${anyCol},${fineCol}\n1,0.${'1'.repeat(41)}\n`, '', id);
    expect(tooMany.body.error.details.problems[0]).to.include({ column: fineCol, reason: 'Fine has more than 40 decimal places' });
  });

  it('COPY-imported rows get their system fields and one history entry naming their ids; no per-row history', async () => {
    await post('name\nseed\n');
    const res = await post(['name,qty', ...Array.from({ length: 2500 }, (_, i) => `n${i},${i}`)].join('\n'));
    expect(res.status, res.text).to.equal(200);
    const rows = await sql.rows(`SELECT id::int, made, maker FROM data.items ORDER BY id`);
    expect(rows).to.have.length(2501);
    for (const r of rows) {
      expect(r.made).to.be.instanceOf(Date);
      expect(r.maker).to.match(/^token:test admin/);
    }
    const imported = rows.slice(1).map((r) => r.id);
    const entries = await sql.rows(`SELECT op, reason, new_values FROM tablewright.row_history WHERE table_id = $1 AND op = 'import' ORDER BY id DESC LIMIT 1`, [tableId]);
    expect(entries[0]!.new_values).to.deep.equal({ rows: 2500, ids: [[imported[0], imported.at(-1)]] });
    const perRow = await sql.one(`SELECT count(*)::int AS n FROM tablewright.row_history WHERE table_id = $1 AND row_id = ANY($2)`, [tableId, imported]);
    expect(perRow.n).to.equal(0);
  });

  it('hostile files: BOM and CRLF, quotes and line breaks in cells, empty file, header only, duplicate headers, unknown columns', async () => {
    const ok = await post('\ufeffname,notes\r\n"a, ""quoted""","line one\r\nline two\ttab \\N back\\slash"\r\n');
    expect(ok.status, ok.text).to.equal(200);
    const r = await sql.one(`SELECT name, notes FROM data.items`);
    expect(r).to.deep.equal({ name: 'a, "quoted"', notes: 'line one\r\nline two\ttab \\N back\\slash' });
    const empty = await post('');
    expect(empty.status).to.equal(422);
    expect(empty.body.error.message).to.match(/empty/);
    const headerOnly = await post('name,qty\r\n');
    expect(headerOnly.status, headerOnly.text).to.equal(200);
    expect(headerOnly.body).to.include({ imported: 0, rejected: 0 });
    const dup = await post('name,Name\na,b\n');
    expect(dup.status).to.equal(422);
    expect(dup.body.error.details).to.include({ line: 1 });
    const unknown = await post('name,colour\na,red\n');
    expect(unknown.body.error.code).to.equal('unknown_columns');
    const broken = await post('name,qty\n"a,1\n');
    expect(broken.status).to.equal(422);
    expect(broken.body.error.code).to.equal('invalid_csv');
    expect(await count()).to.equal(1);
  });

  it('a 50 MB line: imported whole into a long text, or refused naming the line, never half', async function () {
    this.timeout(120_000);
    const big = 'x'.repeat(50 * 1024 * 1024);
    // as a job (the upload kept in PostgreSQL, then imported by the job)
    const queued = await post(`name,notes\nbig,${big}\nsmall,y\n`, '?async=1');
    expect(queued.status, queued.text).to.equal(202);
    let job: any;
    for (;;) {
      job = (await retried(() => app.request('GET', `/jobs/${queued.body.id}`))).body;
      if (job.status === 'done' || job.status === 'failed') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    if (job.status === 'done') {
      expect(job.result.imported).to.equal(2);
      expect(job.bytes_read).to.be.a('number');
      expect(Number((await sql.one(`SELECT length(notes) AS n FROM data.items WHERE name = 'big'`)).n)).to.equal(big.length);
    } else {
      expect(job.error.details.line, JSON.stringify(job.error)).to.equal(2);
      expect(await count()).to.equal(0);
    }
  });

  it('imports 200,000 rows with COPY: the count and the exact values of a sample', async function () {
    this.timeout(300_000);
    const n = 200_000;
    const lines = ['name,qty,price,ok,day,size,notes'];
    for (let i = 1; i <= n; i++) lines.push(`item ${i},${i * 7},${i}.${String(i % 100).padStart(2, '0')},${i % 2 ? 'true' : 'no'},2024-01-${String((i % 28) + 1).padStart(2, '0')},${i % 3 ? 'S' : 'm'},"a note, ""${i}""\nsecond line"`);
    const t0 = Date.now();
    const queued = await post(lines.join('\n'), '?async=1');
    expect(queued.status, queued.text).to.equal(202);
    let job: any;
    const seen = new Set<number>();
    for (;;) {
      job = (await retried(() => app.request('GET', `/jobs/${queued.body.id}`))).body;
      if (job.status === 'running') seen.add(job.done);
      if (job.status === 'done' || job.status === 'failed') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(job.status, JSON.stringify(job.error)).to.equal('done');
    expect(job.result).to.include({ imported: n, rejected: 0 });
    expect(job.total).to.equal(n);
    expect(await count()).to.equal(n);
    const sample = [1, 2, 3, 99_999, 123_457, 200_000];
    const got = await sql.rows(
      `SELECT name, qty::text, price::text, ok, day::text, size, notes FROM data.items WHERE name = ANY($1) ORDER BY id`,
      [sample.map((i) => `item ${i}`)],
    );
    expect(got).to.deep.equal(
      sample.map((i) => ({
        name: `item ${i}`,
        qty: String(i * 7),
        price: `${i}.${String(i % 100).padStart(2, '0')}`,
        ok: i % 2 === 1,
        day: `2024-01-${String((i % 28) + 1).padStart(2, '0')}`,
        size: i % 3 ? 1 : 2,
        notes: `a note, "${i}"\nsecond line`,
      })),
    );
  });
});
