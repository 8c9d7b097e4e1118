// dry_run=1 on POST /tables and PATCH /tables/:id: the change runs to its last statement
// and rolls back, so the plan lists exactly the statements the real change runs, the same
// bad input is refused the same way, and nothing changes (no table, metadata, version,
// audit row).
import { expect } from 'chai';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';
import { createTable, QUIET } from '../introspect/lib.js';

describe('plans for creating and renaming tables (dry_run=1)', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;
  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url, { ...QUIET });
    sql = await Sql.connect(db.url);
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  it('POST /tables?dry_run=1: the statements of the real create, blocking nothing but the linked table\'s writes; nothing made', async () => {
    const target = await createTable(app, 'Customers', [{ name: 'Name', type: 'text' }]);
    const before = await sql.snapshot();
    const res = await app.request('POST', '/tables?dry_run=1', {
      json: { name: 'Invoices', fields: [{ name: 'Number', type: 'text', unique: true, not_null: true }, { name: 'Customer', type: 'link', options: { table_id: target.id } }] },
    });
    expect(res.status, res.text).to.equal(200);
    const { plan } = res.body;
    expect(res.body.dry_run).to.equal(true);
    expect(plan.online).to.equal(false);
    expect(plan.steps[0].sql).to.match(/^CREATE TABLE "data"."invoices"/);
    expect(plan.steps.some((s: any) => /UNIQUE/.test(s.sql))).to.equal(true);
    const fk = plan.steps.filter((s: any) => /REFERENCES "data"."customers"/.test(s.sql));
    expect(fk, 'the link\'s foreign key').to.have.length.greaterThan(0);
    expect(fk.every((s: any) => s.blocks === 'writes')).to.equal(true);
    expect(plan.steps.filter((s: any) => !/REFERENCES/.test(s.sql)).every((s: any) => s.blocks === 'nothing'), 'a new table: nothing waits for it').to.equal(true);
    expect(await sql.snapshot(), 'a dry run changes nothing').to.deep.equal(before);

    // the same refusals as the real create
    const bad = await app.request('POST', '/tables?dry_run=1', { json: { name: 'Customers' } });
    expect(bad.status).to.equal(409);
    const badField = await app.request('POST', '/tables', { json: { name: 'X', fields: [{ name: 'A', type: 'nope' }], dry_run: 1 } });
    expect(badField.status).to.be.within(400, 499);
    expect(badField.body.error.field).to.match(/^fields\[0\]\.type|type/);
    expect(await sql.snapshot()).to.deep.equal(before);

    // and the real create runs the statements the plan listed
    const made = await app.request('POST', '/tables', {
      json: { name: 'Invoices', fields: [{ name: 'Number', type: 'text', unique: true, not_null: true }, { name: 'Customer', type: 'link', options: { table_id: target.id } }] },
    });
    expect(made.status, made.text).to.equal(201);
    const audit = await sql.one(`SELECT ddl FROM tablewright.audit WHERE operation = 'create_table' ORDER BY id DESC LIMIT 1`);
    // (ids aside: the dry run drew its ids from the sequences, and rolled back)
    const ids = (text: string) => text.replace(/\d+/g, 'N');
    expect(ids(audit.ddl)).to.equal(ids(plan.steps.map((s: any) => `${s.sql};`).join('\n')));
  });

  it('PATCH /tables/:id?dry_run=1: a display rename changes the comment only; a physical rename takes ACCESS EXCLUSIVE for an instant; nothing changes', async () => {
    const t = await createTable(app, 'Parcels', [{ name: 'Code', type: 'text' }]);
    await sql.exec(`INSERT INTO data.parcels (code) SELECT 'p' || g FROM generate_series(1, 500) g`);
    await sql.exec('ANALYZE data.parcels');
    const before = await sql.snapshot();
    const display = await app.request('PATCH', `/tables/${t.id}`, { json: { name: 'Packages', dry_run: 1 } });
    expect(display.status, display.text).to.equal(200);
    expect(display.body.plan.steps.map((s: any) => [s.class, s.blocks])).to.deep.equal([['instant', 'nothing']]);
    expect(display.body.plan.steps[0].sql).to.match(/^COMMENT ON TABLE "data"."parcels"/);
    const physical = await app.request('PATCH', `/tables/${t.id}?dry_run=1`, { json: { name: 'Packages', table_name: 'packages' } });
    expect(physical.body.plan.steps[0]).to.include({ sql: 'ALTER TABLE "data"."parcels" RENAME TO "packages"', lock: 'ACCESS EXCLUSIVE', class: 'instant', blocks: 'reads and writes' });
    expect(physical.body.plan.table.rows).to.equal(500);
    const taken = await app.request('PATCH', `/tables/${t.id}?dry_run=1`, { json: { name: 'Customers' } });
    expect(taken.status).to.equal(409);
    const badName = await app.request('PATCH', `/tables/${t.id}?dry_run=1`, { json: { table_name: 'Bad Name' } });
    expect(badName.status).to.equal(400);
    expect(badName.body.error.field).to.equal('table_name');
    expect(await sql.snapshot(), 'a dry run changes nothing').to.deep.equal(before);
  });
});
