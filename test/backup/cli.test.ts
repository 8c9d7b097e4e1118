// `tablewright backup` and `tablewright restore`: for the embedded PostgreSQL (which ships
// no pg_dump) a copy of its cluster, taken while `serve` runs and restored into another
// DATA_DIR, rows and all; with DATABASE_URL, pg_dump/pg_restore when this machine has a
// matching pair, else one line naming what to install.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import pg from 'pg';
import { ident } from '../../server/db/ident.js';
import { majorOf, pgToolFor } from '../../server/db/pgtools.js';
import { freshDatabase, serverAdminUrl, withDatabaseName, type TestDatabase } from '../helpers/db.js';
import { freePort, runCli, type Cli } from '../helpers/process.js';

async function serve(dataDir: string): Promise<{ cli: Cli; url: string; token: string }> {
  const cli = runCli(['serve'], { DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(await freePort()), PORT: '0' });
  const line = await cli.waitFor(/Tablewright console: http/, 90_000);
  const url = /Tablewright console: (http:\/\/[^"\s]+)/.exec(line)![1]!;
  const made = await finished(runCli(['token', 'create', '--name', `t${Date.now()}`, '--role', 'admin'], { DATA_DIR: dataDir }));
  expect(made.code, made.output).to.equal(0);
  return { cli, url, token: made.stdout.trim() };
}

async function finished(cli: Cli): Promise<{ code: number | null; stdout: string; output: string }> {
  let stdout = '';
  cli.child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  const { code } = await cli.exited;
  return { code, stdout, output: cli.output() };
}

async function stop(cli: Cli): Promise<void> {
  if (cli.child.exitCode !== null) return;
  cli.child.kill('SIGTERM');
  await cli.exited;
}

const api = (base: string, token: string, method: string, p: string, body?: unknown) =>
  fetch(new URL(p, base), { method, headers: { Authorization: `Bearer ${token}`, Accept: 'application/json', 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) }).then(
    async (r) => ({ status: r.status, body: await r.json().catch(() => undefined) as any }),
  );

describe('tablewright backup / restore', function () {
  this.timeout(240_000);
  const dirs: string[] = [];
  const running: Cli[] = [];
  after(async () => {
    for (const c of running) await stop(c);
    for (const d of dirs) {
      const link = await fs.realpath(path.join(d, 'data', 'pg')).catch(() => undefined);
      if (link?.startsWith('/var/lib/tablewright/clusters/')) await fs.rm(path.dirname(link), { recursive: true, force: true });
      await fs.rm(d, { recursive: true, force: true });
    }
  });
  const tmp = async () => {
    const d = await fs.mkdtemp(path.join(os.tmpdir(), 'tw-backup-'));
    dirs.push(d);
    return d;
  };

  it('the embedded PostgreSQL: a backup taken while serving, restored into another DATA_DIR, has every row; restore refuses a running server', async () => {
    const a = path.join(await tmp(), 'data');
    const first = await serve(a);
    running.push(first.cli);
    const t = await api(first.url, first.token, 'POST', '/tables', { name: 'Kept', fields: [{ name: 'Name', type: 'text' }] });
    expect(t.status).to.equal(201);
    for (let i = 0; i < 50; i++) expect((await api(first.url, first.token, 'POST', `/tables/${t.body.id}/rows`, { name: `row ${i}` })).status).to.equal(201);
    const file = path.join(await tmp(), 'backup.tar.gz');
    const backup = await finished(runCli(['backup', '--out', file], { DATA_DIR: a, EMBEDDED_PG_PORT: String(await freePort()) }));
    expect(backup.code, backup.output).to.equal(0);
    expect(backup.stdout.trim()).to.equal(file);
    expect((await fs.stat(file)).mode & 0o777, 'the archive holds the password: only we read it').to.equal(0o600);
    // written after the backup: not in it
    expect((await api(first.url, first.token, 'POST', `/tables/${t.body.id}/rows`, { name: 'later' })).status).to.equal(201);

    const refused = await finished(runCli(['restore', file], { DATA_DIR: a, EMBEDDED_PG_PORT: String(await freePort()) }));
    expect(refused.code).to.equal(1);
    expect(refused.output).to.include('is running: stop tablewright serve first');
    await stop(first.cli);

    const b = path.join(await tmp(), 'data');
    const restored = await finished(runCli(['restore', file], { DATA_DIR: b, EMBEDDED_PG_PORT: String(await freePort()) }));
    expect(restored.code, restored.output).to.equal(0);
    const second = await serve(b);
    running.push(second.cli);
    const rows = await api(second.url, second.token, 'GET', `/tables/${t.body.id}/rows?size=100`);
    expect(rows.status).to.equal(200);
    expect(rows.body.rows.map((r: { name: string }) => r.name).sort()).to.deep.equal(Array.from({ length: 50 }, (_, i) => `row ${i}`).sort());
    const report = await api(second.url, second.token, 'GET', '/reconcile');
    expect(report.body.items, 'a copy of the cluster keeps every oid: nothing to re-identify').to.deep.equal([]);
    await stop(second.cli);

    // restoring over a DATA_DIR that has a cluster keeps that one aside
    const over = await finished(runCli(['restore', file], { DATA_DIR: a, EMBEDDED_PG_PORT: String(await freePort()) }));
    expect(over.code, over.output).to.equal(0);
    expect(over.stdout).to.match(/the cluster it replaced is kept in .*before-restore-/);
  });

  describe('with DATABASE_URL', () => {
    let db: TestDatabase;
    let major: number;
    before(async () => {
      db = await freshDatabase();
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      major = majorOf((await c.query('SHOW server_version_num')).rows[0].server_version_num);
      await c.end();
    });
    after(async () => {
      await db?.drop();
    });

    it('pg_dump when one fits the server, else one line naming what to install', async () => {
      const file = path.join(await tmp(), 'db.dump');
      const out = await finished(runCli(['backup', '--out', file], { DATABASE_URL: db.url }));
      if (!pgToolFor('pg_dump', major)) {
        expect(out.code).to.equal(1);
        expect(out.output).to.include(`tablewright: no pg_dump for PostgreSQL ${major} or newer on this machine`);
        expect(out.output).to.include(`postgresql-client-${major}`);
        return;
      }
      expect(out.code, out.output).to.equal(0);
      expect((await fs.readFile(file)).subarray(0, 5).toString()).to.equal('PGDMP');
      const notEmpty = await finished(runCli(['restore', file], { DATABASE_URL: db.url }));
      expect(notEmpty.code).to.equal(1);
      expect(notEmpty.output).to.match(/is not empty .*restore into a new database/);
      const name = `${db.name}_cli_restore`;
      const admin = new pg.Client({ connectionString: serverAdminUrl() });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${ident(name)} TEMPLATE template0`);
        const ok = await finished(runCli(['restore', file], { DATABASE_URL: withDatabaseName(serverAdminUrl(), name) }));
        expect(ok.code, ok.output).to.equal(0);
        expect(ok.stdout).to.match(/this database was restored/);
      } finally {
        await admin.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`);
        await admin.end();
      }
    });
  });
});
