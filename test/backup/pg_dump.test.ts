// The procedure README "Backup and restore" documents, run for real: pg_dump of the whole
// database, pg_restore into a new database and into a freshly initdb-ed cluster that the
// test starts, Tablewright started on the copy, the drift report's one action, and
// everything works again; then a `--schema=data`-only dump restored into an empty
// database and adopted back with its field types and select labels.
// Needs a pg_dump at least as new as the server (PostgreSQL 15's on the CI machine, so
// these run against TEST_DATABASE_URL=...5432 and are skipped, saying so, against the
// embedded PostgreSQL 18), and for the fresh cluster that version's initdb and pg_ctl.
import { execFile } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import pg from 'pg';
import { serverMajor } from '../../server/backup/logical.js';
import { pgToolFor, type PgTool } from '../../server/db/pgtools.js';
import { ident } from '../../server/db/ident.js';
import { startApp, type TestApp } from '../helpers/app.js';
import { freshDatabase, serverAdminUrl, withDatabaseName, type TestDatabase } from '../helpers/db.js';
import { freePort } from '../helpers/process.js';
import { Sql } from '../helpers/sql.js';
import { act, QUIET, report } from '../introspect/lib.js';
import { expectRestoredReport, expectWorking, makeDataSet, type DataSet } from './lib.js';

const run = promisify(execFile);

/** pg_dump/pg_restore take the password from the environment, never the command line. */
function toolEnv(url: string): NodeJS.ProcessEnv {
  const u = new URL(url);
  return { ...process.env, PGPASSWORD: decodeURIComponent(u.password) };
}
const noPassword = (url: string) => {
  const u = new URL(url);
  u.password = '';
  return u.toString();
};

async function createDatabase(adminUrl: string, name: string): Promise<string> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${ident(name)} TEMPLATE template0`);
  } finally {
    await c.end();
  }
  return withDatabaseName(adminUrl, name);
}

async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    await c.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`);
  } finally {
    await c.end();
  }
}

