// Rows into a table through COPY ... FROM STDIN (pg-copy-streams), in PostgreSQL's text
// format. Values arrive already parsed by their field types (the same values an INSERT
// would bind), so PostgreSQL's input functions see exactly the text a parameter would
// carry. Rows are sent in batches of about BATCH_BYTES, one COPY statement each: a COPY
// never waits on a slow upload (statement_timeout counts the database's work only), and a
// batch is sent while the next one is being parsed (two CPUs at work).
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { RawJson } from '../fields/exact_json.js';
import { WOULD_NOT_CONVERT } from '../db/pg_errors.js';

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
 * A batch's rows as COPY text, written straight into one Buffer as they are made: no
 * string per row outlives its row (they would be promoted and collected at great cost),
 * and the batch goes to the socket as it is. `starts` keeps where each row begins, so a
 * part of the batch can be sent again (skip mode).
 */
export class RowBuffer {
  private buf: Buffer;
  private len = 0;
  private readonly starts: number[] = [];

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  get count(): number {
    return this.starts.length;
  }

  get byteLength(): number {
    return this.len;
  }

  /** One row, and the \n that ends it. */
  pushLine(row: string): void {
    this.room(row.length + 1);
    this.starts.push(this.len);
    this.len += this.buf.write(row, this.len, 'utf8');
    this.buf[this.len++] = 10;
  }

  /** Room for `units` UTF-16 units (UTF-8 takes at most 3 bytes for each). */
  private room(units: number): void {
    if (this.len + units * 3 > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + units * 3));
      this.buf.copy(bigger, 0, 0, this.len);
      this.buf = bigger;
    }
  }

  /** The bytes of rows [from, to). */
  bytes(from = 0, to = this.starts.length): Buffer {
    const end = to >= this.starts.length ? this.len : this.starts[to]!;
    return this.buf.subarray(this.starts[from] ?? this.len, end);
  }
}

/** A COPY refused by a row's value (class 22) or a constraint (class 23): the row is at fault, not the import. */
export function isRowRefusal(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  // TW001: a value the sync trigger of an online type change refused (it would not convert)
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23') || code === WOULD_NOT_CONVERT);
}

/** Rows re-sent per COPY once a batch has had a refusal (each refusal costs at most this much). */
const RETRY_ROWS = 256;
const SAVEPOINT = 'tw_import_batch';

/**
 * One COPY statement per batch of rows (each row a line of text format, ending in \n).
 * `send` queues a batch and returns once the previous one is in, so parsing goes on
 * while PostgreSQL takes a batch; `drain` waits for the last. A refusal surfaces from the
 * next send or from drain.
 *
 * on_error=stop: a refusal fails the batch (and the transaction): onBatchError names the
 * row. on_error=skip (`skip`): each batch runs under a savepoint; when
 * PostgreSQL refuses a row (a CHECK or unique constraint a DBA added, a value its column
 * cannot take), the batch is rolled back to the savepoint, the refused row is handed to
 * send's `refused`, and the rest is sent again (rows before it, then the rest in pieces of
 * RETRY_ROWS; a refusal that names no row is narrowed down by halves).
 */
export class CopyBatches {
  private inFlight: Promise<void> | null = null;
  /** rows PostgreSQL took */
  accepted = 0;

  constructor(
    private readonly client: pg.PoolClient,
    private readonly sql: string,
    private readonly onBatchError: (err: unknown, lines: number[]) => Error,
    /** on_error=skip: refused rows are handed to send's `refused`, the others kept */
    private readonly skip = false,
  ) {}

  /**
   * `rows`: the batch's rows; `lines`: the file line of each, to name a refused one;
   * `refused` (skip mode): told each row PostgreSQL refused, by its index in `rows`.
   */
  async send(rows: RowBuffer, lines: number[], refused?: (err: unknown, index: number) => Promise<void>): Promise<void> {
    await this.drain();
    const p = (this.skip && refused ? this.guarded(rows, lines, refused) : this.copy(rows.bytes()).then(() => void (this.accepted += rows.count))).catch(
      (err: unknown) => {
        throw err instanceof BatchFailure ? err.error : this.onBatchError(err, lines);
      },
    );
    p.catch(() => undefined); // heard by the next send or drain
    this.inFlight = p;
  }

  /** a batch is in flight */
  get busy(): boolean {
    return this.inFlight !== null;
  }

  async drain(): Promise<void> {
    const p = this.inFlight;
    this.inFlight = null;
    if (p) await p;
  }

  private async guarded(rows: RowBuffer, lines: number[], refused: (err: unknown, index: number) => Promise<void>): Promise<void> {
    await this.client.query(`SAVEPOINT ${SAVEPOINT}`);
    // ranges [from, to) still to send, the next on top
    const todo: Array<[number, number]> = [[0, rows.count]];
    let retrying = false;
    while (todo.length) {
      let [a, b] = todo.pop()!;
      if (retrying && b - a > RETRY_ROWS) {
        todo.push([a + RETRY_ROWS, b]);
        b = a + RETRY_ROWS;
      }
      try {
        await this.copy(rows.bytes(a, b));
        this.accepted += b - a;
        // later rows must not undo these: a new savepoint past them
        if (todo.length) await this.client.query(`RELEASE SAVEPOINT ${SAVEPOINT}; SAVEPOINT ${SAVEPOINT}`);
      } catch (err) {
        if (!isRowRefusal(err)) throw new BatchFailure(this.onBatchError(err, lines.slice(a, b)));
        await this.client.query(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
        retrying = true;
        const k = copyErrorRow(err);
        if (k !== undefined && k >= 1 && k <= b - a) {
          const bad = a + k - 1;
          await refused(err, bad);
          if (b > bad + 1) todo.push([bad + 1, b]);
          if (bad > a) todo.push([a, bad]);
        } else if (b - a === 1) {
          await refused(err, a);
        } else {
          const mid = (a + b) >> 1;
          todo.push([mid, b], [a, mid]);
        }
      }
    }
    await this.client.query(`RELEASE SAVEPOINT ${SAVEPOINT}`);
  }

  private async copy(data: Buffer): Promise<void> {
    const stream = this.client.query(copyFrom(this.sql));
    const done = new Promise<void>((resolve, reject) => {
      stream.on('finish', resolve);
      stream.on('error', reject);
    });
    stream.end(data);
    await done;
  }
}

/** An error already mapped (by onBatchError), passed through as it is. */
class BatchFailure extends Error {
  constructor(readonly error: Error) {
    super(error.message);
  }
}
