// An online change whose job ended without ending the change: the job used all its
// attempts (its instances kept dying), or its own rollback failed (the table stayed busy
// past LOCK_TIMEOUT_MS). Its objects (a shadow column and its sync trigger, an invalid
// index, a NOT VALID constraint) would stay forever and the table would refuse every
// other change (409 change_in_flight). Every instance's job runner sweeps for such
// changes and queues a cleanup job for each: the same handler, which rolls the change
// back to the old field, resumable like the change itself (a cleanup killed half way is
// taken over and finished).
import type pg from 'pg';
import { enqueueJob } from '../../jobs/queue.js';
import { withTransaction } from '../../db/tx.js';

/**
 * A failed job's change is swept this long after the job ended (its own rollback had its
 * chance), doubled for each cleanup job the change has had, up to ORPHAN_GRACE_MAX_MS: a
 * rollback that keeps failing (a DBA's object in the way) is tried again less and less
 * often, not a new failed job every round for ever.
 */
export const ORPHAN_GRACE_MS = 2000;
export const ORPHAN_GRACE_MAX_MS = 600_000;

export interface Orphan {
  online_change: number;
  old_job: number | null;
  job: number;
  reason: string;
}

/** Queues a cleanup job for each orphaned change; answers what it queued. Safe on many instances at once. */
export async function sweepOrphanedChanges(pool: pg.Pool, kind: string, graceMs = ORPHAN_GRACE_MS): Promise<Orphan[]> {
  return withTransaction(pool, async (tx) => {
    const { rows } = await tx.query<{ id: number; table_id: number; job_id: number | null; created_by: string; job_status: string | null; attempts: number | null; error: { code?: string } | null }>(
      /* sql */ `SELECT oc.id, oc.table_id, oc.job_id, oc.created_by, j.status AS job_status, j.attempts, j.error
          FROM tablewright.online_changes oc LEFT JOIN tablewright.jobs j ON j.id = oc.job_id
         WHERE oc.status = 'running' AND oc.job_id IS NOT NULL
           AND (j.id IS NULL OR (j.status IN ('failed', 'done') AND j.finished_at < now() - make_interval(secs => least($2::float8, $1 * power(2, (
                 SELECT count(*) FROM tablewright.jobs c WHERE c.payload ->> 'onlineChangeId' = oc.id::text AND c.payload ? 'cleanup'))) / 1000.0)))
         ORDER BY oc.id
           FOR UPDATE OF oc SKIP LOCKED`,
      [graceMs, ORPHAN_GRACE_MAX_MS],
    );
    const out: Orphan[] = [];
    for (const r of rows) {
      const reason =
        r.job_status === null
          ? 'its job is gone'
          : r.error?.code === 'instance_lost'
            ? `its job used all its attempts (${r.attempts}): the instances running it kept stopping`
            : `its job ended (${r.job_status}${r.error?.code ? `, ${r.error.code}` : ''}) without ending the change`;
      const job = await enqueueJob(tx, { kind, tableId: r.table_id, payload: { onlineChangeId: r.id, cleanup: reason }, actor: r.created_by });
      await tx.query(`UPDATE tablewright.jobs SET max_attempts = 100, phase = 'queued: rolling back an abandoned change' WHERE id = $1`, [job.id]);
      await tx.query(`UPDATE tablewright.online_changes SET job_id = $2, cancel_requested = true WHERE id = $1`, [r.id, job.id]);
      out.push({ online_change: r.id, old_job: r.job_id, job: job.id, reason });
    }
    return out;
  });
}
