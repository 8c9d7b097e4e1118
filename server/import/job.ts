// A new table from a big file, as a job (kind import_table): the file waits in
// tablewright.import_files; the job creates the table and loads every row in one schema
// change, exactly once (holdJob / confirmJobHeld, as the CSV import job), and drops the file.
import type { JobHandler } from '../jobs/runner.js';
import { confirmJobHeld, holdJob } from '../jobs/queue.js';
import { withoutStatementTimeout } from '../db/pool.js';
import { AppError } from '../errors.js';
import type { EditorDeps } from '../schema/change.js';
import { createTableFromFile } from './create.js';
import { dropImportFile, getImportFile, importFileStream } from './files.js';
import type { InferredField } from './infer_plan.js';
import { csvRuns, readSample, runsOf, sampleThenRest } from './records.js';
import type { Delimiter } from './delimiter.js';
import { xlsxRecords } from './xlsx.js';

export const IMPORT_TABLE = 'import_table';

export interface ImportTablePayload {
  fileId: number;
  name: string;
  table_name?: string;
  sheet?: string;
  fields: InferredField[];
  /** a CSV's separator, found when it was queued (jobs queued before it was kept: the comma) */
  delimiter?: Delimiter;
}

const PROGRESS_EVERY_MS = 250;

export function importTableJob(deps: EditorDeps): JobHandler {
  return async (job, progress) => {
    const p = job.payload as ImportTablePayload;
    const log = deps.log.child({ jobId: job.id });
    const file = await getImportFile(deps.pool, p.fileId).catch(() => {
      throw new AppError(410, 'upload_gone', 'the uploaded file of this import is no longer kept; upload it again');
    });
    await progress({ phase: 'importing', done: 0 });
    let at = Date.now();
    const source = importFileStream(deps.pool, file.id);
    const records = file.format === 'xlsx' ? runsOf(xlsxRecords(source, p.sheet, deps.config.importXlsxMaxUnzipped)) : csvRuns(source, p.delimiter ?? ',');
    const sample = await readSample(records, 0);
    const out = await createTableFromFile(deps, { name: job.created_by }, {
      name: p.name,
      table_name: p.table_name,
      fields: p.fields,
      records: sampleThenRest(sample),
      unit: file.format === 'xlsx' ? 'row' : 'line',
      write: { actor: job.created_by, request: `job-${job.id}` },
      afterBegin: async (tx) => {
        await holdJob(tx, job.id);
        await withoutStatementTimeout(tx);
      },
      onProgress: async (done) => {
        if (Date.now() - at < PROGRESS_EVERY_MS) return;
        at = Date.now();
        await progress({ done });
      },
      beforeCommit: async (tx) => confirmJobHeld(tx, job.id, job.claimed_by!),
    });
    await progress({ phase: 'committed', done: out.imported, total: out.imported });
    await dropImportFile(deps.pool, file.id);
    log.info({ tableId: out.id, rows: out.imported }, 'table imported from a file');
    return { table_id: out.id, imported: out.imported };
  };
}
