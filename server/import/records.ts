// A file's records, header first, each with the line (CSV) or row (xlsx) it starts on: what
// inference samples and what the import loads. Errors name the line, as the import does.
import { Readable } from 'node:stream';
import { CsvReader, CsvSyntaxError, type CsvRecord } from './copy_csv.js';
import { invalidCsv } from '../model/csv.js';
import { MAX_RECORD_BYTES } from './engine.js';

export interface SourceRecord {
  record: string[];
  line: number;
}

/**
 * The records of a CSV file (the import engine's reader, copy_csv.ts: a UTF-8 BOM
 * skipped, CRLF or LF, empty lines skipped). A record that cannot be read, or whose
 * width differs from the header's, is a 422 naming its line, as before.
 */
export async function* csvRecords(source: Readable): AsyncGenerator<SourceRecord> {
  const reader = new CsvReader(MAX_RECORD_BYTES);
  let width = -1;
  const check = (r: CsvRecord): SourceRecord => {
    if (r.error) throw invalidCsv(r.line, undefined, r.error);
    if (width < 0) width = r.cells.length;
    else if (r.cells.length !== width) throw invalidCsv(r.line, undefined, `has ${r.cells.length} cells; the header has ${width}`);
    return { record: r.cells, line: r.line };
  };
  try {
    for await (const piece of source as AsyncIterable<Buffer | string>) {
      for (const r of reader.feed(typeof piece === 'string' ? Buffer.from(piece) : piece)) yield check(r);
    }
    for (const r of reader.end()) yield check(r);
  } catch (err) {
    if (err instanceof CsvSyntaxError) throw invalidCsv(err.line, undefined, err.message);
    throw err;
  } finally {
    source.destroy();
  }
}

/** The first `max` records after the header, and whether the file ended within them. */
export interface Sample {
  header: string[];
  rows: SourceRecord[];
  complete: boolean;
  /** the same iterator, past the sample (for an import that goes on reading) */
  rest: AsyncIterator<SourceRecord>;
}

export async function readSample(records: AsyncIterable<SourceRecord>, max: number): Promise<Sample> {
  const it = records[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done || first.value.record.every((c) => c === '')) {
    throw invalidCsv(undefined, undefined, 'the file is empty: the first line must name the columns');
  }
  const header = first.value.record;
  const rows: SourceRecord[] = [];
  let complete = false;
  while (rows.length < max) {
    const r = await it.next();
    if (r.done) {
      complete = true;
      break;
    }
    rows.push(r.value);
  }
  return { header, rows, complete, rest: it };
}

/** The sample's rows, then the rest of the file: the import reads every record once. */
export async function* sampleThenRest(s: Sample): AsyncGenerator<SourceRecord> {
  yield* s.rows;
  if (s.complete) return;
  for (;;) {
    const r = await s.rest.next();
    if (r.done) return;
    yield r.value;
  }
}
