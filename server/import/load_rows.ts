// The one place a new table's rows are loaded: the COPY engine (server/import/engine.ts,
// importCsvCopy: every value parsed by its field's type, rows streamed by COPY, one
// history entry) in the schema change's transaction (a PoolClient), with the model
// compiled inside it (create.ts). All or nothing (on_error=stop): a failed import is a
// 422 invalid_csv listing every problem (details.problems, the rejects file), each with
// the file's own line (or the sheet's row).
//
// The records go straight to the engine with a header of the new fields' column names (a
// file's blank or repeated headers have unique names by now), each with the line it had in
// the file, so an error names the file's own line (or the sheet's row).
import type pg from 'pg';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Model } from '../model/compile.js';
import type { CsvRecord } from './copy_csv.js';
import { importRecordsCopy } from './engine.js';
import type { WriteContext } from '../history/stamp.js';
import type { SourceRecord } from './records.js';

export interface LoadOptions {
  /** the column name for each position of the file's records */
  columns: string[];
  write: WriteContext;
  /** where a failed import's rejects file is kept (autocommit: it outlives the rollback) */
  pool: pg.Pool;
  log?: Logger;
  onProgress?: (imported: number) => Promise<void>;
  /** 'row' for a sheet: errors say "row 12" */
  unit?: 'line' | 'row';
  /** a table created in this transaction: the engine numbers the rows (CopyImportOptions.freshIds) */
  freshIds?: boolean;
}

export async function loadRows(tx: pg.PoolClient, model: Model, records: AsyncIterable<SourceRecord[]>, opts: LoadOptions): Promise<{ imported: number }> {
  // The records go to the engine as they are (no CSV written and read again, no copy per
  // record), a header of the new fields' column names first; each keeps the file's line
  // (or the sheet's row).
  async function* runs(): AsyncGenerator<CsvRecord[]> {
    yield [{ cells: opts.columns, line: 1 }];
    yield* records;
  }
  try {
    const columns = Object.fromEntries(opts.columns.map((c) => [c, c]));
    const { imported } = await importRecordsCopy(tx, model, runs(), {
      onError: 'stop',
      freshIds: opts.freshIds,
      columns,
      actor: opts.write.actor,
      request: opts.write.request,
      log: opts.log,
      pool: opts.pool,
      onProgress: opts.onProgress ? ({ done }) => opts.onProgress!(done) : undefined,
    });
    return { imported };
  } catch (err) {
    type Problem = { line: number; column: string | null; reason: string };
    const d = err instanceof AppError ? (err.details as { line?: number; field?: string; message?: string; problems?: Problem[]; rejected?: number } | undefined) : undefined;
    if (err instanceof AppError && err.code === 'invalid_csv' && d && typeof d.line === 'number') {
      const unit = opts.unit ?? 'line';
      const line = d.line;
      const problems = d.problems?.map((p) => ({ ...p, ...(unit === 'row' ? { row: p.line } : {}) }));
      const n = d.rejected ?? problems?.length ?? 1;
      const more = n > 1 ? ` (and ${(n - 1).toLocaleString('en')} more ${unit}${n === 2 ? '' : 's'}: see details.problems)` : '';
      throw new AppError(422, err.code, `${unit} ${line}: ${d.message ?? err.message}${more}`, err.field, {
        ...d,
        line,
        ...(unit === 'row' ? { row: line } : {}),
        ...(problems ? { problems } : {}),
      });
    }
    throw err;
  }
}
