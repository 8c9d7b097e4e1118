// The rejected lines of an import, as a CSV anyone can download (GET /imports/rejects/:id.csv):
// the file's own header and cells, then reject_line, reject_column and reject_reason. Kept
// in PostgreSQL (tablewright.import_rejects, in 1 MB chunks) so that any instance serves it,
// written through the pool (autocommit, not the import's transaction) so that a rolled-back
// import still has its report. Expires after REJECTS_TTL_MS; expired reports are pruned
// whenever a new one starts.
import { randomBytes } from 'node:crypto';
import { stringify } from 'csv-stringify/sync';
import type pg from 'pg';

export const REJECTS_TTL_MS = 24 * 60 * 60 * 1000;
/** Problems answered inline; all of them are in the file. */
export const INLINE_PROBLEMS = 1000;
const CHUNK_BYTES = 1024 * 1024;
export const REJECT_COLUMNS = ['reject_line', 'reject_column', 'reject_reason'];

export interface Problem {
  line: number;
  column: string | null;
  reason: string;
}

export const rejectsUrl = (id: string) => `/imports/rejects/${id}.csv`;

export class RejectsWriter {
  /** the first INLINE_PROBLEMS problems */
  readonly problems: Problem[] = [];
  count = 0;
  id: string | null = null;
  private pending: string[] = [];
  private pendingBytes = 0;
  private seq = 0;
  private header: string[] = [];

  constructor(
    private readonly pool: pg.Pool,
    private readonly meta: { tableId: number | null; actor: string },
  ) {}

  setHeader(header: string[]): void {
    this.header = header;
  }

  /** One rejected record (its cells as read, or none when it could not be read). */
  async add(p: Problem, cells: string[]): Promise<void> {
    this.count++;
    if (this.problems.length < INLINE_PROBLEMS) this.problems.push(p);
    if (!this.id) {
      this.id = randomBytes(16).toString('hex');
      await this.pool.query(`DELETE FROM tablewright.import_rejects WHERE expires_at < now()`);
      await this.pool.query(
        `INSERT INTO tablewright.import_rejects (id, table_id, actor, expires_at) VALUES ($1, $2, $3, now() + make_interval(secs => $4))`,
        [this.id, this.meta.tableId, this.meta.actor, REJECTS_TTL_MS / 1000],
      );
      this.push(stringify([[...this.header, ...REJECT_COLUMNS]], { record_delimiter: 'windows' }));
    }
    const width = this.header.length;
    const row = cells.slice(0, width);
    while (row.length < width) row.push('');
    this.push(stringify([[...row, String(p.line), p.column ?? '', p.reason]], { record_delimiter: 'windows' }));
    if (this.pendingBytes >= CHUNK_BYTES) await this.write();
  }

  private push(text: string): void {
    this.pending.push(text);
    this.pendingBytes += Buffer.byteLength(text);
  }

  private async write(): Promise<void> {
    if (!this.id || !this.pending.length) return;
    const chunk = Buffer.from(this.pending.join(''));
    this.pending = [];
    this.pendingBytes = 0;
    await this.pool.query(`INSERT INTO tablewright.import_reject_chunks (reject_id, seq, chunk) VALUES ($1, $2, $3)`, [this.id, this.seq++, chunk]);
  }

  /** Writes what is left and marks the report complete; its id, or null when nothing was rejected. */
  async finish(): Promise<string | null> {
    if (!this.id) return null;
    await this.write();
    await this.pool.query(`UPDATE tablewright.import_rejects SET rows = $2, complete = true WHERE id = $1`, [this.id, this.count]);
    return this.id;
  }
}

/** The chunks of a complete, unexpired report in order; null when there is none. */
export async function openRejects(db: Pick<pg.Pool, 'query'>, id: string): Promise<{ tableId: number | null; chunks: AsyncGenerator<Buffer> } | null> {
  if (!/^[0-9a-f]{32}$/.test(id)) return null;
  const { rows } = await db.query<{ table_id: string | null }>(
    `SELECT table_id FROM tablewright.import_rejects WHERE id = $1 AND complete AND expires_at > now()`,
    [id],
  );
  if (!rows[0]) return null;
  async function* chunks() {
    for (let seq = 0; ; seq++) {
      const r = await db.query<{ chunk: Buffer }>(`SELECT chunk FROM tablewright.import_reject_chunks WHERE reject_id = $1 AND seq = $2`, [id, seq]);
      if (!r.rows[0]) return;
      yield r.rows[0].chunk;
    }
  }
  return { tableId: rows[0].table_id === null ? null : Number(rows[0].table_id), chunks: chunks() };
}
