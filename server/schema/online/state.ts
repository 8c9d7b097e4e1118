// The row of tablewright.online_changes an online change lives by (030_online_changes.sql):
// begun when the change is accepted, its step advanced as each step commits, closed as
// done or rolled back. Plain functions over a client, as the jobs queue is.
import type { Queryable } from '../../db/pool.js';
import { conflict } from '../../errors.js';

export type OnlineKind = 'create_index' | 'set_unique' | 'set_not_null' | 'change_type' | 'table_index';

export interface OnlineObjects {
  index?: string;
  constraint?: string;
  column?: string;
  trigger?: string;
  function?: string;
}

export interface OnlineChange {
  id: number;
  job_id: number | null;
  table_id: number;
  field_id: number | null;
  kind: OnlineKind;
  payload: any;
  objects: OnlineObjects;
  step: string;
  status: 'running' | 'done' | 'rolled_back';
  cancel_requested: boolean;
  /** backfill (074): the pages below this one are copied, in the relation file backfill_file (cluster/file number) */
  backfill_page: string | null;
  backfill_file: string | null;
  done: number;
  total: number | null;
  created_by: string;
}

/** Begins a change; 409 change_in_flight when the table has one running already. */
export async function beginOnlineChange(
  db: Queryable,
  c: { tableId: number; fieldId: number; kind: OnlineKind; payload: unknown; objects: OnlineObjects; actor: string; total?: number },
): Promise<OnlineChange> {
  try {
    const { rows } = await db.query<OnlineChange>(
      /* sql */ `INSERT INTO tablewright.online_changes (table_id, field_id, kind, payload, objects, created_by, total)
        VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
      [c.tableId, c.fieldId, c.kind, JSON.stringify(c.payload), JSON.stringify(c.objects), c.actor, c.total ?? null],
    );
    return rows[0]!;
  } catch (err) {
    if ((err as { code?: string }).code === '23505') throw await inFlightConflict(db, c.tableId);
    throw err;
  }
}

export async function runningOnlineChange(db: Queryable, tableId: number): Promise<OnlineChange | undefined> {
  const { rows } = await db.query<OnlineChange>(`SELECT * FROM tablewright.online_changes WHERE table_id = $1 AND status = 'running'`, [tableId]);
  return rows[0];
}

export async function runningOnlineChanges(db: Queryable): Promise<OnlineChange[]> {
  const { rows } = await db.query<OnlineChange>(`SELECT * FROM tablewright.online_changes WHERE status = 'running' ORDER BY id`);
  return rows;
}

export async function getOnlineChange(db: Queryable, id: number): Promise<OnlineChange> {
  const { rows } = await db.query<OnlineChange>(`SELECT * FROM tablewright.online_changes WHERE id = $1`, [id]);
  if (!rows[0]) throw new Error(`online change ${id} not found`);
  return rows[0];
}

export async function onlineChangeOfJob(db: Queryable, jobId: number): Promise<OnlineChange | undefined> {
  const { rows } = await db.query<OnlineChange>(`SELECT * FROM tablewright.online_changes WHERE job_id = $1 ORDER BY id DESC LIMIT 1`, [jobId]);
  return rows[0];
}

export async function inFlightConflict(db: Queryable, tableId: number, exceptId?: number) {
  const running = await runningOnlineChange(db, tableId);
  const what = running && running.id !== exceptId ? `${running.kind.replace('_', ' ')} (job ${running.job_id ?? '?'}, step "${running.step}")` : 'another online change';
  return conflict('change_in_flight', `an online change of this table is in flight: ${what}; wait for it to finish, or cancel it from its job page`, undefined, running ? { online_change: running.id, job_id: running.job_id } : undefined);
}

/**
 * An online type change in flight that makes a link to `tableId` (its sync function and its
 * copy name that table: renamed or trashed meanwhile, every write to the other table failed
 * until the change rolled back). The target shape is on the change once planned, the
 * request's before.
 */
export async function assertNoLinkInFlightTo(db: Queryable, tableId: number): Promise<void> {
  const { rows } = await db.query<{ id: number; job_id: number | null; name: string }>(
    /* sql */ `SELECT oc.id, oc.job_id, t.name FROM tablewright.online_changes oc JOIN tablewright.tables t ON t.id = oc.table_id
      WHERE oc.status = 'running' AND oc.kind = 'change_type'
        AND coalesce(oc.payload #>> '{target,to,type}', oc.payload ->> 'type') = 'link'
        AND coalesce(oc.payload #>> '{target,to,options,table_id}', oc.payload #>> '{options,table_id}') = $1::text
      LIMIT 1`,
    [tableId],
  );
  const r = rows[0];
  if (r) {
    throw conflict('change_in_flight', `an online change of table "${r.name}" is making a link to this table (job ${r.job_id ?? '?'}); rename or trash it when that change is done, or cancel it from its job page`, undefined, {
      online_change: r.id,
      job_id: r.job_id,
    });
  }
}

/** Records a completed step (and the backfill's position) on the change's row. */
export async function advance(db: Queryable, id: number, p: { step?: string; objects?: OnlineObjects; done?: number; total?: number }): Promise<void> {
  await db.query(
    /* sql */ `UPDATE tablewright.online_changes SET step = coalesce($2, step), objects = objects || coalesce($3, '{}'::jsonb),
        done = coalesce($4, done), total = coalesce($5, total)
      WHERE id = $1`,
    [id, p.step ?? null, p.objects ? JSON.stringify(p.objects) : null, p.done ?? null, p.total ?? null],
  );
}

export async function finishOnlineChange(db: Queryable, id: number, status: 'done' | 'rolled_back'): Promise<void> {
  await db.query(`UPDATE tablewright.online_changes SET status = $2, finished_at = now() WHERE id = $1 AND status = 'running'`, [id, status]);
}

export async function requestCancel(db: Queryable, jobId: number): Promise<OnlineChange | undefined> {
  const { rows } = await db.query<OnlineChange>(
    `UPDATE tablewright.online_changes SET cancel_requested = true WHERE job_id = $1 AND status = 'running' RETURNING *`,
    [jobId],
  );
  return rows[0];
}
