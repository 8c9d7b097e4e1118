// What every online operation is made of (pgroll's shared parts): a brief step (one
// schemaChange: short lock attempts, audit, version, NOTIFY), a statement that must run
// outside a transaction (CREATE/DROP INDEX CONCURRENTLY), a step in its own transaction
// without a statement timeout (VALIDATE CONSTRAINT), each retried on lock timeouts.
import type pg from 'pg';
import { qualified } from '../../db/ident.js';
import { withoutStatementTimeout } from '../../db/pool.js';
import { withTransaction } from '../../db/tx.js';
import { AppError } from '../../errors.js';
import type { FieldMeta, TableMeta } from '../metadata.js';
import { lockBackoffMs, schemaChange, type Actor, type Change, type EditorDeps } from '../change.js';
import { advance, getOnlineChange, type OnlineChange } from './state.js';
import type { PlanStep, TableSize } from '../plan.js';

export interface OnlineRun {
  deps: EditorDeps;
  actor: Actor;
  change: OnlineChange;
  table: TableMeta;
  field: FieldMeta;
  /** the table, schema-qualified and quoted */
  relation: string;
  /** the field's column, quoted */
  col: string;
  progress: (p: { phase?: string; done?: number; total?: number }) => Promise<void>;
}

export interface PlanTarget {
  relation: string;
  col: string;
  field: FieldMeta;
  size: TableSize;
  /** the update asked for (set_unique: also indexed?) */
  update: Record<string, unknown>;
}

/** One online operation (one module each): its plan, its expand steps, its contract step, its undo. */
export interface OnlineOp {
  /** the objects of ours that exist while it is in flight (reconcile reads them) */
  objects(field: FieldMeta): Record<string, string>;
  plan(t: PlanTarget): PlanStep[];
  /** the expand steps; idempotent, so that a resumed change runs them again safely */
  start(run: OnlineRun): Promise<void>;
  /** the brief step that makes the change visible: metadata, version, audit, NOTIFY in one commit */
  complete(run: OnlineRun): Promise<unknown>;
  /** back to the old field; idempotent */
  rollback(run: OnlineRun): Promise<void>;
}

/** Thrown between steps when an admin cancelled the change: the runner rolls back. */
export class CancelledError extends AppError {
  constructor() {
    super(409, 'cancelled', 'the change was cancelled; it was rolled back to the old field');
  }
}

/** A cleanup job's error: the change was abandoned by its job (attempts used up) and rolled back. */
export class AbandonedError extends AppError {
  constructor(reason: string) {
    super(409, 'change_abandoned', `the online change was rolled back to the old field: ${reason}`);
  }
}

export async function checkCancel(run: OnlineRun): Promise<void> {
  const now = await getOnlineChange(run.deps.pool, run.change.id);
  if (now.cancel_requested) throw new CancelledError();
}

// Autovacuum and the online steps. Autovacuum holds SHARE UPDATE EXCLUSIVE on a table
// while it works on it, and a backfill that rewrote every row is what makes it come.
// PostgreSQL cancels an autovacuum (not one against wraparound) for a lock request only
// once that request has waited deadlock_timeout (1 s by default) behind it: attempts of
// LOCK_ATTEMPT_MS (200 ms) never wait that long, so a step gave up behind it attempt after
// attempt until LOCK_TIMEOUT_MS (at 2,000,000 rows: 409 table_busy after a backfill). So
// the steps that take SHARE UPDATE EXCLUSIVE (a concurrent index build, VALIDATE) wait at
// least deadlock_timeout + 500 ms an attempt, and a brief step takes it first, the same
// way, before its ACCESS EXCLUSIVE attempt. Such a wait holds up no read or write: their
// locks conflict with SHARE UPDATE EXCLUSIVE neither held nor waiting.

/** A lock_timeout for this attempt that outlasts deadlock_timeout: SQL for set_config's value. */
const PAST_DEADLOCK_TIMEOUT = /* sql */ `GREATEST($1::int, (SELECT setting::int + 500 FROM pg_settings WHERE name = 'deadlock_timeout'))::text || 'ms'`;

/** SHARE UPDATE EXCLUSIVE on the table, waited for past deadlock_timeout; then the attempt's own lock_timeout again. */
export async function holdOffAutovacuum(tx: pg.ClientBase, relation: string): Promise<void> {
  const { rows } = await tx.query<{ attempt: string }>(
    `SELECT current_setting('lock_timeout') AS attempt, set_config('lock_timeout', ${PAST_DEADLOCK_TIMEOUT.replace('$1::int', '0')}, true)`,
  );
  await tx.query(`LOCK TABLE ${relation} IN SHARE UPDATE EXCLUSIVE MODE`);
  await tx.query(`SELECT set_config('lock_timeout', $1, true)`, [rows[0]!.attempt]);
}

