// System fields (autonumber, created_at, updated_at, created_by, updated_by), over real
// HTTP and psql on real PostgreSQL: PostgreSQL sets them, so an API write and a SQL write
// both keep them true; a write that sends one is refused naming the field; they survive
// rename, trash and restore, row delete and restore, conversion to their base type, and
// CSV export then import. Every query is planned in parallel (forceParallelPlans), as a
// table of a few hundred thousand rows would be: the numbering of existing rows and the
// conversions run under parallel workers here.
import { expect } from 'chai';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { expectParallelPlan, forceParallelPlans } from '../helpers/parallel.js';
import { Sql } from '../helpers/sql.js';

const SYSTEM = [
  { name: 'No', type: 'autonumber', column: 'no' },
  { name: 'Created at', type: 'created_at', column: 'created_at' },
  { name: 'Updated at', type: 'updated_at', column: 'updated_at' },
  { name: 'Created by', type: 'created_by', column: 'created_by' },
  { name: 'Updated by', type: 'updated_by', column: 'updated_by' },
];

describe('system fields (set by PostgreSQL, read-only to writes)', function () {
  this.timeout(120_000);
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let n = 0;

  before(async () => {
    db = await freshDatabase();
    await forceParallelPlans(db);
    app = await startApp(db.url);
    sql = await Sql.connect(db.url);
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  /** A table with a text field `title` and the given rows, made before any system field. */
  async function table(titles: string[] = []) {
    const t = await app.request('POST', '/tables', { json: { name: `Sys ${++n}`, table_name: `sys_${n}`, fields: [{ name: 'Title', type: 'text', column: 'title' }] } });
    expect(t.status, t.text).to.equal(201);
    for (const title of titles) await sql.exec(`INSERT INTO data.sys_${n} (title) VALUES ($1)`, [title]);
    return { id: t.body.id as number, rel: `data.sys_${n}` };
  }
  async function addSystem(tableId: number) {
    const ids: Record<string, number> = {};
    for (const f of SYSTEM) {
      const res = await app.request('POST', `/tables/${tableId}/fields`, { json: f });
      expect(res.status, res.text).to.equal(201);
      expect(res.body.type).to.equal(f.type);
      ids[f.type] = res.body.id;
    }
    return ids;
  }
  const actorOf = async (tableId: number, rowId: number, op: string) =>
    (await sql.one<{ actor: string }>(`SELECT actor FROM tablewright.row_history WHERE table_id = $1 AND row_id = $2 AND op = $3 ORDER BY id DESC LIMIT 1`, [tableId, rowId, op])).actor;

  it('numbers the rows there are in id order, then goes on; a number is never reused, and the column is a unique identity', async () => {
    const t = await table(['c', 'a', 'b']);
    await sql.exec(`DELETE FROM ${t.rel} WHERE title = 'a'`); // a gap in ids: 1, 3
    await expectParallelPlan(sql, `SELECT id, row_number() OVER (ORDER BY id) FROM ${t.rel}`);
    await addSystem(t.id);
    expect(await sql.rows(`SELECT id::int, no::int FROM ${t.rel} ORDER BY id`)).to.deep.equal([
      { id: 1, no: 1 },
      { id: 3, no: 2 },
    ]);
    const col = await sql.one(`SELECT attidentity, attnotnull FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'no'`, [t.rel]);
    expect(col).to.deep.equal({ attidentity: 'a', attnotnull: true });
    const uq = await sql.rows(`SELECT conname FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'u'`, [t.rel]);
    expect(uq).to.have.length(1);

    const r3 = await app.request('POST', `/tables/${t.id}/rows`, { json: { title: 'd' } });
    expect(r3.status, r3.text).to.equal(201);
    expect(r3.body.no).to.equal(3);
    expect((await app.request('DELETE', `/tables/${t.id}/rows/${r3.body.id}`)).status).to.equal(204);
    const r4 = await app.request('POST', `/tables/${t.id}/rows`, { json: { title: 'e' } });
    expect(r4.body.no).to.equal(4);
    // and not by SQL either: an identity GENERATED ALWAYS refuses a value, and an UPDATE
    await sql.exec(`INSERT INTO ${t.rel} (title) VALUES ('f')`);
    expect((await sql.one(`SELECT no::int FROM ${t.rel} WHERE title = 'f'`)).no).to.equal(5);
    const err = await sql.exec(`UPDATE ${t.rel} SET no = 1 WHERE title = 'f'`).then(() => null, (e: Error) => e);
    expect(err?.message).to.match(/can only be updated to DEFAULT/);
    // the row trash puts a row back with its number (OVERRIDING SYSTEM VALUE)
    const back = await app.request('POST', `/tables/${t.id}/rows/${r3.body.id}/restore`);
    expect(back.status, back.text).to.equal(200);
    expect(back.body.no).to.equal(3);
  });

  it('an API write sets created_* and updated_* to the time and the actor the row history records; an edit moves updated_* only', async () => {
    const t = await table();
    await addSystem(t.id);
    const made = await app.request('POST', `/tables/${t.id}/rows`, { json: { title: 'x' } });
    expect(made.status, made.text).to.equal(201);
    const actor = await actorOf(t.id, made.body.id, 'insert');
    expect(actor).to.match(/^token:/);
    expect(made.body.created_by).to.equal(actor);
    expect(made.body.updated_by).to.equal(actor);
    expect(made.body.created_at).to.match(/^\d{4}-\d\d-\d\dT/);
    expect(made.body.updated_at).to.equal(made.body.created_at);

    // a psql UPDATE: updated_* move (to the database role), created_* do not, whatever it sends
    await sql.exec(`UPDATE ${t.rel} SET title = 'y', created_at = '2000-01-01', created_by = 'mallory', updated_by = 'mallory' WHERE id = $1`, [made.body.id]);
    const row = await app.request('GET', `/tables/${t.id}/rows/${made.body.id}`);
    expect(row.body.created_at).to.equal(made.body.created_at);
    expect(row.body.created_by).to.equal(actor);
    expect(row.body.updated_by).to.equal(await actorOf(t.id, made.body.id, 'update'));
    expect(row.body.updated_by).to.match(/^db:/);
    expect(row.body.updated_at > made.body.updated_at).to.equal(true);

    // a psql INSERT that sends values gets PostgreSQL's
    await sql.exec(`INSERT INTO ${t.rel} (title, created_at, created_by, updated_at, updated_by) VALUES ('z', '2000-01-01', 'mallory', '2000-01-01', 'mallory')`);
    const z = await sql.one(`SELECT created_at > now() - interval '1 hour' AS recent, created_by, updated_by FROM ${t.rel} WHERE title = 'z'`);
    expect(z.recent).to.equal(true);
    expect(z.created_by).to.match(/^db:/);
    expect(z.updated_by).to.equal(z.created_by);
  });

  for (const f of SYSTEM) {
    it(`an API write that sends ${f.type} is refused with a 4xx naming the field, and nothing changes`, async () => {
      const t = await table();
      await addSystem(t.id);
      const value = f.type === 'autonumber' ? 7 : f.type.endsWith('_at') ? '2000-01-01T00:00:00Z' : 'mallory';
      const before = await sql.snapshot();
      const made = await app.request('POST', `/tables/${t.id}/rows`, { json: { title: 'x', [f.column]: value } });
      expect(made.status, made.text).to.equal(422);
      expect(made.body.error.field).to.equal(f.column);
      expect(made.body.error.message).to.include(f.name);
      expect(await sql.snapshot()).to.deep.equal(before);
      const ok = await app.request('POST', `/tables/${t.id}/rows`, { json: { title: 'x' } });
      const patched = await app.request('PATCH', `/tables/${t.id}/rows/${ok.body.id}`, { json: { [f.column]: value } });
      expect(patched.status, patched.text).to.equal(422);
      expect(patched.body.error.field).to.equal(f.column);
    });
  }

  it('an autonumber keeps NOT NULL and UNIQUE: dropping either is refused naming it', async () => {
    const t = await table();
    const ids = await addSystem(t.id);
    for (const key of ['not_null', 'unique']) {
      const res = await app.request('PATCH', `/tables/${t.id}/fields/${ids.autonumber}`, { json: { [key]: false } });
      expect(res.status, res.text).to.equal(422);
      expect(res.body.error.field).to.equal(key);
    }
  });

  it('a default on a system field is refused, naming default', async () => {
    const t = await table();
    const res = await app.request('POST', `/tables/${t.id}/fields`, { json: { name: 'C', type: 'created_by', default: 'someone' } });
    expect(res.status, res.text).to.equal(422);
    expect(res.body.error.field).to.equal('default');
  });

  it('keeps working after a column rename; a trashed field is no longer kept, a restored one is again', async () => {
    const t = await table();
    const ids = await addSystem(t.id);
    const renamed = await app.request('PATCH', `/tables/${t.id}/fields/${ids.updated_by}`, { json: { column: 'changed_by' } });
    expect(renamed.status, renamed.text).to.equal(200);
    const r = await app.request('POST', `/tables/${t.id}/rows`, { json: { title: 'x' } });
    expect(r.body.changed_by).to.match(/^token:/);

    expect((await app.request('DELETE', `/tables/${t.id}/fields/${ids.updated_at}`)).status).to.equal(200);
    const triggers = async () => (await sql.rows<{ tgname: string }>(`SELECT tgname FROM pg_trigger WHERE tgrelid = $1::regclass AND tgname LIKE 'tablewright_sys%' ORDER BY 1`, [t.rel])).map((x) => x.tgname);
    expect(await triggers()).to.deep.equal([`tablewright_sys_f${ids.created_at}`, `tablewright_sys_f${ids.created_by}`, `tablewright_sys_f${ids.updated_by}`].sort());
    const restored = await app.request('POST', `/tables/${t.id}/fields/${ids.updated_at}/restore`);
    expect(restored.status, restored.text).to.equal(200);
    expect(await triggers()).to.have.length(4);
    await sql.exec(`UPDATE ${t.rel} SET title = 'y' WHERE id = $1`, [r.body.id]);
    const row = await app.request('GET', `/tables/${t.id}/rows/${r.body.id}`);
    expect(row.body.updated_at > r.body.updated_at).to.equal(true);
  });

  it('a deleted row restored from the row trash keeps its created_* values', async () => {
    const t = await table();
    await addSystem(t.id);
    const r = await app.request('POST', `/tables/${t.id}/rows`, { json: { title: 'x' } });
    await sql.exec(`SELECT pg_sleep(0.01)`);
    expect((await app.request('DELETE', `/tables/${t.id}/rows/${r.body.id}`)).status).to.equal(204);
    const back = await app.request('POST', `/tables/${t.id}/rows/${r.body.id}/restore`);
    expect(back.status, back.text).to.equal(200);
    expect(back.body.created_at).to.equal(r.body.created_at);
    expect(back.body.created_by).to.equal(r.body.created_by);
    expect(back.body.no).to.equal(r.body.no);
  });

  it('converts each system field to its stored type keeping every value (nothing lost); nothing converts to a system field', async () => {
    const t = await table(['a', 'b']);
    const ids = await addSystem(t.id);
    for (let i = 0; i < 50; i++) await app.request('POST', `/tables/${t.id}/rows`, { json: { title: `r${i}` } });
    const before = await sql.rows(`SELECT id, no::text, created_at::text, updated_at::text, created_by, updated_by FROM ${t.rel} ORDER BY id`);
    const base: Record<string, [string, object]> = {
      autonumber: ['number', { decimals: 0 }],
      created_at: ['datetime', {}],
      updated_at: ['datetime', {}],
      created_by: ['text', {}],
      updated_by: ['text', {}],
    };
    for (const f of SYSTEM) {
      const [type, options] = base[f.type]!;
      const dry = await app.request('PATCH', `/tables/${t.id}/fields/${ids[f.type]}`, { json: { type, options, dry_run: 1 } });
      expect(dry.status, dry.text).to.equal(200);
      expect(dry.body.lost).to.equal(0);
      const res = await app.request('PATCH', `/tables/${t.id}/fields/${ids[f.type]}`, { json: { type, options } });
      expect(res.status, res.text).to.equal(200);
    }
    expect(await sql.rows(`SELECT id, no::text, created_at::text, updated_at::text, created_by, updated_by FROM ${t.rel} ORDER BY id`)).to.deep.equal(before);
    // ordinary fields now: writable, no identity, no trigger, no default
    const w = await app.request('POST', `/tables/${t.id}/rows`, { json: { title: 'w', no: 99, created_by: 'me' } });
    expect(w.status, w.text).to.equal(201);
    expect(w.body.no).to.equal(99);
    expect(w.body.created_by).to.equal('me');
    expect(w.body.updated_at).to.equal(null);
    expect(await sql.rows(`SELECT tgname FROM pg_trigger WHERE tgrelid = $1::regclass AND tgname LIKE 'tablewright_sys%'`, [t.rel])).to.deep.equal([]);

    const refused = await app.request('PATCH', `/tables/${t.id}/fields/${ids.created_at}`, { json: { type: 'created_at' } });
    expect(refused.status, refused.text).to.equal(422);
    expect(refused.body.error.field).to.equal('type');
  });

  it('CSV: export writes the system columns; importing that file back takes the other columns and PostgreSQL fills them anew', async () => {
    const t = await table();
    await addSystem(t.id);
    await app.request('POST', `/tables/${t.id}/rows`, { json: { title: 'one' } });
    const csv = await app.request('GET', `/tables/${t.id}/rows.csv`, { headers: { accept: 'text/csv' } });
    expect(csv.status).to.equal(200);
    const [header] = csv.text.split(/\r?\n/);
    expect(header).to.include('created_at').and.include('no');
    const imported = await app.request('POST', `/tables/${t.id}/rows/import`, { body: csv.text, headers: { 'content-type': 'text/csv', accept: 'application/json' } });
    expect(imported.status, imported.text).to.equal(200);
    expect(imported.body.imported).to.equal(1);
    const rows = await sql.rows(`SELECT title, no::text, created_by FROM ${t.rel} ORDER BY id`);
    expect(rows.map((r) => r.no)).to.deep.equal(['1', '2']);
    expect(rows[1].created_by).to.match(/^token:/);
  });

  it('reconcile reports no drift for a table with system fields; an identity column a DBA adds is adopted as an autonumber', async () => {
    const t = await table(['a']);
    await addSystem(t.id);
    const clean = await app.request('GET', '/reconcile');
    expect(clean.body.items, JSON.stringify(clean.body.items)).to.deep.equal([]);

    await sql.exec(`ALTER TABLE ${t.rel} ADD COLUMN ticket bigint GENERATED BY DEFAULT AS IDENTITY`);
    const r = await app.request('GET', '/reconcile');
    const item = r.body.items.find((i: { id: string }) => i.id === `untracked_column:t${t.id}:ticket`);
    expect(item, JSON.stringify(r.body.items)).to.not.equal(undefined);
    const out = await app.request('POST', '/reconcile/actions', { json: { item: item.id, action: 'adopt' } });
    expect(out.status, out.text).to.equal(200);
    expect(out.body.result).to.include({ column: 'ticket', type: 'autonumber', read_only: false });
    const made = await app.request('POST', `/tables/${t.id}/rows`, { json: { title: 'b' } });
    expect(made.body.ticket).to.equal(2);
    const refused = await app.request('PATCH', `/tables/${t.id}/rows/${made.body.id}`, { json: { ticket: 5 } });
    expect(refused.status).to.equal(422);
    expect(refused.body.error.field).to.equal('ticket');
    expect((await app.request('GET', '/reconcile')).body.items).to.deep.equal([]);
  });

  it('an API PATCH moves updated_* to the caller and leaves created_* alone', async () => {
    const t = await table();
    await addSystem(t.id);
    await sql.exec(`INSERT INTO ${t.rel} (title) VALUES ('x')`);
    const id = (await sql.one(`SELECT id::int FROM ${t.rel}`)).id;
    const before = (await app.request('GET', `/tables/${t.id}/rows/${id}`)).body;
    expect(before.created_by).to.match(/^db:/);
    const patched = await app.request('PATCH', `/tables/${t.id}/rows/${id}`, { json: { title: 'y' } });
    expect(patched.status, patched.text).to.equal(200);
    expect(patched.body.updated_by).to.equal(await actorOf(t.id, id, 'update'));
    expect(patched.body.updated_by).to.match(/^token:/);
    expect(patched.body.created_by).to.equal(before.created_by);
    expect(patched.body.created_at).to.equal(before.created_at);
    expect(patched.body.updated_at > before.updated_at).to.equal(true);
  });
});
