// The one way the schema changes. Every operation runs inside schemaChange():
//
//   BEGIN
//   lock_timeout (SET LOCAL), an advisory lock on the table       -> 'lock'
//   the table's running online change (409 unless it is this one;
//     a body may read it in its own first statement instead)
//   the operation: validate                                         -> 'validate'
//                  DDL (recorded for the audit)                     -> 'ddl'
//                  metadata rows                                    -> 'metadata'
//   one closing statement: history and system-field triggers kept
//   up to date (their DDL ends the audit's), tables.version + 1,    -> 'version'
//   an audit row with the DDL text and the actor,                   -> 'audit'
//   schema_state.version + 1, pg_notify on the schema channel       -> 'notify'
//   COMMIT
//
// NOTIFY is delivered on commit only, so no instance hears of a change that rolled back.
// Any throw rolls everything back: the catalog and the metadata stay exactly as before.
import crypto from 'node:crypto';
import type pg from 'pg';
import { preparedName } from '../db/pool.js';
import type { Config } from '../config.js';
import { withTransaction } from '../db/tx.js';
import type { Logger } from '../log.js';
import { AppError } from '../errors.js';
import { historyItemId, SYNC_TRIGGERS_SQL, syncTableTriggers } from '../history/triggers.js';
import { inFlightConflict, runningOnlineChange } from './online/state.js';

export const SCHEMA_CHANNEL = 'tablewright_schema';
/** First key of the two-key advisory locks taken by schema changes ("tw"). */
export const SCHEMA_LOCK_NAMESPACE = 0x7477;
/** Second key for changes that concern the set of tables (create, restore): names. */
export const TABLE_SET_LOCK = 0;

export type Step = 'lock' | 'validate' | 'ddl' | 'metadata' | 'version' | 'audit' | 'notify';
export const STEPS: Step[] = ['lock', 'validate', 'ddl', 'metadata', 'version', 'audit', 'notify'];

/**
 * Test hook: when set, the change throws right after reaching that step. Lets a test
 * prove that a failure at any point leaves catalog and metadata untouched.
 */
export const failpoint: { step?: Step } = {};

export interface Actor {
  /** who did it: a user's email, `token:<name>`, or `system` */
  name: string;
}

export interface EditorDeps {
  pool: pg.Pool;
  log: Logger;
  config: Pick<Config, 'dataSchema' | 'trashSchema' | 'lockTimeoutMs' | 'maxFields'> & Partial<Pick<Config, 'lockAttemptMs' | 'importXlsxMaxUnzipped' | 'onlineBackfillWorkers'>>;
  /** identifies this instance in notifications (so it can tell its own) */
  instanceId?: string;
  /**
   * Called after COMMIT, before the caller answers: this instance evicts its own stale
   * model at once instead of waiting for its own NOTIFY to come back.
   */
  onCommitted?: (tableId: number, version: number) => void;
  /** long operations say where they are (a job shows it); phases, and rows when known */
  progress?: (p: { phase?: string; done?: number; total?: number }) => Promise<void>;
  /** set by an online change's own steps: the one change the table's in-flight guard lets through */
  onlineChangeId?: number;
  /** dry_run=1: the change runs to its last statement, then rolls back (DryRunRollback carries the statements) */
  dryRun?: boolean;
}

/**
 * Thrown by a dry run's transaction once the change's body and its trigger upkeep ran: the
 * transaction rolls back (no version, audit or NOTIFY), and the caller gets the exact
 * statements the change would run, validated by the same code as the real one.
 */
export class DryRunRollback extends Error {
  constructor(readonly statements: string[], readonly tableId: number) {
    super('dry run: rolled back');
  }
}

/** Runs a change as a dry run: its statements, nothing committed. */
export async function dryRunStatements(run: () => Promise<unknown>): Promise<{ statements: string[]; tableId: number }> {
  try {
    await run();
  } catch (err) {
    if (err instanceof DryRunRollback) return { statements: err.statements, tableId: err.tableId };
    throw err;
  }
  throw new Error('a dry run committed: the change did not go through schemaChange');
}

