import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import pg from 'pg';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { freePort, runCli } from '../helpers/process.js';

describe('tablewright CLI', function () {
  this.timeout(90_000);

  it('serve with no DATABASE_URL starts an embedded PostgreSQL, answers /healthz and /, and stops everything on SIGTERM', async () => {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tw-cli-'));
    await fs.chmod(dataDir, 0o755);
    const pgPort = await freePort();
    const cli = runCli(['serve'], { DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(pgPort), PORT: '0' });
    try {
      const line = await cli.waitFor(/Tablewright console: http/, 60_000);
      const url = /Tablewright console: (http:\/\/[^"\s]+)/.exec(line)![1]!;
      const health = await fetch(new URL('/healthz', url));
      expect(health.status).to.equal(200);
      const home = await fetch(new URL('/', url), { headers: { Accept: 'text/html' } });
      expect(home.status).to.equal(200);
      expect(await home.text()).to.include('Tablewright');
      await fs.access(path.join(dataDir, 'pg', 'PG_VERSION'));

      cli.child.kill('SIGTERM');
      const { code } = await cli.exited;
      expect(code).to.equal(0);
      expect(cli.output()).to.include('embedded PostgreSQL stopped');
      // the server is really gone: its port no longer accepts connections
      const probe = new pg.Client({ host: '127.0.0.1', port: pgPort, user: 'postgres', connectionTimeoutMillis: 2000 });
      let refused = false;
      await probe.connect().catch(() => {
        refused = true;
      });
      if (!refused) await probe.end();
      expect(refused).to.equal(true);
    } finally {
      if (cli.child.exitCode === null) cli.child.kill('SIGKILL');
      await cli.exited;
      await fs.rm(dataDir, { recursive: true, force: true });
    }
  });

  describe('with DATABASE_URL', () => {
    let db: TestDatabase;
    before(async () => {
      db = await freshDatabase({ empty: true });
    });
    after(async () => {
      await db?.drop();
    });

    it('migrate applies the metadata migrations and exits 0', async () => {
      const cli = runCli(['migrate'], { DATABASE_URL: db.url });
      const { code } = await cli.exited;
      expect(code, cli.output()).to.equal(0);
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        const { rows } = await client.query('SELECT count(*)::int AS n FROM tablewright.migrations');
        expect(rows[0].n).to.be.greaterThan(0);
      } finally {
        await client.end();
      }
    });

    it('refuses a bad setting with exit 2 and a message naming the variable', async () => {
      const cli = runCli(['migrate'], { DATABASE_URL: db.url, LOCK_TIMEOUT_MS: 'soon' });
      const { code } = await cli.exited;
      expect(code).to.equal(2);
      expect(cli.output()).to.include('LOCK_TIMEOUT_MS');
    });

    it('answers an unknown command with usage and exit 2', async () => {
      const cli = runCli(['frobnicate'], { DATABASE_URL: db.url });
      const { code } = await cli.exited;
      expect(code).to.equal(2);
      expect(cli.output()).to.include('usage: tablewright');
    });
  });
});
