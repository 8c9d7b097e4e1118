// Metadata migrations: sql/migrations/NNN_name.sql, applied in order, each in its own
// transaction, recorded in tablewright.migrations.
//
// Instances that start at the same moment are serialised by a transaction-scoped advisory
// lock, taken again by every migration's transaction: a session lock would leak through
// a transaction-pooling PgBouncer (lock and unlock landing on different server
// connections) and hang every later start. Each transaction re-reads what is applied
// under the lock, so the second instance finds nothing to do.
//
// A migration waits for table locks at most LOCK_TIMEOUT_MS, then rolls back and tries
// again after a pause: an upgrade never queues every instance's reads behind a long
// reader. Schemas that exist are never created again, so a role without CREATE on the
// database starts as long as an administrator made them (see README "Privileges").
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from '../log.js';
import { sqlDir } from '../paths.js';
import { ident } from './ident.js';
import { withoutStatementTimeout } from './pool.js';
import { missingPrivilege, StartupError } from './privileges.js';

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
  /** the longest a migration waits for a table lock before it rolls back and retries (default 3 s) */
  lockTimeoutMs?: number;
  /** attempts per migration before giving up (default 10) */
  attempts?: number;
  /** the first pause between attempts; each next one doubles, up to 5 s (default 200 ms) */
  retryDelayMs?: number;
}

/** Applies pending migrations; returns the names applied by this call. */
export async function migrate(client: pg.ClientBase, opts: MigrateOptions): Promise<string[]> {
  const { log } = opts;
  const migrations = opts.migrations ?? (await readMigrations());
  const step = <T>(what: string, fn: () => Promise<T>) => withMigrationLock(client, opts, what, fn);

  await step('bootstrap', async () => {
    await ensureSchema(client, 'tablewright');
    await client.query(/* sql */ `
      CREATE TABLE IF NOT EXISTS tablewright.migrations (
        name       text PRIMARY KEY,
        checksum   text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
  });
  const done: string[] = [];
  for (const m of migrations) {
    const applied = await step(m.name, async () => {
      const { rows } = await client.query<{ checksum: string }>('SELECT checksum FROM tablewright.migrations WHERE name = $1', [m.name]);
      if (rows[0]) {
        if (rows[0].checksum !== m.checksum) log.warn({ migration: m.name }, 'applied migration file has changed since; it is not re-applied');
        return false;
      }
      const started = Date.now();
      await client.query(m.sql);
      await client.query('INSERT INTO tablewright.migrations (name, checksum) VALUES ($1, $2)', [m.name, m.checksum]);
      log.info({ migration: m.name, ms: Date.now() - started }, 'migration applied');
      return true;
    }).catch((err: Error) => {
      if ((err as { code?: string }).code === '42501') {
        throw new StartupError(`migration ${m.name} needs a privilege the role lacks (${err.message}); see README "Privileges", or run \`tablewright doctor\``);
      }
      throw new Error(`migration ${m.name} failed: ${err.message}`, { cause: err });
    });
    if (applied) done.push(m.name);
  }
  await step('schemas', async () => {
    await ensureSchema(client, opts.dataSchema, 'DATA_SCHEMA');
    await ensureSchema(client, opts.trashSchema, 'TRASH_SCHEMA');
  });
  if (done.length === 0) log.debug('metadata schema up to date');
  return done;
}

/**
 * One transaction under the migration lock: the lock is waited for without a limit (another
 * instance may be applying a long migration), the work with lock_timeout; a lock timeout
 * rolls back and tries again after a pause.
 */
async function withMigrationLock<T>(client: pg.ClientBase, opts: MigrateOptions, what: string, fn: () => Promise<T>): Promise<T> {
  const attempts = opts.attempts ?? 10;
  let delay = opts.retryDelayMs ?? 200;
  for (let attempt = 1; ; attempt++) {
    await client.query('BEGIN');
    try {
      await withoutStatementTimeout(client);
      await client.query(`SELECT set_config('lock_timeout', '0', true)`);
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
      await client.query(`SELECT set_config('lock_timeout', $1, true)`, [`${opts.lockTimeoutMs ?? 3000}ms`]);
      const result = await fn();
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      if ((err as { code?: string }).code !== '55P03' || attempt >= attempts) throw err;
      opts.log.warn({ step: what, attempt, retryInMs: delay, lockTimeoutMs: opts.lockTimeoutMs ?? 3000 }, 'migration gave up waiting for a lock (a long query holds the table); retrying');
      await new Promise((r) => setTimeout(r, delay + Math.random() * delay * 0.2));
      delay = Math.min(5000, delay * 2);
    }
  }
}

/** Creates a schema only when it is missing (CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even then). */
async function ensureSchema(client: pg.ClientBase, schema: string, setting?: string): Promise<void> {
  const { rows } = await client.query<{ exists: boolean }>(`SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS exists`, [schema]);
  if (rows[0]!.exists) {
    const missing = await missingPrivilege(client, { schema, need: ['USAGE', 'CREATE'] });
    if (missing) throw new StartupError(missing);
    return;
  }
  const missing = await missingPrivilege(client, { createSchema: schema });
  if (missing) throw new StartupError(missing);
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${ident(schema, setting ?? 'schema')}`);
}
