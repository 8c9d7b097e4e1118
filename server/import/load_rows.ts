// The one place a new table's rows are loaded: an adapter over the import path on main
// (server/model/csv.ts importCsv, through history/import.ts: batched INSERTs, every value
// parsed by its field's type, the first misfit a 422 naming its line and field, one history
// entry). The COPY engine (server/import/engine.ts, branch w17copy) takes the same inputs;
// switching is this function's body.
//
// The records are written back as CSV with a header of the new fields' column names (a
// file's blank or repeated headers have unique names by now), each record starting on the
// line it had in the file, so an error names the file's own line (or the sheet's row).
import { Readable } from 'node:stream';
import { stringify } from 'csv-stringify/sync';
import type { Queryable } from '../db/pool.js';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Model } from '../model/compile.js';
import { importWithHistory } from '../history/import.js';
import type { WriteContext } from '../history/stamp.js';
import type { SourceRecord } from './records.js';

export interface LoadOptions {
  /** the column name for each position of the file's records */
  columns: string[];
  write: WriteContext;
  log?: Logger;
  onProgress?: (imported: number) => Promise<void>;
  /** 'row' for a sheet: errors say "row 12" */
  unit?: 'line' | 'row';
}

export async function loadRows(tx: Queryable, model: Model, records: AsyncIterable<SourceRecord>, opts: LoadOptions): Promise<{ imported: number }> {
  // csv line -> the file's line, only where they differ (a sheet's cell with line breaks)
  const moved = new Map<number, number>();
  async function* csv() {
    let line = 1;
    yield stringify([opts.columns]);
    line++;
    for await (const { record, line: at } of records) {
      if (at > line) {
        yield '\n'.repeat(at - line);
        line = at;
      } else if (at !== line) moved.set(line, at);
      const text = stringify([record]);
      yield text;
      line += (text.match(/\n/g) ?? []).length;
    }
  }
  try {
    return await importWithHistory(tx, model, Readable.from(csv()), { log: opts.log, onProgress: opts.onProgress }, opts.write);
  } catch (err) {
    const d = err instanceof AppError ? (err.details as { line?: number; field?: string; message?: string } | undefined) : undefined;
    if (err instanceof AppError && err.code === 'invalid_csv' && d && typeof d.line === 'number') {
      const line = moved.get(d.line) ?? d.line;
      const unit = opts.unit ?? 'line';
      throw new AppError(422, err.code, `${unit} ${line}: ${d.message ?? err.message}`, err.field, { ...d, line, ...(unit === 'row' ? { row: line } : {}) });
    }
    throw err;
  }
}
