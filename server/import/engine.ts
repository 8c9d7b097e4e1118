// The import engine (issue 17): a CSV into a table at COPY speed. The file is parsed in
// node (copy_csv.ts), every value is parsed and validated by its field type (the same parsers
// as every other write, so a value is stored exactly or refused), and the good rows stream
// in COPY text format straight into the typed table, in the caller's transaction. Rows
// that fail are reported with their line, column and reason; all of them go to a rejects
// CSV (rejects.ts). on_error=stop (default): any problem throws 422 import_rejected and the
// caller rolls back, nothing written. on_error=skip: the good rows are kept.
// Row history: the import is one entry (op 'import', the ids as ranges), as before.
import { Readable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type pg from 'pg';
import { identFromCatalog } from '../db/ident.js';
import { AppError, unprocessable } from '../errors.js';
import { FieldValueError } from '../fields/types.js';
import type { Logger } from '../log.js';
import type { Model, ModelField } from '../model/compile.js';
import { invalidCsv, isComputed, mapHeader } from '../model/csv.js';
import { rowError, writeTarget } from '../model/rows.js';
import { stampTransaction } from '../history/stamp.js';
import { importWithHistory } from '../history/import.js';
import { isManyLink } from '../schema/m2m.js';
import { CsvReader, CsvSyntaxError, type CsvRecord } from './copy_csv.js';
import { BATCH_BYTES, copyErrorRow, copyText, CopyBatches, DEFAULT_MARK, RowBuffer } from './copy.js';
import { cellEncoder, COPY_NULL, type CellEncoder } from './cells.js';
import { commitNewOptions, GrowingChoices, lockForOptions } from './engine_options.js';
import { rejectsUrl, RejectsWriter, type Problem } from './rejects.js';

export interface CopyImportOptions {
  onError?: 'stop' | 'skip';
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
  rejected: number;
  problems: Problem[];
  rejects_url: string | null;
  added_options: Array<{ column: string; labels: string[] }>;
}

/** Longest record read (one line of the file, quoted line breaks included). */
export const MAX_RECORD_BYTES = 64 * 1024 * 1024;

interface Column {
  index: number;
  field: ModelField;
  /** the COPY text of "empty cell": the column default, or NULL */
  empty: string;
  grow?: GrowingChoices;
  encode: CellEncoder;
}

/**
 * The text of each mapped column's default, for servers before 16 (no COPY DEFAULT),
 * evaluated once for the whole import (as a multi-row INSERT's DEFAULT would be for a
 * stable one such as now()). The catalog's expression is never put into a query's text:
 * PostgreSQL evaluates it itself, by an INSERT into a temporary copy of the table's columns
 * and defaults (LIKE ... INCLUDING DEFAULTS) that names every other column with NULL (so
 * that only the mapped columns' defaults run) and is dropped at once.
 */
export async function defaultTexts(tx: pg.PoolClient, model: Model, fields: ModelField[]): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>();
  const { rows } = await tx.query<{ attname: string }>(
    `SELECT a.attname FROM pg_attribute a JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE a.attrelid = $1::regclass AND a.attname = ANY($2) AND a.attgenerated = ''`,
    [model.relation, fields.map((f) => f.column)],
  );
  if (!rows.length) return out;
  const wanted = new Set(rows.map((r) => r.attname));
  await tx.query(`CREATE TEMP TABLE tw_import_defaults (LIKE ${model.relation} INCLUDING DEFAULTS) ON COMMIT DROP`);
  {
    const { rows: cols } = await tx.query<{ attname: string; notnull: boolean }>(
      `SELECT attname, attnotnull AS notnull FROM pg_attribute WHERE attrelid = 'pg_temp.tw_import_defaults'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    );
    const others = cols.filter((c) => !wanted.has(c.attname)).map((c) => identFromCatalog(c.attname));
    const loose = cols.filter((c) => c.notnull).map((c) => `ALTER COLUMN ${identFromCatalog(c.attname)} DROP NOT NULL`);
    if (loose.length) await tx.query(`ALTER TABLE pg_temp.tw_import_defaults ${loose.join(', ')}`);
    const list = [...wanted].map((c) => `${identFromCatalog(c)}::text AS ${identFromCatalog(c)}`).join(', ');
    const insert = others.length
      ? `INSERT INTO pg_temp.tw_import_defaults (${others.join(', ')}) VALUES (${others.map(() => 'NULL').join(', ')}) RETURNING ${list}`
      : `INSERT INTO pg_temp.tw_import_defaults DEFAULT VALUES RETURNING ${list}`;
    const { rows: got } = await tx.query<Record<string, string | null>>(insert);
    for (const c of wanted) out.set(c, got[0]?.[c] ?? null);
  }
  await tx.query(`DROP TABLE pg_temp.tw_import_defaults`);
  return out;
}

/**
 * The import. A file whose header names a many-to-many link (no column: its pairs go to a
 * junction table, after the row has its id) goes through the row-by-row import instead
 * (importWithHistory: INSERT ... RETURNING id, then the pairs, in the same transaction;
 * still all or nothing, the first problem with its line). See manyLinkImport.
 */
export async function importCsvCopy(tx: pg.PoolClient, model: Model, source: Readable, opts: CopyImportOptions): Promise<CopyImportResult> {
  if (!model.fields.some((f) => isManyLink(f.meta))) return importCopy(tx, model, source, opts);
  const { header, stream } = await peekHeader(source);
  if (header) {
    const mapped = opts.columns ? header.map((h) => model.byColumn.get(opts.columns![h.trim()] ?? '') ?? null) : mapHeader(model, header, opts.ignoreUnknown);
    const many = mapped.find((f) => f && isManyLink(f.meta));
    if (many) return manyLinkImport(tx, model, stream, opts, many);
  }
  return importCopy(tx, model, stream, opts);
}

/** The first record of the file (its header), and the whole file again as a stream. */
async function peekHeader(source: Readable): Promise<{ header: string[] | null; stream: Readable }> {
  const it = (source as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
  const reader = new CsvReader(MAX_RECORD_BYTES);
  const seen: Buffer[] = [];
  let header: string[] | null = null;
  let done = false;
  while (!header) {
    const next = await it.next();
    if (next.done) {
      done = true;
      const last = reader.end()[0];
      header = last && !last.error ? last.cells : null;
      break;
    }
    const buf = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    seen.push(buf);
    const recs = reader.feed(buf);
    if (recs.length) header = recs[0]!.error ? null : recs[0]!.cells;
    if (recs.length && !header) break;
  }
  async function* again(): AsyncGenerator<Buffer> {
    yield* seen;
    if (done) return;
    for (let n = await it.next(); !n.done; n = await it.next()) yield typeof n.value === 'string' ? Buffer.from(n.value) : n.value;
  }
  return { header, stream: Readable.from(again()) };
}

/**
 * A file with a many-to-many column: the row-by-row import (see importCsvCopy). Its options
 * that only the COPY engine has (on_error=skip, add_options, a column mapping) are refused.
 */
async function manyLinkImport(tx: pg.PoolClient, model: Model, source: Readable, opts: CopyImportOptions, many: ModelField): Promise<CopyImportResult> {
  const refuse = (what: string) =>
    unprocessable('invalid_csv', `line 1: ${many.meta.name} is a many-to-many link: a file with it is imported all or nothing, without ${what}`, many.column, { line: 1, field: many.column });
  if ((opts.onError ?? 'stop') !== 'stop') throw refuse('on_error=skip');
  if (opts.addOptions) throw refuse('add_options');
  if (opts.columns) throw refuse('a column mapping');
  let done = 0;
  const { imported } = await importWithHistory(
    tx,
    model,
    source,
    { ignoreUnknown: opts.ignoreUnknown, log: opts.log, onProgress: async (n) => { done = n; await opts.onProgress?.({ done, bytes: 0 }); } },
    { actor: opts.actor, request: opts.request },
  );
  opts.log?.info({ tableId: model.tableId, imported, via: 'rows' }, 'csv import (many-to-many, row by row) done');
  return { imported, rejected: 0, problems: [], rejects_url: null, added_options: [] };
}

/** The records of a CSV byte stream, a chunk's worth at a time; `bytes` counts what was read. */
async function* csvChunks(source: Readable, bytes: { n: number }): AsyncGenerator<CsvRecord[]> {
  const reader = new CsvReader(MAX_RECORD_BYTES);
  for await (const chunk of source as AsyncIterable<Buffer | string>) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    bytes.n += buf.length;
    const recs = reader.feed(buf);
    if (recs.length) yield recs;
  }
  yield reader.end();
}

function importCopy(tx: pg.PoolClient, model: Model, source: Readable, opts: CopyImportOptions): Promise<CopyImportResult> {
  const bytes = { n: 0 };
  return importRecordsCopy(tx, model, csvChunks(source, bytes), opts, bytes);
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
  const { rows: vrows } = await tx.query<{ v: string; seq: string | null }>(
    `SELECT current_setting('server_version_num') AS v, pg_sequence_last_value(pg_get_serial_sequence($1, 'id')::regclass)::text AS seq`,
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
  let batchCells: string[][] = [];
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
    const refused = stop ? undefined : (err: unknown, i: number) => reject(refusal(model, err, lines[i] ?? 0), cells[i] ?? []);
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
    if (!stop) batchCells.push(record);
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
      throw await rejected(rejects, model, 0);
    }
    if (err instanceof CopyRowError) {
      // on_error=stop: PostgreSQL refused a row (the transaction is aborted): its problem
      await reject(err.problem, []);
      throw await rejected(rejects, model, 0);
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
      throw await rejected(rejects, model, 0);
    }
    throw err;
  }
  if (stop && rejects.count) throw await rejected(rejects, model, 0);
  imported = copy!.accepted;
  if (ownIds && lastId > 0) await tx.query(`SELECT setval(pg_get_serial_sequence($1, 'id'), $2)`, [model.relation, lastId]);

  const version = opts.addOptions ? await commitNewOptions(tx, model, grown, opts.actor, opts.instanceId) : null;
  await stampTransaction(tx, { actor: opts.actor, request: opts.request });
  // the engine's own ids are 1..lastId, every one written (stop mode)
  if (imported > 0) await recordImport(tx, model, target, idsAfter, imported, opts, ownIds ? [[1, lastId]] : undefined);
  const rejectsId = await rejects.finish();
  opts.log?.info({ tableId: model.tableId, imported, rejected: rejects.count, version }, 'csv import (copy) done');
  return {
    imported,
    rejected: rejects.count,
    problems: rejects.problems,
    rejects_url: rejectsId ? rejectsUrl(rejectsId) : null,
    added_options: grown.filter((g) => g.added.length).map((g) => ({ column: g.field.column, labels: g.added.map((c) => c.label) })),
  };
}

/** A single select's cell with add_options: an option it names, or a new one. */
function parseGrowing(f: ModelField, grow: GrowingChoices, cell: string): unknown {
  try {
    return f.type.parse(cell, grow.options);
  } catch (err) {
    if (!(err instanceof FieldValueError) || /^\d+$/.test(cell.trim())) throw err;
    const added = grow.add(cell);
    if (typeof added === 'string') throw new FieldValueError(added);
    return added.id;
  }
}

function addProblem(bad: Problem | null, line: number, f: ModelField, message: string): Problem {
  const reason = `${f.meta.name} ${message}`;
  return bad ? { ...bad, reason: `${bad.reason}; ${reason}` } : { line, column: f.column, reason };
}

class CopyRowError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.reason);
  }
}

/** PostgreSQL refused one row (skip mode): the problem for the rejects, naming the constraint. */
function refusal(model: Model, err: unknown, line: number): Problem {
  const mapped = rowError(model, err, 'insert');
  const e = err as { constraint?: string; message?: string };
  let reason = mapped instanceof AppError ? mapped.message : (e.message ?? 'PostgreSQL refused the row');
  if (e.constraint && !reason.includes(e.constraint)) reason += ` (constraint "${e.constraint}")`;
  return { line, column: mapped instanceof AppError ? (mapped.field ?? null) : null, reason };
}

/** PostgreSQL refused a row of a batch (a unique value repeated, a link to no row): its line. */
function copyFailure(model: Model, err: unknown, lines: number[]): Error {
  const row = copyErrorRow(err);
  const mapped = rowError(model, err, 'insert');
  if (!(mapped instanceof AppError) || row === undefined) return mapped instanceof Error ? mapped : (err as Error);
  return new CopyRowError(refusal(model, err, lines[row - 1] ?? 0));
}

async function rejected(rejects: RejectsWriter, model: Model, _imported: number): Promise<AppError> {
  const id = await rejects.finish();
  const n = rejects.count;
  const first = rejects.problems[0];
  // The code and first-problem details are those of the row-by-row import before (invalid_csv,
  // {line, field, message}), so that its callers keep working; the rest is added.
  const more = n > 1 ? ` (and ${(n - 1).toLocaleString('en')} more line${n === 2 ? '' : 's'}: see details.problems and the rejects file)` : '';
  return unprocessable(
    'invalid_csv',
    `${first ? `line ${first.line}: ${first.reason}` : 'the file could not be imported'}${more}; nothing was imported into "${model.table.name}"`,
    first?.column ?? undefined,
    { line: first?.line, field: first?.column ?? undefined, message: first?.reason, rejected: n, problems: rejects.problems, rejects_url: id ? rejectsUrl(id) : null },
  );
}

async function mapColumns(tx: pg.PoolClient, model: Model, header: string[], opts: CopyImportOptions, copyDefault: boolean, grown: GrowingChoices[]): Promise<Column[]> {
  let mapped: Array<ModelField | null>;
  if (opts.columns) {
    const seen = new Set<string>();
    mapped = header.map((h) => {
      const col = opts.columns![h.trim()];
      if (col === undefined || col === '') return null;
      const f = model.byColumn.get(col);
      if (f && isComputed(f)) return null; // a lookup or rollup: computed, skipped as mapHeader does
      if (!f || f.type.system) throw invalidCsv(1, col, `no field of table "${model.table.name}" has the column "${col.slice(0, 60)}"`);
      if (seen.has(col)) throw invalidCsv(1, col, `two columns of the file go to field ${f.meta.name}`);
      seen.add(col);
      return f;
    });
  } else {
    mapped = mapHeader(model, header, opts.ignoreUnknown);
  }
  const fields = mapped.filter((f): f is ModelField => f !== null);
  for (const f of fields) if (f.meta.read_only) throw invalidCsv(1, f.column, `${f.meta.name} is read-only`);
  for (const f of model.fields) {
    if (f.meta.not_null && f.meta.default_value == null && !f.type.system && !fields.includes(f)) {
      throw invalidCsv(1, f.column, `${f.meta.name} is required, and the file has no column for it`);
    }
  }
  if (!fields.length) throw invalidCsv(1, undefined, `the header names no field of table "${model.table.name}"`);
  const defaults = copyDefault ? null : await defaultTexts(tx, model, fields);
  const out: Column[] = [];
  mapped.forEach((f, index) => {
    if (!f) return;
    const hasDefault = f.meta.default_value != null;
    let empty = '\\N';
    if (hasDefault) {
      if (copyDefault) empty = DEFAULT_MARK;
      else {
        const t = defaults!.get(f.column);
        empty = t == null ? '\\N' : copyText(t);
      }
    }
    const grow = opts.addOptions && f.meta.type === 'single_select' ? new GrowingChoices(f) : undefined;
    if (grow) grown.push(grow);
    const parse = grow ? (cell: string) => parseGrowing(f, grow, cell) : (cell: string) => f.type.parse(cell, f.options);
    out.push({ index, field: f, empty, grow, encode: cellEncoder(f, parse, !grow) });
  });
  return out;
}

/** The history's one entry for the import: the rows and the ids they got, as ranges. */
async function recordImport(tx: pg.PoolClient, model: Model, target: string, idsAfter: string, imported: number, opts: CopyImportOptions, known?: number[][]): Promise<void> {
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
