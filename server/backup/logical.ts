// `tablewright backup` / `restore` with DATABASE_URL: pg_dump's custom format of the whole
// database (the metadata, the data and the trash schemas together, which is what a
// restore needs), and pg_restore into an empty database. They run the pg_dump/pg_restore
// found on this machine (server/db/pgtools.ts) and say which to install when there is none.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import { promisify } from 'node:util';
import pg from 'pg';
import { majorOf, missingToolMessage, pgToolFor } from '../db/pgtools.js';
import { StartupError } from '../db/privileges.js';

const run = promisify(execFile);

/** The URL without its password (that goes through PGPASSWORD, never the command line). */
function split(url: string): { url: string; env: NodeJS.ProcessEnv } {
  const u = new URL(url);
  const password = decodeURIComponent(u.password);
  u.password = '';
  return { url: u.toString(), env: { ...process.env, ...(password ? { PGPASSWORD: password } : {}) } };
}

export async function serverMajor(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return majorOf((await c.query('SHOW server_version_num')).rows[0].server_version_num);
  } finally {
    await c.end();
  }
}

export async function dumpDatabase(url: string, out: string, binDir?: string): Promise<{ tool: string }> {
  const major = await serverMajor(url);
  const tool = pgToolFor('pg_dump', major, binDir);
  if (!tool) throw new StartupError(missingToolMessage('pg_dump', major, binDir));
  const target = split(url);
  const partial = `${out}.partial`;
  try {
    await run(tool.path, ['--format=custom', `--file=${partial}`, `--dbname=${target.url}`], { env: target.env, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    await fs.rm(partial, { force: true });
    throw new StartupError(`pg_dump failed: ${String((err as { stderr?: string }).stderr ?? (err as Error).message).trim().split('\n').slice(-2).join(' ')}`);
  }
  await fs.chmod(partial, 0o600);
  await fs.rename(partial, out);
  return { tool: tool.path };
}

export async function isDumpArchive(file: string): Promise<boolean> {
  const head = Buffer.alloc(5);
  const fh = await fs.open(file, 'r');
  try {
    await fh.read(head, 0, 5, 0);
  } finally {
    await fh.close();
  }
  return head.toString('latin1') === 'PGDMP';
}

/** Refuses a database that already holds Tablewright metadata or tables: a restore goes into an empty one. */
export async function assertEmpty(url: string, dataSchema: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ meta: boolean; tables: number }>(
      `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'tablewright') AS meta,
              (SELECT count(*)::int FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1) AS tables`,
      [dataSchema],
    );
    if (rows[0]!.meta || rows[0]!.tables > 0) {
      const db = new URL(url).pathname.slice(1);
      throw new StartupError(`database ${db} is not empty (it has Tablewright metadata or tables): restore into a new database (createdb NAME), with DATABASE_URL naming it`);
    }
  } finally {
    await c.end();
  }
}

export async function restoreDatabase(url: string, file: string, binDir?: string): Promise<{ tool: string }> {
  const major = await serverMajor(url);
  const tool = pgToolFor('pg_restore', major, binDir);
  if (!tool) throw new StartupError(missingToolMessage('pg_restore', major, binDir));
  const target = split(url);
  try {
    await run(tool.path, ['--exit-on-error', '--no-owner', `--dbname=${target.url}`, file], { env: target.env, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    throw new StartupError(`pg_restore failed: ${String((err as { stderr?: string }).stderr ?? (err as Error).message).trim().split('\n').slice(-2).join(' ')}`);
  }
  return { tool: tool.path };
}
