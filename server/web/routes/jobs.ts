// Jobs for scripts and the console: GET /jobs/:id answers progress (rows done / total);
// the console's fragment polls itself until the job ends.
import type { Request, Response } from 'express';
import type { AppContext } from '../../context.js';
import { JOB_KINDS } from '../../jobs/handlers.js';
import { getJob, listJobs, type Job } from '../../jobs/queue.js';
import { flag, idParam } from '../../schema/input.js';
import { requestCancel } from '../../schema/online/state.js';
import { conflict } from '../../errors.js';
import { reply } from '../negotiate.js';
import { route } from '../route.js';

export function jobJson(job: Job) {
  return {
    id: job.id,
    kind: job.kind,
    title: JOB_KINDS[job.kind]?.title ?? job.kind.replace(/_/g, ' '),
    unit: JOB_KINDS[job.kind]?.unit ?? 'items',
    table_id: job.table_id,
    status: job.status,
    phase: job.phase,
    done: job.done,
    total: job.total,
    bytes_read: job.bytes_done == null ? null : Number(job.bytes_done),
    percent: job.total ? Math.min(100, Math.round((100 * job.done) / job.total)) : null,
    attempts: job.attempts,
    result: job.result ?? null,
    summary: job.status === 'done' ? (JOB_KINDS[job.kind]?.summary(job.result) ?? '') : null,
    error: job.error ?? null,
    created_by: job.created_by,
    created_at: job.created_at,
    started_at: job.started_at,
    finished_at: job.finished_at,
  };
}

/**
 * The answer to a request whose work was queued: 202, Location /jobs/:id, the job as JSON,
 * or its progress fragment (htmx), or a redirect to its page (a form without JavaScript).
 */
export async function answerQueued(ctx: AppContext, req: Request, res: Response, queued: Job): Promise<void> {
  ctx.jobs?.wake();
  const job = jobJson(queued);
  res.location(`/jobs/${job.id}`);
  await reply(req, res, { status: 202, json: job, fragment: 'job_progress', redirect: `/jobs/${job.id}`, locals: { job } });
}

export const jobRoutes = [
  route('get', '/jobs', 'viewer', 'recent jobs (table=<id> for one table)', async (ctx, req, res) => {
    const tableId = req.query.table === undefined ? undefined : idParam(req.query.table, 'table');
    const jobs = (await listJobs(ctx.pool, { tableId })).map(jobJson);
    // The console names tables by their names (trashed ones too), not by id.
    const ids = [...new Set(jobs.map((j) => j.table_id).filter((id) => id !== null && id !== undefined).map(Number))];
    const { rows } = ids.length ? await ctx.pool.query<{ id: number; name: string; trashed: boolean }>(`SELECT id, name, trashed_at IS NOT NULL AS trashed FROM tablewright.tables WHERE id = ANY($1::int8[])`, [ids]) : { rows: [] };
    const tableNames = Object.fromEntries(rows.map((r) => [r.id, r.trashed ? `${r.name} (in the trash)` : r.name]));
    await reply(req, res, { json: { jobs }, page: 'jobs', locals: { title: 'Jobs', section: 'jobs', jobs, tableNames } });
  }),

  route('post', '/jobs/:id/cancel', 'admin', 'cancel a running online schema change: it rolls back to the old field (the job ends as failed, code cancelled)', async (ctx, req, res) => {
    const id = idParam(req.params.id);
    const queued = await getJob(ctx.pool, id);
    if (!(await requestCancel(ctx.pool, id))) {
      throw conflict('not_cancellable', queued.kind === 'online_change' ? `job ${id} has finished; there is nothing to cancel` : `job ${id} is not an online schema change; only those can be cancelled`);
    }
    ctx.jobs?.wake();
    const job = jobJson(await getJob(ctx.pool, id));
    await reply(req, res, { status: 202, json: job, fragment: 'job_progress', redirect: `/jobs/${id}`, locals: { job } });
  }),

  route('get', '/jobs/:id', 'viewer', 'one job: status, phase, rows done / total, result or error', async (ctx, req, res) => {
    const job = jobJson(await getJob(ctx.pool, idParam(req.params.id)));
    const running = job.status === 'queued' || job.status === 'running';
    // Without JavaScript the page refreshes itself while the job runs.
    if (running && !flag(req.query.static, 'static')) res.set('Refresh', '2');
    await reply(req, res, { json: job, fragment: 'job_progress', page: 'job', locals: { title: `Job ${job.id}`, job } });
  }),
];
