// PATCH /tables/:id/rows {rows, create}: a pasted range as one atomic write (issue 18).
// Proves: changed rows and new rows commit together or not at all; every bad cell is
// reported (index, id or new, field) before anything is written; values pasted as text
// (generated, edge cases included) are stored exactly as the single-row API stores them.
import { expect } from 'chai';
import fc from 'fast-check';
import { createTestToken, startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';

describe('a pasted range: PATCH /tables/:id/rows {rows, create}', () => {
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let t: number;

  const snapshot = async () => sql.rows(`SELECT * FROM data.stock ORDER BY id`);

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url, { DRIFT_CHECK_INTERVAL: 'off', CLEANUP_INTERVAL: 'off' });
    sql = await Sql.connect(db.url);
    const made = await app.request('POST', '/tables', {
      json: { name: 'Stock', fields: [{ name: 'Name', type: 'text' }, { name: 'Qty', type: 'number', options: { decimals: 2 } }, { name: 'Code', type: 'text', unique: true }, { name: 'Ok', type: 'boolean' }] },
    });
    expect(made.status, made.text).to.equal(201);
    t = made.body.id;
    await sql.exec(`INSERT INTO data.stock (name, qty, code) SELECT 'item ' || i, i, 'c' || i FROM generate_series(1, 5) i`);
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  it('changes rows and adds rows past the end in one write; each value is stored as sent', async () => {
    const text = fc.string({ maxLength: 40 }).filter((s) => !s.includes('\0'));
    const qty = fc.oneof(fc.constantFrom('0', '-0.01', '99999.99', '1e2', ''), fc.integer({ min: -1e6, max: 1e6 }).map(String));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(text, qty), { minLength: 1, maxLength: 3 }), fc.array(fc.tuple(text, qty), { maxLength: 2 }), async (changes, adds) => {
        const before = (await sql.one(`SELECT count(*)::int AS n FROM data.stock`)).n;
        const res = await app.request('PATCH', `/tables/${t}/rows`, {
          json: { rows: changes.map(([name, q], i) => ({ id: i + 1, name, qty: q })), create: adds.map(([name, q]) => ({ name, qty: q })) },
        });
        expect(res.status, res.text).to.equal(200);
        expect(res.body.rows.map((r: { id: number }) => r.id)).to.deep.equal(changes.map((_, i) => i + 1));
        expect(res.body.created).to.have.length(adds.length);
        for (const [i, [name, q]] of changes.entries()) {
          const row = await sql.one(`SELECT name, qty::text AS qty FROM data.stock WHERE id = $1`, [i + 1]);
          expect(row.name, 'text stored as sent (empty is null)').to.equal(name === '' ? null : name);
          expect(row.qty === null ? null : Number(row.qty)).to.equal(q === '' ? null : Number(q));
        }
        expect((await sql.one(`SELECT count(*)::int AS n FROM data.stock`)).n).to.equal(before + adds.length);
      }),
      { numRuns: 25 },
    );
  });

  it('one bad cell: 422 listing every bad cell with its row, and nothing is written', async () => {
    const before = await snapshot();
    const res = await app.request('PATCH', `/tables/${t}/rows`, {
      json: { rows: [{ id: 1, name: 'changed' }, { id: 2, qty: 'many' }, { id: 3, qty: '1.234' }], create: [{ name: 'new' }, { ok: 'perhaps' }] },
    });
    expect(res.status, res.text).to.equal(422);
    expect(res.body.error.code).to.equal('invalid_rows');
    const errors = res.body.error.details.errors.map((e: { index: number; id?: number; new?: boolean; field: string }) => [e.new ? 'new' : e.id, e.index, e.field]);
    expect(errors).to.deep.equal([[2, 1, 'qty'], [3, 2, 'qty'], ['new', 1, 'ok']]);
    expect(await snapshot(), 'nothing changed').to.deep.equal(before);
  });

  it('a database refusal after some rows were written rolls them all back (unique value in a new row)', async () => {
    const before = await snapshot();
    const res = await app.request('PATCH', `/tables/${t}/rows`, { json: { rows: [{ id: 1, name: 'will roll back' }], create: [{ code: 'c2' }] } });
    expect(res.status, res.text).to.equal(422);
    expect(res.body.error.details?.errors?.[0]?.new ?? true).to.equal(true);
    expect(await snapshot(), 'nothing changed').to.deep.equal(before);
  });

  it('a missing row, a row listed twice, or no id: refused whole', async () => {
    const before = await snapshot();
    for (const json of [
      { rows: [{ id: 1, name: 'x' }, { id: 999999, name: 'y' }], create: [] },
      { rows: [{ id: 1, name: 'x' }, { id: 1, name: 'y' }], create: [] },
      { rows: [{ name: 'x' }], create: [] },
    ]) {
      const res = await app.request('PATCH', `/tables/${t}/rows`, { json });
      expect(res.status, JSON.stringify(json)).to.equal(422);
      expect(res.body.error.details.errors[0].field).to.equal('id');
    }
    expect(await snapshot()).to.deep.equal(before);
  });

  it('bad shapes answer 400 naming the part; more than 1000 rows is refused', async () => {
    for (const [json, field] of [
      [{ rows: 'x', create: [] }, 'rows'],
      [{ create: {} }, 'create'],
      [{ rows: [], create: [] }, 'rows'],
      [{ rows: Array.from({ length: 600 }, (_, i) => ({ id: i + 1 })), create: Array.from({ length: 401 }, () => ({})) }, 'rows'],
    ] as const) {
      const res = await app.request('PATCH', `/tables/${t}/rows`, { json });
      expect(res.status, res.text).to.equal(400);
      expect(res.body.error.field).to.equal(field);
    }
  });

  it('a viewer may not paste', async () => {
    const viewer = await createTestToken(app, 'viewer');
    const res = await app.request('PATCH', `/tables/${t}/rows`, { json: { rows: [{ id: 1, name: 'v' }], create: [] }, auth: { token: viewer } });
    expect(res.status).to.equal(403);
  });
});
