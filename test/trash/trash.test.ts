// The trash listing (GET /trash and its page) and purging by hand: what is listed, with
// age, author, row count and size; a purge names what it drops and needs it typed back.
import { expect } from 'chai';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';
import { createTable, QUIET } from '../introspect/lib.js';

describe('trash: listing, restore and purge by hand', () => {
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let orders: { id: number; fields: Array<{ id: number }> };
  let archive: { id: number };

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url, QUIET);
    sql = await Sql.connect(db.url);
    orders = await createTable(app, 'Orders', [{ name: 'Title', type: 'text' }, { name: 'Notes', type: 'long_text' }]);
    archive = await createTable(app, 'Archive', [{ name: 'Body', type: 'text' }]);
    await sql.exec(`INSERT INTO data.orders (title, notes) SELECT 'o' || g, repeat('x', 500) FROM generate_series(1, 200) g`);
    await sql.exec(`UPDATE data.orders SET notes = NULL WHERE id > 150`);
    await sql.exec(`INSERT INTO data.archive (body) SELECT repeat('y', 1000) FROM generate_series(1, 50)`);
    expect((await app.request('DELETE', `/tables/${orders.id}/fields/${orders.fields[1]!.id}`)).status).to.equal(200);
    expect((await app.request('DELETE', `/tables/${archive.id}`)).status).to.equal(200);
    await sql.exec(`CREATE TABLE data.dba_stash (id int PRIMARY KEY, v text)`);
    await sql.exec(`INSERT INTO data.dba_stash SELECT g, 'v' FROM generate_series(1, 7) g`);
    await sql.exec(`ALTER TABLE data.orders ADD COLUMN psql_extra int`);
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  it('GET /trash lists trashed tables and fields and the orphans, each with when, by whom, rows and size on disk', async () => {
    const res = await app.request('GET', '/trash');
    expect(res.status, res.text).to.equal(200);
    const l = res.body;
    expect(l.retention).to.equal('7d');
    const table = l.tables.find((t: { id: number }) => t.id === archive.id);
    expect(table).to.include({ kind: 'table', name: 'Archive', physical: `data_trash._tw_t${archive.id}_archive`, rows: 50, exists: true, due: false });
    expect(table.trashed_by).to.match(/^token:/);
    expect(table.bytes).to.be.greaterThan(8192);
    expect(new Date(table.purge_at).getTime() - new Date(table.trashed_at).getTime()).to.equal(7 * 86_400_000);
    const field = l.fields.find((f: { id: number }) => f.id === orders.fields[1]!.id);
    expect(field).to.include({ kind: 'field', name: 'Notes', table: 'Orders', rows: 150, reason: 'deleted', exists: true });
    expect(field.physical).to.equal(`data.orders._tw_f${orders.fields[1]!.id}_notes`);
    expect(field.bytes).to.be.greaterThan(150 * 500);
    const orphans = Object.fromEntries(l.orphans.map((o: { physical: string }) => [o.physical, o]));
    expect(orphans['data.dba_stash']).to.include({ kind: 'untracked_table', rows: 7, trashed_at: null, due: false, drift_item: 'untracked_table:data:dba_stash' });
    expect(orphans['data.orders.psql_extra']).to.include({ kind: 'untracked_column', rows: 0 });
    expect(l.totals.objects).to.equal(4);
  });

  it('the trash page shows each object with its size and a purge form naming what it drops', async () => {
    const res = await app.request('GET', '/trash', { headers: { Accept: 'text/html' } });
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/html/);
    expect(res.text).to.include(`data_trash._tw_t${archive.id}_archive`);
    expect(res.text).to.match(/\d+ kB/);
    expect(res.text).to.include('Orphans (untracked)');
    expect(res.text).to.include('data.dba_stash');
    expect(res.text).to.include(`This drops <code>data.orders._tw_f${orders.fields[1]!.id}_notes</code> (150 values,`);
    // htmx gets the panel alone
    const frag = await app.request('GET', '/trash', { headers: { 'HX-Request': 'true' } });
    expect(frag.text.trimStart()).to.match(/^<section id="trash-panel"/);
  });

  it('purging a field without the confirmation answers 422 naming what would be dropped, and changes nothing', async () => {
    const before = await sql.snapshot();
    const res = await app.request('POST', `/trash/fields/${orders.fields[1]!.id}/purge`, { json: {} });
    expect(res.status).to.equal(422);
    expect(res.body.error.code).to.equal('confirmation_required');
    expect(res.body.error.details.confirm).to.equal(`data.orders._tw_f${orders.fields[1]!.id}_notes`);
    expect(await sql.snapshot()).to.deep.equal(before);
  });

  it('purging a field with the confirmation drops its column and metadata in one audited schema change', async () => {
    const fid = orders.fields[1]!.id;
    const version = (await sql.one(`SELECT version FROM tablewright.tables WHERE id = $1`, [orders.id])).version;
    const res = await app.request('POST', `/trash/fields/${fid}/purge`, { json: { confirm: `data.orders._tw_f${fid}_notes` } });
    expect(res.status, res.text).to.equal(200);
    expect(await sql.rows(`SELECT 1 FROM pg_attribute WHERE attrelid = 'data.orders'::regclass AND attname = $1 AND NOT attisdropped`, [`_tw_f${fid}_notes`])).to.have.length(0);
    expect(await sql.rows(`SELECT 1 FROM tablewright.fields WHERE id = $1`, [fid])).to.have.length(0);
    const audit = await sql.one(`SELECT operation, field_id, version, ddl, details FROM tablewright.audit ORDER BY id DESC LIMIT 1`);
    expect(audit).to.include({ operation: 'purge_field', field_id: fid, version: version + 1 });
    expect(audit.ddl).to.include('DROP COLUMN');
    expect(audit.details.trashed_by).to.match(/^token:/);
  });

  it('restore from the trash page puts a table back; purging a table drops it and forgets it', async () => {
    const res = await app.request('POST', `/trash/tables/${archive.id}/restore`, { form: {}, headers: { Accept: 'text/html' } });
    expect(res.status).to.equal(303);
    expect(res.headers.get('location')).to.equal('/trash');
    expect((await sql.one(`SELECT to_regclass('data.archive') IS NOT NULL AS ok`)).ok).to.equal(true);
    expect((await app.request('DELETE', `/tables/${archive.id}`)).status).to.equal(200);
    const wrong = await app.request('POST', `/trash/tables/${archive.id}/purge`, { json: { confirm: 'archive' } });
    expect(wrong.status).to.equal(422);
    const ok = await app.request('POST', `/trash/tables/${archive.id}/purge`, { json: { confirm: `data_trash._tw_t${archive.id}_archive` } });
    expect(ok.status, ok.text).to.equal(200);
    expect((await sql.one(`SELECT to_regclass($1) AS r`, [`data_trash._tw_t${archive.id}_archive`])).r).to.equal(null);
    expect(await sql.rows(`SELECT 1 FROM tablewright.tables WHERE id = $1`, [archive.id])).to.have.length(0);
    expect((await sql.one(`SELECT operation, table_id FROM tablewright.audit ORDER BY id DESC LIMIT 1`))).to.deep.equal({ operation: 'purge_table', table_id: archive.id });
  });

  it('a live table cannot be purged (409 not_trashed), nor a table another table links to (409 linked)', async () => {
    const res = await app.request('POST', `/trash/tables/${orders.id}/purge`, { json: { confirm: 'data.orders' } });
    expect(res.status).to.equal(409);
    expect(res.body.error.code).to.equal('not_trashed');
    const target = await createTable(app, 'Target', [{ name: 'A', type: 'text' }]);
    await createTable(app, 'Pointer', [{ name: 'T', type: 'link', options: { table_id: target.id } }]);
    expect((await app.request('DELETE', `/tables/${target.id}`)).status).to.equal(200);
    const linked = await app.request('POST', `/trash/tables/${target.id}/purge`, { json: { confirm: `data_trash._tw_t${target.id}_target` } });
    expect(linked.status).to.equal(409);
    expect(linked.body.error.code).to.equal('linked');
  });
});
