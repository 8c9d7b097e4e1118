// A new table from a file (server/import/): POST /tables/import for scripts (dry_run=1
// answers the inferred fields), and the console's "Import a file": upload, a preview page
// with a type picker per column, then the same POST with the stored file's id.
import type { Request, Response } from 'express';
import type { Readable } from 'node:stream';
import type { AppContext } from '../../context.js';
import { withTransaction } from '../../db/tx.js';
import { AppError, badRequest } from '../../errors.js';
import { fieldType, parseOptions } from '../../fields/registry.js';
import { enqueueJob } from '../../jobs/queue.js';
import { createTableFromFile } from '../../import/create.js';
import { dropImportFile, getImportFile, importFileStream, storeImportFile, type FileFormat } from '../../import/files.js';
import { inferFields, SAMPLE_ROWS, type InferredField } from '../../import/infer_plan.js';
import { IMPORT_TYPES } from '../../import/infer.js';
import { IMPORT_TABLE } from '../../import/job.js';
import { csvRuns, readSample, runsOf, sampleThenRest, type SourceRecord } from '../../import/records.js';
import { delimiterName, delimiterParam, type Delimiter, type DelimiterChoice } from '../../import/delimiter.js';
import { fileUpload } from '../../import/upload.js';
import { xlsxRecords } from '../../import/xlsx.js';
import { writeContext } from '../../history/stamp.js';
import { flag, idParam } from '../../schema/input.js';
import { validateDisplayName } from '../../schema/names.js';
import { describeTable } from '../../schema/tables.js';
import { reply } from '../negotiate.js';
import { route } from '../route.js';
import { answerQueued } from './jobs.js';
import { actorOf, editorDeps } from './schema_deps.js';

/** Rows the preview shows as they would land. */
const PREVIEW_ROWS = 10;

/** The file's records; a CSV's separator as given or detected (`seen` says which, once read). */
const recordsOf = (ctx: AppContext, format: FileFormat, stream: Readable, sheet?: string, delimiter: DelimiterChoice = 'auto', seen?: { delimiter?: Delimiter }) =>
  format === 'xlsx' ? runsOf(xlsxRecords(stream, sheet, ctx.config.importXlsxMaxUnzipped)) : csvRuns(stream, delimiter, seen);

const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);

/** A display name from a file name: "sales 2024.csv" -> "sales 2024". */
const nameFromFile = (filename: string) => filename.replace(/\.(csv|xlsx|txt)$/i, '').trim();

/** Every parameter: the query, then a form or JSON body, then the multipart form's fields. */
function paramsOf(req: Request, fields: Record<string, unknown> = {}): Record<string, unknown> {
  const b = req.body && typeof req.body === 'object' && !Array.isArray(req.body) ? (req.body as Record<string, unknown>) : {};
  return { ...(req.query as Record<string, unknown>), ...b, ...fields };
}

/** A cell as it would land in a field of this type: its stored text, or why it does not fit. */
export function landing(f: InferredField, cell: string | undefined): { text: string; misfit?: string } {
  if (cell === undefined || cell === '') return { text: '' };
  try {
    const def = fieldType(f.type);
    const v = def.parse(cell, parseOptions(def, f.options));
    if (f.type === 'single_select' || f.type === 'json') return { text: cell };
    if (f.type === 'boolean') return { text: v ? 'yes' : 'no' };
    return { text: String(v) };
  } catch (err) {
    return { text: cell, misfit: (err as Error).message };
  }
}

interface Source {
  format: FileFormat;
  stream: Readable;
  fields: Record<string, unknown>;
  filename: string;
  fileId?: number;
  bytes?: number;
}

async function sourceOf(ctx: AppContext, req: Request): Promise<Source> {
  const early = paramsOf(req);
  if (early.file_id !== undefined && early.file_id !== '') {
    const file = await getImportFile(ctx.pool, idParam(early.file_id, 'file_id'));
    return { format: file.format, stream: importFileStream(ctx.pool, file.id), fields: {}, filename: file.filename, fileId: file.id, bytes: file.bytes };
  }
  const up = await fileUpload(req, ctx.config.importMaxBytes);
  return { format: up.format, stream: up.stream, fields: up.fields, filename: up.filename };
}