export interface Change {
  tx: pg.PoolClient;
  deps: EditorDeps;
  actor: Actor;
  /** runs a DDL statement and records it for the audit row */
  ddl(sql: string): Promise<void>;
  /** runs DDL statements in one round trip (one simple query), each recorded for the audit row */
  ddlBatch(sqls: string[]): Promise<void>;
  /** records a statement for the audit row that runs in parts (a copy in batches) */
  record(sql: string): void;
  /** marks a step as reached (throws there when a test set the failpoint) */
  reached(step: Step): void;
  /** takes the advisory lock of another table too (links touch two tables) */
  lockTable(tableId: number): Promise<void>;
  /** other tables whose metadata this change wrote: their versions go up in the same commit */
  alsoTables: number[];
  /**
   * For a change run with `{ onlineCheckInBody: true }`: the body's first read brought the
   * table's running online change (RUNNING_ONLINE_SQL, read after the advisory lock); this
   * checks it (409 change_in_flight unless it is this change's own). Until it is called,
   * such a change may run no DDL and cannot commit.
   */
  onlineChecked(runningId: number | null): Promise<void>;
}

/**
 * The id of a table's running online change, as a scalar subquery over `tableIdExpr`: for a
 * body that checks it in its own first read (saving schemaChange's separate statement).
 */
export const runningOnlineSql = (tableIdExpr: string) =>
  /* sql */ `(SELECT o.id FROM tablewright.online_changes o WHERE o.table_id = ${tableIdExpr} AND o.status = 'running' ORDER BY o.id LIMIT 1)`;

export interface ChangeOptions {
  /** the body checks the online state in its first read (Change.onlineChecked) */
  onlineCheckInBody?: boolean;
}

export interface ChangeOutcome<T> {
  result: T;
  /** the table whose version goes up; the audit row names it */
  tableId: number;
  fieldId?: number;
  details?: Record<string, unknown>;
  /**
   * Other tables whose metadata the change wrote too (a many-to-many link's reverse field):
   * their versions go up and are announced in the same commit.
   */
  alsoTables?: number[];
}

/** Thrown at a failpoint; its own code, so a test can tell it from any other failure. */
export class FailpointError extends AppError {
  constructor(step: Step) {
    super(500, 'failpoint', `failpoint at step "${step}"`);
  }
}

/**
 * Short lock attempts: each attempt waits for its locks at most LOCK_ATTEMPT_MS (so the
 * traffic that queues behind a waiting ALTER TABLE waits no longer than that), then the
 * whole transaction rolls back, backs off, and tries again, until LOCK_TIMEOUT_MS have
 * passed in all; then 409 table_busy. An attempt that got its locks is never cut short.
 */
export async function schemaChange<T>(
  deps: EditorDeps,
  actor: Actor,
  op: string,
  lockKey: number,
  body: (c: Change) => Promise<ChangeOutcome<T>>,
  opts: ChangeOptions = {},
): Promise<T & { version: number }> {
  const started = Date.now();
  const deadline = started + deps.config.lockTimeoutMs;
  for (let attempt = 1; ; attempt++) {
    const attemptMs = Math.max(1, Math.min(deps.config.lockAttemptMs ?? deps.config.lockTimeoutMs, deadline - Date.now()));
    try {
      return await schemaChangeOnce(deps, actor, op, lockKey, body, attemptMs, started, opts);
    } catch (err) {
      if (!(err instanceof LockAttemptFailed)) throw err;
      // The last pause is cut to what is left, so the change waits LOCK_TIMEOUT_MS in all
      // (neither up to a second less, nor more).
      const left = deadline - Date.now();
      const pause = Math.min(lockBackoffMs(attempt), left - 1);
      if (left <= 1) {
        // The operator's clue to a busy table: which change gave up and after how long (lastDdl
        // null: it waited for the schema lock itself, or for a read before its first DDL).
        deps.log.warn(
          { op, lockKey, actor: actor.name, lockTimeoutMs: deps.config.lockTimeoutMs, attempts: attempt, ms: Date.now() - started, lastDdl: err.lastDdl },
          'schema change gave up waiting for a lock (LOCK_TIMEOUT_MS): table busy',
        );
        throw new AppError(
          409,
          'table_busy',
          `the table is busy (another change or a long query holds it): gave up after ${attempt} short lock attempts over ${Date.now() - started} ms (LOCK_TIMEOUT_MS); try again`,
          undefined,
          { attempts: attempt, waited_ms: Date.now() - started },
        );
      }
      deps.log.debug({ op, lockKey, attempt, pauseMs: pause }, 'schema change lock attempt timed out; retrying');
      await new Promise((r) => setTimeout(r, pause));
    }
  }
}

/**
 * A schema-editor statement of fixed text, as a query config: a named prepared statement
 * when the pool may keep them (db/pool.ts preparedName: never behind a transaction
 * pooler), so that PostgreSQL plans it once per connection (a third of these statements'
 * time on the server was planning). Only texts that never change at run time (no
 * identifier, no user value in them) go through here: the name is a hash of the text.
 */
