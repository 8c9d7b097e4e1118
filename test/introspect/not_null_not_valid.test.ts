// PostgreSQL 18 can add NOT NULL ... NOT VALID: attnotnull is set, yet existing rows may
// hold NULLs until VALIDATE. Reconcile reads pg_constraint.convalidated: such a column is
// not required yet, so "accept" never marks the field required while rows hold NULLs.
// (Skipped, saying so, on servers before 18, which have no such constraint.)
import { expect } from 'chai';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';
import { act, createTable, expectClean, onlyItem, QUIET } from './lib.js';

describe('reconcile: NOT NULL ... NOT VALID (PostgreSQL 18+)', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;

  before(async function () {
    db = await freshDatabase();
    sql = await Sql.connect(db.url);
    const version = Number((await sql.one('SHOW server_version_num')).server_version_num);
    if (version < 180000) {
      console.warn(`    skipped: PostgreSQL ${Math.floor(version / 10000)} has no NOT NULL ... NOT VALID`); // eslint-disable-line no-console
      this.skip();
    }
    app = await startApp(db.url, QUIET);
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  it('a NOT VALID not-null constraint is not a required field: no drift while rows hold NULLs; once validated, "accept" makes it required', async () => {
    const t = await createTable(app, 'Contacts', [{ name: 'Email', type: 'text' }]);
    await sql.exec(`INSERT INTO data.contacts (email) VALUES (NULL), ('a@example.com')`);
    await sql.exec(`ALTER TABLE data.contacts ADD CONSTRAINT email_nn NOT NULL email NOT VALID`);
    expect((await sql.one(`SELECT attnotnull FROM pg_attribute WHERE attrelid = 'data.contacts'::regclass AND attname = 'email'`)).attnotnull, 'the catalog flag is set').to.equal(true);
    await expectClean(app, 'rows still hold NULLs: the field is not required, and that is no drift');
    await sql.exec(`UPDATE data.contacts SET email = 'b@example.com' WHERE email IS NULL`);
    await sql.exec(`ALTER TABLE data.contacts VALIDATE CONSTRAINT email_nn`);
    const item = await onlyItem(app, 'constraint_changed');
    expect(item.actual).to.deep.equal({ not_null: true });
    await act(app, item.id, 'accept');
    const f = (await app.request('GET', `/tables/${t.id}`)).body.fields[0];
    expect(f.not_null).to.equal(true);
    await expectClean(app);
  });
});
