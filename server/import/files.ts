// Files uploaded to make a new table from, kept in PostgreSQL (tablewright.import_files,
// migration 046): written in 1 MB chunks as they stream in, read back one chunk at a time
// (constant memory for any size), by any instance.
import { Readable } from 'node:stream';
import type { Queryable } from '../db/pool.js';
import { AppError } from '../errors.js';
import { UPLOAD_CHUNK_BYTES } from '../jobs/uploads.js';

export type FileFormat = 'csv' | 'xlsx';

export interface ImportFile {
  id: number;
  created_by: string;
  filename: string;
  format: FileFormat;
  bytes: number;
}

/** Files not used for this long are dropped when the next one is stored. */
export const IMPORT_FILE_TTL = '1 day';

export async function storeImportFile(tx: Queryable, meta: { actor: string; filename: string; format: FileFormat }, source: AsyncIterable<Buffer | string>): Promise<ImportFile> {
  await tx.query(`DELETE FROM tablewright.import_files WHERE created_at < now() - $1::interval`, [IMPORT_FILE_TTL]);
  const { rows } = await tx.query<{ id: string }>(
    `INSERT INTO tablewright.import_files (created_by, filename, format) VALUES ($1, $2, $3) RETURNING id`,
    [meta.actor, meta.filename.slice(0, 255), meta.format],
  );
  const id = Number(rows[0]!.id);
  let pending: Buffer[] = [];
  let size = 0;
  let bytes = 0;
  let seq = 0;
  const write = async () => {
    if (!size) return;
    const chunk = Buffer.concat(pending, size);
    pending = [];
    size = 0;
    await tx.query(`INSERT INTO tablewright.import_file_chunks (file_id, seq, chunk) VALUES ($1, $2, $3)`, [id, seq++, chunk]);
  };
  for await (const piece of source) {
    const buf = typeof piece === 'string' ? Buffer.from(piece) : piece;
    bytes += buf.length;
    pending.push(buf);
    size += buf.length;
    if (size >= UPLOAD_CHUNK_BYTES) await write();
  }
  await write();
  await tx.query(`UPDATE tablewright.import_files SET bytes = $2 WHERE id = $1`, [id, bytes]);
  return { id, created_by: meta.actor, filename: meta.filename, format: meta.format, bytes };
}

export async function getImportFile(db: Queryable, id: number): Promise<ImportFile> {
  const { rows } = await db.query<ImportFile & { id: string; bytes: string }>(`SELECT id, created_by, filename, format, bytes FROM tablewright.import_files WHERE id = $1`, [id]);
  if (!rows[0]) throw new AppError(404, 'not_found', `no uploaded file ${id}: files are kept for ${IMPORT_FILE_TTL}, and dropped once their table is created; upload it again`, 'file');
  return { ...rows[0], id: Number(rows[0].id), bytes: Number(rows[0].bytes) };
}

export function importFileStream(db: Queryable, id: number): Readable {
  async function* chunks() {
    for (let seq = 0; ; seq++) {
      const { rows } = await db.query<{ chunk: Buffer }>(`SELECT chunk FROM tablewright.import_file_chunks WHERE file_id = $1 AND seq = $2`, [id, seq]);
      if (!rows[0]) return;
      yield rows[0].chunk;
    }
  }
  return Readable.from(chunks(), { objectMode: false });
}

export async function dropImportFile(db: Queryable, id: number): Promise<void> {
  await db.query(`DELETE FROM tablewright.import_files WHERE id = $1`, [id]);
}
