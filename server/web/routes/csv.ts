// CSV export and import of a table's rows (server/model/csv.ts does the work).
// Export streams as it reads; import streams what it receives (a text/csv body from
// scripts, or a multipart upload from the console's form) into one transaction, or, for
// an upload over IMPORT_JOB_BYTES, into tablewright.job_uploads for a job (202).
import { once } from 'node:events';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import busboy from 'busboy';
import type { Request } from 'express';
import type { AppContext } from '../../context.js';
import { withTransaction } from '../../db/tx.js';
import { AppError, badRequest } from '../../errors.js';
import { IMPORT_CSV } from '../../jobs/handlers.js';
import { enqueueJob, setJobTotal } from '../../jobs/queue.js';
import { storeUpload } from '../../jobs/uploads.js';
import type { Model } from '../../model/compile.js';
import { checkCsvHeader, CsvRecordCounter, exportCsv, invalidCsv } from '../../model/csv.js';
import { writeTarget } from '../../model/rows.js';
import { importCsvCopy } from '../../import/engine.js';
import { delimiterParam, type DelimiterChoice } from '../../import/delimiter.js';
import { writeContext } from '../../history/stamp.js';
import { flag, idParam } from '../../schema/input.js';
import { checkMultipartCsrf } from '../csrf.js';
import { reply } from '../negotiate.js';
import { route } from '../route.js';
import { gridLocals, gridState, listRequestOf } from './grid_page.js';
import { throughView, viewFor, visibleColumns } from './views.js';
import { hasLayout, layoutOf, type LayoutParams } from '../grid_layout.js';
import type { ResolvedView } from '../../views/apply.js';
import { answerQueued } from './jobs.js';
import { modelsOf, rowsChanged, useModel } from './rows.js';
import { freshModel } from '../../model/cache.js';
import { actorOf } from './schema_deps.js';

export const tooLarge = (max: number) => new AppError(413, 'too_large', `the file is larger than IMPORT_MAX_BYTES (${max} bytes); nothing was imported`);

/** Passes bytes through until `max`, then fails with 413. */
export class ByteLimit extends Transform {
  private seen = 0;
  constructor(private readonly max: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.max) done(tooLarge(this.max));
    else done(null, chunk);
  }
}

/**
 * The CSV bytes of an import request, and the options that came with it: the request
 * itself for text/csv, or the part named `file` of a multipart form (busboy, streamed:
 * form fields sent before the file, such as ignore_unknown, are read on the way).
 */
async function csvSource(req: Request, max: number): Promise<{ stream: Readable; fields: Record<string, string> }> {
  const declared = Number(req.get('Content-Length') ?? 0);
  if (req.is('multipart/form-data')) {
    const fields: Record<string, string> = {};
    const bb = busboy({ headers: req.headers, limits: { files: 1, fields: 20, fileSize: max } });
    const file = new Promise<Readable>((resolve, reject) => {
      bb.on('field', (name, value) => {
        fields[name] = value;
      });
      bb.on('file', (name, stream) => {
        // Not one byte of the upload is read before the form's CSRF token is checked.
        try {
          checkMultipartCsrf(req, fields);
        } catch (err) {
          stream.resume();
          reject(err);
          return;
        }
        if (name !== 'file') {
          stream.resume();
          return;
        }
        const limited = new ByteLimit(max);
        // Errors before the import reads (and pipes) this stream must not go unheard;
        // the import sees them through its pipeline.
        limited.on('error', () => undefined);
        // busboy truncates at fileSize and says so: that is our 413.
        stream.on('limit', () => limited.destroy(tooLarge(max)));
        stream.on('error', (err) => limited.destroy(err));
        resolve(stream.pipe(limited));
      });
      bb.on('close', () => reject(badRequest('the form has no file named "file"', 'file')));
      bb.on('error', (err) => reject(badRequest(`the upload could not be read: ${(err as Error).message}`, 'file')));
    });
    req.pipe(bb);
    return { stream: await file, fields };
  }
  if (req.is(['text/csv', 'application/csv', 'text/plain'])) {
    if (declared > max) throw tooLarge(max);
    const limited = new ByteLimit(max);
    limited.on('error', () => undefined); // heard by the import's pipeline
    req.on('error', (err) => limited.destroy(err));
    return { stream: req.pipe(limited), fields: {} };
  }
  throw new AppError(415, 'unsupported_media_type', 'send the CSV as Content-Type: text/csv, or as a multipart form with a part named "file"');
}

