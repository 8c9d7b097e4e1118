// The retention policy: trashed tables and fields older than TRASH_RETENTION are purged.
// One object per transaction (each a schemaChange with lock_timeout), so that a big
// cleanup never holds thousands of locks nor blocks traffic for long; an object that is
// busy, restored or trashed again meanwhile is skipped and reported, and the next run
// tries again. Untracked objects are never purged here: only a DBA's explicit action
// drops them.
//
// One instance at a time: a run holds a transaction-scoped advisory lock in a transaction
// it keeps open on one connection for the run (a session lock would leak through a
// transaction-pooling PgBouncer: lock and unlock on different server connections). That
// transaction writes nothing, so it holds back no vacuum. Another instance's run (or an
// on-demand one) that cannot take the lock skips (or answers 409).
import type pg from 'pg';
import type { Logger } from '../log.js';
import { SCHEMA_LOCK_NAMESPACE, type Actor } from '../schema/change.js';
import { toAppError } from '../web/errors.js';
import { formatDuration } from './duration.js';
import { cutoffOf, purgeField, purgeTable, type TrashDeps } from './trash.js';
import { conflict } from '../errors.js';
import { pruneDue, pruneRows, type PruneResult } from '../history/retention.js';

/** Second key of the cleanup leader lock (schema changes use table ids, which are positive). */
export const CLEANUP_LOCK = -1;
export const SYSTEM_ACTOR: Actor = { name: 'system:cleanup' };

export interface CleanupCandidate {
  kind: 'table' | 'field';
  id: number;
  table_id: number;
  name: string;
  table: string | null;
  trashed_at: Date;
  trashed_by: string | null;
}

export interface CleanupResult {
  dry_run: boolean;
  retention: string;
  cutoff: Date | null;
  /** dry run: what would be purged; otherwise what was */
  purged: Array<CleanupCandidate & { dropped?: string }>;
  skipped: Array<CleanupCandidate & { code: string; reason: string }>;
  /** deleted rows dropped from the row trash (TRASH_RETENTION), history entries pruned (ROW_HISTORY_RETENTION), entries of tables gone */
  rows: PruneResult;
  /** row history entries written before this are pruned; null: never */
  history_cutoff: Date | null;
  ms: number;
}

/**
 * What is due, fields first: a trashed link field may hold a foreign key to a trashed
 * table, which cannot be dropped before it. Fields of a table that is itself due go with
 * their table.
 */
export async function dueForPurge(db: pg.Pool, cutoff: Date): Promise<CleanupCandidate[]> {
  const { rows: tables } = await db.query<CleanupCandidate>(
    /* sql */ `SELECT 'table' AS kind, id, id AS table_id, name, NULL AS table, trashed_at, trashed_by
       FROM tablewright.tables WHERE trashed_at IS NOT NULL AND trashed_at <= $1 ORDER BY trashed_at, id`,
    [cutoff],
  );
  const { rows: fields } = await db.query<CleanupCandidate>(
    /* sql */ `SELECT 'field' AS kind, f.id, f.table_id, f.name, t.name AS table, f.trashed_at, f.trashed_by
       FROM tablewright.fields f JOIN tablewright.tables t ON t.id = f.table_id
      WHERE f.trashed_at IS NOT NULL AND f.trashed_at <= $1 AND NOT (t.trashed_at IS NOT NULL AND t.trashed_at <= $1)
      ORDER BY f.trashed_at, f.id`,
    [cutoff],
  );
  return [...fields, ...tables];
}

