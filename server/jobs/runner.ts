// One job runner per instance: claims queued jobs (any instance may run any job), runs
// them one at a time with a heartbeat, and recovers jobs of instances that died.
import type pg from 'pg';
import { AppError } from '../errors.js';
import type { Logger } from '../log.js';
import { toAppError } from '../web/errors.js';
import { claimJob, finishJob, recoverStaleJobs, reportProgress, type Job } from './queue.js';

export interface Progress {
  phase?: string;
  done?: number;
  total?: number;
  /** bytes of the upload read (an import) */
  bytes?: number;
}

export type JobHandler = (job: Job, progress: (p: Progress) => Promise<void>) => Promise<unknown>;

export interface JobRunnerOptions {
  pool: pg.Pool;
  log: Logger;
  instanceId: string;
  handlers: Record<string, JobHandler>;
  /** how often queued jobs are looked for (enqueue on this instance wakes it at once) */
  pollMs: number;
  /** a running job whose heartbeat is older than this is taken as lost */
  staleMs: number;
  /** run each round after lost jobs are recovered (the online changes' orphan sweep) */
  sweep?: () => Promise<void>;
}

export class JobRunner {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly log: Logger;

  constructor(private readonly opts: JobRunnerOptions) {
    this.log = opts.log.child({ component: 'jobs' });
  }

  /** Starts (or, after stop(), starts again) looking for work. */
  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Look for work now (after an enqueue on this instance). */
  wake(): void {
    if (!this.stopped && !this.running) this.schedule(0);
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => {
        this.running = undefined;
        this.schedule(this.opts.pollMs);
      });
    }, ms);
  }

  private async tick(): Promise<void> {
    try {
      for (const job of await recoverStaleJobs(this.opts.pool, this.opts.staleMs)) {
        this.log.warn({ jobId: job.id, kind: job.kind, status: job.status, attempts: job.attempts }, 'job of a lost instance recovered');
      }
      if (this.opts.sweep) await this.opts.sweep().catch((err) => this.log.warn({ err }, 'job sweep failed'));
      // Drain the queue, one job at a time, then go back to polling.
      while (!this.stopped) {
        const job = await claimJob(this.opts.pool, this.opts.instanceId);
        if (!job) return;
        await this.run(job);
      }
    } catch (err) {
      this.log.warn({ err }, 'job runner round failed');
    }
  }

  private async run(job: Job): Promise<void> {
    const handler = this.opts.handlers[job.kind];
    const log = this.log.child({ jobId: job.id, kind: job.kind });
    const started = Date.now();
    if (!handler) {
      await finishJob(this.opts.pool, job.id, this.opts.instanceId, { error: { code: 'unknown_job', message: `no handler for jobs of kind "${job.kind}"` } });
      return;
    }
    log.info({ attempt: job.attempts, tableId: job.table_id }, 'job started');
    // The heartbeat goes on while the work's transaction runs (its statements block).
    const beat = setInterval(() => {
      reportProgress(this.opts.pool, job.id, this.opts.instanceId, {}).catch((err) => log.warn({ err }, 'job heartbeat failed'));
    }, Math.max(250, Math.floor(this.opts.staleMs / 4)));
    try {
      const result = await handler(job, (p) => reportProgress(this.opts.pool, job.id, this.opts.instanceId, p));
      await finishJob(this.opts.pool, job.id, this.opts.instanceId, { result });
      log.info({ ms: Date.now() - started }, 'job done');
    } catch (err) {
      // The same 4xx a request would have answered (a DBA's view, trigger or revoked privilege).
      const known = toAppError(err);
      const e = known.status < 500 || err instanceof AppError ? known.toJSON().error : { code: 'internal', message: 'the job failed on our side; it has been logged' };
      if (known.status >= 500) log.error({ err }, 'job failed');
      else log.info({ code: e.code }, 'job refused');
      await finishJob(this.opts.pool, job.id, this.opts.instanceId, { error: e });
    } finally {
      clearInterval(beat);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
