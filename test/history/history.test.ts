// Row history (issue 16): every insert, update and delete of a managed table's row is
// recorded by PostgreSQL (the trigger), with who did it (the console user or token, else
// the database role and application_name), in the same transaction as the write; for an
// update only the changed columns. GET .../history shows it newest first under the fields
// as they are now; POST .../revert puts the row back as it was before an entry.
import { expect } from 'chai';
import { startApp, type TestApp } from '../helpers/app.js';
import type { TestDatabase } from '../helpers/db.js';
import type { Sql } from '../helpers/sql.js';
import { useAppAndSql } from './lib.js';
import { createTable, QUIET } from '../introspect/lib.js';

interface Entry {
  id: number;
  at: string;
  actor: string;
  op: string;
  changes: Record<string, { old: unknown; new: unknown }>;
  reason: string | null;
  request_id: string | null;
  db_role: string;
  application: string | null;
  imported?: number;
}

describe('row history (issue 16)', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  useAppAndSql(async (s) => {
    ({ db, app, sql } = s);
  });

  let seq = 0;
  async function table(fields: Array<Record<string, unknown>> = [{ name: 'Name', type: 'text' }, { name: 'Price', type: 'number', options: { decimals: 2 } }, { name: 'Notes', type: 'long_text' }]) {
    seq += 1;
    return createTable(app, `History ${seq}`, fields);
  }
  async function history(tableId: number, rowId: number, query = ''): Promise<Entry[]> {
    const res = await app.request('GET', `/tables/${tableId}/rows/${rowId}/history${query}`);
    expect(res.status, res.text).to.equal(200);
    return res.body.entries;
  }

  it('records inserts, updates (only the changed columns, old and new) and deletes through the API, with the token and the request id; newest first', async () => {
    const t = await table();
    const created = await app.request('POST', `/tables/${t.id}/rows`, { json: { name: 'Widget', price: '9.50' }, headers: { 'X-Request-Id': 'req-create-1' } });
    const id = created.body.id as number;
    expect((await app.request('PATCH', `/tables/${t.id}/rows/${id}`, { json: { price: '10.25' }, headers: { 'X-Request-Id': 'req-patch-1' } })).status).to.equal(200);
    expect((await app.request('PATCH', `/tables/${t.id}/rows/${id}`, { json: { price: '10.25', name: 'Widget' } })).status, 'a PATCH that changes nothing').to.equal(200);
    expect((await app.request('DELETE', `/tables/${t.id}/rows/${id}`)).status).to.equal(204);

    const entries = await history(t.id, id);
    expect(entries.map((e) => e.op), 'newest first; an update that changed nothing is not an entry').to.deep.equal(['delete', 'update', 'insert']);
    const [del, upd, ins] = entries as [Entry, Entry, Entry];
    expect(ins.actor).to.match(/^token:test admin/);
    expect(ins.request_id).to.equal('req-create-1');
    expect(ins.changes).to.deep.equal({ name: { old: null, new: 'Widget' }, price: { old: null, new: 9.5 }, notes: { old: null, new: null } });
    expect(upd.changes, 'only what changed').to.deep.equal({ price: { old: 9.5, new: 10.25 } });
    expect(upd.request_id).to.equal('req-patch-1');
    expect(del.changes).to.deep.equal({ name: { old: 'Widget', new: null }, price: { old: 10.25, new: null }, notes: { old: null, new: null } });
    expect(Object.keys(ins).sort()).to.include.members(['id', 'at', 'actor', 'op', 'changes']);
    expect(new Date(del.at).getTime()).to.be.at.least(new Date(ins.at).getTime());
  });

  it('shows values as the row API writes them: every digit of numbers and JSON documents, datetimes in UTC to the microsecond', async () => {
    const t = await table([{ name: 'Amount', type: 'number', options: { decimals: 10 } }, { name: 'Doc', type: 'json' }, { name: 'At', type: 'datetime' }]);
    const id = (await app.request('POST', `/tables/${t.id}/rows`, { body: '{"amount": 12345678901234567890.1234567891, "doc": {"big": 123456789012345678901234567890}}', headers: { 'Content-Type': 'application/json' } })).body.id;
    // Written by psql in another time zone: shown in UTC all the same.
    await sql.exec(`SET TimeZone = 'Asia/Kathmandu'`);
    await sql.exec(`UPDATE data.${t.table_name} SET at = '2024-03-01 15:30:00.123456+05:45' WHERE id = $1`, [id]);
    await sql.exec('RESET TimeZone');
    const raw = (await app.request('GET', `/tables/${t.id}/rows/${id}/history`)).text;
    expect(raw).to.include('"new":12345678901234567890.1234567891');
    expect(raw).to.include('"new":{"big": 123456789012345678901234567890}'); // jsonb's own text
    expect(raw).to.include('"at":{"old":null,"new":"2024-03-01T09:45:00.123456Z"}');
  });

  it('a psql UPDATE is in the history with the database role and application_name as who; a rolled back one is not', async () => {
    const t = await table();
    const id = (await app.request('POST', `/tables/${t.id}/rows`, { json: { name: 'From the API' } })).body.id;
    await sql.exec(`SET application_name = 'psql'`);
    await sql.exec(`UPDATE data.${t.table_name} SET notes = 'fixed by hand' WHERE id = $1`, [id]);
    await sql.exec('BEGIN');
    await sql.exec(`UPDATE data.${t.table_name} SET notes = 'never committed' WHERE id = $1`, [id]);
    await sql.exec('ROLLBACK');
    const [latest, ...rest] = await history(t.id, id);
    expect(rest.length).to.equal(1);
    expect(latest!.op).to.equal('update');
    expect(latest!.actor).to.equal('db:postgres');
    expect(latest!.db_role).to.equal('postgres');
    expect(latest!.application).to.equal('psql');
    expect(latest!.changes).to.deep.equal({ notes: { old: null, new: 'fixed by hand' } });
  });

  it('a refused write leaves no entry: the write and its history commit together or not at all', async () => {
    const t = await table([{ name: 'Code', type: 'text', unique: true }]);
    const a = (await app.request('POST', `/tables/${t.id}/rows`, { json: { code: 'A' } })).body.id;
    const b = (await app.request('POST', `/tables/${t.id}/rows`, { json: { code: 'B' } })).body.id;
    expect((await app.request('PATCH', `/tables/${t.id}/rows/${b}`, { json: { code: 'A' } })).status).to.equal(409);
    const bulk = await app.request('POST', `/tables/${t.id}/rows`, { json: [{ code: 'C' }, { code: 'A' }] });
    expect(bulk.status).to.equal(409);
    const { n } = await sql.one(`SELECT count(*)::int AS n FROM tablewright.row_history WHERE table_id = $1`, [t.id]);
    expect(n, 'two inserts, nothing else').to.equal(2);
    expect((await history(t.id, a)).length).to.equal(1);
  });

  it('revert puts the row back as it was before an entry (later changes undone too), itself recorded; before its insert it goes to the trash; before its delete it comes back', async () => {
    const t = await table();
    const id = (await app.request('POST', `/tables/${t.id}/rows`, { json: { name: 'v1', price: '1.00' } })).body.id;
    await app.request('PATCH', `/tables/${t.id}/rows/${id}`, { json: { name: 'v2' } });
    await app.request('PATCH', `/tables/${t.id}/rows/${id}`, { json: { price: '3.00', notes: 'n3' } });
    await sql.exec(`UPDATE data.${t.table_name} SET name = 'v4' WHERE id = $1`, [id]);
    const entries = await history(t.id, id);
    const v2 = entries.find((e) => e.changes.name?.new === 'v2')!;

    const res = await app.request('POST', `/tables/${t.id}/rows/${id}/revert`, { json: { entry: v2.id } });
    expect(res.status, res.text).to.equal(200);
    expect(res.body).to.deep.equal({ id, name: 'v1', price: 1, notes: null });
    const [revert] = await history(t.id, id);
    expect(revert!.reason).to.equal('revert');
    expect(revert!.actor).to.match(/^token:/);
    expect(revert!.changes).to.deep.equal({ name: { old: 'v4', new: 'v1' }, price: { old: 3, new: 1 }, notes: { old: 'n3', new: null } });

    // The revert itself can be reverted: back to v4.
    expect((await app.request('POST', `/tables/${t.id}/rows/${id}/revert`, { form: { entry: String(revert!.id) } })).body).to.deep.equal({ id, name: 'v4', price: 3, notes: 'n3' });

    const insert = (await history(t.id, id)).at(-1)!;
    expect(insert.op).to.equal('insert');
    const gone = await app.request('POST', `/tables/${t.id}/rows/${id}/revert`, { json: { entry: insert.id } });
    expect(gone.status, gone.text).to.equal(200);
    expect(gone.body).to.deep.equal({ id, deleted: true });
    expect((await app.request('GET', `/tables/${t.id}/rows/${id}`)).status).to.equal(404);
    const trash = await app.request('GET', `/tables/${t.id}/rows/trash`);
    expect(trash.body.rows.map((r: { id: number }) => r.id), 'a row reverted to before its insert is in the trash').to.deep.equal([id]);

    const deletion = (await history(t.id, id))[0]!;
    expect(deletion.op).to.equal('delete');
    const back = await app.request('POST', `/tables/${t.id}/rows/${id}/revert`, { json: { entry: deletion.id } });
    expect(back.status, back.text).to.equal(200);
    expect(back.body).to.deep.equal({ id, name: 'v4', price: 3, notes: 'n3' });
    expect((await history(t.id, id))[0]!.op).to.equal('restore');
    expect((await app.request('GET', `/tables/${t.id}/rows/trash`)).body.rows).to.deep.equal([]);

    for (const entry of [0, 'x', 999_999_999]) {
      const bad = await app.request('POST', `/tables/${t.id}/rows/${id}/revert`, { json: { entry } });
      expect(bad.status, String(entry)).to.equal(entry === 999_999_999 ? 404 : 400);
    }
  });

  it('renamed and retyped fields keep their history readable: older entries show under the field as it is now', async () => {
    const t = await table([{ name: 'Code', type: 'text' }, { name: 'Qty', type: 'text' }]);
    const [code, qty] = [t.fields[0]!, t.fields[1]!];
    const id = (await app.request('POST', `/tables/${t.id}/rows`, { json: { code: 'old-code', qty: '7' } })).body.id;
    await app.request('PATCH', `/tables/${t.id}/rows/${id}`, { json: { code: 'c2' } });
    expect((await app.request('PATCH', `/tables/${t.id}/fields/${code.id}`, { json: { name: 'Reference', column: 'reference' } })).status).to.equal(200);
    expect((await app.request('PATCH', `/tables/${t.id}/fields/${qty.id}`, { json: { type: 'number' } })).status).to.equal(200);
    // A new field takes the old column name: entries from before are still the renamed field's.
    expect((await app.request('POST', `/tables/${t.id}/fields`, { json: { name: 'Code', type: 'text', column: 'code' } })).status).to.equal(201);
    await app.request('PATCH', `/tables/${t.id}/rows/${id}`, { json: { reference: 'c3', code: 'new field', qty: 8 } });

    const [latest, renamed, created] = await history(t.id, id);
    expect(created!.changes).to.deep.equal({ reference: { old: null, new: 'old-code' }, qty: { old: null, new: 7 } });
    expect(renamed!.changes).to.deep.equal({ reference: { old: 'old-code', new: 'c2' } });
    expect(latest!.changes).to.deep.equal({ reference: { old: 'c2', new: 'c3' }, code: { old: null, new: 'new field' }, qty: { old: 7, new: 8 } });
    // Reverting across both schema changes lands in the right columns.
    const res = await app.request('POST', `/tables/${t.id}/rows/${id}/revert`, { json: { entry: renamed!.id } });
    expect(res.status, res.text).to.equal(200);
    expect(res.body).to.deep.equal({ id, reference: 'old-code', qty: 7, code: null });
  });

  it('is read from PostgreSQL on each request: another instance shows a change at once', async () => {
    const t = await table();
    const other = await startApp(db.url, QUIET, 'second');
    try {
      const id = (await app.request('POST', `/tables/${t.id}/rows`, { json: { name: 'seen twice' } })).body.id;
      const before = await other.request('GET', `/tables/${t.id}/rows/${id}/history`);
      expect(before.body.entries.length).to.equal(1);
      await app.request('PATCH', `/tables/${t.id}/rows/${id}`, { json: { name: 'changed on the first' } });
      const after = await other.request('GET', `/tables/${t.id}/rows/${id}/history`);
      expect(after.body.entries.map((e: Entry) => e.op)).to.deep.equal(['update', 'insert']);
    } finally {
      await other.stop();
    }
  });

  it('pages with before/next; 400 for a bad limit or cursor', async () => {
    const t = await table();
    const id = (await app.request('POST', `/tables/${t.id}/rows`, { json: { name: 'n0' } })).body.id;
    for (let i = 1; i <= 5; i++) await app.request('PATCH', `/tables/${t.id}/rows/${id}`, { json: { name: `n${i}` } });
    const first = await app.request('GET', `/tables/${t.id}/rows/${id}/history?limit=4`);
    expect(first.body.entries.length).to.equal(4);
    expect(first.body.next).to.equal(String(first.body.entries[3].id));
    const second = await app.request('GET', `/tables/${t.id}/rows/${id}/history?limit=4&before=${first.body.next}`);
    expect(second.body.entries.map((e: Entry) => e.op)).to.deep.equal(['update', 'insert']);
    expect(second.body.next).to.equal(null);
    expect((await app.request('GET', `/tables/${t.id}/rows/${id}/history?limit=0`)).body.error.field).to.equal('limit');
    expect((await app.request('GET', `/tables/${t.id}/rows/${id}/history?before=x`)).body.error.field).to.equal('before');
  });

  it('a CSV import is one entry (not one per row); a row shows the import that added it, and reverting before it deletes the row', async () => {
    const t = await table();
    const csv = `name,price\n${Array.from({ length: 50 }, (_, i) => `item ${i},${i}.5`).join('\n')}\n`;
    const res = await app.request('POST', `/tables/${t.id}/rows/import`, { body: csv, headers: { 'Content-Type': 'text/csv' } });
    expect(res.status, res.text).to.equal(200);
    const entries = await sql.rows(`SELECT op, row_id, new_values FROM tablewright.row_history WHERE table_id = $1`, [t.id]);
    expect(entries.length, 'one entry for the import').to.equal(1);
    expect(entries[0].op).to.equal('import');
    expect(entries[0].new_values.rows).to.equal(50);
    const { id } = await sql.one(`SELECT min(id)::int AS id FROM data.${t.table_name}`);
    await app.request('PATCH', `/tables/${t.id}/rows/${id}`, { json: { name: 'edited after import' } });
    const h = await history(t.id, id);
    expect(h.map((e) => e.op)).to.deep.equal(['update', 'import']);
    expect(h[1]!.imported).to.equal(50);
    const reverted = await app.request('POST', `/tables/${t.id}/rows/${id}/revert`, { json: { entry: h[1]!.id } });
    expect(reverted.body).to.deep.equal({ id, deleted: true });
    // The other 49 are untouched, and writes after the import are recorded one by one again.
    expect((await sql.one(`SELECT count(*)::int AS n FROM data.${t.table_name}`)).n).to.equal(49);
    expect((await sql.one(`SELECT count(*)::int AS n FROM tablewright.row_history WHERE table_id = $1`, [t.id])).n).to.equal(3);
  });

  it('the recent changes of a table: newest first, every row, every path', async () => {
    const t = await table();
    const a = (await app.request('POST', `/tables/${t.id}/rows`, { json: { name: 'a' } })).body.id;
    const b = (await app.request('POST', `/tables/${t.id}/rows`, { json: { name: 'b' } })).body.id;
    await sql.exec(`UPDATE data.${t.table_name} SET name = 'A' WHERE id = $1`, [a]);
    await app.request('DELETE', `/tables/${t.id}/rows/${b}`);
    const res = await app.request('GET', `/tables/${t.id}/changes?limit=3`);
    expect(res.status, res.text).to.equal(200);
    expect(res.body.entries.map((e: Entry & { row_id: number }) => `${e.op}:${e.row_id}`)).to.deep.equal([`delete:${b}`, `update:${a}`, `insert:${b}`]);
    expect(res.body.next).to.not.equal(null);
    const page = await app.request('GET', `/tables/${t.id}/changes`, { headers: { Accept: 'text/html' } });
    expect(page.text).to.include(`/tables/${t.id}/rows/${a}`).and.to.include('db:postgres'.replace('db:', ''));
  });
});