export function editorStatement(deps: EditorDeps, text: string, values: unknown[]): pg.QueryConfig {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `tw_e_${crypto.createHash('sha1').update(text).digest('base64url').slice(0, 24)}`;
    statementNames.set(text, name);
  }
  const prepared = preparedName(deps.pool, name);
  return prepared ? { name: prepared, text, values } : { text, values };
}
const statementNames = new Map<string, string>();

/** The settings, then the advisory lock (it refers to the settings, so it runs after them). */
const LOCK_SQL = /* sql */ `SELECT pg_advisory_xact_lock($4, $3)
         FROM (SELECT set_config('lock_timeout', $1, true) AS lt, set_config('statement_timeout', '0', true), set_config('timezone', 'UTC', true),
                      set_config('tablewright.actor', $2, true), set_config('tablewright.reason', 'schema', true) OFFSET 0) settings
        WHERE settings.lt IS NOT NULL`;

/** SYNC_TRIGGERS_SQL with its parameters numbered after the closing statement's eight. */
const SYNC_TRIGGERS_AFTER_8 = SYNC_TRIGGERS_SQL.replace(/\$(\d)/g, (_, d: string) => `$${Number(d) + 8}`);

/** 25 ms doubling to 1 s, with jitter, so that two waiting changes do not retry in step. */
export function lockBackoffMs(attempt: number): number {
  const base = Math.min(1000, 25 * 2 ** (attempt - 1));
  return Math.round(base / 2 + Math.random() * (base / 2));
}

/** One attempt's lock wait ended (SQLSTATE 55P03): its transaction rolled back, nothing changed. */
export class LockAttemptFailed extends Error {
  constructor(readonly lastDdl: string | null) {
    super('lock attempt timed out');
  }
}