/**
 * A brief step: one schemaChange (short lock attempts with backoff, audited with its DDL,
 * version + 1 and NOTIFY) that also records the step on the change's row, in one commit.
 * It holds off autovacuum first (above).
 */
export async function briefStep<T = void>(run: OnlineRun, step: string, body: (c: Change) => Promise<T>): Promise<T> {
  const deps = { ...run.deps, onlineChangeId: run.change.id };
  // from the step's first lock on the table to its commit: what a read or write queued behind it may wait
  let locked = 0;
  const out = await schemaChange(deps, run.actor, `online_${run.change.kind}:${step}`, run.table.id, async (c) => {
    await holdOffAutovacuum(c.tx, run.relation);
    locked = performance.now();
    const result = await body(c);
    await advance(c.tx, run.change.id, { step });
    return { result: { value: result }, tableId: run.table.id, fieldId: run.field.id, details: { online_change: run.change.id, step } };
  });
  run.deps.log.info({ onlineChange: run.change.id, step, heldMs: Math.round(performance.now() - locked) }, 'online change: brief step committed');
  return out.value;
}

/**
 * Runs fn, retrying while it gives up on a lock (55P03, or another code `retry` accepts),
 * with backoff, up to LOCK_TIMEOUT_MS: the budget every brief step has (schemaChange's).
 * `waitsOnly`: the budget counts each failed attempt's lock wait (LOCK_ATTEMPT_MS) and the
 * pauses, not the work an attempt did before it gave up (a concurrent index build scans the
 * table for seconds before its last waits; that is not waiting).
 */
export async function withLockRetries<T>(
  deps: EditorDeps,
  fn: (lockMs: number) => Promise<T>,
  retry: (code: string | undefined) => boolean = (c) => c === '55P03',
  opts: { waitsOnly?: boolean } = {},
): Promise<T> {
  const started = Date.now();
  let waited = 0;
  const spent = () => (opts.waitsOnly ? waited : Date.now() - started);
  for (let attempt = 1; ; attempt++) {
    const lockMs = Math.max(1, Math.min(deps.config.lockAttemptMs ?? deps.config.lockTimeoutMs, deps.config.lockTimeoutMs - spent()));
    try {
      return await fn(lockMs);
    } catch (err) {
      if (!retry((err as { code?: string }).code)) throw err;
      waited += lockMs;
      const pause = lockBackoffMs(attempt);
      if (spent() + pause >= deps.config.lockTimeoutMs) throw err;
      waited += pause;
      await new Promise((r) => setTimeout(r, pause));
    }
  }
}

/**
 * A statement that cannot run in a transaction (CREATE/DROP INDEX CONCURRENTLY), on a
 * client of its own: no statement timeout, a lock_timeout per attempt. The audit row
 * records it (no version bump: nothing a model sees changed).
 */
export async function outsideStep(run: OnlineRun, step: string, sql: string): Promise<void> {
  await runOutside(run.deps, sql);
  await auditStep(run, step, sql);
}

/** A statement outside any transaction (CREATE/DROP INDEX CONCURRENTLY), with short lock attempts. */
export async function runOutside(deps: EditorDeps, sql: string): Promise<void> {
  await withLockRetries(deps, (lockMs) => runOutsideOnce(deps, sql, lockMs));
}

/** One attempt of a statement outside any transaction, its lock waits bounded by lockMs. */
async function runOutsideOnce(deps: EditorDeps, sql: string, lockMs: number): Promise<void> {
  const client: pg.PoolClient = await deps.pool.connect();
  let broken: Error | undefined;
  try {
    // Session settings on a pooled connection are put back before it goes back to the pool.
    // A concurrent index build takes SHARE UPDATE EXCLUSIVE: its waits outlast deadlock_timeout (above).
    await client.query(`SELECT set_config('lock_timeout', ${PAST_DEADLOCK_TIMEOUT}, false), set_config('statement_timeout', '0', false)`, [lockMs]);
    await client.query(sql);
  } catch (err) {
    if ((err as { code?: string }).code === undefined) broken = err as Error;
    throw err;
  } finally {
    await client.query('RESET lock_timeout; RESET statement_timeout').catch((e: Error) => (broken = e));
    client.release(broken);
  }
}