/** Stores an upload (for the preview page, or for a job), in its own transaction unless given one. */
async function store(ctx: AppContext, req: Request, src: Source) {
  return withTransaction(ctx.pool, (tx) => storeImportFile(tx, { actor: actorOf(req).name, filename: src.filename, format: src.format }, src.stream as AsyncIterable<Buffer>));
}

function previewOf(fields: InferredField[], rows: SourceRecord[]) {
  return rows.slice(0, PREVIEW_ROWS).map((r) => ({ line: r.line, cells: fields.map((f, i) => landing(f, r.cells[i])) }));
}

async function importTable(ctx: AppContext, req: Request, res: Response): Promise<void> {
  let src: Source | undefined;
  try {
    src = await sourceOf(ctx, req);
    const p = paramsOf(req, src.fields);
    const dryRun = flag(p.dry_run, 'dry_run') ?? false;
    const sheet = text(p.sheet);
    const delimiter = delimiterParam(p.delimiter);
    const seen: { delimiter?: Delimiter } = {};
    const name = text(p.name) || nameFromFile(src.filename);
    if (!dryRun) validateDisplayName(name);
    const over = { types: p.types as Record<string, unknown> | undefined, options: p.options as Record<string, unknown> | undefined };
    for (const [k, m] of Object.entries(over)) if (m !== undefined && (typeof m !== 'object' || m === null || Array.isArray(m))) throw badRequest(`${k} is an object: ${k}[<column>]=...`, k);
    const declared = src.bytes ?? Number(req.get('Content-Length') ?? 0);
    const asJob = !dryRun && (flag(p.async, 'async') ?? declared > ctx.config.importJobBytes);

    if (asJob) {
      // The file is kept in PostgreSQL first, then sampled from there: any instance runs the job.
      const fileId = src.fileId ?? (await store(ctx, req, src)).id;
      const file = await getImportFile(ctx.pool, fileId);
      const sample = await readSample(recordsOf(ctx, file.format, importFileStream(ctx.pool, fileId), sheet, delimiter, seen), SAMPLE_ROWS);
      const fields = await inferFields(ctx.pool, sample.header, sample.rows, over);
      // the separator found in the sample: the job reads the same file with it
      const job = await enqueueJob(ctx.pool, { kind: IMPORT_TABLE, payload: { fileId, name, table_name: text(p.table_name), sheet, fields, delimiter: seen.delimiter ?? ',' }, actor: actorOf(req).name, total: sample.complete ? sample.rows.length : undefined });
      req.log.info({ jobId: job.id, fileId, bytes: file.bytes }, 'table import queued');
      return answerQueued(ctx, req, res, job);
    }

    const t0 = Date.now();
    const sample = await readSample(recordsOf(ctx, src.format, src.stream, sheet, delimiter, seen), SAMPLE_ROWS);
    const sampledMs = Date.now() - t0;
    const fields = await inferFields(ctx.pool, sample.header, sample.rows, over);
    if (dryRun) {
      req.log.info({ rows: sample.rows.length, sampleMs: sampledMs, inferMs: Date.now() - t0 - sampledMs }, 'import dry run');
      await reply(req, res, {
        json: {
          dry_run: true,
          name,
          ...(src.format === 'csv' ? { delimiter: seen.delimiter ?? ',' } : {}),
          fields,
          rows: sample.rows.length,
          complete: sample.complete,
          preview: sample.rows.slice(0, PREVIEW_ROWS).map((r) => r.cells),
        },
      });
      return;
    }
    const started = Date.now();
    const out = await createTableFromFile(editorDeps(ctx), actorOf(req), {
      name,
      table_name: text(p.table_name),
      fields,
      records: sampleThenRest(sample),
      unit: src.format === 'xlsx' ? 'row' : 'line',
      write: writeContext(req),
    });
    if (src.fileId) await dropImportFile(ctx.pool, src.fileId);
    req.log.info({ tableId: out.id, rows: out.imported, ms: Date.now() - started }, 'table imported from a file');
    await reply(req, res, {
      status: 201,
      json: { table: await describeTable(ctx.pool, out.id), imported: out.imported, ...(src.format === 'csv' ? { delimiter: seen.delimiter ?? ',' } : {}) },
      redirect: `/tables/${out.id}`,
    });
  } finally {
    // An answer may come before the upload has ended (a dry run reads a sample): read the rest away.
    if (!req.complete) {
      req.unpipe();
      req.resume();
    }
  }
}

