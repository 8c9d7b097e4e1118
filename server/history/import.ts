// A CSV import through the daemon is one history entry, not one per row: the import's
// transaction is stamped with reason 'import', which the row trigger's WHEN clause skips
// (no per-row history cost: bulk loads keep their speed), and the import adds a single
// entry (op 'import') with the number of rows and the ids they got, as ranges. A row's
// history shows the import that added it; reverting to before it deletes the row. Rows
// loaded over SQL (psql's COPY included) are recorded one by one, as any other write.
import type { Readable } from 'node:stream';
import type { Queryable } from '../db/pool.js';
import type { Model } from '../model/compile.js';
import { importCsv, type ImportOptions } from '../model/csv.js';
import { stampTransaction, type WriteContext } from './stamp.js';

/** Consecutive ids folded into [from, to] ranges (an import's ids are mostly one range). */
export function idRanges(ids: number[]): Array<[number, number]> {
  const sorted = [...ids].sort((a, b) => a - b);
  const out: Array<[number, number]> = [];
  for (const id of sorted) {
    const last = out[out.length - 1];
    if (last && id <= last[1] + 1) last[1] = Math.max(last[1], id);
    else out.push([id, id]);
  }
  return out;
}

/** importCsv in the caller's transaction, recorded as one history entry. */
export async function importWithHistory(tx: Queryable, model: Model, source: Readable, opts: ImportOptions, w: WriteContext): Promise<{ imported: number }> {
  await stampTransaction(tx, { ...w, reason: 'import' });
  const ids: number[] = [];
  const result = await importCsv(tx, model, source, { ...opts, onRows: (batch) => ids.push(...batch) });
  await stampTransaction(tx, w);
  if (result.imported > 0) {
    await tx.query(
      /* sql */ `INSERT INTO tablewright.row_history (table_id, row_id, op, actor, application, request_id, reason, new_values)
        VALUES ($1, NULL, 'import', $2, nullif(current_setting('application_name'), ''), $3, 'import', $4)`,
      [model.tableId, w.actor, w.request ?? null, JSON.stringify({ rows: result.imported, ids: idRanges(ids) })],
    );
  }
  return result;
}
