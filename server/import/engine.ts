// The import engine (issue 17): a CSV into a table at COPY speed. The file is parsed in
// node (copy_csv.ts), every value is parsed and validated by its field type (the same parsers
// as every other write, so a value is stored exactly or refused), and the good rows stream
// in COPY text format straight into the typed table, in the caller's transaction. Rows
// that fail are reported with their line, column and reason; all of them go to a rejects
// CSV (rejects.ts). on_error=stop (default): any problem throws 422 invalid_csv and the
// caller rolls back, nothing written. on_error=skip: the good rows are kept.
// Row history: the import is one entry (op 'import', the ids as ranges), as before.
//
// Around this loop: header_columns.ts (header -> columns), refusals.ts (problems and the
// 422), history_entry.ts (the history entry), many_link_import.ts (a file with a
// many-to-many link, row by row), column_defaults.ts (defaults before PostgreSQL 16).
import type { Readable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type pg from 'pg';
import { FieldValueError } from '../fields/types.js';
import type { Logger } from '../log.js';
import type { Model } from '../model/compile.js';
import { invalidCsv } from '../model/csv.js';
import { writeTarget } from '../model/rows.js';
import { stampTransaction } from '../history/stamp.js';
import { CsvReader, CsvSyntaxError, feedPieces, MAX_RECORD_BYTES, type CsvRecord } from './copy_csv.js';
import type { Delimiter, DelimiterChoice } from './delimiter.js';
import { BATCH_BYTES, CopyBatches, DEFAULT_MARK, RowBuffer } from './copy.js';
import { COPY_NULL } from './cells.js';
import { commitNewOptions, type GrowingChoices, lockForOptions } from './engine_options.js';
import { mapColumns, type Column } from './header_columns.js';
import { recordImport } from './history_entry.js';
import { manyLinkImport, manyLinkOfFile } from './many_link_import.js';
import { rejectsUrl, RejectsWriter, type Problem } from './rejects.js';
import { addProblem, copyFailure, CopyRowError, refusal, rejected } from './refusals.js';

export { MAX_RECORD_BYTES } from './copy_csv.js';
export { defaultTexts } from './column_defaults.js';

export interface CopyImportOptions {
  onError?: 'stop' | 'skip';
  /** the cells' separator, or `auto` to detect it (delimiter.ts); default the comma */
  delimiter?: DelimiterChoice;
  addOptions?: boolean;
  ignoreUnknown?: boolean;
  /** header cell (as in the file, trimmed) -> field column; default: by column, then display name */
  columns?: Record<string, string>;
  actor: string;
  request?: string;
  log?: Logger;
  /** where the rejects file is written (autocommit): it outlives a rolled-back import */
  pool: pg.Pool;
  instanceId?: string;
  onProgress?: (p: { done: number; bytes: number }) => Promise<void> | void;
  /** for tests: bytes of COPY text per statement */
  batchBytes?: number;
  /**
   * A table created in this transaction, its id sequence never used (create-from-file):
   * the rows are numbered 1, 2, ... in the COPY itself (COPY takes an identity column's
   * value, GENERATED ALWAYS or not) and the sequence is set past them at the end: no
   * nextval per row. Ignored in skip mode or when the sequence has been used.
   */
  freshIds?: boolean;
}

export interface CopyImportResult {
  imported: number;
  /** the separator the file was read with */
  delimiter: Delimiter;
  rejected: number;
  problems: Problem[];
  rejects_url: string | null;
  added_options: Array<{ column: string; labels: string[] }>;
}

/**
 * The import. A file whose header names a many-to-many link (no column: its pairs go to a
 * junction table, after the row has its id) goes through the row-by-row import instead
 * (many_link_import.ts).
 */
export async function importCsvCopy(tx: pg.PoolClient, model: Model, source: Readable, opts: CopyImportOptions): Promise<CopyImportResult> {
  const { many, stream, delimiter } = await manyLinkOfFile(model, source, opts);
  // the row-by-row import reads the file again, with the separator its header was read with
  if (many) return manyLinkImport(tx, model, stream, { ...opts, delimiter: delimiter ?? opts.delimiter }, many);
  return importCopy(tx, model, stream, opts);
}

/**
 * A row's cells, kept while its batch is in flight in skip mode (for the rejects file,
 * should PostgreSQL refuse the row): one string, not an array and a string per cell (each
 * a view that keeps its chunk's text alive). Kept through several collections, the arrays
 * made skip mode's garbage collection about a fifth of the import. A row with the mark in
 * a cell is kept as it is.
 */
type PackedCells = string | string[];
const MARK = '\u0001';
function packCells(cells: string[]): PackedCells {
  for (const c of cells) if (c.includes(MARK)) return cells;
  return cells.join(MARK);
}
function unpackCells(p: PackedCells | undefined): string[] {
  return p === undefined ? [] : typeof p === 'string' ? p.split(MARK) : p;
}

/** The records of a CSV byte stream, a chunk's worth at a time; `bytes` counts what was read. */
async function* csvChunks(source: Readable, bytes: { n: number }, reader: CsvReader): AsyncGenerator<CsvRecord[]> {
  for await (const chunk of source as AsyncIterable<Buffer | string>) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    for (const piece of feedPieces(buf)) {
      bytes.n += piece.length;
      const recs = reader.feed(piece);
      if (recs.length) yield recs;
    }
  }
  yield reader.end();
}