/** The preview page's locals: the stored file's sample, typed as the query says. */
async function previewLocals(ctx: AppContext, req: Request, fileId: number) {
  const file = await getImportFile(ctx.pool, fileId);
  const q = req.query as Record<string, unknown>;
  const sheet = text(q.sheet);
  const seen: { delimiter?: Delimiter } = {};
  const sample = await readSample(recordsOf(ctx, file.format, importFileStream(ctx.pool, fileId), sheet, delimiterParam(q.delimiter), seen), SAMPLE_ROWS);
  const types = q.types && typeof q.types === 'object' ? (q.types as Record<string, unknown>) : undefined;
  const fields = await inferFields(ctx.pool, sample.header, sample.rows, { types });
  return {
    title: 'Import a file',
    section: 'tables',
    file,
    name: text(q.name) || nameFromFile(file.filename) || '',
    sheet: sheet ?? '',
    delimiter: file.format === 'csv' ? delimiterName(seen.delimiter ?? ',') : null,
    fields,
    rows: previewOf(fields, sample.rows),
    sampled: sample.rows.length,
    complete: sample.complete,
    importTypes: IMPORT_TYPES,
    jobBytes: ctx.config.importJobBytes,
  };
}

export const importTableRoutes = [
  route('get', '/tables/import', 'admin', 'the console: upload a CSV or .xlsx file to make a new table from', async (_ctx, req, res) => {
    await reply(req, res, { json: { upload: '/tables/import/upload', types: IMPORT_TYPES }, page: 'import_upload', locals: { title: 'Import a file', section: 'tables' } });
  }),

  route(
    'post',
    '/tables/import',
    'admin',
    'a new table from a file (text/csv or .xlsx body, or multipart "file"; or file_id of an upload): name, dry_run=1 (the inferred fields), types[<column>], options[<column>], sheet, delimiter (, ; tab | or auto); 201 {table, imported, delimiter}, or 202 and a job for a big file',
    importTable,
  ),

  route('post', '/tables/import/upload', 'admin', 'the console: keeps an uploaded file for the preview page (303 to it)', async (ctx, req, res) => {
    let fileId: number;
    try {
      const src = await sourceOf(ctx, req);
      const p = paramsOf(req, src.fields);
      fileId = (await store(ctx, req, src)).id;
      const q = new URLSearchParams();
      if (text(p.name)) q.set('name', text(p.name)!);
      if (text(p.sheet)) q.set('sheet', text(p.sheet)!);
      const qs = q.toString();
      const to = `/tables/import/${fileId}${qs ? `?${qs}` : ''}`;
      if (req.get('Accept')?.includes('application/json')) {
        res.status(201).location(to).json({ file_id: fileId, preview: to });
        return;
      }
      res.redirect(303, to);
    } catch (err) {
      if (!req.complete) {
        if (err instanceof AppError && err.status === 413) res.set('Connection', 'close');
        else req.resume();
      }
      throw err;
    }
  }),

  route('get', '/tables/import/:fid', 'admin', 'the console: the preview of a new table from an uploaded file (types[<column>] to try another type)', async (ctx, req, res) => {
    const locals = await previewLocals(ctx, req, idParam(req.params.fid, 'fid'));
    res.vary('HX-Request');
    await reply(req, res, { json: { fields: locals.fields, rows: locals.rows }, page: 'import_preview', fragment: 'import_preview', locals });
  }),
];
