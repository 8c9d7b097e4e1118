// Retention of the row trash (TRASH_RETENTION) and the row history
// (ROW_HISTORY_RETENTION), run by the cleanup job. Pruning deletes the oldest entries in
// batches, each batch its own short statement: it takes row locks on tablewright's own
// tables only, so it never blocks a user table, and it can stop anywhere. Entries of a
// table that no longer exists (purged or forgotten) go at once: nothing can read them.
import type pg from 'pg';
import type { Queryable } from '../db/pool.js';

export const PRUNE_BATCH = 5000;

type Kept = { table: 'row_trash'; time: 'deleted_at' } | { table: 'row_history'; time: 'at' };
const TRASH: Kept = { table: 'row_trash', time: 'deleted_at' };
const HISTORY: Kept = { table: 'row_history', time: 'at' };

export interface PruneResult {
  /** deleted rows dropped from the row trash */
  trash_rows: number;
  /** history entries dropped */
  history_entries: number;
  /** entries of both kinds whose table is gone */
  orphaned: number;
}

/**
 * Drops entries older than the cutoff, oldest first by id, a batch at a time. It stops at
 * the first batch holding an entry that is not due: ids follow time closely (an entry of a
 * long transaction may wait for the next run, never go early).
 */
async function pruneOldest(pool: pg.Pool, k: Kept, cutoff: Date, batch: number): Promise<number> {
  let total = 0;
  for (;;) {
    const { rows } = await pool.query<{ deleted: number; seen: number; all_due: boolean }>(
      /* sql */ `WITH batch AS (SELECT id, ${k.time} < $1 AS due FROM tablewright.${k.table} ORDER BY id LIMIT $2),
            gone AS (DELETE FROM tablewright.${k.table} x USING batch b WHERE x.id = b.id AND b.due RETURNING 1)
       SELECT (SELECT count(*) FROM gone)::int AS deleted, (SELECT count(*) FROM batch)::int AS seen,
              coalesce((SELECT bool_and(due) FROM batch), false) AS all_due`,
      [cutoff, batch],
    );
    total += rows[0]!.deleted;
    if (!rows[0]!.all_due || rows[0]!.seen < batch) return total;
  }
}

/** Table ids that have entries but no metadata any more (a loose index scan: one probe per table). */
async function orphanedTables(db: Queryable, k: Kept): Promise<number[]> {
  const { rows } = await db.query<{ id: number }>(
    /* sql */ `WITH RECURSIVE ids AS (
        SELECT (SELECT min(table_id) FROM tablewright.${k.table}) AS id
        UNION ALL
        SELECT (SELECT min(table_id) FROM tablewright.${k.table} WHERE table_id > ids.id) FROM ids WHERE ids.id IS NOT NULL
      )
      SELECT id FROM ids WHERE id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM tablewright.tables t WHERE t.id = ids.id)`,
  );
  return rows.map((r) => Number(r.id));
}

async function pruneTable(pool: pg.Pool, k: Kept, tableId: number, batch: number): Promise<number> {
  let total = 0;
  for (;;) {
    const { rowCount } = await pool.query(
      `DELETE FROM tablewright.${k.table} WHERE id IN (SELECT id FROM tablewright.${k.table} WHERE table_id = $1 ORDER BY id LIMIT $2)`,
      [tableId, batch],
    );
    total += rowCount ?? 0;
    if ((rowCount ?? 0) < batch) return total;
  }
}

/** Runs both policies once, and drops the entries and layouts of tables that are gone. */
export async function pruneRows(pool: pg.Pool, cutoffs: { trash: Date | null; history: Date | null }, batch = PRUNE_BATCH): Promise<PruneResult> {
  const out: PruneResult = { trash_rows: 0, history_entries: 0, orphaned: 0 };
  if (cutoffs.trash) out.trash_rows = await pruneOldest(pool, TRASH, cutoffs.trash, batch);
  if (cutoffs.history) out.history_entries = await pruneOldest(pool, HISTORY, cutoffs.history, batch);
  for (const k of [TRASH, HISTORY]) {
    for (const id of await orphanedTables(pool, k)) out.orphaned += await pruneTable(pool, k, id, batch);
  }
  await pool.query(`DELETE FROM tablewright.row_layouts l WHERE NOT EXISTS (SELECT 1 FROM tablewright.tables t WHERE t.id = l.table_id)`);
  return out;
}

