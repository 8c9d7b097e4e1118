// The row trash (issue 16): a deleted row, by any path (the row API, a bulk delete, the
// console grid, psql's DELETE, a TRUNCATE), lands in its table's row trash with every value,
// who and when, keeps its id, and comes back exactly by a restore, one or many; with 409s
// that say why it cannot (a unique value taken meanwhile, a link target gone, the id in
// use). Links that pointed at a deleted row come back with it, and a row deleted before a
// schema change lands in the table's columns as they are now, by field.
import { expect } from 'chai';
import { createTestToken, request, type TestApp } from '../helpers/app.js';
import type { TestDatabase } from '../helpers/db.js';
import type { Sql } from '../helpers/sql.js';
import { useAppAndSql } from './lib.js';
import { createTable } from '../introspect/lib.js';

describe('row trash: delete and restore (issue 16)', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  useAppAndSql(async (s) => {
    ({ db, app, sql } = s);
  });

  let seq = 0;
  /** A table of the usual field types, and one row of awkward values; returns the table and the row as the API answered it. */
  async function tableWithRow(values: Record<string, unknown> = {}) {
    seq += 1;
    const t = await createTable(app, `Things ${seq}`, [
      { name: 'Name', type: 'text', unique: true },
      { name: 'Amount', type: 'number', options: { decimals: 10 } },
      { name: 'Done', type: 'boolean' },
      { name: 'Due', type: 'date' },
      { name: 'At', type: 'datetime' },
      { name: 'Meta', type: 'json' },
    ]);
    const res = await app.request('POST', `/tables/${t.id}/rows`, {
      json: { name: `thing ${seq} “quoted” \\ 'x'`, amount: '12345678901234567890.1234567891', done: true, due: '1999-12-31', at: '2024-02-29T23:59:59Z', meta: { deep: [1, 'two', null] }, ...values },
    });
    expect(res.status, res.text).to.equal(201);
    return { t, row: res.body as Record<string, unknown> };
  }

  const trash = async (tableId: number, query = '') => {
    const res = await app.request('GET', `/tables/${tableId}/rows/trash${query}`);
    expect(res.status, res.text).to.equal(200);
    return res.body as { rows: Array<{ id: number; deleted_at: string; deleted_by: string; values: Record<string, unknown> }>; count: number; next: number | null };
  };
  const getRow = (tableId: number, id: number) => app.request('GET', `/tables/${tableId}/rows/${id}`);
  const stored = (table: string, id: number) => sql.one(`SELECT to_jsonb(t)::text AS j FROM data.${table} t WHERE id = $1`, [id]).then((r) => r.j as string);

  it('DELETE /tables/:id/rows/:rid moves the row to the trash with every value, who and when; a restore brings it back with the same id and exact values', async () => {
    const { t, row } = await tableWithRow();
    const before = await stored(t.table_name, row.id as number);
    expect((await app.request('DELETE', `/tables/${t.id}/rows/${row.id}`)).status).to.equal(204);
    expect((await getRow(t.id, row.id as number)).status).to.equal(404);
    const listed = await trash(t.id);
    expect(listed.rows.map((r) => r.id)).to.deep.equal([row.id]);
    expect(listed.rows[0]!.deleted_by).to.match(/^token:test admin/);
    expect(Date.now() - new Date(listed.rows[0]!.deleted_at).getTime()).to.be.below(60_000);
    expect(listed.rows[0]!.values).to.deep.include({ name: row.name, done: true, due: '1999-12-31', at: '2024-02-29T23:59:59Z', meta: { deep: [1, 'two', null] } });
    // Numbers as exact JSON numbers, as the row API writes them (JSON.parse here would round).
    const raw = (await app.request('GET', `/tables/${t.id}/rows/trash`)).text;
    expect(raw).to.include('"amount":12345678901234567890.1234567891');

    const back = await app.request('POST', `/tables/${t.id}/rows/${row.id}/restore`);
    expect(back.status, back.text).to.equal(200);
    expect(back.body).to.deep.equal(row);
    expect(await stored(t.table_name, row.id as number), 'every value as stored before, to the digit').to.equal(before);
    expect((await trash(t.id)).rows).to.deep.equal([]);
    const again = await app.request('POST', `/tables/${t.id}/rows/${row.id}/restore`);
    expect(again.status, 'a row restored already is not in the trash').to.equal(404);
  });

  it('a bulk delete and a bulk restore, all or none; the trash lists newest first, a page at a time', async () => {
    const { t } = await tableWithRow();
    const made = await app.request('POST', `/tables/${t.id}/rows`, { json: Array.from({ length: 5 }, (_, i) => ({ name: `bulk ${i}`, amount: i })) });
    const ids: number[] = made.body.rows.map((r: { id: number }) => r.id);
    expect((await app.request('DELETE', `/tables/${t.id}/rows`, { json: { ids: ids.slice(0, 3) } })).status).to.equal(200);
    expect((await app.request('DELETE', `/tables/${t.id}/rows/${ids[3]}`)).status).to.equal(204);
    const page1 = await trash(t.id, '?size=2');
    expect(page1.count).to.equal(4);
    expect(page1.rows.map((r) => r.id), 'newest first').to.deep.equal([ids[3], ids[2]]);
    expect(page1.next).to.equal(2);
    const page2 = await trash(t.id, '?size=2&page=2');
    expect(page2.rows.map((r) => r.id)).to.have.members([ids[0], ids[1]]);
    expect(page2.next).to.equal(null);

    const missing = await app.request('POST', `/tables/${t.id}/rows/restore`, { json: { ids: [ids[0], ids[4]] } });
    expect(missing.status, 'a row that is not in the trash: nothing is restored').to.equal(404);
    expect(missing.body.error.details.missing).to.deep.equal([ids[4]]);
    expect((await getRow(t.id, ids[0]!)).status).to.equal(404);

    const res = await app.request('POST', `/tables/${t.id}/rows/restore`, { json: { ids: ids.slice(0, 4) } });
    expect(res.status, res.text).to.equal(200);
    expect(res.body.rows.map((r: { id: number }) => r.id)).to.deep.equal(ids.slice(0, 4));
    expect((await trash(t.id)).count).to.equal(0);
    for (const id of ids) expect((await getRow(t.id, id)).status).to.equal(200);
  });

  it('the console grid deletes to the trash, and a form restores (bulk, by checkboxes)', async () => {
    const { t, row } = await tableWithRow();
    const del = await app.request('DELETE', `/tables/${t.id}/grid/rows/${row.id}`, { headers: { 'HX-Request': 'true', Accept: 'text/html' } });
    expect(del.status, del.text).to.equal(200);
    expect(del.text).to.include('in the row trash').and.to.include('data-undo-request');
    expect((await trash(t.id)).rows.map((r) => r.id)).to.deep.equal([row.id]);
    const page = await app.request('GET', `/tables/${t.id}/rows/trash`, { headers: { Accept: 'text/html' } });
    expect(page.text).to.include(`name="ids" value="${row.id}"`);
    const res = await app.request('POST', `/tables/${t.id}/rows/restore`, { form: { ids: String(row.id) }, headers: { 'HX-Request': 'true', Accept: 'text/html' } });
    expect(res.status, res.text).to.equal(200);
    expect(res.text).to.include(`Restored row ${row.id}`);
    expect((await getRow(t.id, row.id as number)).body).to.deep.equal(row);
  });

  it('a DELETE in psql lands in the trash too, deleted by the database role; so does a TRUNCATE', async () => {
    const { t, row } = await tableWithRow();
    const second = (await app.request('POST', `/tables/${t.id}/rows`, { json: { name: 'second' } })).body;
    await sql.exec(`DELETE FROM data.${t.table_name} WHERE id = $1`, [row.id]);
    const listed = await trash(t.id);
    expect(listed.rows.map((r) => [r.id, r.deleted_by])).to.deep.equal([[row.id, 'db:postgres']]);
    await sql.exec(`TRUNCATE data.${t.table_name}`);
    expect((await trash(t.id)).rows.map((r) => r.id), 'TRUNCATE puts every row in the trash').to.deep.equal([second.id, row.id]);
    const res = await app.request('POST', `/tables/${t.id}/rows/restore`, { json: { ids: [row.id, second.id] } });
    expect(res.status, res.text).to.equal(200);
    expect((await getRow(t.id, row.id as number)).body).to.deep.equal(row);
    expect((await getRow(t.id, second.id)).body).to.deep.equal(second);
  });

  it('409 when a row cannot come back: its unique value taken meanwhile (naming the row that took it), its id in use again', async () => {
    const { t, row } = await tableWithRow({ name: 'unique-one' });
    expect((await app.request('DELETE', `/tables/${t.id}/rows/${row.id}`)).status).to.equal(204);
    const taker = (await app.request('POST', `/tables/${t.id}/rows`, { json: { name: 'unique-one' } })).body;
    const res = await app.request('POST', `/tables/${t.id}/rows/${row.id}/restore`);
    expect(res.status, res.text).to.equal(409);
    expect(res.body.error.code).to.equal('value_taken');
    expect(res.body.error.field).to.equal('name');
    expect(res.body.error.message).to.include('Name').and.to.include(`row ${taker.id}`);
    expect((await trash(t.id)).rows.map((r) => r.id), 'still in the trash').to.deep.equal([row.id]);

    expect((await app.request('PATCH', `/tables/${t.id}/rows/${taker.id}`, { json: { name: 'another' } })).status).to.equal(200);
    await sql.exec(`INSERT INTO data.${t.table_name} (id, name) OVERRIDING SYSTEM VALUE VALUES ($1, 'squatter')`, [row.id]);
    expect((await trash(t.id)).rows, 'a row that is in the table again is not listed').to.deep.equal([]);
    const taken = await app.request('POST', `/tables/${t.id}/rows/${row.id}/restore`);
    expect(taken.status, taken.text).to.equal(409);
    expect(taken.body.error.code).to.equal('row_exists');
  });

  it('links that pointed at a deleted row come back with it (ON DELETE SET NULL forgot them), unless set again since; a link to a deleted row is a 409', async () => {
    seq += 1;
    const people = await createTable(app, `People ${seq}`, [{ name: 'Name', type: 'text' }]);
    const orders = await createTable(app, `Orders ${seq}`, [
      { name: 'Title', type: 'text' },
      { name: 'Buyer', type: 'link', options: { table_id: people.id } },
      { name: 'Seller', type: 'link', options: { table_id: people.id } },
    ]);
    const ada = (await app.request('POST', `/tables/${people.id}/rows`, { json: { name: 'Ada' } })).body;
    const bob = (await app.request('POST', `/tables/${people.id}/rows`, { json: { name: 'Bob' } })).body;
    const made = await app.request('POST', `/tables/${orders.id}/rows`, {
      json: [
        { title: 'one', buyer: ada.id, seller: bob.id },
        { title: 'two', buyer: ada.id, seller: ada.id },
        { title: 'three', buyer: bob.id },
      ],
    });
    const [one, two, three] = made.body.rows as Array<{ id: number }>;
    expect((await app.request('DELETE', `/tables/${people.id}/rows/${ada.id}`)).status).to.equal(204);
    expect((await getRow(orders.id, one!.id)).body.buyer, 'the delete cleared the links').to.equal(null);
    // Someone points order two's seller elsewhere meanwhile: that link stays as they set it.
    expect((await app.request('PATCH', `/tables/${orders.id}/rows/${two!.id}`, { json: { seller: bob.id } })).status).to.equal(200);

    const res = await app.request('POST', `/tables/${people.id}/rows/${ada.id}/restore`);
    expect(res.status, res.text).to.equal(200);
    const after = async (id: number) => (await getRow(orders.id, id)).body;
    expect((await after(one!.id)).buyer).to.deep.equal({ id: ada.id, label: 'Ada' });
    expect((await after(one!.id)).seller).to.deep.equal({ id: bob.id, label: 'Bob' });
    expect((await after(two!.id)).buyer).to.deep.equal({ id: ada.id, label: 'Ada' });
    expect((await after(two!.id)).seller, 'set again since: not overwritten').to.deep.equal({ id: bob.id, label: 'Bob' });
    expect((await after(three!.id)).buyer).to.deep.equal({ id: bob.id, label: 'Bob' });

    // An order deleted, then its buyer deleted: the order cannot come back linking to nobody.
    expect((await app.request('DELETE', `/tables/${orders.id}/rows/${three!.id}`)).status).to.equal(204);
    await sql.exec(`DELETE FROM data.${people.table_name} WHERE id = $1`, [bob.id]);
    const gone = await app.request('POST', `/tables/${orders.id}/rows/${three!.id}/restore`);
    expect(gone.status, gone.text).to.equal(409);
    expect(gone.body.error.code).to.equal('link_target_gone');
    expect(gone.body.error.field).to.equal('buyer');
    expect(gone.body.error.message).to.include(`row ${bob.id}`).and.to.include(`People ${seq}`);
    // Bring Bob back first (his links come back too), then the order.
    expect((await app.request('POST', `/tables/${people.id}/rows/${bob.id}/restore`)).status).to.equal(200);
    expect((await after(one!.id)).seller, "Bob's links came back with him").to.deep.equal({ id: bob.id, label: 'Bob' });
    expect((await app.request('POST', `/tables/${orders.id}/rows/${three!.id}/restore`)).status).to.equal(200);
    expect((await after(three!.id)).buyer).to.deep.equal({ id: bob.id, label: 'Bob' });
  });

  it('a row deleted before schema changes restores into the columns as they are now, by field: renamed, retyped, trashed (to its parked column), purged', async () => {
    seq += 1;
    const t = await createTable(app, `Evolving ${seq}`, [
      { name: 'Code', type: 'text' },
      { name: 'Count', type: 'text' },
      { name: 'Note', type: 'text' },
      { name: 'Gone', type: 'text' },
      { name: 'Kept', type: 'text' },
    ]);
    const f = Object.fromEntries(t.fields.map((x) => [x.column, x.id]));
    const row = (await app.request('POST', `/tables/${t.id}/rows`, { json: { code: 'A-1', count: '42', note: 'a note', gone: 'bye', kept: 'same' } })).body;
    expect((await app.request('DELETE', `/tables/${t.id}/rows/${row.id}`)).status).to.equal(204);

    expect((await app.request('PATCH', `/tables/${t.id}/fields/${f.code}`, { json: { name: 'Reference', column: 'reference' } })).status).to.equal(200);
    expect((await app.request('PATCH', `/tables/${t.id}/fields/${f.count}`, { json: { type: 'number' } })).status).to.equal(200);
    expect((await app.request('DELETE', `/tables/${t.id}/fields/${f.note}`)).status).to.equal(200);
    expect((await app.request('DELETE', `/tables/${t.id}/fields/${f.gone}`)).status).to.equal(200);
    const purge = await app.request('POST', `/trash/fields/${f.gone}/purge`);
    expect((await app.request('POST', `/trash/fields/${f.gone}/purge`, { json: { confirm: purge.body.error.details.confirm } })).status).to.equal(200);
    expect((await app.request('POST', `/tables/${t.id}/fields`, { json: { name: 'Added later', type: 'text', default: 'fresh' } })).status).to.equal(201);

    const listed = (await trash(t.id)).rows[0]!;
    expect(listed.values, 'listed under the fields as they are now').to.deep.include({ reference: 'A-1', count: 42, kept: 'same', note: 'a note' });
    const res = await app.request('POST', `/tables/${t.id}/rows/${row.id}/restore`);
    expect(res.status, res.text).to.equal(200);
    expect(res.body).to.deep.include({ id: row.id, reference: 'A-1', count: 42, kept: 'same', added_later: 'fresh' });
    // The trashed field's value waits in its parked column, and comes back with the field.
    expect((await app.request('POST', `/tables/${t.id}/fields/${f.note}/restore`)).status).to.equal(200);
    expect((await getRow(t.id, row.id)).body.note).to.equal('a note');
  });

  it('a retyped field whose old value no longer fits: 409 naming the field, and nothing restored', async () => {
    seq += 1;
    const t = await createTable(app, `Retyped ${seq}`, [{ name: 'Size', type: 'text' }]);
    const row = (await app.request('POST', `/tables/${t.id}/rows`, { json: { size: 'large' } })).body;
    expect((await app.request('DELETE', `/tables/${t.id}/rows/${row.id}`)).status).to.equal(204);
    expect((await app.request('PATCH', `/tables/${t.id}/fields/${t.fields[0]!.id}`, { json: { type: 'number' } })).status).to.equal(200);
    const res = await app.request('POST', `/tables/${t.id}/rows/${row.id}/restore`);
    expect(res.status, res.text).to.equal(409);
    expect(res.body.error.code).to.equal('value_does_not_fit');
    expect(res.body.error.field).to.equal('size');
    expect((await trash(t.id)).rows.map((r) => r.id)).to.deep.equal([row.id]);
  });

  it('two restores of one row at once: one brings it back, the other is told it is not in the trash', async () => {
    const { t, row } = await tableWithRow();
    expect((await app.request('DELETE', `/tables/${t.id}/rows/${row.id}`)).status).to.equal(204);
    const answers = await Promise.all([1, 2, 3].map(() => app.request('POST', `/tables/${t.id}/rows/${row.id}/restore`)));
    expect(answers.map((a) => a.status).sort()).to.deep.equal([200, 404, 404]);
    expect((await getRow(t.id, row.id as number)).body).to.deep.equal(row);
    const { n } = await sql.one(`SELECT count(*)::int AS n FROM tablewright.row_history WHERE table_id = $1 AND op = 'restore'`, [t.id]);
    expect(n, 'restored once').to.equal(1);
  });

  it('viewers read the trash; only editors restore; bad input is a 400 naming it', async () => {
    const { t, row } = await tableWithRow();
    expect((await app.request('DELETE', `/tables/${t.id}/rows/${row.id}`)).status).to.equal(204);
    const viewer = await createTestToken(app, 'viewer');
    expect((await request(app.url, 'GET', `/tables/${t.id}/rows/trash`, { auth: { token: viewer } })).status).to.equal(200);
    expect((await request(app.url, 'POST', `/tables/${t.id}/rows/${row.id}/restore`, { auth: { token: viewer } })).status).to.equal(403);
    for (const [body, field] of [[{ ids: [] }, 'ids'], [{ ids: ['x'] }, 'ids'], [{ ids: [-1] }, 'ids'], [{}, 'ids']] as const) {
      const res = await app.request('POST', `/tables/${t.id}/rows/restore`, { json: body });
      expect(res.status, JSON.stringify(body)).to.equal(400);
      expect(res.body.error.field).to.equal(field);
    }
    expect((await app.request('GET', `/tables/${t.id}/rows/trash?page=0`)).status).to.equal(400);
    expect((await app.request('GET', `/tables/${t.id}/rows/trash?size=100000`)).status).to.equal(400);
  });
});
