// The upload of a job, kept in PostgreSQL (tablewright.job_uploads) so that any instance
// may run the job: written in chunks in the transaction that queues it, read back in
// order by the instance that claims it, dropped when the job ends (queue.ts).
import { Readable } from 'node:stream';
import type { Queryable } from '../db/pool.js';

/** Bytes per stored chunk: big enough for few rows, small enough to hold one in memory. */
export const UPLOAD_CHUNK_BYTES = 1024 * 1024;

export interface StoredUpload {
  bytes: number;
  chunks: number;
}

/**
 * Reads `source` to its end into the job's chunks. `first` sees the first chunk (and
 * whether it is the whole upload) before anything is written, to refuse a bad header at
 * once; a throw from it, or from the source (too large, the client went away), ends the
 * write: the caller's transaction then rolls back with the job.
 */
export async function storeUpload(tx: Queryable, jobId: number, source: AsyncIterable<Buffer | string>, first?: (chunk: Buffer, whole: boolean) => void): Promise<StoredUpload> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const out: StoredUpload = { bytes: 0, chunks: 0 };

  const write = async (whole: boolean) => {
    if (!pendingBytes) return;
    const chunk = Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    if (out.chunks === 0) first?.(chunk, whole);
    await tx.query(`INSERT INTO tablewright.job_uploads (job_id, seq, chunk) VALUES ($1, $2, $3)`, [jobId, out.chunks, chunk]);
    out.chunks++;
  };

  for await (const piece of source) {
    const buf = typeof piece === 'string' ? Buffer.from(piece) : piece;
    if (!buf.length) continue;
    out.bytes += buf.length;
    pending.push(buf);
    pendingBytes += buf.length;
    if (pendingBytes >= UPLOAD_CHUNK_BYTES) await write(false);
  }
  await write(out.chunks === 0);
  return out;
}

/** The upload as a stream, one chunk fetched at a time (constant memory for any size). */
export function uploadStream(db: Queryable, jobId: number): Readable {
  async function* chunks() {
    for (let seq = 0; ; seq++) {
      const { rows } = await db.query<{ chunk: Buffer }>(`SELECT chunk FROM tablewright.job_uploads WHERE job_id = $1 AND seq = $2`, [jobId, seq]);
      if (!rows[0]) return;
      yield rows[0].chunk;
    }
  }
  return Readable.from(chunks(), { objectMode: false });
}

/** Whether the job still has its upload (a job that ended has none). */
export async function hasUpload(db: Queryable, jobId: number): Promise<boolean> {
  const { rows } = await db.query(`SELECT 1 FROM tablewright.job_uploads WHERE job_id = $1 LIMIT 1`, [jobId]);
  return rows.length > 0;
}
