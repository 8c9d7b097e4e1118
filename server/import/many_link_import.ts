// A file whose header names a many-to-many link: its pairs live in a junction table and
// need the row's id, which COPY does not return, so such a file goes through the
// row-by-row import (importWithHistory: INSERT ... RETURNING id, then the pairs, in the
// caller's transaction; still all or nothing, the first problem with its line).
import { Readable } from 'node:stream';
import type pg from 'pg';
import { unprocessable } from '../errors.js';
import { importWithHistory } from '../history/import.js';
import type { Model, ModelField } from '../model/compile.js';
import { invalidCsv, mapHeader } from '../model/csv.js';
import { isManyLink } from '../schema/m2m.js';
import { CsvReader, CsvSyntaxError, MAX_RECORD_BYTES } from './copy_csv.js';
import type { CopyImportOptions, CopyImportResult } from './engine.js';
import type { Delimiter } from './delimiter.js';

/**
 * The many-to-many link the file's header names (by `columns`, or as mapHeader maps it),
 * if any, and the whole file again as a stream (its header was read to know).
 */
export async function manyLinkOfFile(model: Model, source: Readable, opts: CopyImportOptions): Promise<{ many: ModelField | null; stream: Readable; delimiter?: Delimiter }> {
  if (!model.fields.some((f) => isManyLink(f.meta))) return { many: null, stream: source };
  let peeked: Awaited<ReturnType<typeof peekHeader>>;
  try {
    peeked = await peekHeader(source, opts);
  } catch (err) {
    // bytes that are not UTF-8, or a record past the limit, in the first chunk: its line
    if (err instanceof CsvSyntaxError) throw invalidCsv(err.line, undefined, err.message);
    throw err;
  }
  const { header, stream, delimiter } = peeked;
  if (!header) return { many: null, stream };
  const mapped = opts.columns ? header.map((h) => model.byColumn.get(opts.columns![h.trim()] ?? '') ?? null) : mapHeader(model, header, opts.ignoreUnknown);
  return { many: mapped.find((f) => f && isManyLink(f.meta)) ?? null, stream, delimiter };
}

/** The first record of the file (its header), and the whole file again as a stream. */
async function peekHeader(source: Readable, opts: CopyImportOptions): Promise<{ header: string[] | null; stream: Readable; delimiter: Delimiter }> {
  const it = (source as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
  const reader = new CsvReader(MAX_RECORD_BYTES, opts.delimiter ?? ',');
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
  return { header, stream: Readable.from(again()), delimiter: reader.delimiter };
}

/**
 * A file with a many-to-many column: the row-by-row import (see importCsvCopy). Its options
 * that only the COPY engine has (on_error=skip, add_options, a column mapping) are refused.
 */
export async function manyLinkImport(tx: pg.PoolClient, model: Model, source: Readable, opts: CopyImportOptions, many: ModelField): Promise<CopyImportResult> {
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
    { ignoreUnknown: opts.ignoreUnknown, delimiter: opts.delimiter === 'auto' ? ',' : opts.delimiter, log: opts.log, onProgress: async (n) => { done = n; await opts.onProgress?.({ done, bytes: 0 }); } },
    { actor: opts.actor, request: opts.request },
  );
  opts.log?.info({ tableId: model.tableId, imported, via: 'rows' }, 'csv import (many-to-many, row by row) done');
  return { imported, delimiter: opts.delimiter === undefined || opts.delimiter === 'auto' ? ',' : opts.delimiter, rejected: 0, problems: [], rejects_url: null, added_options: [] };
}