async function importCopy(tx: pg.PoolClient, model: Model, source: Readable, opts: CopyImportOptions): Promise<CopyImportResult> {
  const bytes = { n: 0 };
  const reader = new CsvReader(MAX_RECORD_BYTES, opts.delimiter ?? ',');
  const out = await importRecordsCopy(tx, model, csvChunks(source, bytes, reader), opts, bytes);
  return { ...out, delimiter: reader.delimiter };
}

/**
 * The engine on records already read (a header first): a CSV file's (importCsvCopy), or
 * a new table's records from any source (load_rows.ts). A CsvSyntaxError thrown by the
 * records ends the import with that line's problem.
 */
export async function importRecordsCopy(
  tx: pg.PoolClient,
  model: Model,
  records: AsyncIterable<CsvRecord[]>,
  opts: CopyImportOptions,
  read: { n: number } = { n: 0 },
): Promise<CopyImportResult> {
  const target = writeTarget(model);
  const stop = (opts.onError ?? 'stop') === 'stop';
  const rejects = new RejectsWriter(opts.pool, { tableId: model.tableId, actor: opts.actor });
  if (opts.addOptions) await lockForOptions(tx, model);
  await stampTransaction(tx, { actor: opts.actor, request: opts.request, reason: 'import' });
  const { rows: vrows } = await tx.query<{ v: string; seq: string | null; cache: string | null }>(
    `SELECT current_setting('server_version_num') AS v, pg_sequence_last_value(s.oid)::text AS seq,
            (SELECT seqcache::text FROM pg_sequence WHERE seqrelid = s.oid) AS cache
       FROM (SELECT pg_get_serial_sequence($1, 'id')::regclass AS oid) s`,
    [model.relation],
  );
  const copyDefault = Number(vrows[0]!.v) >= 160000;
  const idsAfter = vrows[0]!.seq ?? '0';
  const ownIds = opts.freshIds === true && stop && vrows[0]!.seq === null && model.fields.every((f) => f.column !== 'id');
  let lastId = 0;

  let columns: Column[] | undefined;
  let rowParts: string[] | undefined;
  let headerWidth = 0;
  const maxBatch = opts.batchBytes ?? BATCH_BYTES;
  let batch = new RowBuffer(maxBatch + 64 * 1024);
  let batchLines: number[] = [];
  /** skip mode: the batch's records, for the rejects file should PostgreSQL refuse one */
  let batchCells: PackedCells[] = [];
  let imported = 0;
  const grown: GrowingChoices[] = [];
  let copy: CopyBatches | undefined;

  const reject = async (p: Problem, cells: string[]) => {
    await rejects.add(p, cells);
  };
  const flush = async () => {
    if (!batch.count || !copy) return;
    const rows = batch;
    const lines = batchLines;
    const cells = batchCells;
    batch = new RowBuffer(maxBatch + 64 * 1024);
    batchLines = [];
    batchCells = [];
    // skip mode: a row PostgreSQL refuses goes to the rejects, with its line and cells
    const refused = stop ? undefined : (err: unknown, i: number) => reject(refusal(model, err, lines[i] ?? 0), unpackCells(cells[i]));
    await copy.send(rows, lines, refused);
    imported += lines.length;
    await opts.onProgress?.({ done: imported, bytes: read.n });
  };

  const header = async (rec: CsvRecord) => {
    const record = rec.cells;
    if (rec.error) throw new CsvSyntaxError(rec.line, rec.error);
    columns = await mapColumns(tx, model, record, opts, copyDefault, grown);
    headerWidth = record.length;
    rowParts = new Array<string>(columns.length + (ownIds ? 1 : 0)).fill('');
    rejects.setHeader(record);
    const list = (ownIds ? ['id'] : []).concat(columns.map((c) => String(c.field.quoted))).join(', ');
    copy = new CopyBatches(tx, `COPY ${target} (${list}) FROM STDIN${copyDefault ? ` WITH (DEFAULT '${DEFAULT_MARK}')` : ''}`, (err, lines) => copyFailure(model, err, lines), !stop);
  };

  // Not async: a row that needs no wait (most) costs no promise.
  const take = (rec: CsvRecord): Promise<void> | undefined => {
    if (!columns) return header(rec);
    const record = rec.cells;
    const line = rec.line;
    if (rec.error) return reject({ line, column: null, reason: rec.error }, record);
    if (record.length !== headerWidth) return reject({ line, column: null, reason: `has ${record.length} cells; the header has ${headerWidth}` }, record);
    // the row's COPY texts, joined once (one flat string, not a chain of concatenations)
    const parts = rowParts!;
    const first = ownIds ? 1 : 0;
    if (ownIds) parts[0] = String(lastId + 1);
    let bad: Problem | null = null;
    for (let i = 0; i < columns.length; i++) {
      const c = columns[i]!;
      const cell = record[c.index]!;
      let out: string;
      if (cell === '') {
        out = c.empty;
        if (out === COPY_NULL && c.field.meta.not_null) bad = addProblem(bad, line, c.field, 'is required');
      } else {
        try {
          out = c.encode(cell);
          if (out === COPY_NULL && c.field.meta.not_null) throw new FieldValueError('is required');
        } catch (err) {
          if (!(err instanceof FieldValueError)) throw err;
          bad = addProblem(bad, line, c.field, err.message);
          out = '';
        }
      }
      parts[first + i] = out;
    }
    if (bad) return reject(bad, record);
    if (stop && rejects.count) return; // nothing will be written: only problems matter now
    if (ownIds) lastId++;
    batch.pushLine(parts.join('\t'));
    batchLines.push(line);
    if (!stop) batchCells.push(packCells(record));
    if (batch.byteLength >= maxBatch) return flush();
    return undefined;
  };

  try {
    for await (const recs of records) {
      for (const rec of recs) {
        const wait = take(rec);
        if (wait) await wait;
      }
      // A source that has data ready resolves in microtasks and never lets the event loop
      // turn: the batch in flight would stay in the socket's buffer, and PostgreSQL would
      // wait for the rest of it while the next one is parsed. One turn per run of records.
      if (copy?.busy) await nextTurn();
    }
  } catch (err) {
    await copy?.drain().catch(() => undefined);
    if (err instanceof CsvSyntaxError) {
      await reject({ line: err.line, column: null, reason: err.message }, []);
      throw await rejected(rejects, model);
    }
    if (err instanceof CopyRowError) {
      // on_error=stop: PostgreSQL refused a row (the transaction is aborted): its problem
      await reject(err.problem, []);
      throw await rejected(rejects, model);
    }
    throw err;
  }
  if (!columns) throw invalidCsv(undefined, undefined, 'the file is empty: the first line must name the columns');
  try {
    if (!(stop && rejects.count)) await flush();
    await copy!.drain();
  } catch (err) {
    if (err instanceof CopyRowError) {
      await reject(err.problem, []);
      throw await rejected(rejects, model);
    }
    throw err;
  }
  if (stop && rejects.count) throw await rejected(rejects, model);
  imported = copy!.accepted;
  if (ownIds && lastId > 0) await tx.query(`SELECT setval(pg_get_serial_sequence($1, 'id'), $2)`, [model.relation, lastId]);

  const version = opts.addOptions ? await commitNewOptions(tx, model, grown, opts.actor, opts.instanceId) : null;
  await stampTransaction(tx, { actor: opts.actor, request: opts.request });
  // the engine's own ids are 1..lastId, every one written (stop mode)
  if (imported > 0) await recordImport(tx, model, target, { after: idsAfter, cacheOne: vrows[0]!.cache === '1' }, imported, opts, ownIds ? [[1, lastId]] : undefined);
  const rejectsId = await rejects.finish();
  opts.log?.info({ tableId: model.tableId, imported, rejected: rejects.count, version }, 'csv import (copy) done');
  return {
    imported,
    delimiter: opts.delimiter === undefined || opts.delimiter === 'auto' ? ',' : opts.delimiter,
    rejected: rejects.count,
    problems: rejects.problems,
    rejects_url: rejectsId ? rejectsUrl(rejectsId) : null,
    added_options: grown.filter((g) => g.added.length).map((g) => ({ column: g.field.column, labels: g.added.map((c) => c.label) })),
  };
}