describe('backup and restore with pg_dump (the README procedure)', function () {
  this.timeout(180_000);
  let pgDump: PgTool | undefined;
  let pgRestore: PgTool | undefined;
  let db: TestDatabase;
  let sql: Sql;
  let set: DataSet;
  let dumpDir: string;
  const apps: TestApp[] = [];
  const extraDatabases: string[] = [];

  before(async function () {
    const major = await serverMajor(serverAdminUrl());
    pgDump = pgToolFor('pg_dump', major);
    pgRestore = pgToolFor('pg_restore', major);
    if (!pgDump || !pgRestore) {
      console.warn(`    pg_dump tests skipped: no pg_dump/pg_restore for PostgreSQL ${major} on this machine (run them with TEST_DATABASE_URL on a server whose version has its client programs installed)`); // eslint-disable-line no-console
      this.skip();
    }
    db = await freshDatabase();
    sql = await Sql.connect(db.url);
    const app = await startApp(db.url, QUIET, 'original');
    apps.push(app);
    set = await makeDataSet(app, sql);
    dumpDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tablewright-dump-'));
    await fs.chmod(dumpDir, 0o755);
    await run(pgDump!.path, ['--format=custom', `--file=${path.join(dumpDir, 'all.dump')}`, `--dbname=${noPassword(db.url)}`], { env: toolEnv(db.url) });
    await run(pgDump!.path, ['--format=custom', '--schema=data', `--file=${path.join(dumpDir, 'data.dump')}`, `--dbname=${noPassword(db.url)}`], { env: toolEnv(db.url) });
    await fs.chmod(path.join(dumpDir, 'all.dump'), 0o644);
    await fs.chmod(path.join(dumpDir, 'data.dump'), 0o644);
  });
  after(async () => {
    for (const a of apps) await a.stop();
    await sql?.end();
    await db?.drop();
    for (const name of extraDatabases) await dropDatabase(serverAdminUrl(), name).catch(() => undefined);
    if (dumpDir) await fs.rm(dumpDir, { recursive: true, force: true });
  });

  it('restored into a new database: one "restored" item, one action, then clean and working', async () => {
    const name = `${db.name}_restored`;
    const url = await createDatabase(serverAdminUrl(), name);
    extraDatabases.push(name);
    await run(pgRestore!.path, ['--exit-on-error', `--dbname=${noPassword(url)}`, path.join(dumpDir, 'all.dump')], { env: toolEnv(url) });
    const app = await startApp(url, QUIET, 'restored');
    apps.push(app);
    await expectRestoredReport(app, 3);
    await expectWorking(app, set);
  });

  it('restored into a freshly initdb-ed cluster started by the test: the same', async function () {
    const initdb = pgToolFor('initdb', pgDump!.major);
    const pgCtl = pgToolFor('pg_ctl', pgDump!.major);
    if (!initdb || !pgCtl || initdb.major !== pgCtl.major) {
      console.warn(`    fresh-cluster restore skipped: no initdb/pg_ctl for PostgreSQL ${pgDump!.major} here`); // eslint-disable-line no-console
      this.skip();
    }
    const root = process.getuid?.() === 0;
    const ids = root ? { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) } : {};
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tablewright-cluster-'));
    await fs.chmod(dir, 0o755);
    const data = path.join(dir, 'data');
    await fs.mkdir(data);
    if (root) await fs.chown(data, ids.uid!, ids.gid!);
    const port = await freePort();
    const opts = { ...ids, env: { ...process.env, LC_ALL: 'C' } };
    let started = false;
    try {
      await run(initdb!.path, ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8'], opts);
      await run(pgCtl!.path, ['-D', data, '-o', `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''`, '-l', path.join(data, 'server.log'), '-w', 'start'], opts);
      started = true;
      const admin = `postgres://postgres@127.0.0.1:${port}/postgres`;
      const url = await createDatabase(admin, 'restored');
      await run(pgRestore!.path, ['--exit-on-error', `--dbname=${url}`, path.join(dumpDir, 'all.dump')]);
      const app = await startApp(url, QUIET, 'fresh cluster');
      apps.push(app);
      await expectRestoredReport(app, 3);
      await expectWorking(app, set);
      await app.stop();
      apps.splice(apps.indexOf(app), 1);
    } finally {
      if (started) await run(pgCtl!.path, ['-D', data, '-m', 'fast', '-w', 'stop'], opts).catch(() => undefined);
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('a --schema=data dump restored into an empty database is adopted back with its types, select labels and links', async () => {
    const name = `${db.name}_data_only`;
    const url = await createDatabase(serverAdminUrl(), name);
    extraDatabases.push(name);
    // The dump carries each table's row history triggers, which call tablewright's
    // functions: an empty database has none yet, so the README's procedure leaves them out
    // (adopting a table puts them back).
    const dump = path.join(dumpDir, 'data.dump');
    const toc = (await run(pgRestore!.path, ['--list', dump])).stdout;
    const kept = toc.split('\n').filter((line) => !/ TRIGGER data \S+ tablewright_history/.test(line));
    expect(kept.length, 'the dump has the history triggers').to.be.below(toc.split('\n').length);
    const listFile = path.join(dumpDir, 'data.list');
    await fs.writeFile(listFile, kept.join('\n'));
    await run(pgRestore!.path, ['--exit-on-error', `--use-list=${listFile}`, `--dbname=${noPassword(url)}`, dump], { env: toolEnv(url) });
    const app = await startApp(url, QUIET, 'data only');
    apps.push(app);
    const r = await report(app);
    expect(r.items.map((i) => i.id).sort()).to.deep.equal(['untracked_table:data:apple', 'untracked_table:data:zebra']);
    const zebra = (await act(app, 'untracked_table:data:zebra', 'adopt')).result;
    const apple = (await act(app, 'untracked_table:data:apple', 'adopt')).result;
    expect(zebra.name).to.equal('Zebra');
    expect(apple).to.include({ name: 'Apple', read_only: false });
    expect(apple.read_only_fields).to.deep.equal([]);
    const fields = (await app.request('GET', `/tables/${apple.id}`)).body.fields;
    const by = Object.fromEntries(fields.map((f: { column: string }) => [f.column, f]));
    expect(by.status).to.include({ name: 'Status', type: 'single_select', read_only: false });
    expect(by.status.options.choices.map((c: { label: string }) => c.label)).to.deep.equal(['Open', 'Done']);
    expect(by.due).to.include({ type: 'date', read_only: false });
    expect(by.price).to.include({ type: 'number', read_only: false });
    expect(by.price.options).to.deep.equal({ decimals: 2 });
    expect(by.zebra).to.include({ type: 'link' });
    expect(by.zebra.options.table_id).to.equal(zebra.id);
    const rows = (await app.request('GET', `/tables/${apple.id}/rows`)).body.rows;
    expect(JSON.stringify(rows[0].status)).to.include('Done');
    expect(rows[0].due).to.equal('2024-02-29');
    // What a data-only dump loses: the trashed table (its schema was not dumped), and the
    // trashed field's metadata: its parked column is an untracked `_tw_` column now.
    const after = await report(app);
    expect(after.items.map((i) => i.kind)).to.deep.equal(['untracked_column']);
    const { rows: triggers } = await app.ctx.pool.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE tgname = 'tablewright_history'`);
    expect(triggers[0].n, 'adopted tables record their row history again').to.equal(2);
    expect(after.items[0]!.column!.name).to.match(/^_tw_f\d+_gone_soon$/);
  });
});
