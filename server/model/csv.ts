// CSV in and out of a user table, over its compiled model.
//
// Export walks the listing with the keyset cursor (never OFFSET), a page of 1000 rows at a
// time, so that a table of any size streams in constant memory and in a stable order.
// Import reads a stream record by record (csv-parse, after a strict UTF-8 decoding: bytes
// that are not UTF-8 are refused naming their line, as the COPY engine's reader does,
// never read as U+FFFD), maps the header to fields, parses
// every value with its field type, and inserts in batches inside the caller's transaction:
// one bad row anywhere means nothing is written.
import { SNIFF_CHARS, sniffDelimiter, type DelimiterChoice } from '../import/delimiter.js';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { parse, type CsvError } from 'csv-parse';
import { parse as parseSync } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import type { Queryable } from '../db/pool.js';
import { AppError, unprocessable } from '../errors.js';
import type { Logger } from '../log.js';
import { jsonText } from '../fields/json.js';
import { badUtf8Line, Utf8Guard } from '../import/utf8.js';
import type { Model, ModelField } from './compile.js';
import { createRow, createRows, listRows, parseRowInput, writeTarget, type ListRequest, type Row } from './rows.js';

export const EXPORT_PAGE_ROWS = 1000;
export const IMPORT_BATCH_ROWS = 500;
export const IMPORT_PROGRESS_EVERY = 10_000;
/** bound parameters per INSERT stay well under PostgreSQL's 65,535 */
const MAX_PARAMS = 60_000;

// ---------------------------------------------------------------- values

/**
 * One value as CSV text: links as their id, options as their label, JSON and numbers with
 * every digit as PostgreSQL holds them, dates and datetimes as the API writes them, and
 * a column of a type we do not model in PostgreSQL's own text (compile.ts readSql).
 */
export function csvText(field: ModelField, value: unknown): string {
  if (value === null || value === undefined) return '';
  switch (field.meta.type) {
    case 'link':
      if (Array.isArray(value)) return manyLinkText(value as Array<{ id: number; label: string | null }>);
      return String((value as { id: number }).id);
    case 'single_select':
      return (value as { label: string | null; id: number }).label ?? String((value as { id: number }).id);
    case 'multiple_select':
      // its labels, comma-separated (a label has no comma), as an import reads them back
      return (value as Array<{ label: string | null; id: number }>).map((c) => c.label ?? String(c.id)).join(', ');
    case 'json':
      return jsonText(value);
    case 'boolean':
      return value ? 'true' : 'false';
    default:
      return String(value);
  }
}

/**
 * A many-to-many value as CSV: comma-separated labels, each one that could not be read
 * back as that row (no label, a comma in it, digits alone or a "#") as #id instead.
 * The import reads both (server/fields/link_list.ts).
 */
