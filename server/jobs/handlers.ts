// What each kind of job does. A handler runs one operation of the schema editor (one
// transaction) and reports progress through the runner.
import type { Config } from '../config.js';
import type { EditorDeps } from '../schema/change.js';
import { runCleanup } from '../trash/cleanup.js';
import { updateField } from '../schema/fields.js';
import { fieldJson } from '../schema/metadata.js';
import type { JobHandler } from './runner.js';

export const CHANGE_FIELD = 'change_field';
export const TRASH_CLEANUP = 'trash_cleanup';

export function jobHandlers(deps: EditorDeps & { config: Config }): Record<string, JobHandler> {
  return {
    /** A type or options change on a big table: payload {tableId, fieldId, update}. */
    [CHANGE_FIELD]: async (job, progress) => {
      const { tableId, fieldId, update } = job.payload as { tableId: number; fieldId: number; update: Record<string, unknown> };
      const out = await updateField({ ...deps, progress }, { name: job.created_by }, tableId, fieldId, update);
      return { field: fieldJson(out.field), version: out.version, changes: out.changes };
    },
    /** The retention cleanup, one object per transaction: progress counts objects. */
    [TRASH_CLEANUP]: async (job, progress) => runCleanup(deps, { actor: { name: job.created_by }, progress }),
  };
}