/** What pruneRows would drop now (a dry run). */
export async function pruneDue(db: Queryable, cutoffs: { trash: Date | null; history: Date | null }): Promise<PruneResult> {
  const { rows } = await db.query<PruneResult>(
    /* sql */ `SELECT (SELECT count(*) FROM tablewright.row_trash WHERE $1::timestamptz IS NOT NULL AND deleted_at < $1)::int8 AS trash_rows,
            (SELECT count(*) FROM tablewright.row_history WHERE $2::timestamptz IS NOT NULL AND at < $2)::int8 AS history_entries,
            ((SELECT count(*) FROM tablewright.row_trash x WHERE NOT EXISTS (SELECT 1 FROM tablewright.tables t WHERE t.id = x.table_id))
           + (SELECT count(*) FROM tablewright.row_history x WHERE NOT EXISTS (SELECT 1 FROM tablewright.tables t WHERE t.id = x.table_id)))::int8 AS orphaned`,
    [cutoffs.trash, cutoffs.history],
  );
  const r = rows[0]!;
  return { trash_rows: Number(r.trash_rows), history_entries: Number(r.history_entries), orphaned: Number(r.orphaned) };
}

export interface RowTrashStats {
  table_id: number;
  rows: number;
  /** true: from a 1% sample (a row trash too big to count within 2 s) */
  estimated: boolean;
  /** the deleted rows' values (pg_column_size of the jsonb), not counting the index */
  bytes: number;
  oldest: Date;
}

export interface HistoryStats {
  entries: number;
  /** false: PostgreSQL's estimate (more than a million entries) */
  entries_exact: boolean;
  /** pg_total_relation_size: the table, its indexes and TOAST */
  bytes: number;
  oldest: Date | null;
}

/**
 * The row trash per table (for the Trash page): counts, bytes, oldest deletion. Exact
 * when that takes at most 2 s; else estimated from a 1% sample. `db` is a transaction's
 * client: the exact try runs under a savepoint.
 */
export async function rowTrashStats(db: Queryable): Promise<RowTrashStats[]> {
  const { rows: before } = await db.query<{ timeout: string }>(`SELECT current_setting('statement_timeout') AS timeout`);
  await db.query('SAVEPOINT tw_row_trash_stats');
  try {
    await db.query(`SELECT set_config('statement_timeout', '2s', true)`);
    const { rows } = await db.query<RowTrashStats>(
      /* sql */ `SELECT table_id, count(*)::int8 AS rows, false AS estimated, coalesce(sum(pg_column_size(row_values)), 0)::int8 AS bytes, min(deleted_at) AS oldest
         FROM tablewright.row_trash GROUP BY table_id ORDER BY table_id`,
    );
    await db.query('RELEASE SAVEPOINT tw_row_trash_stats');
    await db.query(`SELECT set_config('statement_timeout', $1, true)`, [before[0]!.timeout]);
    return rows;
  } catch (err) {
    await db.query('ROLLBACK TO SAVEPOINT tw_row_trash_stats');
    if ((err as { code?: string }).code !== '57014') throw err;
  }
  const { rows } = await db.query<RowTrashStats>(
    /* sql */ `SELECT table_id, (count(*) * 100)::int8 AS rows, true AS estimated, (coalesce(sum(pg_column_size(row_values)), 0) * 100)::int8 AS bytes, min(deleted_at) AS oldest
       FROM tablewright.row_trash TABLESAMPLE SYSTEM (1) GROUP BY table_id ORDER BY table_id`,
  );
  return rows;
}

export async function historyStats(db: Queryable): Promise<HistoryStats> {
  const { rows } = await db.query<{ estimate: number; bytes: number; oldest: Date | null }>(
    /* sql */ `SELECT greatest(c.reltuples, 0)::int8 AS estimate, pg_total_relation_size(c.oid)::int8 AS bytes,
            (SELECT at FROM tablewright.row_history ORDER BY id LIMIT 1) AS oldest
       FROM pg_class c WHERE c.oid = 'tablewright.row_history'::regclass`,
  );
  const r = rows[0]!;
  if (Number(r.estimate) > 1_000_000) return { entries: Number(r.estimate), entries_exact: false, bytes: Number(r.bytes), oldest: r.oldest };
  const { rows: n } = await db.query<{ n: number }>(`SELECT count(*)::int8 AS n FROM tablewright.row_history`);
  return { entries: Number(n[0]!.n), entries_exact: true, bytes: Number(r.bytes), oldest: r.oldest };
}
