// The life of an online change: accepted (its row and its job, under the table's schema
// lock), run as a job (start, then complete), rolled back on refusal, error or cancel.
// A job taken over after a crash runs the same handler again: every start step is
// idempotent (it looks at the catalog first), and the backfill resumes from its last batch.
import { qualified, ident } from '../../db/ident.js';
import { withTransaction } from '../../db/tx.js';
import { badRequest } from '../../errors.js';
import type { Job } from '../../jobs/queue.js';
import { SCHEMA_LOCK_NAMESPACE, type Actor, type EditorDeps } from '../change.js';
import { setsOtherDefault } from '../fields.js';
import { flag } from '../input.js';
import { getField, getLiveTable, type FieldMeta } from '../metadata.js';
import { createIndex, setUnique } from './op_create_index.js';
import { setNotNull } from './op_set_not_null.js';
import { changeType } from './op_change_type.js';
import { tableIndex } from './op_table_index.js';
import { beginOnlineChange, finishOnlineChange, getOnlineChange, inFlightConflict, runningOnlineChange, type OnlineKind } from './state.js';
import { AbandonedError, CancelledError, type OnlineOp, type OnlineRun } from './steps.js';

export const ONLINE_CHANGE = 'online_change';

export const OPS: Record<OnlineKind, OnlineOp> = {
  create_index: createIndex,
  set_unique: setUnique,
  set_not_null: setNotNull,
  change_type: changeType,
  table_index: tableIndex,
};

const on = (v: unknown, name: string) => flag(v, name) === true;

/**
 * Which online operation a PATCH is, when it is exactly one that scans or rewrites
 * (a PATCH that also renames or sets a default runs in one transaction).
 * `typeChange`: whether the update changes type or options, and whether that writes rows.
 */
export function onlineKindOf(field: FieldMeta, update: Record<string, unknown>, typeChange: 'none' | 'metadata' | 'rewrite'): OnlineKind | null {
  const set = (k: string) => update[k] !== undefined && update[k] !== '';
  // a many-to-many link, or a link becoming one: a junction, never a column change
  if (field.type === 'link' && (field.options?.multiple || (update.options as { multiple?: unknown } | undefined)?.multiple)) return null;
  // a formula, or a field becoming one: a stored generated column is filled by a rewrite under
  // ACCESS EXCLUSIVE whatever we do (server/schema/formula_preview.ts); one transaction, or a job
  if (field.type === 'formula' || update.type === 'formula') return null;
  const kinds: OnlineKind[] = [];
  if (typeChange === 'rewrite') kinds.push('change_type');
  if (on(update.not_null, 'not_null') && !field.not_null) kinds.push('set_not_null');
  if (on(update.unique, 'unique') && !field.is_unique) kinds.push('set_unique');
  else if (on(update.indexed, 'indexed') && !field.indexed && !field.is_unique) kinds.push('create_index');
  if (kinds.length !== 1) return null;
  // The console's field form sends every input: a name, column or default the same as now is no change.
  const renamed = (set('name') && update.name !== field.name) || (set('column') && update.column !== field.column_name);
  const others = typeChange === 'metadata' || renamed || setsOtherDefault(field, update) ||
    (set('not_null') && kinds[0] !== 'set_not_null' && flag(update.not_null, 'not_null') !== field.not_null) ||
    (set('unique') && kinds[0] !== 'set_unique' && flag(update.unique, 'unique') !== field.is_unique) ||
    (set('indexed') && !['create_index', 'set_unique'].includes(kinds[0]!) && flag(update.indexed, 'indexed') !== field.indexed);
  return others ? null : kinds[0]!;
}

/**
 * Accepts an online change: its row (refused with 409 when the table has one in flight)
 * and its job, in one transaction under the table's schema lock.
 */