async function schemaChangeOnce<T>(
  deps: EditorDeps,
  actor: Actor,
  op: string,
  lockKey: number,
  body: (c: Change) => Promise<ChangeOutcome<T>>,
  attemptMs: number,
  started: number,
  opts: ChangeOptions,
): Promise<T & { version: number }> {
  const statements: string[] = [];
  // a change keyed by a table is checked against its online changes before any DDL
  let onlinePending = lockKey !== TABLE_SET_LOCK;
  const assertChecked = () => {
    if (onlinePending) throw new Error(`schema change "${op}": the online-change check of table ${lockKey} was not made before its DDL`);
  };
  const outcome = await withTransaction(deps.pool, async (tx) => {
    const change: Change = {
      tx,
      deps,
      actor,
      async ddl(sql) {
        assertChecked();
        statements.push(sql);
        await tx.query(sql);
      },
      async ddlBatch(sqls) {
        if (sqls.length === 0) return;
        assertChecked();
        statements.push(...sqls);
        // No parameters: the simple protocol, which runs several statements in one message.
        await tx.query(sqls.join(';\n'));
      },
      record(sql) {
        assertChecked();
        statements.push(sql);
      },
      reached(step) {
        if (failpoint.step === step) throw new FailpointError(step);
      },
      async lockTable(tableId) {
        await tx.query('SELECT pg_advisory_xact_lock($1, $2)', [SCHEMA_LOCK_NAMESPACE, tableId]);
      },
      alsoTables: [],
      async onlineChecked(runningId) {
        if (runningId !== null && Number(runningId) !== deps.onlineChangeId) throw await inFlightConflict(tx, lockKey);
        onlinePending = false;
      },
    };
    // Waits for locks (advisory or on the table itself) end after this attempt's
    // lock_timeout with SQLSTATE 55P03: schemaChange backs off and tries again.
    // Waits are bounded by lock_timeout; the work itself is not cut off by the pool's
    // statement_timeout (the same changes run in jobs, on tables of any size).
    // Rows a schema change rewrites (a conversion) are not recorded one by one in the row
    // history: the audit row records the change (server/history, reason 'schema').
    // One round trip: the settings, then the advisory lock (it refers to the settings, so
    // it runs after them: the lock is waited for under this attempt's lock_timeout).
    await tx.query(editorStatement(deps, LOCK_SQL, [`${attemptMs}ms`, actor.name, lockKey, SCHEMA_LOCK_NAMESPACE]));
    // While an online change of this table is in flight, only its own steps change it
    // (its row is begun under this same advisory lock, so the check cannot race it). A
    // statement of its own: its snapshot must be taken after the lock was granted.
    if (lockKey !== TABLE_SET_LOCK && !opts.onlineCheckInBody) {
      const running = await runningOnlineChange(tx, lockKey);
      await change.onlineChecked(running?.id ?? null);
    }
    change.reached('lock');

    const out = await body(change);
    assertChecked();
    if (deps.dryRun) {
      const synced = await syncTableTriggers(tx, deps.config.dataSchema, out.tableId);
      if (synced.history) statements.push(synced.history);
      if (synced.system) statements.push(synced.system);
      throw new DryRunRollback([...statements], out.tableId);
    }

    // One statement: every managed table keeps its row history triggers, whatever the
    // change did to it, and the triggers of its system fields (created_at, updated_by...),
    // under their attnums now (the DDL they ran ends the audit row's); then the version
    // bump, the audit row, the global version and the NOTIFY (delivered on commit only).
    // The trigger upkeep reads the fields' metadata written by the body's earlier
    // statements, and writes nothing the rest of this statement reads.
    const { rows } = await tx.query<{ version: number; global_version: number; history: string | null; system: string | null }>(
      editorStatement(
        deps,
        /* sql */ `WITH s AS MATERIALIZED (${SYNC_TRIGGERS_AFTER_8}),
            v AS (UPDATE tablewright.tables SET version = version + 1, updated_at = now() WHERE id = $3 RETURNING version),
            a AS (INSERT INTO tablewright.audit (actor, operation, table_id, field_id, version, ddl, details)
                  SELECT $1, $2, $3, $4, v.version,
                         concat_ws(E'\n', nullif($5, ''), (SELECT s.history FROM s) || ';', (SELECT s.system FROM s) || ';'), $6
                    FROM v),
            g AS (UPDATE tablewright.schema_state SET version = version + 1 RETURNING version)
       SELECT v.version, g.version AS global_version, (SELECT s.history FROM s) AS history, (SELECT s.system FROM s) AS system,
              pg_notify($7, (jsonb_build_object('table_id', $3::int8, 'version', v.version, 'global_version', g.version, 'op', $2::text, 'actor', $1::text) || $8::jsonb)::text)
         FROM v, g`,
        [
          actor.name,
          op,
          out.tableId,
          out.fieldId ?? null,
          statements.map((s) => `${s};`).join('\n'),
          out.details ?? {},
          SCHEMA_CHANNEL,
          deps.instanceId ? { instance: deps.instanceId } : {},
          // SYNC_TRIGGERS_SQL's $1..$3
          out.tableId,
          deps.config.dataSchema,
          historyItemId(out.tableId),
        ],
      ),
    );
    if (!rows[0]) throw new Error(`table ${out.tableId} has no metadata row`);
    if (rows[0].history) statements.push(rows[0].history);
    if (rows[0].system) statements.push(rows[0].system);
    const version = rows[0].version;
    change.reached('version');
    change.reached('audit');
    const also: Array<{ tableId: number; version: number }> = [];
    for (const other of new Set([...(out.alsoTables ?? []), ...change.alsoTables])) {
      if (other === out.tableId) continue;
      const r = await tx.query<{ version: number }>(
        /* sql */ `UPDATE tablewright.tables SET version = version + 1, updated_at = now() WHERE id = $1
          RETURNING version, pg_notify($2, (jsonb_build_object('table_id', $1::int8, 'version', version, 'global_version', $3::int8, 'op', $4::text, 'actor', $5::text) || $6::jsonb)::text)`,
        [other, SCHEMA_CHANNEL, rows[0].global_version, op, actor.name, deps.instanceId ? { instance: deps.instanceId } : {}],
      );
      if (!r.rows[0]) continue;
      also.push({ tableId: other, version: r.rows[0].version });
    }
    change.reached('notify');
    return { ...out, version, also };
  }, { unbounded: true }).catch((err: unknown) => {
    if ((err as { code?: string } | undefined)?.code === '55P03') throw new LockAttemptFailed(statements.at(-1)?.slice(0, 200) ?? null);
    throw err;
  });
  deps.onCommitted?.(outcome.tableId, outcome.version);
  for (const a of outcome.also) deps.onCommitted?.(a.tableId, a.version);
  deps.log.info(
    { op, tableId: outcome.tableId, fieldId: outcome.fieldId, version: outcome.version, actor: actor.name, ddlStatements: statements.length, ms: Date.now() - started },
    'schema change committed',
  );
  return { ...outcome.result, version: outcome.version };
}
