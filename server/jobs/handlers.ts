// What each kind of job does. A handler runs one operation (one transaction) and reports
// progress through the runner.
import type { Config } from '../config.js';
import { withoutStatementTimeout } from '../db/pool.js';
import { withTransaction } from '../db/tx.js';
import { AppError } from '../errors.js';
import { rebuildTable } from '../introspect/rebuild.js';
import { announceRows } from '../live/announce.js';
import { withModel, type ModelCache } from '../model/cache.js';
import { importCsvCopy } from '../import/engine.js';
import type { DelimiterChoice } from '../import/delimiter.js';
import type { EditorDeps } from '../schema/change.js';
import { updateField } from '../schema/fields.js';
import { ONLINE_CHANGE, runOnlineChange } from '../schema/online/run.js';
import { fieldJson } from '../schema/metadata.js';
import { runCleanup } from '../trash/cleanup.js';
import type { JobHandler } from './runner.js';
import { confirmJobHeld, holdJob } from './queue.js';
import { hasUpload, uploadStream } from './uploads.js';
import { IMPORT_TABLE, importTableJob } from '../import/job.js';

export const CHANGE_FIELD = 'change_field';
export const TRASH_CLEANUP = 'trash_cleanup';
export const IMPORT_CSV = 'import_csv';
export const REBUILD_TABLE = 'rebuild_table';

const plural = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString('en')} ${n === 1 ? one : many}`;

/** For people: what a job is, what it counts ("1,200 of 5,000 rows") and what it did. */
export const JOB_KINDS: Record<string, { title: string; unit: string; summary: (result: any) => string }> = {
  [CHANGE_FIELD]: { title: 'changing a field', unit: 'rows', summary: (r) => `Field "${r?.field?.name}" is now ${r?.field?.type}.` },
  [TRASH_CLEANUP]: { title: 'emptying the trash', unit: 'objects', summary: (r) => `Purged ${plural(r?.purged?.length ?? 0, 'object')}.` },
  [IMPORT_CSV]: { title: 'importing CSV', unit: 'rows', summary: (r) => `Imported ${plural(r?.imported ?? 0, 'row')}.` },
  [ONLINE_CHANGE]: { title: 'changing a field online', unit: 'rows', summary: (r) => (r?.index ? `Index "${r.index.name}" built; the table kept serving.` : `Field "${r?.field?.name}" changed; the table kept serving.`) },
  [IMPORT_TABLE]: { title: 'importing a new table', unit: 'rows', summary: (r) => `Created the table with ${plural(r?.imported ?? 0, 'row')}.` },
  [REBUILD_TABLE]: { title: 'rebuilding a table', unit: 'rows', summary: (r) => `Copied ${plural(r?.rows ?? 0, 'row')}; freed ${plural(r?.freed ?? 0, 'column slot')}.` },
};

/** Progress goes to the jobs table at most this often while rows stream in. */
const PROGRESS_EVERY_MS = 250;

export function jobHandlers(deps: EditorDeps & { config: Config; models: ModelCache }): Record<string, JobHandler> {
  return {
    /** A type or options change on a big table: payload {tableId, fieldId, update}. */
    [CHANGE_FIELD]: async (job, progress) => {
      const { tableId, fieldId, update } = job.payload as { tableId: number; fieldId: number; update: Record<string, unknown> };
      const out = await updateField({ ...deps, progress }, { name: job.created_by }, tableId, fieldId, update);
      return { field: fieldJson(out.field), version: out.version, changes: out.changes };
    },

    /** An online schema change (server/schema/online/): payload {onlineChangeId}; resumes after a crash. */
    [ONLINE_CHANGE]: async (job, progress) => runOnlineChange(deps, job, progress),

    /** The retention cleanup, one object per transaction: progress counts objects. */
    [TRASH_CLEANUP]: async (job, progress) => runCleanup(deps, { actor: { name: job.created_by }, progress }),

    /**
     * A CSV import whose upload waits in tablewright.job_uploads: payload {tableId,
     * ignoreUnknown}. All or nothing, as within a request; rows done as batches go in.
     * Not idempotent (a second run adds the rows again), so it runs exactly once: see
     * holdJob and confirmJobHeld.
     */
    [IMPORT_CSV]: async (job, progress) => {
      // delimiter: as the request gave it (`auto`: detected again from the same bytes); jobs queued before it was kept: the comma
      const { tableId, ignoreUnknown, onError, addOptions, delimiter } = job.payload as { tableId: number; ignoreUnknown?: boolean; onError?: 'stop' | 'skip'; addOptions?: boolean; delimiter?: DelimiterChoice };
      const log = deps.log.child({ jobId: job.id, tableId });
      if (!(await hasUpload(deps.pool, job.id))) throw new AppError(410, 'upload_gone', 'the uploaded file of this import is no longer kept; upload it again');
      await progress({ phase: 'importing', done: 0 });
      let reportedAt = Date.now();
      const started = reportedAt;
      const result = await withModel(deps.models, tableId, (model) =>
        withTransaction(deps.pool, async (tx) => {
          // Exactly once: while this transaction runs, the job is never taken as lost, and
          // it commits only if the job is still ours (confirmJobHeld, last).
          await holdJob(tx, job.id);
          await withoutStatementTimeout(tx);
          const imported = await importCsvCopy(tx, model, uploadStream(deps.pool, job.id), {
            ignoreUnknown,
            delimiter: delimiter ?? ',',
            onError,
            addOptions,
            actor: job.created_by,
            request: `job-${job.id}`,
            pool: deps.pool,
            instanceId: deps.instanceId,
            log,
            onProgress: async ({ done, bytes }) => {
              if (Date.now() - reportedAt < PROGRESS_EVERY_MS) return;
              reportedAt = Date.now();
              await progress({ done, bytes });
            },
          });
          await confirmJobHeld(tx, job.id, job.claimed_by!);
          return imported;
        }),
      );
      // The count of lines was an estimate (a quoted cell may hold line breaks): the end says exactly.
      await progress({ phase: 'committed', done: result.imported, total: result.imported });
      log.info({ rows: result.imported, ms: Date.now() - started }, 'csv import done');
      announceRows(deps.pool, log, { tableId, op: 'import', actor: job.created_by, instance: deps.instanceId });
      return result;
    },

    /** A new table from a file (server/import/job.ts): payload {fileId, name, fields}. */
    [IMPORT_TABLE]: importTableJob(deps),

    /** A table rebuild (frees dropped columns' slots): payload {tableId}; progress counts rows copied. */
    [REBUILD_TABLE]: async (job, progress) => {
      const { tableId, batchRows } = job.payload as { tableId: number; batchRows?: number };
      return rebuildTable({ ...deps, progress }, { name: job.created_by }, tableId, { batchRows });
    },
  };
}