/** Runs the policy once. Throws 409 cleanup_running when another run holds the lock. */
export async function runCleanup(
  deps: TrashDeps,
  opts: { dryRun?: boolean; actor?: Actor; now?: Date; /** objects purged so far, of how many (a job shows it) */ progress?: (p: { phase?: string; done?: number; total?: number }) => Promise<void> } = {},
): Promise<CleanupResult> {
  const started = Date.now();
  const retentionMs = deps.config.trashRetentionMs;
  const cutoff = cutoffOf(retentionMs, opts.now);
  const historyCutoff = cutoffOf(deps.config.rowHistoryRetentionMs ?? null, opts.now);
  const base = { dry_run: opts.dryRun ?? false, retention: formatDuration(retentionMs), cutoff, history_cutoff: historyCutoff };
  if (opts.dryRun) {
    return { ...base, purged: cutoff ? await dueForPurge(deps.pool, cutoff) : [], skipped: [], rows: await pruneDue(deps.pool, { trash: cutoff, history: historyCutoff }), ms: Date.now() - started };
  }

  const leader = await deps.pool.connect();
  let broken: Error | undefined;
  try {
    await leader.query('BEGIN');
    // the leader transaction only waits while the run works: no statement limit on it
    await leader.query(`SELECT set_config('statement_timeout', '0', true), set_config('idle_in_transaction_session_timeout', '0', true)`);
    const { rows: lock } = await leader.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1, $2) AS ok', [SCHEMA_LOCK_NAMESPACE, CLEANUP_LOCK]);
    if (!lock[0]!.ok) throw conflict('cleanup_running', 'a cleanup is running (on this or another instance); try again when it ends');
    const actor = opts.actor ?? SYSTEM_ACTOR;
    const purged: CleanupResult['purged'] = [];
    const skipped: CleanupResult['skipped'] = [];
    const due = cutoff ? await dueForPurge(deps.pool, cutoff) : [];
    await opts.progress?.({ phase: 'purging', total: due.length, done: 0 });
    for (const [i, c] of due.entries()) {
      if (i > 0) await opts.progress?.({ done: i });
      try {
        const out = c.kind === 'field'
          ? await purgeField(deps, actor, c.id, { cutoff: cutoff!, requireConfirm: false })
          : await purgeTable(deps, actor, c.id, { cutoff: cutoff!, requireConfirm: false });
        purged.push({ ...c, dropped: out.purged });
      } catch (err) {
        const e = toAppError(err);
        if (e.status >= 500) deps.log.error({ err, kind: c.kind, id: c.id }, 'cleanup: purge failed');
        skipped.push({ ...c, code: e.code, reason: e.status >= 500 ? (err as Error).message : e.message });
      }
    }
    // Deleted rows and row history, in batches (after the purges: a purged table's entries go too).
    await opts.progress?.({ phase: 'pruning deleted rows and row history', done: due.length });
    const rows = await pruneRows(deps.pool, { trash: cutoff, history: historyCutoff });
    const result = { ...base, purged, skipped, rows, ms: Date.now() - started };
    if (purged.length || skipped.length || rows.trash_rows || rows.history_entries || rows.orphaned) {
      deps.log.info({ purged: purged.length, skipped: skipped.length, ...rows, cutoff, historyCutoff, ms: result.ms }, 'trash cleanup done');
    }
    return result;
  } finally {
    await leader.query('COMMIT').catch((err: Error) => (broken = err));
    leader.release(broken);
  }
}

export interface CleanupScheduler {
  /** resolves when a run in progress has ended */
  stop(): Promise<void>;
  /** runs now (the test hook); undefined when another instance holds the lock */
  runNow(): Promise<CleanupResult | undefined>;
}

/** Runs the policy every `intervalMs` (the first run one interval after start). */
export function startCleanupScheduler(deps: TrashDeps, log: Logger, intervalMs: number): CleanupScheduler {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<CleanupResult | undefined> | undefined;
  let stopped = false;
  const run = async (): Promise<CleanupResult | undefined> => {
    try {
      return await runCleanup(deps);
    } catch (err) {
      const e = toAppError(err);
      if (e.code === 'cleanup_running') log.debug('cleanup: another instance is running it');
      else log.warn({ err }, 'cleanup run failed');
      return undefined;
    }
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = run().finally(() => {
        running = undefined;
        schedule();
      });
    }, intervalMs);
    timer.unref();
  };
  schedule();
  log.info({ every: formatDuration(intervalMs), retention: formatDuration(deps.config.trashRetentionMs) }, 'trash cleanup scheduled');
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
    runNow: () => (running ??= run().finally(() => (running = undefined))),
  };
}
