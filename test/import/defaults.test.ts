// Defaults on servers before PostgreSQL 16 (no COPY DEFAULT): the engine evaluates each
// mapped column's default once (defaultTexts), and the catalog's expression never enters a
// query's text. A DBA's defaults with quotes, functions and a required column elsewhere in
// the table come back as PostgreSQL evaluates them, and only the mapped ones run.
import { expect } from 'chai';
import { withTransaction } from '../../server/db/tx.js';
import { defaultTexts } from '../../server/import/column_defaults.js';
import { compileModel } from '../../server/model/compile.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';

describe('an import evaluates column defaults without their text in a query', () => {
  let db: TestDatabase;
  let app: TestApp;
  let sql: Sql;

  before(async () => {
    db = await freshDatabase();
    app = await startApp(db.url, { PG_CONNECT_TIMEOUT_MS: '30000' });
    sql = await Sql.connect(db.url);
  });
  after(async () => {
    await sql?.end();
    await app?.stop();
    await db?.drop();
  });

  it('quotes, casts and functions in a default; a sequence default of an unmapped column is not run', async () => {
    const t = await app.request('POST', '/tables', { json: { name: 'Things', fields: [{ name: 'Label', type: 'text' }, { name: 'Note', type: 'text' }, { name: 'Qty', type: 'number' }, { name: 'Other', type: 'text' }] } });
    expect(t.status, t.text).to.equal(201);
    await sql.exec(`CREATE SEQUENCE data.things_seq`);
    await sql.exec(`ALTER TABLE data.things ALTER label SET DEFAULT 'it''s'||E'\\t'||'); DROP TABLE data.things; --'`);
    await sql.exec(`ALTER TABLE data.things ALTER note SET DEFAULT upper('x') || (1 + 2)::text`);
    await sql.exec(`ALTER TABLE data.things ALTER other SET DEFAULT nextval('data.things_seq')::text`);
    await sql.exec(`UPDATE data.things SET other = 'x'`);
    await sql.exec(`ALTER TABLE data.things ALTER other SET NOT NULL`);
    const model = await compileModel(app.ctx.pool, 'data', t.body.id as number);
    const fields = model.fields.filter((f) => ['label', 'note', 'qty'].includes(f.column));
    const got = await withTransaction(app.ctx.pool, (tx) => defaultTexts(tx, model, fields));
    expect(Object.fromEntries(got)).to.deep.equal({ label: "it's\t); DROP TABLE data.things; --", note: 'X3' });
    // the unmapped column's sequence did not move; the table is there
    expect((await sql.one(`SELECT last_value, is_called FROM data.things_seq`)).is_called).to.equal(false);
    expect(Number((await sql.one(`SELECT count(*) AS n FROM data.things`)).n)).to.equal(0);
  });
});