/**
 * Queues the import as a job: the upload goes into tablewright.job_uploads in the
 * transaction that queues it (any instance may run it), its header checked on the way.
 */
async function queueImport(ctx: AppContext, req: Request, model: Model, stream: Readable, o: ImportFlags) {
  const { ignoreUnknown, delimiter } = o;
  writeTarget(model); // a read-only table is refused now, not when the job runs
  return withTransaction(ctx.pool, async (tx) => {
    const job = await enqueueJob(tx, { kind: IMPORT_CSV, tableId: model.tableId, payload: { tableId: model.tableId, ...o }, actor: actorOf(req).name });
    const records = new CsvRecordCounter();
    const counted = (async function* () {
      for await (const piece of stream as AsyncIterable<Buffer | string>) {
        const buf = typeof piece === 'string' ? Buffer.from(piece) : piece;
        records.feed(buf);
        yield buf;
      }
    })();
    const upload = await storeUpload(tx, job.id, counted, (first, whole) => checkCsvHeader(model, first, whole, ignoreUnknown, delimiter));
    if (upload.bytes === 0) throw invalidCsv(undefined, undefined, 'the file is empty: the first line must name the columns');
    // The records after the header: the rows the job will import, if the file is valid.
    const total = Math.max(0, records.total() - 1);
    await setJobTotal(tx, job.id, total);
    req.log.info({ tableId: model.tableId, jobId: job.id, bytes: upload.bytes, chunks: upload.chunks, rows: total }, 'csv import queued');
    return { ...job, total };
  });
}

/** The options of an import: a form's fields, else the query string. */
interface ImportFlags {
  ignoreUnknown: boolean;
  /** the cells' separator: given, or `auto` (detected from the first lines) */
  delimiter: DelimiterChoice;
  onError: 'stop' | 'skip';
  addOptions: boolean;
}

function importFlags(req: Request, fields: Record<string, string>): ImportFlags {
  const q = req.query as Record<string, unknown>;
  const onError = fields.on_error ?? q.on_error ?? 'stop';
  if (onError !== 'stop' && onError !== 'skip') throw badRequest('on_error is stop (nothing is imported when a line is refused) or skip (the good lines are)', 'on_error');
  return {
    ignoreUnknown: flag(fields.ignore_unknown ?? q.ignore_unknown, 'ignore_unknown') ?? false,
    delimiter: delimiterParam(fields.delimiter ?? q.delimiter),
    onError,
    addOptions: flag(fields.add_options ?? q.add_options, 'add_options') ?? false,
  };
}

/**
 * The columns of an export whose URL changes the layout (the grid's export links carry
 * hide/show/order once the grid's URL does): the fields shown, in the order shown. A name
 * that is no field is a 400 naming its parameter (the grid's own links never carry one).
 */
function exportColumns(model: Model, resolved: ResolvedView | undefined, params: LayoutParams): string[] {
  const { layout, unknown } = layoutOf(model, resolved, params);
  if (unknown.length) {
    const param = (['order', 'hide', 'show'] as const).find((k) => params[k]?.includes(unknown[0]!)) ?? 'widths';
    throw badRequest(`${param} names what is no field of this table: ${unknown.slice(0, 5).join(', ')}`, param);
  }
  return layout.order.filter((c) => !layout.hidden.includes(c));
}

