// What the fault tests that kill an instance during a schema change on a large table have in
// common: a fresh database with one table made through the API (by an instance that then
// stops) and filled by SQL; the objects only a change in flight has; a daemon's backend
// waiting for a lock; a job's end as another instance sees it; reconcile with nothing to say.
import { expect } from 'chai';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { Sql } from '../helpers/sql.js';
import { adminTokenFor, eventually, startDaemon, type Daemon } from './lib.js';

/** What the online fault tests start their daemons with: a dead instance's job taken over within 1.5 s, no background sweeps, room for lock waits. */
export const ONLINE_FAULT_ENV = {
  JOB_STALE_MS: '1500',
  JOB_POLL_MS: '100',
  JOB_THRESHOLD_ROWS: '1000',
  DRIFT_CHECK_INTERVAL: 'off',
  CLEANUP_INTERVAL: 'off',
  LOCK_ATTEMPT_MS: '10000',
  LOCK_TIMEOUT_MS: '60000',
};

/** SIGKILL, and its end seen. */
export async function killDaemon(d: Daemon): Promise<void> {
  d.cli.child.kill('SIGKILL');
  expect((await d.cli.exited).signal).to.equal('SIGKILL');
}

export interface BigTable {
  db: TestDatabase;
  sql: Sql;
  token: string;
  table: { id: number; table_name: string; fields: Array<{ id: number; column: string }> };
}

/**
 * A fresh database and a table `name` with `fields`, made by a daemon started with `env`
 * (stopped again), then filled by `fill(relation, columns)` (SQL run as is) and analyzed.
 */
export async function bigTable(
  name: string,
  fields: Array<Record<string, unknown>>,
  fill: (relation: string, columns: string[]) => string,
  env: Record<string, string> = {},
): Promise<BigTable> {
  const db = await freshDatabase();
  const sql = await Sql.connect(db.url);
  const token = await adminTokenFor(db.url);
  const setup = await startDaemon({ DATABASE_URL: db.url, ...env }, token);
  let table: BigTable['table'];
  try {
    const res = await setup.call('POST', '/tables', { json: { name, fields } });
    expect(res.status, res.text).to.equal(201);
    table = res.body;
  } finally {
    await setup.stop();
  }
  const relation = `data.${table.table_name}`;
  await sql.exec(fill(relation, table.fields.map((f) => f.column)));
  await sql.exec(`ANALYZE ${relation}`);
  return { db, sql, token, table };
}

/**
 * What of an online change in flight is still in `relation` (e.g. 'data.big'): an invalid,
 * unready or shadow index; a NOT VALID constraint or one of the change's own; a shadow
 * column; a sync trigger; a sync function anywhere.
 */
export async function leftovers(sql: Sql, relation: string): Promise<Array<{ what: string }>> {
  return sql.rows(
    `SELECT 'index ' || c.relname AS what FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = $1::regclass AND (NOT i.indisvalid OR NOT i.indisready OR c.relname ~ '_new_')
     UNION ALL SELECT 'constraint ' || conname FROM pg_constraint WHERE conrelid = $1::regclass AND (NOT convalidated OR conname ~ '^nn_|_new_')
     UNION ALL SELECT 'column ' || attname FROM pg_attribute WHERE attrelid = $1::regclass AND attname ~ '^_tw_new_' AND NOT attisdropped
     UNION ALL SELECT 'trigger ' || tgname FROM pg_trigger WHERE tgrelid = $1::regclass AND tgname ~ '^tw_sync_'
     UNION ALL SELECT 'function ' || proname FROM pg_proc WHERE proname ~ '^tw_sync_'`,
    [relation],
  );
}

/** A condition for eventually(): some other backend waits for a lock on a statement matching re. */
export const waitingOn = (sql: Sql, re: string) => async () =>
  (await sql.rows(`SELECT 1 FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND wait_event_type = 'Lock' AND query ~ $1`, [re])).length > 0;

/** A session holding the table's metadata row: a brief step (a swap, a rollback) does its DDL and metadata, then waits at the version bump. */
export async function holdVersionBump(holder: Sql, tableId: number): Promise<void> {
  await holder.exec('BEGIN');
  await holder.exec('SELECT 1 FROM tablewright.tables WHERE id = $1 FOR UPDATE', [tableId]);
}

/**
 * Kills `d` once its brief step waits at the version bump `holder` holds (holdVersionBump),
 * lets the holder go, and waits until the killed step's backend is gone: its transaction
 * rolled back whole.
 */
export async function killAtVersionBump(sql: Sql, d: Daemon, holder: Sql, what: string): Promise<void> {
  const bump = 'UPDATE tablewright.tables SET version';
  await eventually(`${what} waiting at its version bump`, waitingOn(sql, bump), 120_000);
  await killDaemon(d);
  await holder.exec('ROLLBACK');
  await eventually(`the killed ${what} gone`, async () => !(await sql.rows(`SELECT 1 FROM pg_stat_activity WHERE query ~ $1 AND pid <> pg_backend_pid()`, [bump])).length, 30_000, 50);
}

/** The job as `d` answers it once it is done or failed. */
export async function jobEnd(d: Daemon, jobId: number): Promise<any> {
  return eventually(
    `job ${jobId} ended`,
    async () => {
      const res = await d.call('GET', `/jobs/${jobId}`);
      return res.body.status === 'done' || res.body.status === 'failed' ? res.body : undefined;
    },
    180_000,
    200,
  );
}

/** Reconcile, asked through `d`, finds no drift and no change in flight. */
export async function expectReconcileClean(d: Daemon): Promise<void> {
  const report = (await d.call('GET', '/reconcile')).body;
  expect(report.items, JSON.stringify(report.items)).to.deep.equal([]);
  expect(report.in_flight).to.deep.equal([]);
}
