// What each kind of job does. A handler runs one operation of the schema editor (one
// transaction) and reports progress through the runner.
import type { EditorDeps } from '../schema/change.js';
import { updateField } from '../schema/fields.js';
import { fieldJson } from '../schema/metadata.js';
import type { JobHandler } from './runner.js';

export const CHANGE_FIELD = 'change_field';

export function jobHandlers(deps: EditorDeps): Record<string, JobHandler> {
  return {
    /** A type or options change on a big table: payload {tableId, fieldId, update}. */
    [CHANGE_FIELD]: async (job, progress) => {
      const { tableId, fieldId, update } = job.payload as { tableId: number; fieldId: number; update: Record<string, unknown> };
      const out = await updateField({ ...deps, progress }, { name: job.created_by }, tableId, fieldId, update);
      return { field: fieldJson(out.field), version: out.version, changes: out.changes };
    },
  };
}
