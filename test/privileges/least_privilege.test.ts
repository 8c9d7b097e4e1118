// Tablewright run as a role that owns only its database, or that may not even create
// schemas in it: it starts when the schemas exist, says exactly which GRANT is missing
// when they do not, answers 409 with the statement to run (never 500) for a table another
// role owns, and lists what it can and cannot do (`tablewright doctor`, /readyz?details=1).
import { expect } from 'chai';
import pg from 'pg';
import { ident, literal } from '../../server/db/ident.js';
import { loadConfig } from '../../server/config.js';
import { start } from '../../server/main.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { serverAdminUrl, testLog, withDatabaseName } from '../helpers/db.js';
import { runCli } from '../helpers/process.js';
import { Sql } from '../helpers/sql.js';
import { QUIET } from '../introspect/lib.js';

const ROLE = `tw_app_${process.pid}`;
const PASSWORD = 'least-privilege';

function asRole(url: string): string {
  const u = new URL(url);
  u.username = ROLE;
  u.password = PASSWORD;
  return u.toString();
}

describe('a least-privilege role', function () {
  this.timeout(90_000);
  const databases: string[] = [];
  let admin: Sql;
  const apps: TestApp[] = [];

  before(async () => {
    admin = await Sql.connect(serverAdminUrl());
    await admin.exec(`DROP ROLE IF EXISTS ${ident(ROLE)}`);
    await admin.exec(`CREATE ROLE ${ident(ROLE)} LOGIN PASSWORD ${literal(PASSWORD)}`);
  });
  after(async () => {
    for (const a of apps) await a.stop();
    for (const d of databases) await admin.exec(`DROP DATABASE IF EXISTS ${ident(d)} WITH (FORCE)`);
    await admin.exec(`DROP ROLE IF EXISTS ${ident(ROLE)}`);
    await admin.end();
  });

  async function database(suffix: string, owner?: string): Promise<string> {
    const name = `tw_priv_${process.pid}_${suffix}`;
    await admin.exec(`CREATE DATABASE ${ident(name)} TEMPLATE template0${owner ? ` OWNER ${ident(owner)}` : ''}`);
    databases.push(name);
    return withDatabaseName(serverAdminUrl(), name);
  }

  it('without CREATE on the database, it starts when an administrator made the schemas (it used to need CREATE anyway)', async () => {
    const url = await database('schemas');
    const su = await Sql.connect(url);
    try {
      await su.exec(`GRANT CONNECT ON DATABASE ${ident(new URL(url).pathname.slice(1))} TO ${ident(ROLE)}`);
      for (const s of ['tablewright', 'data', 'data_trash']) await su.exec(`CREATE SCHEMA ${ident(s)} AUTHORIZATION ${ident(ROLE)}`);
      expect((await su.one(`SELECT has_database_privilege($1, current_database(), 'CREATE') AS c`, [ROLE])).c).to.equal(false);
    } finally {
      await su.end();
    }
    const app = await startApp(asRole(url), QUIET, 'least privilege');
    apps.push(app);
    expect((await app.request('GET', '/readyz')).status).to.equal(200);
    const t = await app.request('POST', '/tables', { json: { name: 'Works', fields: [{ name: 'Name', type: 'text' }] } });
    expect(t.status, t.text).to.equal(201);
  });

  it('without the schemas and without CREATE, the start fails with the statement to run', async () => {
    const url = await database('bare');
    await admin.exec(`GRANT CONNECT ON DATABASE ${ident(new URL(url).pathname.slice(1))} TO ${ident(ROLE)}`);
    const config = loadConfig({ DATABASE_URL: asRole(url), PORT: '0', LOG_LEVEL: 'silent', ...QUIET });
    const err = await start(config, testLog).then(
      (i) => i.stop().then(() => undefined),
      (e: Error) => e,
    );
    expect(err, 'the start fails').to.be.instanceOf(Error);
    expect(err!.message).to.include(`CREATE SCHEMA tablewright AUTHORIZATION ${ROLE};`);
    expect(err!.message).to.include(`GRANT CREATE ON DATABASE`);
  });

  describe('owning only its database', () => {
    let url: string;
    let app: TestApp;
    before(async () => {
      url = await database('owner', ROLE);
      app = await startApp(asRole(url), QUIET, 'database owner');
      apps.push(app);
      const su = await Sql.connect(url);
      try {
        // a table a DBA made as another role, in the managed schema
        await su.exec(`CREATE TABLE data.theirs (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, note text)`);
        await su.exec(`GRANT SELECT ON data.theirs TO ${ident(ROLE)}`);
      } finally {
        await su.end();
      }
    });

    it('adopting a table another role owns answers 409 naming the ALTER ... OWNER TO to run (it used to answer 500), and changes nothing', async () => {
      const res = await app.request('POST', '/reconcile/actions', { json: { item: 'untracked_table:data:theirs', action: 'adopt' } });
      expect(res.status, res.text).to.equal(409);
      expect(res.body.error.code).to.equal('insufficient_privilege');
      expect(res.body.error.message).to.include(`ALTER TABLE "data"."theirs" OWNER TO ${ROLE};`);
      expect((await app.request('GET', '/tables')).body.tables).to.deep.equal([]);
      const purge = await app.request('POST', '/reconcile/actions', { json: { item: 'untracked_table:data:theirs', action: 'purge', confirm: 'data.theirs' } });
      expect(purge.status, purge.text).to.equal(409);
    });

    it('`tablewright doctor` and GET /readyz?details=1 (admin) list what the role can and cannot do', async () => {
      const ready = await app.request('GET', '/readyz?details=1');
      expect(ready.status).to.equal(200);
      const caps = Object.fromEntries(ready.body.privileges.capabilities.map((c: { key: string; ok: boolean; detail: string }) => [c.key, c]));
      expect(ready.body.privileges.role).to.equal(ROLE);
      expect(caps.create_schemas.ok).to.equal(true);
      expect(caps.data_schema.ok).to.equal(true);
      expect(caps.own_tables.ok).to.equal(false);
      expect(caps.own_tables.detail).to.include('data.theirs (owner');
      expect(caps.event_triggers.ok).to.equal(false);
      expect((await app.request('GET', '/readyz?details=1', { auth: false })).body.privileges, 'never to anonymous callers').to.equal(undefined);

      const cli = runCli(['doctor'], { DATABASE_URL: asRole(url) });
      let stdout = '';
      cli.child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
      const { code } = await cli.exited;
      expect(code, cli.output()).to.equal(3);
      expect(stdout).to.match(/NO\s+own_tables/);
      expect(stdout).to.include('ALTER TABLE ... OWNER TO');

      const su = new pg.Client({ connectionString: url });
      await su.connect();
      await su.query(`ALTER TABLE data.theirs OWNER TO ${ident(ROLE)}`);
      await su.end();
      const adopted = await app.request('POST', '/reconcile/actions', { json: { item: 'untracked_table:data:theirs', action: 'adopt' } });
      expect(adopted.status, adopted.text).to.equal(200);
    });
  });
});