export function manyLinkText(list: Array<{ id: number; label: string | null }>): string {
  return list.map((o) => (o.label && !/[,]|^\s|\s$|^#?\d+$/.test(o.label) ? o.label : `#${o.id}`)).join(', ');
}

/**
 * Spreadsheets run a cell that starts with = + - @ (or a tab or CR) as a formula. For
 * files meant for them, such cells get a leading apostrophe; off by default, so that an
 * export imports back exactly.
 */
export function defuseFormula(text: string): string {
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}

// ---------------------------------------------------------------- export

export interface ExportOptions {
  /** defuse formulas and start with a UTF-8 byte order mark (Excel reads UTF-8 by it) */
  excel?: boolean;
  /** the columns to write, in this order (a saved view's); every field in display order by default */
  columns?: string[];
}

const exported = (model: Model, opts: ExportOptions): ModelField[] =>
  opts.columns ? opts.columns.map((c) => model.byColumn.get(c)).filter((f): f is ModelField => f !== undefined) : model.fields;

/** The header: id (when the table has one), then the fields' column names in display order. */
export function csvHeader(model: Model, opts: ExportOptions = {}): string[] {
  return [...(model.hasId ? ['id'] : []), ...exported(model, opts).map((f) => f.column)];
}

export function csvRecord(model: Model, row: Row, opts: ExportOptions = {}): string[] {
  const cells = [...(model.hasId ? [String(row.id)] : []), ...exported(model, opts).map((f) => csvText(f, row[f.column]))];
  return opts.excel ? cells.map(defuseFormula) : cells;
}

/** RFC 4180: CRLF between records, fields quoted when they hold a comma, quote or line break. */
export function csvLines(records: string[][]): string {
  return stringify(records, { record_delimiter: 'windows' });
}

/**
 * The CSV text of a listing (its filters, search and sort; page and size are ignored),
 * in chunks of up to EXPORT_PAGE_ROWS records, the header first.
 */
export async function* exportCsv(pool: pg.Pool, model: Model, list: ListRequest, opts: ExportOptions = {}): AsyncGenerator<string> {
  yield (opts.excel ? '\ufeff' : '') + csvLines([csvHeader(model, opts)]);
  let after: string | undefined;
  for (;;) {
    const page = await listRows(pool, model, { ...list, page: undefined, after, size: String(EXPORT_PAGE_ROWS), count: '0' });
    if (page.rows.length) yield csvLines(page.rows.map((r) => csvRecord(model, r, opts)));
    if (!page.next) return;
    after = page.next;
  }
}

// ---------------------------------------------------------------- import

export interface ImportOptions {
  /** columns that match no field are skipped instead of refused */
  ignoreUnknown?: boolean;
  /** the cells' separator (default the comma) */
  delimiter?: ',' | ';' | '\t' | '|';
  log?: Logger;
  /** for tests: rows per INSERT */
  batchRows?: number;
  /** rows inserted so far, after each batch (a job shows it) */
  onProgress?: (imported: number) => Promise<void>;
  /** the ids of each batch inserted (the history's one entry per import lists them) */
  onRows?: (ids: number[]) => void;
}

export const invalidCsv = (line: number | undefined, field: string | undefined, message: string) =>
  unprocessable('invalid_csv', line !== undefined ? `line ${line}: ${message}` : message, field, { line, field, message });

/** A formula (generated column), a lookup or a rollup (computed from links): read-only; an import skips it. */
export const isComputed = (f: ModelField): boolean => f.meta.type === 'formula' || f.meta.type === 'lookup' || f.meta.type === 'rollup';

/**
 * Header cells -> fields: by column name, else by display name, both case-insensitive.
 * `id` (as export writes it) is skipped: imported rows get new ids.
 */
export function mapHeader(model: Model, header: string[], ignoreUnknown = false): Array<ModelField | null> {
  const unknown: string[] = [];
  const seen = new Map<ModelField, string>();
  const mapped = header.map((raw) => {
    const name = raw.trim();
    const key = name.toLowerCase();
    if (key === 'id') return null;
    const f = model.fields.find((x) => x.column.toLowerCase() === key) ?? model.fields.find((x) => x.meta.name.toLowerCase() === key);
    if (!f) {
      unknown.push(name);
      return null;
    }
    // a system field's or a formula's column (as export writes it) is PostgreSQL's to fill,
    // like id; a lookup's or rollup's (export writes them too) is computed: all are
    // skipped, so that an exported file imports back
    if (f.type.system || isComputed(f)) return null;
    if (seen.has(f)) throw invalidCsv(1, f.column, `the columns "${seen.get(f)}" and "${name}" are both field ${f.meta.name}`);
    seen.set(f, name);
    return f;
  });
  if (unknown.length && !ignoreUnknown) {
    const list = unknown.slice(0, 20).map((n) => `"${n.slice(0, 60)}"`).join(', ');
    throw new AppError(
      422,
      'unknown_columns',
      `no field of table "${model.table.name}" is named ${list}; rename ${unknown.length > 1 ? 'them' : 'it'}, or import with ignore_unknown=1 to skip ${unknown.length > 1 ? 'them' : 'it'}`,
      'header',
      { unknown, line: 1 },
    );
  }
  return mapped;
}

/**
 * Checks the header in the first bytes of a file (an import queued as a job is refused at
 * once for a bad header, not minutes later). Says nothing when the header does not end
 * within them: the import itself will.
 */
export function checkCsvHeader(model: Model, firstBytes: Buffer, whole: boolean, ignoreUnknown = false, delimiter: DelimiterChoice = ','): void {
  const nl = firstBytes.indexOf(0x0a);
  if (!whole && nl < 0) return;
  const bad = badUtf8Line(nl < 0 ? firstBytes : firstBytes.subarray(0, nl));
  if (bad) throw invalidCsv(1, undefined, bad.reason);
  // `auto`: detected from the lines this chunk holds, as the import will (it reads the same bytes first)
  const sep = delimiter === 'auto' ? sniffDelimiter(new TextDecoder().decode(firstBytes.subarray(0, SNIFF_CHARS)), whole && firstBytes.length <= SNIFF_CHARS) : delimiter;
  let header: string[] | undefined;
  try {
    header = (parseSync(firstBytes, { bom: true, to: 1, skip_empty_lines: true, delimiter: sep }) as string[][])[0];
  } catch {
    return;
  }
  if (header) mapHeader(model, header, ignoreUnknown);
}

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;

/**
 * Counts a CSV file's records as it streams past, without parsing it (an import job's
 * total, known when it is queued): line breaks outside quoted cells, skipping empty lines
 * as the import does. Exact for RFC 4180 files, where "" inside quotes is a quote and a
 * quote opens a cell; a file with a stray quote in a bare cell is counted off, but its
 * import fails on that line anyway.
 */
export class CsvRecordCounter {
  records = 0;
  private quoted = false;
  /** bytes of the record under way (a quoted line break counts: the record goes on) */
  private length = 0;
  /** the last byte seen, in this chunk or the one before */
  private last = LF;

  feed(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      const q = chunk.indexOf(QUOTE, i);
      if (this.quoted) {
        // everything up to the closing quote belongs to the record, line breaks included
        const end = q < 0 ? chunk.length : q + 1;
        this.take(chunk, i, end);
        if (q >= 0) this.quoted = false;
        i = end;
        continue;
      }
      const end = q < 0 ? chunk.length : q;
      const bare = chunk.subarray(i, end);
      let from = 0;
      for (let nl = bare.indexOf(LF); nl >= 0; nl = bare.indexOf(LF, from)) {
        this.take(bare, from, nl);
        this.endRecord();
        this.last = LF;
        from = nl + 1;
      }
      this.take(bare, from, bare.length);
      if (q < 0) return;
      this.take(chunk, q, q + 1);
      this.quoted = true;
      i = q + 1;
    }
  }

  /** The records, the last one counted too when the file does not end with a line break. */
  total(): number {
    return this.records + (this.hasContent() ? 1 : 0);
  }

  private take(buf: Buffer, from: number, to: number): void {
    if (to <= from) return;
    this.length += to - from;
    this.last = buf[to - 1]!;
  }

  /** An empty line ("" or a lone \r before the \n) is no record. */
  private hasContent(): boolean {
    return this.length > (this.last === CR ? 1 : 0);
  }

  private endRecord(): void {
    if (this.hasContent()) this.records++;
    this.length = 0;
  }
}

/** The line a record starts on (csv-parse counts the line it ends on). */
function startLine(endLine: number, record: string[]): number {
  let breaks = 0;
  for (const cell of record) for (let i = cell.indexOf('\n'); i >= 0; i = cell.indexOf('\n', i + 1)) breaks++;
  return endLine - breaks;
}

/**
 * Reads CSV from `source` into the table, in the caller's transaction (all or nothing:
 * the caller rolls back on any throw). A problem answers 422 invalid_csv with details
 * {line, field, message}; the count of rows imported otherwise.
 */
export async function importCsv(tx: Queryable, model: Model, source: Readable, opts: ImportOptions = {}): Promise<{ imported: number }> {
  // Refused before a byte is read: a table adopted read-only takes no rows.
  writeTarget(model);
  const parser = parse({ bom: true, info: true, skip_empty_lines: true, max_record_size: 10_000_000, delimiter: opts.delimiter ?? ',' });
  // An error in the source (too large, connection lost) ends the parser with it, and
  // surfaces from the loop below; stopping early (a bad row) destroys the source.
  pipeline(source, new Utf8Guard((e) => invalidCsv(e.line, undefined, e.reason)), parser).catch(() => undefined);
  let columns: Array<ModelField | null> | undefined;
  let batch: Array<{ line: number; body: Record<string, unknown> }> = [];
  let imported = 0;
  let batchRows = opts.batchRows ?? IMPORT_BATCH_ROWS;

  const flush = async () => {
    if (!batch.length) return;
    const rows = batch;
    batch = [];
    opts.onRows?.(await insertBatch(tx, model, rows));
    const before = imported;
    imported += rows.length;
    if (Math.floor(imported / IMPORT_PROGRESS_EVERY) > Math.floor(before / IMPORT_PROGRESS_EVERY)) {
      opts.log?.info({ tableId: model.tableId, rows: imported }, 'csv import progress');
    }
    await opts.onProgress?.(imported);
  };

  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      if (!columns) {
        columns = mapHeader(model, record, opts.ignoreUnknown);
        const used = Math.max(1, columns.filter(Boolean).length);
        batchRows = Math.max(1, Math.min(batchRows, Math.floor(MAX_PARAMS / used)));
        continue;
      }
      const line = startLine(info.lines, record);
      const body: Record<string, unknown> = {};
      record.forEach((cell, i) => {
        const f = columns![i];
        // An empty cell is no value: the field's default applies, or it stays empty.
        if (f && cell !== '') body[f.column] = cell;
      });
      const { problems } = parseRowInput(model, body, 'create');
      if (problems.length) throw invalidCsv(line, problems[0]!.field, problems[0]!.message);
      batch.push({ line, body });
      if (batch.length >= batchRows) await flush();
    }
  } catch (err) {
    const e = err as CsvError;
    if (typeof e?.code === 'string' && e.code.startsWith('CSV_')) {
      const line = (e as { lines?: number }).lines;
      throw invalidCsv(line, undefined, e.message.replace(/^Invalid (Record Length|Opening Quote|Closing Quote)?:?\s*/i, '').replace(/,? at line \d+\.?$/, '') || 'the file is not valid CSV');
    }
    throw err;
  }
  if (!columns) throw invalidCsv(undefined, undefined, 'the file is empty: the first line must name the columns');
  await flush();
  return { imported };
}

/**
 * One INSERT for the batch. When the database refuses it (a unique value repeated, a link
 * to no row), the batch is retried row by row under savepoints to name the line.
 */
async function insertBatch(tx: Queryable, model: Model, rows: Array<{ line: number; body: Record<string, unknown> }>): Promise<number[]> {
  await tx.query('SAVEPOINT tw_csv_batch');
  try {
    const created = await createRows(tx, model, rows.map((r) => r.body));
    await tx.query('RELEASE SAVEPOINT tw_csv_batch');
    return created.map((r) => r.id as number);
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    await tx.query('ROLLBACK TO SAVEPOINT tw_csv_batch');
    for (const r of rows) {
      try {
        await tx.query('SAVEPOINT tw_csv_row');
        await createRow(tx, model, r.body);
        await tx.query('RELEASE SAVEPOINT tw_csv_row');
      } catch (rowErr) {
        if (!(rowErr instanceof AppError)) throw rowErr;
        throw invalidCsv(r.line, rowErr.field, rowErr.message);
      }
    }
    throw invalidCsv(rows[0]!.line, err.field, err.message);
  }
}