/**
 * CREATE [UNIQUE] INDEX CONCURRENTLY `name` (createSql), with the brief steps' lock budget
 * (LOCK_ATTEMPT_MS per attempt, backoff, given up after LOCK_TIMEOUT_MS of waits and pauses). A build that gives
 * up on a lock (its waits for older transactions are lock waits too) or that died with its
 * instance leaves an invalid index: never used by reads, kept up to date by every write, and
 * a second CREATE of the same name meets 42P07. So each attempt starts from the catalog:
 * a valid index is done (a resumed change after its build), an invalid one goes first.
 * A build's own failure (23505, a duplicate) is the caller's.
 */
export async function buildIndex(run: OnlineRun, name: string, createSql: string, during?: (build: Promise<void>) => Promise<void>): Promise<void> {
  const dropSql = `DROP INDEX CONCURRENTLY IF EXISTS ${qualified(run.deps.config.dataSchema, name)}`;
  const givesUp = (code: string | undefined) => code === '55P03' || code === '42P07';
  let attempts = 0;
  const started = Date.now();
  const attempt = async (lockMs: number) => {
    const state = await indexState(run, name);
    if (state === 'valid') return;
    if (state === 'invalid') {
      await runOutsideOnce(run.deps, dropSql, lockMs);
      await auditStep(run, 'drop_invalid_index', dropSql);
    }
    attempts++;
    const build = runOutsideOnce(run.deps, createSql, lockMs);
    await (during ? during(build) : build);
    await auditStep(run, 'build_index', createSql);
  };
  try {
    await withLockRetries(
      run.deps,
      attempt,
      (code) => {
        if (givesUp(code)) run.deps.log.info({ code, index: name, attempts }, 'index build gave up on a lock; dropping its invalid index and building again');
        return givesUp(code);
      },
      { waitsOnly: true },
    );
  } catch (err) {
    if (!givesUp((err as { code?: string }).code)) throw err;
    throw new AppError(
      409,
      'table_busy',
      `the index build gave up waiting for older transactions or locks on the table: ${attempts} attempts over ${Date.now() - started} ms (LOCK_ATTEMPT_MS each, LOCK_TIMEOUT_MS of waiting in all); try again when the table is quieter`,
      undefined,
      { attempts },
    );
  }
}

/** A long step in a transaction of its own (VALIDATE CONSTRAINT): no statement timeout, short lock attempts. */
export async function longStep(run: OnlineRun, step: string, sql: string): Promise<void> {
  await withLockRetries(run.deps, (lockMs) =>
    withTransaction(run.deps.pool, async (tx) => {
      await withoutStatementTimeout(tx);
      // VALIDATE takes SHARE UPDATE EXCLUSIVE: its wait outlasts deadlock_timeout (above).
      await tx.query(`SELECT set_config('lock_timeout', ${PAST_DEADLOCK_TIMEOUT}, true)`, [lockMs]);
      await tx.query(sql);
      await advance(tx, run.change.id, { step });
    }),
  );
  await auditStep(run, step, sql);
}

/** The audit row of a step that made no version of its own (a long step, a refreshed function). */
export async function auditStep(run: OnlineRun, step: string, sql: string): Promise<void> {
  await run.deps.pool.query(
    /* sql */ `INSERT INTO tablewright.audit (actor, operation, table_id, field_id, version, ddl, details)
      SELECT $1, $2, $3, $4, version, $5, $6 FROM tablewright.tables WHERE id = $3`,
    [run.actor.name, `online_${run.change.kind}:${step}`, run.table.id, run.field.id, `${sql};`, { online_change: run.change.id, step }],
  );
}

/** Whether an index of ours exists, and whether it is valid (a crashed CONCURRENTLY build leaves it invalid). */
export async function indexState(run: OnlineRun, name: string): Promise<'absent' | 'valid' | 'invalid'> {
  const { rows } = await run.deps.pool.query<{ valid: boolean }>(
    /* sql */ `SELECT i.indisvalid AND i.indisready AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
    [run.deps.config.dataSchema, name],
  );
  return rows[0] ? (rows[0].valid ? 'valid' : 'invalid') : 'absent';
}

export async function constraintState(run: OnlineRun, name: string): Promise<'absent' | 'valid' | 'not_valid'> {
  const { rows } = await run.deps.pool.query<{ valid: boolean }>(
    `SELECT convalidated AS valid FROM pg_constraint WHERE conrelid = $1 AND conname = $2`,
    [run.table.table_oid, name],
  );
  return rows[0] ? (rows[0].valid ? 'valid' : 'not_valid') : 'absent';
}
