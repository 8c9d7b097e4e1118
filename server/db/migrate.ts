// Metadata migrations: sql/migrations/NNN_name.sql, applied in order, each in its own
// transaction, recorded in tablewright.migrations. A session advisory lock serialises
// instances that start at the same moment: the second waits, then finds nothing to do.
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from '../log.js';
import { sqlDir } from '../paths.js';
import { ident } from './ident.js';
import { withoutStatementTimeout } from './pool.js';

/** Key of the advisory lock that serialises migrations (any fixed bigint; "tblwrght"). */
export const MIGRATION_LOCK_KEY = 0x74626c7772676874n;

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

const FILE_RE = /^(\d{3})_[a-z0-9_]+\.sql$/;

export async function readMigrations(dir = path.join(sqlDir, 'migrations')): Promise<Migration[]> {
  const files = (await fs.readdir(dir)).filter((f) => FILE_RE.test(f)).sort();
  const seen = new Set<string>();
  const out: Migration[] = [];
  for (const name of files) {
    const number = name.slice(0, 3);
    if (seen.has(number)) throw new Error(`two migrations share the number ${number}`);
    seen.add(number);
    const sql = await fs.readFile(path.join(dir, name), 'utf8');
    out.push({ name, sql, checksum: crypto.createHash('sha256').update(sql).digest('hex') });
  }
  return out;
}

export interface MigrateOptions {
  /** Schemas for user tables and their trash; created when missing. */
  dataSchema: string;
  trashSchema: string;
  log: Logger;
  migrations?: Migration[];
}

/** Applies pending migrations; returns the names applied by this call. */
export async function migrate(client: pg.ClientBase, opts: MigrateOptions): Promise<string[]> {
  const { log } = opts;
  const migrations = opts.migrations ?? (await readMigrations());
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
  try {
    await client.query(/* sql */ `
      CREATE SCHEMA IF NOT EXISTS tablewright;
      CREATE TABLE IF NOT EXISTS tablewright.migrations (
        name       text PRIMARY KEY,
        checksum   text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    const { rows } = await client.query<{ name: string; checksum: string }>('SELECT name, checksum FROM tablewright.migrations');
    const applied = new Map(rows.map((r) => [r.name, r.checksum]));
    const done: string[] = [];
    for (const m of migrations) {
      const previous = applied.get(m.name);
      if (previous !== undefined) {
        if (previous !== m.checksum) log.warn({ migration: m.name }, 'applied migration file has changed since; it is not re-applied');
        continue;
      }
      const started = Date.now();
      await client.query('BEGIN');
      try {
        await withoutStatementTimeout(client);
        await client.query(m.sql);
        await client.query('INSERT INTO tablewright.migrations (name, checksum) VALUES ($1, $2)', [m.name, m.checksum]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${m.name} failed: ${(err as Error).message}`, { cause: err });
      }
      log.info({ migration: m.name, ms: Date.now() - started }, 'migration applied');
      done.push(m.name);
    }
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${ident(opts.dataSchema, 'DATA_SCHEMA')}`);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${ident(opts.trashSchema, 'TRASH_SCHEMA')}`);
    if (done.length === 0) log.debug('metadata schema up to date');
    return done;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY.toString()]);
  }
}
