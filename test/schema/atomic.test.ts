// Every schema change is atomic: DDL, metadata, version, audit and NOTIFY commit together
// or not at all, and a busy table answers 409 within lock_timeout.
import { expect } from 'chai';
import { failpoint, SCHEMA_CHANNEL, STEPS } from '../../server/schema/change.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';

describe('schema changes are atomic', () => {
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  let tableId: number;
  let fieldId: number;

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url, { LOCK_TIMEOUT_MS: '300' });
    sql = await Sql.connect(db.url);
    const t = await app.request('POST', '/tables', { json: { name: 'Orders', fields: [{ name: 'Title', type: 'text' }, { name: 'Qty', type: 'number' }] } });
    expect(t.status, t.text).to.equal(201);
    tableId = t.body.id;
    fieldId = t.body.fields[1].id;
    await sql.exec(`INSERT INTO data.orders (title, qty) VALUES ('a', 1), ('b', NULL), ('c', 3)`);
  });
  afterEach(() => {
    delete failpoint.step;
  });
  after(async () => {
    delete failpoint.step;
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  // One representative request per kind of operation; each must leave no trace when any
  // step fails.
  const operations: Array<[string, () => Promise<{ status: number; text: string }>]> = [
    ['create a table', () => app.request('POST', '/tables', { json: { name: 'Customers' } })],
    ['rename a table', () => app.request('PATCH', `/tables/${tableId}`, { json: { name: 'Purchase orders' } })],
    ['trash a table', () => app.request('DELETE', `/tables/${tableId}`)],
    ['add a field', () => app.request('POST', `/tables/${tableId}/fields`, { json: { name: 'Note', type: 'text', unique: true, indexed: true } })],
    ['rename a field', () => app.request('PATCH', `/tables/${tableId}/fields/${fieldId}`, { json: { name: 'Quantity' } })],
    ['change a type', () => app.request('PATCH', `/tables/${tableId}/fields/${fieldId}`, { json: { type: 'text' } })],
    ['set a default and an index', () => app.request('PATCH', `/tables/${tableId}/fields/${fieldId}`, { json: { default: 5, indexed: true } })],
    ['trash a field', () => app.request('DELETE', `/tables/${tableId}/fields/${fieldId}`)],
  ];

  for (const [label, run] of operations) {
    for (const step of STEPS) {
      it(`${label}: a failure at step "${step}" leaves catalog and metadata exactly as before`, async () => {
        const before = await sql.snapshot();
        failpoint.step = step;
        const res = await run();
        delete failpoint.step;
        expect(res.status, res.text).to.equal(500);
        expect(JSON.parse(res.text).error.code, 'failed at the failpoint, not for another reason').to.equal('failpoint');
        expect(await sql.snapshot()).to.deep.equal(before);
      });
    }
  }

  it('without a failpoint the same change commits, with version, audit and global version bumped once', async () => {
    const before = await sql.one(`SELECT version FROM tablewright.tables WHERE id = $1`, [tableId]);
    const state = await sql.one(`SELECT version FROM tablewright.schema_state`);
    const res = await app.request('PATCH', `/tables/${tableId}/fields/${fieldId}`, { json: { name: 'Quantity', column: 'quantity' } });
    expect(res.status, res.text).to.equal(200);
    expect(res.body.version).to.equal(before.version + 1);
    expect((await sql.one(`SELECT version FROM tablewright.schema_state`)).version).to.equal(Number(state.version) + 1);
    const audit = await sql.one(`SELECT * FROM tablewright.audit ORDER BY id DESC LIMIT 1`);
    expect(audit.operation).to.equal('update_field');
    expect(audit.version).to.equal(before.version + 1);
    expect(audit.ddl).to.include('RENAME COLUMN "qty" TO "quantity"');
    expect(audit.actor).to.match(/^token:/);
  });

  it('notifies listeners on commit, and never for a change that rolled back', async () => {
    const received: Array<{ table_id: number; version: number; op: string }> = [];
    sql.raw.on('notification', (n) => {
      if (n.channel === SCHEMA_CHANNEL) received.push(JSON.parse(n.payload!));
    });
    await sql.exec(`LISTEN ${SCHEMA_CHANNEL}`);
    failpoint.step = 'notify';
    expect((await app.request('PATCH', `/tables/${tableId}/fields/${fieldId}`, { json: { name: 'Rolled back' } })).status).to.equal(500);
    delete failpoint.step;
    const ok = await app.request('PATCH', `/tables/${tableId}/fields/${fieldId}`, { json: { name: 'Amount' } });
    expect(ok.status).to.equal(200);
    await sql.exec('SELECT 1'); // let the notification arrive
    await new Promise((r) => setTimeout(r, 50));
    await sql.exec(`UNLISTEN ${SCHEMA_CHANNEL}`);
    expect(received).to.have.length(1);
    expect(received[0]).to.include({ table_id: tableId, version: ok.body.version, op: 'update_field' });
  });

  it('a table locked by a long transaction: the change waits at most lock_timeout, answers 409 table_busy, and changes nothing', async () => {
    const blocker = await Sql.connect(db.url);
    try {
      await blocker.exec('BEGIN');
      await blocker.exec('LOCK TABLE data.orders IN ACCESS SHARE MODE');
      const before = await sql.snapshot();
      const started = Date.now();
      const res = await app.request('POST', `/tables/${tableId}/fields`, { json: { name: 'Blocked', type: 'text' } });
      const waited = Date.now() - started;
      expect(res.status, res.text).to.equal(409);
      expect(res.body.error.code).to.equal('table_busy');
      expect(res.body.error.message).to.match(/busy/);
      expect(waited).to.be.lessThan(5000);
      expect(await sql.snapshot()).to.deep.equal(before);
      // reads of the table carry on meanwhile
      expect((await sql.one('SELECT count(*) AS n FROM data.orders')).n).to.equal(3);
    } finally {
      await blocker.exec('ROLLBACK');
      await blocker.end();
    }
  });

  it('two changes of the same table at once are serialised by the advisory lock: both succeed, versions distinct', async () => {
    const [a, b] = await Promise.all([
      app.request('POST', `/tables/${tableId}/fields`, { json: { name: 'Left', type: 'text' } }),
      app.request('POST', `/tables/${tableId}/fields`, { json: { name: 'Right', type: 'text' } }),
    ]);
    expect([a.status, b.status]).to.deep.equal([201, 201]);
    expect(a.body.version).to.not.equal(b.body.version);
  });
});
