// A file's records, header first, each with the line (CSV) or row (xlsx) it starts on: what
// inference samples and what the import loads. Errors name the line, as the import does.
import { Readable } from 'node:stream';
import { CsvReader, CsvSyntaxError, feedPieces, MAX_RECORD_BYTES, type CsvRecord } from './copy_csv.js';
import type { Delimiter, DelimiterChoice } from './delimiter.js';
import { invalidCsv } from '../model/csv.js';

/** A record of the file: the engine's own shape (CsvRecord), so that rows pass through as they are. */
export interface SourceRecord {
  cells: string[];
  line: number;
}

/**
 * The records of a CSV file (the import engine's reader, copy_csv.ts: a UTF-8 BOM
 * skipped, CRLF or LF, empty lines skipped), a chunk's worth at a time: an async step per
 * record costs more than reading it (about 1.7 s a million records for the three steps a
 * new table's rows went through). A record that cannot be read, or whose width differs
 * from the header's, is a 422 naming its line, as before.
 */
export async function* csvRuns(source: Readable, delimiter: DelimiterChoice = ',', seen?: { delimiter?: Delimiter }): AsyncGenerator<SourceRecord[]> {
  const reader = new CsvReader(MAX_RECORD_BYTES, delimiter);
  let width = -1;
  /** the reader's records themselves, checked (no copy per record) */
  const check = (recs: CsvRecord[]): SourceRecord[] => {
    for (const r of recs) {
      if (r.error) throw invalidCsv(r.line, undefined, r.error);
      if (width < 0) width = r.cells.length;
      else if (r.cells.length !== width) throw invalidCsv(r.line, undefined, `has ${r.cells.length} cells; the header has ${width}`);
    }
    return recs;
  };
  try {
    for await (const chunk of source as AsyncIterable<Buffer | string>) {
      for (const piece of feedPieces(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)) {
        const recs = reader.feed(piece);
        if (seen) seen.delimiter = reader.delimiter;
        if (recs.length) yield check(recs);
      }
    }
    const last = reader.end();
    if (seen) seen.delimiter = reader.delimiter;
    if (last.length) yield check(last);
  } catch (err) {
    if (err instanceof CsvSyntaxError) throw invalidCsv(err.line, undefined, err.message);
    throw err;
  } finally {
    source.destroy();
  }
}

/** The records of a CSV file one by one (see csvRuns). */
export async function* csvRecords(source: Readable): AsyncGenerator<SourceRecord> {
  for await (const run of csvRuns(source)) yield* run;
}

/** Records read one by one (a sheet's rows) in runs of `size`. */
export async function* runsOf(records: AsyncIterable<SourceRecord>, size = 512): AsyncGenerator<SourceRecord[]> {
  let run: SourceRecord[] = [];
  for await (const r of records) {
    run.push(r);
    if (run.length >= size) {
      yield run;
      run = [];
    }
  }
  if (run.length) yield run;
}

/** The first `max` records after the header, and whether the file ended within them. */
export interface Sample {
  header: string[];
  rows: SourceRecord[];
  complete: boolean;
  /** the records of the run the sample ended in, past the sample */
  left: SourceRecord[];
  /** the same iterator, past the sample (for an import that goes on reading) */
  rest: AsyncIterator<SourceRecord[]>;
}

/**
 * A sample record, copied: the sample outlives many garbage collections, and V8 decides
 * from how long the objects of one allocation site live whether to allocate that site's
 * next ones straight in the old generation (pretenuring). The reader's records, kept as
 * the sample, taught it to: every later import in the process then made its records in
 * the old generation, each pointing at young cells, and an append after a dry run took
 * 3.5 s instead of 2.6 s (scavenges 10x as long). Copies made here keep the reader's own
 * sites short-lived.
 */
function kept(r: SourceRecord): SourceRecord {
  return { cells: r.cells.slice(), line: r.line };
}

export async function readSample(runs: AsyncIterable<SourceRecord[]>, max: number): Promise<Sample> {
  const it = runs[Symbol.asyncIterator]();
  let run: SourceRecord[] = [];
  let at = 0;
  let ended = false;
  /** the next record, or null at the end of the file */
  const next = async (): Promise<SourceRecord | null> => {
    while (at >= run.length) {
      if (ended) return null;
      const r = await it.next();
      if (r.done) {
        ended = true;
        return null;
      }
      run = r.value;
      at = 0;
    }
    return run[at++]!;
  };
  const first = await next();
  if (!first || first.cells.every((c) => c === '')) {
    throw invalidCsv(undefined, undefined, 'the file is empty: the first line must name the columns');
  }
  const header = first.cells;
  const rows: SourceRecord[] = [];
  let complete = false;
  while (rows.length < max) {
    const r = await next();
    if (!r) {
      complete = true;
      break;
    }
    rows.push(kept(r));
  }
  return { header, rows, complete, left: run.slice(at), rest: it };
}

/** The sample's rows, then the rest of the file, in runs: the import reads every record once. */
export async function* sampleThenRest(s: Sample): AsyncGenerator<SourceRecord[]> {
  if (s.rows.length) yield s.rows;
  if (s.complete) return;
  if (s.left.length) yield s.left;
  for (;;) {
    const r = await s.rest.next();
    if (r.done) return;
    yield r.value;
  }
}
