import { expect } from 'chai';
import pg from 'pg';
import { readMigrations } from '../../server/db/migrate.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { startApp, type TestApp } from '../helpers/app.js';

describe('metadata migrations', () => {
  let db: TestDatabase;
  const apps: TestApp[] = [];
  before(async () => {
    db = await freshDatabase({ empty: true });
  });
  after(async () => {
    await Promise.all(apps.map((a) => a.stop()));
    await db?.drop();
  });

  it('two instances starting at the same moment on an empty database both come up and apply each migration once', async () => {
    const started = await Promise.all([startApp(db.url, {}, 'a'), startApp(db.url, {}, 'b')]);
    apps.push(...started);
    for (const a of started) expect((await a.request('GET', '/healthz')).status).to.equal(200);

    const files = (await readMigrations()).map((m) => m.name);
    expect(files.length).to.be.greaterThan(0);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ name: string; n: number }>(
        'SELECT name, count(*)::int AS n FROM tablewright.migrations GROUP BY name ORDER BY name',
      );
      expect(rows.map((r) => r.name)).to.deep.equal(files);
      expect(rows.every((r) => r.n === 1)).to.equal(true);
      const schemas = await client.query<{ nspname: string }>(
        "SELECT nspname FROM pg_namespace WHERE nspname IN ('tablewright', 'data', 'data_trash') ORDER BY 1",
      );
      expect(schemas.rows.map((r) => r.nspname)).to.deep.equal(['data', 'data_trash', 'tablewright']);
    } finally {
      await client.end();
    }
  });

  it('a third start applies nothing new', async () => {
    const before = await countMigrations(db.url);
    const third = await startApp(db.url, {}, 'c');
    apps.push(third);
    expect(await countMigrations(db.url)).to.equal(before);
  });
});

async function countMigrations(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM tablewright.migrations')).rows[0]!.n;
  } finally {
    await client.end();
  }
}
