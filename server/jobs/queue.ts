// The jobs table: enqueue, read, claim, report progress, finish. Plain functions over a
// client or the pool; the runner (runner.ts) strings them together.
import type { Queryable } from '../db/pool.js';
import { conflict, notFound } from '../errors.js';

/** Advisory lock namespace of a job's work transaction (see holdJob); 'tj'. */
export const JOB_LOCK_NAMESPACE = 0x746a;

export type JobStatus = 'queued' | 'running' | 'done' | 'failed';

export interface Job {
  id: number;
  kind: string;
  table_id: number | null;
  payload: any;
  status: JobStatus;
  phase: string | null;
  done: number;
  total: number | null;
  /** bytes of its upload read so far (an import) */
  bytes_done?: string | number | null;
  result: unknown;
  error: { code: string; message: string; field?: string; details?: unknown } | null;
  attempts: number;
  max_attempts: number;
  created_by: string;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  heartbeat_at: Date | null;
  claimed_by: string | null;
}

export async function enqueueJob(db: Queryable, job: { kind: string; tableId?: number; payload: unknown; actor: string; total?: number }): Promise<Job> {
  const { rows } = await db.query<Job>(
    /* sql */ `INSERT INTO tablewright.jobs (kind, table_id, payload, created_by, total, phase) VALUES ($1, $2, $3, $4, $5, 'queued') RETURNING *`,
    [job.kind, job.tableId ?? null, JSON.stringify(job.payload), job.actor, job.total ?? null],
  );
  return rows[0]!;
}

export async function getJob(db: Queryable, id: number): Promise<Job> {
  const { rows } = await db.query<Job>(`SELECT * FROM tablewright.jobs WHERE id = $1`, [id]);
  if (!rows[0]) throw notFound(`job ${id}`);
  return rows[0];
}

export async function listJobs(db: Queryable, opts: { tableId?: number; limit?: number } = {}): Promise<Job[]> {
  const { rows } = await db.query<Job>(
    `SELECT * FROM tablewright.jobs WHERE ($1::int8 IS NULL OR table_id = $1) ORDER BY id DESC LIMIT $2`,
    [opts.tableId ?? null, opts.limit ?? 50],
  );
  return rows;
}

/** Takes the oldest queued job for this instance; concurrent claimers skip each other's. */
export async function claimJob(db: Queryable, instance: string): Promise<Job | undefined> {
  const { rows } = await db.query<Job>(
    /* sql */ `UPDATE tablewright.jobs SET status = 'running', claimed_by = $1, attempts = attempts + 1,
              started_at = now(), heartbeat_at = now(), phase = 'starting', error = NULL
        WHERE id = (SELECT id FROM tablewright.jobs WHERE status = 'queued' ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1)
        RETURNING *`,
    [instance],
  );
  return rows[0];
}

export async function reportProgress(db: Queryable, id: number, instance: string, p: { phase?: string; done?: number; total?: number; bytes?: number }): Promise<void> {
  await db.query(
    /* sql */ `UPDATE tablewright.jobs SET phase = coalesce($3, phase), done = coalesce($4, done), total = coalesce($5, total), bytes_done = coalesce($6, bytes_done), heartbeat_at = now()
      WHERE id = $1 AND claimed_by = $2 AND status = 'running'`,
    [id, instance, p.phase ?? null, p.done ?? null, p.total ?? null, p.bytes ?? null],
  );
}

/** Ends a job this instance holds; its upload (if any) goes with it. */
export async function finishJob(db: Queryable, id: number, instance: string, outcome: { result: unknown } | { error: Job['error'] }): Promise<void> {
  const ok = 'result' in outcome;
  await db.query(
    /* sql */ `WITH finished AS (
        UPDATE tablewright.jobs SET status = $3, finished_at = now(), phase = $3,
               result = $4, error = $5, done = CASE WHEN $3 = 'done' THEN coalesce(total, done) ELSE done END
         WHERE id = $1 AND claimed_by = $2 AND status = 'running'
        RETURNING id)
      DELETE FROM tablewright.job_uploads WHERE job_id IN (SELECT id FROM finished)`,
    [id, instance, ok ? 'done' : 'failed', ok ? JSON.stringify(outcome.result ?? null) : null, ok ? null : JSON.stringify(outcome.error)],
  );
}

/** The amount of work, once known (an upload's lines are counted as it is stored). */
export async function setJobTotal(db: Queryable, id: number, total: number): Promise<void> {
  await db.query(`UPDATE tablewright.jobs SET total = $2 WHERE id = $1`, [id, total]);
}

/**
 * For work that must not happen twice (an import): called first in the work's own
 * transaction, it holds the job's advisory lock until that transaction ends, and a job
 * whose lock is held is never taken as lost (its connection, hence its instance, is alive).
 */
export async function holdJob(tx: Queryable, id: number): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1, $2)', [JOB_LOCK_NAMESPACE, id]);
}

/**
 * Called last in the work's transaction: proves the job is still this instance's (and
 * beats once more, so that it is not taken as lost between the commit and finishJob).
 * When it is not (someone took it meanwhile), the work is rolled back: it runs once.
 */
export async function confirmJobHeld(tx: Queryable, id: number, instance: string): Promise<void> {
  const { rowCount } = await tx.query(
    `UPDATE tablewright.jobs SET heartbeat_at = now() WHERE id = $1 AND claimed_by = $2 AND status = 'running'`,
    [id, instance],
  );
  if (!rowCount) throw conflict('job_taken', `job ${id} is no longer this instance's to finish; its work was rolled back and runs elsewhere`);
}

/**
 * Jobs whose instance stopped beating (it died): queued again while attempts remain,
 * failed otherwise (its upload dropped). Their work ran in one transaction that died
 * with the connection.
 */
export async function recoverStaleJobs(db: Queryable, staleMs: number): Promise<Job[]> {
  const { rows } = await db.query<Job>(
    /* sql */ `WITH recovered AS (
      UPDATE tablewright.jobs
        SET status = CASE WHEN attempts < max_attempts THEN 'queued' ELSE 'failed' END,
            phase = CASE WHEN attempts < max_attempts THEN 'queued again' ELSE 'failed' END,
            finished_at = CASE WHEN attempts < max_attempts THEN NULL ELSE now() END,
            error = jsonb_build_object('code', 'instance_lost', 'message',
                    format('the instance running it (%s) stopped without finishing; nothing of it was applied', claimed_by)),
            claimed_by = NULL
      WHERE status = 'running' AND heartbeat_at < now() - make_interval(secs => $1 / 1000.0)
        AND pg_try_advisory_xact_lock($2, id::int)
      RETURNING *),
    gone AS (DELETE FROM tablewright.job_uploads WHERE job_id IN (SELECT id FROM recovered WHERE status = 'failed'))
    SELECT * FROM recovered`,
    [staleMs, JOB_LOCK_NAMESPACE],
  );
  return rows;
}
