// Bytes that are not UTF-8 on the paths that do not go through the COPY engine's reader:
// the row-by-row import (csv-parse; a file naming a many-to-many link goes there) and the
// header check of an import queued as a job. Before, csv-parse read such bytes as U+FFFD
// and the row was stored with its letters replaced, silently (and a bad header answered
// "unknown column"); now each is a 422 invalid_csv naming the line, and nothing is written.
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { expect } from 'chai';
import fc from 'fast-check';
import { NotUtf8Error, Utf8Guard } from '../../server/import/utf8.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';

const BAD = [[0xff], [0x80], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe9, 0x74], [0xf5, 0x80, 0x80, 0x80], [0xf0, 0x28, 0x8c, 0x28]];

/** The bytes through a Utf8Guard, cut into chunks at the given fractions: what came out, or the error. */
async function guard(bytes: Buffer, cuts: number[]): Promise<{ out: Buffer; err?: unknown }> {
  const at = [...new Set(cuts.map((c) => Math.floor(c * bytes.length)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const c of [...at, bytes.length]) {
    if (c > from) chunks.push(bytes.subarray(from, c));
    from = Math.max(from, c);
  }
  const got: Buffer[] = [];
  try {
    await pipeline(
      Readable.from(chunks),
      new Utf8Guard(),
      new Writable({
        write(c: Buffer, _e, done) {
          got.push(c);
          done();
        },
      }),
    );
    return { out: Buffer.concat(got) };
  } catch (err) {
    return { out: Buffer.concat(got), err };
  }
}

describe('Utf8Guard: the bytes of the row-by-row import', () => {
  it('any invalid sequence on any line, cut anywhere: refused naming that line; valid text passes through unchanged', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ unit: fc.constantFrom('a', 'é', '😀', ' ', ',', '€', '"'), maxLength: 10 }), { minLength: 1, maxLength: 15 }),
        fc.nat(),
        fc.constantFrom(...BAD),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }),
        async (lines, pick, bad, cuts) => {
          const at = pick % lines.length;
          const good = Buffer.from(lines.join('\n'));
          const clean = await guard(good, cuts);
          expect(clean.err).to.equal(undefined);
          expect(clean.out.equals(good)).to.equal(true);

          const parts = lines.map((l, i) => (i === at ? Buffer.concat([Buffer.from(l), Buffer.from(bad), Buffer.from('z')]) : Buffer.from(l)));
          const bytes = Buffer.concat(parts.flatMap((p, i) => (i ? [Buffer.from('\n'), p] : [p])));
          const { err } = await guard(bytes, cuts);
          expect(err).to.be.instanceOf(NotUtf8Error);
          expect((err as NotUtf8Error).line).to.equal(at + 1);
          expect((err as NotUtf8Error).message).to.match(new RegExp(`^line ${at + 1}: bytes that are not UTF-8`));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a file that ends inside a UTF-8 character is refused', async () => {
    const { err } = await guard(Buffer.from([0x61, 0x0a, 0x62, 0xe2, 0x82]), []);
    expect(err).to.be.instanceOf(NotUtf8Error);
    expect((err as NotUtf8Error).line).to.equal(2);
  });
});

describe('csv import of bytes that are not UTF-8 (row-by-row path, job header check)', () => {
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let tableId: number;

  const post = async (body: Buffer, query = '') => {
    const res = await fetch(new URL(`/tables/${tableId}/rows/import${query}`, app.url), {
      method: 'POST',
      headers: { Authorization: `Bearer ${app.adminToken}`, Accept: 'application/json', 'Content-Type': 'text/csv' },
      body: new Uint8Array(body),
    });
    const text = await res.text();
    return { status: res.status, text, body: JSON.parse(text) as { imported?: number; error?: { code: string; message: string; details?: { line?: number } } } };
  };
  const names = async () => (await sql.rows<{ name: string }>(`SELECT name FROM data.orders ORDER BY id`)).map((r) => r.name);

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url);
    sql = await Sql.connect(db.url);
    const products = (await app.request('POST', '/tables', { json: { name: 'Products', fields: [{ name: 'Name', type: 'text' }] } })).body.id as number;
    await sql.exec(`INSERT INTO data.products (name) VALUES ('Bolt'), ('Nut')`);
    const t = await app.request('POST', '/tables', { json: { name: 'Orders', fields: [{ name: 'Name', type: 'text' }] } });
    expect(t.status, t.text).to.equal(201);
    tableId = t.body.id as number;
    const f = await app.request('POST', `/tables/${tableId}/fields`, { json: { name: 'Items', type: 'link', options: { table_id: products, multiple: true } } });
    expect(f.status, f.text).to.be.oneOf([200, 201]);
  });
  afterEach(async () => {
    await sql.exec(`TRUNCATE data.orders CASCADE`);
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  it('a many-to-many file with a Latin-1 letter on line 3: 422 naming line 3, nothing written; the same file in UTF-8 imports', async () => {
    const latin1 = Buffer.concat([Buffer.from('name,items\nfirst,Bolt\nsecond caf'), Buffer.from([0xe9]), Buffer.from(',Nut\nthird,"Bolt, Nut"\n')]);
    const res = await post(latin1);
    expect(res.status, res.text).to.equal(422);
    expect(res.body.error?.code).to.equal('invalid_csv');
    expect(res.body.error?.message).to.match(/^line 3: bytes that are not UTF-8 \(byte 0xe9\)/);
    expect(res.body.error?.details?.line).to.equal(3);
    expect(await names()).to.deep.equal([]);

    const ok = await post(Buffer.from('name,items\nfirst,Bolt\nsecond café,Nut\nthird,"Bolt, Nut"\n'));
    expect(ok.status, ok.text).to.equal(200);
    expect(ok.body.imported).to.equal(3);
    expect(await names()).to.deep.equal(['first', 'second café', 'third']);
  });

  it('past the first chunk (the row-by-row reader, not the header peek): 422 naming the line, nothing written', async () => {
    const lines = ['name,items'];
    for (let i = 2; i <= 2000; i++) lines.push(`order ${i} ${'x'.repeat(64)},Bolt`);
    const at = 1777;
    const bytes = Buffer.concat([Buffer.from(`${lines.slice(0, at - 1).join('\n')}\ncaf`), Buffer.from([0xe9]), Buffer.from(`,Nut\n${lines.slice(at).join('\n')}\n`)]);
    expect(bytes.length).to.be.greaterThan(128 * 1024);
    const res = await post(bytes);
    expect(res.status, res.text).to.equal(422);
    expect(res.body.error?.message).to.match(new RegExp(`^line ${at}: bytes that are not UTF-8 \\(byte 0xe9\\)`));
    expect(res.body.error?.details?.line).to.equal(at);
    expect(await names()).to.deep.equal([]);
  });

  it('a header that is not UTF-8, queued as a job: 422 naming line 1 at once (not "unknown column"), no job', async () => {
    const res = await post(Buffer.concat([Buffer.from('na'), Buffer.from([0xff]), Buffer.from('me\nfirst\n')]), '?async=1');
    expect(res.status, res.text).to.equal(422);
    expect(res.body.error?.code).to.equal('invalid_csv');
    expect(res.body.error?.message).to.match(/^line 1: bytes that are not UTF-8 \(byte 0xff\)/);
    expect(Number((await sql.one(`SELECT count(*) AS n FROM tablewright.jobs`)).n)).to.equal(0);
  });
});
