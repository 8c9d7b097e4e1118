// Behind a real PgBouncer in pool_mode=transaction (DATABASE_URL through it,
// LISTEN_DATABASE_URL straight to the server, as README "Behind PgBouncer" says): the
// defaults start, STATEMENT_TIMEOUT_MS still bounds a statement, the session locks that
// used to leak (migrations, the cleanup leader) no longer do, and `tablewright token
// revoke` hears the confirmations. Skipped, saying so, where pgbouncer is not installed
// (`.ci/run` installs it).
import { performance } from 'node:perf_hooks';
import { expect } from 'chai';
import { createToken } from '../../server/auth/tokens.js';
import { loadConfig } from '../../server/config.js';
import { start, type Instance } from '../../server/main.js';
import { request } from '../helpers/app.js';
import { freshDatabase, serverAdminUrl, testLog, type TestDatabase } from '../helpers/db.js';
import { pgbouncerAvailable, PGBOUNCER_BIN, startPgBouncer, type Bouncer } from '../helpers/pgbouncer.js';
import { runCli } from '../helpers/process.js';
import { Sql } from '../helpers/sql.js';

describe('behind PgBouncer (pool_mode=transaction)', function () {
  this.timeout(90_000);
  let bouncer: Bouncer;
  let db: TestDatabase;
  let sql: Sql;
  const running: Instance[] = [];

  before(async function () {
    if (!pgbouncerAvailable()) {
      console.warn(`    PgBouncer tests skipped: no pgbouncer at ${PGBOUNCER_BIN} (apt-get install pgbouncer)`); // eslint-disable-line no-console
      this.skip();
    }
    bouncer = await startPgBouncer(serverAdminUrl());
    db = await freshDatabase();
    sql = await Sql.connect(db.url);
  });
  after(async () => {
    for (const i of running) await i.stop();
    await sql?.end();
    await db?.drop();
    await bouncer?.stop();
  });

  /** An instance with DATABASE_URL through the bouncer and LISTEN_DATABASE_URL direct, default settings otherwise. */
  async function startBehind(url: string, env: Record<string, string> = {}) {
    const config = loadConfig({ DATABASE_URL: bouncer.through(url), LISTEN_DATABASE_URL: url, PORT: '0', LOG_LEVEL: 'silent', LOG_FORMAT: 'json', ...env });
    const instance = await start(config, testLog.child({ instance: 'behind pgbouncer' }));
    running.push(instance);
    const token = (await createToken(instance.ctx.pool, { name: `pgbouncer ${running.length}`, role: 'admin' }, 'test')).token;
    return { instance, token, call: (method: string, path: string, json?: unknown) => request(instance.url, method, path, { auth: { token }, ...(json === undefined ? {} : { json }) }) };
  }

  it('the default settings start through it (no statement_timeout startup parameter), and STATEMENT_TIMEOUT_MS still bounds a statement', async () => {
    const app = await startBehind(db.url, { STATEMENT_TIMEOUT_MS: '400', DRIFT_CHECK_INTERVAL: 'off', CLEANUP_INTERVAL: 'off' });
    expect((await app.call('GET', '/readyz')).status).to.equal(200);
    const t = (await app.call('POST', '/tables', { name: 'Locked', fields: [{ name: 'Name', type: 'text' }] })).body;
    expect((await app.call('POST', `/tables/${t.id}/rows`, { name: 'a' })).status).to.equal(201);
    expect((await app.call('GET', `/tables/${t.id}/rows`)).status).to.equal(200);
    const locker = await Sql.connect(db.url);
    try {
      await locker.exec('BEGIN');
      await locker.exec('LOCK TABLE data.locked IN ACCESS EXCLUSIVE MODE');
      const t0 = performance.now();
      const list = await app.call('GET', `/tables/${t.id}/rows?count=0`);
      const one = await app.call('GET', `/tables/${t.id}/rows/1`);
      const ms = performance.now() - t0;
      expect(list.status, list.text).to.equal(503);
      expect(list.body.error.code).to.equal('query_timeout');
      expect(one.status, `a statement outside an explicit transaction is bounded too: ${one.text}`).to.equal(503);
      expect(ms).to.be.within(700, 8000);
      await locker.exec('ROLLBACK');
    } finally {
      await locker.end();
    }
    // the limit did not leak onto the server connections: another client of the bouncer has none
    const other = await Sql.connect(bouncer.through(db.url));
    try {
      for (let i = 0; i < 10; i++) expect((await other.one(`SHOW statement_timeout`)).statement_timeout).to.equal('0');
    } finally {
      await other.end();
    }
  });

  it('20 on-demand cleanups in a row through it all run (the leader lock is transaction-scoped and never leaks)', async () => {
    const app = await startBehind(db.url, { DRIFT_CHECK_INTERVAL: 'off', CLEANUP_INTERVAL: 'off', TRASH_RETENTION: '1s' });
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t = (await app.call('POST', '/tables', { name: `Doomed ${i}`, fields: [] })).body;
      await app.call('DELETE', `/tables/${t.id}`);
      statuses.push((await app.call('POST', '/trash/cleanup', {})).status);
    }
    expect(statuses).to.deep.equal(Array(20).fill(200));
    const held = await sql.rows(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`);
    expect(held[0].n, 'no advisory lock is left held on a server connection').to.equal(0);
  });

  it('instances starting together on an empty database through it migrate once, and `tablewright migrate` through it does not hang afterwards', async () => {
    const empty = await freshDatabase({ empty: true });
    try {
      const [a, b] = await Promise.all([startBehind(empty.url, { CLEANUP_INTERVAL: 'off' }), startBehind(empty.url, { CLEANUP_INTERVAL: 'off' })]);
      expect((await a.call('GET', '/healthz')).status).to.equal(200);
      expect((await b.call('GET', '/healthz')).status).to.equal(200);
      const check = await Sql.connect(empty.url);
      try {
        const dup = await check.rows(`SELECT name FROM tablewright.migrations GROUP BY name HAVING count(*) > 1`);
        expect(dup).to.deep.equal([]);
        expect((await check.one(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)).n).to.equal(0);
      } finally {
        await check.end();
      }
      // Other clients keep the bouncer's server connections busy, as in production: a lock
      // and its unlock sent as separate statements land on different server connections.
      let churning = true;
      const churn = Array.from({ length: 6 }, async () => {
        const c = await Sql.connect(bouncer.through(empty.url));
        try {
          while (churning) await c.exec('SELECT pg_sleep(0.01)');
        } finally {
          await c.end();
        }
      });
      try {
        for (let i = 0; i < 3; i++) {
          const cli = runCli(['migrate'], { DATABASE_URL: bouncer.through(empty.url), LOG_LEVEL: 'info' });
          const timer = setTimeout(() => cli.child.kill('SIGKILL'), 20_000);
          const { code } = await cli.exited;
          clearTimeout(timer);
          expect(code, `migrate run ${i + 1} through PgBouncer exits (it used to hang on a leaked lock):\n${cli.output()}`).to.equal(0);
        }
      } finally {
        churning = false;
        await Promise.all(churn);
      }
      for (const i of running.splice(running.length - 2)) await i.stop();
    } finally {
      await empty.drop();
    }
  });

  it('`tablewright token revoke` listens on LISTEN_DATABASE_URL: every instance confirms, and it exits at once', async () => {
    const app = await startBehind(db.url, { DRIFT_CHECK_INTERVAL: 'off', CLEANUP_INTERVAL: 'off' });
    const created = await createToken(app.instance.ctx.pool, { name: 'to revoke', role: 'viewer' }, 'test');
    expect((await request(app.instance.url, 'GET', '/me', { auth: { token: created.token } })).status).to.equal(200);
    const t0 = performance.now();
    const cli = runCli(['token', 'revoke', '--id', String(created.id)], {
      DATABASE_URL: bouncer.through(db.url),
      LISTEN_DATABASE_URL: db.url,
      BUS_PING_INTERVAL_MS: '3000',
      BUS_PING_TIMEOUT_MS: '3000',
      LOG_LEVEL: 'info',
    });
    const { code } = await cli.exited;
    const ms = performance.now() - t0;
    expect(code, cli.output()).to.equal(0);
    expect(cli.output()).to.match(/API token revoked/);
    expect(cli.output(), 'no instance left unconfirmed').not.to.match(/unconfirmed/);
    expect(ms, 'it did not wait out the confirmation timeout (6 s)').to.be.below(5500);
    expect((await request(app.instance.url, 'GET', '/me', { auth: { token: created.token } })).status).to.equal(401);
  });

  it("an online type change through it: its copy's settings hold for its own statements only (no server connection left with synchronous_commit off or reason schema), and the row history records none of its updates", async () => {
    const app = await startBehind(db.url, { DRIFT_CHECK_INTERVAL: 'off', CLEANUP_INTERVAL: 'off', JOB_POLL_MS: '50' });
    const t = (await app.call('POST', '/tables', { name: 'Gauges', fields: [{ name: 'Amount', type: 'number' }] })).body;
    await sql.exec(`INSERT INTO data.gauges (amount) SELECT g FROM generate_series(1, 5000) g`);
    const history = async () => (await sql.one(`SELECT count(*)::int AS n FROM tablewright.row_history WHERE table_id = $1`, [t.id])).n as number;
    const before = await history();
    const res = await app.call('PATCH', `/tables/${t.id}/fields/${t.fields[0].id}`, { type: 'text', online: 1, batch_pages: 1 });
    expect(res.status, res.text).to.equal(202);
    let job: { status: string; error?: unknown } = { status: 'queued' };
    for (let i = 0; i < 600 && ['queued', 'running'].includes(job.status); i++) {
      await new Promise((r) => setTimeout(r, 100));
      job = (await app.call('GET', `/jobs/${res.body.id}`)).body;
    }
    expect(job.status, JSON.stringify(job.error)).to.equal('done');
    expect(await sql.one(`SELECT count(*)::int AS n, count(*) FILTER (WHERE amount = id::text)::int AS copied FROM data.gauges`)).to.deep.equal({ n: 5000, copied: 5000 });
    expect(await history(), "the copy's updates are not edits of the rows").to.equal(before);
    // every server connection of the pool at once (transactions held open side by side)
    const probes = await Promise.all(
      Array.from({ length: 12 }, async () => {
        const c = await Sql.connect(bouncer.through(db.url));
        try {
          await c.exec('BEGIN');
          const row = await c.one(`SELECT current_setting('synchronous_commit') AS sync, coalesce(current_setting('tablewright.reason', true), '') AS reason, pg_backend_pid() AS pid, pg_sleep(0.2)::text AS slept`);
          await c.exec('COMMIT');
          return row;
        } finally {
          await c.end();
        }
      }),
    );
    expect(new Set(probes.map((p) => p.pid)).size, 'several server connections probed').to.be.above(2);
    expect(probes.filter((p) => p.sync !== 'on' || p.reason !== ''), 'settings left on a server connection').to.deep.equal([]);
  });
});
