// The import's one row-history entry (op 'import'): how many rows, and their ids as ranges.
import type pg from 'pg';
import type { Model } from '../model/compile.js';
import type { CopyImportOptions } from './engine.js';

/** The history's one entry for the import: the rows and the ids they got, as ranges. */
export async function recordImport(tx: pg.PoolClient, model: Model, target: string, idsAfter: string, imported: number, opts: CopyImportOptions, known?: number[][]): Promise<void> {
  // The rows this transaction wrote (xmin), past the id sequence's value before the import.
  const ids =
    known ??
    (
      await tx.query<{ lo: string; hi: string }>(
        `SELECT min(id)::text AS lo, max(id)::text AS hi FROM (
            SELECT id, id - row_number() OVER (ORDER BY id) AS g FROM ${target} WHERE id > $1::bigint AND xmin = pg_current_xact_id()::xid
          ) s GROUP BY g ORDER BY min(id)`,
        [idsAfter],
      )
    ).rows.map((r) => [Number(r.lo), Number(r.hi)]);
  await tx.query(
    /* sql */ `INSERT INTO tablewright.row_history (table_id, row_id, op, actor, application, request_id, reason, new_values)
      VALUES ($1, NULL, 'import', $2, nullif(current_setting('application_name'), ''), $3, 'import', $4)`,
    [model.tableId, opts.actor, opts.request ?? null, JSON.stringify({ rows: imported, ids })],
  );
}