export const csvRoutes = [
  route(
    'get',
    '/tables/:id/rows.csv',
    'viewer',
    'the rows as CSV (streamed), for the same filters, search and sort as the listing; excel=1 defuses formulas for spreadsheets',
    async (ctx, req, res) => {
      const state = gridState(req.query as Record<string, unknown>);
      const excel = flag(req.query.excel, 'excel') ?? false;
      const list = listRequestOf(state);
      // The first chunk (header and first page) under useModel: a stale model is retried
      // before anything is sent. The rest streams with the same model.
      const { model, chunks, first } = await useModel(ctx, req, async (model) => {
        // ?view=: the saved view's filter, sort, hidden fields and column order; and the
        // layout the URL changes (hide, show, order), as the grid the user looks at shows it.
        const v = await viewFor(ctx, req, model);
        const columns = hasLayout(state.layout) ? exportColumns(model, v?.resolved, state.layout) : v ? visibleColumns(model, v.resolved) : undefined;
        const chunks = exportCsv(ctx.pool, model, throughView(list, v?.resolved), { excel, ...(columns ? { columns } : {}) });
        const head = await chunks.next();
        const page = await chunks.next();
        return { model, chunks, first: [head.value, page.done ? undefined : page.value].filter((c): c is string => typeof c === 'string') };
      });
      res.status(200);
      res.type('text/csv; charset=utf-8');
      res.attachment(`${model.table.table_name}.csv`);
      res.vary('Accept');
      let gone = false;
      res.on('close', () => {
        gone = true;
      });
      try {
        for (const c of first) if (!res.write(c)) await once(res, 'drain');
        for await (const c of chunks) {
          if (gone) {
            await chunks.return(undefined);
            break;
          }
          if (!res.write(c)) await once(res, 'drain');
        }
        res.end();
      } catch (err) {
        // Headers are sent: a clean end would pass a truncated file off as complete.
        req.log.error({ err, tableId: model.tableId }, 'csv export failed midway');
        res.destroy(err as Error);
      }
    },
  ),

  route(
    'post',
    '/tables/:id/rows/import',
    'editor',
    'import CSV rows at COPY speed (text/csv body, or multipart with a "file" part): header by column or field name; on_error=stop (all or nothing, default) or skip (good lines kept, rejects file); add_options=1 adds single-select options; ignore_unknown=1 skips unknown columns; delimiter , ; tab | or auto (detected); an upload over IMPORT_JOB_BYTES (or async=1) runs as a job (202)',
    async (ctx, req, res) => {
      const tableId = idParam(req.params.id);
      const max = ctx.config.importMaxBytes;
      let outcome: Awaited<ReturnType<typeof importCsvCopy>> | { job: Awaited<ReturnType<typeof queueImport>> };
      try {
        const { stream, fields } = await csvSource(req, max);
        const flags = importFlags(req, fields);
        const declared = Number(req.get('Content-Length') ?? 0);
        const asJob = flag(fields.async ?? req.query.async, 'async') ?? declared > ctx.config.importJobBytes;
        const started = Date.now();
        // No retry once the stream is read (it can be read only once): the model is checked
        // against the table's version before (a rename or trash on another instance).
        const model = await freshModel(modelsOf(ctx), tableId);
        if (asJob) {
          outcome = { job: await queueImport(ctx, req, model, stream, flags) };
        } else {
          const w = writeContext(req);
          outcome = await withTransaction(ctx.pool, (tx) =>
            importCsvCopy(tx, model, stream, { ...flags, actor: w.actor, request: w.request, log: req.log, pool: ctx.pool, instanceId: ctx.instanceId }),
          );
          req.log.info({ tableId, rows: outcome.imported, rejected: outcome.rejected, ms: Date.now() - started }, 'csv import done');
          rowsChanged(ctx, req, 'import');
        }
      } catch (err) {
        // The answer may come before the upload has ended: read the rest away (or, past
        // the size limit, close the connection) so that the client gets to read it.
        if (!req.complete) {
          if (err instanceof AppError && err.status === 413) res.set('Connection', 'close');
          else req.resume();
        }
        throw err;
      }
      if ('job' in outcome) return answerQueued(ctx, req, res, outcome.job);
      const notice =
        `Imported ${outcome.imported} row${outcome.imported === 1 ? '' : 's'}.` +
        (outcome.rejected ? ` Skipped ${outcome.rejected} line${outcome.rejected === 1 ? '' : 's'} (see ${outcome.rejects_url}).` : '') +
        (outcome.added_options.length ? ` New options: ${outcome.added_options.map((a) => a.labels.join(', ')).join('; ')}.` : '');
      await reply(req, res, {
        json: outcome,
        fragment: 'grid',
        locals: req.get('HX-Request') === 'true' ? { grid: await gridLocals(ctx, req, { notice }) } : {},
        redirect: `/tables/${tableId}`,
      });
    },
  ),
];
