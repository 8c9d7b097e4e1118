// A table's id is filled by PostgreSQL (an identity column): no client writes it. A DBA who
// drops that identity in psql makes every new row fail. Before, the API answered 422 "id is
// required" (nothing a client could fix) and reconcile said the table was clean, also in
// its first pass (drift_candidates.sql), which vouched for the table. Now: 409
// id_not_generated, a drift item that offers to restore the identity, numbering after the
// largest id; a sequence default a DBA put instead counts as filled.
import { expect } from 'chai';
import { useApp, type TestApp } from '../helpers/app.js';
import type { Sql } from '../helpers/sql.js';
import { act, createTable, expectClean, onlyItem, QUIET } from './lib.js';

describe('reconcile: an id column no longer filled by PostgreSQL', () => {
  let app: TestApp;
  let sql: Sql;
  useApp((s) => ({ app, sql } = s), QUIET);

  it('identity dropped in psql: creates answer 409 id_not_generated, reconcile reports it, restore numbers after the largest id', async () => {
    const t = await createTable(app, 'Tickets', [{ name: 'Title', type: 'text' }]);
    for (const title of ['a', 'b', 'c']) expect((await app.request('POST', `/tables/${t.id}/rows`, { json: { title } })).status).to.equal(201);
    await sql.exec(`DELETE FROM data.tickets WHERE title = 'c'`); // the largest id counts, not the sequence
    await sql.exec(`ALTER TABLE data.tickets ALTER COLUMN id DROP IDENTITY`);

    const refused = await app.request('POST', `/tables/${t.id}/rows`, { json: { title: 'd' } });
    expect(refused.status, refused.text).to.equal(409);
    expect(refused.body.error.code).to.equal('id_not_generated');
    const bulk = await app.request('POST', `/tables/${t.id}/rows`, { json: [{ title: 'd' }, { title: 'e' }] });
    expect(bulk.status, bulk.text).to.equal(409);

    const item = await onlyItem(app, 'id_not_generated');
    expect(item.id).to.equal(`id_not_generated:t${t.id}`);
    expect(item.actions.map((a: { name: string }) => a.name)).to.deep.equal(['restore', 'ignore']);

    const done = await act(app, item.id, 'restore');
    expect(done.result.next_id).to.equal('3');
    const rows = await sql.rows(`SELECT attidentity, (SELECT relname FROM pg_class WHERE oid = pg_get_serial_sequence('data.tickets', 'id')::regclass) AS seq FROM pg_attribute WHERE attrelid = 'data.tickets'::regclass AND attname = 'id'`);
    expect(rows[0]).to.deep.equal({ attidentity: 'a', seq: `seq_t${t.id}` });
    await expectClean(app, 'after the restore');
    const made = await app.request('POST', `/tables/${t.id}/rows`, { json: { title: 'd' } });
    expect(made.status, made.text).to.equal(201);
    expect(made.body.id).to.equal(3);
    const audit = await sql.one(`SELECT operation, ddl FROM tablewright.audit WHERE table_id = $1 ORDER BY id DESC LIMIT 1`, [t.id]);
    expect(audit.operation).to.equal('restore_id_identity');
    expect(audit.ddl).to.include('ADD GENERATED ALWAYS AS IDENTITY');
  });

  it('a sequence default a DBA put in place of the identity fills id: no item, rows are made', async () => {
    const t = await createTable(app, 'Orders', [{ name: 'Title', type: 'text' }]);
    await sql.exec(`ALTER TABLE data.orders ALTER COLUMN id DROP IDENTITY`);
    await sql.exec(`CREATE SEQUENCE data.orders_id_by_hand START 100`);
    await sql.exec(`ALTER TABLE data.orders ALTER COLUMN id SET DEFAULT nextval('data.orders_id_by_hand')`);
    await expectClean(app, 'a default fills id');
    const made = await app.request('POST', `/tables/${t.id}/rows`, { json: { title: 'x' } });
    expect(made.status, made.text).to.equal(201);
    expect(made.body.id).to.equal(100);
  });

  it('an item a DBA resolved meanwhile (a default put on id): the action answers 404 and changes nothing; restored once the default is gone', async () => {
    const t = await createTable(app, 'Notes', [{ name: 'Title', type: 'text' }]);
    await sql.exec(`ALTER TABLE data.notes ALTER COLUMN id DROP IDENTITY`);
    const item = await onlyItem(app, 'id_not_generated');
    await sql.exec(`ALTER TABLE data.notes ALTER COLUMN id SET DEFAULT 7`);
    // the action reads a fresh report: the item is gone (resolved by the DBA)
    const res = await app.request('POST', '/reconcile/actions', { json: { item: item.id, action: 'restore' } });
    expect(res.status, res.text).to.equal(404);
    expect((await sql.one(`SELECT attidentity FROM pg_attribute WHERE attrelid = 'data.notes'::regclass AND attname = 'id'`)).attidentity).to.equal('');
    await sql.exec(`ALTER TABLE data.notes ALTER COLUMN id DROP DEFAULT`);
    await act(app, item.id, 'restore');
    await expectClean(app);
    expect((await app.request('POST', `/tables/${t.id}/rows`, { json: { title: 'x' } })).status).to.equal(201);
  });
});