export async function acceptOnlineChange(
  deps: EditorDeps,
  actor: Actor,
  c: { tableId: number; field: FieldMeta; kind: OnlineKind; update: Record<string, unknown>; total: number; objects?: Record<string, string> },
  enqueue: (tx: Parameters<Parameters<typeof withTransaction>[1]>[0], onlineChangeId: number) => Promise<Job>,
): Promise<Job> {
  return withTransaction(deps.pool, async (tx) => {
    await tx.query(`SELECT set_config('lock_timeout', $1, true)`, [`${deps.config.lockTimeoutMs}ms`]);
    await tx.query('SELECT pg_advisory_xact_lock($1, $2)', [SCHEMA_LOCK_NAMESPACE, c.tableId]);
    if (await runningOnlineChange(tx, c.tableId)) throw await inFlightConflict(tx, c.tableId);
    const change = await beginOnlineChange(tx, {
      tableId: c.tableId,
      fieldId: c.field.id,
      kind: c.kind,
      payload: c.update,
      objects: c.objects ?? OPS[c.kind].objects(c.field),
      actor: actor.name,
      total: c.total,
    });
    const job = await enqueue(tx, change.id);
    await tx.query(`UPDATE tablewright.online_changes SET job_id = $2 WHERE id = $1`, [change.id, job.id]);
    // Its steps are resumable: an instance that dies mid-way hands it on, many times over if
    // need be, rather than leave the table's in-flight change with no job to end it.
    await tx.query(`UPDATE tablewright.jobs SET max_attempts = 100 WHERE id = $1`, [job.id]);
    return job;
  });
}

/** The job: payload {onlineChangeId}. */
export async function runOnlineChange(deps: EditorDeps, job: Job, progress: OnlineRun['progress']): Promise<unknown> {
  const id = Number((job.payload as { onlineChangeId: number }).onlineChangeId);
  const change = await getOnlineChange(deps.pool, id);
  if (change.status === 'done') return { online_change: id, status: 'done' };
  if (change.status === 'rolled_back') throw new CancelledError();
  const table = await getLiveTable(deps.pool, change.table_id);
  const field = await getField(deps.pool, change.table_id, change.field_id!);
  const run: OnlineRun = {
    deps: { ...deps, progress },
    actor: { name: job.created_by },
    change,
    table,
    field,
    relation: String(qualified(deps.config.dataSchema, table.table_name)),
    col: String(ident(field.column_name)),
    progress,
  };
  const op = OPS[change.kind];
  const log = deps.log.child({ onlineChange: id, kind: change.kind, tableId: table.id, fieldId: field.id });
  const cleanup = (job.payload as { cleanup?: string }).cleanup;
  try {
    // A cleanup job (orphans.ts): the change's own job ended without ending it.
    if (cleanup) throw new AbandonedError(cleanup);
    if (change.cancel_requested) throw new CancelledError();
    log.info({ step: change.step, attempt: job.attempts }, change.step === 'planned' ? 'online change starting' : 'online change resuming');
    await op.start(run);
    if ((await getOnlineChange(deps.pool, id)).cancel_requested) throw new CancelledError();
    await progress({ phase: 'switching over (a brief lock)' });
    const completed = await op.complete(run);
    log.info('online change done');
    if (change.kind === 'table_index') return { online_change: id, index: completed };
    const after = await getField(deps.pool, table.id, field.id);
    const out: Record<string, unknown> = { online_change: id, field: { id: after.id, name: after.name, type: after.type, not_null: after.not_null, unique: after.is_unique, indexed: after.indexed } };
    // a type change says what it converted and lost, and where the old column is, as the one-transaction answer does
    const kept = completed as { kept_field_id?: number; lost?: number; rows?: number; default_dropped?: unknown } | undefined;
    if (kept?.kept_field_id !== undefined) {
      out.changes = {
        kept_in_trash: { field_id: kept.kept_field_id },
        type_change: { from: field.type, to: after.type, rows: kept.rows, lost: kept.lost },
        ...(kept.default_dropped !== undefined ? { default_dropped: kept.default_dropped } : {}),
      };
    }
    return out;
  } catch (err) {
    log.info({ err: (err as Error).message }, 'online change rolling back');
    await op.rollback(run);
    await finishOnlineChange(deps.pool, id, 'rolled_back');
    throw err;
  }
}

export function assertKnownKind(kind: string): asserts kind is OnlineKind {
  if (!(kind in OPS)) throw badRequest(`unknown online change "${kind}"`);
}
