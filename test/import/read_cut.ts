// Feeds bytes to the import's CSV reader cut at the given fractions of their length (inside
// a quote pair, a CRLF, a UTF-8 sequence...), as a stream's chunks would arrive: the
// records read, and the separator the reader read with.
import { CsvReader, type CsvRecord } from '../../server/import/copy_csv.js';
import type { Delimiter, DelimiterChoice } from '../../server/import/delimiter.js';

export function readCut(bytes: Buffer, cuts: number[], delimiter: DelimiterChoice = ','): { records: CsvRecord[]; delimiter: Delimiter } {
  const r = new CsvReader(64 * 1024 * 1024, delimiter);
  const out: CsvRecord[] = [];
  let at = 0;
  for (const c of [...cuts.map((x) => Math.floor(x * bytes.length))].sort((a, b) => a - b).concat(bytes.length)) {
    out.push(...r.feed(bytes.subarray(at, Math.max(at, c))));
    at = Math.max(at, c);
  }
  out.push(...r.end());
  return { records: out, delimiter: r.delimiter };
}
