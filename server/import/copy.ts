// Rows into a table through COPY ... FROM STDIN (pg-copy-streams), in PostgreSQL's text
// format. Values arrive already parsed by their field types (the same values an INSERT
// would bind), so PostgreSQL's input functions see exactly the text a parameter would
// carry. Rows are sent in batches of about BATCH_BYTES, one COPY statement each: a COPY
// never waits on a slow upload (statement_timeout counts the database's work only), and a
// batch is sent while the next one is being parsed (two CPUs at work).
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { RawJson } from '../fields/exact_json.js';

export const BATCH_BYTES = 2 * 1024 * 1024;
/** The marker for "this column's default" (COPY's DEFAULT option, PostgreSQL 16+). */
export const DEFAULT_MARK = '\\D';

/** A value as COPY's text format writes it: \N for NULL, backslash escapes for the rest. */
export function copyText(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'bigint') text = String(value);
  else if (typeof value === 'boolean') text = value ? 't' : 'f';
  else if (value instanceof RawJson) text = value.text;
  else if (value instanceof Date) text = value.toISOString();
  else text = JSON.stringify(value);
  return escapeCopy(text);
}

const SPECIAL = /[\\\t\n\r]/;
export function escapeCopy(text: string): string {
  if (!SPECIAL.test(text)) return text;
  return text.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

/** A refusal by PostgreSQL during a COPY: the row (1-based within the batch) it names. */
export function copyErrorRow(err: unknown): number | undefined {
  const where = (err as { where?: string })?.where;
  const m = where ? /COPY [^,]+, line (\d+)/.exec(where) : null;
  return m ? Number(m[1]) : undefined;
}

/**
 * One COPY statement per batch of rows (each row a line of text format, ending in \n).
 * `send` queues a batch and returns once the previous one is in, so parsing goes on
 * while PostgreSQL takes a batch; `drain` waits for the last. A refusal surfaces from the
 * next send or from drain, with the batch's first row number (`batchStart`).
 */
export class CopyBatches {
  private inFlight: Promise<void> | null = null;
  rowsSent = 0;

  constructor(
    private readonly client: pg.PoolClient,
    private readonly sql: string,
    private readonly onBatchError: (err: unknown, lines: number[]) => Error,
  ) {}

  /** `text`: the batch's rows; `lines`: the file line of each, to name a refused one. */
  async send(text: string, lines: number[]): Promise<void> {
    await this.drain();
    this.rowsSent += lines.length;
    const p = this.copy(text).catch((err: unknown) => {
      throw this.onBatchError(err, lines);
    });
    p.catch(() => undefined); // heard by the next send or drain
    this.inFlight = p;
  }

  async drain(): Promise<void> {
    const p = this.inFlight;
    this.inFlight = null;
    if (p) await p;
  }

  private async copy(text: string): Promise<void> {
    const stream = this.client.query(copyFrom(this.sql));
    const done = new Promise<void>((resolve, reject) => {
      stream.on('finish', resolve);
      stream.on('error', reject);
    });
    stream.end(Buffer.from(text));
    await done;
  }
}
