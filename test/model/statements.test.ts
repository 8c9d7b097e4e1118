// The row API's statements are prepared once per connection and model version
// (server/model/statements.ts), and never where statements do not follow the client.
import { expect } from 'chai';
import { loadConfig } from '../../server/config.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { viaPgBouncer } from '../helpers/pgbouncer.js';

describe('row statements prepared per model', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  const apps: TestApp[] = [];

  before(async function () {
    if (viaPgBouncer()) this.skip(); // these read the app's own connection's prepared statements
    db = await freshDatabase();
  });
  after(async () => {
    for (const a of apps) await a.stop();
    await db?.drop();
  });

  /** The row inserts prepared on the app's one connection (PG_POOL_MAX=1), by name. */
  async function preparedInserts(app: TestApp): Promise<string[]> {
    const client = await app.ctx.pool.connect();
    try {
      const { rows } = await client.query<{ name: string }>(`SELECT name FROM pg_prepared_statements WHERE statement LIKE 'WITH t AS (INSERT INTO %' ORDER BY prepare_time`);
      return rows.map((r) => r.name);
    } finally {
      client.release();
    }
  }

  it('a create is prepared once and reused; a schema change (new version) prepares anew; the listing keeps its filters as parameters', async () => {
    const app = await startApp(db.url, { PG_POOL_MAX: '1' });
    apps.push(app);
    const table = (await app.request('POST', '/tables', { json: { name: 'Prep', fields: [{ name: 'Name', type: 'text' }, { name: 'Size', type: 'number' }] } })).body;
    for (let i = 0; i < 3; i++) expect((await app.request('POST', `/tables/${table.id}/rows`, { json: { name: `n${i}`, size: i } })).status).to.equal(201);
    const first = await preparedInserts(app);
    expect(first, 'three creates with the same columns: one prepared statement').to.have.length(1);
    expect(first[0]).to.match(/^tw_/);
    expect((await app.request('POST', `/tables/${table.id}/fields`, { json: { name: 'Note', type: 'text' } })).status).to.equal(201);
    const after = await app.request('POST', `/tables/${table.id}/rows`, { json: { name: 'x', size: 9, note: 'new column' } });
    expect(after.status, after.text).to.equal(201);
    expect(after.body.note).to.equal('new column');
    const second = await preparedInserts(app);
    expect(second, 'the new version has its own statement').to.have.length(2);
    expect(second[1]).to.not.equal(second[0]);
    // two listings with different values and the same shape: one statement, right answers
    const a = await app.request('GET', `/tables/${table.id}/rows?filter[name][contains]=n1&sort=-size`);
    const b = await app.request('GET', `/tables/${table.id}/rows?filter[name][contains]=n2&sort=-size`);
    expect(a.body.rows.map((r: { name: string }) => r.name)).to.deep.equal(['n1']);
    expect(b.body.rows.map((r: { name: string }) => r.name)).to.deep.equal(['n2']);
  });

  it('PG_PREPARE=false sends no named statement', async () => {
    const app = await startApp(db.url, { PG_POOL_MAX: '1', PG_PREPARE: 'false' });
    apps.push(app);
    const table = (await app.request('POST', '/tables', { json: { name: 'Unprepared', fields: [{ name: 'Name', type: 'text' }] } })).body;
    for (let i = 0; i < 2; i++) expect((await app.request('POST', `/tables/${table.id}/rows`, { json: { name: `n${i}` } })).status).to.equal(201);
    expect(await preparedInserts(app)).to.deep.equal([]);
  });

  it('PG_PREPARE=auto is off where LISTEN_DATABASE_URL differs from DATABASE_URL (the PgBouncer setup), on otherwise', () => {
    const url = 'postgres://u@db:5432/app';
    expect(loadConfig({ DATABASE_URL: url }).prepareStatements).to.equal(true);
    expect(loadConfig({ DATABASE_URL: url, LISTEN_DATABASE_URL: url }).prepareStatements).to.equal(true);
    expect(loadConfig({ DATABASE_URL: 'postgres://u@bouncer:6432/app', LISTEN_DATABASE_URL: url }).prepareStatements).to.equal(false);
    expect(loadConfig({ DATABASE_URL: 'postgres://u@bouncer:6432/app', LISTEN_DATABASE_URL: url, PG_PREPARE: 'true' }).prepareStatements).to.equal(true);
  });
  it('a column type changed in psql (no version bump) does not leave a prepared create or listing failing: the statements are prepared again under new names', async () => {
    const app = await startApp(db.url, { PG_POOL_MAX: '1' });
    apps.push(app);
    const table = (await app.request('POST', '/tables', { json: { name: 'Retyped', fields: [{ name: 'Name', type: 'text' }] } })).body;
    expect((await app.request('POST', `/tables/${table.id}/rows`, { json: { name: 'before' } })).status).to.equal(201);
    expect((await app.request('GET', `/tables/${table.id}/rows?sort=name`)).status).to.equal(200);
    const before = await preparedInserts(app);
    expect(before, 'the create is prepared on the one connection').to.have.length(1);
    // A DBA's change: the result type of both statements changes under them.
    const sql = await import('../helpers/sql.js').then((m) => m.Sql.connect(db.url));
    try {
      await sql.exec(`ALTER TABLE data.${table.table_name} ALTER COLUMN name TYPE varchar(200)`);
    } finally {
      await sql.end();
    }
    for (let i = 0; i < 3; i++) {
      const created = await app.request('POST', `/tables/${table.id}/rows`, { json: { name: `after ${i}` } });
      expect(created.status, `create ${i} after the psql change: ${created.text}`).to.equal(201);
      expect(created.body.name).to.equal(`after ${i}`);
      const listed = await app.request('GET', `/tables/${table.id}/rows?sort=name`);
      expect(listed.status, `listing ${i} after the psql change: ${listed.text}`).to.equal(200);
      expect(listed.body.rows.map((r: { name: string }) => r.name)).to.include(`after ${i}`);
    }
    const after = await preparedInserts(app);
    expect(after.length, 'the create was prepared again under a new name').to.equal(2);
  });
});
