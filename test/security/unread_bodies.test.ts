// Bodies that the JSON and form readers do not take must never reach a handler as "no
// body" (a row created with every column empty, a value silently lost), nor be read with
// replacement characters, and a query key the parser drops (__proto__) must not silently
// widen a filter. Proves, over HTTP on a real instance, for generated content types and
// byte sequences: each is a 4xx naming `body` (or the query parameter) and no row is written.
import { expect } from 'chai';
import fc from 'fast-check';
import { useApp, type TestApp } from '../helpers/app.js';
import type { TestDatabase } from '../helpers/db.js';
import type { Sql } from '../helpers/sql.js';

describe('bodies no reader takes, non-UTF-8 JSON, and __proto__ query keys', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let tid: number;

  useApp((s) => ({ db, app, sql } = s));
  before(async () => {
    const t = await app.request('POST', '/tables', { json: { name: 'Notes', table_name: 'notes', fields: [{ name: 'Name', type: 'text', column: 'name' }] } });
    expect(t.status, t.text).to.equal(201);
    tid = t.body.id;
    await app.request('POST', `/tables/${tid}/rows`, { json: { name: 'kept' } });
  });

  const rowCount = async () => (await sql.one(`SELECT count(*)::int AS n FROM data.notes`)).n as number;

  it('a row create whose body is of another type (text/plain, multipart, xml, octet-stream, none stated) is a 415 naming body; no row', async () => {
    const before = await rowCount();
    const multipart = new FormData();
    multipart.set('name', 'mp');
    const cases: Array<[string, RequestInit['body'], Record<string, string>]> = [
      ['text/plain', '{"name":"x"}', { 'Content-Type': 'text/plain' }],
      ['multipart', multipart, {}],
      ['xml', '<name>x</name>', { 'Content-Type': 'application/xml' }],
      ['octet-stream', 'name=x', { 'Content-Type': 'application/octet-stream' }],
    ];
    for (const [what, body, headers] of cases) {
      const res = await app.request('POST', `/tables/${tid}/rows`, { body: body as BodyInit, headers });
      expect(res.status, `${what}: ${res.text}`).to.equal(415);
      expect(res.body.error.field, what).to.equal('body');
    }
    // And the same for a schema change: a field renamed by a text/plain body would be "no change".
    const res = await app.request('POST', `/tables/${tid}/fields`, { body: '{"name":"Other","type":"text"}', headers: { 'Content-Type': 'text/plain' } });
    expect(res.status, res.text).to.equal(415);
    expect(await rowCount(), 'no row written').to.equal(before);
    // JSON and an empty body still work as before.
    expect((await app.request('POST', `/tables/${tid}/rows`, { json: { name: 'ok' } })).status).to.equal(201);
  });

  it('a JSON body with bytes that are not UTF-8 is a 400 naming body, never stored as U+FFFD (property)', async () => {
    const before = await rowCount();
    const invalid = fc.constantFrom([0xff], [0xfe], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x80]);
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 20 }), invalid, fc.string({ maxLength: 20 }), fc.boolean(), async (a, bad, b, viaBodyParser) => {
        const bytes = Buffer.concat([Buffer.from(`{"name":"${a.replace(/["\\]/g, '')}`), Buffer.from(bad), Buffer.from(`${b.replace(/["\\]/g, '')}"}`)]);
        // Plain application/json takes the fast reader; a quoted charset takes body-parser's.
        const type = viaBodyParser ? 'application/json; charset="UTF-8"' : 'application/json';
        const res = await app.request('POST', `/tables/${tid}/rows`, { body: bytes, headers: { 'Content-Type': type } });
        expect(res.status, res.text).to.equal(400);
        expect(res.body.error.field).to.equal('body');
      }),
      { numRuns: 40 },
    );
    expect(await rowCount(), 'no row written').to.equal(before);
    const latin1 = await app.request('POST', `/tables/${tid}/rows`, { body: Buffer.from('{"name":"caf\xe9"}', 'latin1'), headers: { 'Content-Type': 'application/json; charset=iso-8859-1' } });
    expect(latin1.status, latin1.text).to.equal(415);
    const fine = await app.request('POST', `/tables/${tid}/rows`, { body: Buffer.from('{"name":"café ☃ 𝄞"}'), headers: { 'Content-Type': 'application/json' } });
    expect(fine.status, fine.text).to.equal(201);
    expect(fine.body.name).to.equal('café ☃ 𝄞');
  });

  it('a query key named __proto__, plain or percent-encoded, is a 400 instead of a dropped filter; the value __proto__ is still a value', async () => {
    for (const [q, named] of [['filter[__proto__][eq]=1', 'filter'], ['filter[name][__proto__]=1', 'filter'], ['filter%5B%5f%5fproto%5f%5f%5D%5Beq%5D=1', 'filter'], ['__proto__=1', '__proto__']]) {
      const res = await app.request('GET', `/tables/${tid}/rows?${q}`);
      expect(res.status, `${q}: ${res.text}`).to.equal(400);
      expect(res.body.error.field, q).to.equal(named);
      expect(res.body.error.message, q).to.match(/__proto__/);
    }
    const value = await app.request('GET', `/tables/${tid}/rows?filter[name][eq]=__proto__`);
    expect(value.status, value.text).to.equal(200);
    expect(value.body.rows).to.deep.equal([]);
  });
});
