// Undo of one's own row actions (issue 16): the console's notice after a cell edit, an
// added row or a deleted row offers Undo, named by the action's request id; the server
// takes back exactly what that request did, through the history and the row trash, and
// refuses (naming the change) when someone else changed the same values since.
import { expect } from 'chai';
import { createTestToken, request, type TestApp } from '../helpers/app.js';
import type { TestDatabase } from '../helpers/db.js';
import type { Sql } from '../helpers/sql.js';
import { useAppAndSql } from './lib.js';
import { createTable } from '../introspect/lib.js';

describe('undo of row actions (issue 16)', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let other: string;
  useAppAndSql(async (s) => {
    ({ db, app, sql } = s);
    other = await createTestToken(app, 'editor', 'someone else');
  });

  const HX = { 'HX-Request': 'true', Accept: 'text/html' };
  let seq = 0;
  async function table() {
    seq += 1;
    const t = await createTable(app, `Undo ${seq}`, [{ name: 'Name', type: 'text' }, { name: 'Price', type: 'number', options: { decimals: 2 } }]);
    const id = (await app.request('POST', `/tables/${t.id}/rows`, { json: { name: 'first', price: '1.00' } })).body.id as number;
    return { t, id };
  }
  /** A cell saved in the grid: the undo offer its notice carries. */
  async function editCell(tableId: number, id: number, column: string, value: string) {
    const res = await app.request('PATCH', `/tables/${tableId}/rows/${id}/cells/${column}`, { form: { value }, headers: HX });
    expect(res.status, res.text).to.equal(200);
    const request = /data-undo-request="([^"]+)"/.exec(res.text)?.[1];
    expect(request, 'the saved cell comes with an undo notice (out of band, into the flash area)').to.be.a('string');
    expect(res.text).to.include('hx-swap-oob');
    return { request: request!, rows: String(id) };
  }
  const undo = (tableId: number, offer: { request: string; rows: string }, opts: { token?: string; html?: boolean } = {}) =>
    request(app.url, 'POST', `/tables/${tableId}/rows/undo`, { auth: { token: opts.token ?? app.adminToken }, json: opts.html ? undefined : offer, form: opts.html ? offer : undefined, headers: opts.html ? HX : {} });
  const row = async (tableId: number, id: number) => (await app.request('GET', `/tables/${tableId}/rows/${id}`)).body;

  it('undoes a cell edit: the old value comes back, and the undo is itself in the history', async () => {
    const { t, id } = await table();
    const offer = await editCell(t.id, id, 'name', 'second');
    expect((await row(t.id, id)).name).to.equal('second');
    const res = await undo(t.id, offer, { html: true });
    expect(res.status, res.text).to.equal(200);
    expect(res.text, 'the grid comes back with a notice').to.include('Undone: edit of row').and.to.include('id="grid"');
    expect((await row(t.id, id)).name).to.equal('first');
    const [latest] = (await app.request('GET', `/tables/${t.id}/rows/${id}/history`)).body.entries;
    expect(latest.reason).to.equal('undo');
    expect(latest.changes).to.deep.equal({ name: { old: 'second', new: 'first' } });
  });

  it("is refused over someone else's later change to the same value, naming that change; allowed when they changed another one", async () => {
    const { t, id } = await table();
    const mine = await editCell(t.id, id, 'name', 'mine');
    expect((await request(app.url, 'PATCH', `/tables/${t.id}/rows/${id}`, { auth: { token: other }, json: { price: '2.00' } })).status).to.equal(200);
    const ok = await undo(t.id, mine);
    expect(ok.status, `another column: ${ok.text}`).to.equal(200);
    expect(await row(t.id, id)).to.deep.include({ name: 'first', price: 2 });

    const again = await editCell(t.id, id, 'name', 'mine again');
    expect((await request(app.url, 'PATCH', `/tables/${t.id}/rows/${id}`, { auth: { token: other }, json: { name: 'theirs' } })).status).to.equal(200);
    const refused = await undo(t.id, again);
    expect(refused.status, refused.text).to.equal(409);
    expect(refused.body.error.code).to.equal('undo_conflict');
    expect(refused.body.error.message).to.include('token:someone else').and.to.include('changed Name of row').and.to.include('history entry');
    expect(refused.body.error.details.actor).to.match(/^token:someone else/);
    expect((await row(t.id, id)).name, 'nothing changed').to.equal('theirs');

    // A change made in psql counts as someone else's too.
    const third = await editCell(t.id, id, 'price', '5.00');
    await sql.exec(`UPDATE data.${t.table_name} SET price = 6 WHERE id = $1`, [id]);
    const byDba = await undo(t.id, third);
    expect(byDba.status).to.equal(409);
    expect(byDba.body.error.message).to.include('db:postgres changed Price');
  });

  it('undoes an added row (to the trash) and a deleted row (back, with its links)', async () => {
    const { t } = await table();
    const added = await app.request('POST', `/tables/${t.id}/grid/rows`, { form: { name: 'added' }, headers: HX });
    expect(added.status, added.text).to.equal(201);
    const addOffer = { request: /data-undo-request="([^"]+)"/.exec(added.text)![1]!, rows: /data-undo-rows="([^"]+)"/.exec(added.text)![1]! };
    const addedId = Number(addOffer.rows);
    expect((await undo(t.id, addOffer)).status).to.equal(200);
    expect((await app.request('GET', `/tables/${t.id}/rows/${addedId}`)).status).to.equal(404);
    expect((await app.request('GET', `/tables/${t.id}/rows/trash`)).body.rows.map((r: { id: number }) => r.id)).to.include(addedId);

    const people = await createTable(app, `Linked ${seq}`, [{ name: 'Who', type: 'text' }, { name: 'Thing', type: 'link', options: { table_id: t.id } }]);
    const linker = (await app.request('POST', `/tables/${people.id}/rows`, { json: { who: 'x', thing: 1 } })).body;
    const target = linker.thing.id as number;
    const del = await app.request('DELETE', `/tables/${t.id}/grid/rows/${target}`, { headers: HX });
    const delOffer = { request: /data-undo-request="([^"]+)"/.exec(del.text)![1]!, rows: String(target) };
    expect((await app.request('GET', `/tables/${people.id}/rows/${linker.id}`)).body.thing).to.equal(null);
    const res = await undo(t.id, delOffer);
    expect(res.status, res.text).to.equal(200);
    expect((await row(t.id, target)).name).to.equal('first');
    expect((await app.request('GET', `/tables/${people.id}/rows/${linker.id}`)).body.thing.id, 'its link came back too').to.equal(target);
  });

  it("refuses someone else's action (403), an action that changed nothing (409), and bad input (400 naming it)", async () => {
    const { t, id } = await table();
    const offer = await editCell(t.id, id, 'name', 'x');
    const notMine = await undo(t.id, offer, { token: other });
    expect(notMine.status).to.equal(403);
    expect(notMine.body.error.code).to.equal('not_yours');
    const same = await editCell(t.id, id, 'name', 'x');
    const nothing = await undo(t.id, same);
    expect(nothing.status).to.equal(409);
    expect(nothing.body.error.code).to.equal('nothing_to_undo');
    for (const [body, field] of [[{ rows: '1' }, 'request'], [{ request: 'r r', rows: '1' }, 'request'], [{ request: 'abc' }, 'rows'], [{ request: 'abc', rows: 'x' }, 'rows']] as const) {
      const res = await app.request('POST', `/tables/${t.id}/rows/undo`, { json: body });
      expect(res.status, JSON.stringify(body)).to.equal(400);
      expect(res.body.error.field).to.equal(field);
    }
  });
});
