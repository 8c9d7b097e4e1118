// A file's records, header first, each with the line (CSV) or row (xlsx) it starts on: what
// inference samples and what the import loads. Errors name the line, as the import does.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse, type CsvError } from 'csv-parse';
import { invalidCsv } from '../model/csv.js';

export interface SourceRecord {
  record: string[];
  line: number;
}

/** The line a record starts on (csv-parse counts the line it ends on). */
function startLine(endLine: number, record: string[]): number {
  let breaks = 0;
  for (const cell of record) for (let i = cell.indexOf('\n'); i >= 0; i = cell.indexOf('\n', i + 1)) breaks++;
  return endLine - breaks;
}

/** Bytes handed to the parser at a time: it parses a whole chunk before it can pause. */
const PARSE_SLICE = 64 * 1024;

/** Slices big chunks (a 1 MB stored chunk, a file in one buffer): a sample stops within 64 KB. */
async function* sliced(source: AsyncIterable<Buffer | string>): AsyncGenerator<Buffer> {
  for await (const piece of source) {
    const buf = typeof piece === 'string' ? Buffer.from(piece) : piece;
    for (let i = 0; i < buf.length; i += PARSE_SLICE) yield buf.subarray(i, i + PARSE_SLICE);
  }
}

export async function* csvRecords(source: Readable): AsyncGenerator<SourceRecord> {
  const parser = parse({ bom: true, info: true, skip_empty_lines: true, max_record_size: 10_000_000 });
  pipeline(Readable.from(sliced(source), { objectMode: false }), parser).catch((err: unknown) => parser.destroy(err as Error));
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      yield { record, line: startLine(info.lines, record) };
    }
  } catch (err) {
    const e = err as CsvError;
    if (typeof e?.code === 'string' && e.code.startsWith('CSV_')) {
      const line = (e as { lines?: number }).lines;
      throw invalidCsv(line, undefined, e.message.replace(/^Invalid (Record Length|Opening Quote|Closing Quote)?:?\s*/i, '').replace(/,? at line \d+\.?$/, '') || 'the file is not valid CSV');
    }
    throw err;
  } finally {
    parser.destroy();
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
